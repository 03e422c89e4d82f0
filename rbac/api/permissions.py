"""The API's side of the one permission decision (``rbac.access``)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission

from rbac.access import get_access
from rbac.catalogue import code_for, platform_codes
from rbac.enforcement import check_required_scopes, check_switches

# DRF viewset actions -> catalogue actions.
VIEWSET_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "create": "create",
    "update": "update",
    "partial_update": "update",
    "destroy": "delete",
    "restore": "restore",
}

# A view's ``permission_code`` meaning "any signed-in user" (``/me/``: who am I), which
# no role grants and no API key scope narrows.
AUTHENTICATED = "authenticated"


def required_code(view) -> str | None:
    """Return the permission code the view's current action needs, ``None`` if undeclared.

    A viewset names its model through ``queryset``; an extra ``@action`` maps to a catalogue
    action through the viewset's ``rbac_actions`` (``{"unlock": "unlock"}``), or else counts
    as reading (view) for safe methods and writing (update) for the others.
    """
    explicit = getattr(view, "permission_code", None)
    if explicit:
        return explicit
    queryset = getattr(view, "queryset", None)
    model = getattr(queryset, "model", None)
    if model is None:
        return None
    action = getattr(view, "action", None)
    catalogue_action = VIEWSET_ACTIONS.get(action)
    if catalogue_action is None and action is not None:
        catalogue_action = getattr(view, "rbac_actions", {}).get(action)
        if catalogue_action is None:
            catalogue_action = "view" if view.request.method in ("GET", "HEAD", "OPTIONS") else "update"
    if catalogue_action is None:
        return None
    return code_for(model, catalogue_action)


class EndpointSwitches(BasePermission):
    """Apply the endpoint registry's switches only (``rbac.enforcement``): for a route open
    to anonymous callers, listed with ``AllowAny``'s place in its permission classes.

    A disabled route is 404 to everybody; an API key must hold the route's required scopes.
    """

    def has_permission(self, request, view) -> bool:
        check_required_scopes(request, check_switches(request, view))
        return True


class RbacPermission(EndpointSwitches):
    """Allow the action when the user's roles grant its code and, for an API key, its scopes do.

    A view whose action needs no declared code is refused: every route states what it needs.
    The endpoint registry's switches apply first (``rbac.enforcement``): a disabled route is
    404, and an API key must also hold the route's required scopes.
    """

    message = gettext_lazy("You do not have the permission this action needs.")

    def has_permission(self, request, view) -> bool:
        if hasattr(view, "action") and view.action is None and request.user.is_authenticated:
            # The route does not take this method: let the view answer 405, not 403.
            return True
        if not (request.user and request.user.is_authenticated):
            return False
        rule = check_switches(request, view)
        code = required_code(view)
        if code is None:
            return False
        if code == AUTHENTICATED:
            check_required_scopes(request, rule)
            return True
        api_key = getattr(request, "auth", None)
        scopes = getattr(api_key, "scopes", None)
        if scopes is not None and code not in scopes:
            self.message = _("The API key's scopes do not include %(code)s.") % {"code": code}
            return False
        if not get_access(request.user).allows(code):
            self.message = _("You do not have the permission %(code)s.") % {"code": code}
            return False
        if code in platform_codes() and not request.user.is_platform_operator:
            # Platform codes are for operators whatever a role or package lists (as in the
            # admin's OperatorOnlyAdmin): a tenant's user never manages tenants or packages.
            self.message = _("You do not have the permission %(code)s: it is the platform's.") % {
                "code": code
            }
            return False
        check_required_scopes(request, rule)
        return True
