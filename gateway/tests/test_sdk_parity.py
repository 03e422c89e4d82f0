"""The endpoint answers every message exactly as the SDK's own stateless JSON transport does.

``gateway.server.serve`` serves the handshake era (2025-11-25 and before) without building
the SDK's transport, dispatcher and server task for each request (issue 16, item 6), and
hands 2026-07-28 straight to the SDK's single-exchange entry. Each message here is posted
twice through the whole view: once as served, once through the SDK's
``StreamableHTTPSessionManager`` (stateless, JSON responses), the way the endpoint served
every request before (``gateway.server.serve_through_sdk_transport``). Status, headers and
body must be the same, and so must what the call did (its call log row).
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from core.context import all_tenants
from gateway import server
from gateway.models import McpToolCallLog
from gateway.tests.factories import api_tool, key_of

pytestmark = pytest.mark.django_db

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
}
# Headers the two answers may differ in: the request's own id and the length Django sets.
PER_REQUEST = {"x-request-id", "content-length"}


def exchange(client: Client, key: str, body, version: str | None, **headers):
    """POST ``body`` (a dict as JSON, bytes as they are) and return the response."""
    extra = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    extra.setdefault("HTTP_ACCEPT", "application/json, text/event-stream")
    if version is not None:
        extra["HTTP_MCP_PROTOCOL_VERSION"] = version
    extra.update(headers)
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post("/mcp/", data, content_type="application/json", **extra)


def wire(response) -> tuple:
    """Return what a client sees of ``response``: status, headers and decoded body."""
    headers = {name.lower(): value for name, value in response.items()
               if name.lower() not in PER_REQUEST}
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = response.content
    return response.status_code, headers, body


def both(client, key, body, version, monkeypatch, **headers) -> tuple:
    """Return the wire answers of ``body``, as served and through the SDK's transport."""
    served = wire(exchange(client, key, body, version, **headers))
    with monkeypatch.context() as patch:
        patch.setattr(server, "serve", server.serve_through_sdk_transport)
        reference = wire(exchange(client, key, body, version, **headers))
    return served, reference


def request(method: str, params: dict | None = None, *, modern: bool = False, id=1) -> dict:
    body = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None or modern:
        params = dict(params or {})
        if modern:
            params["_meta"] = MODERN_META
        body["params"] = params
    return body


@pytest.fixture
def key_a(admin_a, tenant_a) -> str:
    api_tool(tenant_a)
    return key_of(admin_a, ["user:view"])


HANDSHAKE_MESSAGES = [
    pytest.param(request("initialize", {
        "protocolVersion": LEGACY, "capabilities": {},
        "clientInfo": {"name": "tests", "version": "1"}}), id="initialize"),
    pytest.param(request("initialize", {
        "protocolVersion": "1999-01-01", "capabilities": {},
        "clientInfo": {"name": "tests", "version": "1"}}), id="initialize-unknown-version"),
    pytest.param(request("initialize", {"capabilities": {}}), id="initialize-invalid"),
    pytest.param(request("ping"), id="ping"),
    pytest.param(request("ping", id="text-id"), id="ping-text-id"),
    pytest.param(request("tools/list", {}), id="tools-list"),
    pytest.param(request("tools/list", {"cursor": "not-ours"}), id="tools-list-bad-cursor"),
    pytest.param(request("tools/call", {"name": "users_list", "arguments": {"page_size": 2}}),
                 id="tools-call"),
    pytest.param(request("tools/call", {"name": "users_list", "arguments": {"page_size": "x"}}),
                 id="tools-call-bad-arguments"),
    pytest.param(request("tools/call", {"name": "nothing_here"}), id="tools-call-unknown"),
    pytest.param(request("tools/call", {"arguments": {}}), id="tools-call-without-name"),
    pytest.param(request("resources/list", {}), id="unserved-method"),
    pytest.param(request("no/such/method", {}), id="unknown-method"),
    pytest.param(request("server/discover", {}), id="discover-on-handshake"),
    pytest.param({"jsonrpc": "2.0", "method": "notifications/initialized"},
                 id="notification"),
    pytest.param({"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 7}}, id="notification-cancelled"),
    pytest.param({"jsonrpc": "2.0", "id": 5, "result": {}}, id="posted-response"),
    pytest.param({"jsonrpc": "2.0", "id": 5, "error": {"code": 1, "message": "no"}},
                 id="posted-error"),
    pytest.param({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, id="float-id"),
]


@pytest.mark.parametrize("version", [LEGACY, "2025-06-18", "2025-03-26", None])
@pytest.mark.parametrize("body", HANDSHAKE_MESSAGES)
def test_a_handshake_era_message_is_answered_as_the_sdk_transport_answers_it(
        client, key_a, body, version, monkeypatch):
    """2025-11-25 and the older handshake versions (or no header): the same answer."""
    served, reference = both(client, key_a, body, version, monkeypatch)
    assert served == reference


MODERN_MESSAGES = [
    pytest.param(request("server/discover", modern=True), {}, id="discover"),
    pytest.param(request("ping", modern=True), {}, id="ping"),
    pytest.param(request("tools/list", modern=True), {"HTTP_MCP_METHOD": "tools/list"},
                 id="tools-list"),
    pytest.param(request("tools/call", {"name": "users_list", "arguments": {"page_size": 2}},
                         modern=True),
                 {"HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "users_list"},
                 id="tools-call"),
    pytest.param(request("tools/call", {"name": "nothing_here"}, modern=True),
                 {"HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "nothing_here"},
                 id="tools-call-unknown"),
    pytest.param(request("tools/call", {"name": "users_list"}, modern=True),
                 {"HTTP_MCP_METHOD": "tools/list", "HTTP_MCP_NAME": "users_list"},
                 id="header-mismatch"),
    pytest.param(request("tools/list"), {}, id="no-envelope"),
    pytest.param(request("initialize", {"protocolVersion": MODERN}, modern=True), {},
                 id="initialize"),
    pytest.param({"jsonrpc": "2.0", "method": "notifications/initialized"}, {},
                 id="notification"),
    pytest.param({"jsonrpc": "2.0", "id": 5, "result": {}}, {}, id="posted-response"),
]


@pytest.mark.parametrize(("body", "headers"), MODERN_MESSAGES)
def test_a_2026_message_is_answered_as_the_sdk_transport_answers_it(
        client, key_a, body, headers, monkeypatch):
    """2026-07-28: the same answer, header checks included."""
    served, reference = both(client, key_a, body, MODERN, monkeypatch, **headers)
    assert served == reference


@pytest.mark.parametrize("version", [LEGACY, MODERN])
def test_the_accept_header_is_checked_as_the_sdk_transport_checks_it(
        client, key_a, version, monkeypatch):
    """A client that does not accept JSON gets the SDK's 406 on either era."""
    body = request("ping", modern=version == MODERN)
    served, reference = both(client, key_a, body, version, monkeypatch,
                             HTTP_ACCEPT="text/event-stream")
    assert served[0] == 406
    assert served == reference


def test_a_call_is_logged_alike_either_way(client, key_a, monkeypatch):
    """The call log rows of a call served either way carry the same facts."""
    body = request("tools/call", {"name": "users_list", "arguments": {"page_size": 2}})
    served, reference = both(client, key_a, body, LEGACY, monkeypatch)
    assert served == reference
    with all_tenants():
        rows = list(McpToolCallLog.objects.order_by("created_at", "pk").values(
            "tool_name", "status", "response_status", "response_data", "protocol_version",
            "jsonrpc_id", "request_params", "request_headers", "caller_id"))
    assert len(rows) == 2
    assert rows[0] == rows[1]
    assert rows[0]["protocol_version"] == LEGACY
