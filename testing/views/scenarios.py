"""The scenarios of a project and the scenario editor (issue 12, item 3).

The editor lists the steps in order. Each step can be moved up or down (buttons: the
keyboard's and the no-JavaScript way to reorder), enabled or disabled, duplicated,
deleted, and edited in a form generated from its keyword's parameter docs
(``testing.forms_editor.StepForm``). ``static/js/testing-editor.js`` adds drag and drop
(SortableJS, vendored) that posts the new order to ``testing:steps-order``, and htmx
swaps the list in place after every step action; without JavaScript each action is a
plain form post that redirects back to the step.

Every step is looked up through its scenario, and the scenario through the project of
the URL: a step of another scenario (or project, or tenant) is a 404 here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms.models import construct_instance
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from testing.choices import StepKind
from testing.forms_editor import (
    AddStepForm,
    NewScenarioForm,
    ScenarioForm,
    StepForm,
    apply_errors,
    quiet,
    show_loose,
    variables_of,
    variables_table,
    with_extra_row,
)
from testing.models import BuiltinKeyword, Interface, Keyword, Scenario, ScenarioStep
from testing.schemas import load
from testing.services.scenarios import duplicate_step, move_step, next_position, reorder_steps
from testing.views.common import in_project, is_htmx, may, project_of, require
from testing.views.interfaces import marked


def error_text(exc: ValidationError) -> str:
    """Return the messages of ``exc`` in one line, each naming its field when it has one."""
    if hasattr(exc, "error_dict"):
        return " ".join(f"{field}: {message}" if field != "__all__" else message
                        for field, found in exc.message_dict.items() for message in found)
    return " ".join(exc.messages)


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


@login_required
def scenario_list(request: HttpRequest, project_id) -> HttpResponse:
    """List the project's scenarios; create one (then its editor opens)."""
    project = project_of(request, project_id)
    require(request, Scenario, "view")
    can_create = may(request, Scenario, "create")
    form = NewScenarioForm() if can_create else None
    status = 200
    if request.method == "POST":
        require(request, Scenario, "create")
        scenario = Scenario(project=project, tenant_id=project.tenant_id)
        form = NewScenarioForm(request.POST, instance=scenario)
        if form.is_valid():
            construct_instance(form, scenario, fields=NewScenarioForm._meta.fields)
            try:
                scenario.full_clean()
            except ValidationError as exc:
                apply_errors(exc, form, non_field="name")
            else:
                scenario.save()
                messages.success(request, _("Scenario “%(name)s” created: add its steps.")
                                 % {"name": scenario.name})
                return redirect(scenario.get_absolute_url())
        status = 400
    scenarios = (Scenario.objects.filter(project=project)
                 .annotate(step_count=Count("steps", filter=Q(steps__is_deleted=False)))
                 .order_by("name"))
    return render(request, "testing/scenarios/list.html",
                  {"project": project, "scenarios": scenarios, "form": form}, status=status)


def editor_context(request: HttpRequest, project, scenario: Scenario) -> dict[str, Any]:
    """Return what the editor shows besides the settings form: the steps and how to add one."""
    context = steps_context(request, project, scenario)
    if may(request, ScenarioStep, "create"):
        context["add_form"] = add_step_form(project)
        context["has_interfaces"] = Interface.objects.filter(project=project).exists()
    return context


@login_required
def scenario_editor(request: HttpRequest, project_id, scenario_id) -> HttpResponse:
    """Edit a scenario: its steps, its settings, its variables and its SQL."""
    project = project_of(request, project_id)
    scenario = in_project(request, project, Scenario, scenario_id)
    can_update = may(request, Scenario, "update")
    status = 200
    if request.method == "POST":
        require(request, Scenario, "update")
        data = request.POST
        added = data.get("add_row") == "variables"
        if added:
            data = with_extra_row(data, "variables")
        form = ScenarioForm(data, instance=scenario, project=project)
        variables = variables_table(scenario, data)
        if added:
            quiet(form, variables)
        elif save_scenario(scenario, form, variables):
            messages.success(request, _("Scenario “%(name)s” saved.") % {"name": scenario.name})
            return redirect(scenario.get_absolute_url())
        else:
            status = 400
    else:
        form = ScenarioForm(instance=scenario, project=project)
        variables = variables_table(scenario)
    context = editor_context(request, project, scenario)
    context.update({"form": form, "variables": variables, "read_only": not can_update,
                    "can_delete": may(request, Scenario, "delete"),
                    "has_errors": form.is_bound and status == 400})
    return render(request, "testing/scenarios/editor.html", context, status=status)


def save_scenario(scenario: Scenario, form: ScenarioForm, variables) -> bool:
    """Set the scenario from the form and its variables table, validate, and save it."""
    valid = form.is_valid()
    valid = variables.is_valid() and valid
    if not valid:
        return False
    values = variables_of(variables)
    if values is None:
        return False
    construct_instance(form, scenario, fields=ScenarioForm._meta.fields)
    scenario.tags = form.cleaned_data["tags"]
    scenario.variables = values
    try:
        scenario.full_clean()
    except ValidationError as exc:
        apply_errors(exc, form, {"variables": variables}, non_field="name")
        return False
    scenario.save()
    return True


@login_required
@require_POST
def scenario_delete(request: HttpRequest, project_id, scenario_id) -> HttpResponse:
    """Delete a scenario no plan includes."""
    project = project_of(request, project_id)
    scenario = in_project(request, project, Scenario, scenario_id, action="delete")
    try:
        scenario.soft_delete()
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect(scenario.get_absolute_url())
    messages.success(request, _("Scenario “%(name)s” deleted.") % {"name": scenario.name})
    return redirect("testing:scenarios", project.pk)


# ---------------------------------------------------------------------------
# The list of steps
# ---------------------------------------------------------------------------


def summary_of(step: ScenarioStep) -> str:
    """Return what the step does in one line: the request it sends, or its parameters."""
    if step.kind == StepKind.INTERFACE and step.interface_id:
        text = f"{step.interface.method} {step.interface.url}"
    elif step.kind == StepKind.REQUEST and isinstance(step.parameters, dict):
        text = f"{step.parameters.get('method', '')} {step.parameters.get('url', '')}"
    else:
        text = ""
    parameters = step.parameters if isinstance(step.parameters, dict) else {}
    extra = {k: v for k, v in parameters.items()
             if step.kind != StepKind.REQUEST or k not in ("method", "url")}
    if extra:
        listed = ", ".join(f"{name}={show_loose(value)}" for name, value in extra.items())
        text = f"{text} · {listed}" if text else listed
    return text if len(text) <= 160 else text[:157] + "…"


def kind_label(step: ScenarioStep) -> str:
    """Return the kind of the step as a reader calls it."""
    if step.kind == StepKind.KEYWORD:
        return _("Built-in keyword") if step.builtin_keyword_id else _("Keyword")
    return step.get_kind_display()


def steps_context(request: HttpRequest, project, scenario: Scenario, **extra: Any) -> dict:
    """Return the context of the list of steps (``_steps.html``)."""
    steps = list(scenario.steps.select_related("interface", "keyword", "builtin_keyword"))
    rows = [{"step": step, "number": index, "kind": kind_label(step),
             "summary": marked(summary_of(step))}
            for index, step in enumerate(steps, start=1)]
    return {
        "project": project,
        "scenario": scenario,
        "rows": rows,
        "count": len(rows),
        "can_steps": {
            "create": may(request, ScenarioStep, "create"),
            "update": may(request, ScenarioStep, "update"),
            "delete": may(request, ScenarioStep, "delete"),
        },
        **extra,
    }


def steps_answer(request: HttpRequest, project, scenario: Scenario, *, step=None,
                 error: str = "", announce: str = "", status: int = 200) -> HttpResponse:
    """Answer a step action: the list alone (htmx, the script), or back to the editor."""
    if is_htmx(request):
        context = steps_context(request, project, scenario, error=error, announce=announce)
        return render(request, "testing/scenarios/_steps.html", context, status=status)
    if error:
        messages.error(request, error)
    elif announce:
        messages.success(request, announce)
    anchor = f"#step-{step.pk}" if step is not None and not step.is_deleted else "#steps"
    return redirect(scenario.get_absolute_url() + anchor)


def scenario_of(request: HttpRequest, project_id, scenario_id) -> tuple[Any, Scenario]:
    """Return the project and scenario of the URL (404 outside the user's reach)."""
    project = project_of(request, project_id)
    return project, in_project(request, project, Scenario, scenario_id)


def step_of(request: HttpRequest, scenario: Scenario, step_id, action: str) -> ScenarioStep:
    """Return the step ``step_id`` of ``scenario`` (404 for a step of any other scenario)."""
    require(request, ScenarioStep, action)
    try:
        return get_object_or_404(ScenarioStep.objects.filter(scenario=scenario), pk=step_id)
    except (ValueError, ValidationError):
        raise Http404 from None


@login_required
@require_POST
def steps_order(request: HttpRequest, project_id, scenario_id) -> HttpResponse:
    """Put the steps in the posted order (``step`` repeated: every step once)."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    require(request, ScenarioStep, "update")
    try:
        reorder_steps(scenario, request.POST.getlist("step"))
    except ValidationError as exc:
        return steps_answer(request, project, scenario, error=error_text(exc), status=409)
    return steps_answer(request, project, scenario, announce=_("Order of the steps saved."))


@login_required
@require_POST
def step_move(request: HttpRequest, project_id, scenario_id, step_id) -> HttpResponse:
    """Move a step one place up or down (``direction``)."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    step = step_of(request, scenario, step_id, "update")
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return steps_answer(request, project, scenario, step=step, status=400,
                            error=_("direction: choose up or down."))
    order = move_step(step, -1 if direction == "up" else 1)
    position = [str(s.pk) for s in order].index(str(step.pk)) + 1
    return steps_answer(request, project, scenario, step=step, announce=_(
        "“%(title)s” is now step %(position)d of %(count)d.")
        % {"title": step.title, "position": position, "count": len(order)})


@login_required
@require_POST
def step_toggle(request: HttpRequest, project_id, scenario_id, step_id) -> HttpResponse:
    """Enable a disabled step, or disable an enabled one (a disabled step is skipped)."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    step = step_of(request, scenario, step_id, "update")
    step.is_enabled = not step.is_enabled
    step.save(update_fields=["is_enabled"])
    text = (_("“%(title)s” enabled.") if step.is_enabled
            else _("“%(title)s” disabled: runs skip it."))
    return steps_answer(request, project, scenario, step=step,
                        announce=text % {"title": step.title})


@login_required
@require_POST
def step_duplicate(request: HttpRequest, project_id, scenario_id, step_id) -> HttpResponse:
    """Insert a copy of a step right after it."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    step = step_of(request, scenario, step_id, "create")
    try:
        copy = duplicate_step(step)
    except ValidationError as exc:
        return steps_answer(request, project, scenario, step=step, error=error_text(exc),
                            status=400)
    return steps_answer(request, project, scenario, step=copy,
                        announce=_("“%(title)s” duplicated.") % {"title": step.title})


@login_required
@require_POST
def step_delete(request: HttpRequest, project_id, scenario_id, step_id) -> HttpResponse:
    """Delete a step."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    step = step_of(request, scenario, step_id, "delete")
    step.soft_delete()
    return steps_answer(request, project, scenario,
                        announce=_("“%(title)s” deleted.") % {"title": step.title})


# ---------------------------------------------------------------------------
# Adding and editing a step
# ---------------------------------------------------------------------------


def add_step_form(project, data=None) -> AddStepForm:
    """Return the choice of what a new step runs."""
    return AddStepForm(
        data, project=project,
        interfaces=list(Interface.objects.filter(project=project).order_by("name")),
        keywords=list(Keyword.objects.filter(project=project, is_enabled=True)),
        builtins=list(BuiltinKeyword.objects.filter(is_active=True)),
    )


def new_step(project, scenario: Scenario, source: str) -> ScenarioStep | None:
    """Return an unsaved step running ``source`` (``kind:reference``), or ``None``."""
    kind, _sep, reference = (source or "").partition(":")
    step = ScenarioStep(scenario=scenario, tenant_id=scenario.tenant_id, parameters={})
    try:
        if kind == "interface":
            step.kind = StepKind.INTERFACE
            step.interface = Interface.objects.filter(project=project, pk=reference).first()
            found = step.interface
        elif kind == "builtin":
            step.kind = StepKind.KEYWORD
            step.builtin_keyword = BuiltinKeyword.objects.filter(code=reference,
                                                                 is_active=True).first()
            found = step.builtin_keyword
        elif kind == "keyword":
            step.kind = StepKind.KEYWORD
            step.keyword = Keyword.objects.filter(project=project, pk=reference,
                                                  is_enabled=True).first()
            found = step.keyword
        elif kind == "request":
            step.kind = StepKind.REQUEST
            found = True
        else:
            found = None
    except (ValueError, ValidationError):  # not a UUID
        found = None
    return step if found else None


def schema_of(step: ScenarioStep) -> dict:
    """Return the JSON Schema of the step's parameters (from which its form is made)."""
    if step.kind == StepKind.INTERFACE:
        return load("interface_step")
    if step.kind == StepKind.REQUEST:
        return load("request")
    definition = step.keyword_definition
    return definition.parameters if definition is not None else {}


def source_of(step: ScenarioStep) -> str:
    """Return the ``kind:reference`` of what ``step`` runs."""
    if step.kind == StepKind.INTERFACE:
        return f"interface:{step.interface_id}"
    if step.builtin_keyword_id:
        return f"builtin:{step.builtin_keyword.code}"
    if step.keyword_id:
        return f"keyword:{step.keyword_id}"
    return "request:"


def step_page(request: HttpRequest, project, scenario, step, form, *, status=200,
              is_new=False) -> HttpResponse:
    """Render the form of one step."""
    definition = step.keyword_definition
    return render(request, "testing/scenarios/step.html", {
        "project": project, "scenario": scenario, "step": step, "form": form, "is_new": is_new,
        "source": source_of(step), "definition": definition,
        "read_only": not may(request, ScenarioStep, "create" if is_new else "update"),
    }, status=status)


def save_step(step: ScenarioStep, form: StepForm) -> bool:
    """Set the step from its form, validate it whole, and save it."""
    if not form.is_valid():
        return False
    step.description = form.cleaned_data["description"]
    step.is_enabled = form.cleaned_data["is_enabled"]
    step.retries = form.cleaned_data.get("retries") or 0
    step.parameters = form.parameters()
    try:
        step.full_clean()
    except ValidationError as exc:
        found = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        form.apply_parameter_errors(found.pop("parameters", []))
        for field, messages_ in found.items():
            for message in messages_:
                form.add_error(field if field in form.fields else None,
                               message if field in form.fields or field == "__all__"
                               else f"{field}: {message}")
        return False
    step.save()
    return True


@login_required
def step_new(request: HttpRequest, project_id, scenario_id) -> HttpResponse:
    """Add a step: at once when it needs no parameters, else after its form."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    require(request, ScenarioStep, "create")
    data = request.POST if request.method == "POST" else request.GET
    step = new_step(project, scenario, data.get("source", ""))
    if step is None:
        form = add_step_form(project, data)
        form.is_valid()
        if not form.errors:
            form.add_error("source", _("Choose what the step runs."))
        context = editor_context(request, project, scenario)
        context.update({"form": ScenarioForm(instance=scenario, project=project),
                        "variables": variables_table(scenario), "add_form": form,
                        "read_only": not may(request, Scenario, "update"),
                        "can_delete": may(request, Scenario, "delete")})
        return render(request, "testing/scenarios/editor.html", context, status=400)
    step.sort_order = next_position(scenario)
    schema = schema_of(step)
    if request.method == "POST" and request.POST.get("quick"):
        # From the editor's "Add a step": no form to fill when nothing is required.
        if not schema.get("required"):
            try:
                step.full_clean()
            except ValidationError as exc:
                messages.error(request, error_text(exc))
                return redirect(scenario.get_absolute_url() + "#add-step")
            step.save()
            messages.success(request, _("Step “%(title)s” added.") % {"title": step.title})
            return redirect(scenario.get_absolute_url() + f"#step-{step.pk}")
        return step_page(request, project, scenario, step, StepForm(schema=schema), is_new=True)
    if request.method != "POST":
        return step_page(request, project, scenario, step, StepForm(schema=schema), is_new=True)
    form = StepForm(request.POST, schema=schema)
    if save_step(step, form):
        messages.success(request, _("Step “%(title)s” added.") % {"title": step.title})
        return redirect(scenario.get_absolute_url() + f"#step-{step.pk}")
    return step_page(request, project, scenario, step, form, status=400, is_new=True)


@login_required
def step_edit(request: HttpRequest, project_id, scenario_id, step_id) -> HttpResponse:
    """Edit a step's description, enabled flag and parameters."""
    project, scenario = scenario_of(request, project_id, scenario_id)
    step = step_of(request, scenario, step_id, "view" if request.method != "POST" else "update")
    schema = schema_of(step)
    if request.method != "POST":
        form = StepForm(schema=schema, parameters=step.parameters,
                        initial={"description": step.description,
                                 "is_enabled": step.is_enabled, "retries": step.retries})
        return step_page(request, project, scenario, step, form)
    form = StepForm(request.POST, schema=schema)
    if save_step(step, form):
        messages.success(request, _("Step “%(title)s” saved.") % {"title": step.title})
        return redirect(scenario.get_absolute_url() + f"#step-{step.pk}")
    return step_page(request, project, scenario, step, form, status=400)


def step_url(name: str) -> str:
    """Return the route of a step action ``name`` under its scenario."""
    return f"projects/<uuid:project_id>/scenarios/<uuid:scenario_id>/steps/<uuid:step_id>/{name}"


urlpatterns = [
    path("projects/<uuid:project_id>/scenarios/", scenario_list, name="scenarios"),
    path("projects/<uuid:project_id>/scenarios/<uuid:scenario_id>/", scenario_editor,
         name="scenario"),
    path("projects/<uuid:project_id>/scenarios/<uuid:scenario_id>/delete/", scenario_delete,
         name="scenario-delete"),
    path("projects/<uuid:project_id>/scenarios/<uuid:scenario_id>/steps/new/", step_new,
         name="step-new"),
    path("projects/<uuid:project_id>/scenarios/<uuid:scenario_id>/steps/order/", steps_order,
         name="steps-order"),
    path(step_url(""), step_edit, name="step"),
    path(step_url("move/"), step_move, name="step-move"),
    path(step_url("toggle/"), step_toggle, name="step-toggle"),
    path(step_url("duplicate/"), step_duplicate, name="step-duplicate"),
    path(step_url("delete/"), step_delete, name="step-delete"),
]
