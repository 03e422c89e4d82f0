"""A custom data scope ("Chosen departments") names its departments: refused without any,
in the admin and the API, titled as the choice, and named in the access preview
(issue 17, item 7)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import make_user
from core.context import tenant_context
from rbac.models import DataScope, Role
from rbac.services import assign_roles
from rbac.tests.test_admin import inline
from tests.api_cases import assert_field_errors

pytestmark = pytest.mark.django_db

ROLES = reverse("api:role-list")
NO_DEPARTMENTS = 'Choose at least one department: the data scope is "Chosen departments".'


def role_post(code: str, scope: str, departments=()) -> dict:
    return {
        "code": code, "name": code.title(), "description": "", "status": "active",
        "data_scope": scope, "sort_order": "0",
        **inline("role_permissions", []),
        **inline("role_menus", []),
        **inline("role_departments", [{"department": str(d.pk)} for d in departments]),
    }


def signed_in(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def department_ids(role) -> list:
    return list(role.role_departments.values_list("department_id", flat=True))


def department_errors(response) -> list[str]:
    """Return the errors above the role page's department inline."""
    formset = next(f.formset for f in response.context["inline_admin_formsets"]
                   if f.formset.prefix == "role_departments")
    return list(formset.non_form_errors())


def roles_of(tenant, code: str):
    return Role.objects.all_tenants().filter(tenant=tenant, code=code)


# --- the admin ------------------------------------------------------------------------


def test_admin_refuses_chosen_departments_without_any(client_a, tenant_a, org_a):
    """Saving "Chosen departments" with no department shows the error and saves nothing."""
    response = client_a.post(reverse("admin:rbac_role_add"), role_post("r", DataScope.CUSTOM))
    assert response.status_code == 200
    assert department_errors(response) == [NO_DEPARTMENTS]
    assert "Choose at least one department" in response.content.decode()
    assert not roles_of(tenant_a, "r").exists()


def test_admin_refuses_removing_the_last_chosen_department(client_a, tenant_a, org_a):
    """Deleting the only department of a custom-scope role is refused; it keeps it."""
    with tenant_context(tenant_a):
        role = Role.objects.create(code="r", name="R", data_scope=DataScope.CUSTOM)
    role.departments.add(org_a["root"])
    row = role.role_departments.get()
    data = role_post("r", DataScope.CUSTOM)
    data.update(inline("role_departments", [{"id": str(row.pk), "role": str(role.pk),
                                             "department": str(org_a["root"].pk),
                                             "DELETE": "on"}], initial=1))
    response = client_a.post(reverse("admin:rbac_role_change", args=[role.pk]), data)
    assert response.status_code == 200
    assert department_errors(response) == [NO_DEPARTMENTS]
    assert department_ids(role) == [org_a["root"].pk]


def test_admin_saves_chosen_departments_with_one(client_a, tenant_a, org_a):
    """With a department of the role's tenant the role is saved."""
    response = client_a.post(reverse("admin:rbac_role_add"),
                             role_post("r", DataScope.CUSTOM, [org_a["child"]]))
    assert response.status_code == 302
    assert department_ids(roles_of(tenant_a, "r").get()) == [org_a["child"].pk]


def test_admin_refuses_only_another_tenants_department(client_a, tenant_a, org_a, org_b):
    """Tenant B's department is no department of tenant A's role: refused, nothing saved."""
    response = client_a.post(reverse("admin:rbac_role_add"),
                             role_post("r", DataScope.CUSTOM, [org_b["child"]]))
    assert response.status_code == 200
    assert not roles_of(tenant_a, "r").exists()


def test_admin_other_scopes_need_no_departments(client_a, tenant_a):
    """Any other data scope saves without departments, as before."""
    response = client_a.post(reverse("admin:rbac_role_add"), role_post("r", DataScope.DEPARTMENT))
    assert response.status_code == 302
    assert roles_of(tenant_a, "r").exists()


def test_department_inline_is_titled_as_the_choice(client_a, tenant_a):
    """The inline's title is the data scope choice's name, "Chosen departments"."""
    response = client_a.get(reverse("admin:rbac_role_add"))
    body = response.content.decode()
    assert str(DataScope.CUSTOM.label) == "Chosen departments"
    assert "Chosen departments" in body
    assert "custom data scope" not in body


# --- the API --------------------------------------------------------------------------


def test_api_refuses_chosen_departments_without_any(tenant_a, admin_a, org_a):
    """POST with "custom" and no departments is 400 naming ``departments``; nothing saved."""
    response = signed_in(admin_a).post(
        ROLES, {"code": "r", "name": "R", "data_scope": "custom", "departments": []}, format="json"
    )
    fields = assert_field_errors(response, {"departments"})
    assert "Chosen departments" in str(fields["departments"])
    assert not roles_of(tenant_a, "r").exists()


def test_api_saves_chosen_departments_with_one(tenant_a, admin_a, org_a):
    """POST with "custom" and a department of the tenant creates the role."""
    response = signed_in(admin_a).post(
        ROLES, {"code": "r", "name": "R", "data_scope": "custom",
                "departments": [str(org_a["root"].pk)]}, format="json",
    )
    assert response.status_code == 201, response.content
    assert department_ids(roles_of(tenant_a, "r").get()) == [org_a["root"].pk]


def test_api_patch_to_custom_without_departments_is_refused(tenant_a, admin_a):
    """Switching a role without departments to "custom" is 400; the scope stays."""
    with tenant_context(tenant_a):
        role = Role.objects.create(code="r", name="R", data_scope=DataScope.SELF)
    response = signed_in(admin_a).patch(reverse("api:role-detail", args=[role.pk]),
                                        {"data_scope": "custom"}, format="json")
    assert_field_errors(response, {"departments"})
    role.refresh_from_db()
    assert role.data_scope == DataScope.SELF


def test_api_patch_keeps_the_departments_the_role_has(tenant_a, admin_a, org_a):
    """A partial update of a custom-scope role that has departments is accepted."""
    with tenant_context(tenant_a):
        role = Role.objects.create(code="r", name="R", data_scope=DataScope.CUSTOM)
    role.departments.add(org_a["root"])
    response = signed_in(admin_a).patch(reverse("api:role-detail", args=[role.pk]),
                                        {"name": "Renamed"}, format="json")
    assert response.status_code == 200, response.content
    response = signed_in(admin_a).patch(reverse("api:role-detail", args=[role.pk]),
                                        {"departments": []}, format="json")
    assert_field_errors(response, {"departments"})
    assert department_ids(role) == [org_a["root"].pk]


# --- the access preview ---------------------------------------------------------------


def custom_role_user(tenant, departments, username="bob"):
    user = make_user(tenant, username)
    with tenant_context(tenant):
        role = Role.objects.create(code="chosen", name="Chosen", data_scope=DataScope.CUSTOM)
    role.departments.add(*departments)
    assign_roles(user=user, roles=[role])
    return user


def test_access_preview_names_the_chosen_departments(client_a, tenant_a, org_a, org_b):
    """The preview names each chosen department, in the plural, and no other tenant's."""
    user = custom_role_user(tenant_a, [org_a["root"], org_a["child"]])
    response = client_a.get(reverse("admin:accounts_user_access", args=[user.pk]))
    assert response.status_code == 200
    assert [d.name for d in response.context["chosen_departments"]] == [
        "Alpha HQ", "Alpha Engineering"]
    body = response.content.decode()
    assert "Chosen departments:" in body
    assert "Alpha HQ</span>, <span" in body and "Alpha Engineering" in body
    assert "Beta" not in body


def test_access_preview_names_one_chosen_department_in_the_singular(client_a, tenant_a, org_a):
    """One department: "Chosen department:", with its name."""
    user = custom_role_user(tenant_a, [org_a["child"]])
    body = client_a.get(reverse("admin:accounts_user_access", args=[user.pk])).content.decode()
    assert "Chosen department:" in body and "Chosen departments:" not in body
    assert "Alpha Engineering" in body


def test_operator_preview_names_a_tenants_departments(operator_client, tenant_a, org_a, org_b):
    """An operator previewing a tenant-B user sees that tenant's department named."""
    user = custom_role_user(tenant_a, [org_a["root"]])
    other = custom_role_user(org_b["root"].tenant, [org_b["child"]], username="carol")
    response = operator_client.get(reverse("admin:accounts_user_access", args=[other.pk]))
    assert [d.name for d in response.context["chosen_departments"]] == ["Beta Engineering"]
    response = operator_client.get(reverse("admin:accounts_user_access", args=[user.pk]))
    assert [d.name for d in response.context["chosen_departments"]] == ["Alpha HQ"]


def test_access_preview_without_a_custom_scope_lists_no_departments(client_a, tenant_a):
    """Without a custom scope nothing about chosen departments is shown."""
    user = make_user(tenant_a, "dave")
    response = client_a.get(reverse("admin:accounts_user_access", args=[user.pk]))
    assert response.context["chosen_departments"] == []
    assert "Chosen department" not in response.content.decode()


@pytest.mark.parametrize("ids, english", [
    ({"d1"}, "Rows of: 1 chosen department."),
    ({"d1", "d2"}, "Rows of: 2 chosen departments."),
])
def test_the_scope_summary_counts_chosen_departments_in_the_singular_and_plural(ids, english):
    from rbac.access import Access, Scope, describe_scope

    access = Access(user_id="u", is_superuser=False, scope=Scope(department_ids=frozenset(ids)))
    assert describe_scope(access, None) == english
