"""The MCP gateway.

The package is ``gateway`` because the official MCP SDK owns the top-level name ``mcp``;
the app label stays ``mcp`` (tables, migrations, permission codes and admin URLs).
"""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_registry(sender, using="default", **kwargs) -> None:
    """Record the API's routes after ``migrate`` (once, on the mcp app).

    A route that declares no permission code fails ``migrate`` here, as it fails
    ``manage.py sync_endpoints``: every route states what it needs (issue 3, item 8).
    """
    from django.db import connections, router

    from gateway.models import ApiEndpoint
    from gateway.registry import sync_endpoints

    if not router.allow_migrate_model(using, ApiEndpoint):
        return
    # ``migrate mcp zero`` and partial plans leave no table to write to.
    if ApiEndpoint._meta.db_table not in connections[using].introspection.table_names():
        return
    sync_endpoints(using=using)


class McpConfig(AppConfig):
    """Own the API endpoint registry, MCP tools, the MCP server endpoint and tool call logs."""

    name = "gateway"
    label = "mcp"
    verbose_name = _("MCP gateway")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from gateway import (
            limits,
            signals,  # noqa: F401  (drops cached endpoint rules on change)
        )

        # A malformed MCP_RATE_LIMITS stops start-up, not the first call.
        checks.register(limits.check_settings)

        post_migrate.connect(sync_registry, sender=self, dispatch_uid="mcp.sync_registry")
