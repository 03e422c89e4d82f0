"""An operator's admin tells which tenant a row is (issue 17, item 5): the tenant column
beside the row's name, the tenant on every change form, list filters and pickers of
tenant-owned rows named with their tenant, and a picker narrowed to the tenant an add form
has chosen. A tenant's own people see none of it: their rows are their tenant's."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Department
from core.context import tenant_context

pytestmark = pytest.mark.django_db
AUTOCOMPLETE = "/admin/autocomplete/"


@pytest.fixture
def operator_web(operator):
    client = Client()
    client.force_login(operator)
    return client


def picker(client, field: str, model: str = "user", **params) -> list[str]:
    """Return the texts the autocomplete offers for ``model``'s ``field``."""
    response = client.get(AUTOCOMPLETE, {"app_label": "accounts", "model_name": model,
                                         "field_name": field, "term": "", **params})
    assert response.status_code == 200, response.content
    return [row["text"] for row in json.loads(response.content)["results"]]


def test_the_tenant_column_comes_second(operator_web, org_a, org_b):
    html = operator_web.get(reverse("admin:accounts_user_changelist")).content.decode()
    columns = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert columns[:2] == ["username", "tenant"]


def test_the_change_form_shows_the_tenant(operator_web, tenant_a, org_a):
    user = org_a["user"]
    html = operator_web.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
    assert 'class="form-row field-tenant"' in html and tenant_a.name in html
    department = org_a["child"]
    html = operator_web.get(reverse("admin:accounts_department_change",
                                    args=[department.pk])).content.decode()
    assert 'field-tenant' in html and tenant_a.name in html


def test_list_filters_name_the_tenant_of_each_choice(operator_web, tenant_a, tenant_b, org_a,
                                                     org_b):
    html = operator_web.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert f"Alpha Developer · {tenant_a}" in html and f"Beta Developer · {tenant_b}" in html


def test_an_operators_picker_names_tenants_and_follows_the_chosen_one(
        operator_web, tenant_a, tenant_b, org_a, org_b):
    assert sorted(picker(operator_web, "position")) == sorted(
        [f"Alpha Developer · {tenant_a}", f"Beta Developer · {tenant_b}"])
    assert picker(operator_web, "position", tenant=str(tenant_a.pk)) == [
        f"Alpha Developer · {tenant_a}"]
    assert sorted(picker(operator_web, "parent", model="department",
                         tenant=str(tenant_b.pk))) == [f"Beta Engineering · {tenant_b}",
                                                       f"Beta HQ · {tenant_b}"]
    assert picker(operator_web, "position", tenant="not-a-uuid") == []


def test_a_tenant_admins_picker_is_their_tenants_whatever_it_asks(client_a, tenant_b, org_a,
                                                                  org_b):
    assert picker(client_a, "position") == ["Alpha Developer"]
    assert picker(client_a, "position", tenant=str(tenant_b.pk)) == ["Alpha Developer"]


def test_the_add_forms_load_the_picker_script(operator_web):
    html = operator_web.get(reverse("admin:accounts_user_add")).content.decode()
    assert "js/admin-tenant-pickers.js" in html


def test_a_parent_of_another_tenant_is_one_error(operator_web, tenant_a, org_b):
    response = operator_web.post(reverse("admin:accounts_department_add"), {
        "tenant": str(tenant_a.pk), "code": "ops", "name": "Ops",
        "parent": str(org_b["child"].pk), "status": "active"})
    assert response.status_code == 200
    errors = re.findall(r"<li>([^<]+)</li>", "".join(re.findall(
        r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S)))
    assert errors == ["Choose a record of the same tenant."]
    with tenant_context(tenant_a):
        assert not Department.objects.filter(code="ops").exists()
