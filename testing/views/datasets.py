"""A project's datasets (seed 001 section 3.11): CSV pasted or uploaded, previewed before
saving, with errors naming the line (from the model's validation).

An uploaded file's text is put into the text area once read, so a preview can be saved,
or an error fixed, without uploading the file again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from testing.forms import DatasetForm
from testing.models import Dataset, DatasetError, Project, parse_csv
from testing.views.common import delete_page, in_project, may, project_of, require

PREVIEW_ROWS = 20


def page_url(project: Project) -> str:
    """Return the project's datasets page."""
    return reverse("testing:datasets", args=[project.pk])


def preview_of(text: str) -> dict:
    """Return the header, the first rows and the row count of ``text``, or the error."""
    try:
        header, rows = parse_csv(text)
    except DatasetError as exc:
        return {"error": str(exc)}
    return {"header": header, "rows": rows[:PREVIEW_ROWS], "count": len(rows)}


def bind(request: HttpRequest, project: Project, instance: Dataset) -> DatasetForm:
    """Return the form bound to the POST, with an uploaded file's text in the text area."""
    form = DatasetForm(request.POST, request.FILES, instance=instance, project=project)
    form.is_valid()
    if form.uploaded_text and "csv_file" not in form.errors:
        data = request.POST.copy()
        data["csv_data"] = form.uploaded_text
        form = DatasetForm(data, instance=instance, project=project)
        form.is_valid()
    return form


def edit(request: HttpRequest, project: Project, instance: Dataset, *,
         template_context: dict) -> HttpResponse:
    """Handle the dataset form: preview (not saved) or save; re-render with the errors."""
    form = bind(request, project, instance)
    if form.is_valid() and request.POST.get("action") != "preview":
        dataset = form.save()
        messages.success(request, _("Saved the dataset “%(name)s”.") % {"name": dataset})
        return redirect("testing:dataset", project.pk, dataset.pk)
    preview = preview_of(form.cleaned_data["csv_data"]) if form.is_valid() else None
    return render(request, "testing/dataset.html",
                  {**template_context, "project": project, "form": form, "preview": preview,
                   "previewing": preview is not None},
                  status=400 if form.errors else 200)


@login_required
def dataset_list_view(request: HttpRequest, project_id) -> HttpResponse:
    """List the project's datasets."""
    project = project_of(request, project_id)
    require(request, Dataset, "view")
    return render(request, "testing/datasets.html", {
        "project": project,
        "datasets": Dataset.objects.filter(project=project).select_related("scenario"),
        "may_create": may(request, Dataset, "create"),
        "may_delete": may(request, Dataset, "delete"),
    })


@login_required
def dataset_create_view(request: HttpRequest, project_id) -> HttpResponse:
    """Add a dataset: paste or upload, preview, save."""
    project = project_of(request, project_id)
    require(request, Dataset, "create")
    instance = Dataset(project=project, tenant_id=project.tenant_id)
    context = {"title": _("New dataset")}
    if request.method == "POST":
        return edit(request, project, instance, template_context=context)
    return render(request, "testing/dataset.html", {
        **context, "project": project, "form": DatasetForm(instance=instance, project=project),
    })


@login_required
def dataset_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Show a dataset's first rows; change it (POST, with the update code)."""
    project = project_of(request, project_id)
    dataset = in_project(request, project, Dataset, pk,
                         queryset=Dataset.objects.select_related("scenario"))
    context = {"title": dataset.name, "dataset": dataset, "stored": preview_of(dataset.csv_data),
               "may_update": may(request, Dataset, "update"),
               "may_delete": may(request, Dataset, "delete")}
    if request.method == "POST":
        require(request, Dataset, "update")
        return edit(request, project, dataset, template_context=context)
    form = DatasetForm(instance=dataset, project=project) if context["may_update"] else None
    return render(request, "testing/dataset.html", {**context, "project": project, "form": form})


@login_required
def dataset_delete_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Delete a dataset (plans that chose it fall back to none)."""
    project = project_of(request, project_id)
    dataset = in_project(request, project, Dataset, pk, action="delete")
    return delete_page(request, dataset, project=project, what=_("dataset"),
                       cancel_url=reverse("testing:dataset", args=[project.pk, dataset.pk]),
                       done_url=page_url(project))


urlpatterns = [
    path("projects/<uuid:project_id>/datasets/", dataset_list_view, name="datasets"),
    path("projects/<uuid:project_id>/datasets/new/", dataset_create_view,
         name="dataset-create"),
    path("projects/<uuid:project_id>/datasets/<uuid:pk>/", dataset_view, name="dataset"),
    path("projects/<uuid:project_id>/datasets/<uuid:pk>/delete/", dataset_delete_view,
         name="dataset-delete"),
]
