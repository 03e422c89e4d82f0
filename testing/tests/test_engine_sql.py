"""SQL steps on real MariaDB and PostgreSQL servers (no mocks, no Django test database).

Each backend gets a throw-away database ``atrium_engine_sql_<hex>`` holding an ``items``
table, created with the server's admin login and dropped at the end; the engine reaches it
as the project database ``shop``. CI requires both servers (``ATRIUM_REQUIRE_SERVICES``
turns a server that does not answer into a failure); elsewhere its tests are skipped with
the reason (``conftest.require_service``).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import require_service
from core.outbound import Policy, parse_networks
from testing.engine import runner, spec as S, sql
from testing.engine.runner import RunOutcome, run_scenario

LOOPBACK = Policy(allowed_networks=parse_networks(("127.0.0.0/8",)))
HOST = "127.0.0.1"
ITEMS = [(1, "apple"), (2, "avocado"), (3, "banana")]
EVIL = "'; DROP TABLE items; --"
MARIADB = pytest.param(sql.MYSQL, marks=pytest.mark.services, id=sql.MYSQL)
POSTGRESQL = pytest.param(sql.POSTGRESQL, marks=pytest.mark.services, id=sql.POSTGRESQL)
# What each server says when a statement outlives the statement timeout.
TIMEOUT_MESSAGES = {sql.MYSQL: "max_statement_time exceeded",
                    sql.POSTGRESQL: "canceling statement due to statement timeout"}
SLEEP = {sql.MYSQL: "SELECT SLEEP(3)", sql.POSTGRESQL: "SELECT pg_sleep(3)"}


@dataclass
class Server:
    """A throw-away database on one server, with an admin connection to it (autocommit)."""

    kind: str
    port: int
    username: str
    database: str
    admin: Any
    # A login the server accepts that has a non-empty password; PostgreSQL trusts loopback,
    # so any password goes there.
    login: tuple[str, str]

    def spec(self, **fields) -> S.DatabaseSpec:
        """Return the database as the engine sees it (``shop``), with ``fields`` changed."""
        values = {"name": "shop", "db_type": self.kind, "host": HOST, "port": self.port,
                  "database": self.database, "username": self.username, "password": ""}
        return S.DatabaseSpec(**{**values, **fields})

    def rows(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run ``statement`` with the admin connection; return its rows."""
        cursor = self.admin.cursor()
        try:
            cursor.execute(statement, params or None)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            cursor.close()


def _mariadb(name: str):
    import MySQLdb

    # The names come from secrets.token_hex: nothing to quote.
    user = f"atrium_engine_u_{name.rsplit('_', 1)[1]}"
    admin = MySQLdb.connect(host=HOST, port=3306, user="root", password="",
                            charset="utf8mb4", autocommit=True)
    cursor = admin.cursor()
    try:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pass'")
        admin.select_db(name)
        cursor.execute("CREATE TABLE items (id int primary key, name varchar(200))")
        yield Server(sql.MYSQL, 3306, "root", name, admin, login=(user, "right-pass"))
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        cursor.close()
        admin.close()


def _postgresql(name: str):
    import psycopg

    root = psycopg.connect(host=HOST, port=5432, user="postgres", dbname="postgres",
                           autocommit=True)
    try:
        root.execute(f"CREATE DATABASE {name}")
        with psycopg.connect(host=HOST, port=5432, user="postgres", dbname=name,
                             autocommit=True) as admin:
            admin.execute("CREATE TABLE items (id int primary key, name varchar(200))")
            yield Server(sql.POSTGRESQL, 5432, "postgres", name, admin,
                         login=("postgres", "hunter2-secret"))
    finally:
        # FORCE: a connection a failed test left open must not keep the database alive.
        root.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        root.close()


@pytest.fixture(scope="module", params=[MARIADB, POSTGRESQL])
def server(request):
    """Create a throw-away database with an ``items`` table; drop it at the end."""
    name = f"atrium_engine_sql_{secrets.token_hex(6)}"
    if request.param == sql.MYSQL:
        require_service(HOST, 3306, "MariaDB")
        yield from _mariadb(name)
    else:
        require_service(HOST, 5432, "PostgreSQL")
        yield from _postgresql(name)


@pytest.fixture
def shop(server) -> Server:
    """Start every test with the same rows in ``items``."""
    server.rows("DELETE FROM items")
    for row in ITEMS:
        server.rows("INSERT INTO items (id, name) VALUES (%s, %s)", row)
    return server


class ListSink:
    """Keeps what the engine reports; never pauses or terminates."""

    def __init__(self) -> None:
        self.results: list[runner.StepResult] = []

    def record(self, result, checkpoint) -> None:
        self.results.append(result)

    def control(self) -> str:
        return runner.RUN


def query(key, statement, *, database="shop", writes=False, variable=None, assertions=(),
          extractors=()):
    params = {"database": database, "sql": statement, "writes": writes}
    if variable:
        params["variable"] = variable
    return S.StepSpec(key=key, title=key, action=S.SQL, params=params,
                      assertions=list(assertions), extractors=list(extractors))


def row_is(expression, expected):
    return {"type": "rows", "expression": expression, "operator": "eq",
            "expected_value": expected}


def run(shop, steps, *, policy=LOOPBACK, databases=None, **fields) -> tuple[RunOutcome, ListSink]:
    """Run ``steps`` with ``shop`` as the project's only database."""
    fields.setdefault("settings", S.RunSettings(retry_backoff=0.01, timeout=5))
    spec = S.ScenarioRunSpec(name="s", steps=steps,
                             databases=databases or {"shop": shop.spec()}, **fields)
    sink = ListSink()
    return run_scenario(spec, sink, policy=policy), sink


def test_a_select_binds_a_variable_and_its_rows_are_stored_checked_and_extracted(shop):
    """``{{wanted}}`` travels as a parameter; the rows reach the response, a variable, an
    extractor and the assertions of the steps after."""
    steps = [
        query("find", "SELECT id, name FROM items WHERE name = {{wanted}}", variable="found",
              extractors=[{"name": "item_id", "source": "rows", "expression": "$[0].id"}]),
        S.StepSpec(key="check", title="check", action=S.ASSERT, assertions=[
            row_is("$[0].name", "banana"),
            {"type": "value", "actual": "{{found}}", "operator": "len_eq",
             "expected_value": 1}]),
        query("by id", "SELECT name FROM items WHERE id = {{item_id}}",
              assertions=[row_is("$[0].name", "banana")]),
    ]
    outcome, sink = run(shop, steps, layers={"scenario": {"wanted": "banana"}})
    assert outcome.status == "passed", [(r.key, r.error) for r in sink.results]
    find, check, by_id = sink.results
    assert find.request == {"database": "shop", "params": ["banana"], "writes": False,
                            "sql": "SELECT id, name FROM items WHERE name = {{wanted}}"}
    assert find.response["rows"] == [{"id": 3, "name": "banana"}]
    assert find.response["row_count"] == 1 and find.response["rows_truncated"] is False
    assert find.extracted == {"found": [{"id": 3, "name": "banana"}], "item_id": 3}
    assert [a["passed"] for a in check.assertions] == [True, True]
    assert check.variables["found"]["origin"] == "rows of step 1 (find)"
    assert by_id.request["params"] == [3]


def test_a_value_is_bound_as_data_and_never_spliced_into_the_statement(shop):
    """A value shaped like an injection is stored as it is; the table is still there."""
    steps = [query("insert", "INSERT INTO items (id, name) VALUES (10, {{evil}})",
                   writes=True),
             query("read", "SELECT id FROM items WHERE name = {{evil}}",
                   assertions=[row_is("$[0].id", 10)])]
    outcome, sink = run(shop, steps, layers={"scenario": {"evil": EVIL}})
    assert outcome.status == "passed", [(r.key, r.error) for r in sink.results]
    assert sink.results[0].response["row_count"] == 1
    assert shop.rows("SELECT name FROM items WHERE id = 10") == [(EVIL,)]
    assert len(shop.rows("SELECT id FROM items")) == len(ITEMS) + 1


def test_a_literal_percent_works_with_and_without_bound_values(shop):
    """The ``%`` of a LIKE pattern is not taken for a placeholder."""
    steps = [query("bound", "SELECT name FROM items WHERE name LIKE 'a%' AND id > {{min_id}}",
                   variable="bound"),
             query("plain", "SELECT name FROM items WHERE name LIKE 'a%' ORDER BY id",
                   variable="plain")]
    outcome, sink = run(shop, steps, layers={"scenario": {"min_id": 1}})
    assert outcome.status == "passed", [(r.key, r.error) for r in sink.results]
    assert sink.results[0].extracted == {"bound": [{"name": "avocado"}]}
    assert sink.results[1].extracted == {"plain": [{"name": "apple"}, {"name": "avocado"}]}


def test_a_step_that_does_not_say_it_writes_cannot_write(shop):
    """Without ``writes`` the statement runs read-only and the step fails saying so."""
    outcome, sink = run(shop, [query("insert",
                                     "INSERT INTO items (id, name) VALUES (11, 'sneaky')")])
    assert outcome.status == "failed"
    (result,) = sink.results
    assert result.status == "error"
    assert re.search(r"read[- ]only", result.error, re.IGNORECASE), result.error
    assert shop.rows("SELECT id FROM items WHERE id = 11") == []


def test_a_read_only_step_cannot_commit_its_way_out(shop):
    """A step that does not write runs one statement: it cannot end the read-only
    transaction and write in a new one."""
    statement = ("COMMIT; SET TRANSACTION READ WRITE; "
                 "INSERT INTO items (id, name) VALUES (12, 'escaped'); COMMIT")
    outcome, sink = run(shop, [query("escape", statement)])
    assert sink.results[0].status == "error"
    assert "runs one statement; this one has 4" in sink.results[0].error
    assert shop.rows("SELECT id FROM items WHERE id = 12") == []


def test_a_writing_step_runs_its_statements_in_one_transaction(shop):
    """Several statements of a step that writes (pre-SQL, say) run in order, committed
    together; a semicolon inside a string is not a separator."""
    outcome, sink = run(shop, [query("read", "SELECT name FROM items WHERE id = 13")],
                        database="shop",
                        pre_sql="INSERT INTO items (id, name) VALUES (13, 'a;b');\n"
                                "UPDATE items SET name = 'c;d' WHERE id = 13;")
    assert outcome.status == "passed", [r.error for r in sink.results]
    assert sink.results[1].response["rows"] == [{"name": "c;d"}]
    assert shop.rows("SELECT name FROM items WHERE id = 13") == [("c;d",)]


def test_a_failed_statement_rolls_back_the_whole_step(shop):
    steps = [query("two", "INSERT INTO items (id, name) VALUES (14, 'x'); SELEC 1",
                   writes=True)]
    outcome, sink = run(shop, steps)
    assert sink.results[0].status == "error"
    assert shop.rows("SELECT id FROM items WHERE id = 14") == []


def test_a_syntax_error_fails_the_step_with_the_servers_message_and_ends_the_run(shop):
    """The run stops at the failed step; post-SQL still runs on the same connection."""
    steps = [query("bad", "SELEC name FROM items"), query("never", "SELECT 1")]
    outcome, sink = run(shop, steps, database="shop",
                        post_sql="DELETE FROM items WHERE id = 3")
    assert outcome.status == "failed"
    assert [r.key for r in sink.results] == ["bad", "post_sql"]
    bad, post = sink.results
    assert bad.status == "error" and "syntax" in bad.error.lower(), bad.error
    assert outcome.error == f"bad: {bad.error}"
    assert post.status == "passed", post.error
    assert shop.rows("SELECT id FROM items WHERE id = 3") == []


def test_a_statement_is_stopped_at_the_statement_timeout(shop):
    """A statement running longer than ``statement_timeout`` seconds fails its step."""
    settings = S.RunSettings(retry_backoff=0.01, timeout=5, statement_timeout=1)
    started = time.monotonic()
    outcome, sink = run(shop, [query("slow", SLEEP[shop.kind])], settings=settings)
    elapsed = time.monotonic() - started
    assert outcome.status == "failed"
    assert TIMEOUT_MESSAGES[shop.kind] in sink.results[0].error, sink.results[0].error
    assert elapsed < 2.5


def test_an_unknown_database_fails_the_step_naming_the_known_ones(shop):
    outcome, sink = run(shop, [query("q", "SELECT 1", database="warehouse")])
    assert outcome.status == "failed"
    assert sink.results[0].error == (
        "the project has no enabled database named 'warehouse' (known: shop)")


def test_pre_sql_runs_before_the_steps_and_post_sql_after(shop):
    steps = [query("read", "SELECT name FROM items WHERE id = 50",
                   assertions=[row_is("$[0].name", "from pre_sql")])]
    outcome, sink = run(shop, steps, database="shop",
                        pre_sql="INSERT INTO items (id, name) VALUES (50, 'from pre_sql')",
                        post_sql="DELETE FROM items WHERE id = 50")
    assert outcome.status == "passed", [(r.key, r.error) for r in sink.results]
    assert [r.key for r in sink.results] == ["pre_sql", "read", "post_sql"]
    assert shop.rows("SELECT id FROM items WHERE id = 50") == []


def test_a_refused_address_fails_the_step_before_any_connection(shop, monkeypatch):
    """With no network allowed the loopback server is refused and never connected to."""
    opened = []
    connect = sql.open_connection

    def spy(db, address, timeout):
        opened.append(address)
        return connect(db, address, timeout)

    monkeypatch.setattr(sql, "open_connection", spy)
    outcome, sink = run(shop, [query("q", "SELECT 1")], policy=Policy())
    assert outcome.status == "failed"
    assert sink.results[0].status == "error"
    assert "does not call" in sink.results[0].error
    assert opened == []


@pytest.mark.parametrize("server", [MARIADB], indirect=True)
def test_a_rejected_password_is_not_in_the_error(shop):
    """MariaDB checks the password (PostgreSQL trusts loopback here, so only MariaDB)."""
    username, _ = shop.login
    db = shop.spec(username=username, password="hunter2-secret")
    outcome, sink = run(shop, [query("q", "SELECT 1")], databases={"shop": db})
    assert outcome.status == "failed"
    error = sink.results[0].error
    assert "Access denied" in error and username in error, error
    assert "hunter2-secret" not in error


def test_a_password_the_server_quotes_back_is_masked(shop):
    """A password that is also the database's name is masked in the server's message."""
    username, password = shop.login
    db = shop.spec(username=username, password=password, database=password)
    outcome, sink = run(shop, [query("q", "SELECT 1")], databases={"shop": db})
    assert outcome.status == "failed"
    error = sink.results[0].error
    assert password not in error and "••••••" in error, error


def test_rows_are_capped_at_max_rows(shop):
    settings = S.RunSettings(retry_backoff=0.01, timeout=5, max_rows=2)
    outcome, sink = run(shop, [query("all", "SELECT id FROM items ORDER BY id")],
                        settings=settings)
    assert outcome.status == "passed"
    response = sink.results[0].response
    assert response["rows"] == [{"id": 1}, {"id": 2}] and response["rows_truncated"] is True
