"""Role-based access control."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RbacConfig(AppConfig):
    """Own roles, permissions, menus (a tree), data scopes, and the one permission decision
    used by the admin, the API, the pages and the MCP tools."""

    name = "rbac"
    verbose_name = _("Access control")
    default_auto_field = "django.db.models.BigAutoField"
