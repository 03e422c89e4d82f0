"""The datasource router (config.routers) and the start-up checks of the configuration.

Routing decisions are tested with explicit ``DATABASE_ROUTES`` and
``DATABASE_ROUTE_FALLBACK`` overrides (the router reads nothing else but the configured
aliases). Placement is then proved on real databases: ``tests.routed.models.ReportRow``
(table ``report_data``) is written through the ORM and found with raw SQL on the routed
PostgreSQL datasource, never on ``default``. The placement tests need ``postgres_db``
(scripts/test_backends.py configures it when PostgreSQL answers); a live Oracle test runs
only when ``ORACLE_TEST_URL`` is set.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from django.core.checks import Error, Tags, run_checks
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import ConnectionHandler
from django.test import override_settings

from accounts.models import User
from config.checks import check_celery_visibility_timeout, check_database_routes
from config.datasources import ORACLE_ENGINE, read_pool_settings, tune_connection
from config.environment import Environment
from config.routers import DatasourceRouter, route_for_model, route_for_table
from tenants.models import Tenant
from tests.routed.models import ReportRow

router = DatasourceRouter()

# A route to an alias that is deliberately not in DATABASES.
MISSING_ALIAS = "warehouse_db"
ROUTED_ALIAS = "postgres_db"


def routes(alias: str = MISSING_ALIAS, *, fallback: bool = False):
    """Override settings so that report_data is routed to ``alias``."""
    return override_settings(
        DATABASE_ROUTES={"report_data": alias}, DATABASE_ROUTE_FALLBACK=fallback
    )


# ---------------------------------------------------------------------------
# Routing decisions
# ---------------------------------------------------------------------------


def test_a_routed_table_is_read_written_and_migrated_on_its_alias():
    """With the route set and no fallback, report_data lives on its alias only."""
    with routes():
        assert route_for_table("report_data") == MISSING_ALIAS
        assert route_for_model(ReportRow) == MISSING_ALIAS
        assert router.db_for_read(ReportRow) == MISSING_ALIAS
        assert router.db_for_write(ReportRow) == MISSING_ALIAS
        assert router.allow_migrate(MISSING_ALIAS, "routed", model_name="reportrow") is True
        assert router.allow_migrate(DEFAULT_DB_ALIAS, "routed", model_name="reportrow") is False


def test_an_unrouted_table_lives_on_default():
    """Tables not in DATABASE_ROUTES are read, written and migrated on default."""
    with routes():
        assert route_for_table("some_other_table") == DEFAULT_DB_ALIAS
        assert router.db_for_read(User) == DEFAULT_DB_ALIAS
        assert router.db_for_write(Tenant) == DEFAULT_DB_ALIAS
        assert router.allow_migrate(DEFAULT_DB_ALIAS, "accounts", model_name="user") is True
        assert router.allow_migrate(MISSING_ALIAS, "accounts", model_name="user") is False


def test_allow_migrate_uses_the_model_hint():
    """A model passed as hint is routed like one named by app label and model name."""
    with routes():
        assert router.allow_migrate(MISSING_ALIAS, "routed", model=ReportRow) is True
        assert router.allow_migrate(DEFAULT_DB_ALIAS, "routed", model=ReportRow) is False


def test_core_models_migrate_only_on_default():
    """accounts.User and tenants.Tenant migrate on default and on no configured alias."""
    for alias in settings.DATABASES:
        expected = alias == DEFAULT_DB_ALIAS
        assert router.allow_migrate(alias, "accounts", model_name="user") is expected, alias
        assert router.allow_migrate(alias, "tenants", model_name="tenant") is expected, alias


def test_operations_without_a_model_run_on_default_or_their_target():
    """RunSQL/RunPython without hints run on default only, or on their target_db hint."""
    with routes():
        assert router.allow_migrate(DEFAULT_DB_ALIAS, "routed") is True
        assert router.allow_migrate(MISSING_ALIAS, "routed") is False
        assert router.allow_migrate(MISSING_ALIAS, "routed", target_db=MISSING_ALIAS) is True
        assert router.allow_migrate(DEFAULT_DB_ALIAS, "routed", target_db=MISSING_ALIAS) is False


def test_an_unknown_model_name_is_treated_as_an_operation_without_a_model():
    """A model name the app registry does not know falls back to the target_db rule."""
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "routed", model_name="gone") is True
    assert router.allow_migrate(ROUTED_ALIAS, "routed", model_name="gone") is False


def test_relations_are_allowed_only_within_one_alias():
    """Two rows of the routed table may relate; a routed row and a default row may not."""
    report_1 = ReportRow(tenant_id=uuid.uuid4(), name="one")
    report_2 = ReportRow(tenant_id=uuid.uuid4(), name="two")
    with routes():
        assert router.allow_relation(report_1, report_2) is True
        assert router.allow_relation(User(), Tenant()) is True
        assert router.allow_relation(report_1, User()) is False
        assert router.allow_relation(Tenant(), report_2) is False


def test_fallback_sends_a_missing_alias_to_default():
    """With DATABASE_ROUTE_FALLBACK a route to an unconfigured alias falls back to default."""
    with routes(fallback=True):
        assert route_for_table("report_data") == DEFAULT_DB_ALIAS
        assert router.db_for_write(ReportRow) == DEFAULT_DB_ALIAS
        assert router.allow_migrate(DEFAULT_DB_ALIAS, "routed", model_name="reportrow") is True
        assert router.allow_migrate(MISSING_ALIAS, "routed", model_name="reportrow") is False
        assert router.allow_relation(ReportRow(tenant_id=uuid.uuid4(), name="x"), User())


def test_fallback_keeps_a_configured_alias():
    """The fallback applies only to missing aliases: a configured one is still used."""
    configured = next((alias for alias in settings.DATABASES if alias != DEFAULT_DB_ALIAS), None)
    if configured is None:
        pytest.skip("Only the default datasource is configured (no DATABASE_URL_<ALIAS>).")
    with routes(configured, fallback=True):
        assert route_for_table("report_data") == configured
        assert router.db_for_read(ReportRow) == configured


# ---------------------------------------------------------------------------
# Start-up checks (config.checks)
# ---------------------------------------------------------------------------


def test_a_route_to_an_unconfigured_alias_is_error_e002():
    """Without fallback, a route to an alias not in DATABASES is atrium.E002 naming both."""
    with routes(), override_settings(PRODUCTION=False):
        errors = check_database_routes()
    assert [error.id for error in errors] == ["atrium.E002"]
    assert isinstance(errors[0], Error)
    assert "report_data" in errors[0].msg
    assert MISSING_ALIAS in errors[0].msg
    assert f"DATABASE_URL_{MISSING_ALIAS.upper()}" in errors[0].hint


def test_routes_to_configured_aliases_pass():
    """Routes whose aliases are all configured raise no error."""
    with override_settings(
        DATABASE_ROUTES={"report_data": DEFAULT_DB_ALIAS},
        DATABASE_ROUTE_FALLBACK=False,
        PRODUCTION=True,
    ):
        assert check_database_routes() == []


def test_fallback_hides_missing_aliases_in_development():
    """In development with the fallback on, a missing alias is not an error."""
    with routes(fallback=True), override_settings(PRODUCTION=False):
        assert check_database_routes() == []


def test_fallback_in_production_is_error_e001():
    """The fallback is refused in production (E001), and missing aliases still count (E002)."""
    with routes(fallback=True), override_settings(PRODUCTION=True):
        errors = check_database_routes()
    assert [error.id for error in errors] == ["atrium.E001", "atrium.E002"]
    assert "DATABASE_ROUTE_FALLBACK" in errors[0].msg


def test_route_check_is_registered_as_a_database_check():
    """The route check runs with Django's database checks (so every manage.py command)."""
    with routes(), override_settings(PRODUCTION=False):
        ids = [error.id for error in run_checks(tags=[Tags.database])]
    assert "atrium.E002" in ids


@pytest.mark.parametrize(("visibility", "limit"), [(1800, 1800), (100, 1800)])
def test_a_visibility_timeout_not_longer_than_the_time_limit_is_error_e003(visibility, limit):
    """A broker visibility timeout equal to or shorter than the task time limit is E003."""
    with override_settings(CELERY_VISIBILITY_TIMEOUT=visibility, CELERY_TASK_TIME_LIMIT=limit):
        errors = check_celery_visibility_timeout()
        ids = [error.id for error in run_checks()]
    assert [error.id for error in errors] == ["atrium.E003"]
    assert "atrium.E003" in ids


def test_a_visibility_timeout_longer_than_the_time_limit_passes():
    """One second more than the time limit is enough."""
    with override_settings(CELERY_VISIBILITY_TIMEOUT=1801, CELERY_TASK_TIME_LIMIT=1800):
        assert check_celery_visibility_timeout() == []


# ---------------------------------------------------------------------------
# Placement on real databases
# ---------------------------------------------------------------------------


@pytest.fixture(scope="class")
def routed_datasource() -> str:
    """Skip (or fail under ATRIUM_REQUIRE_SERVICES) when postgres_db is not configured.

    Class-scoped so that it runs before pytest-django sets up the databases the class
    asks for, which must exist.
    """
    if ROUTED_ALIAS not in settings.DATABASES:
        message = (
            f"The routed datasource {ROUTED_ALIAS!r} is not configured "
            "(set DATABASE_URL_POSTGRES_DB; scripts/test_backends.py does when PostgreSQL "
            "answers)."
        )
        if os.environ.get("ATRIUM_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    return ROUTED_ALIAS


@pytest.mark.usefixtures("routed_datasource")
@pytest.mark.django_db(databases=["default", "postgres_db"])
class TestPlacement:
    """report_data rows live on postgres_db; core tables live on default only."""

    def test_report_rows_are_stored_on_the_routed_datasource(self):
        """Rows created through the ORM are found with raw SQL on postgres_db."""
        tenant_id = uuid.uuid4()
        ReportRow.objects.create(tenant_id=tenant_id, name="alpha")
        ReportRow.objects.create(tenant_id=tenant_id, name="beta")

        routed = connections[ROUTED_ALIAS]
        assert routed.vendor == "postgresql"
        with routed.cursor() as cursor:
            cursor.execute("SELECT name, tenant_id FROM report_data ORDER BY name")
            rows = cursor.fetchall()
        assert [(name, str(row_tenant)) for name, row_tenant in rows] == [
            ("alpha", str(tenant_id)),
            ("beta", str(tenant_id)),
        ]
        assert ReportRow.objects.count() == 2

    def test_report_data_table_exists_only_on_the_routed_datasource(self):
        """report_data is migrated on postgres_db and not on default."""
        default_tables = connections[DEFAULT_DB_ALIAS].introspection.table_names()
        routed_tables = connections[ROUTED_ALIAS].introspection.table_names()
        assert "report_data" in routed_tables
        assert "report_data" not in default_tables

    def test_core_tables_exist_only_on_default(self):
        """users and tenants are migrated on default and not on postgres_db."""
        default_tables = connections[DEFAULT_DB_ALIAS].introspection.table_names()
        routed_tables = connections[ROUTED_ALIAS].introspection.table_names()
        for table in ("users", "tenants"):
            assert table in default_tables
            assert table not in routed_tables

    def test_a_tenant_created_through_the_orm_is_stored_on_default(self, tenant_a):
        """An unrouted model's row is written to default."""
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT code FROM tenants WHERE code = %s", ["alpha"])
            assert list(cursor.fetchall()) == [("alpha",)]


# ---------------------------------------------------------------------------
# Live Oracle (only with ORACLE_TEST_URL)
# ---------------------------------------------------------------------------


def test_live_oracle_answers_select_from_dual(django_db_blocker):
    """A DATABASES entry parsed from ORACLE_TEST_URL connects and answers SELECT 1 FROM DUAL."""
    url = os.environ.get("ORACLE_TEST_URL")
    if not url:
        pytest.skip("ORACLE_TEST_URL is not set (oracle://user:password@host:1521/SERVICE).")
    env = Environment({"ORACLE_TEST_URL": url})
    config = tune_connection(env.database("ORACLE_TEST_URL"), read_pool_settings(env))
    assert config["ENGINE"] == ORACLE_ENGINE
    handler = ConnectionHandler({"oracle_probe": config})
    connection = handler["oracle_probe"]
    with django_db_blocker.unblock():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM DUAL")
                assert cursor.fetchone()[0] == 1
        finally:
            connection.close()
