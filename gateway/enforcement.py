"""Operators' switches of the API endpoint registry, applied to every API request.

``EndpointRegistryMixin`` sits in the bases of every API view (``config.api.base``,
``accounts.api.views.MeView``). Once the caller is authenticated, before the permission
check, it matches the request to its registry row by the route's path template and method,
and:

* a disabled endpoint answers 404 to everybody, operators included, whatever permissions
  they hold: a switched-off route looks like no route at all. An anonymous caller is
  refused first (401), as on every route that needs a sign-in, so that an unauthenticated
  request never reads the registry; a route open to anonymous callers is 404 to them too;
* an API key must also hold the row's ``required_scopes`` (403 otherwise), on top of the
  permission code that ``rbac.api.permissions.RbacPermission`` checks. Session users are
  not narrowed by scopes, as elsewhere.

A route with no registry row (registered since the last sync) is served: the registry is
written after every ``migrate``, so this is a window of a deployment, not a state.

The rules are one cache entry, dropped whenever a row is saved or a sync runs. With a
shared cache (``CACHE_URL=redis://...``) every process sees an edit at once; with the
per-process default it takes at most ``CACHE_TIMEOUT`` seconds to reach other processes.
"""

from __future__ import annotations

from typing import NamedTuple

from django.core.cache import cache
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

CACHE_KEY = "mcp:endpoint-rules"
CACHE_TIMEOUT = 30  # seconds


class EndpointRule(NamedTuple):
    """An operator's switches of one route and method."""

    is_enabled: bool
    required_scopes: tuple[str, ...]


def rules() -> dict[tuple[str, str], EndpointRule]:
    """Return ``{(path, method): rule}`` of the routes an operator restricted (cached)."""
    cached = cache.get(CACHE_KEY)
    if cached is not None:
        return cached
    from gateway.models import ApiEndpoint

    cached = {
        (path, method): EndpointRule(is_enabled, tuple(scopes or ()))
        for path, method, is_enabled, scopes in ApiEndpoint.objects.values_list(
            "path", "method", "is_enabled", "required_scopes"
        )
        if not is_enabled or scopes
    }
    cache.set(CACHE_KEY, cached, CACHE_TIMEOUT)
    return cached


def invalidate(using: str = "default") -> None:
    """Drop the cached rules now and again once the transaction commits.

    The second drop covers a request that re-read the old rows before the commit.
    """
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY), using=using)


def endpoint_rule(request, view) -> EndpointRule | None:
    """Return the operator's rule of the request's route and method, ``None`` if unrestricted."""
    from gateway.registry import request_path

    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return rules().get((request_path(match.route, view), method))


def endpoint_enabled(request, view) -> bool:
    """Return whether the request's route and method are enabled in the registry."""
    rule = endpoint_rule(request, view)
    return rule is None or rule.is_enabled


class EndpointRegistryMixin:
    """Apply the registry's switches to an API view (see the module docstring)."""

    def check_permissions(self, request) -> None:
        anonymous = not request.user.is_authenticated
        if anonymous:
            # Refused as on every route (401) before the registry is read.
            super().check_permissions(request)
        rule = endpoint_rule(request, self)
        if rule is not None and not rule.is_enabled:
            raise Http404
        if not anonymous:
            super().check_permissions(request)
        if rule is not None and rule.required_scopes:
            self.check_required_scopes(request, rule.required_scopes)

    def check_required_scopes(self, request, required: tuple[str, ...]) -> None:
        """Refuse an API key that lacks one of the endpoint's required scopes."""
        scopes = getattr(getattr(request, "auth", None), "scopes", None)
        if scopes is None:
            return
        missing = sorted(set(required) - set(scopes))
        if missing:
            raise PermissionDenied(
                _("The API key's scopes do not include %(code)s.") % {"code": ", ".join(missing)}
            )
