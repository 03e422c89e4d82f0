"""Build ``DATABASES`` from URLs and apply per-backend connection settings.

Connection defaults come from seed 000 section 6.3 (``pool_size=10``, ``max_overflow=20``,
``pool_timeout=30``, ``pool_recycle=3600``):

* PostgreSQL pools through psycopg's pool (``OPTIONS["pool"]``): ``min_size`` is the pool
  size, ``max_size`` adds the overflow, ``timeout`` is how long a request waits for a
  connection and ``max_lifetime`` recycles connections. Django requires
  ``CONN_MAX_AGE=0`` when pooling.
* MySQL/MariaDB has no driver pool in Django: persistent connections live for the recycle
  time (``CONN_MAX_AGE``) and are health-checked before reuse (``CONN_HEALTH_CHECKS``).
  Strict mode and utf8mb4 are always on.
* Oracle uses persistent connections with health checks as well.
* SQLite (the embedded default, where the web server, a worker and beat write to one file)
  runs in WAL mode, so reads never wait for a writer; write transactions take the write
  lock when they begin (``transaction_mode = IMMEDIATE``) and wait up to
  ``SQLITE_BUSY_TIMEOUT`` seconds for it. A transaction that begins as a reader and then
  writes would otherwise fail at once with "database is locked" whenever another
  connection is writing, however long the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.environment import Environment

POSTGRES_ENGINE = "django.db.backends.postgresql"
MYSQL_ENGINE = "django.db.backends.mysql"
ORACLE_ENGINE = "django.db.backends.oracle"
SQLITE_ENGINE = "django.db.backends.sqlite3"

EXTRA_DATABASE_PREFIX = "DATABASE_URL_"


@dataclass(frozen=True)
class PoolSettings:
    """Connection pool sizing shared by every datasource (seed 000 section 6.3)."""

    size: int = 10
    max_overflow: int = 20
    timeout: int = 30  # seconds a request waits for a free connection
    recycle: int = 3600  # seconds a connection lives before it is replaced


def read_pool_settings(env: Environment) -> PoolSettings:
    """Return the pool sizing from the environment."""
    return PoolSettings(
        size=env.int("DB_POOL_SIZE", 10, minimum=1),
        max_overflow=env.int("DB_POOL_MAX_OVERFLOW", 20, minimum=0),
        timeout=env.int("DB_POOL_TIMEOUT", 30, minimum=1),
        recycle=env.int("DB_POOL_RECYCLE", 3600, minimum=0),
    )


def tune_connection(
    config: dict[str, Any], pool: PoolSettings, *, sqlite_busy_timeout: float = 20
) -> dict[str, Any]:
    """Return ``config`` with the connection settings of its backend applied."""
    config = dict(config)
    options = dict(config.get("OPTIONS") or {})
    engine = config["ENGINE"]
    if engine == POSTGRES_ENGINE:
        options.setdefault(
            "pool",
            {
                "min_size": pool.size,
                "max_size": pool.size + pool.max_overflow,
                "timeout": pool.timeout,
                "max_lifetime": pool.recycle,
            },
        )
        config["CONN_MAX_AGE"] = 0
    elif engine == MYSQL_ENGINE:
        options.setdefault("charset", "utf8mb4")
        options.setdefault("init_command", "SET sql_mode='STRICT_TRANS_TABLES'")
        config["CONN_MAX_AGE"] = pool.recycle
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("TEST", {}).update(
            {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
        )
    elif engine == ORACLE_ENGINE:
        config["CONN_MAX_AGE"] = pool.recycle
        config["CONN_HEALTH_CHECKS"] = True
    elif engine == SQLITE_ENGINE:
        options.setdefault("timeout", sqlite_busy_timeout)
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    config["OPTIONS"] = options
    return config


def build_databases(env: Environment, *, default_url: str) -> dict[str, dict[str, Any]]:
    """Return ``DATABASES``: ``DATABASE_URL`` as ``default`` plus every ``DATABASE_URL_<ALIAS>``."""
    pool = read_pool_settings(env)
    databases = {"default": env.database("DATABASE_URL", env.required_in_production(default_url))}
    for suffix in sorted(env.prefixed(EXTRA_DATABASE_PREFIX)):
        alias = suffix.lower()
        databases[alias] = env.database(EXTRA_DATABASE_PREFIX + suffix)
    busy = env.float("SQLITE_BUSY_TIMEOUT", 20, minimum=0)
    return {
        alias: tune_connection(config, pool, sqlite_busy_timeout=busy)
        for alias, config in databases.items()
    }


RLS_POSTGRES_ENGINE = "core.rls.postgresql"


def enforce_row_level_security(
    databases: dict[str, dict[str, Any]], *, enabled: bool
) -> dict[str, dict[str, Any]]:
    """Return ``databases`` with every PostgreSQL datasource on the engine of ``core.rls``
    when ``enabled`` (``DATABASE_RLS``); refuse to start when the default datasource is not
    PostgreSQL, the only backend with row-level security."""
    if not enabled:
        return databases
    default_engine = databases["default"]["ENGINE"]
    if default_engine not in (POSTGRES_ENGINE, RLS_POSTGRES_ENGINE):
        raise ImproperlyConfigured(
            "DATABASE_RLS=true needs PostgreSQL: row-level security is a PostgreSQL feature, "
            f"and the default datasource uses {default_engine}. MariaDB/MySQL, Oracle and "
            "SQLite keep the application's tenant isolation alone; unset DATABASE_RLS there."
        )
    return {
        alias: {**config, "ENGINE": RLS_POSTGRES_ENGINE}
        if config["ENGINE"] == POSTGRES_ENGINE else config
        for alias, config in databases.items()
    }
