"""Liveness (``/healthz``) and readiness (``/readyz``) probes.

``/healthz`` answers as long as the process serves requests. ``/readyz`` checks every
configured datasource and the Celery broker and answers 503 with JSON naming each one
that failed, so an orchestrator stops routing traffic to an instance that cannot work.
It also reports how the sandbox of user code runs here (``sandbox``: "bubblewrap",
"unprotected" in development, or "unavailable"): informational, since every other part of
the platform works without it; user code is refused with the reason while it is
unavailable. And whether PostgreSQL row-level security protects the default datasource
(``row_level_security``: "on", "off" or "ineffective", core.rls).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config import ops

BROKER_TIMEOUT = 3  # seconds

logger = logging.getLogger(__name__)


def check_database(alias: str) -> str | None:
    """Return ``None`` when the datasource answers a trivial query, else the error's class.

    Details go to the application log only: the probe is anonymous.
    """
    connection = connections[alias]
    query = "SELECT 1 FROM DUAL" if connection.vendor == "oracle" else "SELECT 1"
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("Readiness: datasource %s failed: %s", alias, exc)
        return type(exc).__name__
    return None


def check_broker() -> str | None:
    """Return ``None`` when the broker of ``settings.CELERY_BROKER_URL`` accepts a
    connection, else the error's class.

    The connection is built from the setting (with the transport options the settings give
    that broker), not from the Celery app's already-configured broker.
    """
    from config.celery import app, broker_transport_options

    url = settings.CELERY_BROKER_URL
    try:
        with app.connection_for_write(
            url=url, transport_options=broker_transport_options(url)
        ) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        logger.warning("Readiness: broker failed: %s", exc)
        return type(exc).__name__
    return None


def sandbox_mode() -> str:
    """Return how user code runs in this process: bubblewrap, unprotected or unavailable."""
    from core import sandbox

    state = sandbox.state()
    if not state["ready"]:
        logger.warning("Readiness: the sandbox of user code is unavailable: %s",
                       state.get("reason", ""))
    return state["mode"]


def row_level_security() -> str:
    """Return whether PostgreSQL row-level security protects the default datasource:
    "on", "off" or "ineffective" (the reason goes to the application log)."""
    from core import rls

    try:
        state = rls.status("default")
    except Exception as exc:  # noqa: BLE001 - the datasource check reports the failure
        logger.warning("Readiness: row-level security could not be checked: %s", exc)
        return "unknown"
    if state["state"] == "ineffective":
        logger.warning("Readiness: row-level security is ineffective: %s", state["reason"])
    return state["state"]


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer that the process is up."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when every datasource and the broker answer, 503 naming what failed."""
    checks = {f"database:{alias}": check_database(alias) for alias in settings.DATABASES}
    checks["broker"] = check_broker()
    failed = {name: error for name, error in checks.items() if error is not None}
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": {name: ("ok" if error is None else "failed") for name, error in checks.items()},
    }
    if failed:
        body["errors"] = failed
    body["sandbox"] = sandbox_mode()
    body["row_level_security"] = row_level_security()
    # The thresholds of seed 001 section 8.1 against current values, for an operator or a
    # scraper holding the metrics token only (config/ops.py); never for the public.
    if ops.may_see_details(request):
        body["details"] = ops.details()
    return JsonResponse(body, status=200 if not failed else 503)
