"""Build the API endpoint registry from the code (issue 3, item 8).

``collect_routes`` asks drf-spectacular for the OpenAPI schema (paths, methods, operation
ids, descriptions) and walks the same endpoint enumeration to instantiate each route's view
with its action, so that ``rbac.api.permissions.required_code`` answers the permission code
the route needs. A route that declares none is an error (``RegistryError``): every route
states what it needs.

The registry covers the routes the schema documents. Views the schema leaves out (the
schema and docs views themselves, or anything marked ``@extend_schema(exclude=True)``)
are not API endpoints of the platform.

``sync_endpoints`` writes the routes into ``ApiEndpoint`` after every ``migrate``
(``rbac.apps``) and on demand (``manage.py sync_endpoints``): new routes are added, the
code's columns updated, vanished routes marked inactive; operators' columns
(``is_enabled``, ``required_scopes``) are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.apps import apps
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

# Sent after a sync wrote the registry (in bulk, so without per-row signals): caches built
# from the rows (the MCP gateway's tool catalogue) drop them. Arguments: ``using``.
endpoints_synced = Signal()

# The operation's text the registry keeps as the route's description.
DESCRIPTION_KEYS = ("description", "summary")
# A request routed through a format-suffix pattern (``/users.json``) is the same route.
FORMAT_SUFFIX = re.compile(r"\.\{format\}/?$")


class RegistryError(Exception):
    """The code's routes cannot be registered (a route declares no permission code)."""


@dataclass(frozen=True)
class Route:
    """One route and method of the API, as the code declares it."""

    path: str
    method: str
    module: str
    permission_code: str
    operation_id: str = ""
    description: str = ""
    # Whether the view applies the registry's switches (``EndpointSwitches``, which
    # ``RbacPermission`` extends, among its permission classes).
    enforced: bool = True


@dataclass
class SyncReport:
    """What one sync changed."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    total: int = 0
    # Routes whose view ignores the switches: disabling them would not take effect.
    unenforced: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"Endpoints: {self.total} routes; {len(self.created)} created, "
            f"{len(self.updated)} updated, {len(self.deactivated)} marked inactive."
        )


def _path_template(regex_or_route: str) -> str:
    """Return the URI template of a URL pattern's regex or a resolved route (``{pk}``)."""
    from drf_spectacular.generators import EndpointEnumerator

    return EndpointEnumerator(patterns=[]).get_path_from_regex(regex_or_route)


@lru_cache(maxsize=1024)
def _request_path(route: str, view_class: type) -> str:
    from drf_spectacular.generators import SchemaGenerator

    path = FORMAT_SUFFIX.sub("/", _path_template(route))
    # coerce_path reads only the view's ``queryset`` (a class attribute) to name ``{pk}``.
    return SchemaGenerator().coerce_path(path, "GET", view_class)


def request_path(route: str, view) -> str:
    """Return the registry path of a resolved request (``request.resolver_match.route``).

    The conversion is the one the schema generator applies to the URL patterns it walks,
    so a request and its registry row agree on ``/api/v1/users/{id}/``.
    """
    return _request_path(route, type(view))


def _module_of(view) -> str:
    """Return the app label a route belongs to: its model's app, else the view's app."""
    model = getattr(getattr(view, "queryset", None), "model", None)
    if model is not None:
        return model._meta.app_label
    app_config = apps.get_containing_app_config(type(view).__module__)
    return app_config.label if app_config is not None else type(view).__module__.split(".")[0]


def collect_routes(urlconf: str | None = None) -> list[Route]:
    """Return every route and method the OpenAPI schema documents, sorted by path and method.

    Raise ``RegistryError`` naming each route whose view declares no permission code.
    """
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import spectacular_settings

    from rbac.api.permissions import EndpointSwitches, required_code

    generator = SchemaGenerator(urlconf=urlconf)
    # The schema's own warnings belong to /api/schema/, not to every migrate.
    with GENERATOR_STATS.silence():
        schema = generator.get_schema(request=None, public=True)
        paths = schema.get("paths", {})
        routes: dict[tuple[str, str], Route] = {}
        undeclared = []
        for path, _regex, method, callback in generator.endpoints:
            view = generator.create_view(callback, method)
            path = generator.coerce_path(path, method, view)
            operation = paths.get(path, {}).get(method.lower())
            if operation is None:
                continue
            view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
            code = required_code(view)
            if not code:
                name = f"{type(view).__module__}.{type(view).__name__}"
                undeclared.append(f"{method} {path} ({name})")
                continue
            description = next(
                (operation[key] for key in DESCRIPTION_KEYS if operation.get(key)), ""
            )
            routes[path, method] = Route(
                path=path,
                method=method,
                module=_module_of(view),
                permission_code=code,
                operation_id=operation.get("operationId", ""),
                description=description.strip(),
                enforced=any(isinstance(cls, type) and issubclass(cls, EndpointSwitches)
                             for cls in callback.cls.permission_classes),
            )
    if undeclared:
        raise RegistryError(
            "Routes that declare no permission code (give the view a queryset or a "
            "permission_code): " + "; ".join(undeclared)
        )
    return [routes[key] for key in sorted(routes)]


CODE_FIELDS = ("module", "description", "operation_id", "permission_code")


@transaction.atomic
def sync_endpoints(*, using: str = "default", routes: list[Route] | None = None) -> SyncReport:
    """Bring ``ApiEndpoint`` in line with the code's routes; return what changed.

    ``routes`` defaults to ``collect_routes()``. Operators' columns (``is_enabled``,
    ``required_scopes``) of existing rows are kept; rows of vanished routes are marked
    inactive, not deleted, so their settings survive a route's return.
    """
    from rbac.enforcement import invalidate
    from rbac.models import ApiEndpoint

    if routes is None:
        routes = collect_routes()
    now = timezone.now()
    manager = ApiEndpoint.objects.using(using)
    existing = {(row.path, row.method): row for row in manager.select_for_update()}
    report = SyncReport(
        total=len(routes),
        unenforced=[f"{r.method} {r.path}" for r in routes if not r.enforced],
    )
    new_rows, changed_rows, confirmed_ids = [], [], []
    for route in routes:
        row = existing.get((route.path, route.method))
        if row is None:
            new_rows.append(
                ApiEndpoint(
                    path=route.path,
                    method=route.method,
                    module=route.module,
                    description=route.description,
                    operation_id=route.operation_id,
                    permission_code=route.permission_code,
                    is_active=True,
                    last_synced_at=now,
                )
            )
            report.created.append(f"{route.method} {route.path}")
        elif row.is_active and all(getattr(row, n) == getattr(route, n) for n in CODE_FIELDS):
            confirmed_ids.append(row.pk)
        else:
            for name in CODE_FIELDS:
                setattr(row, name, getattr(route, name))
            row.is_active, row.last_synced_at, row.updated_at = True, now, now
            changed_rows.append(row)
            report.updated.append(f"{route.method} {route.path}")
    # Only the code's columns are written: operators' columns stay as they are.
    manager.bulk_update(changed_rows, [*CODE_FIELDS, "is_active", "last_synced_at", "updated_at"])
    if confirmed_ids:
        manager.filter(pk__in=confirmed_ids).update(last_synced_at=now)
    manager.bulk_create(new_rows)
    declared = {(route.path, route.method) for route in routes}
    vanished = [row for key, row in existing.items() if key not in declared and row.is_active]
    if vanished:
        manager.filter(pk__in=[row.pk for row in vanished]).update(
            is_active=False, updated_at=now
        )
        report.deactivated = [str(row) for row in vanished]
    invalidate(using=using)
    # The rows were written in bulk, without per-row signals: tell whoever caches them.
    endpoints_synced.send(sender=ApiEndpoint, using=using)
    return report
