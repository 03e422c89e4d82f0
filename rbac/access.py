"""The one permission decision: what a user may do and which rows they reach.

``get_access(user)`` returns the user's ``Access``: the union of their active roles'
permissions and menus, intersected with the tenant's package (the platform tenant has no
package limit; a superuser has everything), and the union of their roles' data scopes.
The admin (through ``rbac.backends``), the API (``rbac.api.permissions``), the pages
and the MCP tools all ask it.

Caching: one cache entry per user, keyed by the user's id and ``access_version``, its
tenant's ``access_version`` and package, and the user's department and superuser flag,
all of which come with the user row every request loads anyway. So a request costs one
cache lookup, and a change invalidates by bumping a version: role, role grant, role
membership and package changes bump the tenant (or the user); menu and catalogue changes
bump every tenant (``rbac.signals``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import models
from django.db.models import F, Q

from accounts.choices import RecordStatus
from rbac.models import DataScope, Menu, Permission, Role, RoleDepartment
from tenants.models import Tenant, TenantStatus

CACHE_TIMEOUT = 24 * 3600  # seconds; versions invalidate long before


@dataclass(frozen=True)
class Scope:
    """The rows a user reaches through their roles' data scopes."""

    all: bool = False
    department_ids: frozenset = frozenset()
    # (tree_id, lft, rght) of departments whose whole subtree is reached
    subtrees: tuple = ()
    own: bool = False


@dataclass(frozen=True)
class Access:
    """What one user may do."""

    user_id: str
    is_superuser: bool
    permissions: frozenset = field(default_factory=frozenset)
    modules: frozenset = field(default_factory=frozenset)
    menu_ids: frozenset = field(default_factory=frozenset)
    scope: Scope = Scope()

    def allows(self, code: str) -> bool:
        """Return whether the user holds the permission ``code``."""
        return self.is_superuser or code in self.permissions

    def allows_module(self, module: str) -> bool:
        """Return whether the user holds any permission of the app ``module``."""
        return self.is_superuser or module in self.modules


def cache_key(user) -> str:
    """Return the cache key of the user's access; it changes whenever the access may."""
    tenant = user.tenant
    return (
        f"rbac:access:{user.pk}:{user.access_version}:{tenant.pk}:{tenant.access_version}:"
        f"{tenant.package_id}:{user.department_id}:{int(user.is_superuser)}"
    )


def get_access(user) -> Access:
    """Return the user's access, from the cache when nothing changed since it was computed."""
    if not getattr(user, "is_authenticated", False):
        return Access(user_id="", is_superuser=False)
    memo = getattr(user, "_rbac_access", None)
    key = cache_key(user)
    if memo is not None and memo[0] == key:
        return memo[1]
    access = cache.get(key)
    if access is None:
        access = compute_access(user)
        cache.set(key, access, CACHE_TIMEOUT)
    user._rbac_access = (key, access)
    return access


def compute_access(user) -> Access:
    """Compute the user's access from the database."""
    if user.is_superuser:
        active = Permission.objects.filter(is_active=True)
        return Access(
            user_id=str(user.pk),
            is_superuser=True,
            permissions=frozenset(active.values_list("code", flat=True)),
            modules=frozenset(active.values_list("module", flat=True)),
            menu_ids=frozenset(
                Menu.objects.filter(status=RecordStatus.ACTIVE).values_list("id", flat=True)
            ),
            scope=Scope(all=True),
        )
    roles = Role.objects.all_tenants().filter(
        tenant_id=user.tenant_id, status=RecordStatus.ACTIVE, users=user
    )
    permissions = Permission.objects.filter(is_active=True, roles__in=roles)
    menus = Menu.objects.filter(status=RecordStatus.ACTIVE, roles__in=roles)
    tenant = user.tenant
    if not tenant.is_platform:
        package = tenant.package
        if package is None or package.status != TenantStatus.ACTIVE:
            permissions, menus = permissions.none(), menus.none()
        else:
            permissions = permissions.filter(packages=package)
            menus = menus.filter(packages=package)
    perm_rows = set(permissions.values_list("code", "module"))
    return Access(
        user_id=str(user.pk),
        is_superuser=False,
        permissions=frozenset(code for code, _ in perm_rows),
        modules=frozenset(module for _, module in perm_rows),
        menu_ids=frozenset(menus.values_list("id", flat=True)),
        scope=compute_scope(user, roles),
    )


def compute_scope(user, roles) -> Scope:
    """Union the data scopes of ``roles`` for ``user``."""
    scopes = set(roles.values_list("data_scope", flat=True))
    if DataScope.ALL in scopes:
        return Scope(all=True)
    department_ids = set()
    subtrees = []
    department = user.department if user.department_id else None
    if DataScope.CUSTOM in scopes:
        department_ids.update(
            RoleDepartment.objects.filter(
                role__in=roles.filter(data_scope=DataScope.CUSTOM)
            ).values_list("department_id", flat=True)
        )
    if department is not None and not department.is_deleted:
        if DataScope.DEPARTMENT in scopes:
            department_ids.add(department.pk)
        if DataScope.DEPARTMENT_AND_BELOW in scopes:
            subtrees.append((department.tree_id, department.lft, department.rght))
    return Scope(
        department_ids=frozenset(department_ids),
        subtrees=tuple(subtrees),
        own=DataScope.SELF in scopes,
    )


# ---------------------------------------------------------------------------
# Data scope
# ---------------------------------------------------------------------------


def scope_paths(model: type[models.Model]) -> tuple[str | None, str | None]:
    """Return the lookups from ``model`` to its owning department and to its creator.

    A model can name them with ``rbac_department_path`` and ``rbac_owner_path``; by default
    a department is the row itself for departments, else a ``department`` field, and the
    owner is the row itself for users, else ``created_by``. A row with an owner but no
    department of its own belongs to its owner's department, so the department scopes
    reach the rows created by the department's users.
    """
    from accounts.models import Department, User

    names = {f.name for f in model._meta.get_fields()}
    department = getattr(model, "rbac_department_path", None)
    if department is None:
        if issubclass(model, Department):
            department = "pk"
        elif "department" in names:
            department = "department"
    owner = getattr(model, "rbac_owner_path", None)
    if owner is None:
        if issubclass(model, User):
            owner = "pk"
        elif "created_by" in names:
            owner = "created_by"
    if department is None and owner not in (None, "pk"):
        department = f"{owner}__department"
    return department, owner


def scope_filter(model: type[models.Model], access: Access) -> Q | None:
    """Return the filter limiting ``model`` to the user's data scope, ``None`` for all rows.

    Data scopes apply to tenant-owned rows (those with a tenant column); platform
    catalogues are not scoped by them.
    """
    tenant_owned = any(field.name == "tenant" for field in model._meta.concrete_fields)
    if access.scope.all or not tenant_owned:
        return None
    department_path, owner_path = scope_paths(model)
    if department_path is None and owner_path is None:
        return None
    condition = Q(pk__in=[])
    if department_path is not None:
        prefix = "" if department_path == "pk" else f"{department_path}__"
        if access.scope.department_ids:
            condition |= Q(**{f"{department_path}__in": access.scope.department_ids})
        for tree_id, lft, rght in access.scope.subtrees:
            condition |= Q(**{f"{prefix}tree_id": tree_id, f"{prefix}lft__gte": lft,
                              f"{prefix}rght__lte": rght})
    if owner_path is not None and access.scope.own:
        condition |= Q(**{owner_path: access.user_id})
    return condition


def restrict(queryset: models.QuerySet, user) -> models.QuerySet:
    """Return ``queryset`` limited to the rows the user's data scope reaches."""
    condition = scope_filter(queryset.model, get_access(user))
    return queryset if condition is None else queryset.filter(condition)


def describe_scope(access: Access, user) -> str:
    """Return the user's data scope in words, for the access preview."""
    from django.utils.translation import gettext as _, ngettext

    scope = access.scope
    if scope.all:
        return _("All data of the tenant.")
    parts = []
    if scope.subtrees:
        parts.append(_("their department and everything below it"))
    if scope.department_ids:
        count = len(scope.department_ids)
        parts.append(ngettext("%(count)d chosen department", "%(count)d chosen departments",
                              count) % {"count": count})
    if scope.own:
        parts.append(_("their own records"))
    if not parts:
        return _("No data (no active role with a data scope).")
    return _("Rows of: %(parts)s.") % {"parts": "; ".join(parts)}


# ---------------------------------------------------------------------------
# Invalidation
# ---------------------------------------------------------------------------


def invalidate_tenant(tenant_id, using: str = "default") -> None:
    """Make every user of the tenant recompute their access at the next request."""
    Tenant.objects.using(using).filter(pk=tenant_id).update(access_version=F("access_version") + 1)


def invalidate_tenants_of_package(package_id, using: str = "default") -> None:
    """Make every user of every tenant on the package recompute their access."""
    Tenant.objects.using(using).filter(package_id=package_id).update(
        access_version=F("access_version") + 1
    )


def invalidate_user(user_id, using: str = "default") -> None:
    """Make one user recompute their access at the next request."""
    from accounts.models import User

    User.objects.all_tenants(include_deleted=True).using(using).filter(pk=user_id).update(
        access_version=F("access_version") + 1
    )


def invalidate_all(using: str = "default") -> None:
    """Make every user recompute their access (menus and the catalogue are platform-wide)."""
    Tenant.objects.using(using).update(access_version=F("access_version") + 1)
