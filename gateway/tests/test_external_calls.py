"""External tools called through /mcp/: credentials, retries of idempotent calls, refusals."""

from __future__ import annotations

import json

import pytest

from core.context import all_tenants, tenant_context
from gateway.models import McpTool, McpToolCallLog
from gateway.tests.factories import key_of
from gateway.tests.test_outbound import Reply, Upstream

pytestmark = pytest.mark.django_db

TOKEN = "upstream-token-123"


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.MCP_RETRY_BASE_DELAY = 0.01
    settings.MCP_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def external_tool(tenant, url: str, *, method: str = "GET", read_only: bool = True,
                  **fields) -> McpTool:
    with tenant_context(tenant):
        tool = McpTool(
            tenant=tenant, name=fields.pop("name", "weather"), tool_type="external",
            external_url=url, api_method=method, permission_code="mcp_tool:call",
            auth_type="bearer", auth_config={"token": TOKEN},
            input_schema={"type": "object", "properties": {"city": {"type": "string"}}},
            annotations={"readOnlyHint": read_only}, **fields,
        )
        tool.full_clean()
        tool.save()
    return tool


def call(client, key, name, arguments):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}
    response = client.post("/mcp/", json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}",
                           HTTP_ACCEPT="application/json, text/event-stream",
                           HTTP_MCP_PROTOCOL_VERSION="2025-11-25")
    return response.json()["result"]


def test_an_external_tool_answers_with_the_tools_credentials_not_the_agents(
        client, admin_a, tenant_a, upstream):
    """The upstream sees the tool's bearer token; the agent's key never leaves the platform."""
    upstream.route("/weather", Reply(200, {"city": "Oslo", "temp": 3}))
    external_tool(tenant_a, upstream.url("/weather"), output_schema={"type": "object"})
    key = key_of(admin_a, ["mcp_tool:call"])
    result = call(client, key, "weather", {"city": "Oslo"})
    assert result["isError"] is False
    assert result["structuredContent"] == {"city": "Oslo", "temp": 3}
    (seen,) = upstream.requests
    assert seen.query == {"city": ["Oslo"]}
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert key not in json.dumps(seen.headers)
    with all_tenants():
        log = McpToolCallLog.objects.get()
    assert TOKEN not in json.dumps([log.request_params, log.request_headers, log.response_data])


def test_an_idempotent_call_is_retried_with_backoff(client, admin_a, tenant_a, upstream):
    """Two 503s then a 200: a read-only tool succeeds on the third attempt."""
    replies = iter([Reply(503, "busy"), Reply(503, "busy"), Reply(200, {"ok": True})])
    upstream.route("/weather", lambda request, handler: next(replies))
    external_tool(tenant_a, upstream.url("/weather"), max_retries=3)
    result = call(client, key_of(admin_a, ["mcp_tool:call"]), "weather", {})
    assert result["isError"] is False
    assert len(upstream.requests) == 3


def test_a_non_idempotent_call_is_not_retried(client, admin_a, tenant_a, upstream):
    """A POST without an idempotent annotation fails at the first 503, with a short message."""
    upstream.route("/orders", Reply(503, "<html>stack trace of the upstream</html>"))
    external_tool(tenant_a, upstream.url("/orders"), method="POST", read_only=False,
                  name="order", max_retries=3)
    result = call(client, key_of(admin_a, ["mcp_tool:call"]), "order", {"city": "x"})
    assert result["isError"] is True
    assert len(upstream.requests) == 1
    text = result["content"][0]["text"]
    assert "503" in text and "stack trace" not in text


def test_retries_stop_at_max_retries(client, admin_a, tenant_a, upstream):
    upstream.route("/weather", Reply(500, "down"))
    external_tool(tenant_a, upstream.url("/weather"), max_retries=2)
    result = call(client, key_of(admin_a, ["mcp_tool:call"]), "weather", {})
    assert result["isError"] is True
    assert len(upstream.requests) == 3  # the call and two retries


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/internal",
    "http://[::1]:9/",
])
def test_a_tool_pointing_at_an_internal_address_is_refused(client, admin_a, tenant_a, url,
                                                            settings):
    """Metadata, private and loopback targets are refused before any connection."""
    settings.MCP_OUTBOUND_ALLOWED_NETWORKS = []
    external_tool(tenant_a, url)
    result = call(client, key_of(admin_a, ["mcp_tool:call"]), "weather", {})
    assert result["isError"] is True
    assert "address the platform does not call" in result["content"][0]["text"]
    assert "Traceback" not in result["content"][0]["text"]
