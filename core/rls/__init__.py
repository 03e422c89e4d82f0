"""PostgreSQL row-level security: the database's own line of tenant isolation (seed 003 §5.2).

The application isolates tenants with the fail-closed manager (``tenants.managers``). With
``DATABASE_RLS=true`` on PostgreSQL the database isolates them a second time, so a raw
query, a ``.raw()``, a report written against a table or a future bug in the manager still
sees one tenant only.

The pieces:

* **Policies.** Every tenant-owned table (a model with a ``tenant_id`` column: the
  business tables and the log tables) carries the policy ``atrium_tenant_isolation``:
  a row is visible and writable only when its ``tenant_id`` equals the connection's
  ``app.tenant_id`` setting. No setting (or an empty one) matches no row, so the database
  fails closed as the manager does. The policies are created and dropped by each app's
  migrations (``core.rls.operations.TenantIsolationPolicies``) on PostgreSQL; elsewhere
  those operations do nothing. Log partitions carry the policy of their table too.
* **Enforcement** (``ENABLE`` and ``FORCE ROW LEVEL SECURITY``) follows the switch: after
  every ``migrate`` (``post_migrate``) the tables are enabled when ``DATABASE_RLS`` is on
  and disabled when it is off, so switching is ``DATABASE_RLS=true manage.py migrate``.
  ``check_schema`` reports a tenant-owned table without its policy, and one whose
  enforcement disagrees with the switch, as drift.
* **The connection** (``core.rls.postgresql``, the engine ``DATABASE_RLS`` selects): before
  each statement it makes the connection match the tenant scope in context
  (``core.context``): ``app.tenant_id`` set to the scope's tenant, or emptied when there is
  no scope. It only speaks when the scope changed since the connection's last statement,
  and it forgets what it set whenever the setting may have been undone (a rollback) or the
  connection may be another (every connect, every checkout from the pool).
* **Two roles.** The web process signs in as an everyday role (``atrium_app`` in the
  README): not a superuser, not ``BYPASSRLS``, not the tables' owner, with ``NOINHERIT``
  membership in the owner role. The owner role (``DATABASE_RLS_OWNER_ROLE``, default
  ``atrium_owner``) owns the tables and has ``BYPASSRLS``. The connection takes the owner
  role (``SET ROLE``) only for the platform's own paths: the explicit all-tenants scope
  (``all_tenants()``, ``Model.objects.all_tenants()``), schema changes (migrations,
  partition maintenance), and flushing test databases. Everything else runs as the
  everyday role, under the policies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.db import models

POLICY_NAME = "atrium_tenant_isolation"
TENANT_SETTING = "app.tenant_id"
TENANT_COLUMN = "tenant_id"

# The condition of the policy: the row's tenant is the one the connection names. An unset
# or empty setting is NULL after NULLIF, and NULL matches nothing: no setting, no rows.
CONDITION = f"{TENANT_COLUMN} = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"


# Tests only (the root conftest): code outside every scope and request context, which is
# the test itself setting up and inspecting data (in any of its threads), runs as the
# platform. The platform's own code under test still runs under the policies: every
# request, task and tenant scope it enters (even an empty one) decides there. One flag for
# the process, since tests start threads.
_unscoped_as_platform = False


@contextmanager
def unscoped_code_as_platform(on: bool = True) -> Iterator[None]:
    """Tests only: run code outside any scope as the platform (``on``) or not."""
    global _unscoped_as_platform
    before, _unscoped_as_platform = _unscoped_as_platform, on
    try:
        yield
    finally:
        _unscoped_as_platform = before


def unscoped_is_platform() -> bool:
    """Return whether code outside any scope runs as the platform (tests only)."""
    return _unscoped_as_platform


def enabled() -> bool:
    """Return whether the platform runs with row-level security switched on."""
    return bool(getattr(settings, "DATABASE_RLS", False))


def owner_role() -> str:
    """Return the role that owns the tables and bypasses the policies."""
    return settings.DATABASE_RLS_OWNER_ROLE


def is_tenant_owned(model: type[models.Model]) -> bool:
    """Return whether ``model``'s table holds rows of tenants (a ``tenant_id`` column)."""
    meta = model._meta
    if not meta.managed or meta.proxy or meta.swapped:
        return False
    return any(field.column == TENANT_COLUMN for field in meta.concrete_fields)


def tenant_owned_models() -> list[type[models.Model]]:
    """Return every installed model whose table holds tenants' rows, by table name."""
    found = [model for model in apps.get_models() if is_tenant_owned(model)]
    return sorted(found, key=lambda model: model._meta.db_table)


def _qn(connection, name: str) -> str:
    return connection.ops.quote_name(name)


def create_policy_sql(connection, table: str) -> list[str]:
    """Return the statements that create the policy of ``table``."""
    return [
        f"CREATE POLICY {_qn(connection, POLICY_NAME)} ON {_qn(connection, table)} "
        f"USING ({CONDITION}) WITH CHECK ({CONDITION})"
    ]


def drop_policy_sql(connection, table: str) -> list[str]:
    """Return the statements that drop the policy of ``table`` (and its enforcement)."""
    qtable = _qn(connection, table)
    return [
        f"ALTER TABLE {qtable} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {qtable} DISABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {_qn(connection, POLICY_NAME)} ON {qtable}",
    ]


def enforcement_sql(connection, table: str, *, on: bool) -> list[str]:
    """Return the statements that switch the enforcement of ``table`` on or off."""
    qtable = _qn(connection, table)
    if on:
        return [
            f"ALTER TABLE {qtable} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {qtable} FORCE ROW LEVEL SECURITY",
        ]
    return [
        f"ALTER TABLE {qtable} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {qtable} DISABLE ROW LEVEL SECURITY",
    ]


def partitions_of(cursor, table: str) -> list[str]:
    """Return the partitions of ``table`` (none when it is not partitioned)."""
    cursor.execute(
        "SELECT child.relname FROM pg_inherits i "
        "JOIN pg_class parent ON parent.oid = i.inhparent "
        "JOIN pg_class child ON child.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = parent.relnamespace "
        "WHERE parent.relname = %s AND n.nspname = current_schema() ORDER BY 1",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def protect_table(connection, table: str) -> None:
    """Give the partitions of ``table`` its policy, enforced as the switch says.

    For tables made outside migrations: the log partitions that maintenance creates.
    """
    sync_enforcement(connection, [table])


class PolicyState:
    """What the database says about one table: policy present, enabled, forced."""

    __slots__ = ("exists", "has_policy", "enabled", "forced", "condition")

    def __init__(self, exists=False, has_policy=False, enabled=False, forced=False,
                 condition=None) -> None:
        self.exists = exists
        self.has_policy = has_policy
        self.enabled = enabled
        self.forced = forced
        self.condition = condition


def policy_state(cursor, table: str) -> PolicyState:
    """Return the row-level security state of ``table`` in the current schema."""
    cursor.execute(
        "SELECT c.relrowsecurity, c.relforcerowsecurity, "
        "  (SELECT pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p "
        "   WHERE p.polrelid = c.oid AND p.polname = %s) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND n.nspname = current_schema()",
        [POLICY_NAME, table],
    )
    row = cursor.fetchone()
    if row is None:
        return PolicyState()
    return PolicyState(exists=True, has_policy=row[2] is not None, enabled=row[0],
                       forced=row[1], condition=row[2])


def sync_enforcement(connection, tables: Iterable[str]) -> list[str]:
    """Make ``tables`` and their partitions enforce the policy as the switch says.

    A partition gets its table's policy when it lacks one (partitions are made by
    maintenance, not by migrations); a table without its policy is left for
    ``check_schema`` to report, since its migration is what is missing. Return what changed.
    """
    if connection.vendor != "postgresql":
        return []
    changed = []
    on = enabled()
    with connection.cursor() as cursor:
        for table in tables:
            for name in [table, *partitions_of(cursor, table)]:
                state = policy_state(cursor, name)
                if not state.exists:
                    continue
                if name != table and not state.has_policy:
                    for sql in create_policy_sql(connection, name):
                        cursor.execute(sql)
                    changed.append(f"{name}: policy created")
                if state.enabled != on or state.forced != on:
                    for sql in enforcement_sql(connection, name, on=on):
                        cursor.execute(sql)
                    changed.append(f"{name}: {'enforced' if on else 'not enforced'}")
    return changed


def enforce_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """``post_migrate`` of one app: make its tenant-owned tables on ``using`` enforce the
    policy as the switch says (only the catalogue is read when nothing is to change)."""
    from django.db import connections, router

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    tables = [
        model._meta.db_table
        for model in tenant_owned_models()
        if model._meta.app_label == sender.label and router.allow_migrate_model(using, model)
    ]
    from core.context import platform_statements

    with platform_statements():
        sync_enforcement(connection, tables)


def status(alias: str = "default") -> dict:
    """Return whether row-level security protects ``alias`` now, and if not, why.

    ``{"state": "on"}`` only when the switch is on, the signed-in role is subject to the
    policies (not a superuser, not ``BYPASSRLS``), it may take the owner role, and every
    tenant-owned table on the alias enforces its policy. ``"off"`` when the switch is off
    (or the backend has no row-level security), ``"ineffective"`` with the reason otherwise.
    """
    from django.db import connections, router

    connection = connections[alias]
    if not enabled() or connection.vendor != "postgresql":
        return {"state": "off"}
    from core.context import request_context

    with request_context(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, pg_has_role(%s, 'MEMBER') "
            "FROM pg_roles WHERE rolname = session_user",
            [owner_role()],
        )
        superuser, bypass, member = cursor.fetchone()
        if superuser or bypass:
            return {"state": "ineffective",
                    "reason": "the signed-in role is a superuser or has BYPASSRLS"}
        if not member:
            return {"state": "ineffective",
                    "reason": f"the signed-in role cannot take the owner role {owner_role()}"}
        unprotected = []
        for model in tenant_owned_models():
            if not router.allow_migrate_model(alias, model):
                continue
            state = policy_state(cursor, model._meta.db_table)
            if state.exists and not (state.has_policy and state.enabled and state.forced):
                unprotected.append(model._meta.db_table)
    if unprotected:
        return {"state": "ineffective",
                "reason": f"tables not enforcing their policy: {', '.join(unprotected)} "
                          "(run manage.py migrate)"}
    return {"state": "on"}


def roles_sql(owner: str = "atrium_owner", login: str = "atrium_app", *,
              may_create_databases: bool = False) -> str:
    """Return the statements (for a superuser) that create the two roles, idempotently.

    ``owner`` owns the tables and bypasses the policies; it cannot sign in. ``login`` is the
    everyday role the platform signs in as: no superuser, no ``BYPASSRLS``, and ``NOINHERIT``
    so that its membership in ``owner`` gives it nothing until it takes the role on purpose.
    ``may_create_databases`` adds ``CREATEDB`` (tests and benchmarks create databases).
    """
    createdb = " CREATEDB" if may_create_databases else ""
    return f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') THEN
    CREATE ROLE {owner} NOLOGIN BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
    CREATE ROLE {login} LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS{createdb};
  END IF;
END $$;
GRANT {owner} TO {login};
"""
