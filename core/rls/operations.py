"""The migration operation that creates (and, reversed, drops) the tenant isolation policy.

Each app's migration lists its tenant-owned models; on PostgreSQL the operation creates the
policy ``core.rls.POLICY_NAME`` on their tables, on every other backend it does nothing.
Enforcement (``ENABLE``/``FORCE``) follows ``DATABASE_RLS``, not the migration: the
operation brings its own tables (and their partitions, which a reversal stripped) in line
with the switch when it runs, and ``migrate`` does so again for every app afterwards
(``core.rls.enforce_after_migrate``), so a migration applied without ``migrate`` (a
``MigrationExecutor``) leaves the tables as ``migrate`` would.
"""

from __future__ import annotations

from django.db import migrations

from core import rls


class TenantIsolationPolicies(migrations.operations.base.Operation):
    """Create the tenant isolation policy on the tables of ``model_names`` (PostgreSQL)."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_names: list[str]) -> None:
        self.model_names = list(model_names)

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"model_names": self.model_names})

    def state_forwards(self, app_label, state) -> None:
        """The policy lives in the database only: the model state does not change."""

    def _tables(self, app_label, schema_editor, state) -> list[str]:
        tables = []
        for name in self.model_names:
            model = state.apps.get_model(app_label, name)
            if self.allow_migrate_model(schema_editor.connection.alias, model):
                tables.append(model._meta.db_table)
        return tables

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        tables = self._tables(app_label, schema_editor, to_state)
        for table in tables:
            for sql in rls.create_policy_sql(connection, table):
                schema_editor.execute(sql)
        if not schema_editor.collect_sql:
            # sqlmigrate prints the policies only: enforcement depends on the switch.
            rls.sync_enforcement(connection, tables)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        for table in self._tables(app_label, schema_editor, from_state):
            with connection.cursor() as cursor:
                partitions = rls.partitions_of(cursor, table)
            for name in [*partitions, table]:
                for sql in rls.drop_policy_sql(connection, name):
                    schema_editor.execute(sql)

    def describe(self) -> str:
        return f"Tenant isolation policy on {', '.join(self.model_names)} (PostgreSQL)"

    @property
    def migration_name_fragment(self) -> str:
        return "tenant_isolation_policies"
