"""An ``api`` tool's timeout: the in-process call's database work is cut short (issue 5, item 5).

The slow endpoint of ``gateway.tests.urls_slow`` runs a statement of several seconds; the
tool's timeout (1 s, the least a tool may have) interrupts it on every backend
(``core.deadlines``), the agent gets a readable error, and the call is logged.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from accounts.models import Position
from core.context import all_tenants
from core.tests.slow_sql import SLEEP_SECONDS
from gateway.models import McpTool, McpToolCallLog
from gateway.tests.factories import api_tool, key_of
from gateway.tests.test_server import call
from logs.models import OperationLog
from rbac.models import ApiEndpoint

pytestmark = [pytest.mark.django_db, pytest.mark.urls("gateway.tests.urls_slow")]

# Under the statement's own time: were the timeout not enforced, the call would take that
# long (and still report the time limit, which had passed by then).
WELL_UNDER = SLEEP_SECONDS - 1


@pytest.fixture
def client():
    """The in-process request fails like any request cut short; Django's test client would
    raise its exception in the test instead of letting the gateway answer."""
    return Client(raise_request_exception=False)


@pytest.fixture
def slow_tools(tenant_a):
    for method in ("GET", "POST"):
        ApiEndpoint.objects.create(path="/api/v1/slow/", method=method,
                                   permission_code="position:update")
    schema = {"type": "object", "properties": {"body": {"type": "object"}}}
    return {
        "read": api_tool(tenant_a, "slow_read", path="/api/v1/slow/", schema=schema, timeout=1),
        "write": api_tool(tenant_a, "slow_write", path="/api/v1/slow/", method="POST",
                          schema=schema, timeout=1),
    }


def test_a_slow_call_ends_at_the_tools_timeout_with_a_readable_error(client, admin_a,
                                                                      slow_tools):
    key = key_of(admin_a, ["position:update"])
    started = time.monotonic()
    result = call(client, key, "slow_read", {}, HTTP_X_REQUEST_ID="slow-1")["result"]
    elapsed = time.monotonic() - started
    assert elapsed < WELL_UNDER
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "The tool did not finish within its time limit of 1 s.")
    with all_tenants():
        log = McpToolCallLog.objects.get(request_id="slow-1")
    assert (log.status, log.response_status) == ("failed", 504)
    assert log.response_time >= 1000
    tool = McpTool._base_manager.get(pk=slow_tools["read"].pk)
    assert (tool.call_count, tool.failure_count) == (1, 1)
    # The request's connection is healthy afterwards.
    assert Position.objects.all_tenants().count() >= 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cut_write_keeps_what_it_committed_and_its_request_is_logged(client, admin_a, org_a,
                                                                     slow_tools):
    """In autocommit, as in production, what the call committed before its deadline stays.

    The in-process request fails like any request cut short, and its operation log row is
    written all the same (``deadlines.exempt``), under the call's request id.
    """
    position = org_a["position"]
    key = key_of(admin_a, ["position:update"])
    result = call(client, key, "slow_write",
                  {"body": {"id": str(position.pk), "name": "Renamed"}},
                  HTTP_X_REQUEST_ID="slow-2")["result"]
    assert result["isError"] is True and "time limit" in result["content"][0]["text"]
    position.refresh_from_db()
    assert position.name == "Renamed"
    with all_tenants():
        operation = OperationLog.objects.get(request_id="slow-2")
        log = McpToolCallLog.objects.get(request_id="slow-2")
    assert operation.method == "POST" and operation.status == "failed"
    assert operation.tenant_id == admin_a.tenant_id
    assert log.status == "failed" and log.response_status == 504


def test_a_call_within_its_timeout_is_untouched(client, admin_a, tenant_a, org_a):
    api_tool(tenant_a, timeout=1)
    result = call(client, key_of(admin_a), "users_list", {})["result"]
    assert result["isError"] is False


def test_another_tenant_never_sees_the_slow_tools(client, admin_b, slow_tools):
    key = key_of(admin_b, ["position:update"])
    answer = call(client, key, "slow_read", {})
    assert answer["error"]["code"] == -32602
