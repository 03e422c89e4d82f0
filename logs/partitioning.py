"""Monthly range partitioning of the big log tables (seed 000 section 4.4, seed 003).

A log model joins by declaring one class attribute::

    partitioning = MonthlyPartitioning(column="created_at", retention=Retention(months=12))

and one migration operation, ``PartitionTableByMonth("loginlog")`` (see
``logs.operations``). ``partitioned_models()`` finds every declared model;
``logs.maintenance.maintain_partitions`` keeps their partitions.

Layout per backend:

* MariaDB/MySQL: ``PARTITION BY RANGE COLUMNS(created_at)`` with one partition per UTC month
  named ``pYYYYMM`` (``VALUES LESS THAN`` the first instant of the next month) and the
  catch-all ``pmax VALUES LESS THAN (MAXVALUE)``. RANGE semantics put rows older than the
  first month into the first monthly partition.
* PostgreSQL: a declaratively partitioned parent ``PARTITION BY RANGE (created_at)`` with
  children ``<table>_pYYYYMM`` ``FOR VALUES FROM (month) TO (next month)`` and the catch-all
  ``<table>_default DEFAULT``.
* SQLite and anything else: a plain table.

Keys: MariaDB refuses foreign keys on partitioned tables and both backends require every
unique key to include the partition column, so the primary key of a partitioned table is
``(id, created_at)``. The ORM still sees ``id`` as the primary key: it comes from an
auto-increment/identity and is unique in practice. The models' foreign keys carry
``db_constraint=False`` for the same reason, and nothing may reference a log row by a
database foreign key. Month boundaries are UTC (datetimes are stored in UTC, ``USE_TZ``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SUPPORTED_VENDORS = ("mysql", "postgresql")
MYSQL_CATCH_ALL = "pmax"
MONTH_NAME = re.compile(r"p(\d{4})(\d{2})$")


@dataclass(frozen=True)
class Retention:
    """How long a table keeps its rows: whole months or days (seed 003)."""

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if (self.months > 0) == (self.days > 0):
            raise ImproperlyConfigured("Retention takes either months or days, and > 0.")

    @classmethod
    def parse(cls, value: Retention | str) -> Retention:
        """Return a retention from ``"12 months"``, ``"90 days"``, ``"12m"`` or ``"90d"``."""
        if isinstance(value, Retention):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*(m|months?|d|days?)\s*", str(value), re.IGNORECASE)
        if not match:
            raise ImproperlyConfigured(
                f"Retention {value!r} is neither 'N months' nor 'N days'."
            )
        amount, unit = int(match.group(1)), match.group(2).lower()
        return cls(months=amount) if unit.startswith("m") else cls(days=amount)

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Return the instant before which rows have expired at ``now``."""
        if self.days:
            return now - dt.timedelta(days=self.days)
        return shift_months(now, -self.months)

    def __str__(self) -> str:
        return f"{self.months} months" if self.months else f"{self.days} days"


@dataclass(frozen=True)
class MonthlyPartitioning:
    """Declare that a model's table is range-partitioned by month on ``column``.

    ``retention`` is the default; ``settings.LOG_PARTITION_RETENTION`` (table name ->
    ``"12 months"``/``"90 days"``) overrides it per table. ``future_months`` monthly
    partitions are kept ahead of the current month.
    """

    column: str = "created_at"
    retention: Retention | None = None
    future_months: int = 3

    def retention_for(self, db_table: str) -> Retention | None:
        """Return the retention in force for ``db_table`` (settings first)."""
        configured = getattr(settings, "LOG_PARTITION_RETENTION", {}) or {}
        if db_table in configured:
            return Retention.parse(configured[db_table])
        return self.retention


def partitioning_of(model: type) -> MonthlyPartitioning | None:
    """Return the partitioning declared on ``model``, if any."""
    declared = getattr(model, "partitioning", None)
    return declared if isinstance(declared, MonthlyPartitioning) else None


def partitioned_models() -> list[type]:
    """Return every installed model that declares monthly partitioning."""
    return [model for model in apps.get_models() if partitioning_of(model) is not None]


def is_supported(connection) -> bool:
    """Return whether ``connection``'s backend partitions tables (else: plain tables)."""
    return connection.vendor in SUPPORTED_VENDORS


# --- months ----------------------------------------------------------------------------


def month_start(moment: dt.datetime | dt.date) -> dt.datetime:
    """Return the first instant (UTC) of the month of ``moment``."""
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.timezone.utc)


def shift_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Return ``moment`` moved by whole months, the day clamped to the month's length."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def month_range(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Return the first instants of every month from ``first`` to ``last``, inclusive."""
    months, current = [], month_start(first)
    while current <= last:
        months.append(current)
        current = shift_months(current, 1)
    return months


def month_suffix(month: dt.datetime) -> str:
    """Return ``pYYYYMM`` for the month starting at ``month``."""
    return f"p{month:%Y%m}"


def parse_month_suffix(name: str) -> dt.datetime | None:
    """Return the month a ``...pYYYYMM`` partition name stands for, or None."""
    match = MONTH_NAME.search(name)
    if not match:
        return None
    return dt.datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=dt.timezone.utc)


def sql_instant(moment: dt.datetime, vendor: str) -> str:
    """Return a month boundary as a SQL literal (UTC) for ``vendor``."""
    text = moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return f"'{text}+00'" if vendor == "postgresql" else f"'{text}'"


# --- names -------------------------------------------------------------------------------


def partition_name(db_table: str, month: dt.datetime, vendor: str) -> str:
    """Return the name of ``db_table``'s partition for ``month`` on ``vendor``."""
    suffix = month_suffix(month)
    return f"{db_table}_{suffix}" if vendor == "postgresql" else suffix


def catch_all_name(db_table: str, vendor: str) -> str:
    """Return the name of ``db_table``'s catch-all partition on ``vendor``."""
    return f"{db_table}_default" if vendor == "postgresql" else MYSQL_CATCH_ALL


# --- SQL builders --------------------------------------------------------------------------


def mysql_partition_clause(connection, month: dt.datetime) -> str:
    """Return the ``PARTITION pYYYYMM VALUES LESS THAN (...)`` definition of ``month``."""
    qn = connection.ops.quote_name
    bound = sql_instant(shift_months(month, 1), "mysql")
    return f"PARTITION {qn(month_suffix(month))} VALUES LESS THAN ({bound})"


def mysql_catch_all_clause(connection) -> str:
    """Return the ``pmax`` definition."""
    return f"PARTITION {connection.ops.quote_name(MYSQL_CATCH_ALL)} VALUES LESS THAN (MAXVALUE)"


def mysql_partition_by_sql(connection, db_table: str, column: str, months) -> str:
    """Return the ``ALTER TABLE ... PARTITION BY RANGE COLUMNS`` of ``db_table``."""
    qn = connection.ops.quote_name
    parts = [mysql_partition_clause(connection, month) for month in months]
    parts.append(mysql_catch_all_clause(connection))
    return (
        f"ALTER TABLE {qn(db_table)} PARTITION BY RANGE COLUMNS({qn(column)}) "
        f"({', '.join(parts)})"
    )


def mysql_reorganize_sql(connection, db_table: str, source: str, months, source_clause: str) -> str:
    """Return the ``REORGANIZE PARTITION source INTO (months..., source)`` that splits it."""
    qn = connection.ops.quote_name
    parts = [mysql_partition_clause(connection, month) for month in months]
    parts.append(source_clause)
    return (
        f"ALTER TABLE {qn(db_table)} REORGANIZE PARTITION {qn(source)} "
        f"INTO ({', '.join(parts)})"
    )


def postgres_partition_sql(connection, db_table: str, month: dt.datetime) -> str:
    """Return the ``CREATE TABLE ... PARTITION OF`` of ``db_table``'s ``month``."""
    qn = connection.ops.quote_name
    start = sql_instant(month, "postgresql")
    end = sql_instant(shift_months(month, 1), "postgresql")
    return (
        f"CREATE TABLE {qn(partition_name(db_table, month, 'postgresql'))} "
        f"PARTITION OF {qn(db_table)} FOR VALUES FROM ({start}) TO ({end})"
    )


def postgres_default_sql(connection, db_table: str) -> str:
    """Return the ``CREATE TABLE ... PARTITION OF ... DEFAULT`` of ``db_table``."""
    qn = connection.ops.quote_name
    return (
        f"CREATE TABLE {qn(catch_all_name(db_table, 'postgresql'))} "
        f"PARTITION OF {qn(db_table)} DEFAULT"
    )


def postgres_create_parent_sql(schema_editor, model, column: str) -> tuple[str, list]:
    """Return the ``CREATE TABLE ... PARTITION BY RANGE`` of ``model`` (no indexes).

    The columns are the schema editor's own definitions, so types, identity and checks
    match what ``create_model`` makes; only the primary key becomes ``(pk, column)``.
    """
    qn = schema_editor.quote_name
    definitions, params = [], []
    pk = model._meta.pk
    for field in model._meta.local_concrete_fields:
        if field.primary_key:
            # A shallow copy stops column_sql from adding "PRIMARY KEY" to the column itself.
            field = _copy_field(field, primary_key=False)
        definition, extra = schema_editor.column_sql(model, field, include_default=False)
        if definition is None:
            continue
        # table_sql, not column_sql, adds the suffix (PostgreSQL: the identity clause).
        if suffix := field.db_type_suffix(connection=schema_editor.connection):
            definition += f" {suffix}"
        definitions.append(f"{qn(field.column)} {definition}")
        params.extend(extra or [])
    partition_column = model._meta.get_field(column).column
    definitions.append(f"PRIMARY KEY ({qn(pk.column)}, {qn(partition_column)})")
    sql = (
        f"CREATE TABLE {qn(model._meta.db_table)} ({', '.join(definitions)}) "
        f"PARTITION BY RANGE ({qn(partition_column)})"
    )
    return sql, params


def _copy_field(field, **changes):
    import copy

    clone = copy.copy(field)
    for name, value in changes.items():
        setattr(clone, name, value)
    clone.__dict__.pop("unique", None)  # a cached property derived from primary_key
    return clone


# --- introspection ------------------------------------------------------------------------


@dataclass(frozen=True)
class Partitions:
    """The partitions a table has now: its monthly ones and whether a catch-all exists."""

    partitioned: bool
    months: dict[dt.datetime, str]  # month start -> partition name
    catch_all: str | None


def read_partitions(connection, db_table: str) -> Partitions:
    """Return the partitions of ``db_table`` as the database has them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                [connection.ops.quote_name(db_table)],
            )
            row = cursor.fetchone()
            if not row or row[0] != "p":
                return Partitions(False, {}, None)
            cursor.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
                [connection.ops.quote_name(db_table)],
            )
            rows = cursor.fetchall()
            catch_all = next((name for name, bound in rows if bound == "DEFAULT"), None)
        elif connection.vendor == "mysql":
            cursor.execute(
                "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
                "AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION",
                [db_table],
            )
            rows = cursor.fetchall()
            if not rows:
                return Partitions(False, {}, None)
            catch_all = next((name for name, bound in rows if bound == "MAXVALUE"), None)
        else:
            return Partitions(False, {}, None)
    months = {}
    for name, _bound in rows:
        month = parse_month_suffix(name)
        if month is not None and name != catch_all:
            months[month] = name
    return Partitions(True, dict(sorted(months.items())), catch_all)
