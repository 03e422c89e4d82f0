"""The call log writer: each call's log row and counter increments, written after the answer
(issue 16, item 6).

Writing a ``tools/call``'s log row and moving its tool's counters inside the request cost
about 1.9 ms of every call (README, "Benchmarks", "The MCP gateway"). With
``MCP_CALL_LOG_QUEUE`` above 0 (the default in production), ``gateway.services.calls
.record_call`` hands both to this process's writer instead: a bounded in-memory queue that
a background thread empties every ``MCP_CALL_LOG_FLUSH_SECONDS``, or as soon as
``BATCH`` calls wait. A batch is one transaction: one multi-row ``INSERT`` of the log rows
and one ``UPDATE`` per tool with the batch's increments summed (tools in key order, so two
processes' writers never deadlock).

What it keeps of the synchronous write:

* every call is logged and counted once. Should a batch fail, each row is written again on
  its own and the counters in a transaction of their own, so a row that cannot be written
  (reported to the application log, as before) never costs the other rows or the counts;
* each row carries its tenant, set from the caller in the request; the writer runs under
  the explicit all-tenants scope (``core.context.all_tenants``), never in the scope of
  whichever request ran last;
* ``created_at`` is the time of the call, not of the flush (the rows are inserted raw),
  so monthly partitions and daily usage count each call on its own day;
* the row is built in the request (secrets masked, the answer cut to
  ``MCP_CALL_LOG_RESPONSE_BYTES``), so a queued call holds a log row, never a whole answer;
* a clean shutdown loses nothing: ``stop`` (registered with ``atexit`` by
  ``gateway.apps``; gunicorn and uvicorn workers leave through ``sys.exit``) writes what
  is queued;
* back-pressure: with ``MCP_CALL_LOG_QUEUE`` calls already waiting (a slow or unreachable
  database), a request writes its own row and counts, as before, so memory stays bounded
  and no request waits for the queue.

What a crash can lose: the calls in the queue when the process dies without running its
exit handlers (``SIGKILL``, the OOM killer, a segfault): at most ``MCP_CALL_LOG_QUEUE``
calls, in practice those of the last ``MCP_CALL_LOG_FLUSH_SECONDS``. Their answers had
been sent; their log rows and counter increments are missing.

Calls are written in the request, as before, when the queue is off (development and tests,
so whatever reads the log right after a call sees it) and when the call runs inside a
transaction (``ATOMIC_REQUESTS``, a test's): the writer's own connection could neither see
that transaction's rows nor be rolled back with it; and on SQLite, which takes one writer at
a time (the writer serves MariaDB and PostgreSQL). ``flush()`` writes everything queued
before it returns, on the caller's connection.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import sql
from django.utils import timezone

from core import logrows
from core.context import all_tenants

logger = logging.getLogger("atrium.mcp")

# Calls written per transaction; also what wakes the writer before its interval is up.
BATCH = 500


@dataclass(slots=True)
class PendingCall:
    """One call waiting to be written: its log row (``None`` when it could not be built)
    and what its counters need."""

    row: Any
    tool_pk: Any
    ok: bool
    elapsed_ms: int
    request_id: str


def pending(tool, arguments, outcome, *, caller, context) -> PendingCall:
    """Return the call to write, its log row built and stamped with the current time.

    The row is built here, in the request, not by the writer: it holds the answer cut to
    ``MCP_CALL_LOG_RESPONSE_BYTES``, where the outcome holds the whole answer (up to
    ``MCP_TOOL_RESULT_MAX_BYTES``), so the queue's memory stays bounded by rows.
    """
    from gateway.services.calls import log_row

    try:
        row = log_row(tool, arguments, outcome, caller=caller, context=context)
        row.created_at = timezone.now()
    except Exception:
        logger.exception("Could not prepare the call log of tool %s (request %s)",
                         tool.pk, context.request_id)
        row = None
    return PendingCall(row, tool.pk, outcome.ok, outcome.elapsed_ms, context.request_id)


def insert_statements(rows: list, using: str) -> list[tuple[str, tuple]]:
    """Return the multi-row ``INSERT``s of ``rows`` with the values they carry.

    Raw values: ``created_at`` (``auto_now_add``) keeps the time of the call instead of
    taking the time of the flush. The statement's head is built once per database, and
    each value prepared as Django's insert compiler prepares it (``get_db_prep_save``):
    compiling an ``InsertQuery`` per batch cost the writer three times the CPU of the rest
    of the batch.
    """
    model = type(rows[0])
    connection = connections[using]
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.pk]
    size = max(min(BATCH, connection.ops.bulk_batch_size(fields, rows)), 1)
    if any(hasattr(f, "get_placeholder") for f in fields):
        statements = []
        for start in range(0, len(rows), size):
            query = sql.InsertQuery(model)
            query.insert_values(fields, rows[start:start + size], raw=True)
            statements.extend(query.get_compiler(using=using).as_sql())
        return statements
    statements = []
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        statements.append((_insert_text(model, fields, len(chunk), connection), tuple(
            field.get_db_prep_save(getattr(row, field.attname), connection)
            for row in chunk for field in fields)))
    return statements


_insert_heads: dict[tuple, tuple[str, str]] = {}


def _insert_text(model, fields, count: int, connection) -> str:
    key = (model, connection.alias, connection.vendor)
    head = _insert_heads.get(key)
    if head is None:
        quote = connection.ops.quote_name
        head = _insert_heads[key] = (
            "INSERT INTO {} ({}) VALUES ".format(
                quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)),
            "(" + ", ".join(["%s"] * len(fields)) + ")")
    return head[0] + ", ".join([head[1]] * count)


def count_statements(calls: list[PendingCall], using: str) -> list[tuple[str, tuple]]:
    """Return one counter ``UPDATE`` per tool of ``calls``, increments summed, in key order."""
    from gateway.services.calls import counts_statement

    totals: dict[Any, list[int]] = {}
    for call in calls:
        entry = totals.setdefault(call.tool_pk, [0, 0, 0])
        entry[0] += 1
        entry[1] += 1 if call.ok else 0
        entry[2] += call.elapsed_ms
    return [counts_statement(pk, calls=n, successes=ok, elapsed_ms=ms, alias=using)
            for pk, (n, ok, ms) in sorted(totals.items(), key=lambda item: str(item[0]))]


def write(calls: list[PendingCall]) -> None:
    """Write the log rows and counter increments of ``calls``; never raise.

    Together first (on PostgreSQL with the log and the tools in one database, one statement:
    the ``INSERT`` in a ``WITH`` clause of the ``UPDATE``s); should that fail, each row on
    its own and the counters apart, so that a row that cannot be written or prepared never
    costs another row or any count.
    """
    from gateway.models import McpTool, McpToolCallLog

    if not calls:
        return
    log_alias = router.db_for_write(McpToolCallLog)
    count_alias = router.db_for_write(McpTool)
    with all_tenants():
        rows = [call for call in calls if call.row is not None]
        counts = count_statements(calls, count_alias)
        # One call elsewhere than on PostgreSQL: two statements in autocommit cost fewer
        # round trips than one transaction (BEGIN, COMMIT and MariaDB's SET autocommit).
        together = rows and log_alias == count_alias and (
            len(calls) > 1 or connections[log_alias].vendor == "postgresql")
        if together:
            try:
                inserts = insert_statements([call.row for call in rows], log_alias)
                if connections[log_alias].vendor == "postgresql" and len(inserts) == 1:
                    logrows.execute_statements([logrows.one_statement([*inserts, *counts])],
                                               log_alias)
                else:
                    logrows.execute_statements([*inserts, *counts], log_alias)
                return
            except Exception:
                logger.warning("Could not write %s call log rows and their counts together; "
                               "writing them apart", len(rows), exc_info=True)
        for call in rows:
            try:
                logrows.execute_statements(insert_statements([call.row], log_alias), log_alias)
            except Exception:
                logger.exception("Could not write the call log of tool %s (request %s)",
                                 call.tool_pk, call.request_id)
        try:
            logrows.execute_statements(counts, count_alias)
        except Exception:
            logger.exception("Could not count %s calls of tools %s", len(calls),
                             sorted({str(call.tool_pk) for call in calls}))


class Writer:
    """This process's queue of calls and the thread that writes them (module docstring)."""

    def __init__(self, *, threaded: bool = True) -> None:
        # threaded=False: nothing is written until flush() (tests drive the batches).
        self._threaded = threaded
        self._calls: deque[PendingCall] = deque()
        self._wake = threading.Condition()
        # Held while a batch is taken and written: flush() waits for a batch in flight.
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stopping = False

    def submit(self, call: PendingCall) -> bool:
        """Queue ``call``; return ``False`` when the queue is full (the caller writes it)."""
        limit = settings.MCP_CALL_LOG_QUEUE
        with self._wake:
            self._ensure_running()
            if len(self._calls) >= limit:
                return False
            self._calls.append(call)
            if len(self._calls) >= BATCH:
                self._wake.notify()
        return True

    def queued(self) -> int:
        """Return how many calls wait to be written."""
        return len(self._calls)

    def flush(self) -> None:
        """Write every call queued so far on the calling thread's connection."""
        with self._writing:
            while self._write_batch():
                pass

    def stop(self) -> None:
        """Stop the thread and write what is queued (a clean shutdown loses nothing)."""
        with self._wake:
            self._stopping = True
            thread = self._thread if self._pid == os.getpid() else None
            self._wake.notify()
        if thread is not None:
            thread.join(timeout=max(settings.MCP_CALL_LOG_FLUSH_SECONDS * 10, 5))
        self.flush()
        with self._wake:
            self._thread = None
            self._stopping = False

    def _ensure_running(self) -> None:
        # Called with self._wake held. A forked worker inherits the parent's queue but not
        # its thread: it starts its own, with the parent's calls left to the parent.
        if self._pid != os.getpid():
            self._calls.clear()
            self._thread = None
            self._writing = threading.Lock()
            self._pid = os.getpid()
        if self._threaded and self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name="atrium-mcp-call-log",
                                            daemon=True)
            self._thread.start()

    def _take(self) -> list[PendingCall]:
        with self._wake:
            batch = []
            while self._calls and len(batch) < BATCH:
                batch.append(self._calls.popleft())
            return batch

    def _write_batch(self) -> bool:
        batch = self._take()
        if batch:
            write(batch)
        return bool(batch)

    def _run(self) -> None:
        interval = settings.MCP_CALL_LOG_FLUSH_SECONDS
        while True:
            with self._wake:
                if not self._stopping and len(self._calls) < BATCH:
                    self._wake.wait(interval)
                stopping = self._stopping
            try:
                with self._writing:
                    if self._calls:
                        _drop_unusable_connections()
                    self._write_batch()
            except Exception:  # noqa: BLE001 - the thread must outlive any one batch
                logger.exception("The MCP call log writer failed a batch")
            if stopping:
                connections.close_all()
                return


def _drop_unusable_connections() -> None:
    """Close the writer thread's connections the database dropped while it was idle."""
    from gateway.models import McpTool, McpToolCallLog

    for alias in {router.db_for_write(McpToolCallLog), router.db_for_write(McpTool)}:
        connection = connections[alias]
        if connection.connection is not None and not connection.is_usable():
            connection.close()


_writer = Writer()


def writer() -> Writer:
    """Return this process's writer."""
    return _writer


def record(call: PendingCall) -> None:
    """Write ``call`` now or queue it for the writer (module docstring); never raise."""
    from gateway.models import McpToolCallLog

    connection = connections[router.db_for_write(McpToolCallLog)]
    # SQLite takes one writer at a time, and its shared in-memory database locks a table
    # between threads: there the writer's thread would fail where the request succeeds.
    deferred = (settings.MCP_CALL_LOG_QUEUE > 0 and not connection.in_atomic_block
                and connection.vendor != "sqlite")
    if deferred and _writer.submit(call):
        return
    write([call])


def flush() -> None:
    """Write every queued call now (tests, and whatever reads the log right after a call)."""
    _writer.flush()


def stop() -> None:
    """Stop this process's writer, writing what is queued (``atexit``)."""
    _writer.stop()
