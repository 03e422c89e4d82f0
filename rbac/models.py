"""Roles, permissions, menus and data scopes (seed 000 sections 3.4-3.6, seed 004 V12).

``Permission`` and ``Menu`` are platform catalogues: permissions are generated from the code
(``rbac.catalogue``), menus are edited by operators, and tenant packages grant both to
tenants. (Seed 000 section 3.6 gives menus a tenant column, but a package, which is shared
by many tenants, grants menus: a per-tenant menu could not be granted by it. Tenants shape
what their users see through their roles' menus instead.)

``Role`` belongs to a tenant. Association tables carry their two keys and ``created_at``
only, plus the surrogate id Django needs, with the pair unique (seed 004 V12).

``ApiEndpoint`` is the API endpoint registry (seed 000 section 3.13): one row per route and
method of the REST API, written by ``rbac.registry.sync_endpoints`` from the code (path,
method, module, description, operation id, permission code) after every ``migrate`` and on
demand. Operators edit only ``is_enabled`` and ``required_scopes``, which the API's
permission check applies to every request (``rbac.api.permissions``); a sync never touches
them. A route that disappears from the code keeps its row, marked ``is_active=False``, so
an operator's settings come back with it. The registry is platform-wide: tenants may at
most read it (``rbac_platform_actions``). Its table kept the name and constraints it had
when it belonged to the MCP app.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from mptt.managers import TreeManager
from mptt.models import MPTTModel, TreeForeignKey

from accounts.choices import RecordStatus
from accounts.models.api_keys import validate_scopes
from core.choices import HttpMethod
from tenants.ids import uuid7
from tenants.models import CodeField, Tenant, TenantModel, unique_live_per_tenant


class PermissionType(models.TextChoices):
    MENU = "menu", _("Menu")
    OPERATION = "operation", _("Operation")
    BUTTON = "button", _("Button")


class DataScope(models.TextChoices):
    """Which rows a role reaches, from widest to narrowest."""

    ALL = "all", _("All data")
    CUSTOM = "custom", _("Chosen departments")
    DEPARTMENT_AND_BELOW = "dept_and_below", _("Own department and below")
    DEPARTMENT = "dept", _("Own department")
    SELF = "self", _("Only own records")


class Permission(models.Model):
    """One permission code, such as ``user:create``, generated from the code.

    ``is_active`` turns false when the code no longer declares the permission; such rows
    grant nothing but stay, so role grants that named them remain visible.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    code = models.CharField(_("code"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=20, choices=PermissionType.choices)
    module = models.CharField(_("module"), max_length=50, db_index=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    rbac_actions = ("view",)  # generated, never edited

    class Meta:
        db_table = "permissions"
        verbose_name = _("permission")
        verbose_name_plural = _("permissions")
        ordering = ["module", "code"]
        indexes = [models.Index(fields=["type"], name="permissions_type_idx")]

    def __str__(self) -> str:
        return f"{self.code} ({self.label})"

    @property
    def label(self) -> str:
        """The permission's name in the active language (``name`` is the platform's)."""
        from rbac.catalogue import label

        return label(self.code) or self.name


def lock_menu_trees() -> None:
    """Hold a row lock on the platform tenant until the transaction ends: menus are the
    platform's, so every menu tree write of every operator takes this one lock."""
    Tenant.objects.select_for_update().filter(is_platform=True).exists()


class MenuTreeManager(TreeManager):
    """django-mptt's manager for menus, serialising tree writes.

    django-mptt rewrites lft/rght with relative UPDATEs computed from values it has just
    read, so two concurrent writes to one tree can corrupt it, and on MariaDB they
    deadlock. As for departments, every menu tree write holds one row lock (the platform
    tenant's); menus change rarely, so the cost is one lock per edit.
    """

    def _get_next_tree_id(self) -> int:
        lock_menu_trees()
        return super()._get_next_tree_id()

    def move_node(self, node: Menu, target: Menu | None, position: str = "last-child"):
        with transaction.atomic(using=self.db):
            lock_menu_trees()
            return super().move_node(node, target, position)


class Menu(MPTTModel):
    """An entry of the navigation tree (seed 000 section 3.6), granted by packages and roles."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    code = CodeField(_("code"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=100)
    path = models.CharField(
        _("path"), max_length=255, blank=True,
        help_text=_("Where the entry leads: a URL path such as /notifications/. "
                    "Empty for a folder of entries."),
    )
    icon = models.CharField(_("icon"), max_length=100, blank=True)
    parent = TreeForeignKey(
        "self", verbose_name=_("parent"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="children",
    )
    permission = models.ForeignKey(
        Permission, verbose_name=_("required permission"), on_delete=models.SET_NULL,
        null=True, blank=True, related_name="menus",
        help_text=_("A user also needs this permission to see the entry."),
    )
    sort_order = models.IntegerField(_("sort order"), default=0)
    is_visible = models.BooleanField(_("visible"), default=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RecordStatus.choices, default=RecordStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    rbac_platform_actions = ("create", "update", "delete")

    objects = MenuTreeManager()

    class MPTTMeta:
        order_insertion_by = ["sort_order", "name"]

    class Meta:
        db_table = "menus"
        verbose_name = _("menu")
        verbose_name_plural = _("menus")
        ordering = ["tree_id", "lft"]
        # django-mptt appends this index to _meta.indexes behind the migration state's back,
        # so it was never created; declaring it lets makemigrations see it (check_schema).
        indexes = [models.Index(fields=["tree_id", "lft"], name="rbac_menu_tree_id_lft_idx")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the active language: the platform's own menus are named with message
        ids of the catalogue (``seed_demo`` marks them); any other name reads as written."""
        return gettext(self.name) if self.name else self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save under the menu tree lock (``MenuTreeManager``)."""
        with transaction.atomic():
            lock_menu_trees()
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        """Delete under the menu tree lock (``MenuTreeManager``)."""
        with transaction.atomic():
            lock_menu_trees()
            return super().delete(*args, **kwargs)


class Role(TenantModel):
    """A tenant's named bundle of permissions, menus and a data scope (seed 000 section 3.4)."""

    code = CodeField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    is_system = models.BooleanField(
        _("system role"), default=False,
        help_text=_("Created by the platform; its code cannot change and it cannot be deleted."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=RecordStatus.choices, default=RecordStatus.ACTIVE
    )
    data_scope = models.CharField(
        _("data scope"), max_length=20, choices=DataScope.choices, default=DataScope.SELF
    )
    sort_order = models.IntegerField(_("sort order"), default=0)
    permissions = models.ManyToManyField(
        Permission, through="RolePermission", related_name="roles", blank=True,
        verbose_name=_("permissions"),
    )
    menus = models.ManyToManyField(
        Menu, through="RoleMenu", related_name="roles", blank=True, verbose_name=_("menus")
    )
    departments = models.ManyToManyField(
        "accounts.Department", through="RoleDepartment", related_name="scoped_roles", blank=True,
        verbose_name=_("departments of a custom data scope"),
    )
    users = models.ManyToManyField(
        "accounts.User", through="UserRole", related_name="roles", blank=True,
        verbose_name=_("users"),
    )

    class Meta(TenantModel.Meta):
        db_table = "roles"
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["sort_order", "code"]
        indexes = [models.Index(fields=["tenant", "is_system"], name="roles_tenant_system_idx")]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "code", name="roles_unique_code",
                message=_("A role with this code already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def soft_delete_blockers(self) -> list[str]:
        """Refuse deleting a system role."""
        if self.is_system:
            return [_("System roles cannot be deleted.")]
        return []

    def clean(self) -> None:
        """Keep a system role's code fixed."""
        super().clean()
        if self.is_system and not self._state.adding:
            stored = type(self)._base_manager.filter(pk=self.pk).values_list("code", flat=True)
            if stored and stored[0] != self.code:
                raise ValidationError({"code": _("A system role's code cannot change.")})


class UserRole(models.Model):
    """A user holds a role."""

    rbac_actions = ()  # managed through the role, not a resource of its own

    user = models.ForeignKey("accounts.User", verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="user_roles")
    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.CASCADE,
                             related_name="user_roles")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "user_roles"
        verbose_name = _("role of a user")
        verbose_name_plural = _("roles of users")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="user_roles_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.role}"


class RolePermission(models.Model):
    """A role grants a permission."""

    rbac_actions = ()  # managed through the role, not a resource of its own

    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.CASCADE,
                             related_name="role_permissions")
    permission = models.ForeignKey(Permission, verbose_name=_("permission"),
                                   on_delete=models.CASCADE, related_name="role_permissions")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "role_permissions"
        verbose_name = _("permission of a role")
        verbose_name_plural = _("permissions of roles")
        constraints = [
            models.UniqueConstraint(fields=["role", "permission"], name="role_permissions_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.role} → {self.permission}"


class RoleMenu(models.Model):
    """A role shows a menu entry."""

    rbac_actions = ()  # managed through the role, not a resource of its own

    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.CASCADE,
                             related_name="role_menus")
    menu = models.ForeignKey(Menu, verbose_name=_("menu"), on_delete=models.CASCADE,
                             related_name="role_menus")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "role_menus"
        verbose_name = _("menu of a role")
        verbose_name_plural = _("menus of roles")
        constraints = [models.UniqueConstraint(fields=["role", "menu"], name="role_menus_unique_pair")]

    def __str__(self) -> str:
        return f"{self.role} → {self.menu}"


class RoleDepartment(models.Model):
    """A department reached by a role whose data scope is custom."""

    rbac_actions = ()  # managed through the role, not a resource of its own

    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.CASCADE,
                             related_name="role_departments")
    department = models.ForeignKey("accounts.Department", verbose_name=_("department"),
                                   on_delete=models.CASCADE, related_name="role_departments")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "role_departments"
        verbose_name = _("department of a role's scope")
        verbose_name_plural = _("departments of roles' scopes")
        constraints = [
            models.UniqueConstraint(fields=["role", "department"], name="role_departments_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.role} → {self.department}"


# ---------------------------------------------------------------------------
# The API endpoint registry
# ---------------------------------------------------------------------------


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
