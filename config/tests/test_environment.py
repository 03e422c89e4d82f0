"""Typed environment reading (config.environment) and DATABASES building (config.datasources).

Unit tests pass an explicit variable map to ``Environment``; the settings-level tests read
config/settings.py afresh (``runpy``) under a controlled process environment, and one test
starts ``manage.py check`` to prove a malformed variable stops the process.
"""

from __future__ import annotations

import os
import runpy

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.datasources import (
    MYSQL_ENGINE,
    ORACLE_ENGINE,
    POSTGRES_ENGINE,
    SQLITE_ENGINE,
    build_databases,
)
from config.environment import Environment
from config.tests import BASE_DIR, is_settings_variable, manage, platform_env

SQLITE_DEFAULT = "sqlite:////tmp/atrium-test-default.sqlite3"
PRODUCTION_SECRET = "x7Kq2mZ9vR4tW8yB3nF6hJ1cL5pS0dG2aE9uI4oT7kM3wQ6zX8vN1bY5rC2fH0jL"


def load_settings(monkeypatch, tmp_path, **variables: str) -> dict:
    """Return the namespace of config/settings.py read with exactly ``variables`` set."""
    for key in list(os.environ):
        if is_settings_variable(key):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ATRIUM_VAR_DIR", str(tmp_path / "var"))
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(BASE_DIR / "config" / "settings.py"))


# ---------------------------------------------------------------------------
# Typed values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " On "])
def test_bool_reads_the_true_spellings(raw):
    """true/yes/on/1 in any case, with surrounding blanks, read as True."""
    assert Environment({"FLAG": raw}).bool("FLAG", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off"])
def test_bool_reads_the_false_spellings(raw):
    """false/no/off/0 read as False, even when the default is True."""
    assert Environment({"FLAG": raw}).bool("FLAG", True) is False


def test_unset_or_empty_variables_take_the_default():
    """A missing variable and an empty one both give the default."""
    env = Environment({"EMPTY": ""})
    assert env.bool("EMPTY", True) is True
    assert env.int("MISSING", 7) == 7
    assert env.list("EMPTY", ["a"]) == ["a"]
    assert env.str("MISSING", "fallback") == "fallback"
    assert env.is_set("EMPTY") is False


def test_int_is_parsed_and_checked_against_its_minimum():
    """An integer is parsed with blanks stripped; the minimum itself is accepted."""
    env = Environment({"SIZE": " 42 ", "LOW": "1"})
    assert env.int("SIZE", 0) == 42
    assert env.int("LOW", 5, minimum=1) == 1


def test_list_splits_on_commas_and_drops_blanks():
    """A comma-separated list is stripped item by item and blank items are dropped."""
    env = Environment({"HOSTS": " a.example.com, ,b.example.com ,"})
    assert env.list("HOSTS") == ["a.example.com", "b.example.com"]


def test_json_object_is_parsed():
    """A JSON object comes back as a dict."""
    env = Environment({"ROUTES": '{"report_data": "postgres_db", "n": 2}'})
    assert env.json_object("ROUTES") == {"report_data": "postgres_db", "n": 2}


def test_database_url_becomes_a_databases_entry():
    """A PostgreSQL URL gives the engine, name, credentials, host and port."""
    config = Environment({"DB": "postgres://alice:s3cret@db.example.com:5433/atrium"}).database(
        "DB"
    )
    assert config["ENGINE"] == POSTGRES_ENGINE
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("atrium", "alice", "s3cret")
    assert (config["HOST"], int(config["PORT"])) == ("db.example.com", 5433)


def test_mariadb_scheme_uses_the_mysql_backend():
    """mariadb:// is accepted as Django's MySQL backend."""
    config = Environment({"DB": "mariadb://root@127.0.0.1:3306/atrium"}).database("DB")
    assert config["ENGINE"] == MYSQL_ENGINE


def test_database_default_given_as_a_url_is_parsed():
    """A URL default is parsed like a set value."""
    config = Environment({}).database("DB", "sqlite:////tmp/x.sqlite3")
    assert config["ENGINE"] == SQLITE_ENGINE
    assert config["NAME"] == "/tmp/x.sqlite3"


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        ("maybe", lambda env: env.bool("ATRIUM_TEST_VALUE")),
        ("abc", lambda env: env.int("ATRIUM_TEST_VALUE")),
        ("0", lambda env: env.int("ATRIUM_TEST_VALUE", minimum=1)),
        ("{not json", lambda env: env.json_object("ATRIUM_TEST_VALUE")),
        ('["a", "b"]', lambda env: env.json_object("ATRIUM_TEST_VALUE")),
        ("not a url", lambda env: env.database("ATRIUM_TEST_VALUE")),
        ("postgress://u@db.example.com/atrium", lambda env: env.database("ATRIUM_TEST_VALUE")),
        ("nosuchcache://host", lambda env: env.cache("ATRIUM_TEST_VALUE")),
    ],
    ids=[
        "bool",
        "int",
        "int-below-minimum",
        "json-syntax",
        "json-not-object",
        "database-garbage",
        "database-unknown-scheme",
        "cache-unknown-scheme",
    ],
)
@pytest.mark.filterwarnings("ignore:Engine not recognized:UserWarning")
def test_a_malformed_value_is_refused_naming_the_variable(raw, read):
    """Every kind of malformed value raises ImproperlyConfigured naming the variable."""
    env = Environment({"ATRIUM_TEST_VALUE": raw})
    with pytest.raises(ImproperlyConfigured) as excinfo:
        read(env)
    assert "ATRIUM_TEST_VALUE" in str(excinfo.value)


def test_production_requires_the_secret_key():
    """In production a required variable that is missing raises naming it."""
    env = Environment({"ATRIUM_ENV": "production"})
    assert env.production is True
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env.str("DJANGO_SECRET_KEY", env.required_in_production("dev-key"))
    assert "DJANGO_SECRET_KEY" in str(excinfo.value)


def test_development_uses_the_default_of_a_production_requirement():
    """In development the default of a production-only requirement applies."""
    env = Environment({})
    assert env.production is False
    assert env.str("DJANGO_SECRET_KEY", env.required_in_production("dev-key")) == "dev-key"


@pytest.mark.parametrize("value", ["staging", "Production", "prod"])
def test_an_unknown_atrium_env_is_refused(value):
    """ATRIUM_ENV accepts only development and production, and the error names it."""
    with pytest.raises(ImproperlyConfigured) as excinfo:
        Environment({"ATRIUM_ENV": value})
    assert "ATRIUM_ENV" in str(excinfo.value)
    assert value in str(excinfo.value)


def test_prefixed_returns_the_set_variables_by_suffix():
    """prefixed() keys every set variable by the rest of its name and ignores empty ones."""
    env = Environment({"DATABASE_URL_A": "x", "DATABASE_URL_B": "", "DATABASE_URL": "y"})
    assert env.prefixed("DATABASE_URL_") == {"A": "x"}


# ---------------------------------------------------------------------------
# Settings read from the process environment
# ---------------------------------------------------------------------------


def test_settings_in_production_refuse_a_missing_secret_key(monkeypatch, tmp_path):
    """config/settings.py with ATRIUM_ENV=production and no DJANGO_SECRET_KEY stops, naming it."""
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load_settings(
            monkeypatch,
            tmp_path,
            ATRIUM_ENV="production",
            DJANGO_ALLOWED_HOSTS="atrium.example.com",
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/atrium",
            CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        )
    assert "DJANGO_SECRET_KEY" in str(excinfo.value)


def test_settings_in_production_turn_on_the_secure_defaults(monkeypatch, tmp_path):
    """A complete production environment gives DEBUG off, HTTPS-only cookies and HSTS."""
    namespace = load_settings(
        monkeypatch,
        tmp_path,
        ATRIUM_ENV="production",
        DJANGO_SECRET_KEY=PRODUCTION_SECRET,
        DJANGO_ALLOWED_HOSTS="atrium.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/atrium",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        FIELD_ENCRYPTION_KEYS="ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        MCP_RATE_LIMIT_REDIS_URL="redis://127.0.0.1:6379/2",
    )
    assert namespace["PRODUCTION"] is True
    assert namespace["DEBUG"] is False
    assert namespace["ALLOWED_HOSTS"] == ["atrium.example.com"]
    assert namespace["SESSION_COOKIE_SECURE"] and namespace["CSRF_COOKIE_SECURE"]
    assert namespace["SECURE_SSL_REDIRECT"] is True
    assert namespace["SECURE_HSTS_SECONDS"] >= 31536000
    assert namespace["DATABASE_ROUTE_FALLBACK"] is False


@pytest.mark.parametrize("missing", ["FIELD_ENCRYPTION_KEYS", "MCP_RATE_LIMIT_REDIS_URL"])
def test_production_requires_the_mcp_gateways_secrets_and_shared_limits(
    monkeypatch, tmp_path, missing
):
    """Production refuses to start without encryption keys or the shared rate-limit store."""
    values = {
        "FIELD_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        "MCP_RATE_LIMIT_REDIS_URL": "redis://127.0.0.1:6379/2",
    }
    values.pop(missing)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        load_settings(
            monkeypatch, tmp_path, ATRIUM_ENV="production", DJANGO_SECRET_KEY=PRODUCTION_SECRET,
            DJANGO_ALLOWED_HOSTS="atrium.example.com",
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/atrium",
            CELERY_BROKER_URL="redis://127.0.0.1:6379/0", **values,
        )
    assert missing in str(excinfo.value)


def test_settings_without_environment_run_the_embedded_default(monkeypatch, tmp_path):
    """No variables: SQLite under ATRIUM_VAR_DIR, filesystem broker, file result backend."""
    namespace = load_settings(monkeypatch, tmp_path)
    var_dir = tmp_path / "var"
    assert namespace["PRODUCTION"] is False
    assert namespace["DATABASES"]["default"]["ENGINE"] == SQLITE_ENGINE
    assert namespace["DATABASES"]["default"]["NAME"] == str(var_dir / "atrium.sqlite3")
    assert namespace["CELERY_BROKER_URL"] == "filesystem://"
    assert namespace["CELERY_RESULT_BACKEND"] == f"file://{var_dir / 'celery' / 'results'}"
    assert namespace["DATABASE_ROUTE_FALLBACK"] is True


def test_result_backend_defaults_to_a_redis_broker(monkeypatch, tmp_path):
    """With a Redis broker and no CELERY_RESULT_BACKEND, results go to the broker's Redis."""
    namespace = load_settings(monkeypatch, tmp_path, CELERY_BROKER_URL="redis://cache:6379/3")
    assert namespace["CELERY_RESULT_BACKEND"] == "redis://cache:6379/3"


def test_result_backend_variable_overrides_the_default(monkeypatch, tmp_path):
    """CELERY_RESULT_BACKEND set explicitly wins over the derived default."""
    namespace = load_settings(
        monkeypatch,
        tmp_path,
        CELERY_BROKER_URL="redis://cache:6379/3",
        CELERY_RESULT_BACKEND="redis://results:6379/4",
    )
    assert namespace["CELERY_RESULT_BACKEND"] == "redis://results:6379/4"


def test_manage_check_stops_on_a_malformed_pool_size(tmp_path):
    """``manage.py check`` with DB_POOL_SIZE=abc exits non-zero and stderr names DB_POOL_SIZE."""
    completed = manage(
        "check",
        env=platform_env(
            DJANGO_SETTINGS_MODULE="config.settings",
            ATRIUM_VAR_DIR=str(tmp_path / "var"),
            DB_POOL_SIZE="abc",
        ),
    )
    assert completed.returncode != 0
    assert "DB_POOL_SIZE" in completed.stderr
    assert "ImproperlyConfigured" in completed.stderr


# ---------------------------------------------------------------------------
# DATABASES from URLs (config.datasources)
# ---------------------------------------------------------------------------


def test_postgres_gets_the_psycopg_pool_and_no_persistent_connections():
    """PostgreSQL pools through psycopg: min 10, max 10+20, timeout 30 s, lifetime 3600 s."""
    databases = build_databases(
        Environment({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/atrium"}),
        default_url=SQLITE_DEFAULT,
    )
    default = databases["default"]
    assert default["ENGINE"] == POSTGRES_ENGINE
    assert default["OPTIONS"]["pool"] == {
        "min_size": 10,
        "max_size": 30,
        "timeout": 30,
        "max_lifetime": 3600,
    }
    assert default["CONN_MAX_AGE"] == 0


def test_mysql_gets_persistent_checked_connections_utf8mb4_and_strict_mode():
    """MySQL/MariaDB keeps connections 3600 s, health-checks them, utf8mb4 and strict mode."""
    databases = build_databases(
        Environment({"DATABASE_URL": "mysql://root@127.0.0.1:3306/atrium"}),
        default_url=SQLITE_DEFAULT,
    )
    default = databases["default"]
    assert default["ENGINE"] == MYSQL_ENGINE
    assert default["CONN_MAX_AGE"] == 3600
    assert default["CONN_HEALTH_CHECKS"] is True
    assert default["OPTIONS"]["charset"] == "utf8mb4"
    assert "STRICT_TRANS_TABLES" in default["OPTIONS"]["init_command"]
    assert "sql_mode" in default["OPTIONS"]["init_command"]
    assert default["TEST"]["CHARSET"] == "utf8mb4"
    assert "pool" not in default["OPTIONS"]


def test_extra_datasource_url_becomes_a_lowercase_alias():
    """DATABASE_URL_ORACLE_DB becomes the alias oracle_db on the Oracle engine."""
    databases = build_databases(
        Environment({"DATABASE_URL_ORACLE_DB": "oracle://u:p@host:1521/ORCL"}),
        default_url=SQLITE_DEFAULT,
    )
    assert set(databases) == {"default", "oracle_db"}
    oracle = databases["oracle_db"]
    assert oracle["ENGINE"] == ORACLE_ENGINE
    assert (oracle["NAME"], oracle["USER"], oracle["PASSWORD"]) == ("ORCL", "u", "p")
    assert (oracle["HOST"], oracle["PORT"]) == ("host", "1521")
    assert oracle["CONN_MAX_AGE"] == 3600
    assert oracle["CONN_HEALTH_CHECKS"] is True
    assert databases["default"]["ENGINE"] == SQLITE_ENGINE
    assert databases["default"]["NAME"] == "/tmp/atrium-test-default.sqlite3"


def test_pool_variables_override_the_defaults():
    """DB_POOL_SIZE, DB_POOL_MAX_OVERFLOW, DB_POOL_TIMEOUT and DB_POOL_RECYCLE apply."""
    databases = build_databases(
        Environment(
            {
                "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/atrium",
                "DATABASE_URL_MARIA": "mariadb://root@127.0.0.1:3306/other",
                "DB_POOL_SIZE": "4",
                "DB_POOL_MAX_OVERFLOW": "6",
                "DB_POOL_TIMEOUT": "5",
                "DB_POOL_RECYCLE": "600",
            }
        ),
        default_url=SQLITE_DEFAULT,
    )
    assert databases["default"]["OPTIONS"]["pool"] == {
        "min_size": 4,
        "max_size": 10,
        "timeout": 5,
        "max_lifetime": 600,
    }
    assert databases["maria"]["CONN_MAX_AGE"] == 600


@pytest.mark.parametrize("variable", ["DB_POOL_SIZE", "DB_POOL_TIMEOUT"])
def test_a_pool_size_below_one_is_refused(variable):
    """Pool size and timeout must be at least 1; the error names the variable."""
    with pytest.raises(ImproperlyConfigured) as excinfo:
        build_databases(Environment({variable: "0"}), default_url=SQLITE_DEFAULT)
    assert variable in str(excinfo.value)


def test_production_requires_database_url():
    """In production the SQLite default does not apply: DATABASE_URL is required."""
    with pytest.raises(ImproperlyConfigured) as excinfo:
        build_databases(Environment({"ATRIUM_ENV": "production"}), default_url=SQLITE_DEFAULT)
    assert "DATABASE_URL" in str(excinfo.value)


def test_a_malformed_url_error_does_not_reveal_its_password():
    """The start-up error names the variable but masks the password in the URL."""
    env = Environment({"DATABASE_URL": "postgress://app:s3cret-pw@db:5432/atrium"})
    with pytest.raises(ImproperlyConfigured) as caught:
        env.database("DATABASE_URL")
    assert "DATABASE_URL" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)
    assert "app:[REDACTED]@db" in str(caught.value)
