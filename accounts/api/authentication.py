"""``Authorization: Bearer <api key>`` for DRF.

DRF authenticates lazily inside the view, after ``TenantContextMiddleware`` opened the
request context, so the tenant scope and the acting user of a key-authenticated request
are entered here (``core.context.enter_principal``); leaving the request context restores
what was there before, so nothing set here outlives the request. Without that middleware
there would be nothing to restore the scope, so authentication refuses to run (an
``ImproperlyConfigured`` error) rather than leak it.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.services.api_keys import ApiKeyError, verify
from accounts.middleware import activate_user_language
from accounts.models import ApiKey, User
from core import context
from core.context import ALL_TENANTS, TenantScope, client_ip

KEYWORD = b"bearer"


def scope_of(user: User) -> TenantScope:
    """Return the tenant scope a user's requests run under (as the middleware decides)."""
    return ALL_TENANTS if user.is_platform_operator else TenantScope(tenant_id=user.tenant_id)


def authenticate_bearer(django_request, header: bytes) -> tuple[User, ApiKey] | None:
    """Authenticate an ``Authorization`` header's API key, or return ``None`` for other schemes.

    On success the request runs as the key's user: tenant scope, actor and language are
    set, and ``django_request.api_key`` is the key. Raises ``AuthenticationFailed`` for a
    malformed, unknown, expired, revoked or out-of-range key. Used by the REST API (below)
    and the MCP endpoint (``gateway.views``).
    """
    parts = header.split()
    if not parts or parts[0].lower() != KEYWORD:
        return None
    if len(parts) != 2:
        raise AuthenticationFailed(
            _("Invalid Authorization header: send 'Bearer <api key>', the key without spaces.")
        )
    try:
        raw_key = parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise AuthenticationFailed(ApiKeyError(ApiKeyError.MALFORMED).message) from None
    if not hasattr(django_request, "tenant_scope"):
        raise ImproperlyConfigured(
            "ApiKeyAuthentication needs tenants.middleware.TenantContextMiddleware in "
            "MIDDLEWARE: it restores the tenant scope after the request."
        )
    try:
        api_key = verify(raw_key, client_ip(django_request))
    except ApiKeyError as exc:
        raise AuthenticationFailed(exc.message, code=exc.reason) from None
    user = api_key.user
    enter_principal(django_request, user, api_key)
    return user, api_key


def enter_principal(django_request, user: User, api_key: ApiKey | None) -> None:
    """Run the rest of ``django_request`` as ``user`` (through ``api_key``, if any)."""
    scope = scope_of(user)
    context.enter_principal(scope, user.pk)
    django_request.tenant_scope = scope
    django_request.api_key = api_key
    # The middleware saw no user on this request: apply the user's language here.
    activate_user_language(django_request, user)


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer atr_<prefix>_<secret>`` as the key's user.

    Returns ``(user, api_key)``: ``request.auth`` (and ``request.api_key``) is the key,
    whose scopes narrow what the user may do. Other schemes are left to the next class.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        return authenticate_bearer(request._request, get_authorization_header(request))

    def authenticate_header(self, request: Request) -> str:
        # A value here makes DRF answer 401 (not 403) to unauthenticated requests.
        return 'Bearer realm="api"'


class InProcessAuthentication(BaseAuthentication):
    """Authenticate a request the platform dispatches to itself (``gateway.dispatch``).

    The MCP gateway runs an ``api`` tool through Django's URL routing, middleware and
    permission layer as the calling user, without forwarding the caller's token. It puts
    ``(user, api_key)`` on the request object as ``atrium_principal`` before dispatching:
    an attribute set in code, which no header, cookie or body of an HTTP request can set.
    The key's scopes then narrow the call exactly as for a direct API request.
    """

    def authenticate(self, request: Request) -> tuple[User, ApiKey | None] | None:
        principal = getattr(request._request, "atrium_principal", None)
        if principal is None:
            return None
        user, api_key = principal
        enter_principal(request._request, user, api_key)
        return user, api_key
