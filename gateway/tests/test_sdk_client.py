"""The official MCP SDK client against a live server: both negotiation modes.

``live_server`` is Django's threaded WSGI server on the test database, so the data below is
committed (``transactional_db``) and the client speaks real HTTP to ``/mcp/``.
"""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from core.context import all_tenants
from gateway.models import McpToolCallLog
from gateway.tests.factories import api_tool, key_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def session(live_server, key: str, mode: str):
    """Return an SDK client of ``/mcp/`` authenticated with ``key``, negotiating by ``mode``."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    transport = streamable_http_client(f"{live_server.url}/mcp/", http_client=http)
    return http, Client(transport, mode=mode, cache=None)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_sdk_client_lists_and_calls_tools(live_server, admin_a, tenant_a, org_a, mode):
    """The SDK lists the caller's tools and calls one; the call is logged with its version."""
    api_tool(tenant_a, output_schema={"type": "object"})
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, mode)
        async with http, client:
            listing = await client.list_tools()
            result = await client.call_tool("users_list", {"search": "alice"})
            return listing, result

    listing, result = anyio.run(scenario)
    assert [tool.name for tool in listing.tools] == ["users_list"]
    assert result.is_error is False
    assert [row["username"] for row in result.structured_content["results"]] == ["alice"]
    with all_tenants():
        log = McpToolCallLog.objects.get()
    assert log.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_sdk_client_sees_an_unknown_tool_as_an_error(live_server, admin_a, tenant_b, mode):
    """Another tenant's tool is unknown to the SDK client: a JSON-RPC invalid-params error."""
    api_tool(tenant_b, "beta_tool")
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, mode)
        async with http, client:
            with pytest.raises(MCPError) as raised:
                await client.call_tool("beta_tool", {})
            return raised.value

    error = anyio.run(scenario)
    assert error.code == -32602


def test_the_sdk_client_gets_argument_errors_as_results(live_server, admin_a, tenant_a):
    """Arguments outside the schema come back as an error result naming the field."""
    api_tool(tenant_a)
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, "auto")
        async with http, client:
            return await client.call_tool("users_list", {"page_size": 0})

    result = anyio.run(scenario)
    assert result.is_error is True
    assert "page_size" in result.content[0].text
