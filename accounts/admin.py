"""Admin for users, departments (a drag-and-drop tree) and positions.

RBAC extends the user admin with the user's roles and an access preview, and owns the
admin of API keys, whose scopes are grants (``rbac.admin``).
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from mptt.admin import DraggableMPTTAdmin

from accounts import services
from accounts.choices import UserStatus
from accounts.models import Department, Position, User
from tenants.admin import TenantFormMixin, TenantScopedAdmin

# How an unlock is written in the admin's change log (the history names who and when).
UNLOCKED = [{"unlocked": {}}]
UNLOCKED_JSON = json.dumps(UNLOCKED)


# Django's groups are not used: permissions come from RBAC roles only (the user model has no
# groups). Listed beside "Roles" on the index they read as a second permission system
# (issue 17, item 7). Importing django.contrib.auth.admin above registered them first.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


def _unlocked_message() -> str:
    return str(_("Unlocked the account."))


class UserChangeForm(TenantFormMixin, auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = "__all__"


class UserCreationForm(TenantFormMixin, auth_forms.AdminUserCreationForm):
    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)

    def clean_username(self) -> str:
        # Django's version checks usernames across the whole table; here uniqueness is
        # per tenant and case-insensitive, checked by the model's constraint.
        return User.normalize_username(self.cleaned_data["username"])


@admin.register(User)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ["username", "name", "email", "department", "position", "status", "is_staff"]
    list_filter = ["status", "is_staff", "department", "position"]
    list_select_related = ["department", "position"]
    search_fields = ["username", "name", "email", "phone"]
    ordering = ["username"]
    autocomplete_fields = ["department", "position"]
    filter_horizontal = ()
    readonly_fields = ["locked_until", "last_login_at", "last_login_ip", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (
            _("Profile"),
            {"fields": ["name", "email", "phone", "department", "position", "language"]},
        ),
        (_("Access"), {"fields": ["status", "locked_until", "is_staff", "is_superuser"]}),
        (_("Activity"), {"fields": ["last_login_at", "last_login_ip", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "usable_password", "password1", "password2"]}),
        (
            _("Profile"),
            {"fields": ["name", "email", "phone", "department", "position", "language"]},
        ),
    ]
    actions = ["restore_selected", "unlock_selected"]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "is_superuser"]})
            for name, options in fieldsets
        ]

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        """The history, with an unlock said as such (Django's own wording of a change log
        knows only added, changed and deleted, and would call it "No fields changed")."""
        response = super().history_view(request, object_id, extra_context)
        page = getattr(response, "context_data", {}).get("action_list")
        if page is not None:
            page.object_list = list(page.object_list)
            for entry in page.object_list:
                if entry.change_message == UNLOCKED_JSON:
                    entry.get_change_message = _unlocked_message
        return response

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        """Return whether the user may unlock accounts (``user:unlock``)."""
        return request.user.has_perm("user:unlock")

    @admin.action(description=_("Unlock selected users"), permissions=["unlock"])
    def unlock_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Unlock locked accounts, recording who unlocked them."""
        unlocked = 0
        for user in queryset.filter(status=UserStatus.LOCKED):
            services.unlock_user(user=user)
            self.log_change(request, user, UNLOCKED)
            unlocked += 1
        self.message_user(
            request,
            ngettext("Unlocked %(count)d user.", "Unlocked %(count)d users.", unlocked)
            % {"count": unlocked},
            messages.SUCCESS if unlocked else messages.WARNING,
        )


class DepartmentForm(TenantFormMixin, forms.ModelForm):
    class Meta:
        model = Department
        fields = "__all__"


@admin.register(Department)
class DepartmentAdmin(TenantScopedAdmin, DraggableMPTTAdmin):
    form = DepartmentForm
    list_display = ["tree_actions", "indented_title", "code", "status"]
    list_display_links = ["indented_title"]
    list_filter = ["status"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["parent"]
    mptt_level_indent = 20
    # Open with every branch expanded (issue 17, item 7): collapsed, the tree showed only
    # its roots. What an operator collapses or expands is still remembered by the browser.
    expand_tree_by_default = True

    def get_ordering(self, request: HttpRequest):
        return ["tree_id", "lft"]

    def get_actions(self, request: HttpRequest):
        # django-mptt swaps in its delete_selected_tree, which deletes without looking at
        # the protected rows (soft_delete_blockers): a confirmed POST then failed with a
        # ValidationError (500). Soft delete leaves the tree as it is, so Django's own
        # action, which shows the protected page instead, is the right one.
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = self.get_action("delete_selected")
        return actions


@admin.register(Position)
class PositionAdmin(TenantScopedAdmin):
    list_display = ["code", "name", "sort_order", "status"]
    list_filter = ["status"]
    search_fields = ["code", "name"]
    ordering = ["sort_order", "code"]


