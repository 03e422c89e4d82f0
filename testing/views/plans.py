"""A project's test plans (seed 001 section 3.12) and their ordered scenarios, each with a
dataset, an environment and variable overrides (section 3.13).

Every action is a plain form POST. With htmx, adding, editing, moving and removing a
scenario of the plan answer with the plan's scenarios re-rendered in place (the focus
stays on the button pressed, and the change is announced to screen readers). Up and down
buttons reorder: the keyboard's way, and the only one a page without JavaScript has.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from testing.forms import PlanScenarioForm, TestPlanForm
from testing.forms_schedules import PlanScheduleForm
from testing.models import Execution, PlanScenario, PlanSchedule, TestPlan
from testing.services.plans import move_entry
from testing.views.common import delete_page, in_project, is_htmx, may, posted, project_of, require


def plan_url(plan: TestPlan) -> str:
    """Return the plan's page."""
    return reverse("testing:plan", args=[plan.project_id, plan.pk])


def entry_of(request: HttpRequest, plan: TestPlan, pk, action: str) -> PlanScenario:
    """Return the plan's entry ``pk`` (404 when it is not one of them); check ``action``."""
    require(request, PlanScenario, action)
    try:
        return get_object_or_404(plan.entries.select_related("scenario"), pk=pk)
    except (ValueError, ValidationError):
        raise Http404 from None


def plan_of(request: HttpRequest, project_id, pk, action: str = "view") -> TestPlan:
    """Return the plan ``pk`` of the project of the URL, or raise 404."""
    project = project_of(request, project_id)
    plan = in_project(request, project, TestPlan, pk, action=action,
                      queryset=TestPlan.objects.select_related("environment"))
    plan.project = project
    return plan


def new_entry(plan: TestPlan) -> PlanScenario:
    """Return an unsaved entry at the end of the plan."""
    last = plan.entries.aggregate(last=Max("sort_order"))["last"] or 0
    return PlanScenario(plan=plan, tenant_id=plan.tenant_id, sort_order=last + 10)


def entries_context(request: HttpRequest, plan: TestPlan, **extra) -> dict:
    """Return what the plan's scenarios section renders."""
    entries = list(plan.entries.select_related("scenario", "dataset", "environment"))
    for entry in entries:
        entry.overrides = [(name, json.dumps(value, ensure_ascii=False))
                           for name, value in (entry.variables or {}).items()]
    may_create = may(request, PlanScenario, "create")
    return {
        "plan": plan,
        "project": plan.project,
        "entries": entries,
        "add_form": extra.pop("add_form", None) or (
            PlanScenarioForm(plan=plan, instance=new_entry(plan), auto_id="add-%s")
            if may_create else None),
        "may_update": may(request, PlanScenario, "update"),
        "may_delete": may(request, PlanScenario, "delete"),
        **extra,
    }


def render_entries(request: HttpRequest, plan: TestPlan, *, live: str = "",
                   status: int = 200, **extra) -> HttpResponse:
    """Render the plan's scenarios section alone (an htmx answer)."""
    return render(request, "testing/_plan_entries.html",
                  {"project": plan.project, "section": entries_context(request, plan, **extra),
                   "live": live}, status=status)


def answer(request: HttpRequest, plan: TestPlan, message: str, *, status: int = 200,
           **extra) -> HttpResponse:
    """Answer an entry action: the section for htmx, else back to the plan with a message."""
    if is_htmx(request):
        return render_entries(request, plan, live=message, status=status, **extra)
    if message:
        messages.success(request, message)
    return redirect(f"{plan_url(plan)}#plan-entries")


@login_required
def plan_list_view(request: HttpRequest, project_id) -> HttpResponse:
    """List the project's plans; create one (POST)."""
    project = project_of(request, project_id)
    require(request, TestPlan, "view")
    form, status = None, 200
    if request.method == "POST":
        require(request, TestPlan, "create")
        form = TestPlanForm(request.POST, project=project,
                            instance=TestPlan(project=project, tenant_id=project.tenant_id))
        if form.is_valid():
            plan = form.save()
            messages.success(request, _("Created the plan “%(name)s”. Add its scenarios "
                                        "below.") % {"name": plan})
            return redirect(plan_url(plan))
        status = 400
    elif may(request, TestPlan, "create"):
        form = TestPlanForm(project=project)
    plans = (TestPlan.objects.filter(project=project).select_related("environment")
             .annotate(scenario_count=Count("entries", filter=Q(entries__is_deleted=False))))
    return render(request, "testing/plans.html",
                  {"project": project, "plans": plans, "form": form}, status=status)


@login_required
def plan_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Show a plan with its scenarios in order; change its settings (POST)."""
    plan = plan_of(request, project_id, pk)
    form, status = None, 200
    if request.method == "POST":
        require(request, TestPlan, "update")
        form = TestPlanForm(request.POST, instance=plan, project=plan.project)
        if form.is_valid():
            form.save()
            messages.success(request, _("Saved the plan."))
            return redirect(plan_url(plan))
        status = 400
    elif may(request, TestPlan, "update"):
        form = TestPlanForm(instance=plan, project=plan.project)
    context = {"project": plan.project, "plan": plan, "form": form,
               "may_delete": may(request, TestPlan, "delete"),
               "may_view_entries": may(request, PlanScenario, "view")}
    if context["may_view_entries"]:
        context["section"] = entries_context(request, plan)
    if may(request, PlanSchedule, "view"):
        context["schedules"] = schedules_context(request, plan)
    return render(request, "testing/plan.html", context, status=status)


@login_required
def plan_delete_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Delete a plan (soft)."""
    plan = plan_of(request, project_id, pk, action="delete")
    return delete_page(request, plan, project=plan.project, what=_("plan"),
                       cancel_url=plan_url(plan),
                       done_url=reverse("testing:plans", args=[plan.project_id]))


@login_required
def entry_create_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Add a scenario at the end of the plan."""
    plan = plan_of(request, project_id, pk)
    require(request, PlanScenario, "create")
    if request.method != "POST":
        return redirect(f"{plan_url(plan)}#plan-entries")
    form = PlanScenarioForm(request.POST, plan=plan, instance=new_entry(plan), auto_id="add-%s")
    if form.is_valid():
        entry = form.save()
        return answer(request, plan, _("Added “%(name)s” to the plan.")
                      % {"name": entry.scenario.name})
    if is_htmx(request):
        return answer(request, plan, "", status=400, add_form=form)
    return render(request, "testing/plan_entry_form.html",
                  {"project": plan.project, "plan": plan, "form": form,
                   "title": _("Add a scenario to the plan")}, status=400)


@login_required
def entry_edit_view(request: HttpRequest, project_id, pk, entry_id) -> HttpResponse:
    """Change the dataset, environment or overrides of one scenario of the plan."""
    plan = plan_of(request, project_id, pk)
    entry = entry_of(request, plan, entry_id, "update")
    form = PlanScenarioForm(posted(request), plan=plan, instance=entry,
                            auto_id=f"edit-{entry.pk}-%s")
    if request.method == "POST" and form.is_valid():
        entry = form.save()
        return answer(request, plan, _("Saved “%(name)s” in the plan.")
                      % {"name": entry.scenario.name}, focus=entry.pk)
    status = 400 if form.errors else 200
    if is_htmx(request):
        if not form.is_bound:
            form.fields["scenario"].widget.attrs["autofocus"] = True  # the row just opened
        return render_entries(request, plan, status=status, editing=entry.pk, edit_form=form)
    return render(request, "testing/plan_entry_form.html",
                  {"project": plan.project, "plan": plan, "form": form, "entry": entry,
                   "title": _("Edit “%(name)s” in the plan") % {"name": entry.scenario.name}},
                  status=status)


@login_required
def entry_move_view(request: HttpRequest, project_id, pk, entry_id) -> HttpResponse:
    """Move one scenario of the plan up or down one place."""
    plan = plan_of(request, project_id, pk)
    entry = entry_of(request, plan, entry_id, "update")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponse(_("Say which way to move it: up or down."), status=400,
                            content_type="text/plain; charset=utf-8")
    position = move_entry(plan, entry, -1 if direction == "up" else 1)
    total = plan.entries.count()
    return answer(request, plan, _("Moved “%(name)s” to position %(position)d of %(total)d.")
                  % {"name": entry.scenario.name, "position": position, "total": total})


@login_required
def entry_delete_view(request: HttpRequest, project_id, pk, entry_id) -> HttpResponse:
    """Remove one scenario from the plan (the scenario itself stays)."""
    plan = plan_of(request, project_id, pk)
    entry = entry_of(request, plan, entry_id, "delete")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    entry.soft_delete()
    return answer(request, plan, _("Removed “%(name)s” from the plan.")
                  % {"name": entry.scenario.name})


# Schedules (issue 15, item 4). Every action is a plain form POST that goes back to the
# plan page; with htmx, adding, editing, pausing, resuming and deleting answer with the
# schedules section re-rendered in place (a refused input: 400, the section with the form,
# its field errors and what was typed).


def new_schedule(plan: TestPlan) -> PlanSchedule:
    """Return an unsaved schedule of the plan."""
    return PlanSchedule(plan=plan, project_id=plan.project_id, tenant_id=plan.tenant_id)


def schedule_of(request: HttpRequest, plan: TestPlan, pk, action: str) -> PlanSchedule:
    """Return the plan's schedule ``pk`` (404 when it is not one of them); check ``action``."""
    require(request, PlanSchedule, action)
    try:
        return get_object_or_404(PlanSchedule.objects.filter(plan=plan), pk=pk)
    except (ValueError, ValidationError):
        raise Http404 from None


def schedule_form(plan: TestPlan, schedule: PlanSchedule | None = None,
                  data=None) -> PlanScheduleForm:
    """Return the form that adds a schedule (``schedule`` None) or edits ``schedule``."""
    if schedule is None:
        return PlanScheduleForm(data, plan=plan, instance=new_schedule(plan),
                                auto_id="schedule-%s")
    return PlanScheduleForm(data, plan=plan, instance=schedule,
                            auto_id=f"schedule-{schedule.pk}-%s")


def schedules_context(request: HttpRequest, plan: TestPlan, **extra) -> dict:
    """Return what the plan's schedules section renders: each schedule with its next three
    times and its last run (two queries, whatever the number of schedules and runs)."""
    last_run = (Execution.objects.filter(schedule=OuterRef("pk"))
                .order_by("-created_at", "-id").values("pk")[:1])
    rows = list(PlanSchedule.objects.filter(plan=plan).select_related("environment")
                .annotate(last_run_id=Subquery(last_run)))
    last_runs = Execution.objects.only("id", "tenant_id", "project_id", "status").in_bulk(
        [row.last_run_id for row in rows if row.last_run_id])
    for row in rows:
        row.upcoming = row.next_times(3) if row.is_enabled else []
        row.last_run = last_runs.get(row.last_run_id)
    may_create = may(request, PlanSchedule, "create")
    return {
        "rows": rows,
        "add_form": extra.pop("add_form", None) or (schedule_form(plan) if may_create
                                                    else None),
        "may_update": may(request, PlanSchedule, "update"),
        "may_delete": may(request, PlanSchedule, "delete"),
        "may_view_runs": may(request, Execution, "view"),
        **extra,
    }


def render_schedules(request: HttpRequest, plan: TestPlan, *, live: str = "",
                     status: int = 200, **extra) -> HttpResponse:
    """Render the plan's schedules section alone (an htmx answer)."""
    return render(request, "testing/schedules/_section.html",
                  {"project": plan.project, "plan": plan,
                   "schedules": schedules_context(request, plan, **extra), "live": live},
                  status=status)


def schedule_answer(request: HttpRequest, plan: TestPlan, message: str, *,
                    status: int = 200, **extra) -> HttpResponse:
    """Answer a schedule action: the section for htmx, else the plan page with a message."""
    if is_htmx(request):
        return render_schedules(request, plan, live=message, status=status, **extra)
    if message:
        messages.success(request, message)
    return redirect(f"{plan_url(plan)}#plan-schedules")


def schedule_form_page(request: HttpRequest, plan: TestPlan, form: PlanScheduleForm,
                       title: str, status: int) -> HttpResponse:
    """Render a schedule's form alone (a GET to edit, or a refused POST without htmx)."""
    return render(request, "testing/schedules/form.html",
                  {"project": plan.project, "plan": plan, "form": form, "title": title},
                  status=status)


@login_required
def schedule_create_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Add a schedule to the plan."""
    plan = plan_of(request, project_id, pk)
    require(request, PlanSchedule, "create")
    form = schedule_form(plan, data=posted(request))
    if request.method == "POST" and form.is_valid():
        schedule = form.save()
        return schedule_answer(request, plan, _("Added the schedule “%(cron)s”.")
                               % {"cron": schedule.cron}, focus=schedule.pk)
    status = 400 if form.errors else 200
    if is_htmx(request):
        return render_schedules(request, plan, status=status, add_form=form)
    return schedule_form_page(request, plan, form, _("Add a schedule to the plan"), status)


@login_required
def schedule_edit_view(request: HttpRequest, project_id, pk, schedule_id) -> HttpResponse:
    """Change a schedule of the plan (htmx: in its row of the section)."""
    plan = plan_of(request, project_id, pk)
    schedule = schedule_of(request, plan, schedule_id, "update")
    form = schedule_form(plan, schedule, data=posted(request))
    if request.method == "POST" and form.is_valid():
        schedule = form.save()
        return schedule_answer(request, plan, _("Saved the schedule “%(cron)s”.")
                               % {"cron": schedule.cron}, focus=schedule.pk)
    status = 400 if form.errors else 200
    if is_htmx(request):
        if not form.is_bound:
            form.fields["cron"].widget.attrs["autofocus"] = True  # the row just opened
        return render_schedules(request, plan, status=status, editing=schedule.pk,
                                edit_form=form)
    return schedule_form_page(request, plan, form, _("Edit the schedule"), status)


@login_required
@require_POST
def schedule_pause_view(request: HttpRequest, project_id, pk, schedule_id, *,
                        enabled: bool) -> HttpResponse:
    """Pause (``enabled=False``) or resume a schedule of the plan.

    A full save computes ``next_due_at`` anew: none while paused, the next time from now
    once resumed (the times missed while paused are not counted as missed).
    """
    plan = plan_of(request, project_id, pk)
    schedule = schedule_of(request, plan, schedule_id, "update")
    if schedule.is_enabled != enabled:
        schedule.is_enabled = enabled
        schedule.save()
    message = (_("Resumed the schedule “%(cron)s”.") if enabled
               else _("Paused the schedule “%(cron)s”.")) % {"cron": schedule.cron}
    return schedule_answer(request, plan, message, focus=schedule.pk)


@login_required
def schedule_delete_view(request: HttpRequest, project_id, pk, schedule_id) -> HttpResponse:
    """Delete a schedule of the plan (soft): without htmx, after a page that asks first."""
    plan = plan_of(request, project_id, pk)
    schedule = schedule_of(request, plan, schedule_id, "delete")
    if not (is_htmx(request) and request.method == "POST"):
        return delete_page(request, schedule, project=plan.project, what=_("schedule"),
                           cancel_url=f"{plan_url(plan)}#plan-schedules",
                           done_url=f"{plan_url(plan)}#plan-schedules")
    try:
        schedule.soft_delete()
    except ValidationError as exc:
        message = " ".join(exc.messages)
        return render_schedules(request, plan, live=message, status=409, error=message)
    return schedule_answer(request, plan, _("Deleted the schedule “%(cron)s”.")
                           % {"cron": schedule.cron})


PLAN = "projects/<uuid:project_id>/plans/<uuid:pk>/"

urlpatterns = [
    path("projects/<uuid:project_id>/plans/", plan_list_view, name="plans"),
    path(PLAN, plan_view, name="plan"),
    path(f"{PLAN}delete/", plan_delete_view, name="plan-delete"),
    path(f"{PLAN}scenarios/new/", entry_create_view, name="plan-entry-create"),
    path(f"{PLAN}scenarios/<uuid:entry_id>/edit/", entry_edit_view, name="plan-entry-edit"),
    path(f"{PLAN}scenarios/<uuid:entry_id>/move/", entry_move_view, name="plan-entry-move"),
    path(f"{PLAN}scenarios/<uuid:entry_id>/delete/", entry_delete_view,
         name="plan-entry-delete"),
    path(f"{PLAN}schedules/new/", schedule_create_view, name="plan-schedule-create"),
    path(f"{PLAN}schedules/<uuid:schedule_id>/edit/", schedule_edit_view,
         name="plan-schedule-edit"),
    path(f"{PLAN}schedules/<uuid:schedule_id>/pause/", schedule_pause_view,
         {"enabled": False}, name="plan-schedule-pause"),
    path(f"{PLAN}schedules/<uuid:schedule_id>/resume/", schedule_pause_view,
         {"enabled": True}, name="plan-schedule-resume"),
    path(f"{PLAN}schedules/<uuid:schedule_id>/delete/", schedule_delete_view,
         name="plan-schedule-delete"),
]
