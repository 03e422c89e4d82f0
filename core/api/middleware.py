"""Every refusal under ``/api/`` in the API's one JSON error format (issue 10, item 6).

DRF's exception handler formats what a view raises. What is refused before a view runs or
after it failed is Django's: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (an HTML 400), an
unknown URL (an HTML 404), a server error (an HTML 500, or the debug page). This middleware
is the outermost one: it answers 413 for a body declared larger than the limit before
anything reads it, and gives any other non-JSON error answer under ``/api/`` the JSON
shape, keeping its status. The error's details stay in the application log.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.response import Response

from core.api.exceptions import error_json

API_PREFIX = "/api/"


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def as_api_error(request, response):
    """Return ``response``, or its JSON error shape when it is a non-JSON API refusal."""
    if (
        response.status_code >= 400
        and request.path_info.startswith(API_PREFIX)
        and not isinstance(response, Response)  # DRF's handler has formatted it
        and not response.get("Content-Type", "").startswith("application/json")
    ):
        return error_json(response.status_code)
    return response


class ApiErrorFormatMiddleware:
    """Answer refusals under ``/api/`` as JSON errors.

    The MCP gateway's in-process calls do not pass through it: they apply ``as_api_error``
    themselves (``gateway.dispatch``), one middleware's frames less on the deepest stack the
    platform runs (the README's MCP benchmark says why that matters).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        if limit is not None and not multipart and _declared_length(request) > limit:
            return error_json(413)
        return as_api_error(request, self.get_response(request))
