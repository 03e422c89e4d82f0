"""Set the tenant scope and the acting user for the duration of each request."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from tenants.context import ALL_TENANTS, TenantScope, actor_context, scope_context


class TenantContextMiddleware:
    """Scope the request to the logged-in user's tenant, or to all tenants for an operator.

    A user who can no longer sign in (locked, inactive, deleted, or whose tenant is inactive
    or expired) is logged out here, so a session stops working at once. Anonymous requests
    get no scope: any tenant-owned query they make fails closed.

    DRF authenticates API keys inside the view, after this middleware, and sets the key
    user's scope there (``accounts.api.authentication``). Leaving the ``with`` block resets
    both variables to their values from before it, whatever was set in between, so no
    scope outlives its request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        scope = None
        actor_id = None
        if user.is_authenticated:
            if user.sign_in_refusal() is not None:
                logout(request)
            else:
                scope = ALL_TENANTS if user.is_platform_operator else TenantScope(user.tenant_id)
                actor_id = user.pk
        request.tenant_scope = scope
        with scope_context(scope), actor_context(actor_id):
            return self.get_response(request)
