"""What one call leaves behind: its log row and its counters (``gateway.services.calls.record_call``)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.context import all_tenants, tenant_context
from gateway.models import McpTool, McpToolCallLog
from gateway.policy import Caller
from gateway.services import calls
from gateway.tests.factories import api_tool

pytestmark = pytest.mark.django_db


def context(request_id: str = "req-1") -> calls.CallContext:
    return calls.CallContext(request_id=request_id, protocol_version="2025-11-25", jsonrpc_id="7")


def writes(captured) -> list[str]:
    """Return the statements of a capture that are not savepoint bookkeeping."""
    return [query["sql"] for query in captured
            if not query["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))]


def test_counters_and_average_after_a_success_and_a_failure(tenant_a, admin_a):
    tool = api_tool(tenant_a)
    caller = Caller(user=admin_a)
    calls.record_call(tool, {"page_size": 1}, calls.CallOutcome(ok=True, status=200, elapsed_ms=10),
                      caller=caller, context=context())
    calls.record_call(tool, {}, calls.CallOutcome(ok=False, status=400, message="bad", elapsed_ms=15),
                      caller=caller, context=context("req-2"))
    tool = McpTool._base_manager.get(pk=tool.pk)
    assert (tool.call_count, tool.success_count, tool.failure_count) == (2, 1, 1)
    assert tool.total_response_time == 25
    assert tool.avg_response_time == 12  # floor(25 / 2): never rounded up
    with all_tenants():
        rows = list(McpToolCallLog.objects.filter(tool_id=tool.pk).order_by("request_id"))
    assert [(row.request_id, row.status, row.response_time) for row in rows] == [
        ("req-1", "success", 10), ("req-2", "failed", 15)]
    assert rows[0].tenant_id == tenant_a.pk and rows[0].jsonrpc_id == "7"
    assert rows[1].error_message == "bad"


def test_one_statement_on_postgresql_two_elsewhere(tenant_a, admin_a):
    tool = api_tool(tenant_a)
    with CaptureQueriesContext(connection) as captured:
        calls.record_call(tool, {}, calls.CallOutcome(ok=True, status=200, elapsed_ms=3),
                          caller=Caller(user=admin_a), context=context())
    expected = 1 if connection.vendor == "postgresql" else 2
    assert len(writes(captured)) == expected, writes(captured)
    with all_tenants():
        assert McpToolCallLog.objects.filter(tool_id=tool.pk).count() == 1
    assert McpTool._base_manager.get(pk=tool.pk).call_count == 1


def test_a_log_row_that_cannot_be_written_never_costs_the_call_its_count(tenant_a, admin_a, caplog):
    tool = api_tool(tenant_a)
    # PostgreSQL's jsonb refuses the NUL character that the other backends store: there
    # the one statement fails in the database, and the count is written again alone.
    arguments = {"search": "a\u0000b"}
    calls.record_call(tool, arguments, calls.CallOutcome(ok=True, status=200, elapsed_ms=4),
                      caller=Caller(user=admin_a), context=context())
    tool = McpTool._base_manager.get(pk=tool.pk)
    assert tool.call_count == 1 and tool.total_response_time == 4
    with all_tenants():
        logged = McpToolCallLog.objects.filter(tool_id=tool.pk).count()
    if connection.vendor == "postgresql":
        assert logged == 0
        assert "Could not write the call log" in caplog.text
    else:
        assert logged == 1


def test_a_row_that_cannot_be_prepared_is_reported_and_the_call_counted(tenant_a, admin_a,
                                                                        caplog):
    tool = api_tool(tenant_a)
    caller = Caller(user=admin_a, ip="x" * 200)  # no address: PostgreSQL's inet refuses it
    calls.record_call(tool, {}, calls.CallOutcome(ok=True, status=200, elapsed_ms=4),
                      caller=caller, context=context())
    assert McpTool._base_manager.get(pk=tool.pk).call_count == 1
    with all_tenants():
        logged = McpToolCallLog.objects.filter(tool_id=tool.pk).count()
    if connection.vendor == "sqlite":  # SQLite keeps what it is given
        assert logged == 1
    else:
        assert logged == 0
        assert "Could not" in caplog.text


def test_the_answer_is_logged_whole_under_the_limit_and_previewed_over_it(tenant_a, admin_a,
                                                                          settings):
    settings.MCP_CALL_LOG_RESPONSE_BYTES = 64
    tool = api_tool(tenant_a)
    small = {"count": 1}
    large = {"results": ["user%03d" % n for n in range(40)]}
    for request_id, data in (("small", small), ("large", large)):
        outcome = calls.CallOutcome(ok=True, status=200, data=data, text=json.dumps(data))
        calls.record_call(tool, {}, outcome, caller=Caller(user=admin_a),
                          context=context(request_id))
    with tenant_context(tenant_a):
        rows = {row.request_id: row.response_data for row in McpToolCallLog.objects.all()}
    assert rows["small"] == small
    assert rows["large"]["__truncated__"] is True
    assert rows["large"]["size"] == len(json.dumps(large).encode())
    assert rows["large"]["preview"].startswith('{"results": ["user000"')


def test_a_secret_looking_answer_is_masked_even_when_its_text_is_given(tenant_a, admin_a):
    tool = api_tool(tenant_a)
    data = {"name": "svc", "api_key": "atr_live_secret"}
    calls.record_call(tool, {}, calls.CallOutcome(ok=True, status=200, data=data,
                                                  text=json.dumps(data)),
                      caller=Caller(user=admin_a), context=context())
    with tenant_context(tenant_a):
        row = McpToolCallLog.objects.get(request_id="req-1")
    assert row.response_data["name"] == "svc"
    assert "atr_live_secret" not in json.dumps(row.response_data)


@pytest.mark.parametrize("ok", [True, False])
def test_the_counter_statement_matches_the_models_columns(tenant_a, admin_a, ok):
    tool = api_tool(tenant_a)
    sql, params = calls.count_statement(tool.pk, ok, 9, "default")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount == 1
    tool = McpTool._base_manager.get(pk=tool.pk)
    assert (tool.call_count, tool.success_count, tool.failure_count) == (
        1, int(ok), int(not ok))
    assert (tool.total_response_time, tool.avg_response_time) == (9, 9)
