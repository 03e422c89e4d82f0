"""Deployment gates run as real ``manage.py`` processes.

``check --deploy --fail-level WARNING`` must pass under a complete production environment
and stop, naming the cause, when a required variable is missing or a route points at an
unconfigured datasource. ``check --deploy`` reads settings only and opens no database or
broker connection, so no server needs to answer. ``makemigrations --check`` proves every
model change has its migration.
"""

from __future__ import annotations

import secrets
import string

import pytest
from cryptography.fernet import Fernet

from config.tests import manage, platform_env

DEPLOY_CHECK = ("check", "--deploy", "--fail-level", "WARNING")


def random_secret_key(length: int = 60) -> str:
    """Return a random key of letters and digits, as an operator would generate."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """A complete production environment; the Oracle routes are left out."""
    return platform_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        ATRIUM_ENV="production",
        ATRIUM_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SECRET_KEY=random_secret_key(),
        DJANGO_ALLOWED_HOSTS="atrium.example.com",
        DATABASE_URL="mysql://root@127.0.0.1:3306/atrium",
        DATABASE_URL_POSTGRES_DB="postgres://postgres@127.0.0.1:5432/atrium_routed",
        DATABASE_ROUTES='{"analytics_data": "postgres_db", "report_data": "postgres_db"}',
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MCP_RATE_LIMIT_REDIS_URL="redis://127.0.0.1:6379/2",
    )


def output_of(completed) -> str:
    """Return everything the process wrote, for assertion messages and searches."""
    return f"{completed.stdout}\n{completed.stderr}"


def test_deploy_check_passes_in_production(production_env):
    """The production environment passes check --deploy at warning level."""
    completed = manage(*DEPLOY_CHECK, env=production_env)
    assert completed.returncode == 0, output_of(completed)
    assert "no issues" in completed.stdout


def test_deploy_check_needs_allowed_hosts(production_env):
    """Without DJANGO_ALLOWED_HOSTS production start-up stops, naming the variable."""
    del production_env["DJANGO_ALLOWED_HOSTS"]
    completed = manage(*DEPLOY_CHECK, env=production_env)
    assert completed.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in completed.stderr


def test_deploy_check_refuses_the_unconfigured_oracle_route(production_env):
    """With the default routes, which send legacy tables to oracle_db, the check fails.

    No DATABASE_URL_ORACLE_DB is set and the fallback is refused in production, so the
    error (atrium.E002) names oracle_db.
    """
    del production_env["DATABASE_ROUTES"]
    completed = manage(*DEPLOY_CHECK, env=production_env)
    assert completed.returncode != 0
    output = output_of(completed)
    assert "atrium.E002" in output
    assert "oracle_db" in output
    assert "legacy_orders" in output


def test_deploy_check_refuses_the_fallback_in_production(production_env):
    """DATABASE_ROUTE_FALLBACK=true in production fails the check with atrium.E001."""
    production_env["DATABASE_ROUTE_FALLBACK"] = "true"
    completed = manage(*DEPLOY_CHECK, env=production_env)
    assert completed.returncode != 0
    assert "atrium.E001" in output_of(completed)


def test_deploy_check_refuses_debug_in_production(production_env):
    """DJANGO_DEBUG=true in production is reported by Django's deploy checks."""
    production_env["DJANGO_DEBUG"] = "true"
    completed = manage(*DEPLOY_CHECK, env=production_env)
    assert completed.returncode != 0
    assert "security.W018" in output_of(completed)


@pytest.mark.parametrize("settings_module", ["config.settings", "tests.settings"])
def test_every_model_change_has_a_migration(tmp_path, settings_module):
    """``makemigrations --check --dry-run`` finds nothing to write."""
    completed = manage(
        "makemigrations",
        "--check",
        "--dry-run",
        env=platform_env(
            DJANGO_SETTINGS_MODULE=settings_module, ATRIUM_VAR_DIR=str(tmp_path / "var")
        ),
    )
    assert completed.returncode == 0, output_of(completed)
    assert "No changes detected" in completed.stdout
