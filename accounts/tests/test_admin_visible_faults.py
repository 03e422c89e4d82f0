"""Small visible faults of the accounts admin (issue 17, item 7): the department tree opens
expanded, long unbroken names wrap instead of pushing columns and filters off-screen, and
Django's groups are not offered beside the platform's roles."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import NoReverseMatch, reverse

from accounts.models import Department
from core.context import tenant_context

pytestmark = pytest.mark.django_db

LONG_NAME = "D" * 100
WRAP_RULE = "overflow-wrap: anywhere"


def tree_context(response) -> dict:
    """Return the settings django-mptt's tree script reads from the changelist page."""
    match = re.search(r'<script [^>]*draggable-admin\.js"[^>]*data-context="([^"]*)"',
                      response.content.decode())
    assert match, "no tree context on the page"
    return json.loads(html.unescape(match.group(1)))


def test_department_tree_opens_expanded(client_a, org_a, org_b):
    """The tree is expanded by default, showing the child below its root; only the
    administrator's own tenant's departments are in it."""
    response = client_a.get(reverse("admin:accounts_department_changelist"))
    assert response.status_code == 200
    context = tree_context(response)
    assert context["expandTreeByDefault"] is True
    names = [str(d) for d in response.context["cl"].result_list]
    assert "Alpha HQ" in names and "Alpha Engineering" in names
    assert "Beta HQ" not in names


def test_long_department_name_wraps_in_the_tree(client_a, tenant_a):
    """A 100-character unbroken name is listed whole, in a list whose cells wrap anywhere."""
    with tenant_context(tenant_a):
        Department.objects.create(code="long", name=LONG_NAME)
    body = client_a.get(reverse("admin:accounts_department_changelist")).content.decode()
    assert LONG_NAME in body
    assert WRAP_RULE in body and "#result_list td" in body


def test_long_department_name_wraps_in_the_users_filter(client_a, org_a, org_b, tenant_a):
    """The users list's filter sidebar (which names the departments) wraps too."""
    with tenant_context(tenant_a):
        Department.objects.create(code="long", name=LONG_NAME)
    body = client_a.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert LONG_NAME in body[body.index('id="changelist-filter"'):]
    assert WRAP_RULE in body and "#changelist-filter a" in body
    assert "Beta HQ" not in body


def test_django_groups_are_not_in_the_admin(operator_client):
    """Permissions come from RBAC roles only: no "Groups" on the index, no groups pages."""
    assert not admin.site.is_registered(Group)
    with pytest.raises(NoReverseMatch):
        reverse("admin:auth_group_changelist")
    body = operator_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:rbac_role_changelist") in body
    assert "/admin/auth/group/" not in body
    assert operator_client.get("/admin/auth/group/").status_code == 404
