"""Shared reads of the test domain: trends of a project's plans and its unsteady steps.

Each reads a bounded window (the last ``TREND_RUNS`` ended runs of each plan, within
``TREND_DAYS``; steps of the last ``TREND_DAYS``) in one query, so the project dashboard
costs the same whatever the project's history.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.charts import Series, grouped_bars
from testing.choices import FINAL_RUN_STATUSES, RunKind, StepStatus
from testing.models import Execution, Project, StepResult

TREND_RUNS = 20
TREND_DAYS = 90
WINDOW = 2000  # ended plan runs read at most (newest first)
PASSED, FAILED, DURATION = "#2e7d32", "#c62828", "#1565c0"


def plan_trends(project: Project, *, runs: int = TREND_RUNS) -> list[dict]:
    """Return, per plan, its last ``runs`` ended runs (oldest first) with pass rate,
    duration and two charts."""
    since = timezone.now() - timedelta(days=TREND_DAYS)
    rows = (Execution.objects.filter(project=project, kind=RunKind.PLAN,
                                     status__in=FINAL_RUN_STATUSES, completed_at__gte=since,
                                     plan__isnull=False)
            .order_by("-completed_at").values(
                "plan_id", "plan__name", "completed_at", "started_at", "scenarios_passed",
                "scenarios_failed", "scenarios_total")[:WINDOW])
    plans: dict = {}
    for row in rows:
        entries = plans.setdefault(row["plan_id"], {"name": row["plan__name"], "runs": []})
        if len(entries["runs"]) < runs:
            entries["runs"].append(row)
    trends = []
    for plan_id, entry in plans.items():
        ordered = list(reversed(entry["runs"]))
        labels = [row["completed_at"].strftime("%m-%d %H:%M") for row in ordered]
        rates = [round(100 * row["scenarios_passed"] / row["scenarios_total"])
                 if row["scenarios_total"] else 0 for row in ordered]
        seconds = [round((row["completed_at"] - row["started_at"]).total_seconds())
                   if row["started_at"] else 0 for row in ordered]
        trends.append({
            "plan_id": plan_id, "name": entry["name"], "runs": len(ordered),
            "last_rate": rates[-1] if rates else None,
            "charts": [
                grouped_bars(_("%(plan)s: scenario runs passed (%%)") % {"plan": entry["name"]},
                             labels, [Series(_("passed %"), rates, PASSED)]),
                grouped_bars(_("%(plan)s: duration (s)") % {"plan": entry["name"]},
                             labels, [Series(_("seconds"), seconds, DURATION)]),
            ]})
    return sorted(trends, key=lambda trend: trend["name"])


def unsteady_steps(project: Project, *, limit: int = 10) -> list[dict]:
    """Return the steps of the last ``TREND_DAYS`` that failed or needed retries most."""
    since = timezone.now() - timedelta(days=TREND_DAYS)
    failing = Q(status__in=[StepStatus.FAILED, StepStatus.ERROR])
    rows = (StepResult.objects.filter(execution__project=project, started_at__gte=since)
            .values("step_key", "title")
            .annotate(runs=Count("id"), failed=Count("id", filter=failing),
                      retried=Count("id", filter=Q(attempts__gt=1)),
                      flaky=Count("id", filter=Q(flaky=True)))
            .filter(Q(failed__gt=0) | Q(retried__gt=0))
            .annotate(weight=F("failed") + F("retried"))
            .order_by("-weight", "-runs", "title")[:limit])
    return [{**row, "failure_rate": round(100 * row["failed"] / row["runs"])}
            for row in rows]
