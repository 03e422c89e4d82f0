"""The "test connection" of a project's database (seed 001 section 3.3).

The host is resolved and checked against the tenant's outbound policy (``tenants.network``)
before anything is sent; the driver then connects to the checked address (never the name
again, so a DNS answer that changes cannot reach another host), within
``TESTING_DB_CONNECT_TIMEOUT``. The outcome is stored on the row with a readable reason;
the password is unsealed only for the connection and never appears in the reason.
"""

from __future__ import annotations

import logging
import socket
import time

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core.deadlines import TimeBudget
from core.outbound import OutboundError, resolve
from tenants.models import Tenant
from testing.choices import ConnectionStatus, DatabaseType
from testing.engine.spec import DatabaseSpec
from testing.engine.sql import open_connection
from testing.models import DatabaseConfig
from tenants.network import outbound_policy

logger = logging.getLogger(__name__)


class ConnectionFailed(Exception):
    """A connection that did not succeed, with a message safe to show."""


def database_spec(config: DatabaseConfig) -> DatabaseSpec:
    """Return the engine's view of ``config``, its password unsealed."""
    return DatabaseSpec(name=config.variable_name, db_type=config.db_type, host=config.host,
                        port=config.port, database=config.initial_database,
                        username=config.username, password=str(config.password or ""),
                        label=config.name)


def _connect(config: DatabaseConfig, address: str, timeout: float) -> None:
    """Open and close one connection to ``address`` with ``config``'s credentials."""
    connection = open_connection(database_spec(config), address, timeout)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1 FROM DUAL" if config.db_type == DatabaseType.ORACLE
                       else "SELECT 1")
        cursor.fetchall()
    finally:
        connection.close()


def _reason(exc: BaseException, config: DatabaseConfig) -> str:
    """Return a readable reason for a failed connection, without the password."""
    text = " ".join(str(exc).split())[:300]
    password = config.password
    if password:
        text = text.replace(str(password), "••••••")
    return text or exc.__class__.__name__


def check_connection(config: DatabaseConfig) -> DatabaseConfig:
    """Connect to ``config``'s database once and record the outcome on the row.

    Never raises for a failed connection: the status says ``failed`` with the reason
    (refused by the network policy, unreachable, wrong credentials, timed out).
    """
    timeout = settings.TESTING_DB_CONNECT_TIMEOUT
    budget = TimeBudget(timeout)
    tenant = Tenant.objects.get(pk=config.tenant_id)
    started = time.monotonic()
    status, message = ConnectionStatus.FAILED, ""
    try:
        addresses = resolve(config.host, config.port, policy=outbound_policy(tenant),
                            budget=budget, what=f"database {config.variable_name}")
        last_error: BaseException | None = None
        for family, sockaddr in addresses:
            try:
                _connect(config, sockaddr[0], max(0.1, budget.left()))
                last_error = None
                break
            except Exception as exc:  # noqa: BLE001 (every driver error becomes a reason)
                last_error = exc
        if last_error is not None:
            raise ConnectionFailed(_reason(last_error, config))
        status = ConnectionStatus.CONNECTED
        message = _("Connected in %(ms)d ms.") % {"ms": (time.monotonic() - started) * 1000}
    except OutboundError as exc:
        message = exc.message
    except ConnectionFailed as exc:
        message = str(exc)
    except (socket.timeout, TimeoutError):
        message = _("No answer within %(seconds)s s.") % {"seconds": timeout}
    if status != ConnectionStatus.CONNECTED:
        logger.info("Test connection of database %s (%s) failed: %s", config.pk,
                    config.variable_name, message)
    config.connection_status = status
    config.status_message = str(message)[:500]
    config.last_tested_at = timezone.now()
    DatabaseConfig.objects.all_tenants().filter(pk=config.pk).update(
        connection_status=config.connection_status, status_message=config.status_message,
        last_tested_at=config.last_tested_at)
    return config
