"""Admin of the API endpoint registry: operators switch routes off and narrow API keys.

Everything the code declares is read-only here (a sync would overwrite it); only
``is_enabled`` and ``required_scopes`` are operators' to edit. Rows come from the sync,
so there is no adding or deleting.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gateway.models import ApiEndpoint
from tenants.admin import OperatorOnlyAdmin

EDITABLE_FIELDS = ("is_enabled", "required_scopes")


@admin.register(ApiEndpoint)
class ApiEndpointAdmin(OperatorOnlyAdmin):
    """The registry's routes, for platform operators."""

    list_display = ["method", "path", "module", "permission_code", "is_enabled", "is_active",
                    "operation_id"]
    list_display_links = ["path"]
    list_filter = ["is_enabled", "is_active", "method", "module", "is_mcp_tool"]
    search_fields = ["path", "operation_id", "permission_code", "description"]
    ordering = ["path", "method"]
    fieldsets = [
        (_("Route (from the code)"), {"fields": ["method", "path", "module", "operation_id",
                                                 "permission_code", "description"]}),
        (_("Operator's switches"), {"fields": list(EDITABLE_FIELDS)}),
        (_("Record"), {"fields": ["is_mcp_tool", "is_active", "last_synced_at", "created_at",
                                  "updated_at"]}),
    ]
    actions = ["enable_selected", "disable_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [
            f.name for f in self.model._meta.concrete_fields if f.name not in EDITABLE_FIELDS
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _switch(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        changed = 0
        for endpoint in queryset.exclude(is_enabled=enabled):
            endpoint.is_enabled = enabled
            endpoint.save(update_fields=["is_enabled", "updated_at"])
            self.log_change(request, endpoint, [{"changed": {"fields": ["is_enabled"]}}])
            changed += 1
        self.message_user(
            request,
            ngettext("Switched %(count)d endpoint.", "Switched %(count)d endpoints.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Enable selected endpoints"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Enable the selected endpoints."""
        self._switch(request, queryset, True)

    @admin.action(description=_("Disable selected endpoints (they answer 404)"),
                  permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Disable the selected endpoints."""
        self._switch(request, queryset, False)
