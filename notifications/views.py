"""The signed-in user's notifications: the list, and marking one or all of them read.

Only notifications the user receives are reachable: anything else, another tenant's
included, answers 404 (no existence leak).
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from accounts.views import _safe_next
from notifications.services import mark_all_read, mark_read, notifications_for

PAGE_SIZE = 20


def _back(request: HttpRequest) -> HttpResponse:
    """Redirect to the page the form was posted from (a local ``next``), or to the list."""
    return redirect(_safe_next(request) or "notifications:list")


@login_required
def notification_list_view(request: HttpRequest) -> HttpResponse:
    """List the user's notifications, newest first, unread ones marked."""
    queryset = notifications_for(request.user).select_related("sender")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/notifications.html", {"page_obj": page})


@login_required
@require_POST
@csrf_protect
def notification_read_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Mark one of the user's notifications read."""
    notification = get_object_or_404(notifications_for(request.user), pk=pk)
    mark_read(request.user, notification)
    return _back(request)


@login_required
@require_POST
@csrf_protect
def notification_read_all_view(request: HttpRequest) -> HttpResponse:
    """Mark every notification the user receives read."""
    mark_all_read(request.user)
    return _back(request)
