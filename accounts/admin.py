"""Admin for users, departments (a drag-and-drop tree) and positions."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from mptt.admin import DraggableMPTTAdmin

from accounts import services
from accounts.choices import UserStatus
from accounts.models import (
    Department,
    Notification,
    NotificationDepartment,
    NotificationRole,
    NotificationUser,
    Position,
    User,
)
from accounts.notifications import MISSING_TARGETS, TARGET_ARGUMENTS, UNEXPECTED_TARGETS
from rbac import grants
from rbac.access import describe_scope, get_access
from rbac.models import Permission, UserRole
from rbac.navigation import visible_menus
from tenants.admin import ParentPermissionInline, TenantFormMixin, TenantScopedAdmin


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
    inlines = [UserRoleInline]
    filter_horizontal = ()

    def get_inlines(self, request: HttpRequest, obj=None):
        # Roles are given once the user exists (the add form is the password form).
        return self.inlines if obj is not None else []
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
            "roles": user.roles.all(),
        }
        return TemplateResponse(request, "admin/accounts/user/access_preview.html", context)

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        """Return whether the user may unlock accounts (``user:unlock``)."""
        return request.user.has_perm("user:unlock")

    @admin.action(description=_("Unlock selected users"), permissions=["unlock"])
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


# ---------------------------------------------------------------------------
# Notifications (issue 3, item 5)
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# API keys (issue 3, item 7): issued through the service, the plaintext shown once in the
# success message after adding, the hash never displayed, scopes only narrowed.
# ---------------------------------------------------------------------------
import re  # noqa: E402

from django.utils.html import format_html  # noqa: E402

from accounts import api_keys as api_key_services  # noqa: E402
from accounts.models import ApiKey  # noqa: E402
from tenants.admin import TenantModelForm, is_operator  # noqa: E402


class CodeListField(forms.Field):
    """A list of short codes typed one per line (or separated by commas or spaces)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if value in self.empty_values:
            return []
        if isinstance(value, (list, tuple)):
            return [str(item).strip() for item in value if str(item).strip()]
        return [item for item in re.split(r"[\s,]+", str(value)) if item]


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
