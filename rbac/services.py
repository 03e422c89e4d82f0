"""Writes of the RBAC domain: provisioning a tenant's administrator role, granting roles."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.context import tenant_context
from rbac import grants
from rbac.access import invalidate_tenant, invalidate_user
from rbac.models import (
    DataScope,
    Menu,
    Permission,
    Role,
    RoleMenu,
    RolePermission,
    UserRole,
)
from tenants.models import Tenant

ADMIN_ROLE_CODE = "admin"


@transaction.atomic
def ensure_admin_role(tenant: Tenant) -> Role:
    """Return the tenant's system administrator role, granting everything its package allows
    (operations and menus).

    The platform tenant's administrator role gets every code a tenant package may hold plus
    the platform's own (operators who are not superusers manage tenants and packages).
    """
    with tenant_context(tenant):
        role = Role.objects.filter(code=ADMIN_ROLE_CODE).first()
        if role is None:
            role = Role.objects.create(
                code=ADMIN_ROLE_CODE, name="Administrator", is_system=True,
                data_scope=DataScope.ALL, sort_order=0,
                description="Everything the tenant's package allows, on all of its data.",
            )
        allowed = grants.package_codes(tenant)
        codes = (
            Permission.objects.filter(is_active=True).values_list("code", flat=True)
            if allowed is None
            else allowed
        )
        missing = list(
            Permission.objects.filter(code__in=list(codes), is_active=True).exclude(roles=role)
        )
        RolePermission.objects.bulk_create(
            [RolePermission(role=role, permission=permission) for permission in missing]
        )
        menus = Menu.objects.all() if tenant.is_platform or tenant.package is None else (
            tenant.package.menus.all()
        )
        missing_menus = list(menus.exclude(roles=role))
        RoleMenu.objects.bulk_create([RoleMenu(role=role, menu=menu) for menu in missing_menus])
        if missing or missing_menus:
            invalidate_tenant(tenant.pk)
    return role


@transaction.atomic
def assign_roles(*, user, roles: Iterable[Role], granter=None) -> None:
    """Give ``user`` the ``roles`` (of its tenant), refusing more than the granter holds."""
    roles = list(roles)
    for role in roles:
        if role.tenant_id != user.tenant_id:
            raise ValidationError({"roles": _("Choose roles of the user's tenant.")})
    grants.check_role_assignment(granter, roles)
    held = set(UserRole.objects.filter(user=user).values_list("role_id", flat=True))
    UserRole.objects.bulk_create(
        [UserRole(user=user, role=role) for role in roles if role.pk not in held]
    )
    invalidate_user(user.pk)
