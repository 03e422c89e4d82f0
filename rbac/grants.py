"""Rules on granting: nothing beyond the tenant's package, nothing beyond the granter.

Used by the admin, the API and services alike. Each check raises ``ValidationError``
naming what is over, so the caller shows it as a field error.

A granter is a user, or a user acting through an API key (``Granter.of(request)``). A key
acts as its user narrowed by its scopes, and scopes only shrink (issue 10): a request made
with a key grants at most what both the user and the key hold, superusers included. Asking
for more than the key's scopes is a ``PermissionDenied`` naming the codes (403): it is the
credential that falls short, not the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
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


@dataclass(frozen=True)
class Granter:
    """Who grants: a user, narrowed by the scopes of the API key the request came with."""

    user: object | None
    key_scopes: frozenset[str] | None = None

    @classmethod
    def of(cls, request) -> Granter:
        """Return the granter of a request (its user, and its API key's scopes if any)."""
        if request is None:
            return cls(None)
        api_key = getattr(request, "auth", None) or getattr(request, "api_key", None)
        scopes = getattr(api_key, "scopes", None)
        return cls(request.user, None if scopes is None else frozenset(scopes))

    def check_key_allows(self, codes: Iterable[str]) -> None:
        """Refuse codes beyond the API key's scopes with ``PermissionDenied`` naming them."""
        if self.key_scopes is None:
            return
        over = sorted(set(codes) - self.key_scopes)
        if over:
            raise PermissionDenied(
                _("The API key's scopes do not include %(codes)s: a request made with a key "
                  "can grant only the key's own scopes.") % {"codes": ", ".join(over)}
            )

    def user_codes(self) -> set[str] | None:
        """Return the codes the user holds; ``None`` for a superuser (every code)."""
        if self.user is None or self.user.is_superuser:
            return None
        return set(get_access(self.user).permissions)


def as_granter(granter) -> Granter:
    """Return ``granter`` (a ``Granter``, a user or ``None``) as a ``Granter``."""
    return granter if isinstance(granter, Granter) else Granter(granter)


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
    """Refuse permission codes the granting user (or their API key) does not hold."""
    granter = as_granter(granter)
    codes = set(codes)
    granter.check_key_allows(codes)
    own = granter.user_codes()
    if own is None:
        return
    over = sorted(codes - own)
    if over:
        raise ValidationError(
            {field: _("You cannot grant permissions you do not hold: %(codes)s.")
             % {"codes": ", ".join(over)}}
        )


def granter_scope_rank(granter) -> int:
    """Return how far the granter's own data scope reaches."""
    granter = as_granter(granter).user
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
    """Refuse handing out roles that carry more than the granter (or their API key) holds."""
    granter = as_granter(granter)
    roles = list(roles)
    if granter.key_scopes is not None:
        for role in roles:
            granter.check_key_allows(role.permissions.values_list("code", flat=True))
    own = granter.user_codes()
    if own is None:
        return
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
