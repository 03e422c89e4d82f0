"""One error format for the whole API.

Every error answers ``{"error": {"status": 400, "code": "invalid", "message": "...",
"fields": {...}}}``: ``fields`` maps field names (``non_field_errors`` for the rest) to
lists of messages on validation errors. Django's ``ValidationError`` raised by a model or a
service becomes a 400 the same way, never a 500; a missing or foreign row is a 404.

A unique violation the database reports (two concurrent requests that both passed
validation) is the same 400 field error as a duplicate found by validation
(``core.integrity``); any other integrity error is a 409. Refusals outside the views (a body
over the size limit, an unknown URL, a server error) are put in this format by
``core.api.middleware``.
"""

from __future__ import annotations

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.context import TenantContextMissing
from core.integrity import unique_violation

# The code and message of an error answered outside a view, by status.
STATUS_ERRORS = {
    400: ("bad_request", gettext_lazy("The request could not be understood.")),
    401: ("not_authenticated", gettext_lazy("Authentication credentials were not provided.")),
    403: ("permission_denied", gettext_lazy("You do not have permission to do this.")),
    404: ("not_found", gettext_lazy("Not found.")),
    405: ("method_not_allowed", gettext_lazy("This method is not allowed here.")),
    409: ("conflict", gettext_lazy("The change conflicts with the current state of the data.")),
    413: ("request_too_large", gettext_lazy("The request body is too large.")),
    415: ("unsupported_media_type", gettext_lazy("Unsupported media type.")),
    500: ("server_error", gettext_lazy("Server error. It has been logged.")),
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = STATUS_ERRORS[409][1]
    default_code = "conflict"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = STATUS_ERRORS[413][1]
    default_code = "request_too_large"


def error_json(status_code: int, message: str | None = None, code: str | None = None) -> JsonResponse:
    """Return an error in the API's format for a refusal made outside a view."""
    default_code, default_message = STATUS_ERRORS.get(
        status_code, STATUS_ERRORS[500] if status_code >= 500 else STATUS_ERRORS[400]
    )
    return JsonResponse(
        {"error": {"status": status_code, "code": code or default_code,
                   "message": str(message or default_message)}},
        status=status_code,
    )


def _view_models(context) -> list:
    view = context.get("view") if context else None
    model = getattr(getattr(view, "queryset", None), "model", None)
    return [model] if model is not None else []


def _django_validation_detail(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    """Return the JSON error response of ``exc`` in the platform's one format."""
    if isinstance(exc, IntegrityError):
        # DRF's unique validators word the message without capitals: so does this one.
        error = unique_violation(exc, models=_view_models(context), capitalise=False)
        exc = Conflict() if error is None else error
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(STATUS_ERRORS[400][1])
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, TenantContextMissing):
        # A request that reached tenant data with no tenant: not authenticated as a tenant user.
        exc = exceptions.NotAuthenticated()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    body: dict = {"status": response.status_code, "code": _code(exc)}
    if isinstance(exc, exceptions.ValidationError):
        body["message"] = _("Invalid input.")
        body["fields"] = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    else:
        body["message"] = detail.get("detail", str(detail)) if isinstance(detail, dict) else str(detail)
    response.data = {"error": body}
    return response


def _code(exc) -> str:
    if isinstance(exc, Http404):
        return "not_found"
    if isinstance(exc, exceptions.APIException):
        return exc.default_code
    return "error"


def not_found_response(message: str | None = None) -> Response:
    """Return a 404 in the platform's error format (for code outside the handler)."""
    return Response(
        {"error": {"status": 404, "code": "not_found", "message": message or _("Not found.")}},
        status=status.HTTP_404_NOT_FOUND,
    )
