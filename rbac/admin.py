"""Admin for roles (with inline permissions, menus and departments), menus (a tree),
the permission catalogue (read-only) and tenant packages."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from mptt.admin import DraggableMPTTAdmin

from rbac import grants
from rbac.models import Menu, Permission, Role, RoleDepartment, RoleMenu, RolePermission
from tenants.admin import (
    OperatorOnlyAdmin,
    ParentPermissionInline,
    TenantModelForm,
    TenantScopedAdmin,
    is_operator,
)
from tenants.models import PackageMenu, PackageOperation, TenantPackage


def tenant_of(request: HttpRequest):
    """Return the tenant whose package bounds the requesting user's choices."""
    return request.user.tenant


class GrantFormSet(forms.BaseInlineFormSet):
    """Inline rows of a role, with the request at hand for the grant rules."""

    request: HttpRequest | None = None
    field_name = ""

    def chosen(self) -> tuple[list, list]:
        """Return (every kept value, the newly added ones)."""
        kept, added = [], []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get(self.field_name) is None:
                continue
            kept.append(data[self.field_name])
            if form.instance.pk is None:
                added.append(data[self.field_name])
        return kept, added


class RolePermissionFormSet(GrantFormSet):
    field_name = "permission"

    def clean(self) -> None:
        super().clean()
        kept, added = self.chosen()
        try:
            grants.check_within_package(self.instance.tenant, [p.code for p in kept], "permission")
            grants.check_within_granter(self.request.user, [p.code for p in added], "permission")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["permission"]) from exc


class RoleDepartmentFormSet(GrantFormSet):
    field_name = "department"

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            department = getattr(form, "cleaned_data", {}).get("department")
            if department is not None and department.tenant_id != self.instance.tenant_id:
                form.add_error("department", _("Choose a department of the role's tenant."))


class RoleMenuFormSet(GrantFormSet):
    field_name = "menu"

    def clean(self) -> None:
        super().clean()
        tenant = self.instance.tenant
        if tenant.is_platform:
            return
        allowed = set(tenant.package.menus.values_list("pk", flat=True)) if tenant.package else set()
        over = [menu.name for menu in self.chosen()[0] if menu.pk not in allowed]
        if over:
            raise ValidationError(
                _("The tenant's package does not include the menus: %(menus)s.")
                % {"menus": ", ".join(over)}
            )


class RolePermissionInline(ParentPermissionInline):
    model = RolePermission
    formset = RolePermissionFormSet
    autocomplete_fields = ["permission"]
    verbose_name = _("permission")
    verbose_name_plural = _("permissions")


class RoleMenuInline(ParentPermissionInline):
    model = RoleMenu
    formset = RoleMenuFormSet
    autocomplete_fields = ["menu"]
    verbose_name = _("menu")
    verbose_name_plural = _("menus")


class RoleDepartmentInline(ParentPermissionInline):
    model = RoleDepartment
    formset = RoleDepartmentFormSet
    autocomplete_fields = ["department"]
    verbose_name = _("department of a custom data scope")
    verbose_name_plural = _("departments of a custom data scope")


class RoleForm(TenantModelForm):
    class Meta:
        model = Role
        fields = "__all__"

    request: HttpRequest | None = None

    def clean_data_scope(self) -> str:
        scope = self.cleaned_data["data_scope"]
        if self.request is not None and scope != self.initial.get("data_scope"):
            try:
                grants.check_scope_within_granter(self.request.user, scope)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["data_scope"]) from exc
        return scope


@admin.register(Role)
class RoleAdmin(TenantScopedAdmin):
    form = RoleForm
    list_display = ["code", "name", "data_scope", "status", "is_system", "sort_order"]
    list_filter = ["status", "data_scope", "is_system"]
    search_fields = ["code", "name"]
    ordering = ["sort_order", "code"]
    inlines = [RolePermissionInline, RoleMenuInline, RoleDepartmentInline]
    fields = ["code", "name", "description", "status", "data_scope", "sort_order"]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.is_system:
            readonly.append("code")
        return readonly


@admin.register(Permission)
class PermissionAdmin(admin.ModelAdmin):
    """The generated catalogue: read-only. Tenant users see what their package grants."""

    list_display = ["code", "name", "type", "module", "is_active"]
    list_filter = ["type", "module", "is_active"]
    search_fields = ["code", "name"]
    readonly_fields = ["code", "name", "type", "module", "description", "is_active",
                       "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if is_operator(request):
            return queryset
        package = tenant_of(request).package
        return queryset.filter(packages=package, is_active=True) if package else queryset.none()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Menu)
class MenuAdmin(DraggableMPTTAdmin):
    """The navigation tree, edited by operators; tenant users see their package's entries."""

    list_display = ["tree_actions", "indented_title", "code", "path", "permission",
                    "is_visible", "status"]
    list_display_links = ["indented_title"]
    list_filter = ["status", "is_visible"]
    search_fields = ["name", "code", "path"]
    autocomplete_fields = ["parent", "permission"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if is_operator(request):
            return queryset
        package = tenant_of(request).package
        return queryset.filter(packages=package) if package else queryset.none()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_operator(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_operator(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_operator(request) and super().has_delete_permission(request, obj)


class PackageOperationFormSet(forms.BaseInlineFormSet):
    """Show which roles would lose which permissions before a package narrows."""

    def clean(self) -> None:
        super().clean()
        package = self.instance
        if package.pk is None:
            return
        kept = {
            form.cleaned_data["permission"].code
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("permission") is not None
        }
        before = set(package.permissions.values_list("code", flat=True))
        removed = before - kept
        if not removed or self.data.get("confirm_narrowing"):
            return
        losses = narrowing_losses(package, removed)
        if losses:
            lines = "; ".join(
                f"{tenant_code}/{role_code}: {', '.join(sorted(codes))}"
                for (tenant_code, role_code), codes in sorted(losses.items())
            )
            raise ValidationError(
                _("These roles would lose permissions: %(lines)s. Tick \"Confirm narrowing\" "
                  "and save again to apply.") % {"lines": lines}
            )


def narrowing_losses(package: TenantPackage, removed: set[str]) -> dict:
    """Return {(tenant code, role code): codes it would lose} if ``removed`` left ``package``."""
    rows = RolePermission.objects.filter(
        permission__code__in=removed,
        role__tenant__package=package,
        role__is_deleted=False,
    ).values_list("role__tenant__code", "role__code", "permission__code")
    losses: dict = {}
    for tenant_code, role_code, code in rows:
        losses.setdefault((tenant_code, role_code), set()).add(code)
    return losses


class PackageOperationInline(ParentPermissionInline):
    model = PackageOperation
    formset = PackageOperationFormSet
    autocomplete_fields = ["permission"]
    verbose_name = _("operation")
    verbose_name_plural = _("operations")


class PackageMenuInline(ParentPermissionInline):
    model = PackageMenu
    autocomplete_fields = ["menu"]
    verbose_name = _("menu")
    verbose_name_plural = _("menus")


class TenantPackageForm(forms.ModelForm):
    confirm_narrowing = forms.BooleanField(
        label=_("Confirm narrowing"), required=False,
        help_text=_("Apply even though roles of this package's tenants lose permissions."),
    )

    class Meta:
        model = TenantPackage
        fields = "__all__"


@admin.register(TenantPackage)
class TenantPackageAdmin(OperatorOnlyAdmin):
    form = TenantPackageForm
    list_display = ["code", "name", "status", "max_users", "updated_at"]
    list_filter = ["status"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "description", "status", "max_users", "confirm_narrowing"]
    inlines = [PackageOperationInline, PackageMenuInline]
