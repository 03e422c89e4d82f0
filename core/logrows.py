"""The log-row writer: append-only rows inserted with as few statements as they allow.

Log rows (the operation and audit logs, the MCP call log, later the test engine's results)
are written and never read back by the code that writes them: no ids are returned, no
signals are sent. ``insert_statements`` builds the ``INSERT``s of rows of one model,
``execute_statements`` runs them all or nothing: a single statement is atomic by itself, so
in autocommit it needs no ``BEGIN``/``COMMIT`` of its own, and inside a transaction it runs
in a savepoint, so that its failure cannot break the enclosing transaction.
``write_log_rows`` writes several groups (on PostgreSQL in one statement, ``INSERT``s in
data-modifying ``WITH`` clauses) and reports a group that fails instead of raising.

Log rows are the platform's own record, each naming its tenant (or none, for platform work
and anonymous requests). With PostgreSQL row-level security on (``core.rls``), rows that
are not all of the tenant in scope are written as the platform; reading them back stays
under the policies.
"""

from __future__ import annotations

import logging

from contextlib import nullcontext

from django.db import connections, models, router, transaction
from django.db.models import sql

from core.context import get_current_tenant_id, platform_statements

logger = logging.getLogger("atrium.logrows")


# Rows per INSERT statement of log rows: bounds the statement's size (MariaDB's
# max_allowed_packet, SQLite's variable limit) when a request itemises thousands of changes.
INSERT_BATCH = 500
_insert_plans: dict[tuple, tuple] = {}


def _insert_plan(model: type[models.Model], connection) -> tuple:
    """Return ``(fields, one-row statement)`` of ``model`` on ``connection``.

    The statement is ``None`` when a field writes its own placeholder: the compiler must
    write each statement then.
    """
    key = (model, connection.alias, connection.vendor)
    plan = _insert_plans.get(key)
    if plan is None:
        fields = [f for f in model._meta.concrete_fields if f is not model._meta.pk]
        statement = None
        if not any(hasattr(f, "get_placeholder") for f in fields):
            qn = connection.ops.quote_name
            statement = "INSERT INTO {} ({}) VALUES ({})".format(
                qn(model._meta.db_table),
                ", ".join(qn(f.column) for f in fields),
                ", ".join(["%s"] * len(fields)),
            )
        plan = _insert_plans[key] = (fields, statement)
    return plan


def insert_statements(rows: list[models.Model], using: str) -> list[tuple[str, tuple]]:
    """Return the ``INSERT`` statements (SQL, parameters) of log rows of one model.

    At most ``INSERT_BATCH`` rows each; no ids are read back, no signals are sent: log rows
    are append-only and nothing follows them up. Django's insert compiler writes them; a
    single row (the usual request: one operation row, one audit row) takes the statement
    the compiler writes for one row, built once per model and database, with its values
    prepared as the compiler prepares them (``pre_save`` with ``add``, so ``auto_now_add``
    holds, then ``get_db_prep_save``): compiling it again for every request is most of
    the capture's own CPU time.
    """
    model = type(rows[0])
    connection = connections[using]
    fields, one_row = _insert_plan(model, connection)
    if len(rows) == 1 and one_row is not None:
        row = rows[0]
        return [(one_row, tuple(f.get_db_prep_save(f.pre_save(row, True), connection)
                                for f in fields))]
    size = max(min(INSERT_BATCH, connection.ops.bulk_batch_size(fields, rows)), 1)
    statements = []
    for start in range(0, len(rows), size):
        query = sql.InsertQuery(model)
        query.insert_values(fields, rows[start:start + size])
        statements.extend(query.get_compiler(using=using).as_sql())
    return statements


def execute_statements(statements: list[tuple[str, tuple]], using: str) -> None:
    """Run ``statements`` all or nothing, with as few round trips as that allows.

    One statement is atomic by itself: in autocommit it is sent alone, with no
    ``BEGIN``/``COMMIT`` (``atomic`` would add those, and on MariaDB two ``SET autocommit``
    round trips besides). Inside a transaction it runs in a savepoint, so that a failure
    cannot break the enclosing transaction. Several statements share one transaction.
    """
    connection = connections[using]
    if len(statements) == 1 and connection.get_autocommit() and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(*statements[0])
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement, params in statements:
            cursor.execute(statement, params)


def _writer_of(*groups: list[models.Model]):
    """Return the context log rows are written in: the scope's when every row is of the
    tenant in scope, else the platform's (``core.rls``)."""
    tenant_id = get_current_tenant_id()
    if tenant_id is not None and all(
        getattr(row, "tenant_id", None) == tenant_id for rows in groups for row in rows
    ):
        return nullcontext()
    return platform_statements()


def insert_rows(rows: list[models.Model], using: str | None = None) -> None:
    """Insert log rows of one model (``insert_statements``, ``execute_statements``)."""
    if rows:
        using = using or router.db_for_write(type(rows[0]))
        with _writer_of(rows):
            execute_statements(insert_statements(rows, using), using)


def write_log_rows(writes: list[tuple[list[models.Model], tuple]], using: str) -> None:
    """Insert several groups of log rows; a group that fails is reported, never raised.

    ``writes`` holds ``(rows, failure)`` pairs, one model per group; ``failure`` is the
    message and arguments reported with ``logger.exception`` when its rows cannot be
    written. On PostgreSQL the groups go in one statement when they fit in one each
    (``INSERT`` in data-modifying ``WITH`` clauses: one round trip, one commit). Should it
    fail, every group is written again on its own, so that one group's failure never
    costs another its rows.
    """
    writes = [(rows, failure) for rows, failure in writes if rows]
    if len(writes) > 1 and connections[using].vendor == "postgresql":
        try:
            groups = [insert_statements(rows, using) for rows, _failure in writes]
            if all(len(group) == 1 for group in groups):
                with _writer_of(*(rows for rows, _failure in writes)):
                    execute_statements([one_statement([group[0] for group in groups])], using)
                return
        except Exception:
            logger.warning("Could not write log rows together; writing them one by one",
                           exc_info=True)
    for rows, failure in writes:
        try:
            insert_rows(rows, using)
        except Exception:
            logger.exception(*failure)


def one_statement(statements: list[tuple[str, tuple]]) -> tuple[str, tuple]:
    """Return PostgreSQL statements as one: all but the last (``INSERT``s) in ``WITH`` clauses."""
    *first, (last, last_params) = statements
    clauses = ", ".join(f"w{n} AS ({statement})" for n, (statement, _params) in enumerate(first))
    params = [param for _statement, params in first for param in params]
    return f"WITH {clauses} {last}", (*params, *last_params)
