"""Run an ``api`` tool in-process, through Django's URL routing, permissions and operation log.

No loopback HTTP: the call is a ``WSGIRequest`` built here and handed to a ``BaseHandler``
whose middleware chain is only what the inner request adds to the outer one
(``IN_PROCESS_MIDDLEWARE``, issue 16, item 6). The outer ``/mcp/`` request has already
been through the rest: its client address and host were checked, its request context
(tenant scope, actor, request id) is open and its language active. ``call_api`` opens the
inner request's own context with the same values, so nothing the view sets outlives it,
and applies the API's error format around the chain (``core.api.middleware
.as_api_error``). The caller's token is not forwarded anywhere: the request carries no
``Authorization`` header, only the principal (``atrium_principal``, read by
``accounts.api.authentication.InProcessAuthentication``), so the key's scopes narrow the
call as they narrow a direct API request, and the endpoint registry, data scopes,
permission checks and audit capture apply as usual. The request id of the MCP request
travels in ``X-Request-ID``, so the operation and audit rows of a write carry the id of the
call that caused them.

Arguments map onto the route as ``gateway.schemas`` describes them: path placeholders take the
arguments of the same name, ``body`` is the JSON body, everything else the query string.
"""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIRequest
from django.test.utils import override_settings
from django.utils import translation

from core.api.middleware import as_api_error
from core.context import get_current_actor_id, get_scope, request_context

TRUNCATION_MARKER = "\n[... truncated by the MCP gateway]"
PLACEHOLDER = re.compile(r"{([^{}/]+)}")
BODY = "body"
# The middleware an in-process call runs: the operation and audit log of what the call
# does, which the outer request does not write (``logs.middleware.UNLOGGED_PREFIXES``).
# Everything else in ``MIDDLEWARE`` the outer request has run already, and the inner one
# needs none of it again:
# * the API's error format: ``call_api`` applies it around the chain;
# * security headers and redirects, static files, common URL handling, frame options:
#   about the HTTP answer, and the gateway hands an agent only the answer's body;
# * sessions, CSRF, the session's user and messages: the call carries no cookie and is
#   authenticated by its principal inside the view (``InProcessAuthentication``);
# * the request context (``tenants.middleware``): ``call_api`` opens it with the outer
#   request's scope, actor and request id, without reading a session's user;
# * the languages (``LocaleMiddleware``, ``UserLanguageMiddleware``): the outer request
#   activated them, and the principal's authentication activates the user's again.
# A second pass through them cost about 1 ms per call, and two stack frames each on the
# deepest stack the platform runs (README, "MCP gateway" benchmarks).
IN_PROCESS_MIDDLEWARE = ("logs.middleware.OperationLogMiddleware",)
_handler_lock = threading.Lock()
_handler: BaseHandler | None = None


class ArgumentError(ValueError):
    """Arguments that cannot be put into the route (a missing path parameter)."""


@dataclass
class ApiResponse:
    """What the in-process call answered."""

    status: int
    data: Any
    content_type: str
    text: str = ""  # the answer as sent, decoded (the agent's text content)


def max_result_bytes() -> int:
    """Return the largest answer handed to an agent whole (bytes)."""
    return settings.MCP_TOOL_RESULT_MAX_BYTES


def handler() -> BaseHandler:
    """Return the process's handler, loaded once with ``IN_PROCESS_MIDDLEWARE``.

    Django loads a chain from ``settings.MIDDLEWARE`` only, so the list is overridden while
    it loads; the lock keeps two first calls from nesting the override.
    """
    global _handler
    if _handler is None:
        with _handler_lock:
            if _handler is None:
                instance = BaseHandler()
                with override_settings(MIDDLEWARE=list(IN_PROCESS_MIDDLEWARE)):
                    instance.load_middleware()
                _handler = instance
    return _handler


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def build_target(path_template: str, arguments: dict[str, Any]) -> tuple[str, str, Any]:
    """Return ``(path, query string, body)`` of a call of ``path_template`` with ``arguments``."""
    remaining = dict(arguments)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in remaining or remaining[name] in (None, ""):
            raise ArgumentError(name)
        return quote(str(remaining.pop(name)), safe="")

    path = PLACEHOLDER.sub(fill, path_template)
    body = remaining.pop(BODY, None)
    pairs: list[tuple[str, str]] = []
    for name, value in remaining.items():
        if value is None:
            continue
        if isinstance(value, list):
            pairs.extend((name, _query_value(item)) for item in value)
        else:
            pairs.append((name, _query_value(value)))
    return path, urlencode(pairs), body


def build_request(*, method: str, path: str, query: str, body: Any, caller, request_id: str,
                  host: str, secure: bool) -> WSGIRequest:
    """Return the request an API client would have sent, authenticated as ``caller``."""
    payload = b"" if body is None else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": host.split(":")[0] or "localhost",
        "SERVER_PORT": "443" if secure else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "HTTP_ACCEPT": "application/json",
        "HTTP_X_REQUEST_ID": request_id,
        "HTTP_USER_AGENT": caller.user_agent or "Atrium-MCP",
        "REMOTE_ADDR": caller.ip or "127.0.0.1",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "https" if secure else "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if payload:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(payload))
    request = WSGIRequest(environ)
    request.atrium_principal = (caller.user, caller.api_key)
    # What the middleware the call skips would have set (IN_PROCESS_MIDDLEWARE).
    request.LANGUAGE_CODE = translation.get_language()
    request.request_id = request_id
    # The call is the platform's own, made for an authenticated principal: CSRF protects
    # cookie-authenticated browsers, and this request carries no cookie.
    request._dont_enforce_csrf_checks = True
    return request


def call_api(tool, arguments: dict[str, Any], *, caller, request_id: str, host: str,
             secure: bool) -> ApiResponse:
    """Call the tool's endpoint in-process as ``caller`` and return its answer."""
    path, query, body = build_target(tool.endpoint.path, arguments)
    request = build_request(
        method=tool.endpoint.method, path=path, query=query, body=body, caller=caller,
        request_id=request_id, host=host, secure=secure,
    )
    # The body is in memory already: one over the limit is refused by the view's parser
    # (413), so the middleware's early size check has nothing to add here. The inner
    # request's context starts as the outer one's; leaving it undoes what the view's
    # authentication set (core.context.request_context).
    scope = get_scope()
    with request_context(scope=scope, actor_id=get_current_actor_id(), request_id=request_id):
        request.tenant_scope = scope
        response = as_api_error(request, handler().get_response(request))
    content_type = response.get("Content-Type", "")
    limit = max_result_bytes()
    # Not response.close(): it sends request_finished, which may close the database
    # connection of the MCP request still running.
    if response.streaming:
        raw = bytearray()
        for chunk in response.streaming_content:
            raw.extend(chunk)
            if len(raw) > limit:
                break
        raw = bytes(raw)
    else:
        raw = response.content
    truncated = len(raw) > limit
    data: Any
    if truncated:
        data = raw[:limit].decode(errors="replace") + TRUNCATION_MARKER
    elif not raw:
        data = None
    elif "json" in content_type:
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw.decode(errors="replace")
    else:
        data = raw.decode(errors="replace")
    text = data if isinstance(data, str) else raw.decode(errors="replace")
    return ApiResponse(status=response.status_code, data=data, content_type=content_type,
                       text=text)
