"""Read-only admin of the login log."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from logs.models import LoginLog
from rbac.access import restrict
from tenants.admin import is_operator


@admin.register(LoginLog)
class LoginLogAdmin(admin.ModelAdmin):
    """Sign-in attempts. Log rows are append-only: nobody adds, edits or deletes them here."""

    list_display = ["created_at", "tenant_code", "username", "login_status", "reason", "ip_address"]
    list_filter = ["login_status", "reason"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at", "tenant", "user", "tenant_code", "username", "ip_address",
        "user_agent", "login_status", "reason", "error_message",
    ]
    show_full_result_count = False

    def get_list_display(self, request: HttpRequest):
        list_display = list(super().get_list_display(request))
        if is_operator(request):
            list_display.insert(1, "tenant")
        return list_display

    def get_list_filter(self, request: HttpRequest):
        list_filter = list(super().get_list_filter(request))
        if is_operator(request):
            list_filter.insert(0, "tenant")
        return list_filter

    def get_queryset(self, request: HttpRequest):
        # Attempts of the users the data scope reaches (rbac); operators see every tenant.
        return restrict(super().get_queryset(request), request.user).select_related("tenant", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
