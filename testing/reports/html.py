"""The report of an execution as one standalone HTML file: inline CSS and SVG, no script,
no external asset, so it opens from a CI artifact or an e-mail as it opens on the site."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from core.charts import Series, grouped_bars
from testing.engine.messages import render as render_message
from testing.reports import Report, RunReport, StepReport

CHART_RUNS = 40      # scenario runs drawn in the outcome chart (failures first)
CHART_STEPS = 30     # the slowest steps drawn in the step-time chart
ORDER = {"error": 0, "failed": 1, "skipped": 2, "passed": 3}
PASSED, FAILED, OTHER = "#2e7d32", "#c62828", "#9e9e9e"


def pretty(value: Any) -> str:
    """Return a stored request or response part as indented JSON (text as it is)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def when(moment: str) -> str:
    """Return an ISO time of the report as a reader reads it: "2026-12-06 17:29:54 UTC"."""
    if not moment:
        return "—"
    return datetime.fromisoformat(moment).astimezone(timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")


def localized(step: StepReport) -> StepReport:
    """Return ``step`` with its error, check messages and variable origins in the active
    language (a step stored before messages had ids keeps its English text)."""
    return replace(step, error=render_message(step.error_i18n, step.error), assertions=[
        {**check, "message": render_message(check.get("message_i18n"),
                                            check.get("message", ""))}
        if isinstance(check, dict) else check for check in step.assertions], variables={
        name: {**used, "origin": render_message(used.get("origin_i18n"),
                                                used.get("origin", ""))}
        if isinstance(used, dict) else used for name, used in step.variables.items()})


def shown_label(run: RunReport) -> str:
    """Return how the charts name ``run``, in the active language (``RunReport.label`` is
    the English name the files for machines use)."""
    if run.row_number is None:
        return run.name
    return _("%(name)s [row %(number)s]") % {"name": run.name, "number": run.row_number}


def context(report: Report) -> dict:
    report = replace(report, error=render_message(report.error_i18n, report.error), runs=[
        replace(run, error=render_message(run.error_i18n, run.error),
                steps=[localized(step) for step in run.steps]) for run in report.runs])
    runs = sorted(report.runs, key=lambda run: ORDER.get(run.outcome, 4))
    shown = runs[:CHART_RUNS]
    outcomes = grouped_bars(_("Steps of each scenario run"), [shown_label(run) for run in shown], [
        Series(_("passed"), [sum(s.status == "passed" for s in run.steps) for run in shown],
               PASSED),
        Series(_("failed"), [sum(s.status != "passed" for s in run.steps) for run in shown],
               FAILED)])
    steps = sorted(((run, step) for run in report.runs for step in run.steps),
                   key=lambda pair: pair[1].duration_ms, reverse=True)[:CHART_STEPS]
    times = grouped_bars(_("The slowest steps (ms)"),
                         [f"{shown_label(run)} #{step.position + 1}" for run, step in steps],
                         [Series(_("duration"), [round(step.duration_ms) for _r, step in steps],
                                 "#1565c0")])
    return {"report": report, "runs": runs, "started": when(report.started_at),
            "generated": when(report.generated_at), "counts": report.counts(),
            "step_counts": report.step_counts(), "charts": [outcomes, times],
            "details": [(run, [(step, pretty(step.request), pretty(step.response))
                               for step in run.steps]) for run in runs]}


def render(report: Report) -> str:
    """Return the standalone HTML of ``report``."""
    return render_to_string("testing/reports/standalone.html", context(report))
