"""Template context for the signed-in user's notifications."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.services import unread_count


def unread_notifications(request: HttpRequest) -> dict:
    """Expose the signed-in user's unread notification count as ``unread_notifications``.

    The count is lazy: its one query runs only when a template shows it (the page header
    does; the admin's pages, which get this context too, do not).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
