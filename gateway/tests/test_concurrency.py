"""The tool's counters stay exact under concurrent calls (issue 5, item 5), written in the
request or by the call log writer after the answer (issue 16, item 6)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from django.db import connection

from core.context import all_tenants
from gateway import calllog
from gateway.models import McpTool, McpToolCallLog
from gateway.tests.factories import api_tool, key_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CALLS = 200
THREADS = 16


@pytest.fixture
def concurrent_backend():
    if connection.vendor == "sqlite":
        pytest.skip("The SQLite test database is in memory, one connection shared by every "
                    "thread of the live server: concurrency is proven on MariaDB and PostgreSQL.")


@pytest.mark.parametrize("queue", [0, 10_000], ids=["in-the-request", "writer"])
def test_counters_are_exact_after_200_concurrent_calls(concurrent_backend, live_server, admin_a,
                                                       tenant_a, settings, queue):
    """200 calls from 16 threads, half of them failing validation: every counter is exact."""
    settings.MCP_RATE_LIMITS = {"default": {"tenant": None, "key": None}}
    settings.MCP_CALL_LOG_QUEUE = queue
    settings.MCP_CALL_LOG_FLUSH_SECONDS = 0.02
    tool = api_tool(tenant_a, schema={"type": "object", "properties": {
        "page_size": {"type": "integer", "minimum": 1}}})
    key = key_of(admin_a)
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25", "Content-Type": "application/json"}

    def one(index: int) -> bool:
        arguments = {"page_size": 5} if index % 2 else {"page_size": 0}
        body = {"jsonrpc": "2.0", "id": index, "method": "tools/call",
                "params": {"name": tool.name, "arguments": arguments}}
        with httpx2.Client(timeout=60) as http:
            response = http.post(f"{live_server.url}/mcp/", content=json.dumps(body),
                                 headers=headers)
        return response.json()["result"]["isError"] is False

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(one, range(CALLS)))
    finally:
        # What the writer still holds, and its thread's connection to the test database.
        calllog.stop()

    assert outcomes.count(True) == CALLS // 2
    tool = McpTool.objects.all_tenants().get(pk=tool.pk)
    assert tool.call_count == CALLS
    assert tool.success_count == CALLS // 2
    assert tool.failure_count == CALLS // 2
    with all_tenants():
        logs = McpToolCallLog.objects.filter(tool_id=tool.pk)
        assert logs.count() == CALLS
        total = sum(logs.values_list("response_time", flat=True))
    assert tool.total_response_time == total
    assert tool.avg_response_time == total // CALLS
