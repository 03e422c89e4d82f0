"""The MCP gateway."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class McpConfig(AppConfig):
    """Own the API endpoint registry, MCP tools, the MCP server endpoint and tool call logs."""

    name = "mcp"
    verbose_name = _("MCP gateway")
    default_auto_field = "django.db.models.BigAutoField"
