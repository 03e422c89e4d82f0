"""Typed, fail-fast reading of the process environment.

Settings read every variable through :class:`Environment` exactly once. A value that
cannot be parsed, or a variable that is required in production and missing, raises
``ImproperlyConfigured`` naming the variable and how to fix it, so a misconfigured
process stops at start-up instead of failing on the first request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from core.redaction import redact

# django-environ has no "mariadb" scheme; MariaDB uses Django's MySQL backend.
environ.Env.DB_SCHEMES.setdefault("mariadb", "django.db.backends.mysql")

_MISSING = object()


class Environment:
    """Read typed values from ``os.environ`` and name the variable on every error."""

    def __init__(self, environ_map: dict[str, str] | None = None) -> None:
        self._env = environ.Env()
        self._map = os.environ if environ_map is None else environ_map
        self.production = self.str("ATRIUM_ENV", "development") == "production"
        if self.str("ATRIUM_ENV", "development") not in {"development", "production"}:
            raise ImproperlyConfigured(
                "ATRIUM_ENV must be 'development' or 'production', "
                f"got {redact(self._map['ATRIUM_ENV'])!r}."
            )

    def _read(self, name: str, default: Any, parse: Callable[[str], Any], kind: str) -> Any:
        raw = self._map.get(name)
        if raw is None or raw == "":
            if default is _MISSING:
                raise ImproperlyConfigured(
                    f"Set the environment variable {name} ({kind}); it is required "
                    "when ATRIUM_ENV=production. See .env.example."
                )
            return default
        try:
            return parse(raw)
        except (
            ValueError, TypeError, KeyError, json.JSONDecodeError, ImproperlyConfigured
        ) as exc:  # django-environ reports some malformed URLs as ImproperlyConfigured
            raise ImproperlyConfigured(
                f"The environment variable {name}={redact(raw)!r} is not a valid {kind}: "
                f"{redact(str(exc))}. "
                "See .env.example."
            ) from exc

    def required_in_production(self, default: Any) -> Any:
        """Return ``default`` in development and the 'required' marker in production."""
        return _MISSING if self.production else default

    def str(self, name: str, default: Any = _MISSING) -> str:
        """Return a string variable."""
        return self._read(name, default, lambda raw: raw, "string")

    def bool(self, name: str, default: Any = _MISSING) -> bool:
        """Return a boolean written as true/false, yes/no, on/off or 1/0."""

        def parse(raw: str) -> bool:
            value = raw.strip().lower()
            if value in {"1", "true", "yes", "on"}:
                return True
            if value in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true/false, yes/no, on/off or 1/0")

        return self._read(name, default, parse, "boolean")

    def int(self, name: str, default: Any = _MISSING, *, minimum: int | None = None) -> int:
        """Return an integer, refusing values below ``minimum``."""

        def parse(raw: str) -> int:
            value = int(raw.strip())
            if minimum is not None and value < minimum:
                raise ValueError(f"must be at least {minimum}")
            return value

        return self._read(name, default, parse, "integer")

    def float(self, name: str, default: Any = _MISSING, *, minimum: float | None = None) -> float:
        """Return a decimal number, refusing values below ``minimum``."""

        def parse(raw: str) -> float:
            value = float(raw.strip())
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError("must be a finite number")
            if minimum is not None and value < minimum:
                raise ValueError(f"must be at least {minimum}")
            return value

        return self._read(name, default, parse, "number")

    def list(self, name: str, default: Any = _MISSING) -> list[str]:
        """Return a comma-separated list with blanks dropped."""
        return self._read(
            name,
            default,
            lambda raw: [item.strip() for item in raw.split(",") if item.strip()],
            "comma-separated list",
        )

    def json_object(self, name: str, default: Any = _MISSING) -> dict[str, Any]:
        """Return a JSON object."""

        def parse(raw: str) -> dict[str, Any]:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("expected a JSON object")
            return value

        return self._read(name, default, parse, "JSON object")

    def database(self, name: str, default: Any = _MISSING) -> dict[str, Any]:
        """Return a Django ``DATABASES`` entry parsed from a database URL."""

        def parse(raw: str) -> dict[str, Any]:
            config = self._env.db_url_config(raw)
            # django-environ takes an unknown scheme ("postgress://") as the engine's module
            # path; only the known schemes map to a (dotted) Django backend.
            if "." not in config.get("ENGINE", ""):
                raise ValueError("unknown database scheme")
            return config

        if default is not _MISSING and isinstance(default, str):
            default = parse(default)
        return self._read(name, default, parse, "database URL")

    def cache(self, name: str, default: Any = _MISSING) -> dict[str, Any]:
        """Return a Django ``CACHES`` entry parsed from a cache URL."""
        if default is not _MISSING and isinstance(default, str):
            default = self._env.cache_url_config(default)
        return self._read(name, default, self._env.cache_url_config, "cache URL")

    def is_set(self, name: str) -> bool:
        """Return whether the variable is set to a non-empty value."""
        return bool(self._map.get(name))

    def prefixed(self, prefix: str) -> dict[str, str]:
        """Return every set variable whose name starts with ``prefix``, keyed by the rest."""
        return {
            key[len(prefix):]: value
            for key, value in self._map.items()
            if key.startswith(prefix) and len(key) > len(prefix) and value
        }
