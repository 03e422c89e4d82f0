"""Grant rules through the API: nothing beyond the tenant's package, nothing beyond the
granter, and package changes that take effect at the very next request."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from conftest import PASSWORD
from core.context import tenant_context
from rbac.models import DataScope, Menu, Permission, Role, UserRole
from rbac.services import ensure_admin_role
from tests.api_cases import assert_error, assert_field_errors, make_actor

pytestmark = pytest.mark.django_db

ROLES = reverse("api:role-list")
USERS = reverse("api:user-list")
PACKAGES = reverse("api:package-list")
TENANTS = reverse("api:tenant-list")


def role_url(role) -> str:
    return reverse("api:role-detail", args=[role.pk])


def user_url(user) -> str:
    return reverse("api:user-detail", args=[user.pk])


def signed_in(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def role_with(tenant, code: str, codes, scope: str = DataScope.ALL) -> Role:
    with tenant_context(tenant):
        role = Role.objects.create(code=code, name=code.title(), data_scope=scope)
        role.permissions.set(Permission.objects.filter(code__in=codes))
    return role


def role_codes(pk) -> set[str]:
    return set(Role._base_manager.get(pk=pk).permissions.values_list("code", flat=True))


# ---------------------------------------------------------------------------
# Role grants
# ---------------------------------------------------------------------------


def test_role_grant_beyond_the_package_is_400_naming_the_code(tenant_a, admin_a):
    """A tenant administrator cannot grant a code its package lacks."""
    response = signed_in(admin_a).post(
        ROLES, {"code": "r", "name": "R", "permissions": ["user:view", "tenant:view"]}, format="json"
    )
    fields = assert_field_errors(response, {"permissions"})
    assert "tenant:view" in str(fields["permissions"]) and "user:view" not in str(fields["permissions"])
    assert not Role.objects.all_tenants().filter(tenant=tenant_a, code="r").exists()


def test_role_grant_beyond_the_package_is_400_even_for_an_operator(tenant_a, operator):
    """The package bounds a tenant's roles whoever grants: a superuser is refused too."""
    response = signed_in(operator).post(
        ROLES,
        {"tenant": str(tenant_a.pk), "code": "r", "name": "R", "permissions": ["tenant:update"]},
        format="json",
    )
    fields = assert_field_errors(response, {"permissions"})
    assert "tenant:update" in str(fields["permissions"])
    assert "package" in str(fields["permissions"])


def test_role_grant_beyond_the_granter_is_400_naming_the_code(tenant_a):
    """A granter cannot hand out a code they do not hold, even within the package."""
    granter = make_actor(tenant_a, ["role:create", "role:update", "user:view"])
    api = signed_in(granter)
    response = api.post(
        ROLES, {"code": "r", "name": "R", "permissions": ["user:view", "user:delete"]}, format="json"
    )
    fields = assert_field_errors(response, {"permissions"})
    assert "user:delete" in str(fields["permissions"]) and "user:view" not in str(fields["permissions"])

    response = api.post(ROLES, {"code": "r", "name": "R", "permissions": ["user:view"]}, format="json")
    assert response.status_code == 201, response.content
    response = api.patch(role_url(Role.objects.all_tenants().get(pk=response.json()["id"])),
                         {"permissions": ["user:view", "user:unlock"]}, format="json")
    assert "user:unlock" in str(assert_field_errors(response, {"permissions"})["permissions"])


def test_codes_a_role_already_holds_are_kept_by_a_narrower_granter(tenant_a):
    """Editing a role keeps the codes it already grants even when the editor lacks them."""
    role = role_with(tenant_a, "deleter", ["user:delete"])
    editor = make_actor(tenant_a, ["role:update"])
    response = signed_in(editor).patch(
        role_url(role), {"name": "Renamed", "permissions": ["user:delete"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert role_codes(role.pk) == {"user:delete"}


def test_data_scope_beyond_the_granter_is_400(tenant_a, org_a):
    """A granter with data scope "dept" cannot create a role reaching all data."""
    granter = make_actor(tenant_a, ["role:create"], data_scope=DataScope.DEPARTMENT,
                         department=org_a["child"])
    response = signed_in(granter).post(
        ROLES, {"code": "wide", "name": "Wide", "data_scope": "all"}, format="json"
    )
    assert_field_errors(response, {"data_scope"})


def test_menus_beyond_the_package_are_400(tenant_a, admin_a):
    """A role cannot show menus its tenant's package does not include."""
    menu = Menu.objects.create(code="secret", name="Secret", path="/secret/")
    tenant_a.package.menus.remove(menu)
    response = signed_in(admin_a).post(
        ROLES, {"code": "r", "name": "R", "menus": [str(menu.pk)]}, format="json"
    )
    assert "secret" in str(assert_field_errors(response, {"menus"})["menus"])


# ---------------------------------------------------------------------------
# Role assignment
# ---------------------------------------------------------------------------


@pytest.fixture
def user_admin(tenant_a) -> User:
    """A user who may manage users but holds no user:delete."""
    return make_actor(tenant_a, ["user:view", "user:create", "user:update"])


def test_giving_a_role_beyond_the_granter_is_400(tenant_a, org_a, user_admin):
    """Creating or editing a user with a role that grants more than the granter holds fails."""
    deleter = role_with(tenant_a, "deleter", ["user:view", "user:delete"])
    api = signed_in(user_admin)
    response = api.post(
        USERS, {"username": "bob", "password": PASSWORD, "roles": [str(deleter.pk)]}, format="json"
    )
    fields = assert_field_errors(response, {"roles"})
    assert "deleter" in str(fields["roles"]) and "user:delete" in str(fields["roles"])
    assert not User.objects.all_tenants().filter(tenant=tenant_a, username="bob").exists()

    alice = org_a["user"]
    response = api.patch(user_url(alice), {"roles": [str(deleter.pk)]}, format="json")
    assert_field_errors(response, {"roles"})
    assert not UserRole.objects.filter(user=alice).exists()


def test_giving_a_role_wider_than_the_granters_scope_is_400(tenant_a, org_a):
    """A granter with data scope "dept" cannot give a role reaching all data."""
    granter = make_actor(tenant_a, ["user:view", "user:update"], data_scope=DataScope.DEPARTMENT,
                         department=org_a["child"])
    wide = role_with(tenant_a, "wide", ["user:view"], DataScope.ALL)
    response = signed_in(granter).patch(user_url(org_a["user"]), {"roles": [str(wide.pk)]},
                                        format="json")
    assert_field_errors(response, {"roles"})


def test_giving_a_role_within_the_granters_rights_succeeds(tenant_a, org_a, user_admin):
    viewer = role_with(tenant_a, "viewer", ["user:view"], DataScope.SELF)
    response = signed_in(user_admin).patch(
        user_url(org_a["user"]), {"roles": [str(viewer.pk)]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == [str(viewer.pk)]


# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------


def test_package_narrowing_takes_effect_at_the_next_request(tenant_a, admin_a, org_a):
    """Removing a code from the package refuses it at admin_a's very next request."""
    api = signed_in(admin_a)
    assert api.get(USERS).status_code == 200  # the permission cache now holds user:view
    tenant_a.package.permissions.remove(Permission.objects.get(code="user:view"))
    error = assert_error(api.get(USERS), 403, "permission_denied")
    assert "user:view" in error["message"]
    assert api.get(reverse("api:department-list")).status_code == 200


def test_a_package_cannot_include_platform_codes(platform):
    """Platform codes (tenant:*, tenantpackage:*, menu writes) are not a package's to grant."""
    operator = make_actor(platform, ["tenantpackage:create", "tenantpackage:update"])
    api = signed_in(operator)
    response = api.post(
        PACKAGES, {"code": "sneaky", "name": "Sneaky", "permissions": ["user:view", "tenant:view"]},
        format="json",
    )
    fields = assert_field_errors(response, {"permissions"})
    assert "tenant:view" in str(fields["permissions"]) and "user:view" not in str(fields["permissions"])

    response = api.post(PACKAGES, {"code": "plain", "name": "Plain", "permissions": ["user:view"]},
                        format="json")
    assert response.status_code == 201, response.content
    response = api.patch(reverse("api:package-detail", args=[response.json()["id"]]),
                         {"permissions": ["user:view", "menu:update"]}, format="json")
    assert "menu:update" in str(assert_field_errors(response, {"permissions"})["permissions"])


def test_a_tenant_never_holds_platform_codes(tenant_a, tenant_b, admin_a):
    """Even a package that somehow lists tenant:view gives a tenant's users no platform access."""
    tenant_a.package.permissions.add(Permission.objects.get(code="tenant:view"))
    ensure_admin_role(tenant_a)
    error = assert_error(signed_in(admin_a).get(TENANTS), 403, "permission_denied")
    assert "tenant:view" in error["message"]
