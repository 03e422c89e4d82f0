"""The in-process chain without ``ApiErrorFormatMiddleware`` still answers in the API's format.

The in-process chain leaves that middleware out (``gateway.dispatch.IN_PROCESS_SKIPS``) and
``call_api`` applies its formatting around the chain: an agent meets the API's JSON error
for a refusal made outside a view, and the 413 of a body over the limit, as a direct API
client does.
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


def test_the_in_process_chain_leaves_out_only_the_named_middleware(settings):
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
        expected = [name for name in settings.MIDDLEWARE if name not in dispatch.IN_PROCESS_SKIPS]
        assert loaded == expected
        assert dispatch.IN_PROCESS_SKIPS < set(settings.MIDDLEWARE)
    finally:
        dispatch._handler = None
