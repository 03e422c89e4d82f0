"""Admin for roles (with inline permissions, menus and departments), menus (a tree),
the permission catalogue (read-only), tenant packages, the users' roles with an access
preview (extending the accounts user admin), and API keys, whose scopes are grants."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from mptt.admin import DraggableMPTTAdmin

from accounts import admin as accounts_admin
from accounts.services import api_keys as api_key_services
from accounts.models import ApiKey, Department, User
from core.context import tenant_context
from rbac import grants
from rbac.access import describe_scope, get_access
from rbac.forms import CodeListField
from rbac.models import (
    DataScope,
    Menu,
    Permission,
    Role,
    RoleDepartment,
    RoleMenu,
    RolePermission,
    UserRole,
)
from rbac.navigation import visible_menus
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
        # A custom data scope without departments reaches no rows at all, which nobody
        # means (issue 17, item 7). self.instance carries the role form's posted values.
        if self.instance.data_scope == DataScope.CUSTOM and not self.chosen()[0]:
            raise ValidationError(
                _("Choose at least one department: the data scope is \"Chosen departments\"."),
                code="no_departments",
            )


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
    # Named as the data scope choice that uses these rows (DataScope.CUSTOM).
    verbose_name = _("chosen department")
    verbose_name_plural = _("chosen departments")


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

    list_display = ["code", "label", "type", "module", "is_active"]
    list_filter = ["type", "module", "is_active"]
    search_fields = ["code", "name"]
    readonly_fields = ["code", "label", "type", "module", "description", "is_active",
                       "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if is_operator(request):
            return queryset
        package = tenant_of(request).package
        return queryset.filter(packages=package, is_active=True) if package else queryset.none()

    @admin.display(description=_("name"), ordering="name")
    def label(self, obj: Permission) -> str:
        """The permission's name in the reader's language."""
        return obj.label

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
    fields = ["code", "name", "description", "status", "max_users", "max_concurrent_runs",
              "confirm_narrowing"]
    inlines = [PackageOperationInline, PackageMenuInline]


# ---------------------------------------------------------------------------
# The user admin with roles and an access preview
# ---------------------------------------------------------------------------


class UserRoleFormSet(forms.BaseInlineFormSet):
    """The roles of a user: of the user's tenant, and never more than the editor holds."""

    request: HttpRequest | None = None

    def clean(self) -> None:
        super().clean()
        added = []
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            role = form.cleaned_data.get("role")
            if role is None:
                continue
            if self.instance.tenant_id and role.tenant_id != self.instance.tenant_id:
                form.add_error("role", _("Choose a role of the user's tenant."))
            elif form.has_changed():
                added.append(role)
        if self.request is not None and added:
            try:
                grants.check_role_assignment(self.request.user, added, field="role")
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["role"]) from exc


class UserRoleInline(ParentPermissionInline):
    model = UserRole
    fk_name = "user"
    formset = UserRoleFormSet
    autocomplete_fields = ["role"]
    verbose_name = _("role")
    verbose_name_plural = _("roles")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(accounts_admin.UserAdmin):
    """The accounts user admin, with the user's roles and what they can see and do."""

    inlines = [UserRoleInline]

    def get_inlines(self, request: HttpRequest, obj=None):
        # Roles are given once the user exists (the add form is the password form).
        return self.inlines if obj is not None else []

    change_form_template = "admin/accounts/user/change_form.html"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/access/",
                self.admin_site.admin_view(self.access_preview_view),
                name="accounts_user_access",
            ),
            *super().get_urls(),
        ]

    def access_preview_view(self, request: HttpRequest, object_id: str):
        """Show what the user can see and do: menus, permissions and data scope."""
        user = self.get_object(request, object_id)
        if user is None or not self.has_view_permission(request, user):
            raise Http404
        access = get_access(user)
        permissions = Permission.objects.filter(code__in=access.permissions).order_by("module", "code")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": user,
            "title": _("What %(user)s can see and do") % {"user": user.username},
            "menus": visible_menus(access),
            "permissions": permissions,
            "scope": describe_scope(access, user),
            "chosen_departments": self.chosen_departments(access, user),
            "roles": user.roles.all(),
        }
        return TemplateResponse(request, "admin/accounts/user/access_preview.html", context)

    def chosen_departments(self, access, user: User) -> list[Department]:
        """Return the departments the user's custom data scopes name, in tree order.

        The preview names them: a count alone ("1 chosen department") does not tell the
        operator which rows the user reaches (issue 17, item 7).
        """
        if not access.scope.department_ids:
            return []
        with tenant_context(user.tenant):
            return list(Department.objects.filter(pk__in=access.scope.department_ids)
                        .order_by("tree_id", "lft"))


# ---------------------------------------------------------------------------
# API keys: issued through the service, the plaintext shown once in the success message
# after adding, the hash never displayed, scopes (grants) within the issuer's own and only
# narrowed afterwards.
# ---------------------------------------------------------------------------


class ApiKeyFormMixin(forms.Form):
    scopes = CodeListField(
        label=_("Scopes"),
        required=False,
        help_text=_("Permission codes the key may use, one per line (e.g. user:view). "
                    "Empty: none. They can only be narrowed later."),
    )
    allowed_ips = CodeListField(
        label=_("Allowed IPs"),
        required=False,
        help_text=_("IP addresses or CIDR networks, one per line. Empty: any address."),
    )


class ApiKeyAddForm(ApiKeyFormMixin, TenantModelForm):
    """Issue a key: the tenant is the chosen user's; the secret is made on save."""

    # Set per request by ApiKeyAdmin.get_form: the codes the editor may grant (None: any).
    allowed_scopes: set[str] | None = None

    class Meta:
        model = ApiKey
        fields = ["user", "name", "scopes", "expires_at", "allowed_ips"]

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")
        if user is not None:
            self.instance.tenant_id = user.tenant_id
        if self.allowed_scopes is not None and "scopes" in cleaned:
            refused = sorted(set(cleaned["scopes"]) - set(self.allowed_scopes))
            if refused:
                self.add_error(
                    "scopes",
                    _("You cannot grant these scopes: %(codes)s") % {"codes": ", ".join(refused)},
                )
        return cleaned


class ApiKeyChangeForm(ApiKeyFormMixin, TenantModelForm):
    """Rename, narrow the scopes, change expiry and allowed addresses of a key."""

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at", "allowed_ips"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    form = ApiKeyChangeForm
    add_form = ApiKeyAddForm
    list_display = ["name", "user", "prefix", "scope_list", "expires_at", "revoked",
                    "last_used_at", "last_used_ip"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    ordering = ["-created_at"]
    actions = ["revoke_selected", "restore_selected"]
    add_fieldsets = [
        (None, {"fields": ["user", "name", "scopes"]}),
        (_("Restrictions"), {"fields": ["expires_at", "allowed_ips"]}),
    ]
    change_readonly = ["user", "prefix", "revoked_at", "revoked_by", "last_used_at",
                       "last_used_ip", "created_at", "created_by", "updated_at"]

    def grantable_scopes(self, request: HttpRequest) -> set[str] | None:
        """Return the scope codes the editor may grant (``None``: any well-formed code).

        A key acts as its user narrowed by its scopes; on top of that, nobody hands out
        scopes beyond their own permissions.
        """
        if request.user.is_superuser:
            return None
        return set(get_access(request.user).permissions)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        # Not TenantScopedAdmin's: the tenant of a key is always its user's.
        if obj is None:
            return self.add_fieldsets
        record = ["user", "prefix", "created_at", "created_by", "updated_at"]
        if is_operator(request):
            record.insert(0, "tenant")
        return [
            (None, {"fields": ["name", "scopes"]}),
            (_("Restrictions"), {"fields": ["expires_at", "allowed_ips"]}),
            (_("Key"), {"fields": record}),
            (_("Use"), {"fields": ["revoked_at", "revoked_by", "last_used_at", "last_used_ip"]}),
        ]

    def get_exclude(self, request: HttpRequest, obj=None):
        return [*(super().get_exclude(request, obj) or []), "tenant"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return []
        return [*super().get_readonly_fields(request, obj), *self.change_readonly]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form.allowed_scopes = self.grantable_scopes(request)
        return form

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            # Keys for other users only for those who could already change those users
            # (and so set their passwords); everyone else issues keys for themselves.
            editor = request.user
            if editor.is_superuser or editor.has_perm("accounts.change_user"):
                kwargs["queryset"] = User.objects.select_related("tenant")
            else:
                kwargs["queryset"] = User.objects.filter(pk=editor.pk).select_related("tenant")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and is_operator(request):
            field.label_from_instance = lambda user: f"{user.username} ({user.tenant.code})"
        return field

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        plaintext = api_key_services.save_new_api_key(
            api_key=obj, allowed_scopes=self.grantable_scopes(request)
        )
        # The only time the key exists in clear; it is not stored and cannot be shown again.
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                _("Copy this API key now: it will not be shown again."),
                plaintext,
            ),
            messages.SUCCESS,
        )

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "—"

    @admin.display(description=_("revoked"), boolean=True)
    def revoked(self, obj: ApiKey) -> bool:
        return obj.is_revoked

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Revoke the selected live keys, recording who revoked them."""
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_services.revoke_api_key(api_key=api_key)
            self.log_change(request, api_key, [{"revoked": {}}])
            revoked += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", revoked)
            % {"count": revoked},
            messages.SUCCESS if revoked else messages.WARNING,
        )
