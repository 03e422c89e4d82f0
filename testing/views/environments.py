"""A project's environments and variables: the project's global variables, then each
environment with its base URL and its own variables (seed 001 sections 3.6 and 3.7).

Every form works as a plain POST; with htmx, adding and editing a variable happen inline:
the answer is the variables section of its environment (or of the globals), re-rendered.
A secret variable shows a mask; its value is write-only and never rendered.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from testing.forms import EnvironmentForm, VariableForm
from testing.models import Environment, Project, Variable
from testing.views.common import delete_page, in_project, is_htmx, may, posted, project_of, require

GLOBAL = "global"


def page_url(project: Project, scope: str | None = None) -> str:
    """Return the environments page, at the variables section of ``scope`` if given."""
    url = reverse("testing:environments", args=[project.pk])
    return f"{url}#vars-{scope}" if scope else url


def scope_of(environment_id) -> str:
    """Return the section key of an environment id (``global`` for the project's globals)."""
    return str(environment_id) if environment_id else GLOBAL


def add_form(project: Project, environment: Environment | None, data=None) -> VariableForm:
    """Return the form that adds a variable to ``environment`` (or a global)."""
    scope = scope_of(environment.pk if environment else None)
    return VariableForm(data, project=project, auto_id=f"add-{scope}-%s",
                        instance=Variable(project=project, tenant_id=project.tenant_id),
                        initial={"environment": environment.pk if environment else None})


def section_context(request: HttpRequest, project: Project, environment: Environment | None,
                    variables=None, **extra) -> dict:
    """Return what the variables section of ``environment`` (or the globals) renders."""
    if variables is None:
        variables = Variable.objects.filter(project=project, environment=environment)
    return {
        "project": project,
        "environment": environment,
        "scope": scope_of(environment.pk if environment else None),
        "variables": variables,
        "add_form": add_form(project, environment) if may(request, Variable, "create") else None,
        "may_update": may(request, Variable, "update"),
        "may_delete": may(request, Variable, "delete"),
        **extra,
    }


def render_section(request: HttpRequest, project: Project, environment: Environment | None,
                   *, status: int = 200, **extra) -> HttpResponse:
    """Answer an htmx request with the variables section of ``environment``."""
    live, focus_add = extra.pop("live", None), extra.pop("focus_add", False)
    section = section_context(request, project, environment, **extra)
    if focus_add and section["add_form"] is not None:
        section["add_form"].fields["name"].widget.attrs["autofocus"] = True
    return render(request, "testing/_variables.html",
                  {"project": project, "section": section, "live": live}, status=status)


@login_required
def environment_list_view(request: HttpRequest, project_id) -> HttpResponse:
    """Show the project's global variables, then each environment with its variables."""
    project = project_of(request, project_id)
    require(request, Environment, "view")
    environments = list(Environment.objects.filter(project=project))
    by_scope: dict[str, list[Variable]] = {}
    if may(request, Variable, "view"):
        for variable in Variable.objects.filter(project=project):
            by_scope.setdefault(scope_of(variable.environment_id), []).append(variable)
    sections = [section_context(request, project, None, by_scope.get(GLOBAL, []))]
    sections += [section_context(request, project, env, by_scope.get(str(env.pk), []))
                 for env in environments]
    return render(request, "testing/environments.html", {
        "project": project,
        "globals_section": sections[0],
        "environments": list(zip(environments, sections[1:], strict=True)),
        "may_view_variables": may(request, Variable, "view"),
        "environment_form": (EnvironmentForm(auto_id="env-%s")
                             if may(request, Environment, "create") else None),
        "may_update": may(request, Environment, "update"),
        "may_delete": may(request, Environment, "delete"),
    })


@login_required
def environment_create_view(request: HttpRequest, project_id) -> HttpResponse:
    """Add an environment to the project."""
    project = project_of(request, project_id)
    require(request, Environment, "create")
    form = EnvironmentForm(posted(request), auto_id="env-%s",
                           instance=Environment(project=project, tenant_id=project.tenant_id))
    if request.method == "POST" and form.is_valid():
        environment = form.save()
        messages.success(request, _("Added the environment “%(name)s”.") % {"name": environment})
        return redirect(page_url(project, str(environment.pk)))
    return render(request, "testing/environment_form.html",
                  {"project": project, "form": form, "title": _("New environment")},
                  status=400 if form.errors else 200)


@login_required
def environment_edit_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Change an environment's name, base URL or description."""
    project = project_of(request, project_id)
    environment = in_project(request, project, Environment, pk, action="update")
    form = EnvironmentForm(posted(request), instance=environment, auto_id="env-%s")
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved the environment “%(name)s”.") % {"name": environment})
        return redirect(page_url(project, str(environment.pk)))
    return render(request, "testing/environment_form.html",
                  {"project": project, "form": form, "environment": environment,
                   "title": _("Edit environment")},
                  status=400 if form.errors else 200)


@login_required
def environment_delete_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Delete an environment with its variables (soft: an administrator can restore it)."""
    project = project_of(request, project_id)
    environment = in_project(request, project, Environment, pk, action="delete")
    return delete_page(request, environment, project=project, what=_("environment"),
                       cancel_url=page_url(project), done_url=page_url(project))


def environment_of(project: Project, environment_id) -> Environment | None:
    """Return the project's environment ``environment_id``; ``None`` for a global, or for
    an id that is not one (the form then names the error on its environment field)."""
    if not environment_id:
        return None
    try:
        return Environment.objects.get(project=project, pk=environment_id)
    except (Environment.DoesNotExist, ValidationError, ValueError):
        return None


@login_required
def variable_create_view(request: HttpRequest, project_id) -> HttpResponse:
    """Add a variable to an environment, or a global one (no environment)."""
    project = project_of(request, project_id)
    require(request, Variable, "create")
    source = request.POST if request.method == "POST" else request.GET
    environment = environment_of(project, source.get("environment"))
    form = add_form(project, environment, posted(request))
    if request.method == "POST":
        if form.is_valid():
            variable = form.save()
            scope = scope_of(variable.environment_id)
            message = _("Added the variable “%(name)s”.") % {"name": variable}
            if is_htmx(request):
                return render_section(request, project, variable.environment, live=message,
                                      focus_add=True)
            messages.success(request, message)
            return redirect(page_url(project, scope))
        if is_htmx(request):
            return render_section(request, project, environment, add_form=form, status=400)
    return render(request, "testing/variable_form.html",
                  {"project": project, "form": form, "title": _("New variable")},
                  status=400 if form.errors else 200)


@login_required
def variable_edit_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Change a variable; a secret one's value is replaced only when a new one is typed."""
    project = project_of(request, project_id)
    variable = in_project(request, project, Variable, pk, action="update",
                          queryset=Variable.objects.select_related("environment"))
    before = variable.environment
    form = VariableForm(posted(request), instance=variable, project=project,
                        auto_id=f"edit-{variable.pk}-%s")
    if request.method == "POST" and form.is_valid():
        variable = form.save()
        message = _("Saved the variable “%(name)s”.") % {"name": variable}
        if is_htmx(request):
            return render_section(request, project, variable.environment, live=message,
                                  focus=variable.pk)
        messages.success(request, message)
        return redirect(page_url(project, scope_of(variable.environment_id)))
    if is_htmx(request):
        if not form.is_bound:
            form.fields["name"].widget.attrs["autofocus"] = True  # the row just opened
        return render_section(request, project, before, editing=variable.pk, edit_form=form,
                              status=400 if form.errors else 200)
    return render(request, "testing/variable_form.html",
                  {"project": project, "form": form, "variable": variable,
                   "title": _("Edit variable")},
                  status=400 if form.errors else 200)


@login_required
def variable_delete_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Delete a variable (soft)."""
    project = project_of(request, project_id)
    variable = in_project(request, project, Variable, pk, action="delete")
    back = page_url(project, scope_of(variable.environment_id))
    return delete_page(request, variable, project=project, what=_("variable"),
                       cancel_url=back, done_url=back)


ROOT = "projects/<uuid:project_id>/environments/"

# A variable's value may be a secret being written: the operation log keeps none of them.
variable_create_view.log_masked_fields = variable_edit_view.log_masked_fields = ("value",)

urlpatterns = [
    path(ROOT, environment_list_view, name="environments"),
    path(f"{ROOT}new/", environment_create_view, name="environment-create"),
    path(f"{ROOT}<uuid:pk>/edit/", environment_edit_view, name="environment-edit"),
    path(f"{ROOT}<uuid:pk>/delete/", environment_delete_view, name="environment-delete"),
    path(f"{ROOT}variables/new/", variable_create_view, name="variable-create"),
    path(f"{ROOT}variables/<uuid:pk>/edit/", variable_edit_view, name="variable-edit"),
    path(f"{ROOT}variables/<uuid:pk>/delete/", variable_delete_view,
         name="variable-delete"),
]
