"""The migration operation that turns a log table into a monthly partitioned one.

``PartitionTableByMonth("loginlog")`` (after the table's ``CreateModel``) makes the layout
described in ``logs.partitioning``; its reverse makes a plain table again, rows kept, so
migrating to zero and back works. It runs only on the alias that holds the table (the
datasource router) and does nothing on SQLite.

* MariaDB/MySQL: the primary key becomes ``(id, created_at)``, then
  ``ALTER TABLE ... PARTITION BY RANGE COLUMNS``; reverse: ``REMOVE PARTITIONING`` and the
  primary key back to ``(id)``. A foreign key on or to the table, or a unique key without
  the partition column, is refused with an error instead of being dropped behind the
  model's back: declare ``db_constraint=False`` / include the column.
* PostgreSQL cannot turn a table into a partitioned one, so the table is rebuilt: rows
  saved to a temporary table, the table dropped, created again partitioned from the model's
  own column definitions (primary key ``(id, created_at)``), the same indexes under the same
  names (Django's, so later migrations find them), rows copied back and the identity
  sequence moved past the highest id. The reverse rebuilds it with ``create_model``.

Initial partitions: every month from the oldest row's (at most ``backfill_months`` back)
to ``future_months`` ahead, and the catch-all. ``maintain_partitions`` takes it from there.
"""

from __future__ import annotations

import datetime as dt

from django.db.migrations.operations.base import Operation
from django.utils import timezone

from core import rls
from logs import partitioning as p


class PartitionTableByMonth(Operation):
    """Partition ``model_name``'s table by month of ``column`` (reversible)."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, model_name: str, column: str = "created_at", future_months: int = 3,
                 backfill_months: int = 12) -> None:
        self.model_name = model_name
        self.column = column
        self.future_months = future_months
        self.backfill_months = backfill_months

    def deconstruct(self):
        kwargs = {"model_name": self.model_name}
        if self.column != "created_at":
            kwargs["column"] = self.column
        if self.future_months != 3:
            kwargs["future_months"] = self.future_months
        if self.backfill_months != 12:
            kwargs["backfill_months"] = self.backfill_months
        return self.__class__.__name__, [], kwargs

    def state_forwards(self, app_label, state) -> None:
        """Change nothing in the model state: the ORM keeps seeing ``id`` as the key."""

    def describe(self) -> str:
        return f"Partition {self.model_name} by month of {self.column}"

    @property
    def migration_name_fragment(self) -> str:
        return f"partition_{self.model_name.lower()}"

    # --- entry points ------------------------------------------------------------------

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if not p.is_supported(connection) or not self.allow_migrate_model(connection.alias, model):
            return
        if p.read_partitions(connection, model._meta.db_table).partitioned:
            return
        months = self._initial_months(schema_editor, model)
        if connection.vendor == "mysql":
            self._mysql_forwards(schema_editor, model, months)
        else:
            self._postgres_forwards(schema_editor, model, months)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if not p.is_supported(connection) or not self.allow_migrate_model(connection.alias, model):
            return
        if not p.read_partitions(connection, model._meta.db_table).partitioned:
            return
        if connection.vendor == "mysql":
            self._mysql_backwards(schema_editor, model)
        else:
            self._postgres_backwards(schema_editor, model)

    # --- shared ------------------------------------------------------------------------

    def _initial_months(self, schema_editor, model) -> list:
        qn = schema_editor.quote_name
        column = model._meta.get_field(self.column).column
        now = timezone.now()
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN({qn(column)}) FROM {qn(model._meta.db_table)}")
            oldest = cursor.fetchone()[0]
        first = p.month_start(now)
        if oldest is not None:
            if timezone.is_naive(oldest):
                oldest = timezone.make_aware(oldest, dt.timezone.utc)
            first = max(min(first, p.month_start(oldest)),
                        p.shift_months(first, -self.backfill_months))
        return p.month_range(first, p.shift_months(p.month_start(now), self.future_months))

    # --- MariaDB / MySQL ---------------------------------------------------------------

    def _mysql_check_keys(self, schema_editor, model) -> None:
        table = model._meta.db_table
        column = model._meta.get_field(self.column).column
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT CONSTRAINT_NAME FROM information_schema.KEY_COLUMN_USAGE "
                "WHERE REFERENCED_TABLE_NAME IS NOT NULL AND TABLE_SCHEMA = DATABASE() "
                "AND (TABLE_NAME = %s OR REFERENCED_TABLE_NAME = %s)",
                [table, table],
            )
            foreign_keys = sorted({row[0] for row in cursor.fetchall()})
            cursor.execute(
                "SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME) FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND NON_UNIQUE = 0 "
                "AND INDEX_NAME <> 'PRIMARY' GROUP BY INDEX_NAME",
                [table],
            )
            unique_keys = sorted(
                name for name, columns in cursor.fetchall() if column not in columns.split(",")
            )
        if foreign_keys or unique_keys:
            raise ValueError(
                f"{table} cannot be partitioned on MariaDB/MySQL: foreign keys {foreign_keys} "
                f"and unique keys without {column} {unique_keys}. Declare the foreign keys "
                f"with db_constraint=False and include {column} in unique constraints."
            )

    def _mysql_forwards(self, schema_editor, model, months) -> None:
        self._mysql_check_keys(schema_editor, model)
        qn = schema_editor.quote_name
        connection = schema_editor.connection
        table = model._meta.db_table
        pk = model._meta.pk.column
        column = model._meta.get_field(self.column).column
        schema_editor.execute(
            f"ALTER TABLE {qn(table)} DROP PRIMARY KEY, ADD PRIMARY KEY ({qn(pk)}, {qn(column)})"
        )
        schema_editor.execute(p.mysql_partition_by_sql(connection, table, column, months))

    def _mysql_backwards(self, schema_editor, model) -> None:
        qn = schema_editor.quote_name
        table = model._meta.db_table
        schema_editor.execute(f"ALTER TABLE {qn(table)} REMOVE PARTITIONING")
        schema_editor.execute(
            f"ALTER TABLE {qn(table)} DROP PRIMARY KEY, ADD PRIMARY KEY ({qn(model._meta.pk.column)})"
        )

    # --- PostgreSQL --------------------------------------------------------------------

    def _postgres_rebuild(self, schema_editor, model, create) -> None:
        """Save the rows, drop the table, ``create()`` it again and put the rows back."""
        qn = schema_editor.quote_name
        table = model._meta.db_table
        saved = f"{table}__rows"
        columns = ", ".join(qn(field.column) for field in model._meta.local_concrete_fields)
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            isolated = rls.policy_state(cursor, table).has_policy
        schema_editor.execute(f"CREATE TEMPORARY TABLE {qn(saved)} AS SELECT * FROM {qn(table)}")
        schema_editor.execute(f"DROP TABLE {qn(table)}")
        create()
        schema_editor.execute(
            f"INSERT INTO {qn(table)} ({columns}) SELECT {columns} FROM {qn(saved)}"
        )
        schema_editor.execute(f"DROP TABLE {qn(saved)}")
        pk = model._meta.pk.column
        schema_editor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({qn(pk)}), 0) + 1, false) "
            f"FROM {qn(table)}",
            [qn(table), pk],
        )
        if isolated:
            # The rebuilt table keeps the tenant isolation policy of the one it replaced, its
            # partitions too, enforced as DATABASE_RLS says (core.rls).
            for statement in rls.create_policy_sql(connection, table):
                schema_editor.execute(statement)
            rls.sync_enforcement(connection, [table])

    def _postgres_forwards(self, schema_editor, model, months) -> None:
        connection = schema_editor.connection
        table = model._meta.db_table

        def create() -> None:
            sql, params = p.postgres_create_parent_sql(schema_editor, model, self.column)
            schema_editor.execute(sql, params or None)
            for month in months:
                schema_editor.execute(p.postgres_partition_sql(connection, table, month))
            schema_editor.execute(p.postgres_default_sql(connection, table))
            for statement in schema_editor._model_indexes_sql(model):
                schema_editor.execute(statement)
            for constraint in model._meta.constraints:
                schema_editor.add_constraint(model, constraint)

        self._postgres_rebuild(schema_editor, model, create)

    def _postgres_backwards(self, schema_editor, model) -> None:
        # create_model defers the indexes to the end of the migration, after the rows are back.
        self._postgres_rebuild(schema_editor, model, lambda: schema_editor.create_model(model))

