"""Template context for the tenant of the current request."""

from __future__ import annotations

from django.http import HttpRequest


def current_tenant(request: HttpRequest) -> dict:
    """Expose the signed-in user's tenant as ``current_tenant``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_tenant": None}
    return {"current_tenant": user.tenant}
