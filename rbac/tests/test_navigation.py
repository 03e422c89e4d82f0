"""Menus drive the sidebar; operators preview what a user can see and do."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import make_user
from core.context import tenant_context
from rbac.models import DataScope, Menu, Permission, Role
from rbac.services import assign_roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def menus(tenant_a):
    """An organisation folder with two entries, one needing a permission, and a hidden one."""
    org = Menu.objects.create(code="org", name="Organisation", sort_order=1)
    people = Menu.objects.create(code="people", name="People", path="/people/", parent=org,
                                 sort_order=2)
    audit = Menu.objects.create(code="audit", name="Audit", path="/audit/", parent=org,
                                sort_order=1, permission=Permission.objects.get(code="loginlog:view"))
    hidden = Menu.objects.create(code="hidden", name="Hidden", path="/hidden/", is_visible=False)
    off = Menu.objects.create(code="off", name="Off", path="/off/", status="inactive")
    tenant_a.package.menus.add(org, people, audit, hidden, off)
    return {"org": org, "people": people, "audit": audit, "hidden": hidden, "off": off}


def member(tenant, menus, codes=("user:view",)):
    user = make_user(tenant, "bob")
    with tenant_context(tenant):
        role = Role.objects.create(code="member", name="Member", data_scope=DataScope.SELF)
    role.permissions.add(*Permission.objects.filter(code__in=codes))
    role.menus.add(*menus)
    assign_roles(user=user, roles=[role])
    return user


def sidebar(client) -> list[str]:
    return [entry.name for entry in client.get(reverse("home")).context["navigation"]]


def test_sidebar_shows_exactly_the_granted_entries_in_order(client, tenant_a, menus):
    """Visible, active, granted entries show in tree and sort order; permissions gate them."""
    user = member(tenant_a, menus.values(), codes=("user:view", "loginlog:view"))
    client.force_login(user)
    assert sidebar(client) == ["Organisation", "Audit", "People"]


def test_entry_needing_a_permission_is_hidden_without_it(client, tenant_a, menus):
    """An entry whose permission the user lacks does not show."""
    client.force_login(member(tenant_a, menus.values()))
    assert sidebar(client) == ["Organisation", "People"]


def test_child_of_an_ungranted_folder_is_hidden(client, tenant_a, menus):
    """Without its folder an entry does not show."""
    client.force_login(member(tenant_a, [menus["people"]]))
    assert sidebar(client) == []


def test_package_limits_the_sidebar_at_once(client, tenant_a, menus):
    """Taking a menu out of the package takes it off the sidebar at the next request."""
    client.force_login(member(tenant_a, menus.values()))
    tenant_a.package.menus.remove(menus["people"])
    assert sidebar(client) == ["Organisation"]


def test_other_tenant_roles_do_not_leak_into_the_sidebar(client, tenant_a, tenant_b, menus):
    """A tenant-B user with no roles sees nothing, whatever tenant A granted."""
    member(tenant_a, menus.values())
    client.force_login(make_user(tenant_b, "carol"))
    assert sidebar(client) == []


def test_access_preview_lists_roles_menus_permissions_and_scope(client_a, tenant_a, menus):
    """The administrator sees what a user of their tenant can see and do."""
    user = member(tenant_a, menus.values())
    response = client_a.get(reverse("admin:accounts_user_access", args=[user.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Member" in body and "user:view" in body and "People" in body
    assert "their own records" in body
    assert "loginlog:view" not in body


def test_access_preview_of_another_tenants_user_is_not_found(client_a, tenant_b):
    """Another tenant's user cannot be previewed."""
    other = make_user(tenant_b, "carol")
    response = client_a.get(reverse("admin:accounts_user_access", args=[other.pk]))
    assert response.status_code == 404
