"""The permission catalogue, the one permission decision, its cache and the data scopes."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command

from accounts.models import Department, User
from conftest import make_user
from core.context import tenant_context
from rbac import grants
from rbac.access import compute_access, get_access, restrict
from rbac.catalogue import (
    declared_permissions,
    sync_permissions,
    tenant_grantable_codes,
)
from rbac.models import DataScope, Menu, Permission, Role, RoleDepartment
from rbac.services import assign_roles, ensure_admin_role
from tenants.models import TenantStatus

pytestmark = pytest.mark.django_db


def reload(user: User) -> User:
    """Return the user as the next request loads it (with its tenant)."""
    return User.objects.all_tenants().select_related("tenant").get(pk=user.pk)


def role_with(tenant, code: str, codes: list[str], scope: str = DataScope.ALL) -> Role:
    with tenant_context(tenant):
        role = Role.objects.create(code=code, name=code.title(), data_scope=scope)
        role.permissions.add(*Permission.objects.filter(code__in=codes))
    return role


# ---------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------


def test_catalogue_is_generated_from_the_models():
    """Every model's actions and declared operations are permission rows after migrate."""
    codes = set(Permission.objects.filter(is_active=True).values_list("code", flat=True))
    assert {"user:view", "user:create", "user:update", "user:delete", "user:restore",
            "user:unlock", "department:view", "position:create", "role:update",
            "loginlog:view", "tenant:view", "permission:view"} <= codes
    assert "loginlog:create" not in codes and "permission:update" not in codes
    assert "userrole:view" not in codes  # association tables are not resources
    assert codes == {spec.code for spec in declared_permissions()}


def test_sync_adds_updates_and_deactivates():
    """A vanished code is deactivated, an edited label restored, a missing code re-created."""
    Permission.objects.create(code="ghost:view", name="Ghost", type="operation", module="x")
    Permission.objects.filter(code="user:view").update(name="tampered")
    Permission.objects.filter(code="position:view").delete()

    report = sync_permissions()

    assert (report.created, report.updated, report.deactivated) == (1, 1, 1)
    assert not Permission.objects.get(code="ghost:view").is_active
    assert Permission.objects.get(code="user:view").name != "tampered"
    assert sync_permissions() == type(report)(0, 0, 0)


def test_sync_command_reports(capsys):
    """The command prints what it did."""
    call_command("sync_permissions")
    assert "Permissions: 0 created" in capsys.readouterr().out


def test_platform_codes_are_not_tenant_grantable():
    """Tenants, packages and menu edits are the platform's; a package cannot include them."""
    grantable = set(tenant_grantable_codes())
    assert "tenant:view" not in grantable and "tenantpackage:update" not in grantable
    assert "menu:update" not in grantable and "menu:view" in grantable
    assert "user:delete" in grantable


# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------


def test_permissions_are_the_union_of_roles_within_the_package(tenant_a):
    """A user holds the codes of all their active roles that the package includes."""
    user = make_user(tenant_a, "bob")
    assign_roles(user=user, roles=[role_with(tenant_a, "viewer", ["user:view"]),
                                   role_with(tenant_a, "editor", ["position:update"])])
    inactive = role_with(tenant_a, "off", ["user:delete"])
    inactive.status = "inactive"
    with tenant_context(tenant_a):
        inactive.save()
    assign_roles(user=user, roles=[inactive])

    user = reload(user)
    assert user.has_perm("accounts.view_user") and user.has_perm("accounts.change_position")
    assert not user.has_perm("accounts.delete_user")
    assert user.has_module_perms("accounts") and not user.has_module_perms("tenants")


def test_no_package_or_inactive_package_grants_nothing(tenant_a, admin_a):
    """Without an active package a tenant's roles grant nothing."""
    assert reload(admin_a).has_perm("accounts.view_user")
    package = tenant_a.package
    package.status = TenantStatus.INACTIVE
    package.save()
    assert not reload(admin_a).has_perm("accounts.view_user")
    package.status = TenantStatus.ACTIVE
    package.save()
    tenant_a.package = None
    tenant_a.save()
    assert not reload(admin_a).has_perm("accounts.view_user")


def test_package_narrowing_takes_effect_at_the_next_request(tenant_a, tenant_b, admin_a, admin_b):
    """Removing a code from a shared package removes it from every user of its tenants."""
    assert reload(admin_a).has_perm("accounts.delete_user")
    tenant_a.package.permissions.remove(Permission.objects.get(code="user:delete"))
    assert not reload(admin_a).has_perm("accounts.delete_user")
    assert not reload(admin_b).has_perm("accounts.delete_user")
    assert reload(admin_a).has_perm("accounts.view_user")


def test_superuser_has_everything(operator):
    """A platform superuser holds every active code and reaches all data."""
    access = compute_access(operator)
    assert access.allows("tenant:update") and access.scope.all


def test_access_is_cached_and_invalidated_by_versions(tenant_a, admin_a, django_assert_num_queries):
    """The second decision costs no query; a role change is seen at once."""
    cache.clear()
    get_access(reload(admin_a))
    user = reload(admin_a)
    with django_assert_num_queries(0):
        assert get_access(user).allows("user:view")
    role = Role.objects.all_tenants().get(tenant=tenant_a, code="admin")
    role.permissions.remove(Permission.objects.get(code="user:view"))
    assert not get_access(reload(admin_a)).allows("user:view")


def test_membership_change_invalidates_only_that_user(tenant_a, admin_a):
    """Taking a role away takes its permissions away at the next request."""
    bob = make_user(tenant_a, "bob")
    role = role_with(tenant_a, "viewer", ["user:view"])
    assign_roles(user=bob, roles=[role])
    assert reload(bob).has_perm("accounts.view_user")
    with tenant_context(tenant_a):
        role.users.remove(bob)
    assert not reload(bob).has_perm("accounts.view_user")


def test_menus_follow_roles_and_package(tenant_a):
    """A user sees menus of their roles that the package includes."""
    menu = Menu.objects.create(code="org", name="Organisation", path="/org/")
    hidden = Menu.objects.create(code="extra", name="Extra", path="/extra/")
    tenant_a.package.menus.add(menu)
    tenant_a.package.menus.remove(hidden)
    bob = make_user(tenant_a, "bob")
    role = role_with(tenant_a, "viewer", ["user:view"])
    role.menus.add(menu, hidden)
    assign_roles(user=bob, roles=[role])
    assert get_access(reload(bob)).menu_ids == frozenset({menu.pk})


# ---------------------------------------------------------------------------
# Data scope
# ---------------------------------------------------------------------------


@pytest.fixture
def tree(tenant_a):
    """hq > eng > platform, and sales under hq, with one user in each."""
    with tenant_context(tenant_a):
        hq = Department.objects.create(code="hq", name="HQ")
        eng = Department.objects.create(code="eng", name="Eng", parent=hq)
        platform = Department.objects.create(code="platform", name="Platform", parent=eng)
        sales = Department.objects.create(code="sales", name="Sales", parent=hq)
    users = {d.code: make_user(tenant_a, f"u-{d.code}", department=d)
             for d in (hq, eng, platform, sales)}
    return {"hq": hq, "eng": eng, "platform": platform, "sales": sales, "users": users}


def visible_usernames(user: User, tenant) -> set[str]:
    with tenant_context(tenant):
        return set(restrict(User.objects.all(), reload(user)).values_list("username", flat=True))


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (DataScope.ALL, {"u-hq", "u-eng", "u-platform", "u-sales"}),
        (DataScope.DEPARTMENT_AND_BELOW, {"u-eng", "u-platform"}),
        (DataScope.DEPARTMENT, {"u-eng"}),
        (DataScope.SELF, {"u-eng"}),
    ],
)
def test_data_scope_limits_users(tenant_a, tree, scope, expected):
    """Each scope reaches exactly its rows (the user is in Eng)."""
    user = tree["users"]["eng"]
    assign_roles(user=user, roles=[role_with(tenant_a, "r", ["user:view"], scope)])
    assert visible_usernames(user, tenant_a) == expected


def test_custom_scope_and_union_of_roles(tenant_a, tree):
    """Custom departments add to the user's own department when roles combine."""
    user = tree["users"]["eng"]
    custom = role_with(tenant_a, "custom", ["user:view"], DataScope.CUSTOM)
    RoleDepartment.objects.create(role=custom, department=tree["sales"])
    own = role_with(tenant_a, "own", ["user:view"], DataScope.DEPARTMENT)
    assign_roles(user=user, roles=[custom, own])
    assert visible_usernames(user, tenant_a) == {"u-eng", "u-sales"}


def test_departments_are_scoped_too(tenant_a, tree):
    """Departments themselves follow the scope (own department and below)."""
    user = tree["users"]["eng"]
    assign_roles(user=user, roles=[role_with(tenant_a, "r", ["department:view"],
                                              DataScope.DEPARTMENT_AND_BELOW)])
    with tenant_context(tenant_a):
        codes = set(restrict(Department.objects.all(), reload(user)).values_list("code", flat=True))
    assert codes == {"eng", "platform"}


def test_no_role_reaches_nothing(tenant_a, tree):
    """A user without roles reaches no scoped rows."""
    assert visible_usernames(tree["users"]["eng"], tenant_a) == set()


# ---------------------------------------------------------------------------
# Grants
# ---------------------------------------------------------------------------


def test_role_grants_beyond_the_package_are_refused(tenant_a, admin_a):
    """A role cannot hold a code its tenant's package lacks; the message names it."""
    with tenant_context(tenant_a):
        role = Role.objects.create(code="r", name="R")
    with pytest.raises(ValidationError, match="tenant:view"):
        grants.check_role_grants(role, ["user:view", "tenant:view"], admin_a)


def test_grants_beyond_the_granter_are_refused(tenant_a):
    """A granter cannot hand out codes or scopes beyond their own."""
    granter = make_user(tenant_a, "granter")
    assign_roles(user=granter, roles=[role_with(tenant_a, "g", ["user:view"], DataScope.DEPARTMENT)])
    granter = reload(granter)
    with pytest.raises(ValidationError, match="user:delete"):
        grants.check_within_granter(granter, ["user:view", "user:delete"])
    with pytest.raises(ValidationError, match="data scope"):
        grants.check_scope_within_granter(granter, DataScope.ALL)
    grants.check_scope_within_granter(granter, DataScope.SELF)
    with pytest.raises(ValidationError, match="admin"):
        grants.check_role_assignment(granter, [ensure_admin_role(tenant_a)])


def test_assign_roles_refuses_another_tenants_role(tenant_a, tenant_b):
    """A user cannot hold a role of another tenant."""
    with pytest.raises(ValidationError):
        assign_roles(user=make_user(tenant_a, "bob"), roles=[ensure_admin_role(tenant_b)])


def test_system_role_cannot_be_deleted_or_recoded(tenant_a):
    """The administrator role stays."""
    role = ensure_admin_role(tenant_a)
    with tenant_context(tenant_a):
        with pytest.raises(ValidationError):
            role.delete()
        role.code = "other"
        with pytest.raises(ValidationError):
            role.full_clean()


def test_admin_role_follows_the_package(tenant_a):
    """The administrator role receives every code of the package and none beyond."""
    role = ensure_admin_role(tenant_a)
    codes = set(role.permissions.values_list("code", flat=True))
    assert codes == set(tenant_a.package.permissions.values_list("code", flat=True))
    assert not any(code.startswith("tenant:") for code in codes)


def test_package_user_quota_is_enforced(tenant_a):
    """A tenant cannot have more live users than its package allows."""
    package = tenant_a.package
    package.max_users = 1
    package.save()
    make_user(tenant_a, "first")
    with pytest.raises(ValidationError, match="quota of 1 users"):
        make_user(tenant_a, "second")


def test_api_write_outside_the_data_scope_is_rolled_back(client, tenant_a, tree):
    """A dept-scoped editor cannot create or move a user out of their department."""
    editor = tree["users"]["eng"]
    assign_roles(user=editor, roles=[role_with(
        tenant_a, "editor", ["user:view", "user:create", "user:update"], DataScope.DEPARTMENT)])
    client.force_login(editor)
    body = {"username": "newbie", "password": "Correct-horse-9", "department": str(tree["sales"].pk)}
    response = client.post("/api/v1/users/", body, content_type="application/json")
    assert response.status_code == 400, response.json()
    assert not User.objects.all_tenants().filter(username="newbie").exists()
    inside = client.post("/api/v1/users/", {**body, "department": str(tree["eng"].pk)},
                         content_type="application/json")
    assert inside.status_code == 201, inside.json()
    moved = client.patch(f"/api/v1/users/{inside.json()['id']}/",
                         {"department": str(tree["sales"].pk)}, content_type="application/json")
    assert moved.status_code == 400
    assert User.objects.all_tenants().get(username="newbie").department_id == tree["eng"].pk


def test_department_scopes_reach_rows_created_in_the_department(tenant_a, tree):
    """Positions have no department: a dept scope reaches those its users created."""
    from accounts.models import Position
    from core.context import actor_context

    with tenant_context(tenant_a):
        with actor_context(tree["users"]["eng"].pk):
            Position.objects.create(code="by-eng", name="By Eng")
        with actor_context(tree["users"]["sales"].pk):
            Position.objects.create(code="by-sales", name="By Sales")
    viewer = make_user(tenant_a, "viewer", department=tree["eng"])
    assign_roles(user=viewer, roles=[role_with(tenant_a, "v", ["position:view"], DataScope.DEPARTMENT)])
    with tenant_context(tenant_a):
        codes = set(restrict(Position.objects.all(), reload(viewer)).values_list("code", flat=True))
    assert codes == {"by-eng"}
