"""One tool call: validate, run, retry, log and count (issue 5, item 5).

``call_tool`` is the one service behind ``tools/call`` at ``/mcp/`` and the admin's "try
this tool" form:

1. the arguments are validated against the tool's own input schema (the tool resolved
   for the caller's tenant, so two tenants' tools of one name never share a schema); a
   failure is an ``isError`` result naming the field;
2. the tool runs: an ``api`` tool in-process (``gateway.dispatch``), an ``external`` tool over
   HTTP (``gateway.outbound``), a ``script`` tool's global function in the sandbox of user
   code (``gateway.scripts``; its error, the user's own traceback lines or the limit it
   broke, is the agent's message). Idempotent external calls (read-only or idempotent by
   annotation) that fail in a retryable way are retried up to ``max_retries`` times with
   exponential backoff, within the tool's timeout;
3. the call is logged in ``McpToolCallLog``: caller, tenant, arguments (secrets masked:
   by name, and every argument the input schema declares secret, ``writeOnly`` or
   ``"format": "password"``, also where the answer or the error repeats its value;
   truncated), allow-listed request headers only, status, the response truncated at
   ``MCP_CALL_LOG_RESPONSE_BYTES``, time, the error and, for operators only, its stack.
   A failure to write the log is reported to the application log and never breaks the
   call;
4. the tool's counters move in one UPDATE of relative increments, exact under concurrent
   calls (``record_call``).

The log row and the counters are written after the answer, in batches, by the process's
call log writer (``gateway.calllog``, issue 16, item 6) when ``MCP_CALL_LOG_QUEUE`` is on.

Failures reach the agent as a short readable message, never a stack or a raw upstream
body.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from core import deadlines
from core.redaction import MASK, jsonable, mask_values, might_hold_secret, values_to_hide
from gateway import scripts
from gateway.choices import ToolType
from logs import audit

logger = logging.getLogger("atrium.mcp")

# Request headers worth keeping with a call; everything else (Authorization above all)
# is never stored.
LOGGED_HEADERS = ("user-agent", "mcp-protocol-version", "content-type", "accept",
                  "x-request-id", "traceparent", "mcp-method", "mcp-name")


@dataclass
class CallContext:
    """Where a call comes from, for the log."""

    request_id: str
    protocol_version: str = ""
    jsonrpc_id: str = ""
    trace_id: str = ""
    host: str = "localhost"
    secure: bool = False


@dataclass
class CallOutcome:
    """How a call ended: what the agent gets and what the log keeps."""

    ok: bool
    data: Any = None
    message: str = ""
    status: int | None = None
    elapsed_ms: int = 0
    error_stack: str = ""
    structured: dict | None = None
    attempts: int = 1
    # The answer's text as received, when there is one: handed to the agent as is.
    text: str = ""


def validate_arguments(tool, arguments: Any) -> str | None:
    """Return a message naming what is wrong with ``arguments``, or ``None`` when valid."""
    if not isinstance(arguments, dict):
        return _("The arguments must be a JSON object.")
    schema = tool.input_schema or {"type": "object"}
    try:
        validator = Draft202012Validator(schema)
        error = next(iter(sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))),
                     None)
    except SchemaError:
        logger.error("Tool %s (%s) has an invalid input schema", tool.name, tool.pk)
        return _("The tool's input schema is invalid; an operator must fix the tool.")
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    if error.absolute_path and error.absolute_path[0] in scripts.secret_arguments(tool):
        # jsonschema's message repeats the value; a secret's is never shown or logged.
        return _("Invalid argument %(field)s: the value does not fit its %(rule)s.") % {
            "field": where, "rule": error.validator}
    if where:
        return _("Invalid argument %(field)s: %(problem)s") % {"field": where,
                                                               "problem": error.message}
    return _("Invalid arguments: %(problem)s") % {"problem": error.message}


def is_idempotent(tool) -> bool:
    """Return whether the tool may be retried: read-only or idempotent by its annotations."""
    annotations = tool.annotations or {}
    return bool(annotations.get("readOnlyHint") or annotations.get("idempotentHint"))


def api_error_message(status: int, data: Any) -> str:
    """Return a short message of the platform API's own error answer."""
    detail = ""
    if isinstance(data, dict):
        if isinstance(data.get("detail"), str):
            detail = data["detail"]
        errors = data.get("errors") or {
            key: value for key, value in data.items() if key not in ("detail", "code", "status")
        }
        if isinstance(errors, dict) and errors:
            parts = []
            for name, problems in list(errors.items())[:5]:
                text = problems if isinstance(problems, str) else "; ".join(
                    str(problem) for problem in (problems if isinstance(problems, list) else [problems])
                )
                parts.append(f"{name}: {text}")
            detail = (detail + " " if detail else "") + "; ".join(parts)
    message = _("The platform answered %(status)s.") % {"status": status}
    return f"{message} {detail}".strip()[:500]


def _run_api(tool, arguments, caller, context: CallContext) -> CallOutcome:
    """Call the tool's endpoint in-process within the tool's timeout.

    The timeout bounds the call's database work (``core.deadlines``): once it has
    passed, the statement running is interrupted and no further one is sent, and the view
    fails; inside a transaction the call's writes are rolled back. The agent is told the
    tool timed out, whatever the view answered after its deadline.
    """
    from gateway.dispatch import ArgumentError, call_api

    try:
        with deadlines.deadline(tool.timeout) as limit:
            response = call_api(tool, arguments, caller=caller, request_id=context.request_id,
                                host=context.host, secure=context.secure)
    except ArgumentError as exc:
        return CallOutcome(ok=False, status=400, message=_(
            "Invalid argument %(field)s: a value is required.") % {"field": exc.args[0]})
    if limit.expired():
        return CallOutcome(ok=False, status=504, message=_(
            "The tool did not finish within its time limit of %(seconds)s s.") % {
                "seconds": tool.timeout})
    if response.status >= 400:
        return CallOutcome(ok=False, status=response.status, data=response.data,
                           message=api_error_message(response.status, response.data))
    return CallOutcome(ok=True, status=response.status, data=response.data, text=response.text)


def _run_external(tool, arguments, caller, context: CallContext) -> CallOutcome:
    from gateway.outbound import OutboundError, call_external

    retries = tool.max_retries if is_idempotent(tool) else 0
    deadline = time.monotonic() + tool.timeout
    delay = settings.MCP_RETRY_BASE_DELAY
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        try:
            result = call_external(tool, arguments, timeout=max(remaining, 0.001))
        except OutboundError as exc:
            remaining = deadline - time.monotonic()
            if exc.retryable and attempt <= retries and remaining > delay:
                time.sleep(delay)
                delay *= 2
                continue
            return CallOutcome(ok=False, status=exc.status, message=exc.message,
                               attempts=attempt)
        return CallOutcome(ok=True, status=result.status, data=result.data, attempts=attempt)


def _run_script(tool, arguments, caller, context: CallContext) -> CallOutcome:
    """Run a script tool's global function in the sandbox, within the tool's timeout."""
    from core.sandbox import SandboxError, SandboxUnavailable

    function = scripts.function_of(tool)
    try:
        result = scripts.call(tool, function, arguments)
    except SandboxUnavailable as exc:
        return CallOutcome(ok=False, status=503, message=str(exc))
    except SandboxError as exc:
        return CallOutcome(ok=False, status=400, message=_(
            "Invalid arguments: %(problem)s") % {"problem": exc})
    if not result.ok:
        message = result.message
        if result.breach:
            message = _("The function %(name)s %(problem)s") % {"name": function.name,
                                                                "problem": message}
        return CallOutcome(ok=False, status=500, message=message)
    if tool.output_schema and not isinstance(result.value, dict):
        # The agent was promised an object (the output schema); the client would reject
        # anything else as an invalid result.
        return CallOutcome(ok=False, status=500, data=result.value, message=_(
            "The function %(name)s returned %(kind)s, not the dict its docs promise.") % {
                "name": function.name, "kind": type(result.value).__name__
                if result.value is not None else "None"})
    return CallOutcome(ok=True, status=200, data=result.value)


def _structured(tool, data: Any) -> dict | None:
    """Return the structured result when the tool declares an output schema and fits it."""
    if tool.output_schema and isinstance(data, dict):
        return data
    return None


def run(tool, arguments: dict, *, caller, context: CallContext) -> CallOutcome:
    """Validate and run one call (no log, no counters): ``call_tool`` wraps it."""
    tool = scripts.resolved(tool)
    if tool.tool_type == ToolType.SCRIPT and scripts.function_of(tool) is None:
        return CallOutcome(ok=False, status=404, message=_(
            "The global function %(name)s of this tool no longer exists.") % {
                "name": tool.script_function})
    problem = validate_arguments(tool, arguments)
    if problem is not None:
        return CallOutcome(ok=False, status=400, message=problem)
    try:
        if tool.tool_type == ToolType.API:
            outcome = _run_api(tool, arguments, caller, context)
        elif tool.tool_type == ToolType.EXTERNAL:
            outcome = _run_external(tool, arguments, caller, context)
        elif tool.tool_type == ToolType.SCRIPT:
            outcome = _run_script(tool, arguments, caller, context)
        else:
            outcome = CallOutcome(ok=False, message=_("This tool type is not offered."))
    except Exception as exc:  # noqa: BLE001 - an agent gets a message, operators the stack
        logger.exception("Tool %s (%s) failed", tool.name, tool.pk)
        return CallOutcome(
            ok=False, status=500,
            message=_("The tool failed unexpectedly; the error is logged for the operators."),
            error_stack=audit.truncate_text(
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            ),
        )
    if outcome.ok:
        outcome.structured = _structured(tool, outcome.data)
    return outcome


def call_tool(tool, arguments: Any, *, caller, context: CallContext) -> CallOutcome:
    """Run a call of ``tool`` for ``caller``, log it and count it."""
    started = time.monotonic()
    # A script tool's schemas and secrets are its function's: read once, for the call and
    # its log.
    tool = scripts.resolved(tool)
    outcome = run(tool, arguments if arguments is not None else {}, caller=caller,
                  context=context)
    outcome.elapsed_ms = max(int((time.monotonic() - started) * 1000), 0)
    record_call(tool, arguments, outcome, caller=caller, context=context)
    return outcome


def loggable(payload: Any, limit: int | None = None, text: str = "") -> Any:
    """Return ``payload`` as the log keeps it: secrets masked, truncated at ``limit`` bytes.

    Most answers hold nothing secret-looking: a scan of their JSON text for the words the
    masking reacts to proves it, and they are kept as they are. Anything else takes the
    full masking walk of ``logs.audit``, as every other log does. ``limit`` defaults to
    the payload limit of every log. ``text`` is the payload's JSON as received, when the
    caller has it: it spares encoding the payload again.
    """
    if payload is None:
        return None
    limit = audit.payload_limit() if limit is None else limit
    if not text:
        try:
            text = json.dumps(payload, ensure_ascii=False)
        except (TypeError, ValueError):
            return audit.truncate(jsonable(payload), limit)
    if might_hold_secret(text):
        return audit.truncate(jsonable(payload), limit)
    encoded = text.encode()
    if len(encoded) <= limit:
        return payload
    preview = encoded[: max(limit // 2, 0)].decode(errors="ignore")
    return {audit.TRUNCATED_KEY: True, "size": len(encoded), "limit": limit, "preview": preview}


_count_sql: dict[str, str] = {}


def count_statement(tool_pk, ok: bool, elapsed_ms: int, alias: str) -> tuple[str, tuple]:
    """Return the UPDATE that counts one call of the tool ``tool_pk`` (SQL, parameters)."""
    return counts_statement(tool_pk, calls=1, successes=1 if ok else 0, elapsed_ms=elapsed_ms,
                            alias=alias)


def counts_statement(tool_pk, *, calls: int, successes: int, elapsed_ms: int,
                     alias: str) -> tuple[str, tuple]:
    """Return the UPDATE that counts ``calls`` calls of the tool ``tool_pk`` (SQL, parameters).

    ``successes`` of them succeeded, and they took ``elapsed_ms`` in all. Relative
    increments, so concurrent writers never lose one: the UPDATE holds the row lock and
    they serialise on it. The average is assigned first from the old values,
    (total + t) / (count + n): MariaDB evaluates SET assignments left to right on the
    updated row, PostgreSQL and SQLite on the old one, and with the average first both
    read the same old values. ``FLOOR``: MariaDB's ``/`` is a decimal division that the
    integer column would round. The text is built once per database.
    """
    from gateway.models import McpTool

    connection = connections[alias]
    sql = _count_sql.get(alias)
    if sql is None:
        quote = connection.ops.quote_name
        column = {name: quote(McpTool._meta.get_field(name).column) for name in (
            "avg_response_time", "call_count", "success_count", "failure_count",
            "total_response_time")}
        sql = _count_sql[alias] = (
            f"UPDATE {quote(McpTool._meta.db_table)} SET "
            f"{column['avg_response_time']} = FLOOR(({column['total_response_time']} + %s)"
            f" / ({column['call_count']} + %s)), "
            f"{column['call_count']} = {column['call_count']} + %s, "
            f"{column['success_count']} = {column['success_count']} + %s, "
            f"{column['failure_count']} = {column['failure_count']} + %s, "
            f"{column['total_response_time']} = {column['total_response_time']} + %s "
            f"WHERE {quote(McpTool._meta.pk.column)} = %s"
        )
    pk = McpTool._meta.pk.get_db_prep_value(tool_pk, connection)
    return sql, (elapsed_ms, calls, calls, successes, calls - successes, elapsed_ms, pk)


def secret_values(tool, arguments: Any) -> list[str]:
    """Return the values of the tool's secret arguments in ``arguments``, longest first."""
    if not isinstance(arguments, dict):
        return []
    secret = scripts.secret_arguments(tool)
    return values_to_hide(value for name, value in arguments.items() if name in secret)


def masked_arguments(tool, arguments: Any) -> Any:
    """Return ``arguments`` with the values of the tool's secret arguments masked."""
    if not isinstance(arguments, dict):
        return arguments
    secret = scripts.secret_arguments(tool)
    if not secret & set(arguments):
        return arguments
    return {name: MASK if name in secret else value for name, value in arguments.items()}


def log_row(tool, arguments: Any, outcome: CallOutcome, *, caller, context: CallContext):
    """Return the call log row of a call, not yet saved."""
    from gateway.models import McpToolCallLog

    # A function may repeat a secret argument in its answer or its error: the log never
    # keeps it (the agent, who sent it, gets the answer as it is).
    secrets = secret_values(tool, arguments)
    data = mask_values(outcome.data, secrets)
    text = "" if secrets or isinstance(outcome.data, str) else outcome.text
    return McpToolCallLog(
        tenant_id=caller.tenant_id,
        user_id=caller.user.pk,
        username=caller.user.get_username()[:150],
        request_id=context.request_id,
        ip_address=caller.ip,
        user_agent=(caller.user_agent or "")[:500],
        tool_id=tool.pk,
        tool_name=tool.name,
        caller_id=caller.caller_id,
        caller_type=caller.caller_type,
        protocol_version=context.protocol_version[:20],
        jsonrpc_id=str(context.jsonrpc_id)[:100],
        trace_id=context.trace_id[:64],
        request_params=loggable(masked_arguments(tool, arguments)),
        request_headers={
            name: value[:500] for name, value in caller.headers.items()
            if name in LOGGED_HEADERS
        } or None,
        response_status=outcome.status,
        response_data=loggable(data, settings.MCP_CALL_LOG_RESPONSE_BYTES, text=text),
        response_time=outcome.elapsed_ms,
        status="success" if outcome.ok else "failed",
        error_message="" if outcome.ok else audit.truncate_text(
            mask_values(outcome.message, secrets)),
        error_stack=outcome.error_stack,
    )


def record_call(tool, arguments: Any, outcome: CallOutcome, *, caller, context: CallContext) -> None:
    """Log the call and move the tool's counters; never raise.

    ``gateway.calllog`` writes both: after the answer, in a batch of the process's
    background writer, when ``MCP_CALL_LOG_QUEUE`` is on and the call runs in autocommit;
    else here, in the request. Either way a log row that cannot be written is reported to
    the application log and never costs the call its count.
    """
    from gateway import calllog

    try:
        calllog.record(calllog.pending(tool, arguments, outcome, caller=caller,
                                       context=context))
    except Exception:
        logger.exception("Could not log or count the call of tool %s (request %s)",
                         tool.pk, context.request_id)


def result_text(outcome: CallOutcome) -> str:
    """Return the text content of a call's MCP result."""
    if not outcome.ok:
        return outcome.message
    if outcome.text:
        return outcome.text
    if isinstance(outcome.data, str):
        return outcome.data
    return json.dumps(outcome.data, ensure_ascii=False, default=str)
