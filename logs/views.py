"""The usage dashboard: a tenant's daily rollups as server-rendered charts (issue 4 item 6)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.charts import Series, grouped_bars
from logs.usage import usage_for
from tenants.models import Tenant

DASHBOARD_DAYS = 30
COLOURS = {"ok": "#2f6fb0", "bad": "#c0392b", "writes": "#3c8d5a"}


def _tenant_shown(request: HttpRequest) -> tuple[Tenant, list[Tenant]]:
    """Return the tenant whose usage is shown, and the tenants the user may pick from.

    Everybody sees their own tenant. A platform operator may pick another with
    ``?tenant=<code>``; for anybody else the parameter is ignored.
    """
    own = request.user.tenant
    if not own.is_platform:
        return own, []
    choices = list(Tenant.objects.order_by("code"))
    code = request.GET.get("tenant")
    if not code:
        return own, choices
    for tenant in choices:
        if tenant.code == code:
            return tenant, choices
    raise Http404(_("No such tenant."))


@login_required
def usage_view(request: HttpRequest) -> HttpResponse:
    """Show the last 30 rolled-up days (UTC, up to yesterday) of one tenant's usage."""
    if not request.user.has_perm("usagedaily:view"):
        raise PermissionDenied
    tenant, choices = _tenant_shown(request)
    end = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=DASHBOARD_DAYS - 1)
    by_day = {row.day: row for row in usage_for(tenant, start, end)}
    days = [start + dt.timedelta(days=n) for n in range(DASHBOARD_DAYS)]
    labels = [day.strftime("%m-%d") for day in days]

    def values(field: str) -> list[int]:
        return [getattr(by_day[day], field) if day in by_day else 0 for day in days]

    sign_ins = grouped_bars(
        _("Sign-ins per day"),
        labels,
        [
            Series(_("Sign-ins"), values("logins"), COLOURS["ok"]),
            Series(_("Failed sign-ins"), values("failed_logins"), COLOURS["bad"]),
        ],
    )
    writes = grouped_bars(
        _("Writes and errors per day"),
        labels,
        [
            Series(_("Writes"), values("writes"), COLOURS["writes"]),
            Series(_("Errors"), values("errors"), COLOURS["bad"]),
        ],
    )
    rows = [(day, by_day.get(day)) for day in reversed(days)]
    return render(
        request,
        "logs/usage.html",
        {
            "tenant": tenant,
            "tenant_choices": choices,
            "start": start,
            "end": end,
            "charts": [sign_ins, writes],
            "rows": rows,
        },
    )
