"""The admin of roles and packages: grant rules and the narrowing preview."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rbac.models import Permission, Role, RolePermission
from rbac.services import ensure_admin_role
from tenants.models import PackageOperation

pytestmark = pytest.mark.django_db


def inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def role_post(code: str, permissions=()) -> dict:
    return {
        "code": code, "name": code.title(), "description": "", "status": "active",
        "data_scope": "self", "sort_order": "0",
        **inline("role_permissions", [{"permission": str(p.pk)} for p in permissions]),
        **inline("role_menus", []),
        **inline("role_departments", []),
    }


def test_role_beyond_the_package_is_refused_naming_the_code(client_a, tenant_a):
    """A tenant administrator cannot put a platform code into a role."""
    foreign = Permission.objects.get(code="tenant:view")
    response = client_a.post(reverse("admin:rbac_role_add"), role_post("r", [foreign]))
    assert response.status_code == 200
    assert "tenant:view" in response.content.decode()
    assert not Role.objects.all_tenants().filter(code="r").exists()


def test_role_within_the_package_is_saved(client_a, tenant_a):
    """A role with codes of the package is created in the administrator's tenant."""
    response = client_a.post(reverse("admin:rbac_role_add"),
                             role_post("viewer", [Permission.objects.get(code="user:view")]))
    assert response.status_code == 302
    role = Role.objects.all_tenants().get(code="viewer")
    assert role.tenant_id == tenant_a.pk
    assert list(role.permissions.values_list("code", flat=True)) == ["user:view"]


def test_package_narrowing_shows_losses_and_needs_confirmation(operator_client, tenant_a):
    """Removing a code roles use lists the roles that would lose it, until confirmed."""
    ensure_admin_role(tenant_a)
    package = tenant_a.package
    rows = list(PackageOperation.objects.filter(package=package).select_related("permission"))
    kept = [row for row in rows if row.permission.code != "user:delete"]
    removed = next(row for row in rows if row.permission.code == "user:delete")
    data = {
        "code": package.code, "name": package.name, "description": "", "status": "active",
        "max_users": "",
        **inline("package_operations",
                 [{"id": str(r.pk), "package": str(package.pk), "permission": str(r.permission_id)}
                  for r in kept]
                 + [{"id": str(removed.pk), "package": str(package.pk),
                     "permission": str(removed.permission_id), "DELETE": "on"}],
                 initial=len(rows)),
        **inline("package_menus", []),
    }
    url = reverse("admin:tenants_tenantpackage_change", args=[package.pk])

    refused = operator_client.post(url, data)
    assert refused.status_code == 200
    assert "alpha/admin: user:delete" in refused.content.decode()
    assert package.permissions.filter(code="user:delete").exists()

    confirmed = operator_client.post(url, {**data, "confirm_narrowing": "on"})
    assert confirmed.status_code == 302
    assert not package.permissions.filter(code="user:delete").exists()
    assert RolePermission.objects.filter(permission__code="user:delete").exists()  # kept, inert


def test_tenant_admin_cannot_open_packages(client_a, tenant_a):
    """Packages are the platform's."""
    response = client_a.get(reverse("admin:tenants_tenantpackage_change", args=[tenant_a.package_id]))
    assert response.status_code == 403
