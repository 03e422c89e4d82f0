"""Monthly partitions of login_logs and their maintenance (logs issue items 3-4).

These tests run DDL, which MariaDB commits implicitly, so they are transactional; the
serialized rollback puts back the rows that migrations seed for the other tests. Partitions
they create outlive each test; every test is written against months of its own, and after
each one maintenance with the real clock puts the current months back.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from core.context import all_tenants
from logs import partitioning as p
from logs.maintenance import maintain_partitions
from logs.models import LoginLog, OperationLog
from logs.operations import PartitionTableByMonth

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TABLE = "login_logs"


@pytest.fixture(autouse=True)
def partitioned_backend(settings):
    """Skip on SQLite; pin the retention; restore the current months afterwards."""
    if not p.is_supported(connection):
        pytest.skip(f"{connection.vendor} keeps login_logs a plain table (no partitioning)")
    settings.LOG_PARTITION_RETENTION = {TABLE: "12 months"}
    yield
    maintain_partitions()


def months_from_now(months: int, day: int = 15) -> dt.datetime:
    """Return the ``day`` of the month ``months`` from the current one, at noon UTC."""
    return p.shift_months(p.month_start(timezone.now()), months).replace(day=day, hour=12)


def insert_row(created_at: dt.datetime, using=None) -> int:
    """Insert a login log row dated ``created_at`` (auto_now_add would overwrite it)."""
    conn = connections[using or "default"]
    value = conn.ops.adapt_datetimefield_value(created_at)
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO login_logs (tenant_code, username, user_agent, login_status, reason, "
            "error_message, created_at) VALUES ('t', 'u', '', 'failed', '', '', %s)",
            [value],
        )
        if conn.vendor == "postgresql":
            cursor.execute("SELECT lastval()")
            return cursor.fetchone()[0]
        return cursor.lastrowid


def partition_of(row_id: int) -> str | None:
    """Return the name of the partition that holds row ``row_id``."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tableoid::regclass::text FROM login_logs WHERE id = %s", [row_id])
            row = cursor.fetchone()
            return row[0] if row else None
        for name in [*p.read_partitions(connection, TABLE).months.values(), p.MYSQL_CATCH_ALL]:
            cursor.execute(f"SELECT 1 FROM login_logs PARTITION ({name}) WHERE id = %s", [row_id])
            if cursor.fetchone():
                return name
    return None


def name_of(month: dt.datetime) -> str:
    return p.partition_name(TABLE, p.month_start(month), connection.vendor)


def of_table(report):
    """Return the part of a maintenance report about login_logs (other log tables join)."""
    [table] = [table for table in report.tables if table.table == TABLE]
    return table


def catch_all() -> str:
    return p.catch_all_name(TABLE, connection.vendor)


def test_table_is_partitioned_by_month_with_a_catch_all():
    """After migrate, login_logs has monthly partitions and a catch-all."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'login_logs'::regclass"
            )
            bounds = dict(cursor.fetchall())
            assert bounds[catch_all()] == "DEFAULT"
        else:
            cursor.execute(
                "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_DESCRIPTION "
                "FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME = 'login_logs'"
            )
            rows = cursor.fetchall()
            assert {method for _name, method, _bound in rows} == {"RANGE COLUMNS"}
            bounds = {name: bound for name, _method, bound in rows}
            assert bounds[catch_all()] == "MAXVALUE"
    for ahead in range(4):
        assert name_of(months_from_now(ahead)) in bounds


def test_primary_key_includes_the_partition_column():
    """The primary key is (id, created_at): a unique key must include the partition column."""
    with connection.cursor() as cursor:
        columns = connection.introspection.get_constraints(cursor, TABLE)
    primary = [c["columns"] for c in columns.values() if c["primary_key"]]
    assert primary == [["id", "created_at"]]


def test_inserts_far_in_the_future_and_past_succeed():
    """No insert fails: far-future rows land in the catch-all, far-past rows are kept."""
    future = insert_row(dt.datetime(2150, 1, 1, tzinfo=dt.timezone.utc))
    past = insert_row(dt.datetime(1990, 6, 1, tzinfo=dt.timezone.utc))
    assert partition_of(future) == catch_all()
    assert partition_of(past) is not None


def test_orm_still_sees_one_id_per_row():
    """LoginLog.objects.create and lookups by id work on the partitioned table."""
    with all_tenants():
        first = LoginLog.objects.create(tenant_code="x", username="u", login_status="failed")
        second = LoginLog.objects.create(tenant_code="x", username="v", login_status="success")
        assert second.id > first.id
        assert LoginLog.objects.get(id=first.id).username == "u"
        assert list(LoginLog.objects.filter(id__in=[first.id, second.id]).order_by("id")) == [
            first,
            second,
        ]
        assert LoginLog.objects.filter(id=second.id).update(username="w") == 1
        assert LoginLog.objects.get(pk=second.pk).username == "w"


def test_maintenance_keeps_three_future_months():
    """Maintenance creates the partitions of at least three months ahead."""
    now = months_from_now(6)
    report = maintain_partitions(now=now)
    months = p.read_partitions(connection, TABLE).months
    for ahead in range(4):
        assert p.shift_months(p.month_start(now), ahead) in months
    assert name_of(p.shift_months(now, 3)) in of_table(report).created


def test_maintenance_moves_catch_all_rows_into_their_month():
    """A row dated in a month without a partition moves out of the catch-all once it has one."""
    month = months_from_now(20)
    row = insert_row(month)
    assert partition_of(row) == catch_all()
    report = maintain_partitions(now=month)
    assert partition_of(row) == name_of(month)
    assert of_table(report).moved_rows >= 1
    with all_tenants():
        assert LoginLog.objects.filter(id=row).count() == 1


def test_maintenance_drops_months_past_retention():
    """Partitions whose whole month is older than the retention are dropped with their rows."""
    two_years_ago = months_from_now(-24)
    maintain_partitions(now=two_years_ago)
    row = insert_row(two_years_ago)
    assert partition_of(row) == name_of(two_years_ago)
    report = maintain_partitions()
    assert name_of(two_years_ago) in of_table(report).dropped
    assert p.month_start(two_years_ago) not in p.read_partitions(connection, TABLE).months
    assert partition_of(row) is None
    assert p.read_partitions(connection, TABLE).catch_all == catch_all()


def test_maintenance_twice_changes_nothing():
    """The second run in a row has nothing to do."""
    now = months_from_now(10)
    maintain_partitions(now=now)
    before = p.read_partitions(connection, TABLE)
    second = maintain_partitions(now=now)
    assert not second.changed, str(second)
    assert p.read_partitions(connection, TABLE) == before
    # The run is still recorded, saying so.
    with all_tenants():
        recorded = OperationLog.objects.filter(operation="maintain_partitions").latest("id")
    assert recorded.new_value["changed"] is False
    assert f"{TABLE} (default): nothing to do" in recorded.new_value["summary"]
    maintain_partitions()
    assert not maintain_partitions().changed


def test_concurrent_inserts_are_not_lost():
    """Rows inserted while maintenance creates partitions and moves rows are all kept."""
    total, first_months = 200, months_from_now(30)
    started, errors = threading.Event(), []

    def insert_rows() -> None:
        try:
            for index in range(total):
                insert_row(p.shift_months(first_months, index % 4) + dt.timedelta(seconds=index))
                if index == 20:
                    started.set()
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            started.set()
        finally:
            connections["default"].close()

    worker = threading.Thread(target=insert_rows)
    worker.start()
    try:
        assert started.wait(30)
        report = maintain_partitions(now=p.shift_months(first_months, 1))
    finally:
        worker.join(60)
    assert not worker.is_alive() and not errors, errors
    assert of_table(report).created
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM login_logs WHERE created_at >= %s",
            [connection.ops.adapt_datetimefield_value(p.month_start(first_months))],
        )
        assert cursor.fetchone()[0] == total
    # Rows that came in after the move still reach their months once maintenance runs again.
    maintain_partitions(now=p.shift_months(first_months, 1))
    for ahead in range(4):
        month = p.shift_months(p.month_start(first_months), ahead)
        assert month in p.read_partitions(connection, TABLE).months


def explained_partitions(start: dt.datetime, end: dt.datetime) -> set[str]:
    """Return the partitions the plan of a time-range query on login_logs reads."""
    with all_tenants():
        queryset = LoginLog.objects.filter(created_at__gte=start, created_at__lt=end)
        if connection.vendor == "postgresql":
            plan = queryset.explain()
            names = {name for name in plan.split() if name.startswith(f"{TABLE}_")}
            return {name for name in names if p.parse_month_suffix(name) or name == catch_all()}
        plan = json.loads(queryset.explain(format="json"))
        if isinstance(plan, str):  # MariaDB's JSON plan arrives quoted once more
            plan = json.loads(plan)

    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("table_name") == TABLE and "partitions" in node:
                found.update(node["partitions"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    return found


def test_time_range_query_reads_only_its_month():
    """EXPLAIN of a query bounded to one month names only that month's partition."""
    month = p.month_start(timezone.now())
    insert_row(month + dt.timedelta(days=2))
    assert explained_partitions(month, p.shift_months(month, 1)) == {name_of(month)}
    following = p.shift_months(month, 1)
    two_months = explained_partitions(month, p.shift_months(month, 2))
    assert two_months == {name_of(month), name_of(following)}


def test_migration_operation_is_reversible_and_keeps_rows():
    """The partitioning operation turns the table back into a plain one and again, rows kept."""
    row = insert_row(months_from_now(0))
    far = insert_row(dt.datetime(2150, 1, 1, tzinfo=dt.timezone.utc))
    state = MigrationLoader(connection).project_state(("logs", "0002_partition_login_logs"))
    operation = PartitionTableByMonth(model_name="loginlog")
    with connection.schema_editor() as editor:
        operation.database_backwards("logs", editor, state, state)
    assert not p.read_partitions(connection, TABLE).partitioned
    with all_tenants():
        assert set(LoginLog.objects.values_list("id", flat=True)) == {row, far}
    with connection.schema_editor() as editor:
        operation.database_forwards("logs", editor, state, state)
    layout = p.read_partitions(connection, TABLE)
    assert layout.partitioned and layout.catch_all == catch_all()
    assert partition_of(row) == name_of(months_from_now(0))
    assert partition_of(far) == catch_all()
    with all_tenants():
        created = LoginLog.objects.create(tenant_code="x", username="u", login_status="failed")
    assert created.id > far
