"""The MCP endpoint at the HTTP and JSON-RPC level, through the platform's WSGI stack.

Messages are posted as an agent posts them; the official SDK client against a live server
is in ``test_sdk_client.py``.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from accounts.models import User
from core.context import all_tenants, tenant_context
from gateway.models import McpTool, McpToolCallLog
from gateway.tests.factories import api_tool, endpoint, key_of
from logs.models import AuditLog, OperationLog

pytestmark = pytest.mark.django_db

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


def post(client: Client, body, *, key: str | None = None, version: str | None = LEGACY,
         **headers) -> object:
    """POST ``body`` (a dict is sent as JSON) to /mcp/ with the agent's headers."""
    extra = {"HTTP_ACCEPT": ACCEPT}
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    if version is not None:
        extra["HTTP_MCP_PROTOCOL_VERSION"] = version
    extra.update(headers)
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/mcp/", data, content_type="application/json", **extra)


def rpc(client: Client, key: str, method: str, params: dict | None = None, *,
        version: str = LEGACY, id: int = 1, **headers) -> dict:
    """Send one JSON-RPC request and return the decoded answer."""
    body = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        body["params"] = params
    response = post(client, body, key=key, version=version, **headers)
    return response.json()


def modern_meta() -> dict:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
    }


def call(client: Client, key: str, name: str, arguments: dict | None = None, **kwargs) -> dict:
    params = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    return rpc(client, key, "tools/call", params, **kwargs)


def tool_names(client: Client, key: str) -> list[str]:
    answer = rpc(client, key, "tools/list", {})
    return [tool["name"] for tool in answer["result"]["tools"]]


@pytest.fixture
def key_a(admin_a) -> str:
    return key_of(admin_a, ["user:view", "user:update"])


# Authentication and transport ------------------------------------------------------------


def test_a_request_without_a_key_is_401_with_the_metadata_challenge(client):
    """No key: 401 and a Bearer challenge naming the protected-resource metadata."""
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="http://testserver/.well-known/oauth-protected-resource/mcp/"' in challenge
    assert "error=" not in challenge


def test_a_bad_key_is_401_invalid_token(client, tenant_a):
    """A key that verifies nothing: 401 with error="invalid_token"."""
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    key="atr_nothing_0123456789abcdef0123456789abcdef")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_protected_resource_metadata(client):
    """RFC 9728 metadata names the resource and how to present a token."""
    data = client.get("/.well-known/oauth-protected-resource/mcp/").json()
    assert data["resource"] == "http://testserver/mcp/"
    assert data["bearer_methods_supported"] == ["header"]
    assert client.get("/.well-known/oauth-protected-resource").json() == data


def test_only_post_is_served(client, key_a):
    """Stateless JSON mode opens no stream: GET and DELETE are 405 with Allow: POST."""
    for method in ("get", "delete"):
        response = getattr(client, method)("/mcp/", HTTP_AUTHORIZATION=f"Bearer {key_a}")
        assert response.status_code == 405
        assert response["Allow"] == "POST"


def test_a_foreign_browser_origin_is_refused(client, key_a, settings):
    """A browser page of an unlisted origin cannot drive the endpoint; a listed one can."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    refused = post(client, body, key=key_a, HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403
    settings.MCP_ALLOWED_ORIGINS = ["https://agent.example"]
    allowed = post(client, body, key=key_a, HTTP_ORIGIN="https://agent.example")
    assert allowed.status_code == 200


def test_an_oversized_body_is_refused_before_parsing(client, key_a, settings):
    """A body over MCP_MAX_REQUEST_BYTES is 413."""
    settings.MCP_MAX_REQUEST_BYTES = 2048
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 4096}}
    response = post(client, body, key=key_a)
    assert response.status_code == 413


def test_the_response_carries_the_request_id(client, key_a):
    """The platform's request id comes back in X-Request-ID."""
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=key_a,
                    HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"


# Both protocol versions -------------------------------------------------------------------


def test_legacy_handshake_initialize_and_ping(client, key_a):
    """2025-11-25: initialize answers with the version and the tools capability; ping is empty."""
    answer = rpc(client, key_a, "initialize", {
        "protocolVersion": LEGACY, "capabilities": {},
        "clientInfo": {"name": "tests", "version": "1"},
    }, version=None)
    assert answer["result"]["protocolVersion"] == LEGACY
    assert "tools" in answer["result"]["capabilities"]
    assert answer["result"]["serverInfo"]["name"] == "atrium"
    initialized = post(client, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                       key=key_a)
    assert initialized.status_code == 202
    assert rpc(client, key_a, "ping")["result"] == {}


def test_modern_discover_and_cache_hints(client, key_a, tenant_a):
    """2026-07-28: server/discover lists the versions; tools/list carries ttlMs and private scope."""
    api_tool(tenant_a)
    discover = rpc(client, key_a, "server/discover", {"_meta": modern_meta()},
                   version=MODERN, HTTP_MCP_METHOD="server/discover")
    assert MODERN in discover["result"]["supportedVersions"]
    listing = rpc(client, key_a, "tools/list", {"_meta": modern_meta()}, version=MODERN,
                  HTTP_MCP_METHOD="tools/list")
    result = listing["result"]
    assert [tool["name"] for tool in result["tools"]] == ["users_list"]
    assert result["cacheScope"] == "private"
    assert result["ttlMs"] == 60_000


def test_an_unsupported_protocol_version_gets_the_specs_answer(client, key_a):
    """A version the server does not speak: 400 naming the versions it supports."""
    meta = {**modern_meta(), "io.modelcontextprotocol/protocolVersion": "1999-01-01"}
    response = post(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                             "params": {"_meta": meta}}, key=key_a, version="1999-01-01",
                    HTTP_MCP_METHOD="tools/list")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022  # UnsupportedProtocolVersion
    assert MODERN in error["data"]["supported"]


# Malformed JSON-RPC ----------------------------------------------------------------------


def test_malformed_json_is_a_parse_error(client, key_a):
    """-32700 for a body that is not JSON."""
    response = post(client, "{not json", key=key_a)
    assert response.json()["error"]["code"] == -32700


@pytest.mark.parametrize("body", [
    {"jsonrpc": "1.0", "id": 1, "method": "ping"},
    {"jsonrpc": "2.0", "id": 1, "method": 7},
    {"jsonrpc": "2.0", "id": 1},
    {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]},
    [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
    "42",
])
@pytest.mark.parametrize("version", [LEGACY, MODERN])
def test_an_invalid_request_is_32600(client, key_a, body, version):
    """-32600 for JSON that is not one JSON-RPC request, on both protocol versions."""
    response = post(client, body, key=key_a, version=version)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600


def test_an_unknown_method_is_32601(client, key_a):
    """-32601 for a method the server does not have."""
    assert rpc(client, key_a, "resources/teleport", {})["error"]["code"] == -32601


def test_an_unknown_tool_is_32602(client, key_a):
    """-32602 for a tool that does not exist."""
    answer = call(client, key_a, "no_such_tool", {})
    assert answer["error"]["code"] == -32602


def test_a_cursor_the_server_did_not_hand_out_is_32602(client, key_a):
    assert rpc(client, key_a, "tools/list", {"cursor": "!!"})["error"]["code"] == -32602


# Listing ----------------------------------------------------------------------------------


def test_listing_pages_with_a_cursor_in_a_stable_order(client, key_a, tenant_a, settings):
    """Pages of two, by name, until no cursor is left."""
    settings.MCP_TOOLS_PAGE_SIZE = 2
    for name in ("e_tool", "b_tool", "a_tool", "d_tool", "c_tool"):
        api_tool(tenant_a, name)
    seen, cursor = [], None
    for _page in range(5):
        params = {"cursor": cursor} if cursor else {}
        result = rpc(client, key_a, "tools/list", params)["result"]
        seen += [tool["name"] for tool in result["tools"]]
        cursor = result.get("nextCursor")
        if not cursor:
            break
    assert seen == ["a_tool", "b_tool", "c_tool", "d_tool", "e_tool"]


def test_a_tool_is_described_with_schemas_and_annotations(client, key_a, tenant_a):
    api_tool(tenant_a, title="List users", description="Users of the tenant.",
             output_schema={"type": "object"})
    (tool,) = rpc(client, key_a, "tools/list", {})["result"]["tools"]
    assert tool["title"] == "List users"
    assert tool["description"] == "Users of the tenant."
    assert tool["inputSchema"]["properties"]["search"] == {"type": "string"}
    assert tool["outputSchema"] == {"type": "object"}
    assert tool["annotations"] == {"readOnlyHint": True}


# Calling ---------------------------------------------------------------------------------


def test_calling_an_api_tool_runs_the_endpoint_as_the_keys_user(client, key_a, tenant_a, org_a,
                                                                  org_b):
    """The listing comes from the caller's tenant only, as structured and text content."""
    api_tool(tenant_a, output_schema={"type": "object"})
    result = call(client, key_a, "users_list", {"search": "alice"})["result"]
    assert result["isError"] is False
    data = result["structuredContent"]
    assert [row["username"] for row in data["results"]] == ["alice"]
    assert data["results"][0]["tenant"] == str(tenant_a.pk)
    assert json.loads(result["content"][0]["text"]) == data


def test_no_structured_content_without_an_output_schema(client, key_a, tenant_a):
    api_tool(tenant_a)
    result = call(client, key_a, "users_list", {})["result"]
    assert "structuredContent" not in result or result["structuredContent"] is None


def test_arguments_failing_the_schema_are_an_error_result_naming_the_field(client, key_a,
                                                                             tenant_a):
    """The tool's own schema refuses the call before it runs; the field is named."""
    api_tool(tenant_a)
    result = call(client, key_a, "users_list", {"page_size": "many"})["result"]
    assert result["isError"] is True
    assert "page_size" in result["content"][0]["text"]
    log = McpToolCallLog.objects.all_tenants().get()
    assert log.status == "failed" and log.response_status == 400


def test_two_tenants_tools_of_one_name_keep_their_own_schemas(client, admin_a, admin_b,
                                                                 tenant_a, tenant_b):
    """The same name, different schemas: each tenant's call is validated by its own."""
    api_tool(tenant_a, "lookup", schema={"type": "object", "properties": {
        "search": {"type": "string"}}, "additionalProperties": False})
    api_tool(tenant_b, "lookup", schema={"type": "object", "properties": {
        "page_size": {"type": "integer"}}, "additionalProperties": False})
    key_a, key_b = key_of(admin_a), key_of(admin_b)
    assert call(client, key_a, "lookup", {"search": "x"})["result"]["isError"] is False
    assert call(client, key_a, "lookup", {"page_size": 3})["result"]["isError"] is True
    assert call(client, key_b, "lookup", {"page_size": 3})["result"]["isError"] is False
    assert call(client, key_b, "lookup", {"search": "x"})["result"]["isError"] is True


def test_a_write_tool_is_audited_like_a_person(client, admin_a, tenant_a, org_a):
    """A PATCH through a tool writes the operation and audit logs with the call's request id."""
    alice = org_a["user"]
    api_tool(tenant_a, "user_update", path="/api/v1/users/{id}/", method="PATCH", schema={
        "type": "object", "required": ["id", "body"],
        "properties": {"id": {"type": "string"}, "body": {"type": "object"}},
    })
    key = key_of(admin_a, ["user:update"])
    result = call(client, key, "user_update", {"id": str(alice.pk), "body": {"name": "Alice A."}},
                  HTTP_X_REQUEST_ID="call-req-1")["result"]
    assert result["isError"] is False
    assert User.objects.all_tenants().get(pk=alice.pk).name == "Alice A."
    with all_tenants():
        operation = OperationLog.objects.get(request_id="call-req-1")
        audit = AuditLog.objects.get(request_id="call-req-1", entity_id=str(alice.pk))
        log = McpToolCallLog.objects.get(request_id="call-req-1")
    assert operation.method == "PATCH" and operation.user_id == admin_a.pk
    assert operation.tenant_id == tenant_a.pk
    assert audit.new_value == {"name": "Alice A."}
    assert log.tool_name == "user_update" and log.status == "success"


def test_another_tenants_object_is_an_error_result_404(client, admin_a, tenant_a, org_b):
    """A tool reaches the caller's tenant only: another tenant's user is 404, and unchanged."""
    bob = org_b["user"]
    api_tool(tenant_a, "user_update", path="/api/v1/users/{id}/", method="PATCH", schema={
        "type": "object", "properties": {"id": {"type": "string"}, "body": {"type": "object"}},
    })
    key = key_of(admin_a, ["user:update"])
    result = call(client, key, "user_update", {"id": str(bob.pk), "body": {"name": "X"}})["result"]
    assert result["isError"] is True
    assert "404" in result["content"][0]["text"]
    assert User.objects.all_tenants().get(pk=bob.pk).name != "X"


def test_a_call_is_logged_without_credentials(client, admin_a, tenant_a, caplog):
    """The call log keeps allow-listed headers and masked arguments; no log line has the key."""
    tool = api_tool(tenant_a, schema={"type": "object"})
    key = key_of(admin_a)
    with caplog.at_level(logging.DEBUG):
        call(client, key, "users_list", {"search": "a", "password": "hunter2"},
             HTTP_USER_AGENT="agent/1.0", HTTP_X_API_TOKEN="tok-secret",
             HTTP_TRACEPARENT="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    log = McpToolCallLog.objects.all_tenants().get()
    assert log.tool_id == tool.pk and log.tenant_id == tenant_a.pk
    assert log.caller_type == "api_key" and log.caller_id == key.split("_")[1]
    assert log.request_params == {"search": "a", "password": "[REDACTED]"}
    assert log.request_headers["user-agent"] == "agent/1.0"
    assert "authorization" not in log.request_headers
    assert "x-api-token" not in log.request_headers
    assert log.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert log.protocol_version == LEGACY and log.jsonrpc_id == "1"
    stored = json.dumps([log.request_params, log.request_headers, log.response_data])
    assert key not in stored and "hunter2" not in stored
    assert key not in caplog.text and "hunter2" not in caplog.text


def test_counters_follow_the_calls(client, key_a, tenant_a):
    """Calls, successes, failures and the average response time move with every call."""
    tool = api_tool(tenant_a)
    call(client, key_a, "users_list", {})
    call(client, key_a, "users_list", {"page_size": "bad"})
    tool = McpTool.objects.all_tenants().get(pk=tool.pk)
    assert (tool.call_count, tool.success_count, tool.failure_count) == (2, 1, 1)
    assert tool.avg_response_time == tool.total_response_time // 2


def test_counter_updates_write_no_audit_rows(client, key_a, tenant_a):
    api_tool(tenant_a)
    call(client, key_a, "users_list", {})
    with all_tenants():
        assert not AuditLog.objects.filter(entity_type="mcp.mcptool").exists()


def test_rate_limited_calls_get_a_readable_error_with_a_delay(client, admin_a, tenant_a,
                                                                 settings):
    """Over the key's limit: an error result saying when to retry, and a logged refusal."""
    settings.MCP_RATE_LIMITS = {"default": {"tenant": None, "key": "2/minute"}}
    api_tool(tenant_a)
    key = key_of(admin_a)
    assert call(client, key, "users_list", {})["result"]["isError"] is False
    assert call(client, key, "users_list", {})["result"]["isError"] is False
    refused = call(client, key, "users_list", {})["result"]
    assert refused["isError"] is True
    assert "retry" in refused["content"][0]["text"].lower()
    assert refused["_meta"]["io.atrium/retryAfter"] > 0
    with all_tenants():
        assert McpToolCallLog.objects.filter(response_status=429).count() == 1


def test_a_modern_call_counts_once_and_never_runs_the_listing(client, admin_a, tenant_a,
                                                               settings, monkeypatch):
    """A 2026-07-28 call with arguments: the SDK checks its Mcp-Param headers against the
    tool's schema, which the gateway hands it; the listing does not run behind the call's
    back, so the call takes one token of the caller's limit, not two."""
    from gateway import server

    settings.MCP_RATE_LIMITS = {"default": {"tenant": None, "key": "1/minute"}}
    api_tool(tenant_a)
    listings = []
    monkeypatch.setattr(server, "list_page", lambda *args: listings.append(args))
    headers = {"HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "users_list"}
    answer = rpc(
        client, key_of(admin_a), "tools/call",
        {"name": "users_list", "arguments": {"page_size": 2}, "_meta": modern_meta()},
        version=MODERN, **headers)
    assert answer["result"]["isError"] is False, answer
    assert listings == []


def test_mcp_param_headers_are_checked_against_the_callers_tool(client, admin_a, admin_b,
                                                                 tenant_a, tenant_b):
    """The SDK checks ``Mcp-Param-*`` headers against the caller's own tool's schema: tenant
    B's tool of the same name declares a header, tenant A's does not."""
    api_tool(tenant_a)
    api_tool(tenant_b, schema={"type": "object", "properties": {
        "search": {"type": "string", "x-mcp-header": "Search"}}})
    headers = {"HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "users_list",
               "HTTP_MCP_PARAM_SEARCH": "bob"}

    def send(admin, search):
        params = {"name": "users_list", "arguments": {"search": search},
                  "_meta": modern_meta()}
        return post(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                             "params": params}, key=key_of(admin), version=MODERN, **headers)

    refused = send(admin_b, "alice")
    assert refused.status_code == 400, refused.content
    assert "Mcp-Param-Search" in refused.json()["error"]["message"]
    assert send(admin_b, "bob").json()["result"]["isError"] is False
    assert send(admin_a, "alice").json()["result"]["isError"] is False


def test_a_rate_limited_listing_is_a_json_rpc_error_with_a_delay(client, admin_a, tenant_a,
                                                                   settings):
    settings.MCP_RATE_LIMITS = {"default": {"tenant": "1/hour", "key": None}}
    key = key_of(admin_a)
    assert "result" in rpc(client, key, "tools/list", {})
    error = rpc(client, key, "tools/list", {})["error"]
    assert error["data"]["retryAfter"] > 0


def test_the_asgi_app_serves_the_endpoint_too(key_a, tenant_a):
    """The platform's ASGI application answers tools/call as the WSGI one does."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    api_tool(tenant_a)
    body = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                       "params": {"name": "users_list", "arguments": {}}})
    response = async_to_sync(AsyncClient().post)(
        "/mcp/", body, content_type="application/json",
        headers={"Authorization": f"Bearer {key_a}", "Accept": ACCEPT,
                 "MCP-Protocol-Version": LEGACY},
    )
    assert response.status_code == 200
    assert response.json()["result"]["isError"] is False


def test_a_disabled_endpoint_hides_its_tool(client, key_a, tenant_a):
    """Switching the route off in the registry hides and refuses the tool at once."""
    api_tool(tenant_a)
    row = endpoint("/api/v1/users/")
    row.is_enabled = False
    row.save()
    assert tool_names(client, key_a) == []
    assert call(client, key_a, "users_list", {})["error"]["code"] == -32602


def test_tools_of_another_tenant_are_unknown(client, key_a, tenant_b):
    api_tool(tenant_b, "beta_only")
    assert tool_names(client, key_a) == []
    assert call(client, key_a, "beta_only", {})["error"]["code"] == -32602
    with tenant_context(tenant_b):
        assert McpTool.objects.get().call_count == 0


def test_the_call_log_keeps_a_marked_preview_of_a_long_answer(client, key_a, tenant_a, org_a,
                                                              settings):
    """An answer over MCP_CALL_LOG_RESPONSE_BYTES is logged as a marked preview, never refused."""
    settings.MCP_CALL_LOG_RESPONSE_BYTES = 300
    api_tool(tenant_a)
    assert call(client, key_a, "users_list", {})["result"]["isError"] is False
    logged = McpToolCallLog.objects.all_tenants().get().response_data
    assert logged["__truncated__"] is True and logged["limit"] == 300
    assert logged["size"] > 300 and len(logged["preview"].encode()) <= 150


# Protocol versions (issue 16, items 2 and 3) ---------------------------------------------


SERVED = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]


@pytest.mark.parametrize("header", ["1999-01-01", "2099-01-01", "garbage"])
@pytest.mark.parametrize("meta", [False, True])
def test_an_unknown_version_header_gets_the_unsupported_version_answer(
        client, key_a, header, meta):
    """With or without the 2026-07-28 envelope, an unknown MCP-Protocol-Version header is
    400 -32022 naming every version the endpoint speaks, and the one asked for."""
    params = {"_meta": {**modern_meta(), "io.modelcontextprotocol/protocolVersion": header}} \
        if meta else {}
    response = post(client, {"jsonrpc": "2.0", "id": 7, "method": "tools/list",
                             "params": params}, key=key_a, version=header,
                    HTTP_MCP_METHOD="tools/list")
    assert response.status_code == 400
    answer = response.json()
    assert answer["id"] == 7
    assert answer["error"]["code"] == -32022
    assert answer["error"]["data"] == {"supported": SERVED, "requested": header}


def test_discover_lists_every_version_served(client, key_a):
    discover = rpc(client, key_a, "server/discover", {"_meta": modern_meta()},
                   version=MODERN, HTTP_MCP_METHOD="server/discover")
    assert discover["result"]["supportedVersions"] == SERVED
    assert discover["result"]["capabilities"]["tools"] is not None


@pytest.mark.parametrize("version", SERVED[1:])
def test_each_handshake_version_is_served(client, key_a, version):
    answer = rpc(client, key_a, "initialize", {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "tests", "version": "1"}}, version=None)
    assert answer["result"]["protocolVersion"] == version
    assert rpc(client, key_a, "ping", version=version)["result"] == {}
