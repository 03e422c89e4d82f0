"""The in-process call runs only the middleware the outer request has not (issue 16, item 6).

Its chain is the operation log alone (``gateway.dispatch.IN_PROCESS_MIDDLEWARE``);
``call_api`` applies the API's error format around it and opens the inner request's
context: an agent meets the API's JSON error for a refusal made outside a view, and the 413
of a body over the limit, as a direct API client does; a write keeps its operation and
audit rows under the call's request id; permissions and the key's scopes still apply.
"""

from __future__ import annotations

import json

import pytest

from gateway import dispatch
from gateway.tests.factories import api_tool, key_of
from gateway.tests.test_server import call, post
from rbac.models import ApiEndpoint

pytestmark = pytest.mark.django_db


def error_text(result: dict) -> str:
    assert result["isError"] is True, result
    return result["content"][0]["text"]


def test_a_route_that_does_not_resolve_answers_the_api_404(client, admin_a, tenant_a):
    ApiEndpoint.objects.create(path="/api/v1/nowhere/", method="GET",
                               permission_code="user:view")
    api_tool(tenant_a, "nowhere", path="/api/v1/nowhere/",
             schema={"type": "object", "properties": {}})
    result = call(client, key_of(admin_a), "nowhere", {})["result"]
    assert error_text(result).startswith("The platform answered 404. error: {'status': 404, "
                                         "'code': 'not_found'"), result


def test_a_body_that_grows_over_the_limit_in_process_is_the_api_413(client, admin_a,
                                                                     tenant_a, settings):
    # The agent sends UTF-8; the in-process body escapes it (six bytes per character), so
    # the call's own body is over the limit while the agent's was not.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api_tool(tenant_a, "position_create", path="/api/v1/positions/", method="POST",
             schema={"type": "object", "properties": {"body": {"type": "object"}}})
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "position_create",
                       "arguments": {"body": {"name": "é" * 200, "code": "p1"}}}}
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) < 1000
    answer = post(client, raw, key=key_of(admin_a, ["position:create"])).json()
    assert error_text(answer["result"]) == (
        "The platform answered 413. error: {'status': 413, 'code': 'request_too_large', "
        "'message': 'The request body is too large.'}")


def test_the_in_process_chain_is_the_operation_log_alone(settings):
    """The loaded chain is IN_PROCESS_MIDDLEWARE, each of it in MIDDLEWARE."""
    dispatch._handler = None
    try:
        loaded = []
        chain = dispatch.handler()._middleware_chain
        while chain is not None:
            # convert_exception_to_response wraps each middleware; the innermost is the view
            # dispatcher, a bound method of the handler.
            middleware = chain.__closure__[0].cell_contents if chain.__closure__ else None
            if middleware is None or not hasattr(middleware, "get_response"):
                break
            loaded.append(f"{type(middleware).__module__}.{type(middleware).__qualname__}")
            chain = middleware.get_response
        assert loaded == list(dispatch.IN_PROCESS_MIDDLEWARE)
        assert set(dispatch.IN_PROCESS_MIDDLEWARE) <= set(settings.MIDDLEWARE)
    finally:
        dispatch._handler = None


def test_a_write_through_a_tool_keeps_its_operation_and_audit_rows(client, admin_a, tenant_a):
    """The inner request's operation log and audit entries carry the call's request id."""
    from core.context import tenant_context
    from logs.models import AuditLog, OperationLog

    api_tool(tenant_a, "position_create", path="/api/v1/positions/", method="POST",
             schema={"type": "object", "properties": {"body": {"type": "object"}}})
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "position_create",
                       "arguments": {"body": {"name": "Agent", "code": "agent"}}}}
    response = post(client, json.dumps(body).encode(),
                    key=key_of(admin_a, ["position:create"]),
                    HTTP_X_REQUEST_ID="mcp-write-1")
    assert response.json()["result"]["isError"] is False, response.json()
    with tenant_context(tenant_a):
        operation = OperationLog.objects.get(request_id="mcp-write-1")
        assert operation.method == "POST" and operation.uri.startswith("/api/v1/positions/")
        assert operation.user_id == admin_a.pk
        assert AuditLog.objects.filter(request_id="mcp-write-1").exists()


def test_the_keys_scopes_still_narrow_the_in_process_call(client, admin_a, tenant_a):
    """A key without the endpoint's scope is refused by the API's permission check."""
    api_tool(tenant_a, "position_create", path="/api/v1/positions/", method="POST",
             schema={"type": "object", "properties": {"body": {"type": "object"}}})
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "position_create",
                       "arguments": {"body": {"name": "Agent", "code": "agent"}}}}
    answer = post(client, json.dumps(body).encode(), key=key_of(admin_a, ["user:view"])).json()
    # Unknown to this key (policy) or refused by the API: never a success.
    assert "error" in answer or answer["result"]["isError"] is True, answer
