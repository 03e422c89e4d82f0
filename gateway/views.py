"""``/mcp/``: the MCP endpoint, and its protected-resource metadata (RFC 9728).

The view does what belongs to the platform, parses the body once, and leaves the protocol
to the SDK (``gateway.server``):

* only ``POST`` (stateless JSON mode opens no event stream): anything else is 405;
* a browser ``Origin`` must be listed in ``MCP_ALLOWED_ORIGINS`` (DNS-rebinding and
  cross-site protection; agents send none), ``Host`` is checked by ``ALLOWED_HOSTS``;
* a body over ``MCP_MAX_REQUEST_BYTES`` is refused (413): before it is read when its
  ``Content-Length`` says so, while it is read when it comes chunked (``Transfer-Encoding:
  chunked``, no length: gunicorn hands the WSGI app the de-chunked stream, which Django's
  request reads as empty, so the view reads it itself, never more than the cap and a byte);
* a body that is not ``application/json`` is refused (415), in JSON-RPC like every other
  refusal here, before the SDK's transport answers it with plain text;
* ``Authorization: Bearer <api key>``: no key or a bad one is 401 with
  ``WWW-Authenticate`` pointing at the protected-resource metadata; a good one runs the
  request as the key's user, in the user's tenant, narrowed by the key's scopes.

The response carries the platform's ``X-Request-ID``, the id every call log, operation
log and audit row of the request share.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from mcp_types import UNSUPPORTED_PROTOCOL_VERSION
from rest_framework.exceptions import AuthenticationFailed

from accounts.api.authentication import authenticate_bearer
from core import json as safe_json
from core.context import clean_request_id, client_ip
from gateway import bridge, policy, server
from gateway.policy import Caller

TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# Headers of the ASGI scope handed to the SDK: what the protocol needs, never credentials.
FORWARDED_HEADERS = ("content-type", "accept", "mcp-protocol-version", "mcp-session-id",
                     "mcp-method", "mcp-name", "origin", "host", "last-event-id")
# A 2026-07-28 call's argument headers (``Mcp-Param-<name>``), checked by the SDK.
FORWARDED_PREFIXES = ("mcp-param-",)


def resource_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("mcp-endpoint"))


def metadata_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("mcp-resource-metadata"))


def jsonrpc_error(code: int, message: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse(
        {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}},
        status=status,
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class BodyTooLarge(Exception):
    """The request body is larger than ``MCP_MAX_REQUEST_BYTES``."""


def read_body(request: HttpRequest) -> bytes:
    """Return the request body, at most ``MCP_MAX_REQUEST_BYTES`` of it; raise
    ``BodyTooLarge`` past that, having read no more than the cap and one byte."""
    limit = settings.MCP_MAX_REQUEST_BYTES
    environ = getattr(request, "environ", {})
    if not request.META.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
        # A chunked body under a WSGI server that ends the input stream (gunicorn): Django
        # reads no body without a Content-Length, so read the stream to its end here.
        stream, chunks, size = environ["wsgi.input"], [], 0
        while size <= limit:
            chunk = stream.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        body = b"".join(chunks)
    else:
        # A declared length (checked against the cap before), or an ASGI server's body,
        # which Django has spooled (to disk past FILE_UPLOAD_MAX_MEMORY_SIZE).
        body = request.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge
    return body


def json_content_type(request: HttpRequest) -> bool:
    """Return whether the body is declared ``application/json`` (parameters allowed)."""
    return request.content_type.strip().lower() == "application/json"


def parse_envelope(body: bytes) -> tuple[dict | None, JsonResponse | None]:
    """Return ``(message, None)`` for one JSON-RPC 2.0 message, else ``(None, refusal)``.

    The SDK's handshake-era transport answers a malformed message with -32602 and a
    validation dump; the specification's answers are -32700 (not JSON) and -32600 (not a
    request), which this check gives on both protocol versions. Batches are a -32600
    too: MCP removed JSON-RPC batching in 2025-06-18.
    """
    try:
        message = safe_json.loads(body, max_depth=settings.API_JSON_MAX_DEPTH)
    except ValueError:  # malformed, or nested deeper than the cap (core.json.TooDeep)
        return None, jsonrpc_error(-32700, "Parse error", 400)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None, jsonrpc_error(-32600, "Invalid Request", 400)
    if "method" in message:
        valid = isinstance(message["method"], str) and (
            "params" not in message or isinstance(message["params"], dict))
    else:
        valid = "id" in message and ("result" in message or "error" in message)
    request_id = message.get("id")
    if not valid:
        response = jsonrpc_error(-32600, "Invalid Request", 400)
        if isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
            response.content = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": -32600, "message": "Invalid Request"}}).encode()
        return None, response
    return message, None


def unsupported_version(request: HttpRequest, message: dict) -> JsonResponse | None:
    """Return the specification's answer to an ``MCP-Protocol-Version`` header naming a
    version the endpoint does not speak (400, -32022 with the versions it does), whatever
    the body carries; ``None`` when the header is absent or served.

    The SDK checks the header against the body's 2026-07-28 envelope first, so a body
    without one drew "params._meta must be an object" for a version it never speaks.
    """
    requested = request.headers.get("MCP-Protocol-Version")
    if requested is None or requested in server.SERVED_VERSIONS:
        return None
    request_id = message.get("id")
    if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
        request_id = None
    return JsonResponse({"jsonrpc": "2.0", "id": request_id, "error": {
        "code": UNSUPPORTED_PROTOCOL_VERSION, "message": "Unsupported protocol version",
        "data": {"supported": list(server.SERVED_VERSIONS), "requested": requested[:100]},
    }}, status=400)


def called_tool_name(message: dict) -> str | None:
    """Return the tool a ``tools/call`` message names, ``None`` for anything else."""
    if message.get("method") != "tools/call":
        return None
    name = (message.get("params") or {}).get("name")
    return name if isinstance(name, str) else None


def unauthorized(request: HttpRequest, error: str | None = None) -> JsonResponse:
    """Return 401 with the challenge RFC 6750 and RFC 9728 describe."""
    challenge = f'Bearer realm="mcp", resource_metadata="{metadata_url(request)}"'
    if error:
        challenge += ', error="invalid_token", error_description="%s"' % error.replace('"', "'")
    message = error or _("Send 'Authorization: Bearer <api key>'.")
    response = jsonrpc_error(-32001, message, 401)
    response["WWW-Authenticate"] = challenge
    return response


def origin_allowed(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    return not origin or origin in settings.MCP_ALLOWED_ORIGINS


def trace_id(request: HttpRequest) -> str:
    match = TRACEPARENT.match(request.headers.get("traceparent", "").strip().lower())
    return match.group(1) if match else ""


def asgi_scope(request: HttpRequest) -> dict:
    """Return the ASGI scope of ``request`` with only the headers the protocol needs."""
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1", errors="replace"))
        for name, value in request.headers.items()
        if name.lower() in FORWARDED_HEADERS or name.lower().startswith(FORWARDED_PREFIXES)
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (request.get_host().split(":")[0], int(request.get_port() or 80)),
        "client": (client_ip(request) or "", 0),
    }


def _exchange(state: server.GatewayRequest, scope: dict, body: bytes,
              message: dict) -> HttpResponse:
    """Run the SDK on one request and return what it answered as a Django response.

    ``message`` is ``body`` parsed; the handshake era is served from it, the 2026-07-28
    entry reads ``body`` (``gateway.server.serve``)."""
    sent_body = False
    status = 500
    response_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(event: dict) -> None:
        nonlocal status, response_headers
        if event["type"] == "http.response.start":
            status = event["status"]
            response_headers = list(event.get("headers") or [])
        elif event["type"] == "http.response.body":
            chunks.append(event.get("body", b""))

    bridge.run(server.serve, state, scope, message, receive, send)
    response = HttpResponse(b"".join(chunks), status=status)
    for name, value in response_headers:
        key = name.decode("latin-1")
        if key.lower() in ("content-length", "connection"):
            continue
        response[key] = value.decode("latin-1")
    return response


@csrf_exempt
def mcp_endpoint(request: HttpRequest) -> HttpResponse:
    """Serve one MCP message (see the module docstring)."""
    if request.method != "POST":
        response = HttpResponse(status=405)
        response["Allow"] = "POST"
        return response
    if not origin_allowed(request):
        return jsonrpc_error(-32600, _("This origin may not call the MCP endpoint."), 403)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.MCP_MAX_REQUEST_BYTES:
        return jsonrpc_error(-32600, _("The request body is too large."), 413)
    header = request.META.get("HTTP_AUTHORIZATION", "").encode("latin-1", errors="replace")
    try:
        principal = authenticate_bearer(request, header)
    except AuthenticationFailed as exc:
        return unauthorized(request, str(exc.detail))
    if principal is None:
        return unauthorized(request)
    user, api_key = principal
    caller = Caller(
        user=user, api_key=api_key, ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:500],
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    state = server.GatewayRequest(
        caller=caller,
        request_id=getattr(request, "request_id", None) or clean_request_id(None),
        host=request.get_host(),
        secure=request.is_secure(),
        trace_id=trace_id(request),
    )
    if not json_content_type(request):
        return jsonrpc_error(
            -32600, _("Unsupported Media Type: the body must be application/json."), 415)
    try:
        body = read_body(request)
    except BodyTooLarge:
        return jsonrpc_error(-32600, _("The request body is too large."), 413)
    message, refusal = parse_envelope(body)
    if refusal is None:
        refusal = unsupported_version(request, message)
    if refusal is not None:
        return refusal
    name = called_tool_name(message)
    if name is not None:
        # Resolved here, where the ORM may run: the SDK asks for the tool's input schema
        # from inside its event loop (``server.tool_input_schema``), and the call reuses it.
        state.called = (name, policy.find_tool(caller, name))
    return _exchange(state, asgi_scope(request), body, message)


def resource_metadata(request: HttpRequest) -> JsonResponse:
    """Describe ``/mcp/`` as an OAuth protected resource (RFC 9728).

    Agents authenticate with the platform's API keys, issued in the admin or the API, not
    by an OAuth flow; so no authorization server is listed unless one is configured.
    """
    metadata = {
        "resource": resource_url(request),
        "resource_name": "Atrium MCP gateway",
        "bearer_methods_supported": ["header"],
        "resource_documentation": request.build_absolute_uri("/api/docs/"),
    }
    servers = settings.MCP_AUTHORIZATION_SERVERS
    if servers:
        metadata["authorization_servers"] = list(servers)
    response = JsonResponse(metadata)
    response["Cache-Control"] = "public, max-age=3600"
    return response

