"""Open the request context (``core.context``) for the duration of each request."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from core.context import ALL_TENANTS, TenantScope, request_context

REQUEST_ID_HEADER = "X-Request-ID"


class TenantContextMiddleware:
    """Scope the request to the logged-in user's tenant, or to all tenants for an operator,
    and give it a request id (a sane incoming ``X-Request-ID``, else a new one), answered
    in the response's ``X-Request-ID``.

    A user who can no longer sign in (locked, inactive, deleted, or whose tenant is inactive
    or expired) is logged out here, so a session stops working at once. Anonymous requests
    get no scope: any tenant-owned query they make fails closed.

    DRF authenticates API keys inside the view, after this middleware, and enters the key
    user's principal there (``core.context.enter_principal``). Leaving the request context
    restores what was there before it, whatever was set in between, so no scope outlives
    its request.
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
        with request_context(scope=scope, actor_id=actor_id,
                             request_id=request.headers.get(REQUEST_ID_HEADER)) as request_id:
            request.request_id = request_id
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
