"""PostgreSQL row-level security (core.rls): the database's own tenant isolation.

Everything here runs with the test harness's allowance turned off
(``rls.unscoped_code_as_platform(False)``): code outside every scope gets no rows, as in
production. The tests that need PostgreSQL with ``DATABASE_RLS`` on skip elsewhere; CI runs
its PostgreSQL backend with it on.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, router, transaction
from django.utils import timezone

from accounts.models import Position
from config.datasources import enforce_row_level_security
from core import rls
from core.context import all_tenants, platform_statements, request_context, tenant_context
from tenants.models import Tenant

needs_rls = pytest.mark.skipif(
    not (rls.enabled() and connections["default"].vendor == "postgresql"),
    reason="needs PostgreSQL with DATABASE_RLS=true (CI's PostgreSQL backend)",
)


@pytest.fixture
def production_semantics():
    """Code outside every scope gets no rows, as in production."""
    with rls.unscoped_code_as_platform(False):
        yield


def alias_of(model) -> str:
    return router.db_for_write(model)


def raw_tenants(model) -> list[uuid.UUID]:
    """Return the tenant of every row of ``model``'s table a raw query sees right now."""
    with connections[alias_of(model)].cursor() as cursor:
        cursor.execute(f"SELECT tenant_id FROM {model._meta.db_table}")
        return [value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
                for (value,) in cursor.fetchall()]


def synthetic_value(field: models.Field):
    """Return a value ``field`` accepts, for a row made for this test only."""
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    if field.choices:
        return field.flatchoices[0][0]
    if field.is_relation:
        target = field.target_field
        return uuid.uuid4() if target.get_internal_type() == "UUIDField" else 1
    kind = field.get_internal_type()
    if kind in {"CharField", "SlugField", "TextField", "EmailField", "URLField",
                "GenericIPAddressField", "FilePathField", "FileField"}:
        if kind == "GenericIPAddressField":
            return "127.0.0.1"
        text = "rls-" + uuid.uuid4().hex
        return text[: field.max_length] if field.max_length else text
    if kind in {"IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
                "PositiveBigIntegerField", "PositiveSmallIntegerField"}:
        return 1
    if kind == "BooleanField":
        return False
    if kind == "DateTimeField":
        return timezone.now()
    if kind == "DateField":
        return timezone.now().date()
    if kind == "UUIDField":
        return uuid.uuid4()
    if kind == "JSONField":
        return {}
    if kind == "BinaryField":
        return b""
    if kind == "DecimalField":
        return decimal.Decimal(0)
    if kind == "FloatField":
        return 0.0
    if kind == "DurationField":
        return dt.timedelta(0)
    raise AssertionError(f"no synthetic value for {field.model.__name__}.{field.name} ({kind})")


def synthetic_row(model, tenant: Tenant, made: dict | None = None):
    """Return an unsaved row of ``model`` for ``tenant``, every column filled.

    A required foreign key points at a row made the same way (of the same tenant when the
    target is tenant-owned), or at an existing row of a platform table.
    """
    made = {} if made is None else made
    values = {}
    for field in model._meta.concrete_fields:
        if field.column == rls.TENANT_COLUMN:
            values[field.attname] = tenant.pk
        elif field.primary_key and isinstance(field, models.AutoField):
            continue
        elif field.is_relation and not field.null and not field.has_default():
            target = referenced_row(field.related_model, tenant, made)
            values[field.attname] = getattr(target, field.target_field.attname)
        else:
            values[field.attname] = synthetic_value(field)
    return model(**values)


def referenced_row(model, tenant: Tenant, made: dict):
    """Return a row of ``model`` a synthetic row of ``tenant`` may reference."""
    if model is Tenant:
        return tenant
    key = (model, tenant.pk)
    if key not in made:
        if rls.is_tenant_owned(model):
            with tenant_context(tenant):
                row = synthetic_row(model, tenant, made)
                insert(row)
        else:
            with platform_statements():
                row = model._base_manager.using(alias_of(model)).first()
                if row is None:
                    row = synthetic_row(model, tenant, made)
                    insert(row)
        made[key] = row
    return made[key]


def insert(row) -> None:
    """Insert ``row`` with one INSERT (no save() logic, no tenant check of the app)."""
    type(row)._base_manager.using(alias_of(type(row))).bulk_create([row])


MODELS = rls.tenant_owned_models()


@needs_rls
@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("model", MODELS, ids=[m._meta.db_table for m in MODELS])
def test_a_raw_query_in_a_tenant_scope_sees_that_tenant_only(model, tenant_a, tenant_b,
                                                             production_semantics):
    """Rows of two tenants in every tenant-owned table: a raw SELECT in A's scope returns
    A's rows only, in B's B's only, with no scope none; an INSERT or UPDATE of a row of B
    in A's scope is refused by the database."""
    with tenant_context(tenant_a):
        insert(synthetic_row(model, tenant_a))
    with tenant_context(tenant_b):
        insert(synthetic_row(model, tenant_b))
    with all_tenants():
        everyone = raw_tenants(model)
    assert {tenant_a.pk, tenant_b.pk} <= set(everyone)
    with tenant_context(tenant_a):
        seen = raw_tenants(model)
    assert seen and set(seen) == {tenant_a.pk}
    assert len(seen) == everyone.count(tenant_a.pk)
    with tenant_context(tenant_b):
        assert set(raw_tenants(model)) == {tenant_b.pk}
    assert raw_tenants(model) == []
    with request_context(scope=None):
        assert raw_tenants(model) == []

    with tenant_context(tenant_a):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic(
            using=alias_of(model)
        ):
            insert(synthetic_row(model, tenant_b))
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic(
            using=alias_of(model)
        ), connections[alias_of(model)].cursor() as cursor:
            cursor.execute(f"UPDATE {model._meta.db_table} SET tenant_id = %s", [tenant_b.pk])


@needs_rls
@pytest.mark.django_db
def test_the_manager_and_the_database_agree(tenant_a, tenant_b, production_semantics):
    """The ORM in a scope, its raw twin, and the operator's explicit paths."""
    with tenant_context(tenant_a):
        Position.objects.create(code="rls-a", name="A")
    with tenant_context(tenant_b):
        Position.objects.create(code="rls-b", name="B")
    with tenant_context(tenant_a):
        assert set(Position.objects.values_list("code", flat=True)) >= {"rls-a"}
        assert "rls-b" not in {p.code for p in Position.objects.raw("SELECT * FROM positions")}
        # The explicit all-tenants queryset reads past the policies, inside a tenant scope too.
        assert {"rls-a", "rls-b"} <= set(
            Position.objects.all_tenants().values_list("code", flat=True)
        )
        assert Position.objects.all_tenants().filter(code="rls-b").count() == 1
    with all_tenants():
        assert {"rls-a", "rls-b"} <= {p.code for p in Position.objects.raw("SELECT * FROM positions")}
    with platform_statements():
        assert Position._base_manager.filter(code__in=["rls-a", "rls-b"]).count() == 2
    # Outside every scope Django's own manager (refresh_from_db, related objects) sees nothing.
    assert not Position._base_manager.filter(code="rls-a").exists()


@needs_rls
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_pooled_connection_never_carries_the_previous_tenant(tenant_a, tenant_b,
                                                               production_semantics):
    """One pooled connection, handed to a request of A, then B, then no one."""
    connection = connections["default"]
    assert connection.pool is not None, "the PostgreSQL datasource pools its connections"
    options = connection.settings_dict["OPTIONS"]
    saved = options["pool"]
    connection.close()
    connection.close_pool()
    options["pool"] = {**saved, "min_size": 1, "max_size": 1}
    try:
        with tenant_context(tenant_a):
            Position.objects.create(code="pool-a", name="A")
        with tenant_context(tenant_b):
            Position.objects.create(code="pool-b", name="B")
        raw_ids = []

        def request_of(scope_tenant):
            with request_context(scope=None):
                with (tenant_context(scope_tenant) if scope_tenant else request_context()):
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT code FROM positions WHERE code LIKE 'pool-%%'")
                        codes = {row[0] for row in cursor.fetchall()}
                    raw_ids.append(id(connection.connection))
            connection.close()  # what the end of a request does: back to the pool
            return codes

        assert request_of(tenant_a) == {"pool-a"}
        assert request_of(tenant_b) == {"pool-b"}
        assert request_of(None) == set()
        assert len(set(raw_ids)) == 1, "the one pooled connection served every request"
        # What the connection carries between requests is never a tenant it was given.
        with request_context(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true), current_user")
            setting, role = cursor.fetchone()
        assert setting in ("", None) and role != rls.owner_role()
    finally:
        connection.close()
        connection.close_pool()
        options["pool"] = saved
        with all_tenants():
            Position.objects.all_tenants().filter(code__in=["pool-a", "pool-b"]).hard_delete()


@needs_rls
@pytest.mark.django_db
def test_a_rolled_back_scope_change_is_made_again(tenant_a, tenant_b, production_semantics):
    """PostgreSQL undoes a set_config of a rolled-back transaction: the next statement of
    the same scope must set it again, not trust what it set before."""
    with tenant_context(tenant_a):
        Position.objects.create(code="rb-a", name="A")
    with tenant_context(tenant_a):
        try:
            with transaction.atomic():
                assert Position.objects.filter(code="rb-a").exists()
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert Position.objects.filter(code="rb-a").exists()
        assert [p.code for p in Position.objects.raw(
            "SELECT * FROM positions WHERE code = 'rb-a'")] == ["rb-a"]


@needs_rls
@pytest.mark.django_db
def test_the_everyday_role_is_neither_owner_nor_superuser():
    """The signed-in role is subject to the policies; the owner role owns the tables."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolinherit FROM pg_roles WHERE rolname = session_user"
        )
        superuser, bypass, inherit = cursor.fetchone()
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'positions'")
        owner = cursor.fetchone()[0]
        cursor.execute("SELECT session_user")
        login = cursor.fetchone()[0]
    assert not superuser and not bypass and not inherit
    assert owner == rls.owner_role() != login


def test_row_level_security_is_refused_off_postgresql():
    """The switch is PostgreSQL only: a clear start-up error elsewhere."""
    mysql = {"default": {"ENGINE": "django.db.backends.mysql"}}
    with pytest.raises(ImproperlyConfigured, match="needs PostgreSQL"):
        enforce_row_level_security(mysql, enabled=True)
    assert enforce_row_level_security(mysql, enabled=False) == mysql
    postgres = {"default": {"ENGINE": "django.db.backends.postgresql"},
                "other": {"ENGINE": "django.db.backends.sqlite3"}}
    switched = enforce_row_level_security(postgres, enabled=True)
    assert switched["default"]["ENGINE"] == "core.rls.postgresql"
    assert switched["other"]["ENGINE"] == "django.db.backends.sqlite3"


def test_every_tenant_owned_model_has_its_policy_in_a_migration():
    """The registry and the migrations agree: each tenant-owned model is named by a
    TenantIsolationPolicies operation of its app (check_schema checks the live tables)."""
    from django.db.migrations.loader import MigrationLoader

    from core.rls.operations import TenantIsolationPolicies

    loader = MigrationLoader(None, ignore_no_migrations=True)
    covered = set()
    for (app_label, _name), migration in loader.disk_migrations.items():
        for operation in migration.operations:
            if isinstance(operation, TenantIsolationPolicies):
                covered |= {(app_label, name.lower()) for name in operation.model_names}
    missing = [m._meta.label for m in MODELS
               if (m._meta.app_label, m._meta.model_name) not in covered]
    assert not missing, f"tenant-owned models without a policy migration: {missing}"


@pytest.mark.django_db
def test_readyz_and_check_deploy_say_whether_it_is_active(client):
    """/readyz and check --deploy report the state of row-level security here."""
    from config.checks import check_row_level_security

    postgres = connections["default"].vendor == "postgresql"
    expected = "on" if postgres and rls.enabled() else "off"
    assert client.get("/readyz").json()["row_level_security"] == expected
    ids = {message.id for message in check_row_level_security()}
    if not postgres:
        assert ids == set()
    elif rls.enabled():
        assert ids == {"atrium.I005"}
    else:
        assert ids == {"atrium.W005"}
