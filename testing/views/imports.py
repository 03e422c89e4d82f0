"""Importing a file into a project: upload (or paste), a preview of every item with what
the import would do and why, then one import of the chosen items (issue 15, item 1).

The upload needs ``importjob:create`` and, since the import writes interfaces, variables
and scenarios, the create codes of those; the preview and its page ``importjob:view``.
A large file is read by a worker: its preview page shows the stage and percent and htmx
polls it (``_progress.html``) until the preview is ready, then reloads the page.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from testing import importers
from testing.importers.base import DataFile, ImportFailed
from testing.models import Dataset, ImportJob, ImportStatus, Interface, Scenario, Variable
from testing.services import imports
from testing.views.common import in_project, is_htmx, project_of, require

AUTO = ""


class UploadForm(forms.Form):
    """A file, or text pasted (cURL commands are usually pasted), and its format."""

    file = forms.FileField(label=gettext_lazy("File"), required=False)
    text = forms.CharField(label=gettext_lazy("Or paste it here"), required=False,
                           strip=False, widget=forms.Textarea(attrs={
                               "rows": 8, "class": "code", "spellcheck": "false"}))
    format = forms.ChoiceField(label=gettext_lazy("Format"), required=False)
    data_file = forms.FileField(
        label=gettext_lazy("Data file (Postman collections)"), required=False,
        help_text=gettext_lazy("The CSV or JSON file newman runs the collection with (-d): "
                               "it becomes the scenario's dataset, one run per row."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = [(AUTO, _("Recognise it")),
                                         *importers.available().items()]

    def clean(self) -> dict:
        data = super().clean()
        upload, text = data.get("file"), data.get("text") or ""
        if upload is None and not text.strip():
            raise forms.ValidationError(_("Choose a file or paste its text."))
        if upload is not None and upload.size > settings.TESTING_IMPORT_MAX_BYTES:
            self.add_error("file", _("The file is %(size)d bytes; at most %(limit)d are "
                                     "imported.") % {"size": upload.size,
                                                     "limit": settings.TESTING_IMPORT_MAX_BYTES})
        rows = data.get("data_file")
        if rows is not None and rows.size > settings.TESTING_DATASET_MAX_BYTES:
            self.add_error("data_file", _("The data file is %(size)d bytes; at most %(limit)d "
                                          "are imported.") % {
                                              "size": rows.size,
                                              "limit": settings.TESTING_DATASET_MAX_BYTES})
        return data

    def content(self) -> tuple[bytes, str]:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return upload.read(), upload.name
        return self.cleaned_data["text"].encode("utf-8"), "pasted text"

    def iteration_data(self) -> DataFile | None:
        rows = self.cleaned_data.get("data_file")
        return DataFile(rows.read(), rows.name) if rows is not None else None


def require_import(request: HttpRequest, job: ImportJob | None = None) -> None:
    """Check the codes an import needs; ``dataset:create`` too when ``job`` brings data."""
    require(request, ImportJob, "create")
    for model in (Interface, Variable, Scenario):
        require(request, model, "create")
    if job is not None and imports.has_datasets(job):
        require(request, Dataset, "create")


@login_required
def import_view(request: HttpRequest, project_id) -> HttpResponse:
    """Upload or paste a file; a readable one goes on to its preview."""
    project = project_of(request, project_id)
    require_import(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data, filename = form.content()
            try:
                job = imports.upload(project, data, filename, form.cleaned_data["format"],
                                     data_file=form.iteration_data())
            except ImportFailed as exc:
                form.add_error(None, exc.text())
            else:
                return redirect("testing:import-preview", project.pk, job.pk)
        status = 400
    recent = ImportJob.objects.filter(project=project).defer("plan", "source",
                                                              "data_source")[:10]
    return render(request, "testing/imports/upload.html",
                  {"project": project, "form": form, "recent": recent,
                   "formats": importers.available()}, status=status)


@login_required
def preview_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Show what the import would do; import the chosen items (all or nothing)."""
    project = project_of(request, project_id)
    # The file a worker has yet to read is not loaded on every poll of its progress.
    job = in_project(request, project, ImportJob, pk,
                     queryset=ImportJob.objects.defer("source", "data_source"))
    job.project = project
    if not job.is_ready:
        return _waiting(request, project, job)
    if is_htmx(request) and request.GET.get("progress"):
        return HttpResponse(headers={"HX-Refresh": "true"})   # the worker finished: reload
    base_url = (request.POST.get("base_url") or "").strip()
    environment = (request.POST.get("environment") or "").strip()
    environment_url = (request.POST.get("environment_url") or "").strip()
    error = ""
    status = 200
    if request.method == "POST" and job.status == ImportStatus.PREVIEWED:
        require_import(request, job)
        if request.POST.get("action") == "import":
            chosen = set(request.POST.getlist("item"))
            try:
                imports.apply(job, chosen=chosen, base_url=base_url, environment=environment,
                              environment_url=environment_url)
            except imports.ImportRefused as exc:
                error = str(exc)
                status = 400
            else:
                done = job.result
                messages.success(request, _(
                    "Imported %(file)s: %(created)d created, %(updated)d updated, "
                    "%(removed)d removed.") % {
                        "file": job.filename, "created": len(done["create"]),
                        "updated": len(done["update"]), "removed": len(done["remove"])})
                return redirect("testing:import-preview", project.pk, job.pk)
    preview = imports.preview(job, base_url=base_url)
    chosen = (set(request.POST.getlist("item")) if request.method == "POST"
              else imports.choices_default(preview))
    return render(request, "testing/imports/preview.html", {
        "project": project, "job": job, "preview": preview, "chosen": chosen,
        "counts": preview.counts(), "problems": preview.plan.problems,
        "base_url": base_url, "environment": environment or imports.DEFAULT_ENVIRONMENT,
        "environment_url": environment_url,
        "base_urls": preview.plan.base_urls, "error": error,
        "imported": job.status == ImportStatus.IMPORTED}, status=status)


def _waiting(request: HttpRequest, project, job: ImportJob) -> HttpResponse:
    """The page of a file a worker reads (or could not): its progress, polled by htmx."""
    context = {"project": project, "job": job,
               "progress_url": f"{request.path}?progress=1"}
    if is_htmx(request):
        return render(request, "testing/imports/_progress.html", context)
    return render(request, "testing/imports/waiting.html", context)


urlpatterns = [
    path("projects/<uuid:project_id>/import/", import_view, name="import"),
    path("projects/<uuid:project_id>/import/<uuid:pk>/", preview_view, name="import-preview"),
]
