"""One error format for the whole API.

Every error answers ``{"error": {"status": 400, "code": "invalid", "message": "...",
"fields": {...}}}``: ``fields`` maps field names (``non_field_errors`` for the rest) to
lists of messages on validation errors. Django's ``ValidationError`` raised by a model or a
service becomes a 400 the same way, never a 500; a missing or foreign row is a 404.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tenants.context import TenantContextMissing


def _django_validation_detail(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    """Return the JSON error response of ``exc`` in the platform's one format."""
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
