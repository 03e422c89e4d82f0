"""The API endpoint registry (seed 000 section 3.13, issue 3 item 8).

One row per route and method of the REST API, written by ``mcp.registry.sync_endpoints``
from the code (path, method, module, description, operation id, permission code) after
every ``migrate`` and on demand. Operators edit only ``is_enabled`` and ``required_scopes``;
a sync never touches them. A route that disappears from the code keeps its row, marked
``is_active=False``, so an operator's settings come back with it.

The registry is platform-wide, not tenant-owned: tenants may at most read it
(``rbac_platform_actions``). The seed's ``mcp_tool_id`` link waits for the MCP tools table.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models.api_keys import validate_scopes
from mcp.choices import HttpMethod


def validate_required_scopes(value) -> None:
    """Refuse anything but a list of permission codes, the form of an API key's scopes."""
    validate_scopes(value)


class ApiEndpoint(models.Model):
    """One route and method of the REST API, as the code declares it, with operators' switches."""

    id = models.BigAutoField(primary_key=True)
    path = models.CharField(
        _("path"), max_length=255,
        help_text=_("The route's path template as the OpenAPI schema names it, e.g. "
                    "/api/v1/users/{id}/."),
    )
    method = models.CharField(_("method"), max_length=10, choices=HttpMethod.choices)
    module = models.CharField(_("module"), max_length=100, blank=True,
                              help_text=_("The app that serves the route."))
    description = models.TextField(_("description"), blank=True)
    operation_id = models.CharField(_("operation id"), max_length=255, blank=True)
    permission_code = models.CharField(
        _("permission code"), max_length=100,
        help_text=_("The permission the route needs; \"authenticated\": any signed-in user."),
    )
    required_scopes = models.JSONField(
        _("required scopes"), default=list, blank=True, validators=[validate_required_scopes],
        help_text=_("Permission codes an API key must also hold to call the route."),
    )
    is_enabled = models.BooleanField(
        _("enabled"), default=True,
        help_text=_("A disabled route answers 404 to everybody."),
    )
    is_mcp_tool = models.BooleanField(_("MCP tool"), default=False)
    is_active = models.BooleanField(
        _("active"), default=True,
        help_text=_("False once the route no longer exists in the code."),
    )
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    rbac_resource = "endpoint"
    rbac_platform_actions = ("create", "update", "delete")

    class Meta:
        db_table = "api_endpoints"
        verbose_name = _("API endpoint")
        verbose_name_plural = _("API endpoints")
        ordering = ["path", "method"]
        constraints = [
            models.UniqueConstraint(
                fields=["path", "method"],
                name="mcp_apiendpoint_unique_path_method",
                violation_error_message=_("This route and method are already registered."),
            ),
        ]
        indexes = [models.Index(fields=["module"], name="api_endpoints_module_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"
