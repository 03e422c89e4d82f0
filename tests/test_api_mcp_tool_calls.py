"""The MCP tool call log API: /api/v1/mcp-tool-calls/ (read-only, cursor pages)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.context import tenant_context
from gateway.services import tools
from gateway.models import McpToolCallLog
from rbac.models import ApiEndpoint
from tests.api_cases import (
    ReadOnlyAPICase,
    assert_error,
    assert_field_errors,
    make_actor,
)

STACK = "Traceback (most recent call last): boom"


def log_call(tenant, index: int = 0, tool=None, **fields) -> McpToolCallLog:
    values = {"tool_name": tool.name if tool else f"tool{index}", "caller_id": f"caller{index}",
              "caller_type": "api_key", "request_id": f"r{index}", "status": "failed",
              "response_status": 500, "response_time": 12, "error_message": "Upstream failed.",
              "error_stack": STACK, "request_params": {"city": "Oslo"},
              "response_data": {"error": "bad gateway"}, "protocol_version": "2025-11-25",
              "jsonrpc_id": str(index)}
    values.update(fields)
    return McpToolCallLog.objects.create(tenant=tenant, tool=tool, **values)


class TestMcpToolCallLogAPI(ReadOnlyAPICase):
    basename = "mcptoolcall"
    model = McpToolCallLog
    cursor_paginated = True
    # A tenant user never reads the stack (operators do: tested below).
    secret_fields = ("error_stack",)

    def make(self, tenant, index):
        return log_call(tenant, index)


pytestmark = pytest.mark.django_db
URL = "/api/v1/mcp-tool-calls/"


@pytest.fixture
def api():
    return APIClient()


def test_the_error_stack_is_for_operators_only(api, tenant_a, platform):
    """A tenant's reader gets the message, never the stack; a platform operator gets both."""
    row = log_call(tenant_a)
    api.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))
    body = api.get(f"{URL}{row.pk}/").json()
    assert body["error_message"] == "Upstream failed." and "error_stack" not in body
    assert STACK not in api.get(URL).content.decode()
    api.force_login(make_actor(platform, ["mcptoolcalllog:view"]))
    assert api.get(f"{URL}{row.pk}/").json()["error_stack"] == STACK


def test_calls_of_another_tenant_are_404(api, tenant_a, tenant_b):
    """Another tenant's call is neither listed nor found."""
    mine, theirs = log_call(tenant_a, 1), log_call(tenant_b, 2)
    api.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))
    assert [row["id"] for row in api.get(URL).json()["results"]] == [mine.pk]
    assert_error(api.get(f"{URL}{theirs.pk}/"), 404, "not_found")


def test_filters_by_tool_caller_and_outcome(api, tenant_a):
    """tool, caller, status and time narrow the list; arguments and response come along."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=ApiEndpoint.objects.get(
            path="/api/v1/users/", method="GET"), name="finder")
    hit = log_call(tenant_a, 1, tool=tool, status="success", caller_id="atr_abc")
    log_call(tenant_a, 2)
    old = log_call(tenant_a, 3, tool=tool)
    McpToolCallLog.objects.all_tenants().filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=10))
    api.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))

    def found(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert found(tool=str(tool.pk), status="success") == [hit.pk]
    assert found(caller_id="atr_abc") == [hit.pk]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert found(tool=str(tool.pk), created_after=since) == [hit.pk]
    row = api.get(f"{URL}{hit.pk}/").json()
    assert (row["request_params"], row["response_data"]) == ({"city": "Oslo"},
                                                             {"error": "bad gateway"})
    assert_field_errors(api.get(URL, {"status": "maybe", "tool": "x"}), {"status", "tool"})


def test_the_time_range_is_capped(api, tenant_a, settings):
    """A range wider than LOG_QUERY_MAX_DAYS is a 400 naming the limit."""
    settings.LOG_QUERY_MAX_DAYS = 31
    api.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))
    response = api.get(URL, {"created_after": "2026-01-01T00:00:00Z",
                             "created_before": "2026-03-01T00:00:00Z"})
    assert "31" in str(assert_field_errors(response, {"created_before"}))


def test_the_call_log_is_read_only(api, tenant_a):
    """Nobody writes call rows through the API."""
    row = log_call(tenant_a)
    api.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))
    assert api.post(URL, {}, format="json").status_code == 405
    assert api.delete(f"{URL}{row.pk}/").status_code == 405
    assert api.patch(f"{URL}{row.pk}/", {}, format="json").status_code == 405


def test_export_streams_the_tenants_calls_without_the_stack(api, tenant_a, tenant_b):
    """The CSV export holds the tenant's calls and no stack."""
    log_call(tenant_a, 1, tool_name="mine")
    log_call(tenant_b, 2, tool_name="theirs")
    api.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))
    response = api.get(reverse("api:mcptoolcall-export"))
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,tool_name") and len(lines) == 2
    assert "mine" in lines[1] and STACK not in lines[1]
