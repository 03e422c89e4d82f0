"""The MCP server behind ``/mcp/``, built on the official SDK (``mcp`` 2.x, lowlevel ``Server``).

The endpoint is the SDK's stateless Streamable HTTP endpoint with JSON responses, and
answers both protocol generations: ``2026-07-28`` (``server/discover``, per-request
``_meta``, header/body checks, ``ttlMs``/``cacheScope`` on ``tools/list``) and
``2025-11-25`` (``initialize``, ``notifications/initialized``, ``ping``). ``serve`` routes a
request as the SDK's ``StreamableHTTPSessionManager`` does, without the manager:

* 2026-07-28 goes to the SDK's single-exchange entry (``handle_modern_request``), which
  checks the envelope and headers and runs the SDK's kernel (``serve_one``) in the request;
* the handshake era (2025-11-25 and before, or no version header) is served by
  ``_serve_handshake`` from the message the view parsed: the SDK's own validation
  (``mcp_types``), kernel (``serve_one``), error mapping and answers, without the
  transport, dispatcher, memory streams and server task the SDK's transport builds for
  every stateless request (about 0.6 ms of every call, issue 16, item 6).
  ``gateway/tests/test_sdk_parity.py`` holds its answers to the SDK transport's.

The kernel calls the handlers here. ``gateway.views.mcp_endpoint`` (a plain Django view,
so the platform's WSGI and ASGI apps serve it alike) authenticates the API key, parses the
body, then runs ``serve`` on the thread's event loop (``gateway.bridge.run``). The handlers
run their Django work with ``bridge.run_sync``: outside the loop, on the request's own
thread, with its database connection, transaction and tenant context. The per-request
state travels in a ``ContextVar``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import mcp_types as types
from django.conf import settings
from django.utils.translation import gettext as _
from mcp.server.caching import CacheHint
from mcp.server._streamable_http_modern import _SingleExchangeDispatchContext, handle_modern_request
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import ServerRunner, aclose_shielded, serve_one
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.jsonrpc_dispatcher import (
    handler_exception_to_error_data,
    progress_token_from_params,
)
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request

from gateway import bridge, policy
from gateway.services import calls

logger = logging.getLogger("atrium.mcp")

# Every protocol version the endpoint speaks: the 2026-07-28 generation (per-request
# envelope) and the handshake generation the SDK negotiates with ``initialize`` (up to
# 2025-11-25). Named wherever the server states what it supports: ``server/discover`` and
# the unsupported-version error (-32022), so an ``auto`` client sharing no modern version
# with the server sees it may fall back to ``initialize``.
SERVED_VERSIONS = (*MODERN_PROTOCOL_VERSIONS[::-1], *HANDSHAKE_PROTOCOL_VERSIONS[::-1])
SERVER_NAME = "atrium"
SERVER_VERSION = "1.0"
# JSON-RPC "server error" range: the request was understood but a limit refused it.
RATE_LIMITED = -32029
INSTRUCTIONS = (
    "Atrium's platform API as tools. Every tool runs as the user who owns the API key, "
    "within that user's tenant, permissions and the key's scopes."
)


@dataclass
class GatewayRequest:
    """What the handlers need to know about the HTTP request they serve."""

    caller: policy.Caller
    request_id: str
    host: str
    secure: bool
    trace_id: str = ""
    # (name, tool or None) of a tools/call, resolved by the view before the SDK runs.
    called: tuple[str, Any] | None = None

    def called_tool(self, name: str):
        """Return the tool ``name`` the caller may call (resolved once per request)."""
        if self.called is None or self.called[0] != name:
            self.called = (name, policy.find_tool(self.caller, name))
        return self.called[1]


_current: ContextVar[GatewayRequest | None] = ContextVar("atrium_mcp_request", default=None)


def current() -> GatewayRequest:
    """Return the request being served (set by the view before it enters the SDK)."""
    state = _current.get()
    if state is None:
        raise RuntimeError("The MCP handlers run only inside gateway.views.mcp_endpoint.")
    return state


def tool_model(tool) -> types.Tool:
    """Return the MCP description of ``tool``."""
    annotations = {
        key: value for key, value in (tool.annotations or {}).items()
        if key in ("title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
    }
    return types.Tool(
        name=tool.name,
        title=tool.title or None,
        description=tool.description or None,
        input_schema=tool.input_schema or {"type": "object"},
        output_schema=tool.output_schema or None,
        annotations=types.ToolAnnotations.model_validate(annotations) if annotations else None,
    )


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode("ascii")


def decode_cursor(cursor: str) -> str:
    """Return the name a page starts after; refuse a cursor this server did not hand out."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        after = value["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise MCPError(code=types.INVALID_PARAMS, message=_("Invalid cursor.")) from None
    if not isinstance(after, str):
        raise MCPError(code=types.INVALID_PARAMS, message=_("Invalid cursor."))
    return after


def _rate_limit(state: GatewayRequest):
    """Return the ``RateLimited`` refusal of this request, or ``None`` within the limits."""
    from gateway.limits import RateLimited, check_rate

    caller = state.caller
    if caller.api_key is None:
        return None  # the admin's "try this tool" form: a person, not an agent
    try:
        check_rate(tenant=caller.user.tenant, api_key=caller.api_key)
    except RateLimited as refusal:
        return refusal
    return None


def list_page(state: GatewayRequest, cursor: str | None) -> types.ListToolsResult:
    """Return one page of the tools the caller may call."""
    refusal = _rate_limit(state)
    if refusal is not None:
        raise MCPError(code=RATE_LIMITED, message=refusal.message,
                       data={"retryAfter": round(refusal.retry_after, 3)})
    after = decode_cursor(cursor).lower() if cursor else None
    tools = policy.visible_tools(state.caller)
    if after is not None:
        tools = [tool for tool in tools if tool.name.lower() > after]
    size = settings.MCP_TOOLS_PAGE_SIZE
    page, rest = tools[:size], tools[size:]
    return types.ListToolsResult(
        tools=[tool_model(tool) for tool in page],
        next_cursor=encode_cursor(page[-1].name.lower()) if rest else None,
        ttl_ms=settings.MCP_TOOLS_LIST_TTL_MS,
        cache_scope="private",
    )


def call(state: GatewayRequest, name: str, arguments, protocol_version: str,
         jsonrpc_id) -> types.CallToolResult:
    """Call the tool ``name`` for the caller; unknown and forbidden tools are one answer."""
    tool = state.called_tool(name)
    if tool is None:
        raise MCPError(code=types.INVALID_PARAMS, message=_("Unknown tool: %(name)s") % {
            "name": str(name)[:128]})
    context = calls.CallContext(
        request_id=state.request_id, protocol_version=protocol_version or "",
        jsonrpc_id="" if jsonrpc_id is None else str(jsonrpc_id), trace_id=state.trace_id,
        host=state.host, secure=state.secure,
    )
    refusal = _rate_limit(state)
    if refusal is not None:
        outcome = calls.CallOutcome(ok=False, status=429, message=refusal.message)
        calls.record_call(tool, arguments, outcome, caller=state.caller, context=context)
        return types.CallToolResult(
            content=[types.TextContent(text=refusal.message)], is_error=True,
            meta={"io.atrium/retryAfter": round(refusal.retry_after, 3)},
        )
    outcome = calls.call_tool(tool, arguments, caller=state.caller, context=context)
    return types.CallToolResult(
        content=[types.TextContent(text=calls.result_text(outcome))],
        structured_content=outcome.structured if outcome.ok else None,
        is_error=not outcome.ok,
    )


def tool_input_schema(name: str) -> dict | None:
    """Return the input schema of the tool ``name`` as the caller sees it, or ``None``.

    The SDK checks a 2026-07-28 call's ``Mcp-Param-*`` headers against it, from inside
    its event loop, before the call handler runs. Without this it would run the whole
    ``tools/list`` handler for every call, and count the listing against the caller's
    rate limit. The tool was resolved by the view; anything the caller may not call is
    ``None``, and the call handler answers it as unknown.
    """
    state = _current.get()
    if state is None or state.called is None or state.called[0] != name:
        return None
    tool = state.called[1]
    return None if tool is None else (tool.input_schema or {"type": "object"})


async def on_list_tools(ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    state = current()
    cursor = params.cursor if params is not None else None
    return await bridge.run_sync(list_page, state, cursor)


async def on_call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    state = current()
    return await bridge.run_sync(call, state, params.name, params.arguments,
                                 ctx.protocol_version, ctx.request_id)


async def on_discover(ctx, params: types.RequestParams) -> types.DiscoverResult:
    """``server/discover``: the SDK's answer, naming every version served (SERVED_VERSIONS)."""
    return types.DiscoverResult(
        supported_versions=list(SERVED_VERSIONS),
        capabilities=server().get_capabilities(protocol_version=ctx.protocol_version),
        instructions=INSTRUCTIONS,
    )


_server: Server | None = None


def server() -> Server:
    """Return the process's MCP server (its handlers hold no per-request state)."""
    global _server
    if _server is None:
        _server = Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            title="Atrium",
            instructions=INSTRUCTIONS,
            get_tool_input_schema=tool_input_schema,
            on_list_tools=on_list_tools,
            on_call_tool=on_call_tool,
            cache_hints={"tools/list": CacheHint(ttl_ms=0, scope="private")},
        )
        _server.add_request_handler("server/discover", types.RequestParams, on_discover)
    return _server


async def _held_open(key: str, opener) -> Any:
    """Return what the async context manager ``opener()`` yields, entered once per event
    loop and held open by a resident task (``gateway.bridge.resident``); it lives in the
    loop's state (``gateway.bridge.loop_state``) under ``key``: one per thread's loop."""
    state = bridge.loop_state()
    entry = state.get(key)
    if entry is None:
        ready, holder = asyncio.Event(), []
        entry = state[key] = (ready, holder)

        async def keep_running() -> None:
            async with opener() as value:
                holder.insert(0, value)
                ready.set()
                await asyncio.Event().wait()

        # Not tied to the request's context: it outlives every request. The loop keeps only
        # a weak reference to a task; the holder keeps it alive.
        task = asyncio.get_running_loop().create_task(keep_running(), context=contextvars.Context())
        holder.append(task)
        bridge.resident(task)
    ready, holder = entry
    await ready.wait()
    return holder[0]


async def _lifespan_state() -> Any:
    """Return the state of the server's lifespan, entered once per loop and held open.

    The SDK's session manager entered it once for its life, not per request; this does
    the same without the manager.
    """
    app = server()
    return await _held_open("lifespan", lambda: app.lifespan(app))


# The handshake-era transport, stateless and JSON-only, kept for its answers: its Accept
# check and the JSON-RPC bodies and headers it writes. A transport without a session
# keeps nothing of a request once it has answered (``_serve_handshake`` never connects it).
_handshake_transport = StreamableHTTPServerTransport(
    mcp_session_id=None, is_json_response_enabled=True)
_HANDSHAKE_TRANSPORT = TransportContext(kind="streamable-http", can_send_request=False)


async def _serve_handshake(request: Request, message: dict, lifespan_state: Any,
                           send) -> None:
    """Answer a handshake-era message (2025-11-25 and before) as the SDK's stateless JSON
    transport does, without building the transport, its dispatcher and a server task
    for every request.

    The steps are the SDK's (``StreamableHTTPServerTransport._handle_post_request`` in JSON
    mode, its ``JSONRPCDispatcher`` and ``StreamableHTTPSessionManager
    ._handle_stateless_request``): the message validated with ``mcp_types``, a
    notification or response acknowledged with 202, a request served by the SDK's
    kernel (``serve_one``, a born-ready connection at the header's version), a handler's
    failure mapped as the dispatcher maps it, and the answer written by the transport.
    """
    scope, receive = request.scope, request.receive
    transport = _handshake_transport
    refusal = await transport._security.validate_request(request, is_post=True)
    if refusal is not None:
        await refusal(scope, receive, send)
        return
    if not await transport._validate_accept_header(request, scope, send):
        return
    if not transport._check_content_type(request):
        await transport._create_error_response(
            "Unsupported Media Type: Content-Type must be application/json",
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE)(scope, receive, send)
        return
    try:
        parsed = types.jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValidationError as exc:
        await transport._create_error_response(
            f"Validation error: {exc}", HTTPStatus.BAD_REQUEST, types.INVALID_PARAMS,
        )(scope, receive, send)
        return
    app = server()
    version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER, types.DEFAULT_NEGOTIATED_VERSION)
    connection = Connection.from_envelope(version, None, None)
    metadata = ServerMessageMetadata(request_context=request, can_send_request=False)
    if not isinstance(parsed, types.JSONRPCRequest):
        await transport._create_json_response(None, HTTPStatus.ACCEPTED)(scope, receive, send)
        if isinstance(parsed, types.JSONRPCNotification):
            # After the 202, as the transport hands it to the server; a response posted
            # by the client answers nothing this stateless server asked, and is dropped.
            dctx = _SingleExchangeDispatchContext(
                transport=_HANDSHAKE_TRANSPORT, request_id=None, message_metadata=metadata)
            try:
                await ServerRunner(app, connection, lifespan_state).on_notify(
                    dctx, parsed.method, parsed.params)
            finally:
                await aclose_shielded(connection)
        return
    dctx = _SingleExchangeDispatchContext(
        transport=_HANDSHAKE_TRANSPORT, request_id=parsed.id, message_metadata=metadata,
        progress_token=progress_token_from_params(parsed.params),
    )
    try:
        result = await serve_one(app, dctx, parsed.method, parsed.params,
                                 connection=connection, lifespan_state=lifespan_state)
    except Exception as exc:
        error = handler_exception_to_error_data(exc)
        if error is None:
            # The dispatcher's answer to anything else (code 0, the exception's text).
            logger.exception("handler for %r raised", parsed.method)
            error = types.ErrorData(code=0, message=str(exc))
        answer = types.JSONRPCError(jsonrpc="2.0", id=parsed.id, error=error)
    else:
        answer = types.JSONRPCResponse(jsonrpc="2.0", id=parsed.id, result=result)
    await transport._create_json_response(answer)(scope, receive, send)


async def serve(state: GatewayRequest, scope: dict, message: dict, receive, send) -> None:
    """Answer one HTTP request carrying ``message`` (its body, parsed and checked by the
    view) as the SDK's stateless, JSON-only Streamable HTTP endpoint does.

    Routed as the SDK's session manager routes it: an ``MCP-Protocol-Version`` header
    naming a handshake-era version, or none, is served by ``_serve_handshake``; any other
    version by the SDK's single-exchange entry (``handle_modern_request``).
    """
    token = _current.set(state)
    try:
        request = Request(scope, receive)
        lifespan_state = await _lifespan_state()
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await handle_modern_request(server(), None, True, lifespan_state, scope, receive, send)
        else:
            await _serve_handshake(request, message, lifespan_state, send)
    finally:
        _current.reset(token)


async def _session_manager() -> StreamableHTTPSessionManager:
    """Return the loop's running SDK session manager (stateless, JSON responses)."""

    @contextlib.asynccontextmanager
    async def running():
        manager = StreamableHTTPSessionManager(
            app=server(), stateless=True, json_response=True,
            max_request_body_size=settings.MCP_MAX_REQUEST_BYTES,
        )
        async with manager.run():
            yield manager

    return await _held_open("session_manager", running)


async def serve_through_sdk_transport(state: GatewayRequest, scope: dict, message: dict,
                                      receive, send) -> None:
    """Answer the request with the SDK's whole transport, a drop-in for ``serve``.

    The reference ``serve`` is held to: how the endpoint served every request before
    (the SDK's ``StreamableHTTPSessionManager``, a transport, dispatcher and server task
    per handshake-era request). ``gateway/tests/test_sdk_parity.py`` compares the two
    answers and ``bench/mcp_gateway.py`` their cost; nothing serves agents with it.
    """
    token = _current.set(state)
    try:
        manager = await _session_manager()
        await manager.handle_request(scope, receive, send)
    finally:
        _current.reset(token)
