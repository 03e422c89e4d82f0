"""The projects of the tenant (list and create) and one project's dashboard, edit and
delete pages (issue 12, item 3).

Projects are read through ``visible_projects`` (the tenant's fail-closed manager and the
user's data scope): another tenant's project, or one outside the scope, is 404.
``delete_page`` is the confirm-then-delete flow every area of the tester pages shares.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from testing import selectors
from testing.forms import ProjectForm
from testing.models import (
    DatabaseConfig,
    Dataset,
    Environment,
    Execution,
    Interface,
    Keyword,
    Project,
    Scenario,
    TestPlan,
)
from testing.views.common import (
    delete_page,
    may,
    posted,
    project_of,
    require,
    visible_projects,
)

PAGE_SIZE = 50

# What the dashboard counts: (model, URL name of its page, label).
DASHBOARD = (
    (Interface, "testing:interfaces", gettext_lazy("Interfaces")),
    (Scenario, "testing:scenarios", gettext_lazy("Scenarios")),
    (TestPlan, "testing:plans", gettext_lazy("Plans")),
    (Dataset, "testing:datasets", gettext_lazy("Datasets")),
    (Environment, "testing:environments", gettext_lazy("Environments")),
    (DatabaseConfig, "testing:databases", gettext_lazy("Databases")),
    (Keyword, "testing:keywords", gettext_lazy("Keywords")),
)


@login_required
def project_list_view(request: HttpRequest) -> HttpResponse:
    """List the projects the user may see; create one (POST)."""
    require(request, Project, "view")
    form, status = None, 200
    if request.method == "POST":
        require(request, Project, "create")
        form = ProjectForm(request.POST, instance=Project(tenant_id=request.user.tenant_id))
        if form.is_valid():
            project = form.save()
            messages.success(request, _("Created the project “%(name)s”.") % {"name": project})
            return redirect(project)
        status = 400
    elif may(request, Project, "create"):
        form = ProjectForm()
    page = Paginator(visible_projects(request).order_by("name"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "testing/projects.html", {"page_obj": page, "form": form},
                  status=status)


@login_required
def project_view(request: HttpRequest, project_id) -> HttpResponse:
    """Show a project's dashboard: what it holds, and where its runs will appear."""
    project = project_of(request, project_id)
    counts = [
        {"label": label, "url_name": url_name,
         "count": model.objects.filter(project=project).count()}
        for model, url_name, label in DASHBOARD if may(request, model, "view")
    ]
    may_runs = may(request, Execution, "view")
    return render(request, "testing/project.html", {
        "project": project,
        "counts": counts,
        "trends": selectors.plan_trends(project) if may_runs else [],
        "unsteady": selectors.unsteady_steps(project) if may_runs else [],
        "is_empty": not any(item["count"] for item in counts),
        "may_edit": may(request, Project, "update"),
        "may_delete": may(request, Project, "delete"),
    })


@login_required
def project_edit_view(request: HttpRequest, project_id) -> HttpResponse:
    """Rename a project or change its description."""
    project = project_of(request, project_id)
    require(request, Project, "update")
    form = ProjectForm(posted(request), instance=project)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, _("Saved the project."))
            return redirect(project)
    return render(request, "testing/project_form.html", {"project": project, "form": form},
                  status=400 if form.errors else 200)


@login_required
def project_delete_view(request: HttpRequest, project_id) -> HttpResponse:
    """Delete a project (soft: an administrator can restore it with everything in it)."""
    project = project_of(request, project_id)
    require(request, Project, "delete")
    return delete_page(request, project, project=project, what=_("project"),
                       cancel_url=project.get_absolute_url(),
                       done_url=reverse("testing:projects"))


urlpatterns = [
    path("", project_list_view, name="projects"),
    path("projects/<uuid:project_id>/", project_view, name="project"),
    path("projects/<uuid:project_id>/edit/", project_edit_view, name="project-edit"),
    path("projects/<uuid:project_id>/delete/", project_delete_view, name="project-delete"),
]
