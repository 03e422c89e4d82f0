"""Runs of a project (seed 001 sections 3.14-3.15): start one from a scenario, a plan or an
interface; follow it live; pause, resume or terminate it; read what every step did.

Starting goes through ``testing.services.runs`` (which writes the execution and sends its
scenario runs to the workers when the transaction commits); a run that cannot start
(``RunRefused``: an empty plan, an invalid dataset) is shown on the form with its reason.

The run page polls one fragment (progress, totals, the scenario runs and their steps) every
two seconds while the execution is not final; the fragment of a final execution carries no
trigger, so the polling stops by itself. A step's detail (request, response, variables with
their origins, extracted values, assertions) is loaded beside it on demand: the polled
fragment reads no JSON column but the assertions' count.

The scenario, plan and interface pages cannot hold the start form in their context (their
views build it), so they load it from here (``hx-trigger="load"``), with a link to the same
form on a page of its own for a browser without JavaScript.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from testing.choices import (
    FINAL_SCENARIO_STATUSES,
    ControlRequest,
    RunStatus,
    ScenarioRunStatus,
)
from testing.forms import StartRunForm
from testing.models import (
    Execution,
    ExecutionStep,
    Interface,
    PlanSchedule,
    Scenario,
    StepResult,
    TestPlan,
)
from testing import reports
from testing.engine.messages import render as render_message
from testing.services import runs
from testing.views.common import in_project, is_htmx, may, project_of, require

PAGE_SIZE = 25
RECENT = 10
# The run page lists at most this many step results (a 1,000-step scenario run over a
# dataset would otherwise be re-rendered whole every two seconds).
RESULTS_SHOWN = 1000
# The columns the list of steps shows: never the request, response or variables.
RESULT_COLUMNS = ("id", "scenario_run_id", "position", "title", "action", "status", "attempts",
                  "flaky", "duration_ms", "error", "error_i18n")


# ---------------------------------------------------------------------------
# Starting a run
# ---------------------------------------------------------------------------


# What each kind of run starts from: (model, service, label of the button, label of the
# empty environment choice; empty: the form's own).
TARGETS = {
    "scenario": (Scenario, runs.start_scenario, gettext_lazy("Run scenario"), ""),
    "plan": (TestPlan, runs.start_plan, gettext_lazy("Run plan"),
             gettext_lazy("Each scenario's own (else the plan's default)")),
    "interface": (Interface, runs.start_interface, gettext_lazy("Run interface"), ""),
}


def start_view(request: HttpRequest, project_id, pk, *, kind: str) -> HttpResponse:
    """Show the form that starts a run of a scenario, plan or interface; start it (POST).

    htmx gets the form alone (the target's page loads it in place) and, once the run has
    started, an ``HX-Redirect`` to the run page; a plain request gets a page of its own.
    """
    model, start, button, environment_label = TARGETS[kind]
    project = project_of(request, project_id)
    target = in_project(request, project, model, pk)
    require(request, Execution, "create")
    form = StartRunForm(request.POST if request.method == "POST" else None, project=project,
                        scenario=target if kind == "scenario" else None,
                        environment_label=str(environment_label))
    if not form.is_bound and kind != "plan":
        form.initial["environment"] = form.fields["environment"].queryset.first()
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            options = {"environment": form.cleaned_data["environment"]}
            if "dataset" in form.cleaned_data:
                options["dataset"] = form.cleaned_data["dataset"]
            try:
                execution = start(target, **options)
            except runs.RunRefused as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                messages.success(request, _("Started the run of “%(name)s”.")
                                 % {"name": execution.name})
                url = execution.get_absolute_url()
                if is_htmx(request):
                    return HttpResponse(status=204, headers={"HX-Redirect": url})
                return redirect(url)
    context = {"project": project, "target": target, "kind": kind, "form": form,
               "button": button, "action": request.path}
    template = "testing/runs/_start.html" if is_htmx(request) else "testing/runs/start.html"
    return render(request, template, context, status=status)


@login_required
def scenario_run_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Start a run of a scenario (once, or once per row of a dataset)."""
    return start_view(request, project_id, pk, kind="scenario")


@login_required
def plan_run_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Start a run of a plan (optionally in another environment than its own)."""
    return start_view(request, project_id, pk, kind="plan")


@login_required
def interface_run_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Start a run of one interface: its request, assertions and extractors."""
    return start_view(request, project_id, pk, kind="interface")


# ---------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------


def percent(rate: float | None) -> int | None:
    """Return a pass rate as a whole percentage (``None`` stays ``None``)."""
    return None if rate is None else round(rate * 100)


def executions_of(project) -> Any:
    """Return the project's executions, newest first, with who or what schedule started
    them."""
    return (Execution.objects.filter(project=project)
            .select_related("created_by", "schedule__plan").order_by("-created_at", "-id"))


def schedule_url(execution: Execution, *, may_see: bool) -> str:
    """Return the row, on its plan's page, of the schedule that started ``execution``: empty
    when no schedule started it, it or its plan is deleted, or the user may not see it."""
    schedule = execution.schedule
    if schedule is None or not may_see or schedule.is_deleted or schedule.plan.is_deleted:
        return ""
    page = reverse("testing:plan", args=[execution.project_id, schedule.plan_id])
    return f"{page}#schedule-{schedule.pk}"


def may_see_schedules(request: HttpRequest) -> bool:
    """Return whether the user may open the schedules section of a plan's page."""
    return may(request, TestPlan, "view") and may(request, PlanSchedule, "view")


@login_required
def run_list_view(request: HttpRequest, project_id) -> HttpResponse:
    """List the project's runs, newest first; filter them by status."""
    project = project_of(request, project_id)
    require(request, Execution, "view")
    rows = executions_of(project)
    status = request.GET.get("status", "")
    if status in RunStatus.values:
        rows = rows.filter(status=status)
    else:
        status = ""
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    may_see = may_see_schedules(request)
    for execution in page.object_list:
        execution.pass_percent = percent(execution.pass_rate)
        execution.schedule_url = schedule_url(execution, may_see=may_see)
    return render(request, "testing/runs/list.html", {
        "project": project, "page_obj": page, "status": status,
        "statuses": RunStatus.choices,
    })


@login_required
def recent_runs_view(request: HttpRequest, project_id) -> HttpResponse:
    """Render the project's last runs (the dashboard loads them in place)."""
    project = project_of(request, project_id)
    require(request, Execution, "view")
    recent = list(executions_of(project)[:RECENT])
    for execution in recent:
        execution.pass_percent = percent(execution.pass_rate)
    return render(request, "testing/runs/_recent.html", {
        "project": project, "recent": recent,
        "any_running": any(not execution.is_final for execution in recent),
    })


# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------


def execution_of(request: HttpRequest, project_id, pk, *, action: str = "view") -> Execution:
    """Return the execution ``pk`` of the project of the URL (404 outside the user's reach)."""
    project = project_of(request, project_id)
    execution = in_project(request, project, Execution, pk,
                           queryset=Execution.objects.select_related(
                               "created_by", "environment", "dataset", "plan", "scenario",
                               "interface", "schedule__plan"))
    if action != "view":
        require(request, Execution, action)
    execution.project = project
    return execution


def duration_text(ms: float | None) -> str:
    """Return a duration for a reader: milliseconds below a second, else seconds."""
    if ms is None:
        return ""
    if ms < 1000:
        return _("%(ms)d ms") % {"ms": round(ms)}
    return _("%(seconds).1f s") % {"seconds": ms / 1000}


def live_context(request: HttpRequest, execution: Execution, **extra) -> dict:
    """Return what the polled fragment shows: progress, totals, scenario runs and steps."""
    scenario_runs = list(ExecutionStep.objects.filter(execution=execution)
                         .defer("checkpoint", "step_keys").order_by("sort_order", "id"))
    results = list(StepResult.objects.filter(execution=execution).only(*RESULT_COLUMNS)
                   .order_by("scenario_run_id", "position", "id")[:RESULTS_SHOWN + 1])
    truncated = len(results) > RESULTS_SHOWN
    by_run: dict[Any, list] = {}
    for result in results[:RESULTS_SHOWN]:
        result.duration = duration_text(result.duration_ms)
        result.error_text = render_message(result.error_i18n, result.error)
        by_run.setdefault(result.scenario_run_id, []).append(result)
    for run in scenario_runs:
        run.steps = by_run.get(run.pk, [])
        run.steps_done = run.steps_passed + run.steps_failed
        run.is_final = run.status in FINAL_SCENARIO_STATUSES
        run.error_text = render_message(run.error_i18n, run.error)
    finished = [run for run in scenario_runs if run.is_final]
    passed = sum(run.status == ScenarioRunStatus.PASSED for run in finished)
    failed = sum(run.status in (ScenarioRunStatus.FAILED, ScenarioRunStatus.ERROR)
                 for run in finished)
    steps_passed = sum(run.steps_passed for run in scenario_runs)
    steps_failed = sum(run.steps_failed for run in scenario_runs)
    status = execution.status
    may_control = not execution.is_final and may(request, Execution, "control")
    return {
        "project": execution.project,
        "execution": execution,
        "execution_error": render_message(execution.error_i18n, execution.error),
        "scenario_runs": scenario_runs,
        "truncated": truncated,
        "results_shown": RESULTS_SHOWN,
        "progress": {
            "runs_done": len(finished),
            "runs_total": len(scenario_runs),
            "steps_done": steps_passed + steps_failed,
            "steps_total": sum(run.steps_total for run in scenario_runs),
            "steps_passed": steps_passed,
            "steps_failed": steps_failed,
            "runs_passed": passed,
            "runs_failed": failed,
            "pass_percent": percent(passed / (passed + failed) if passed + failed else None),
        },
        "duration": duration_text(
            (execution.completed_at - execution.started_at).total_seconds() * 1000
            if execution.started_at and execution.completed_at else None),
        "controls": {
            "pause": may_control and status in (RunStatus.QUEUED, RunStatus.RUNNING)
            and execution.requested != ControlRequest.PAUSE,
            "resume": may_control and (status == RunStatus.PAUSED
                                       or execution.requested == ControlRequest.PAUSE),
            "terminate": may_control and execution.requested != ControlRequest.TERMINATE,
        },
        "live_url": reverse("testing:run-live", args=[execution.project_id, execution.pk]),
        **extra,
    }


def target_url(request: HttpRequest, execution: Execution) -> str:
    """Return the page of what ran, when it still exists and the user may see it."""
    for name, model, row in (("plan", TestPlan, execution.plan),
                             ("scenario", Scenario, execution.scenario),
                             ("interface", Interface, execution.interface)):
        if row is not None and not row.is_deleted and may(request, model, "view"):
            return reverse(f"testing:{name}", args=[execution.project_id, row.pk])
    return ""


@login_required
def run_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Show a run: its header, live progress, scenario runs and steps."""
    execution = execution_of(request, project_id, pk)
    execution.schedule_url = schedule_url(execution, may_see=may_see_schedules(request))
    context = live_context(request, execution, target_url=target_url(request, execution))
    return render(request, "testing/runs/run.html", context)


@login_required
def run_live_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Render the polled part of the run page; once final it polls no more."""
    execution = execution_of(request, project_id, pk)
    live = ""
    if execution.is_final:
        live = _("The run ended: %(status)s.") % {"status": execution.get_status_display()}
    return render(request, "testing/runs/_live.html", live_context(request, execution,
                                                                    live=live))


CONTROLS = {
    "pause": (runs.pause, gettext_lazy("Pausing the run after its current steps.")),
    "resume": (runs.resume, gettext_lazy("Resumed the run.")),
    "terminate": (runs.terminate, gettext_lazy("Terminating the run.")),
}


@login_required
@require_POST
def run_control_view(request: HttpRequest, project_id, pk, *, operation: str) -> HttpResponse:
    """Pause, resume or terminate a run (``execution:control``)."""
    execution = execution_of(request, project_id, pk, action="control")
    control, done = CONTROLS[operation]
    error, status = "", 200
    try:
        control(execution)
    except runs.RunRefused as exc:
        error, status = str(exc), 409
    execution = execution_of(request, project_id, pk)
    if is_htmx(request):
        return render(request, "testing/runs/_live.html",
                      live_context(request, execution, error=error, live=error or str(done)),
                      status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, str(done))
    return redirect(execution.get_absolute_url())


# ---------------------------------------------------------------------------
# One step
# ---------------------------------------------------------------------------


def shown(value: Any) -> str:
    """Return a stored JSON value as a reader sees it: text as is, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2 if isinstance(value, (dict, list))
                      and value else None)


def body_text(body: Any) -> str:
    """Return a body for a ``<pre>``: JSON text indented, any other text as it came."""
    if not isinstance(body, str):
        return shown(body)
    stripped = body.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(body), ensure_ascii=False, indent=2)
        except ValueError:
            pass
    return body


def result_context(execution: Execution, result: StepResult) -> dict:
    """Return what the detail of one step shows, every value ready for a ``<pre>``."""
    request = result.request if isinstance(result.request, dict) else None
    response = result.response if isinstance(result.response, dict) else None
    is_http = bool(request and "method" in request)
    return {
        "project": execution.project,
        "execution": execution,
        "result": result,
        "duration": duration_text(result.duration_ms),
        # The engine's messages in the reader's language; a row stored before they had an
        # id shows its English text (testing.engine.messages).
        "error": render_message(result.error_i18n, result.error),
        "is_http": is_http,
        "request": request,
        "request_body": (body_text(request.get("body")) if is_http
                         and request.get("body") not in (None, "") else ""),
        "request_other": shown(request) if request and not is_http else "",
        "response": response,
        "response_body": body_text(response.get("body")) if response else "",
        "response_rows": (shown(response["rows"]) if response and response.get("rows")
                          is not None else ""),
        "response_elapsed": duration_text(response.get("elapsed_ms")) if response else "",
        "variables": [{"name": name, "value": shown(item.get("value")),
                       "origin": render_message(item.get("origin_i18n"),
                                                item.get("origin", ""))}
                      if isinstance(item, dict) else {"name": name, "value": shown(item),
                                                       "origin": ""}
                      for name, item in sorted((result.variables or {}).items())],
        "extracted": [{"name": name, "value": shown(value)}
                      for name, value in (result.extracted or {}).items()],
        "assertions": [{**item, "message": render_message(item.get("message_i18n"),
                                                          item.get("message", "")),
                        "expected_text": shown(item.get("expected")),
                        "actual_text": shown(item.get("actual")) if item.get("found", True)
                        else ""}
                       for item in (result.assertions or []) if isinstance(item, dict)],
    }


@login_required
def result_view(request: HttpRequest, project_id, pk, result_id) -> HttpResponse:
    """Show what one step of the run did (htmx: the detail alone, beside the steps)."""
    execution = execution_of(request, project_id, pk)
    try:
        result = get_object_or_404(StepResult.objects.select_related("scenario_run"),
                                   execution=execution, pk=result_id)
    except ValueError:
        raise Http404 from None
    context = result_context(execution, result)
    template = "testing/runs/_result.html" if is_htmx(request) else "testing/runs/result.html"
    return render(request, template, context)


@login_required
@require_GET
def report_view(request: HttpRequest, project_id, pk, kind: str = "html",
                download: bool = False) -> HttpResponse:
    """The report of a run: the standalone HTML shown here, or a file to download (HTML,
    JUnit XML, Allure results as a zip, JSON)."""
    execution = execution_of(request, project_id, pk)
    body, content_type, filename = reports.render(execution, kind)
    response = HttpResponse(body, content_type=content_type)
    if download or kind != "html":
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


RUN = "projects/<uuid:project_id>/runs/<uuid:pk>/"

urlpatterns = [
    path("projects/<uuid:project_id>/runs/", run_list_view, name="runs"),
    path("projects/<uuid:project_id>/runs/recent/", recent_runs_view, name="runs-recent"),
    path(RUN, run_view, name="run"),
    path(f"{RUN}live/", run_live_view, name="run-live"),
    path(f"{RUN}pause/", run_control_view, {"operation": "pause"}, name="run-pause"),
    path(f"{RUN}resume/", run_control_view, {"operation": "resume"}, name="run-resume"),
    path(f"{RUN}terminate/", run_control_view, {"operation": "terminate"},
         name="run-terminate"),
    path(f"{RUN}steps/<int:result_id>/", result_view, name="run-result"),
    path(f"{RUN}report/", report_view, name="run-report"),
    path(f"{RUN}report.html", report_view, {"download": True}, name="run-report-html"),
    path(f"{RUN}report.xml", report_view, {"kind": "junit"}, name="run-report-junit"),
    path(f"{RUN}report.json", report_view, {"kind": "json"}, name="run-report-json"),
    path(f"{RUN}allure-results.zip", report_view, {"kind": "allure"},
         name="run-report-allure"),
    path("projects/<uuid:project_id>/scenarios/<uuid:pk>/run/", scenario_run_view,
         name="scenario-run"),
    path("projects/<uuid:project_id>/plans/<uuid:pk>/run/", plan_run_view, name="plan-run"),
    path("projects/<uuid:project_id>/interfaces/<uuid:pk>/run/", interface_run_view,
         name="interface-run"),
]
