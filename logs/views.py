"""The usage dashboard: a tenant's daily rollups as server-rendered charts (issue 4 item 6)."""

from __future__ import annotations

import datetime as dt

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.charts import Series, grouped_bars
from logs.usage import live_day, recent_days, rollup_missing, usage_for
from tenants.models import Tenant

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


def _chart(title: str, labels: list[str], series: list[Series], empty: str):
    chart = grouped_bars(title, labels, series)
    return {"chart": chart, "empty_text": empty if chart.empty else ""}


@login_required
def usage_view(request: HttpRequest) -> HttpResponse:
    """Show one tenant's usage over the last 30 days (UTC): the days rolled up, and today's
    figures counted live from the logs."""
    if not request.user.has_perm("usagedaily:view"):
        raise PermissionDenied
    tenant, choices = _tenant_shown(request)
    days = recent_days()
    today = days[-1]
    by_day = {row.day: row for row in usage_for(tenant, days[0], today - dt.timedelta(days=1))}
    by_day[today] = live = live_day(tenant, today)
    labels = [day.strftime("%m-%d") for day in days]

    def values(field: str) -> list[int]:
        return [getattr(by_day[day], field) if day in by_day else 0 for day in days]

    charts = [
        _chart(_("Sign-ins per day"), labels, [
            Series(_("Sign-ins"), values("logins"), COLOURS["ok"]),
            Series(_("Failed sign-ins"), values("failed_logins"), COLOURS["bad"]),
        ], _("No sign-ins in these 30 days.")),
        _chart(_("Writes and errors per day"), labels, [
            Series(_("Writes"), values("writes"), COLOURS["writes"]),
            Series(_("Errors"), values("errors"), COLOURS["bad"]),
        ], _("No writes and no errors in these 30 days.")),
    ]
    missing = [day for day in days if day not in by_day]
    return render(request, "logs/usage.html", {
        "tenant": tenant,
        "tenant_choices": choices,
        "start": days[0],
        "end": today,
        "charts": charts,
        "rows": [(day, by_day.get(day), day == today) for day in reversed(days)],
        "live": live,
        "missing": missing,
        "may_roll_up": _may_roll_up(request),
    })


def _may_roll_up(request: HttpRequest) -> bool:
    """Rolling up counts every tenant's logs: platform work, the operators'."""
    return request.user.is_platform_operator and request.user.has_perm("usagedaily:view")


@login_required
@require_POST
def rollup_view(request: HttpRequest) -> HttpResponse:
    """Roll up the dashboard's days that have no figures yet (and yesterday again), now
    rather than at the next daily run; back to the dashboard."""
    if not _may_roll_up(request):
        raise PermissionDenied
    done = rollup_missing(recent_days())
    messages.success(request, ngettext(
        "Rolled up %(count)d day.", "Rolled up %(count)d days.", len(done)) % {
        "count": len(done)})
    url = reverse("logs:usage")
    code = request.POST.get("tenant", "")
    if code and Tenant.objects.filter(code=code).exists():
        url += "?" + urlencode({"tenant": code})
    return redirect(url)
