"""What every tester page shares: the project in the URL, read through the tenant's
fail-closed manager and the user's data scope (another tenant's project, or one outside
the scope, is 404), and the permission check of each page (403 without the code).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from rbac.catalogue import code_for
from tenants.scoping import restrict
from testing.models import Project


def require(request: HttpRequest, model: type[models.Model], action: str) -> None:
    """Raise ``PermissionDenied`` unless the user holds ``action`` on ``model``."""
    if not request.user.has_perm(code_for(model, action)):
        raise PermissionDenied


def may(request: HttpRequest, model: type[models.Model], action: str) -> bool:
    """Return whether the user holds ``action`` on ``model`` (to show or hide a button)."""
    return request.user.has_perm(code_for(model, action))


def is_htmx(request: HttpRequest) -> bool:
    """Return whether htmx sent the request (it wants a part of the page, not all of it).

    The header is read here rather than through django-htmx's middleware: that middleware
    gives every request of the platform a reference cycle (``request.htmx.request``), which
    kept each in-process API call of the MCP gateway alive until the cyclic collector ran
    and cost 1.6-1.9 ms per tool call (measured, bench/mcp_gateway.py).
    """
    return request.headers.get("HX-Request") == "true"


def visible_projects(request: HttpRequest) -> models.QuerySet:
    """Return the live projects of the user's tenant within their data scope."""
    return restrict(Project.objects.all(), request.user)


def project_of(request: HttpRequest, project_id) -> Project:
    """Return the project of the URL, or raise 404 (another tenant's, deleted, out of scope).

    Viewing a project needs ``project:view``; a page inside it checks its own code too.
    """
    require(request, Project, "view")
    try:
        return get_object_or_404(visible_projects(request), pk=project_id)
    except (ValueError, models.ObjectDoesNotExist):
        raise Http404 from None


def in_project(request: HttpRequest, project: Project, model: type[models.Model], pk,
               *, action: str = "view", queryset: models.QuerySet | None = None):
    """Return the ``model`` row ``pk`` of ``project``, or raise 404; check ``action`` first."""
    require(request, model, action)
    rows = queryset if queryset is not None else model.objects.all()
    try:
        return get_object_or_404(rows, pk=pk, project=project)
    except ValueError:
        raise Http404 from None


def posted(request: HttpRequest):
    """Return the POSTed data to bind a form to, or ``None`` on a GET (an unbound form)."""
    return request.POST if request.method == "POST" else None


def delete_page(request: HttpRequest, row: models.Model, *, project: Project | None,
                what: str, cancel_url: str, done_url: str) -> HttpResponse:
    """Ask before soft-deleting ``row`` (GET); delete it (POST) and go to ``done_url``.

    What keeps the row from being deleted (``soft_delete_blockers``: live rows that use
    it) is shown instead of the button; a POST refused for it answers 409.
    """
    blockers = list(row.soft_delete_blockers())
    if request.method == "POST" and not blockers:
        try:
            row.soft_delete()
        except ValidationError as exc:
            blockers = exc.messages
        else:
            messages.success(request, _("Deleted “%(name)s”.") % {"name": row})
            return redirect(done_url)
    status = 409 if request.method == "POST" else 200
    return render(request, "testing/confirm_delete.html",
                  {"project": project, "row": row, "what": what, "blockers": blockers,
                   "cancel_url": cancel_url}, status=status)
