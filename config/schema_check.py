"""Compare the models with the live schema of every datasource (issue 4 item 7, seed 002).

Seed 002 checks a hand-written schema against the database table by table; here the models
are the schema and the router decides which datasource holds each table. For every alias,
``check_datasource`` reports:

* tables a model expects that are missing, and tables no model (nor Django's
  ``django_migrations``) accounts for;
* columns missing or extra, a NULL/NOT NULL mismatch and a type-family mismatch
  (number, text, temporal, binary: coarse on purpose, so the three backends' different
  spellings of one field never read as drift);
* indexes and constraints the models name explicitly (``Meta.indexes``,
  ``Meta.constraints``) that are missing, and indexes on columns the models do not index.
  Names Django derives per backend (``db_index``, ``unique``, foreign keys) are never
  compared by name;
* partitions: a model declaring ``partitioned_by_month = True`` (or a ``partitioning``, as
  the log models do) must be a partitioned table with partitions on MySQL/MariaDB and
  PostgreSQL, and a partitioned table must be declared. SQLite has no partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

from core import rls

# Tables Django itself keeps on every migrated alias.
DJANGO_TABLES = frozenset({"django_migrations"})

# Field class names (the model's internal type, or what introspection reads back) by the
# family of column types that stores them on every backend. Types absent here (duration,
# which is an interval on PostgreSQL and a bigint elsewhere, and anything custom) are not
# compared.
TYPE_FAMILIES = {
    "number": {
        "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
        "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
        "PositiveSmallIntegerField", "BooleanField", "NullBooleanField", "DecimalField",
        "FloatField",
    },
    "text": {
        "CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField",
        "FileField", "ImageField", "GenericIPAddressField", "IPAddressField", "UUIDField",
        "JSONField",
    },
    "temporal": {"DateTimeField", "DateField", "TimeField"},
    "binary": {"BinaryField"},
}
FAMILY_OF = {name: family for family, names in TYPE_FAMILIES.items() for name in names}


@dataclass(frozen=True, order=True)
class Drift:
    """One difference between the models and a live datasource."""

    alias: str
    table: str
    column: str
    what: str

    def __str__(self) -> str:
        """Return the report line: ``alias: table.column: what``."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.alias}: {where}: {self.what}"


def partitioned_by_month(model: type[models.Model]) -> bool:
    """Return whether ``model`` declares its table partitioned by month.

    Either spelling counts: ``partitioned_by_month = True``, or the ``partitioning``
    attribute the log models carry (``logs.partitioning.MonthlyPartitioning``), read by
    name so that this module does not depend on the logs app.
    """
    return bool(
        getattr(model, "partitioned_by_month", False)
        or getattr(model, "partitioning", None) is not None
    )


def models_on(alias: str) -> dict[str, type[models.Model]]:
    """Return table name -> model for every model the router migrates on ``alias``."""
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if router.allow_migrate_model(alias, model):
            tables[model._meta.db_table] = model
    return tables


def family(field_type: str) -> str | None:
    """Return the type family of a field class name, None when it is not compared."""
    return FAMILY_OF.get(field_type)


def model_field_family(field: models.Field) -> str | None:
    """Return the type family of the column that stores ``field`` (relations: their target)."""
    while field.is_relation and (field.many_to_one or field.one_to_one):
        field = field.target_field
    return family(field.get_internal_type())


def live_field_family(connection: BaseDatabaseWrapper, info) -> str | None:
    """Return the type family of an introspected column, None when it cannot be read."""
    data_type = (getattr(info, "data_type", "") or "").lower()
    if connection.vendor == "mysql" and data_type.endswith("blob"):
        # MySQL reports BLOB and TEXT columns by one type code, which Django reads as text;
        # the column's data type tells them apart.
        return "binary"
    try:
        return family(connection.introspection.get_field_type(info.type_code, info))
    except (KeyError, TypeError):
        return None


def expected_index_names(connection: BaseDatabaseWrapper, model: type[models.Model]) -> set[str]:
    """Return the explicitly named indexes and constraints the backend creates for ``model``."""
    features = connection.features
    names = set()
    for index in model._meta.indexes:
        if index.contains_expressions and not features.supports_expression_indexes:
            continue
        names.add(index.name)
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            supported = (
                (not constraint.condition or features.supports_partial_indexes)
                and (not constraint.deferrable or features.supports_deferrable_unique_constraints)
                and (not constraint.include or features.supports_covering_indexes)
                and (not constraint.expressions or features.supports_expression_indexes)
                and (
                    constraint.nulls_distinct is None
                    or features.supports_nulls_distinct_unique_constraints
                )
            )
        elif isinstance(constraint, models.CheckConstraint):
            supported = features.supports_table_check_constraints
        else:
            supported = True
        if supported:
            names.add(constraint.name)
    return {name.lower() for name in names}


def implicitly_indexed(model: type[models.Model]) -> set[tuple[str, ...]]:
    """Return the column tuples the backend indexes for ``model`` under names of its own."""
    columns = set()
    for field in model._meta.local_concrete_fields:
        if field.primary_key or field.unique or field.db_index or field.is_relation:
            columns.add((field.column,))
    for fields in model._meta.unique_together:
        columns.add(tuple(model._meta.get_field(name).column for name in fields))
    for index in model._meta.indexes:
        if index.fields:
            columns.add(
                tuple(model._meta.get_field(name.lstrip("-")).column for name in index.fields)
            )
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            columns.add(tuple(model._meta.get_field(name).column for name in constraint.fields))
    return columns


def partitioned_tables(connection: BaseDatabaseWrapper) -> set[str] | None:
    """Return the partitioned tables of the connection's database, None without partitioning."""
    if connection.vendor == "mysql":
        sql = (
            "SELECT DISTINCT TABLE_NAME FROM information_schema.PARTITIONS "
            "WHERE TABLE_SCHEMA = DATABASE() AND PARTITION_NAME IS NOT NULL"
        )
    elif connection.vendor == "postgresql":
        sql = (
            "SELECT c.relname FROM pg_partitioned_table pt "
            "JOIN pg_class c ON c.oid = pt.partrelid WHERE pg_table_is_visible(c.oid)"
        )
    else:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0] for row in cursor.fetchall()}


def partition_count(connection: BaseDatabaseWrapper, table: str) -> int:
    """Return how many partitions ``table`` has (PostgreSQL: attached children)."""
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = "
                "DATABASE() AND TABLE_NAME = %s AND PARTITION_NAME IS NOT NULL",
                [table],
            )
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent "
                "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
                [table],
            )
        return cursor.fetchone()[0]


def check_columns(alias: str, connection, cursor, table: str, model) -> list[Drift]:
    """Return the column drift of one table."""
    drift = []
    description = connection.introspection.get_table_description(cursor, table)
    live = {info.name: info for info in description}
    expected = {field.column: field for field in model._meta.local_concrete_fields}
    for column in sorted(expected.keys() - live.keys()):
        drift.append(Drift(alias, table, column, "missing column"))
    for column in sorted(live.keys() - expected.keys()):
        drift.append(Drift(alias, table, column, "extra column"))
    for column in sorted(expected.keys() & live.keys()):
        field, info = expected[column], live[column]
        # Oracle stores '' as NULL, so it keeps text columns nullable whatever the model says.
        lenient = (
            connection.features.interprets_empty_strings_as_nulls and field.empty_strings_allowed
        )
        if info.null_ok is not None and bool(info.null_ok) != field.null and not lenient:
            drift.append(
                Drift(
                    alias, table, column,
                    "NULL allowed, model says NOT NULL" if info.null_ok
                    else "NOT NULL, model allows NULL",
                )
            )
        want, have = model_field_family(field), live_field_family(connection, info)
        if want and have and want != have:
            drift.append(Drift(alias, table, column, f"{have} column, model expects {want}"))
    return drift


def check_indexes(alias: str, connection, cursor, table: str, model) -> list[Drift]:
    """Return the index and constraint drift of one table."""
    drift = []
    live = connection.introspection.get_constraints(cursor, table)
    explicit = expected_index_names(connection, model)
    for name in sorted(explicit - {name.lower() for name in live}):
        drift.append(Drift(alias, table, "", f"missing index or constraint {name}"))
    implicit = implicitly_indexed(model)
    for name, info in sorted(live.items()):
        columns = tuple(info.get("columns") or ())
        if (
            not (info.get("index") or info.get("unique"))
            or info.get("primary_key")
            or info.get("foreign_key")
            or info.get("check")
            or name.lower() in explicit
            or not columns
            or None in columns
            or columns in implicit
        ):
            continue
        drift.append(Drift(alias, table, "", f"extra index {name} on ({', '.join(columns)})"))
    return drift


def check_partitions(
    alias: str, connection, tables: dict[str, type], live: set[str]
) -> list[Drift]:
    """Return the partitioning drift of ``alias``; nothing on backends without partitions."""
    partitioned = partitioned_tables(connection)
    if partitioned is None:
        return []
    drift = []
    for table, model in sorted(tables.items()):
        if table not in live:
            continue
        declared = partitioned_by_month(model)
        if declared and table not in partitioned:
            drift.append(Drift(alias, table, "", "not partitioned, model declares partitions"))
        elif declared and partition_count(connection, table) == 0:
            drift.append(Drift(alias, table, "", "partitioned but has no partitions"))
        elif not declared and table in partitioned:
            drift.append(Drift(alias, table, "", "partitioned, model declares no partitions"))
    return drift


def check_row_level_security(alias: str, connection, tables: dict[str, type],
                             live: set[str]) -> list[Drift]:
    """Return the row-level security drift of ``alias`` (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return []
    on = rls.enabled()
    drift = []
    with connection.cursor() as cursor:
        for table, model in sorted(tables.items()):
            if table not in live or not rls.is_tenant_owned(model):
                continue
            for name in [table, *rls.partitions_of(cursor, table)]:
                state = rls.policy_state(cursor, name)
                if not state.has_policy:
                    drift.append(Drift(alias, name, "", "tenant-owned, no isolation policy"))
                    continue
                if "app.tenant_id" not in state.condition or "tenant_id" not in state.condition:
                    drift.append(Drift(alias, name, "", "isolation policy with another condition"))
                if state.enabled != on or state.forced != on:
                    drift.append(Drift(
                        alias, name, "",
                        f"row-level security {'not ' if on else ''}enforced, "
                        f"DATABASE_RLS is {'on' if on else 'off'}",
                    ))
    return drift


def check_datasource(alias: str) -> list[Drift]:
    """Return every difference between the models routed to ``alias`` and its live schema."""
    connection = connections[alias]
    tables = models_on(alias)
    drift = []
    with connection.cursor() as cursor:
        listed = connection.introspection.get_table_list(cursor)
        # Views and PostgreSQL partitions ('v', 'p') belong to no model by themselves.
        live = {info.name for info in listed if info.type == "t"}
        for table in sorted(tables.keys() - live):
            drift.append(Drift(alias, table, "", "missing table"))
        for table in sorted(live - tables.keys() - DJANGO_TABLES):
            drift.append(Drift(alias, table, "", "extra table (no model routed here)"))
        for table in sorted(tables.keys() & live):
            model = tables[table]
            drift += check_columns(alias, connection, cursor, table, model)
            drift += check_indexes(alias, connection, cursor, table, model)
    drift += check_partitions(alias, connection, tables, live)
    drift += check_row_level_security(alias, connection, tables, live)
    return drift


def check_schema(aliases: list[str] | None = None) -> list[Drift]:
    """Return the drift of every datasource in ``aliases`` (default: all of ``DATABASES``)."""
    drift = []
    for alias in aliases or list(connections):
        drift += check_datasource(alias)
    return drift
