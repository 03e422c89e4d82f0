"""Required scopes of API endpoints and MCP tools are typed one per line, as an API key's
scopes are, and checked the same way (issue 17, item 7)."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from core.context import all_tenants
from gateway.models import McpTool
from gateway.tests.factories import api_tool, endpoint
from rbac.forms import ScopeListField

pytestmark = pytest.mark.django_db


def form_data(response) -> dict:
    """Return the POST data of the admin form in ``response`` as its page shows it."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


def textarea(response, name: str) -> str:
    """Return what the page's textarea ``name`` holds."""
    return response.context["adminform"].form[name].value()


# --- the endpoint registry (operators) -----------------------------------------------


def test_endpoint_shows_its_required_scopes_one_per_line(operator_client):
    row = endpoint("/api/v1/users/")
    row.required_scopes = ["user:view", "role:view"]
    row.save()
    response = operator_client.get(reverse("admin:rbac_apiendpoint_change", args=[row.pk]))
    assert isinstance(response.context["adminform"].form.fields["required_scopes"],
                      ScopeListField)
    assert textarea(response, "required_scopes") == "user:view\nrole:view"
    assert "user:view\nrole:view</textarea>" in response.content.decode()


def test_endpoint_saves_lines_as_a_list(operator_client):
    row = endpoint("/api/v1/users/")
    url = reverse("admin:rbac_apiendpoint_change", args=[row.pk])
    response = operator_client.post(url, {"is_enabled": "on",
                                          "required_scopes": "user:view\r\n\r\nrole:view\r\n"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.required_scopes == ["user:view", "role:view"]
    operator_client.post(url, {"is_enabled": "on", "required_scopes": ""})
    row.refresh_from_db()
    assert row.required_scopes == []


def test_endpoint_refuses_a_bad_scope_name_on_the_field(operator_client):
    row = endpoint("/api/v1/users/")
    response = operator_client.post(
        reverse("admin:rbac_apiendpoint_change", args=[row.pk]),
        {"is_enabled": "on", "required_scopes": "user:view\nNot A Scope!"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["required_scopes"]
    assert "resource:action" in errors[0] and "Not" in errors[0]
    row.refresh_from_db()
    assert row.required_scopes == []


# --- MCP tools (tenant-scoped) -------------------------------------------------------


def test_tool_required_scopes_one_per_line_saved_as_a_list(client_a, tenant_a, tenant_b):
    """A tenant's administrator types scopes one per line; tenant B's tool is untouched."""
    own = api_tool(tenant_a, "own_users")
    other = api_tool(tenant_b, "own_users", required_scopes=["user:view"])
    url = reverse("admin:mcp_mcptool_change", args=[own.pk])
    page = client_a.get(url)
    assert isinstance(page.context["adminform"].form.fields["required_scopes"], ScopeListField)
    data = form_data(page)
    data["required_scopes"] = "user:view\nrole:view"
    response = client_a.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    with all_tenants():
        assert McpTool.objects.get(pk=own.pk).required_scopes == ["user:view", "role:view"]
        assert McpTool.objects.get(pk=other.pk).required_scopes == ["user:view"]
    assert textarea(client_a.get(url), "required_scopes") == "user:view\nrole:view"


def test_tool_refuses_a_bad_scope_name_on_the_field(client_a, tenant_a):
    own = api_tool(tenant_a, "own_users")
    url = reverse("admin:mcp_mcptool_change", args=[own.pk])
    data = form_data(client_a.get(url))
    data["required_scopes"] = "user:view\nUSER VIEW"
    response = client_a.post(url, data)
    assert response.status_code == 200
    assert "resource:action" in response.context["adminform"].form.errors["required_scopes"][0]
    with all_tenants():
        assert McpTool.objects.get(pk=own.pk).required_scopes == []


def test_endpoint_still_reads_a_json_list(operator_client):
    """A JSON list, as the field used to be typed, is read as the same codes."""
    row = endpoint("/api/v1/users/")
    url = reverse("admin:rbac_apiendpoint_change", args=[row.pk])
    response = operator_client.post(url, {"is_enabled": "on",
                                          "required_scopes": '["user:view", "role:view"]'})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.required_scopes == ["user:view", "role:view"]
