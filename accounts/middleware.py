"""Serve each signed-in user in their own language (issue 3, item 10)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


def activate_user_language(request: HttpRequest, user) -> None:
    """Activate ``user``'s chosen language for the request; keep the browser's when none."""
    language = getattr(user, "language", "")
    if language:
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class UserLanguageMiddleware:
    """Override ``LocaleMiddleware``'s choice (browser, cookie) with the user's ``language``.

    It sits after ``TenantContextMiddleware``, which logs out users who may no longer sign
    in, so only a usable account's choice counts. ``LocaleMiddleware`` runs its response half
    later and so reports the user's language in ``Content-Language``. API-key requests are
    authenticated inside the view; ``accounts.api.authentication`` calls the same function.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            activate_user_language(request, user)
        return self.get_response(request)
