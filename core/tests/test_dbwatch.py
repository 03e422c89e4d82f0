"""Slow statements, deadlocks and lock wait timeouts (issue 19, item 2; core/dbwatch.py).

Everything runs on the test database of the backend under test. The lock tests open two
more connections of their own to it (``connections.create_connection``: autocommit, no
test transaction around them) on a scratch table they create and drop: one holds a row
lock in a transaction, the other runs into it. SQLite has no row locks; those tests run on
MariaDB and PostgreSQL.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator

import MySQLdb
import psycopg
import pytest
from django.db import OperationalError, connection, connections

from core import dbwatch
from core.context import TenantScope, request_context
from core.logjson import JsonFormatter
from core.tests import test_logjson as logjson_tests

pytestmark = pytest.mark.django_db

SECRET = "pa55-never-printed"
SLEEP_SQL = {
    "mysql": "SELECT SLEEP(%s), %s",
    "postgresql": "SELECT pg_sleep(%s), %s",
    "sqlite": "SELECT sleep(%s), %s",  # the Python function the test registers
}


class Seen:
    """An observer recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, BaseException | None]] = []

    def __call__(self, alias: str, seconds: float, error: BaseException | None) -> None:
        self.calls.append((alias, seconds, error))


@pytest.fixture
def seen() -> Iterator[Seen]:
    observer = Seen()
    dbwatch.add_statement_observer(observer)
    try:
        yield observer
    finally:
        dbwatch.remove_statement_observer(observer)


@pytest.fixture
def json_log() -> Iterator[logjson_tests.Captured]:
    stream = io.StringIO()
    with logjson_tests.console_writing_to(stream, JsonFormatter()):
        yield logjson_tests.Captured(stream)


@pytest.mark.django_db(databases="__all__")
def test_every_connection_of_every_alias_is_watched_once():
    """The wrapper is on each alias's connection, outermost, and once on a connection that
    reconnects (the signal fires again)."""
    for alias in connections:
        connections[alias].ensure_connection()
        assert connections[alias].execute_wrappers[:1] == [dbwatch.watch], alias
    fresh = connections.create_connection("default")
    try:
        fresh.ensure_connection()
        fresh.close()
        fresh.ensure_connection()
        assert fresh.execute_wrappers[:1] == [dbwatch.watch]
        assert fresh.execute_wrappers.count(dbwatch.watch) == 1
    finally:
        fresh.close()


def test_an_observer_sees_every_statement_with_its_alias_and_duration(seen):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT %s", [2])
    assert [(alias, error) for alias, _, error in seen.calls] == [("default", None)] * 2
    assert all(isinstance(seconds, float) and seconds >= 0 for _, seconds, _ in seen.calls)


def test_an_observer_sees_a_failed_statement_with_its_error(seen):
    with pytest.raises(Exception) as raised, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_dbwatch")
    [(alias, _, error)] = seen.calls[-1:]
    assert alias == "default" and error is raised.value


def test_an_observer_that_raises_does_not_break_the_statement(seen, caplog):
    """The statement's answer comes back; the failure is logged; later observers run."""

    def broken(alias, seconds, error):
        raise RuntimeError("observer bug")

    dbwatch.add_statement_observer(broken)
    dbwatch.add_statement_observer(seen)  # once only: already added
    try:
        seen.calls.clear()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 7")
            assert cursor.fetchone()[0] == 7
    finally:
        dbwatch.remove_statement_observer(broken)
    assert len(seen.calls) == 1
    assert "statement observer" in caplog.text and "observer bug" in caplog.text


def test_slow_query_ms_is_read_from_the_settings_at_each_access(settings):
    assert dbwatch.SLOW_QUERY_MS == 1000
    settings.SLOW_QUERY_MS = 100
    assert dbwatch.SLOW_QUERY_MS == 100


def _sleep_on(conn) -> None:
    """Give SQLite a ``sleep(seconds)`` function (the others have one)."""
    if conn.vendor == "sqlite":
        conn.ensure_connection()
        conn.connection.create_function("sleep", 1, time.sleep)


def test_a_slow_statement_is_logged_with_alias_request_id_and_no_parameter_value(
        settings, json_log):
    """Over SLOW_QUERY_MS the statement is logged with its alias, duration, request id and
    the types of its parameters, never their values; a fast statement is not; the count
    of the last hour grows by one."""
    settings.SLOW_QUERY_MS = 100
    _sleep_on(connection)
    tenant_id = uuid.uuid4()
    with request_context(scope=TenantScope(tenant_id=tenant_id), request_id="req-slow-1"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute(SLEEP_SQL[connection.vendor], [0.3, SECRET])
    [record] = json_log.of("atrium.db.slow")
    assert record["level"] == "WARNING"
    assert record["db_alias"] == "default"
    assert record["duration_ms"] >= 300
    assert record["statement"] == SLEEP_SQL[connection.vendor]
    assert record["params"] == ["<float>", "<str>"]
    assert (record["request_id"], record["tenant"]) == ("req-slow-1", str(tenant_id))
    assert SECRET not in json_log.text()
    assert dbwatch.recent_counts() == {"slow_queries": 1, "deadlocks": 0, "lock_timeouts": 0}


def test_a_slow_statement_text_is_redacted_and_cut(settings, json_log):
    """Literals of raw SQL pass through the platform's redaction; a long text is cut."""
    settings.SLOW_QUERY_MS = 100
    _sleep_on(connection)
    key = "atr_abcdef123456_S3cretS3cretS3cret"
    sleep = {"mysql": "SLEEP(0.2)", "postgresql": "pg_sleep(0.2)", "sqlite": "sleep(0.2)"}
    padding = "x" * (2 * dbwatch.STATEMENT_MAX_CHARS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sleep[connection.vendor]}, '{key}' /* {padding} */")
    [record] = json_log.of("atrium.db.slow")
    assert "S3cretS3cret" not in json_log.text()
    assert "atr_abcdef123456_[REDACTED]" in record["statement"]
    assert len(record["statement"]) < dbwatch.STATEMENT_MAX_CHARS + 40
    assert record["statement"].endswith("more]")
    assert record["params"] is None


def test_placeholders_keep_the_shape_not_the_values():
    assert dbwatch.placeholders([1, "x", None, 2.5, b"b"]) == [
        "<int>", "<str>", "<null>", "<float>", "<bytes>"]
    assert dbwatch.placeholders({"name": "x"}) == {"name": "<str>"}
    assert dbwatch.placeholders([(1, "a"), (2, "b")], many=True) == {
        "rows": 2, "first": ["<int>", "<str>"]}
    assert dbwatch.placeholders(None) is None


def test_classify_names_the_deadlocks_and_lock_timeouts_of_both_servers():
    """The driver's own error classes, as Django wraps them (``__cause__``)."""
    def wrapped(driver_error):
        error = OperationalError(*driver_error.args)
        error.__cause__ = driver_error
        return error

    assert dbwatch.classify(wrapped(MySQLdb.OperationalError(1213, "Deadlock found"))) == (
        "deadlocks")
    assert dbwatch.classify(wrapped(MySQLdb.OperationalError(1205, "Lock wait timeout"))) == (
        "lock_timeouts")
    assert dbwatch.classify(wrapped(MySQLdb.OperationalError(1146, "no table"))) is None
    assert dbwatch.classify(wrapped(psycopg.errors.DeadlockDetected("d"))) == "deadlocks"
    assert dbwatch.classify(wrapped(psycopg.errors.SerializationFailure("s"))) == "deadlocks"
    assert dbwatch.classify(wrapped(psycopg.errors.LockNotAvailable("l"))) == "lock_timeouts"
    assert dbwatch.classify(wrapped(psycopg.errors.QueryCanceled("c"))) is None


def test_recent_counts_sum_the_buckets_of_the_window():
    """Counts are per minute in the cache; a window covers whole minutes back from now."""
    now = dbwatch._bucket(time.time())
    from django.core.cache import cache

    cache.set(dbwatch._key("deadlocks", now), 2)
    cache.set(dbwatch._key("deadlocks", now - 30), 3)
    cache.set(dbwatch._key("deadlocks", now - 90), 5)
    assert dbwatch.recent_counts(3600)["deadlocks"] == 5
    assert dbwatch.recent_counts(60)["deadlocks"] == 2
    assert dbwatch.recent_counts(24 * 3600)["deadlocks"] == 10
    dbwatch._count("lock_timeouts")
    dbwatch._count("lock_timeouts")
    assert dbwatch.recent_counts()["lock_timeouts"] == 2


# ---------------------------------------------------------------------------
# Real lock waits and deadlocks (MariaDB, PostgreSQL)
# ---------------------------------------------------------------------------


class Locks:
    """Two connections of their own to the test database and a scratch table of two rows."""

    def __init__(self) -> None:
        self.table = f"dbwatch_probe_{uuid.uuid4().hex[:8]}"
        self.holder = connections.create_connection("default")
        self.probe = connections.create_connection("default")
        self.run(self.holder, f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, n INTEGER)")
        self.run(self.holder, f"INSERT INTO {self.table} (id, n) VALUES (1, 0), (2, 0)")
        # The probe gives up on a lock soon: 1 s is MariaDB's shortest wait.
        self.run(self.probe, "SET SESSION innodb_lock_wait_timeout = 1"
                 if self.probe.vendor == "mysql" else "SET lock_timeout = '300ms'")

    @classmethod
    def superuser(cls, conn) -> bool:
        """Return whether PostgreSQL lets this session set deadlock_timeout (superusers
        only: not the everyday role of a row-level security run)."""
        return bool(cls.run(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0][0])

    @staticmethod
    def run(conn, sql: str, params=None) -> list:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def hold(self, row: int) -> None:
        """Lock a row in an open transaction of the holder."""
        self.holder.set_autocommit(False)
        self.run(self.holder, f"SELECT n FROM {self.table} WHERE id = %s FOR UPDATE", [row])

    def release(self) -> None:
        self.holder.rollback()
        self.holder.set_autocommit(True)

    def close(self) -> None:
        for conn in (self.probe, self.holder):
            if not conn.get_autocommit():
                conn.rollback()
                conn.set_autocommit(True)
            if conn.vendor == "postgresql":
                # A pooled connection goes back to the pool with its session settings.
                self.run(conn, "RESET lock_timeout")
                if self.superuser(conn):
                    self.run(conn, "RESET deadlock_timeout")
            else:
                self.run(conn, "SET SESSION innodb_lock_wait_timeout = DEFAULT")
        self.run(self.holder, f"DROP TABLE {self.table}")
        self.probe.close()
        self.holder.close()


@pytest.fixture
def locks() -> Iterator[Locks]:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no row locks: the lock tests run on MariaDB and PostgreSQL")
    scratch = Locks()
    try:
        yield scratch
    finally:
        scratch.close()


def lock_records(json_log) -> list[dict]:
    return json_log.of("atrium.db.lock")


def test_a_lock_wait_timeout_of_a_read_in_autocommit_is_retried_once_then_raised(
        locks, seen, json_log, settings):
    """A SELECT ... FOR UPDATE alone in autocommit that times out is retried once; timing
    out again, it raises; both timeouts are counted and logged, and, slow, logged as slow
    statements with their error."""
    settings.SLOW_QUERY_MS = 100
    locks.hold(1)
    seen.calls.clear()
    with pytest.raises(OperationalError):
        locks.run(locks.probe, f"SELECT n FROM {locks.table} WHERE id = 1 FOR UPDATE")
    errors = [error for _, _, error in seen.calls if error is not None]
    assert len(errors) == 2
    assert all(dbwatch.classify(error) == "lock_timeouts" for error in errors)
    assert dbwatch.recent_counts()["lock_timeouts"] == 2
    first, second = lock_records(json_log)
    assert (first["retried"], second["retried"]) == (True, False)
    assert first["conflict"] == "lock_timeouts" and first["db_alias"] == "default"
    assert "lock wait timeout" in first["message"]
    slow = json_log.of("atrium.db.slow")
    assert len(slow) == 2
    assert all(record["error"].startswith("OperationalError") for record in slow)
    assert dbwatch.recent_counts()["slow_queries"] == 2


def test_a_retried_read_succeeds_once_the_lock_is_gone(locks, seen, json_log):
    """The holder lets go between the first attempt and the retry (from the observer, in
    this thread): the retry answers the row."""
    locks.hold(1)

    def release_after_first_error(alias, seconds, error):
        if error is not None:
            locks.release()

    dbwatch.add_statement_observer(release_after_first_error)
    try:
        rows = locks.run(locks.probe, f"SELECT n FROM {locks.table} WHERE id = 1 FOR UPDATE")
    finally:
        dbwatch.remove_statement_observer(release_after_first_error)
    assert rows == [(0,)]
    assert dbwatch.recent_counts()["lock_timeouts"] == 1
    assert [record["retried"] for record in lock_records(json_log)] == [True, True]
    assert "succeeded" in lock_records(json_log)[-1]["message"]


def test_a_write_is_not_retried(locks, seen, json_log):
    """An UPDATE that times out in autocommit is counted and raised, never run again."""
    locks.hold(1)
    seen.calls.clear()
    with pytest.raises(OperationalError):
        locks.run(locks.probe, f"UPDATE {locks.table} SET n = n + 1 WHERE id = 1")
    assert len([error for _, _, error in seen.calls if error is not None]) == 1
    [record] = lock_records(json_log)
    assert record["retried"] is False
    assert dbwatch.recent_counts()["lock_timeouts"] == 1


def test_a_read_inside_a_transaction_is_not_retried(locks, seen, json_log):
    """Outside autocommit the transaction is the unit to retry, which only its caller can
    do: the read is counted and raised at once."""
    locks.hold(1)
    locks.probe.set_autocommit(False)
    seen.calls.clear()
    with pytest.raises(OperationalError):
        locks.run(locks.probe, f"SELECT n FROM {locks.table} WHERE id = 1 FOR UPDATE")
    assert len([error for _, _, error in seen.calls if error is not None]) == 1
    assert [record["retried"] for record in lock_records(json_log)] == [False]


def _session_id(conn) -> int:
    sql = "SELECT CONNECTION_ID()" if conn.vendor == "mysql" else "SELECT pg_backend_pid()"
    return Locks.run(conn, sql)[0][0]


def _wait_until_waiting(watcher, session_id: int, timeout: float = 10.0) -> None:
    """Return once the session ``session_id`` waits for a lock."""
    sql = ("SELECT count(*) FROM information_schema.innodb_trx "
           "WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id = %s"
           if watcher.vendor == "mysql" else
           # pg_locks, unlike pg_stat_activity, shows every session to every role.
           "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Locks.run(watcher, sql, [session_id])[0][0]:
            return
        time.sleep(0.01)
    raise AssertionError("the probe never waited for the lock")


def test_a_deadlocked_read_in_autocommit_is_retried_and_succeeds(locks, seen, json_log):
    """A real deadlock: the holder's transaction holds row 2; the probe's single SELECT
    locks row 1 and waits for row 2; the holder then asks for row 1. The probe is the
    victim (PostgreSQL: it checks for deadlocks first, after its shorter deadlock_timeout;
    MariaDB: the holder's transaction has written, so it weighs more), is retried once,
    waits for the holder to commit and answers both rows."""
    vendor = locks.probe.vendor
    if vendor == "postgresql":
        locks.run(locks.probe, "SET lock_timeout = '10s'")
        if locks.superuser(locks.probe):
            locks.run(locks.probe, "SET deadlock_timeout = '300ms'")
            locks.run(locks.holder, "SET deadlock_timeout = '10s'")
        # Else both keep the server's 1 s: the probe, waiting first, still checks first.
    else:
        locks.run(locks.probe, "SET SESSION innodb_lock_wait_timeout = 10")
    locks.holder.set_autocommit(False)
    locks.run(locks.holder, f"UPDATE {locks.table} SET n = n + 1 WHERE id = 2")
    holder_result: dict = {}
    probe_session = _session_id(locks.probe)

    def holder_side() -> None:
        # The holder's connection moves to this thread; a third one watches the probe.
        locks.holder.inc_thread_sharing()
        watcher = connections.create_connection("default")
        try:
            _wait_until_waiting(watcher, probe_session)
            locks.run(locks.holder, f"SELECT n FROM {locks.table} WHERE id = 1 FOR UPDATE")
            time.sleep(0.2)  # let the probe's retry queue up behind the holder's locks
            locks.holder.commit()
            holder_result["ok"] = True
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            holder_result["error"] = error
            locks.holder.rollback()
        finally:
            watcher.close()
            locks.holder.dec_thread_sharing()

    thread = threading.Thread(target=holder_side)
    thread.start()
    try:
        rows = locks.run(locks.probe,
                         f"SELECT id, n FROM {locks.table} ORDER BY id FOR UPDATE")
    finally:
        thread.join(timeout=30)
    locks.holder.set_autocommit(True)
    assert holder_result == {"ok": True}
    assert rows == [(1, 0), (2, 1)]
    assert dbwatch.recent_counts()["deadlocks"] == 1
    first, last = lock_records(json_log)
    assert first["conflict"] == "deadlocks" and first["retried"] is True
    assert "deadlock" in first["message"] and "succeeded" in last["message"]
