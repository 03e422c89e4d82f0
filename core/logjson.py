"""Structured logs (issue 19, item 1; seed 001 section 8): one JSON object per line in
production, readable lines in development, both carrying the request context.

* ``ContextFilter`` stamps every record with the request id, tenant id and actor id of
  the context it was logged in (``core.context``): a request (``tenants.middleware``), a
  Celery task (``tenants.celery``, the sender's request id, else the task id) or a
  ``--tenant`` command. Outside any context they are null.
* ``JsonFormatter`` (python-json-logger) writes ``time`` (ISO 8601, UTC), ``level``,
  ``logger``, ``message``, ``request_id``, ``tenant``, ``actor``, then the record's extra
  fields (``method``, ``path``, ``status``, ``duration_ms`` of the access record, the
  alias and statement of a slow one...) and ``exc_info``. ``RedactSecretsFilter`` has
  redacted the message and the traceback before; the formatter passes the whole object
  through the same redaction (``core.redaction.jsonable``) for the fields the filter does
  not see: the extra fields, and the traceback, which python-json-logger formats again
  from ``exc_info``. The filter must sit on every handler using this formatter (it does
  in ``LOGGING``).
* ``TextFormatter`` is the development line, with the request id, tenant and actor.
* ``RequestLogMiddleware`` writes one record per request on ``atrium.request``.

``LOG_FORMAT`` (settings) chooses the formatter of the console handler.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

from django.core.signals import request_started
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from core.context import current_request_id, get_current_actor_id, get_current_tenant_id
from core.redaction import MASK, is_secret_name, jsonable, redact

request_logger = logging.getLogger("atrium.request")

# The record attributes the context filter sets, as the JSON object names them.
CONTEXT_FIELDS = ("request_id", "tenant", "actor")
# The request's attribute keeping its (request id, tenant, actor) for records logged after
# its context was left.
LOG_CONTEXT_ATTR = "log_context"
# The standard fields, in the order every JSON line starts with.
LEADING_FIELDS = ("time", "level", "logger", "message", *CONTEXT_FIELDS)


class ContextFilter(logging.Filter):
    """Give every record the request id, tenant id and actor id of its context; keep one
    the caller passed in ``extra``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None:
            tenant_id, actor_id = get_current_tenant_id(), get_current_actor_id()
            context = (request_id, _text(tenant_id), _text(actor_id))
        else:
            # Django logs a 4xx/5xx answer ("django.request") after the middleware left
            # the request context; the request it passes carries what RequestLogMiddleware
            # saw.
            context = getattr(getattr(record, "request", None), LOG_CONTEXT_ATTR,
                              (None, None, None))
        for field, value in zip(CONTEXT_FIELDS, context):
            if not hasattr(record, field):
                setattr(record, field, value)
        return True


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per record: the leading fields, the extras, redacted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", [*_RESERVED, *CONTEXT_FIELDS])
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        """Put the leading fields first, then the record's extras and ``message_dict``."""
        log_data["time"] = (
            datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        for field in CONTEXT_FIELDS:
            log_data[field] = getattr(record, field, None)
        super().add_fields(log_data, record, message_dict)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Return the object with secrets masked: the extras and the traceback (formatted
        again from ``exc_info``) here; the message and stack are ``RedactSecretsFilter``'s
        (redacting a text twice would mangle its masks)."""
        return {key: value if key in _REDACTED_BY_FILTER else
                MASK if is_secret_name(key) else jsonable(value)
                for key, value in log_data.items()}


# Fields the handler's RedactSecretsFilter has already redacted.
_REDACTED_BY_FILTER = frozenset({"message", "stack_info"})

# LogRecord attributes that are not extras (python-json-logger's list, plus taskName of
# Python 3.12 and what Django's and our formatters add).
_RESERVED = (
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName",
    "levelname", "levelno", "lineno", "module", "msecs", "message", "msg", "name",
    "pathname", "process", "processName", "relativeCreated", "stack_info", "thread",
    "threadName", "taskName", "context_text",
    # Django's request object ("django.request", "django.server"): its path and query are
    # the access record's, redacted there.
    "request",
)


class TextFormatter(logging.Formatter):
    """The development line: time, level, logger, ``[request id tenant actor]``, message."""

    def __init__(self, fmt: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            fmt or "%(asctime)s %(levelname)s %(name)s [%(context_text)s] %(message)s",
            *args, **kwargs)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """Fill ``context_text`` from the context fields, ``-`` for each one missing."""
        record.context_text = " ".join(
            str(getattr(record, field, None) or "-") for field in CONTEXT_FIELDS)
        return super().formatMessage(record)


# The WSGI environ key of the moment the handler started the request (``request_started``
# fires before any middleware), so the access record's duration covers every middleware.
STARTED_KEY = "atrium.request_started"


def _mark_start(sender: Any, environ: dict | None = None, **kwargs: Any) -> None:
    if isinstance(environ, dict):
        environ[STARTED_KEY] = time.perf_counter()


request_started.connect(_mark_start, dispatch_uid="core.logjson.mark_start")


def redacted_query(query_string: str) -> str:
    """Return a query string with the values of secret-named parameters masked and the
    rest redacted (an API key in any parameter keeps only its prefix)."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return "&".join(
        f"{quote(name)}={MASK if is_secret_name(name) else quote(redact(value), safe='/[]')}"
        for name, value in pairs)


class RequestLogMiddleware:
    """Write one ``atrium.request`` record per request: method, path, query (redacted),
    status and duration (milliseconds), with the request context of the request.

    It sits right after ``TenantContextMiddleware`` (settings.MIDDLEWARE), inside the
    request context, so the record carries the request id, and the tenant and actor as the
    view left them (an API key's principal is entered inside the view). The duration
    starts when the handler began the request (``request_started``), else here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = request.META.get(STARTED_KEY) or time.perf_counter()
        response = self.get_response(request)
        setattr(request, LOG_CONTEXT_ATTR, (current_request_id(),
                                            _text(get_current_tenant_id()),
                                            _text(get_current_actor_id())))
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        query = request.META.get("QUERY_STRING", "")
        request_logger.info(
            "%s %s %s %.1f ms", request.method, request.path, response.status_code, duration_ms,
            extra={"method": request.method, "path": request.path,
                   "query": redacted_query(query) if query else None,
                   "status": response.status_code, "duration_ms": duration_ms},
        )
        return response
