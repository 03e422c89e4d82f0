"""Admin of notifications: targets by audience, read receipts."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from notifications.models import (
    Notification,
    NotificationDepartment,
    NotificationRole,
    NotificationUser,
)
from notifications.services import MISSING_TARGETS, TARGET_ARGUMENTS, UNEXPECTED_TARGETS
from tenants.admin import TenantScopedAdmin


class NotificationTargetFormSet(forms.BaseInlineFormSet):
    """The rows of one kind of target: required by their audience, refused by the others.

    Each row's model ``clean`` refuses a target of another tenant than the notification's
    (an operator's choices span every tenant).
    """

    audience = ""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        argument = TARGET_ARGUMENTS[self.audience]
        if self.instance.audience == self.audience and not rows:
            raise ValidationError(MISSING_TARGETS[argument])
        if self.instance.audience != self.audience and rows:
            raise ValidationError(UNEXPECTED_TARGETS[argument])


class NotificationTargetInline(admin.TabularInline):
    """Targets of one audience, edited with the notification's own permissions."""

    formset = NotificationTargetFormSet
    audience = ""
    extra = 0

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"audience": self.audience})

    def _notification_perm(self, request: HttpRequest, action: str) -> bool:
        opts = Notification._meta
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._notification_perm(request, "view") or self._notification_perm(
            request, "change"
        )

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._notification_perm(request, "add" if obj is None else "change")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_add_permission(request, obj)


class NotificationUserInline(NotificationTargetInline):
    model = NotificationUser
    audience = "users"
    autocomplete_fields = ["user"]


class NotificationDepartmentInline(NotificationTargetInline):
    model = NotificationDepartment
    audience = "departments"
    autocomplete_fields = ["department"]


class NotificationRoleInline(NotificationTargetInline):
    model = NotificationRole
    audience = "roles"
    autocomplete_fields = ["role"]


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin):
    """Notifications of a tenant, their targets, and how many recipients have read them."""

    list_display = [
        "title", "type", "level", "audience", "status", "published_at", "expires_at", "sender",
        "read_count",
    ]
    list_filter = ["type", "level", "audience", "status"]
    list_select_related = ["sender"]
    search_fields = ["title", "content"]
    readonly_fields = ["sender", "read_count", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "content", "type", "level"]}),
        (_("Recipients"), {"fields": ["audience"]}),
        (_("Schedule"), {"fields": ["status", "published_at", "expires_at"]}),
        (_("Record"), {"fields": ["sender", "read_count", "created_at", "updated_at"]}),
    ]
    inlines = [NotificationUserInline, NotificationDepartmentInline, NotificationRoleInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(receipt_count=Count("reads"))

    @admin.display(description=_("read receipts"), ordering="receipt_count")
    def read_count(self, obj: Notification) -> int:
        """Return how many recipients have read the notification."""
        count = getattr(obj, "receipt_count", None)
        return obj.reads.count() if count is None else count

    def save_model(self, request: HttpRequest, obj: Notification, form, change: bool) -> None:
        # The author signs a new notification when they belong to its tenant; an operator's
        # notification to a tenant goes out as the system's.
        if not change and obj.sender_id is None and request.user.tenant_id == obj.tenant_id:
            obj.sender_id = request.user.pk
        super().save_model(request, obj, form, change)


