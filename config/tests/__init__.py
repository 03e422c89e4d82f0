"""Tests of the platform configuration: environment, datasources, router, probes, deploy.

``platform_env`` builds the environment of a ``manage.py`` subprocess or of a fresh read of
``config/settings.py``: the test process's own Atrium variables (DATABASE_URL and friends,
set per backend by scripts/test_backends.py) are dropped so that each test states exactly
the configuration it runs under.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Variables (or prefixes) that config/settings.py reads; see .env.example.
SETTINGS_VARIABLE_PREFIXES = (
    "ATRIUM_",
    "DJANGO_",
    "DATABASE_",
    "DB_POOL_",
    "CACHE_URL",
    "CELERY_",
    "SECURE_",
    "SESSION_",
    "CSRF_",
    "LOGIN_LOCKOUT_",
    "TRUSTED_PROXY_COUNT",
    "LANGUAGE_CODE",
    "TIME_ZONE",
    "LOG_LEVEL",
    "STATIC_ROOT",
)


def is_settings_variable(name: str) -> bool:
    """Return whether config/settings.py reads the variable ``name``."""
    return name.startswith(SETTINGS_VARIABLE_PREFIXES)


def platform_env(**variables: str) -> dict[str, str]:
    """Return os.environ without any settings variable, plus ``variables``."""
    env = {key: value for key, value in os.environ.items() if not is_settings_variable(key)}
    env.update(variables)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``python manage.py *args`` in the project folder and return the finished process."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
