"""A project's database configurations (seed 001 section 3.3) and their "test connection".

The password is write-only: typed into a password input that is never filled, sealed at
rest, and never rendered. "Test connection" is a POST (it connects, under the tenant's
network policy, and records the outcome on the row); with htmx its answer replaces the
row's status in place, without htmx the page reloads with the outcome in a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from testing.choices import ConnectionStatus
from testing.forms import DatabaseConfigForm
from testing.models import DatabaseConfig, Project
from testing.services.databases import check_connection
from testing.views.common import delete_page, in_project, is_htmx, may, posted, project_of, require


def page_url(project: Project) -> str:
    """Return the project's databases page."""
    return reverse("testing:databases", args=[project.pk])


def new_config(project: Project) -> DatabaseConfig:
    """Return an unsaved configuration of ``project``."""
    return DatabaseConfig(project=project, tenant_id=project.tenant_id)


@login_required
def database_list_view(request: HttpRequest, project_id) -> HttpResponse:
    """List the project's databases with their connection status; add one."""
    project = project_of(request, project_id)
    require(request, DatabaseConfig, "view")
    return render(request, "testing/databases.html", {
        "project": project,
        "configs": DatabaseConfig.objects.filter(project=project),
        "form": DatabaseConfigForm(instance=new_config(project), auto_id="db-%s")
        if may(request, DatabaseConfig, "create") else None,
        "may_update": may(request, DatabaseConfig, "update"),
        "may_delete": may(request, DatabaseConfig, "delete"),
    })


@login_required
def database_create_view(request: HttpRequest, project_id) -> HttpResponse:
    """Add a database to the project."""
    project = project_of(request, project_id)
    require(request, DatabaseConfig, "create")
    form = DatabaseConfigForm(posted(request), instance=new_config(project), auto_id="db-%s")
    if request.method == "POST" and form.is_valid():
        config = form.save()
        messages.success(request, _("Added the database “%(name)s”. Test its connection to "
                                    "check the settings.") % {"name": config.name})
        return redirect(page_url(project))
    return render(request, "testing/database_form.html",
                  {"project": project, "form": form, "title": _("New database")},
                  status=400 if form.errors else 200)


@login_required
def database_edit_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Change a database's settings; the password only when a new one is typed."""
    project = project_of(request, project_id)
    config = in_project(request, project, DatabaseConfig, pk, action="update")
    form = DatabaseConfigForm(posted(request), instance=config, auto_id="db-%s")
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved the database “%(name)s”.") % {"name": config.name})
        return redirect(page_url(project))
    return render(request, "testing/database_form.html",
                  {"project": project, "form": form, "config": config,
                   "title": _("Edit database")},
                  status=400 if form.errors else 200)


@login_required
def database_delete_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Delete a database configuration (refused while scenarios run their SQL on it)."""
    project = project_of(request, project_id)
    config = in_project(request, project, DatabaseConfig, pk, action="delete")
    return delete_page(request, config, project=project, what=_("database"),
                       cancel_url=page_url(project), done_url=page_url(project))


@login_required
def database_test_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Connect to the database once and record the outcome (needs the update code: the
    outcome is written on the row)."""
    project = project_of(request, project_id)
    config = in_project(request, project, DatabaseConfig, pk, action="update")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    config = check_connection(config)
    if is_htmx(request):
        return render(request, "testing/_database_status.html",
                      {"config": config})
    if config.connection_status == ConnectionStatus.CONNECTED:
        messages.success(request, _("%(name)s: %(reason)s")
                         % {"name": config.name, "reason": config.status_message})
    else:
        messages.error(request, _("%(name)s: the connection failed. %(reason)s")
                       % {"name": config.name, "reason": config.status_message})
    return redirect(page_url(project))


urlpatterns = [
    path("projects/<uuid:project_id>/databases/", database_list_view, name="databases"),
    path("projects/<uuid:project_id>/databases/new/", database_create_view,
         name="database-create"),
    path("projects/<uuid:project_id>/databases/<uuid:pk>/edit/", database_edit_view,
         name="database-edit"),
    path("projects/<uuid:project_id>/databases/<uuid:pk>/delete/", database_delete_view,
         name="database-delete"),
    path("projects/<uuid:project_id>/databases/<uuid:pk>/test/", database_test_view,
         name="database-test"),
]
