"""Admin for users, departments (a drag-and-drop tree) and positions."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Permission
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from mptt.admin import DraggableMPTTAdmin

from accounts import services
from accounts.choices import UserStatus
from accounts.models import Department, Position, User
from tenants.admin import TenantFormMixin, TenantScopedAdmin, is_operator

# Permissions on these apps are the platform's own; tenant users are never granted them.
PLATFORM_ONLY_APPS = ("admin", "auth", "config", "contenttypes", "sessions", "tenants")


def grantable_permissions(request: HttpRequest) -> QuerySet:
    """Return the permissions the requesting user may grant: never more than their own."""
    queryset = Permission.objects.select_related("content_type")
    user = request.user
    if not user.is_platform_operator:
        queryset = queryset.exclude(content_type__app_label__in=PLATFORM_ONLY_APPS)
    if not user.is_superuser:
        own = {
            tuple(perm.split(".", 1)) for perm in user.get_all_permissions()
        }
        allowed = [
            perm.pk
            for perm in queryset
            if (perm.content_type.app_label, perm.codename) in own
        ]
        queryset = queryset.filter(pk__in=allowed)
    return queryset


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
    filter_horizontal = ["user_permissions"]
    readonly_fields = ["locked_until", "last_login_at", "last_login_ip", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Profile"), {"fields": ["name", "email", "phone", "department", "position"]}),
        (_("Access"), {"fields": ["status", "locked_until", "is_staff", "is_superuser",
                                  "user_permissions"]}),
        (_("Activity"), {"fields": ["last_login_at", "last_login_ip", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "usable_password", "password1", "password2"]}),
        (_("Profile"), {"fields": ["name", "email", "phone", "department", "position"]}),
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

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user_permissions":
            kwargs["queryset"] = grantable_permissions(request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # A grant is bounded by the editor's own permissions: keep the permissions of the
        # edited user that the editor could not see in the form.
        if "user_permissions" in form.cleaned_data and not request.user.is_superuser:
            visible = set(grantable_permissions(request).values_list("pk", flat=True))
            hidden = form.instance.user_permissions.exclude(pk__in=visible)
            form.cleaned_data["user_permissions"] = [
                *form.cleaned_data["user_permissions"], *hidden
            ]
        super().save_related(request, form, formsets, change)

    @admin.action(description=_("Unlock selected users"), permissions=["change"])
    def unlock_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Unlock locked accounts, recording who unlocked them."""
        unlocked = 0
        for user in queryset.filter(status=UserStatus.LOCKED):
            services.unlock_user(user=user)
            self.log_change(request, user, [{"unlocked": {}}])
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
