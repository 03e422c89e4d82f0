"""The one datasource router: table name -> database alias, from ``settings.DATABASE_ROUTES``.

A table not in the route map lives on ``default``. A routed table is read, written and
migrated only on its alias; nothing else is migrated there. Relations are allowed only
between rows of the same alias (a cross-database foreign key cannot be enforced), so a
routed model stores tenant and user ids as plain columns.

A route to an alias missing from ``DATABASES`` is a start-up error (``config.checks``)
unless ``DATABASE_ROUTE_FALLBACK`` is set in development, in which case it falls back to
``default``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS


def route_for_table(db_table: str) -> str:
    """Return the alias that holds ``db_table``, after the development fallback."""
    alias = settings.DATABASE_ROUTES.get(db_table, DEFAULT_DB_ALIAS)
    if alias not in settings.DATABASES and settings.DATABASE_ROUTE_FALLBACK:
        return DEFAULT_DB_ALIAS
    return alias


def route_for_model(model: type) -> str:
    """Return the alias that holds ``model``'s table."""
    return route_for_table(model._meta.db_table)


class DatasourceRouter:
    """Route every model by its table name; see the module docstring."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        """Return the alias that holds the model's table."""
        return route_for_model(model)

    def db_for_write(self, model: type, **hints: Any) -> str:
        """Return the alias that holds the model's table."""
        return route_for_model(model)

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        """Allow a relation only between rows stored on the same alias."""
        return route_for_model(obj1._meta.model) == route_for_model(obj2._meta.model)

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        """Migrate a model's table only on the alias that holds it.

        Operations that name no model (``RunSQL``/``RunPython`` without hints) run only on
        ``default`` unless they pass ``hints={"target_db": alias}``.
        """
        model = hints.get("model")
        if model is None and model_name is not None:
            try:
                model = apps.get_model(app_label, model_name)
            except LookupError:
                model = None
        if model is not None:
            return route_for_model(model) == db
        return hints.get("target_db", DEFAULT_DB_ALIAS) == db
