"""Rules on granting: nothing beyond the tenant's package, nothing beyond the granter.

Used by the admin, the API and services alike. Each check raises ``ValidationError``
naming what is over, so the caller shows it as a field error.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from rbac.access import get_access
from rbac.models import DataScope, Role
from tenants.models import Tenant, TenantStatus

# How far each data scope reaches; a granter may hand out scopes up to their own.
SCOPE_RANK = {
    DataScope.SELF: 1,
    DataScope.DEPARTMENT: 2,
    DataScope.DEPARTMENT_AND_BELOW: 3,
    DataScope.CUSTOM: 4,
    DataScope.ALL: 5,
}


def package_codes(tenant: Tenant) -> set[str] | None:
    """Return the codes the tenant's package grants; ``None`` when unlimited (platform)."""
    if tenant.is_platform:
        return None
    package = tenant.package
    if package is None or package.status != TenantStatus.ACTIVE:
        return set()
    return set(package.permissions.filter(is_active=True).values_list("code", flat=True))


def check_within_package(tenant: Tenant, codes: Iterable[str], field: str = "permissions") -> None:
    """Refuse permission codes the tenant's package does not grant."""
    allowed = package_codes(tenant)
    if allowed is None:
        return
    over = sorted(set(codes) - allowed)
    if over:
        raise ValidationError(
            {field: _("The tenant's package does not include: %(codes)s.") % {"codes": ", ".join(over)}}
        )


def check_within_granter(granter, codes: Iterable[str], field: str = "permissions") -> None:
    """Refuse permission codes the granting user does not hold."""
    if granter is None or granter.is_superuser:
        return
    own = get_access(granter).permissions
    over = sorted(set(codes) - own)
    if over:
        raise ValidationError(
            {field: _("You cannot grant permissions you do not hold: %(codes)s.")
             % {"codes": ", ".join(over)}}
        )


def granter_scope_rank(granter) -> int:
    """Return how far the granter's own data scope reaches."""
    if granter is None or granter.is_superuser:
        return SCOPE_RANK[DataScope.ALL]
    scopes = Role.objects.all_tenants().filter(
        tenant_id=granter.tenant_id, users=granter, status="active"
    ).values_list("data_scope", flat=True)
    return max((SCOPE_RANK[scope] for scope in scopes), default=0)


def check_scope_within_granter(granter, data_scope: str, field: str = "data_scope") -> None:
    """Refuse a data scope wider than the granter's own."""
    if SCOPE_RANK[data_scope] > granter_scope_rank(granter):
        raise ValidationError(
            {field: _("You cannot grant a data scope wider than your own: %(scope)s.")
             % {"scope": DataScope(data_scope).label}}
        )


def check_role_assignment(granter, roles: Iterable[Role], field: str = "roles") -> None:
    """Refuse handing out roles that carry more than the granter holds."""
    if granter is None or granter.is_superuser:
        return
    own = get_access(granter).permissions
    rank = granter_scope_rank(granter)
    for role in roles:
        over = sorted(set(role.permissions.values_list("code", flat=True)) - own)
        if over:
            raise ValidationError(
                {field: _("Role %(role)s grants permissions you do not hold: %(codes)s.")
                 % {"role": role.code, "codes": ", ".join(over)}}
            )
        if SCOPE_RANK[role.data_scope] > rank:
            raise ValidationError(
                {field: _("Role %(role)s has a data scope wider than your own.") % {"role": role.code}}
            )


def check_role_grants(role: Role, codes: Iterable[str], granter, field: str = "permissions") -> None:
    """Check a role's permission set against its tenant's package and the granter."""
    codes = set(codes)
    check_within_package(role.tenant, codes, field)
    check_within_granter(granter, codes, field)
