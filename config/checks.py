"""Start-up checks of the platform's own configuration (run by every manage.py command)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.database)
def check_database_routes(app_configs=None, **kwargs):
    """Refuse a route to an alias that is not configured, unless falling back in development."""
    errors = []
    if settings.DATABASE_ROUTE_FALLBACK and settings.PRODUCTION:
        errors.append(
            Error(
                "DATABASE_ROUTE_FALLBACK is for development only.",
                hint="Unset DATABASE_ROUTE_FALLBACK, or configure every routed alias "
                "with DATABASE_URL_<ALIAS>.",
                id="atrium.E001",
            )
        )
    if settings.DATABASE_ROUTE_FALLBACK and not settings.PRODUCTION:
        return errors
    for table, alias in sorted(settings.DATABASE_ROUTES.items()):
        if alias not in settings.DATABASES:
            errors.append(
                Error(
                    f"Table {table!r} is routed to the datasource {alias!r}, "
                    "which is not configured.",
                    hint=f"Set DATABASE_URL_{alias.upper()}, remove the route from "
                    "DATABASE_ROUTES, or (development only) set DATABASE_ROUTE_FALLBACK=true.",
                    id="atrium.E002",
                )
            )
    return errors


@register()
def check_celery_visibility_timeout(app_configs=None, **kwargs):
    """Refuse a broker visibility timeout that a running task could outlive."""
    if settings.CELERY_VISIBILITY_TIMEOUT <= settings.CELERY_TASK_TIME_LIMIT:
        return [
            Error(
                "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT: "
                "tasks acknowledge late, so a shorter timeout redelivers running tasks.",
                hint="Raise CELERY_VISIBILITY_TIMEOUT or lower CELERY_TASK_TIME_LIMIT.",
                id="atrium.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_sandbox(app_configs=None, **kwargs):
    """Under ``check --deploy``, warn when user code cannot run behind the barrier here."""
    from django.core.checks import Warning as CheckWarning

    from core import sandbox

    state = sandbox.state()
    if state["protected"]:
        return []
    return [CheckWarning(
        f"The sandbox of user code is {state['mode']}: {state.get('reason', '')}",
        hint="Install bubblewrap (scripts/install-system-deps) and allow unprivileged user "
             "namespaces; until then testers' keywords, global functions and script tools "
             "are refused.",
        id="atrium.W004")]


@register(Tags.security, deploy=True)
def check_row_level_security(app_configs=None, databases=None, **kwargs):
    """Under ``check --deploy``, say whether PostgreSQL row-level security protects the
    default datasource (core.rls): recommended on in production, wrong when it cannot work."""
    from django.core.checks import Info
    from django.core.checks import Warning as CheckWarning
    from django.db import connections

    from core import rls

    if connections["default"].vendor != "postgresql":
        return []  # no row-level security there: the application's isolation alone (README)
    try:
        state = rls.status("default")
    except Exception as exc:  # noqa: BLE001 - the check reports, the database may be down
        return [CheckWarning(f"Row-level security: could not be checked ({exc}).",
                             id="atrium.W005")]
    if state["state"] == "on":
        return [Info("Row-level security: active on the default datasource.",
                     id="atrium.I005")]
    if state["state"] == "off":
        return [CheckWarning(
            "Row-level security is off (DATABASE_RLS): a query that bypasses the ORM's "
            "tenant filter sees every tenant.",
            hint="Create the two roles (README, 'Row-level security on PostgreSQL'), sign "
                 "in as the everyday role, set DATABASE_RLS=true and run manage.py migrate.",
            id="atrium.W005")]
    return [Error(f"Row-level security is on but ineffective: {state['reason']}.",
                  hint="README, 'Row-level security on PostgreSQL'.", id="atrium.E005")]
