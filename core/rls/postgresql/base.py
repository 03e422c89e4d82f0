"""The PostgreSQL engine of ``DATABASE_RLS=true``: Django's, carrying the tenant scope to the
database (``core.rls`` explains the whole design).

Before each statement the connection is made to match the context:

* a single tenant in scope: the everyday role, ``app.tenant_id`` = the tenant;
* no scope: the everyday role, ``app.tenant_id`` empty, so the policies show no row;
* the explicit all-tenants scope or ``platform_statements()``: the owner role, which
  bypasses the policies.

Both settings are made with one ``set_config`` statement, and only when the wanted state
differs from what this connection was last given. What was given is forgotten whenever it
may no longer hold: on every new connection or checkout from the pool (a pooled connection
still carries whatever its previous user left), and on every rollback, since PostgreSQL
undoes a ``set_config`` made in a transaction that is rolled back. A statement in a
transaction that already failed gets no ``set_config`` (it would fail too; the statement
itself then raises as usual).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base, operations, schema

from core import rls
from core.context import (
    get_scope,
    in_platform_statements,
    in_request_context,
    platform_statements,
)

# The role value that returns to the signed-in (session) role.
SESSION_ROLE = "none"

SET_STATE_SQL = "SELECT set_config('role', %s, false), set_config('" + rls.TENANT_SETTING + "', %s, false)"


def wanted_state() -> tuple[str, str]:
    """Return the (role, tenant id) the next statement must run with."""
    if in_platform_statements():
        return rls.owner_role(), ""
    scope = get_scope()
    if scope is None:
        if rls.unscoped_is_platform() and not in_request_context():
            return rls.owner_role(), ""
        return SESSION_ROLE, ""
    if scope.all_tenants:
        return rls.owner_role(), ""
    return SESSION_ROLE, str(scope.tenant_id)


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list):
        """Flush (tests) as the owner: ``TRUNCATE`` is the owner's to run."""
        with platform_statements():
            return super().execute_sql_flush(sql_list)


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    """Change the schema as the owner role, which then owns what it creates."""

    def __enter__(self):
        self._platform = platform_statements()
        self._platform.__enter__()
        try:
            self.connection.prepare_owner_role()
            return super().__enter__()
        except BaseException:
            self._platform.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            return super().__exit__(exc_type, exc_value, traceback)
        finally:
            self._platform.__exit__(None, None, None)


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
    ops_class = DatabaseOperations

    # Databases (by name) whose schema has been prepared for the owner role in this process.
    _prepared_databases: set[str] = set()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rls_state: tuple[str, str] | None = None
        self.execute_wrappers.append(self._tenant_scoped_statement)

    # -- what the connection was given, and when that is forgotten -----------------------

    def get_new_connection(self, conn_params):
        self.rls_state = None
        return super().get_new_connection(conn_params)

    def _close(self):
        self.rls_state = None
        return super()._close()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self.rls_state = None

    def _savepoint_rollback(self, sid):
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self.rls_state = None

    # -- before each statement -------------------------------------------------------------

    def _tenant_scoped_statement(self, execute, sql, params, many, context):
        # The connection to the server's maintenance database (creating and dropping
        # databases) holds no tenant's rows and keeps the signed-in role.
        if self.alias != NO_DB_ALIAS:
            self.apply_tenant_scope()
        return execute(sql, params, many, context)

    def apply_tenant_scope(self) -> None:
        """Give the connection the role and tenant of the context, if it lacks them."""
        want = wanted_state()
        if want == self.rls_state or self.connection is None:
            return
        if self.connection.info.transaction_status == self.Database.pq.TransactionStatus.INERROR:
            return
        with self.wrap_database_errors, self.connection.cursor() as cursor:
            cursor.execute(SET_STATE_SQL, list(want))
        self.rls_state = want

    # -- the owner role ----------------------------------------------------------------------

    def prepare_owner_role(self) -> None:
        """Let the owner role create tables here and give the everyday role its privileges.

        Once per database and process: the owner may create in the schema (granted by the
        signed-in role, which owns the schema of a database it created), and the tables and
        sequences the owner creates are readable and writable by the signed-in role.
        """
        name = self.settings_dict["NAME"]
        if name in self._prepared_databases:
            return
        owner = self.ops.quote_name(rls.owner_role())
        self.ensure_connection()
        with self.wrap_database_errors, self.connection.cursor() as cursor:
            cursor.execute(SET_STATE_SQL, [SESSION_ROLE, ""])
            cursor.execute("SELECT session_user, current_schema()")
            login, schema_name = cursor.fetchone()
            cursor.execute(
                "SELECT pg_has_role(%s, 'MEMBER'), has_schema_privilege(%s, current_schema(), 'CREATE')",
                [rls.owner_role(), rls.owner_role()],
            )
            member, can_create = cursor.fetchone()
            if not member:
                raise ImproperlyConfigured(
                    f"DATABASE_RLS: the role {login!r} cannot take the owner role "
                    f"{rls.owner_role()!r}. Create it and grant it: see the README, "
                    "'Row-level security on PostgreSQL'."
                )
            if not can_create:
                # The signed-in role owns a database it created, and so its schema, through
                # pg_database_owner, whose rights it takes only by SET ROLE (NOINHERIT).
                cursor.execute("SELECT pg_has_role('pg_database_owner', 'MEMBER')")
                if cursor.fetchone()[0]:
                    cursor.execute(SET_STATE_SQL, ["pg_database_owner", ""])
                    cursor.execute(
                        f"GRANT USAGE, CREATE ON SCHEMA {self.ops.quote_name(schema_name)} "
                        f"TO {owner}"
                    )
                    cursor.execute(SET_STATE_SQL, [SESSION_ROLE, ""])
                cursor.execute(
                    "SELECT has_schema_privilege(%s, current_schema(), 'CREATE')",
                    [rls.owner_role()],
                )
                if not cursor.fetchone()[0]:
                    raise ImproperlyConfigured(
                        f"DATABASE_RLS: the owner role {rls.owner_role()!r} may not create "
                        f"tables in the schema {schema_name!r}. Grant it once as the schema's "
                        f"owner: GRANT USAGE, CREATE ON SCHEMA {schema_name} TO "
                        f"{rls.owner_role()}; (README, 'Row-level security on PostgreSQL')."
                    )
            login_q = self.ops.quote_name(login)
            schema_q = self.ops.quote_name(schema_name)
            cursor.execute(SET_STATE_SQL, [rls.owner_role(), ""])
            cursor.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema_q} "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {login_q}"
            )
            cursor.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema_q} "
                f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {login_q}"
            )
        self.rls_state = None
        if self.get_autocommit():
            self._prepared_databases.add(name)
