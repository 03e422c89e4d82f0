"""The admin's "try this tool" page performs a real call as the signed-in person."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.context import all_tenants
from gateway.models import McpToolCallLog
from gateway.tests.factories import api_tool

pytestmark = pytest.mark.django_db


def try_url(tool) -> str:
    return reverse("admin:mcp_mcptool_try", args=[tool.pk])


def test_a_tenant_administrator_calls_a_tool_as_themselves(client_a, admin_a, tenant_a, org_a):
    """The answer is shown, and the call is logged as the user's, not a key's."""
    tool = api_tool(tenant_a)
    page = client_a.get(reverse("admin:mcp_mcptool_change", args=[tool.pk]))
    assert try_url(tool) in page.content.decode()
    response = client_a.post(try_url(tool), {"arguments": '{"search": "alice"}'})
    assert response.status_code == 200
    assert b"alice" in response.content
    with all_tenants():
        log = McpToolCallLog.objects.get()
    assert log.caller_type == "user" and log.caller_id == str(admin_a.pk)
    assert log.status == "success" and log.tenant_id == tenant_a.pk


def test_arguments_that_are_not_a_json_object_are_a_form_error(client_a, tenant_a):
    tool = api_tool(tenant_a)
    for text in ("{broken", "[1, 2]"):
        response = client_a.post(try_url(tool), {"arguments": text})
        assert response.status_code == 200
        assert response.context["form"].errors["arguments"]
    with all_tenants():
        assert not McpToolCallLog.objects.exists()


def test_schema_errors_are_shown_and_logged(client_a, tenant_a):
    tool = api_tool(tenant_a)
    response = client_a.post(try_url(tool), {"arguments": '{"page_size": "x"}'})
    assert b"page_size" in response.content
    with all_tenants():
        assert McpToolCallLog.objects.get().status == "failed"


def test_another_tenants_tool_is_404(client_a, tenant_b):
    tool = api_tool(tenant_b)
    assert client_a.get(try_url(tool)).status_code == 404
    assert client_a.post(try_url(tool), {"arguments": "{}"}).status_code == 404


def test_an_operator_may_try_a_tenants_tool(operator_client, tenant_a):
    tool = api_tool(tenant_a)
    response = operator_client.post(try_url(tool), {"arguments": "{}"})
    assert response.status_code == 200
    with all_tenants():
        assert McpToolCallLog.objects.get().status == "success"
