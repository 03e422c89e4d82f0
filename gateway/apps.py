"""The MCP gateway.

The package is ``gateway`` because the official MCP SDK owns the top-level name ``mcp``;
the app label stays ``mcp`` (tables, migrations, permission codes and admin URLs).
"""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class McpConfig(AppConfig):
    """Own MCP tools, the MCP server endpoint and tool call logs."""

    name = "gateway"
    label = "mcp"
    verbose_name = _("MCP gateway")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from gateway import (
            limits,
            signals,  # noqa: F401  (drops the cached tool catalogue on change)
        )

        # A malformed MCP_RATE_LIMITS stops start-up, not the first call.
        checks.register(limits.check_settings)
        # Tool calls per tenant and day in the usage rollups.
        from gateway.usage import count_mcp_calls
        from logs.usage import register_counter

        register_counter("mcp_calls", count_mcp_calls)
        # The call log writer (gateway.calllog) starts with a process's first queued call;
        # at exit it writes what is queued, so a clean shutdown loses no call.
        import atexit

        from gateway import calllog

        atexit.register(calllog.stop)
