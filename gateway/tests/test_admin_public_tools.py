"""A tenant's person sees the platform's public tools in the MCP tools admin (issue 17,
item 2): listed apart, opened read-only and tried, never changed, deleted or acted on; a
tool of the tenant's own shadows one of the same name; another tenant's tools stay out of
sight. An empty list says how to make a tool."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.context import all_tenants, tenant_context
from gateway.models import McpTool
from gateway.services.tools import create_api_tool
from gateway.tests.factories import api_tool
from rbac.models import ApiEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(platform):
    """The platform's public ``departments_list`` and ``me`` tools."""
    with tenant_context(platform):
        return {name: create_api_tool(endpoint=ApiEndpoint.objects.get(path=path, method="GET"),
                                      tenant=platform, name=name, is_public=True)
                for name, path in (("departments_list", "/api/v1/departments/"),
                                   ("me", "/api/v1/me/"))}


def change_url(tool) -> str:
    return reverse("admin:mcp_mcptool_change", args=[tool.pk])


def missing(response) -> bool:
    """Whether the admin answered as for a row that does not exist (back to its index)."""
    return response.status_code == 302 and response.url == reverse("admin:index")


def test_the_list_shows_the_public_tools_apart_and_read_only(client_a, tenant_a, tenant_b,
                                                             public):
    own = api_tool(tenant_a, "own_users")
    other = api_tool(tenant_b, "beta_users")
    page = client_a.get(reverse("admin:mcp_mcptool_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    section = text[text.index('id="mcp-public-tools"'):]
    assert "departments_list" in section and "me" in section
    assert reverse("admin:mcp_mcptool_try", args=[public["me"].pk]) in section
    assert own.name in text and "own_users" not in section
    assert other.name not in text
    assert 'id="mcp-tools-empty"' not in text


def test_an_empty_list_says_how_to_make_a_tool(client_a, public):
    text = client_a.get(reverse("admin:mcp_mcptool_changelist")).content.decode()
    assert 'id="mcp-tools-empty"' in text and "Make MCP tools of the selected endpoints" in text


def test_a_tool_of_the_tenants_own_shadows_the_public_one(client_a, tenant_a, public):
    api_tool(tenant_a, "me", path="/api/v1/me/")
    text = client_a.get(reverse("admin:mcp_mcptool_changelist")).content.decode()
    section = text[text.index('id="mcp-public-tools"'):]
    assert change_url(public["me"]) not in section
    assert change_url(public["departments_list"]) in section
    assert missing(client_a.get(change_url(public["me"])))


def test_a_public_tool_opens_read_only_and_is_tried_but_never_changed(client_a, public):
    tool = public["departments_list"]
    page = client_a.get(change_url(tool))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="mcp-public-tool"' in text and 'name="_save"' not in text
    assert client_a.get(reverse("admin:mcp_mcptool_try", args=[tool.pk])).status_code == 200
    assert client_a.post(change_url(tool), {"name": "mine", "title": "x"}).status_code == 403
    assert client_a.post(reverse("admin:mcp_mcptool_delete", args=[tool.pk]),
                         {"post": "yes"}).status_code == 403
    assert client_a.get(reverse("admin:mcp_mcptool_history", args=[tool.pk])).status_code == 404
    for action in ("disable_selected", "delete_selected", "refresh_selected"):
        client_a.post(reverse("admin:mcp_mcptool_changelist"),
                      {"action": action, "_selected_action": [str(tool.pk)], "post": "yes"})
    with all_tenants():
        tool = McpTool.objects.get(pk=tool.pk)
    assert tool.is_enabled and not tool.is_deleted and tool.name == "departments_list"


def test_another_tenants_tool_never_opens(client_a, tenant_b, public):
    other = api_tool(tenant_b, "beta_users")
    assert missing(client_a.get(change_url(other)))
    assert client_a.get(reverse("admin:mcp_mcptool_try", args=[other.pk])).status_code == 404


def test_an_operator_lists_every_tenants_tools_in_one_list(operator_client, tenant_a, public):
    api_tool(tenant_a, "own_users")
    text = operator_client.get(reverse("admin:mcp_mcptool_changelist")).content.decode()
    assert 'id="mcp-public-tools"' not in text
    assert "own_users" in text and "departments_list" in text
