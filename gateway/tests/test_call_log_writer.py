"""The call log writer (``gateway.calllog``, issue 16, item 6): calls logged and counted after
the answer, in batches, with the guarantees of the synchronous write."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.context import all_tenants, tenant_context
from gateway import calllog
from gateway.models import McpTool, McpToolCallLog
from gateway.policy import Caller
from gateway.services import calls
from gateway.tests.factories import api_tool


def a_call(tool, user, request_id: str, *, ok: bool = True, elapsed_ms: int = 5,
           caller: Caller | None = None):
    outcome = calls.CallOutcome(ok=ok, status=200 if ok else 400, elapsed_ms=elapsed_ms,
                                message="" if ok else "bad", data={"n": request_id})
    context = calls.CallContext(request_id=request_id, protocol_version="2026-07-28")
    return calllog.pending(tool, {"page_size": 1}, outcome, caller=caller or Caller(user=user),
                           context=context)


def counters(tool) -> tuple[int, int, int, int, int]:
    tool = McpTool._base_manager.get(pk=tool.pk)
    return (tool.call_count, tool.success_count, tool.failure_count, tool.total_response_time,
            tool.avg_response_time)


def logged(**filters) -> list[McpToolCallLog]:
    with all_tenants():
        return list(McpToolCallLog.objects.filter(**filters).order_by("request_id"))


@pytest.fixture(autouse=True)
def queue_on(settings):
    """The queue of production (tests and development write in the request by default)."""
    settings.MCP_CALL_LOG_QUEUE = 10_000


@pytest.fixture
def server_database():
    if connection.vendor == "sqlite":
        pytest.skip("On SQLite calls are written in the request (one writer at a time): the "
                    "writer's thread is proven on MariaDB and PostgreSQL.")


@pytest.mark.django_db
def test_rows_of_two_tenants_in_one_batch_land_in_their_own_tenants(tenant_a, admin_a,
                                                                    tenant_b, admin_b):
    """One flush writes both tenants' rows, each visible in its own tenant only."""
    tool_a, tool_b = api_tool(tenant_a), api_tool(tenant_b)
    writer = calllog.Writer(threaded=False)
    with tenant_context(tenant_a):  # whatever scope the submitting request had
        for index in range(3):
            assert writer.submit(a_call(tool_a, admin_a, f"a-{index}"))
            assert writer.submit(a_call(tool_b, admin_b, f"b-{index}", ok=index != 1))
    assert writer.queued() == 6 and logged() == []
    with CaptureQueriesContext(connection) as captured:
        writer.flush()
    statements = [q["sql"] for q in captured if q["sql"].upper().startswith(
        ("INSERT", "UPDATE", "WITH"))]
    # One multi-row INSERT and one UPDATE per tool (one statement on PostgreSQL).
    assert len(statements) == (1 if connection.vendor == "postgresql" else 3), statements
    with tenant_context(tenant_a):
        assert sorted(McpToolCallLog.objects.values_list("request_id", flat=True)) == [
            "a-0", "a-1", "a-2"]
    with tenant_context(tenant_b):
        assert sorted(McpToolCallLog.objects.values_list("request_id", flat=True)) == [
            "b-0", "b-1", "b-2"]
    assert counters(tool_a) == (3, 3, 0, 15, 5)
    assert counters(tool_b) == (3, 2, 1, 15, 5)


@pytest.mark.django_db
def test_a_row_keeps_the_time_of_its_call_not_of_the_flush(tenant_a, admin_a):
    tool = api_tool(tenant_a)
    writer = calllog.Writer(threaded=False)
    call = a_call(tool, admin_a, "early")
    called_at = call.row.created_at
    assert abs(called_at - timezone.now()) < dt.timedelta(seconds=5)
    call.row.created_at = called_at - dt.timedelta(hours=1)  # as if queued for an hour
    writer.submit(call)
    writer.flush()
    assert logged()[0].created_at == called_at - dt.timedelta(hours=1)


@pytest.mark.django_db
def test_a_queued_call_holds_its_log_row_not_the_whole_answer(tenant_a, admin_a, settings):
    """The row is built in the request, the answer cut to MCP_CALL_LOG_RESPONSE_BYTES."""
    settings.MCP_CALL_LOG_RESPONSE_BYTES = 256
    tool = api_tool(tenant_a)
    answer = {"results": ["x" * 1000] * 100}
    outcome = calls.CallOutcome(ok=True, status=200, data=answer, elapsed_ms=1)
    call = calllog.pending(tool, {}, outcome, caller=Caller(user=admin_a),
                           context=calls.CallContext(request_id="big"))
    assert call.row.response_data["__truncated__"] is True
    assert not any(value is answer for value in vars(call.row).values())


@pytest.mark.django_db
def test_a_row_that_cannot_be_written_costs_no_other_row_and_no_count(tenant_a, admin_a,
                                                                      caplog):
    """The batch fails as a whole; each row is written again alone, the counts apart."""
    tool = api_tool(tenant_a)
    writer = calllog.Writer(threaded=False)
    # An address refused by PostgreSQL's inet and MariaDB's char(39).
    bad = a_call(tool, admin_a, "bad", caller=Caller(user=admin_a, ip="x" * 200))
    for call in (a_call(tool, admin_a, "good-1"), bad, a_call(tool, admin_a, "good-2")):
        writer.submit(call)
    writer.flush()
    assert counters(tool)[0] == 3
    names = [row.request_id for row in logged()]
    if connection.vendor == "sqlite":  # SQLite keeps what it is given
        assert names == ["bad", "good-1", "good-2"]
    else:
        assert names == ["good-1", "good-2"]
        assert "Could not write the call log" in caplog.text


@pytest.mark.django_db
def test_calls_are_written_in_the_request_inside_a_transaction(tenant_a, admin_a, settings):
    """With the queue on, a call inside a transaction (here the test's) is written at once."""
    settings.MCP_CALL_LOG_QUEUE = 100
    tool = api_tool(tenant_a)
    calls.record_call(tool, {}, calls.CallOutcome(ok=True, status=200, elapsed_ms=2),
                      caller=Caller(user=admin_a), context=calls.CallContext(request_id="tx"))
    assert [row.request_id for row in logged()] == ["tx"]
    assert calllog.writer().queued() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_full_queue_makes_the_request_write_its_own_call(server_database, tenant_a, admin_a,
                                                           settings, monkeypatch):
    """Back-pressure: past MCP_CALL_LOG_QUEUE waiting calls, a call is written in its request,
    at once, however long the queue waits."""
    settings.MCP_CALL_LOG_QUEUE = 2
    tool = api_tool(tenant_a)
    writer = calllog.Writer(threaded=False)  # a writer that never empties on its own
    monkeypatch.setattr(calllog, "_writer", writer)
    started = time.monotonic()
    for index in range(5):
        calls.record_call(tool, {}, calls.CallOutcome(ok=True, status=200, elapsed_ms=1),
                          caller=Caller(user=admin_a),
                          context=calls.CallContext(request_id=f"c-{index}"))
    assert time.monotonic() - started < 5
    assert writer.queued() == 2
    assert [row.request_id for row in logged()] == ["c-2", "c-3", "c-4"]
    assert counters(tool)[0] == 3
    calllog.flush()
    assert [row.request_id for row in logged()] == [f"c-{index}" for index in range(5)]
    assert counters(tool)[0] == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_thread_writes_after_the_answer_and_a_clean_stop_loses_nothing(
        server_database, tenant_a, admin_a, settings):
    """Queued calls reach the database from the thread; stop() writes what still waits."""
    settings.MCP_CALL_LOG_QUEUE = 10_000
    settings.MCP_CALL_LOG_FLUSH_SECONDS = 0.05
    tool = api_tool(tenant_a)
    writer = calllog.Writer()
    writer.submit(a_call(tool, admin_a, "first"))
    deadline = time.monotonic() + 10
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [row.request_id for row in logged()] == ["first"]
    # A long interval: what is queued now is written only by stop().
    settings.MCP_CALL_LOG_FLUSH_SECONDS = 60
    writer.stop()
    writer = calllog.Writer()
    writer.submit(a_call(tool, admin_a, "warm"))
    time.sleep(0.1)  # the thread is waiting out its interval
    for index in range(50):
        writer.submit(a_call(tool, admin_a, f"late-{index:02d}"))
    writer.stop()
    assert len(logged()) == 52
    assert counters(tool)[0] == 52
    assert writer.queued() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_writer_is_the_default_path_in_autocommit(server_database, tenant_a, admin_a,
                                                      settings):
    """With the queue on and no transaction, record_call queues the call for the writer."""
    settings.MCP_CALL_LOG_QUEUE = 10_000
    settings.MCP_CALL_LOG_FLUSH_SECONDS = 60
    tool = api_tool(tenant_a)
    try:
        calls.record_call(tool, {}, calls.CallOutcome(ok=True, status=200, elapsed_ms=2),
                          caller=Caller(user=admin_a), context=calls.CallContext(request_id="q"))
        assert logged() == [] and calllog.writer().queued() == 1
        calllog.flush()
        assert [row.request_id for row in logged()] == ["q"]
    finally:
        calllog.stop()
