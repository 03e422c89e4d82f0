"""Database steps: SQL on a project's database, with variables passed as bind parameters.

``{{name}}`` in a statement becomes a driver placeholder and the variable's value a bound
parameter: a value is never spliced into SQL text, whatever it holds. A statement runs
read-only unless its step says it writes, under a statement timeout; rows are capped.
Connections are opened to an address the network policy checked (``core.outbound.resolve``)
and kept per run (``Connections``), closed when the run ends.
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from typing import Any

from django.utils.translation import gettext_noop

from core.deadlines import TimeBudget
from core.outbound import Policy, resolve
from testing.engine.messages import message
from testing.engine.spec import DatabaseSpec

REFERENCE = re.compile(r"{{\s*([^{}]*?)\s*}}")
MYSQL, POSTGRESQL, ORACLE = "mysql", "postgresql", "oracle"


class SqlError(Exception):
    """A statement that could not run, with a readable reason (no password in it)."""


def open_connection(db: DatabaseSpec, address: str, timeout: float):
    """Open a DB-API connection to ``address`` (already checked) with ``db``'s credentials."""
    seconds = max(1, int(round(timeout)))
    if db.db_type == MYSQL:
        import MySQLdb

        return MySQLdb.connect(host=address, port=db.port, user=db.username,
                               password=db.password, database=db.database or "",
                               connect_timeout=seconds, charset="utf8mb4", autocommit=False,
                               # One statement per execute: no "COMMIT; SET TRANSACTION
                               # READ WRITE; ..." out of a read-only step.
                               multi_statements=False)
    if db.db_type == POSTGRESQL:
        import psycopg

        return psycopg.connect(host=db.host, hostaddr=address, port=db.port,
                               user=db.username, password=db.password,
                               dbname=db.database or "postgres", connect_timeout=seconds)
    if db.db_type == ORACLE:
        import oracledb

        return oracledb.connect(user=db.username, password=db.password, host=address,
                                port=db.port, service_name=db.database or None,
                                tcp_connect_timeout=timeout)
    raise SqlError(message(gettext_noop("unknown database type %(type)s"),
                           type=repr(db.db_type)))


def connect_checked(db: DatabaseSpec, policy: Policy, timeout: float):
    """Resolve ``db.host`` under ``policy`` and connect to the first address that answers."""
    budget = TimeBudget(timeout)
    addresses = resolve(db.host, db.port, policy=policy, budget=budget,
                        what=f"database {db.name}")
    failure: BaseException | None = None
    for _family, sockaddr in addresses:
        try:
            return open_connection(db, sockaddr[0], max(0.1, budget.left()))
        except Exception as exc:  # noqa: BLE001 (each driver has its own errors)
            failure = exc
    raise SqlError(reason(failure, db))


def reason(exc: BaseException | None, db: DatabaseSpec) -> str:
    """Return a readable one-line reason for ``exc`` without ``db``'s password."""
    text = " ".join(str(exc).split())[:500] if exc is not None else ""
    if db.password:
        text = text.replace(db.password, "••••••")
    return text or (exc.__class__.__name__ if exc is not None else "unknown error")


def bind(sql: str, value_of) -> tuple[str, list[Any]]:
    """Return ``sql`` with each ``{{reference}}`` turned into a placeholder, and the values.

    ``value_of(reference_text)`` renders one reference (a variable or a function call). The
    drivers use the ``%s`` paramstyle, so a literal ``%`` of the text is doubled.
    """
    parts, params, last = [], [], 0
    for match in REFERENCE.finditer(sql):
        parts.append(sql[last:match.start()].replace("%", "%%"))
        parts.append("%s")
        params.append(value_of(match.group(0)))
        last = match.end()
    parts.append(sql[last:].replace("%", "%%"))
    if not params:
        return sql, []
    return "".join(parts), params


def _plain(value: Any) -> Any:
    """Return a column value as JSON-friendly data."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    return value


def _session_limits(connection, db_type: str, *, writes: bool, timeout: float) -> None:
    cursor = connection.cursor()
    try:
        if db_type == MYSQL:
            # MariaDB's max_statement_time is in seconds; MySQL's max_execution_time in ms
            # (SELECT only). Whichever the server lacks is skipped.
            for statement in (f"SET SESSION max_statement_time = {float(timeout):g}",
                              f"SET SESSION max_execution_time = {int(timeout * 1000)}"):
                try:
                    cursor.execute(statement)
                except Exception:  # noqa: BLE001 (the other server's variable)
                    pass
            cursor.execute("SET SESSION TRANSACTION READ WRITE" if writes
                           else "SET SESSION TRANSACTION READ ONLY")
        elif db_type == POSTGRESQL:
            cursor.execute(f"SET statement_timeout = {int(timeout * 1000)}")
            cursor.execute("SET default_transaction_read_only = " + ("off" if writes else "on"))
            connection.commit()
    finally:
        cursor.close()


def split(sql: str) -> list[str]:
    """Return the statements of ``sql`` (sqlparse's split: quotes and comments respected)."""
    import sqlparse

    return [statement.rstrip(";").strip() for statement in sqlparse.split(sql)
            if statement.strip().rstrip(";").strip()]


def execute(connection, db_type: str, statements: list[tuple[str, list[Any]]], *,
            writes: bool, timeout: float, max_rows: int) -> tuple[list[dict], int, bool]:
    """Run bound statements in one transaction; return the last one's rows, the affected row
    count of all, and whether the rows were cut at ``max_rows``.

    Each statement is sent on its own (one statement per call, which the drivers enforce:
    MySQL's multi-statements are off, PostgreSQL's statements are prepared), so a step that
    does not write cannot leave its read-only transaction. Such a step is rolled back
    after; one that writes is committed.
    """
    _session_limits(connection, db_type, writes=writes, timeout=timeout)
    cursor = connection.cursor()
    try:
        rows: list[dict] = []
        truncated = False
        count = 0
        for sql, params in statements:
            if db_type == POSTGRESQL:
                cursor.execute(sql, params or None, prepare=True)
            else:
                cursor.execute(sql, params or None)
            rows, truncated = [], False
            if cursor.description:
                names = [column[0] for column in cursor.description]
                fetched = cursor.fetchmany(max_rows + 1)
                truncated = len(fetched) > max_rows
                rows = [{name: _plain(value) for name, value in zip(names, row)}
                        for row in fetched[:max_rows]]
            count += max(cursor.rowcount, 0)
        if writes:
            connection.commit()
        else:
            connection.rollback()
        return rows, count, truncated
    except Exception:
        connection.rollback()
        raise
    finally:
        cursor.close()


class Connections:
    """The database connections of one run, opened on first use and closed at the end."""

    def __init__(self, databases: dict[str, DatabaseSpec], policy: Policy, timeout: float) -> None:
        self.databases = databases
        self.policy = policy
        self.timeout = timeout
        self._open: dict[str, Any] = {}

    def get(self, name: str) -> tuple[DatabaseSpec, Any]:
        db = self.databases.get(name)
        if db is None:
            known = ", ".join(sorted(self.databases)) or "none"
            raise SqlError(message(gettext_noop(
                "the project has no enabled database named %(name)s (known: %(known)s)"),
                name=repr(name), known=known))
        if name not in self._open:
            self._open[name] = connect_checked(db, self.policy, self.timeout)
        return db, self._open[name]

    def close(self) -> None:
        for connection in self._open.values():
            try:
                connection.close()
            except Exception:  # noqa: BLE001 (closing a broken connection)
                pass
        self._open.clear()
