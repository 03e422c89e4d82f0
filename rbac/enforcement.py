"""Operators' switches of the API endpoint registry, applied to every API request.

``rbac.api.permissions.RbacPermission`` (a default permission class of every API view) calls
``check_switches`` once the caller is authenticated, before the permission code is checked:
it matches the request to its registry row by the route's path template and method, and:

* a disabled endpoint answers 404 to everybody, operators included, whatever permissions
  they hold: a switched-off route looks like no route at all. An anonymous caller is
  refused first (401), as on every route that needs a sign-in, so that an unauthenticated
  request never reads the registry; a route open to anonymous callers is 404 to them too;
* an API key must also hold the row's ``required_scopes`` (403 otherwise,
  ``check_required_scopes``), on top of the permission code. Session users are not narrowed
  by scopes, as elsewhere.

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
    from rbac.models import ApiEndpoint

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
    from rbac.registry import request_path

    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return rules().get((request_path(match.route, view), method))


def endpoint_enabled(request, view) -> bool:
    """Return whether the request's route and method are enabled in the registry."""
    rule = endpoint_rule(request, view)
    return rule is None or rule.is_enabled


def check_switches(request, view) -> EndpointRule | None:
    """Raise ``Http404`` for a disabled route; return the route's rule (``None``: none).

    Called by ``rbac.api.permissions.RbacPermission`` after authentication, before the
    permission code is checked.
    """
    rule = endpoint_rule(request, view)
    if rule is not None and not rule.is_enabled:
        raise Http404
    return rule


def check_required_scopes(request, rule: EndpointRule | None) -> None:
    """Refuse an API key that lacks one of the route's required scopes."""
    if rule is None or not rule.required_scopes:
        return
    scopes = getattr(getattr(request, "auth", None), "scopes", None)
    if scopes is None:
        return
    missing = sorted(set(rule.required_scopes) - set(scopes))
    if missing:
        raise PermissionDenied(
            _("The API key's scopes do not include %(code)s.") % {"code": ", ".join(missing)}
        )
