"""Watch every SQL statement: slow ones are logged, deadlocks and lock waits counted and
retried once where that is safe (issue 19, item 2; seed 001 section 8.1).

``install`` (``CoreConfig.ready``) hooks Django's ``connection_created`` signal, so every
new connection of every alias, in every thread, gets ``watch`` as its outermost
``execute_wrapper``. ``watch`` times each statement (``time.perf_counter``) and then:

* calls the observers registered with ``add_statement_observer`` (the metrics of
  ``/metrics``) with ``(alias, seconds, error)``; an observer that raises is logged and the
  statement's result is returned all the same;
* logs a statement slower than ``SLOW_QUERY_MS`` (the setting, read at each statement, so
  tests may override it), failed or not, on the logger ``atrium.db.slow`` at WARNING,
  with the alias, the duration, the error if any, the statement and its parameters *as
  type placeholders* (``<str>``, ``<int>``,
  ...): a parameter is the tenant's data (a name, an e-mail, a key hash), and no pattern
  can tell which of them is secret, so none is printed. The statement text is the SQL
  with its ``%s`` placeholders, passed through the platform's redaction
  (``core.redaction.redact``) for the literals of raw SQL, and cut at
  ``STATEMENT_MAX_CHARS``. The request id comes with every record (``core.logjson``);
* classifies a failure as a deadlock (MySQL/MariaDB 1213, PostgreSQL 40P01, and
  PostgreSQL 40001 serialization failure, the same conflict seen by a stricter isolation
  level) or a lock wait timeout (MySQL/MariaDB 1205, PostgreSQL 55P03
  lock_not_available), counts and logs it (``atrium.db.lock``, WARNING), and retries it
  **once** when it is safe:

  - the connection is in autocommit and not inside ``transaction.atomic``: the failed
    statement was its own whole transaction, so nothing before it was lost with the
    rollback (inside a transaction the database has rolled back the earlier statements
    too, or PostgreSQL has aborted the whole transaction: re-running one statement would
    silently commit half of the work, so only the caller, who can re-run the whole block,
    may retry);
  - it is a single ``SELECT`` (not ``executemany``): re-running a read changes nothing.
    A write (INSERT, UPDATE, DELETE, DDL) in autocommit was rolled back too and would be
    safe in the database's eyes, but the caller may have acted on a partial effect (a
    trigger, a sequence value, a side effect of a function it calls) and a write repeated
    blindly is how a duplicate is born; so writes are not retried.

  A second failure is raised as the first was. Counts go to the cache in per-minute
  buckets (``recent_counts``), shared by every process where the cache is (Redis in
  production; the development default, locmem, counts per process).

The cost per statement is measured by ``bench/dbwatch.py``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.backends.signals import connection_created

from core.redaction import redact

slow_logger = logging.getLogger("atrium.db.slow")
lock_logger = logging.getLogger("atrium.db.lock")
logger = logging.getLogger("atrium.db")

Observer = Callable[[str, float, "BaseException | None"], None]

# Longest statement text a slow-statement record carries (characters).
STATEMENT_MAX_CHARS = 4000
# The counts of ``recent_counts``: one cache key per kind and minute, kept this long
# (seconds); a longer window is cut to it.
BUCKET_SECONDS = 60
RETENTION_SECONDS = 24 * 3600
CACHE_PREFIX = "atrium:dbwatch"
KINDS = ("slow_queries", "deadlocks", "lock_timeouts")

DEADLOCK = "deadlocks"
LOCK_TIMEOUT = "lock_timeouts"
# MySQL/MariaDB error numbers and PostgreSQL SQLSTATEs of the two conflicts.
MYSQL_CODES = {1213: DEADLOCK, 1205: LOCK_TIMEOUT}
POSTGRES_STATES = {"40P01": DEADLOCK, "40001": DEADLOCK, "55P03": LOCK_TIMEOUT}

# A statement that only reads: SELECT, or WITH ... SELECT; one naming a write anywhere
# (PostgreSQL's data-modifying CTEs) is not, but a locking read (FOR UPDATE, FOR NO KEY
# UPDATE) is. A function with side effects called by a SELECT cannot be seen from here:
# the platform runs none in autocommit.
_SELECT_RE = re.compile(r"^\s*(?:\(\s*)*(?:SELECT|WITH)\b", re.I)
_WRITE_RE = re.compile(r"\b(?:INSERT|DELETE|MERGE|REPLACE\s+INTO)\b|(?<!FOR )(?<!KEY )\bUPDATE\b",
                       re.I)

_observers: list[Observer] = []
# Set while watch() does its own bookkeeping (the cache, the log): statements that makes
# (a database cache backend) are not watched again.
_busy: ContextVar[bool] = ContextVar("atrium_dbwatch_busy", default=False)


def __getattr__(name: str) -> Any:
    """Serve ``SLOW_QUERY_MS`` from the settings at each access (PEP 562)."""
    if name == "SLOW_QUERY_MS":
        return settings.SLOW_QUERY_MS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def add_statement_observer(fn: Observer) -> None:
    """Call ``fn(alias, seconds, error)`` after every statement from now on (once per fn)."""
    if fn not in _observers:
        _observers.append(fn)


def remove_statement_observer(fn: Observer) -> None:
    """Stop calling ``fn`` (for tests); a function never added is ignored."""
    if fn in _observers:
        _observers.remove(fn)


def install() -> None:
    """Watch every database connection opened from now on (``CoreConfig.ready``)."""
    connection_created.connect(_on_connection_created, dispatch_uid="core.dbwatch")


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The wrapper object outlives its connections (a reconnect fires the signal again).
    if watch not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, watch)


def classify(error: BaseException) -> str | None:
    """Return ``"deadlocks"``, ``"lock_timeouts"`` or ``None`` for a database error.

    Django re-raises the driver's error as its own with the same ``args`` and the driver's
    as ``__cause__``: MySQLdb's first argument is the error number, psycopg's error has
    ``sqlstate`` (psycopg 3) or ``pgcode`` (psycopg 2).
    """
    for candidate in (error, error.__cause__):
        if candidate is None:
            continue
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if state in POSTGRES_STATES:
            return POSTGRES_STATES[state]
        args = getattr(candidate, "args", ())
        if args and isinstance(args[0], int) and args[0] in MYSQL_CODES:
            return MYSQL_CODES[args[0]]
    return None


def is_retry_safe(connection: Any, sql: str, many: bool) -> bool:
    """Return whether a statement that hit a deadlock or lock wait may run again at once:
    a single read in autocommit, outside any transaction (module docstring)."""
    return (
        not many
        and not connection.in_atomic_block
        and connection.get_autocommit()
        and isinstance(sql, str)
        and bool(_SELECT_RE.match(sql))
        and not _WRITE_RE.search(sql)
    )


def watch(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    """The ``execute_wrapper`` of every connection: time, observe, log, count, retry."""
    start = time.perf_counter()
    try:
        result = execute(sql, params, many, context)
    except Exception as error:
        connection = context["connection"]
        _observe(connection.alias, sql, params, many, time.perf_counter() - start, error)
        kind = classify(error)
        if kind is None or _busy.get():
            raise
        retry = is_retry_safe(connection, sql, many)
        _record_conflict(kind, connection.alias, sql, time.perf_counter() - start, error,
                         retry)
        if not retry:
            raise
        return _retry(execute, sql, params, many, context)
    _observe(context["connection"].alias, sql, params, many, time.perf_counter() - start,
             None)
    return result


def _retry(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    alias = context["connection"].alias
    start = time.perf_counter()
    try:
        result = execute(sql, params, many, context)
    except Exception as error:
        seconds = time.perf_counter() - start
        _observe(alias, sql, params, many, seconds, error)
        kind = classify(error)
        if kind is not None:
            _record_conflict(kind, alias, sql, seconds, error, retry=False)
        raise
    _observe(alias, sql, params, many, time.perf_counter() - start, None)
    lock_logger.info("the retried statement succeeded on %s", alias,
                     extra={"db_alias": alias, "retried": True})
    return result


def _observe(alias: str, sql: str, params: Any, many: bool, seconds: float,
             error: BaseException | None) -> None:
    if _observers:
        _notify(alias, seconds, error)
    if seconds * 1000 > settings.SLOW_QUERY_MS and not _busy.get():
        _record_slow(alias, sql, params, many, seconds, error)


def _notify(alias: str, seconds: float, error: BaseException | None) -> None:
    for observer in _observers:
        try:
            observer(alias, seconds, error)
        except Exception:  # noqa: BLE001 - an observer never breaks the statement
            logger.exception("statement observer %r failed", observer)


def placeholders(params: Any, many: bool = False) -> Any:
    """Return ``params`` with each value replaced by its type (``<str>``), never the value.

    ``executemany``'s list of rows becomes the placeholders of its first row and the number
    of rows; a mapping keeps its keys.
    """
    if params is None:
        return None
    if many:
        rows = list(params) if not isinstance(params, list) else params
        return {"rows": len(rows), "first": placeholders(rows[0]) if rows else None}
    if isinstance(params, dict):
        return {str(key): _type_name(value) for key, value in params.items()}
    if isinstance(params, (list, tuple)):
        return [_type_name(value) for value in params]
    return _type_name(params)


def _type_name(value: Any) -> str:
    return "<null>" if value is None else f"<{type(value).__name__}>"


def statement_text(sql: Any) -> str:
    """Return the statement as a slow-statement record carries it: redacted and cut."""
    text = redact(str(sql))
    if len(text) > STATEMENT_MAX_CHARS:
        text = text[:STATEMENT_MAX_CHARS] + f"... [{len(text) - STATEMENT_MAX_CHARS} more]"
    return text


def _record_slow(alias: str, sql: str, params: Any, many: bool, seconds: float,
                 error: BaseException | None = None) -> None:
    token = _busy.set(True)
    try:
        duration_ms = round(seconds * 1000, 1)
        slow_logger.warning(
            "slow statement on %s: %.1f ms%s", alias, duration_ms, " (failed)" if error else "",
            extra={"db_alias": alias, "duration_ms": duration_ms,
                   "statement": statement_text(sql), "params": placeholders(params, many),
                   "error": f"{type(error).__name__}: {error}" if error else None},
        )
        _count("slow_queries")
    finally:
        _busy.reset(token)


def _record_conflict(kind: str, alias: str, sql: str, seconds: float,
                     error: BaseException, retry: bool) -> None:
    token = _busy.set(True)
    try:
        lock_logger.warning(
            "%s on %s after %.1f ms (%s): %s", "deadlock" if kind == DEADLOCK else
            "lock wait timeout", alias, seconds * 1000,
            "retrying once" if retry else "not retried", error,
            extra={"db_alias": alias, "duration_ms": round(seconds * 1000, 1),
                   "statement": statement_text(sql), "conflict": kind, "retried": retry},
        )
        _count(kind)
    finally:
        _busy.reset(token)


def _bucket(now: float) -> int:
    return int(now // BUCKET_SECONDS)


def _key(kind: str, bucket: int) -> str:
    return f"{CACHE_PREFIX}:{kind}:{bucket}"


def _count(kind: str) -> None:
    key = _key(kind, _bucket(time.time()))
    try:
        # add-if-missing then incr: both atomic on Redis and locmem; the expiry is set once.
        cache.add(key, 0, timeout=RETENTION_SECONDS + BUCKET_SECONDS)
        cache.incr(key)
    except Exception:  # noqa: BLE001 - a cache outage must not fail the statement
        logger.warning("could not count %s in the cache", kind, exc_info=True)


def recent_counts(window_seconds: int = 3600) -> dict[str, int]:
    """Return the slow statements, deadlocks and lock wait timeouts of the last
    ``window_seconds`` (whole minutes, at most ``RETENTION_SECONDS``), all processes
    sharing the cache counted."""
    window_seconds = max(BUCKET_SECONDS, min(int(window_seconds), RETENTION_SECONDS))
    last = _bucket(time.time())
    buckets = range(last - window_seconds // BUCKET_SECONDS + 1, last + 1)
    keys = {kind: [_key(kind, bucket) for bucket in buckets] for kind in KINDS}
    token = _busy.set(True)
    try:
        found = cache.get_many([key for kind_keys in keys.values() for key in kind_keys])
    finally:
        _busy.reset(token)
    return {kind: sum(int(found.get(key) or 0) for key in kind_keys)
            for kind, kind_keys in keys.items()}
