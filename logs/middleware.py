"""One ``OperationLog`` row per write request, with the audit entries of what it changed.

``OperationLogMiddleware`` sits after ``TenantContextMiddleware`` so that it runs inside
the request context: the tenant scope, the actor and the request id. For unsafe methods (and for reads when ``settings.LOG_READS``
is true) it opens an audit context (``logs.audit``) around the view and, once the response
is back, outside any transaction of the view:

1. writes the audit entries whose changes committed, in one bulk insert;
2. writes the operation log row: status, execute time, redacted and truncated request
   parameters, module and operation from the resolved URL, business type and id, the
   error of a 4xx/5xx answer, and the old/new values of what changed.

Both go to the log alias with as few round trips as the guarantees allow
(``core.logrows.write_log_rows``): one ``INSERT`` each, with no transaction of their own in
autocommit, and on PostgreSQL one statement for both. Either may fail without costing the
other its row or breaking the request: a failure is reported with ``logger.exception``.
Reads with ``LOG_READS`` off cost nothing beyond the request id (no query).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core import deadlines, logrows
from core.context import (
    client_ip,
    current_request_id,
    get_current_actor_id,
    get_current_tenant_id,
)
from core.redaction import MASK, jsonable
from logs import audit

logger = logging.getLogger("atrium.audit")

# The MCP endpoint keeps its own log (one call log row per tool call); what a tool call
# changes is logged by the in-process request that runs it (gateway.dispatch).
UNLOGGED_PREFIXES = ("/mcp/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CREATE_ACTIONS = {"add", "create"}
UPDATE_ACTIONS = {"change", "update", "partial_update", "restore", "password"}
DELETE_ACTIONS = {"delete", "destroy"}
METHOD_TYPES = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
# Signing in and out posts a form but creates nothing (issue 17, item 7): the views, by URL
# name, and the business type their rows get. The admin's own sign-out ends the same session.
SESSION_VIEWS = {"accounts:login": "login", "accounts:logout": "logout", "admin:logout": "logout"}


def _querydict(data) -> dict:
    return {key: values[0] if len(values) == 1 else values for key, values in data.lists()}


def _read_body(request: HttpRequest) -> Any:
    """Read a non-form body before the view (the view's parser re-reads the cached copy)."""
    if request.content_type in FORM_TYPES:
        return None  # parsed by the view; taken from request.POST afterwards
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if not length:
        return None
    # The view reads a body up to this size into memory anyway; beyond it, only its size.
    if length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or length):
        return {audit.TRUNCATED_KEY: True, "size": length, "content_type": request.content_type}
    body = request.body
    if request.content_type == "application/json":
        try:
            return json.loads(body)
        except ValueError:
            pass
    return body.decode(errors="replace")


def request_params(request: HttpRequest, body: Any) -> Any:
    """Return the query and body of the request, secrets masked, truncated to the limit."""
    params: dict[str, Any] = {}
    if request.GET:
        params["query"] = _querydict(request.GET)
    if request.content_type in FORM_TYPES:
        try:
            if request.POST:
                params["body"] = _querydict(request.POST)
            if request.FILES:
                params["files"] = sorted(request.FILES)
        except Exception:  # noqa: BLE001 - an unreadable body is not the log's business
            params["body"] = None
    elif body is not None:
        params["body"] = body
    masked = view_masked_fields(request)
    if masked and isinstance(params.get("body"), dict):
        params["body"] = {key: MASK if key in masked else value
                          for key, value in params["body"].items()}
    return audit.truncate(jsonable(params)) if params else None


def view_masked_fields(request: HttpRequest) -> frozenset[str]:
    """Return the body fields the resolved view declares secret (``log_masked_fields``).

    A field whose name says nothing (a test variable's ``value``, secret or not depending
    on the row) is masked because its view says so.
    """
    match = getattr(request, "resolver_match", None)
    func = getattr(match, "func", None)
    owner = getattr(func, "cls", None) or getattr(func, "view_class", None) or func
    return frozenset(getattr(owner, "log_masked_fields", ()))


def describe_view(request: HttpRequest) -> dict[str, str]:
    """Return the source, module, operation and business type of the resolved view."""
    match = getattr(request, "resolver_match", None)
    method = request.method or ""
    if match is None:
        return {"source": "web", "module": "", "operation": "", "business_type": "other"}
    func = match.func
    url_name = match.url_name or ""
    view_cls = getattr(func, "cls", None)
    if match.view_name in SESSION_VIEWS:
        kind = SESSION_VIEWS[match.view_name]
        return {"source": "admin" if "admin" in match.namespaces else "web",
                "module": "accounts", "operation": kind, "business_type": kind}
    if "admin" in match.namespaces:
        # admin/<app>/<model>/...: the app is the module; the admin's own pages
        # (admin/password_change/) belong to the admin.
        parts = [part for part in (match.route or "").split("/") if part]
        module = parts[1] if len(parts) > 2 and not parts[1].startswith(("<", "^")) else "admin"
        operation = url_name.removeprefix(f"{module}_")
        action = operation.rsplit("_", 1)[-1]
        business_type = (
            "create" if action in CREATE_ACTIONS
            else "update" if action in UPDATE_ACTIONS
            else "delete" if action in DELETE_ACTIONS
            else "other"
        )
        return {"source": "admin", "module": module, "operation": operation,
                "business_type": business_type}
    if view_cls is not None and hasattr(func, "actions"):
        action = (func.actions or {}).get(method.lower(), method.lower())
        basename = url_name.rsplit("-", 1)[0] if "-" in url_name else url_name
        business_type = (
            "create" if action in CREATE_ACTIONS
            else "update" if action in UPDATE_ACTIONS
            else "delete" if action in DELETE_ACTIONS
            else METHOD_TYPES.get(method, "other")
        )
        return {"source": "api", "module": view_cls.__module__.split(".")[0],
                "operation": f"{basename}.{action}", "business_type": business_type}
    module_path = getattr(view_cls, "__module__", None) or getattr(func, "__module__", "") or ""
    source = "api" if request.path.startswith("/api/") else (
        "mcp" if request.path.startswith("/mcp/") else "web"
    )
    return {
        "source": source,
        "module": (match.app_name or module_path.split(".")[0])[:50],
        "operation": (url_name or match.view_name or "")[:100],
        "business_type": METHOD_TYPES.get(method, "other"),
    }


def business_id(request: HttpRequest, entries: list) -> str:
    """Return the id of the object the request is about: from the URL, else what it created."""
    match = getattr(request, "resolver_match", None)
    kwargs = match.kwargs if match is not None else {}
    for name in ("pk", "object_id", "id"):
        if kwargs.get(name):
            return str(kwargs[name])[:255]
    if kwargs:
        return ",".join(f"{key}:{value}" for key, value in kwargs.items())[:255]
    ids = list(dict.fromkeys(entry.entity_id for entry in entries))
    return ",".join(ids)[:255] if len(ids) == 1 else ""


def error_message(response: HttpResponse, exception: BaseException | None) -> str:
    """Return what went wrong in a 4xx/5xx answer (redacted), or ``""``."""
    if exception is not None:
        return audit.truncate_text(jsonable(f"{type(exception).__name__}: {exception}"))
    if response.status_code < 400:
        return ""
    content_type = response.get("Content-Type", "")
    if not response.streaming and ("json" in content_type or content_type.startswith("text/plain")):
        text = response.content.decode(errors="replace")
        return audit.truncate_text(jsonable(text))
    return response.reason_phrase or str(response.status_code)


class OperationLogMiddleware:
    """Record every write request in the operation log and its changes in the audit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (request.method in SAFE_METHODS and not getattr(settings, "LOG_READS", False)) or (
            request.path_info.startswith(UNLOGGED_PREFIXES)
        ):
            return self.get_response(request)
        request_id = current_request_id()
        started = time.monotonic()
        user = getattr(request, "user", None)
        with audit.audit_context(
            request_id,
            ip=self._client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:500],
            user=user if user is not None and user.is_authenticated else None,
        ) as state:
            request._audit_exception = None
            try:
                body = _read_body(request)
            except Exception:  # noqa: BLE001 - the view reports a bad body itself
                body = None
            response = self.get_response(request)
            elapsed = int((time.monotonic() - started) * 1000)
            try:
                # A request cut short by a deadline (an MCP tool's timeout) is logged all
                # the same.
                with deadlines.exempt():
                    self.write_logs(request, response, state, body, elapsed)
            except Exception:
                logger.exception("Could not write the operation log of request %s", request_id)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Remember the view's exception for the log; Django still answers it as usual."""
        request._audit_exception = exception

    @staticmethod
    def _client_ip(request: HttpRequest) -> str | None:
        ip = client_ip(request)
        try:
            return str(ipaddress.ip_address(ip)) if ip else None
        except ValueError:
            return None

    def write_logs(self, request, response, state, body, elapsed: int) -> None:
        """Write the audit rows of the committed changes and the operation log row.

        Both go to the log alias together (``core.logrows.write_log_rows``); either may fail
        without costing the other its row.
        """
        from logs.models import OperationLog

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            state.user = user
            actor_id = user.pk
        else:
            actor_id = get_current_actor_id()
        view = describe_view(request)
        state.source = view["source"]
        entries = audit.take_surviving(state)
        status = response.status_code
        audit_failure = ("Could not write %d audit log row(s) of request %s",
                         len(entries), state.request_id)
        operation_failure = ("Could not write the operation log of request %s (%s %s -> %s)",
                             state.request_id, request.method, request.path, status)
        audit_rows, operation_rows = [], []
        try:
            audit_rows = audit.audit_rows(state, entries, actor_id) if entries else []
        except Exception:
            logger.exception(*audit_failure)
        try:
            username, actor_tenant_id, operator = audit.actor_details(state, actor_id)
            tenants = {entry.tenant_id for entry in entries if entry.tenant_id is not None}
            tenant_id = (
                next(iter(tenants)) if len(tenants) == 1
                else get_current_tenant_id() or actor_tenant_id
            )
            old, new = audit.summary(entries)
            operation_rows.append(OperationLog(
                tenant_id=tenant_id,
                user_id=actor_id,
                username=username,
                operator_tenant_id=(
                    actor_tenant_id
                    if operator and tenant_id and str(tenant_id) != str(actor_tenant_id)
                    else None
                ),
                request_id=state.request_id,
                module=view["module"][:50],
                operation=view["operation"][:100],
                business_type=view["business_type"],
                business_id=business_id(request, entries),
                method=(request.method or "")[:10],
                uri=jsonable(request.get_full_path())[:500],
                ip_address=state.ip,
                user_agent=state.user_agent,
                request_params=request_params(request, body),
                response_status=status,
                old_value=audit.truncate(old),
                new_value=audit.truncate(new),
                execute_time=max(elapsed, 0),
                status="success" if status < 400 else "failed",
                error_message=error_message(response, request._audit_exception),
            ))
        except Exception:
            logger.exception(*operation_failure)
        logrows.write_log_rows(
            [(audit_rows, audit_failure), (operation_rows, operation_failure)], audit.log_alias()
        )
