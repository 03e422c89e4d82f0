"""Importing a file into a project: upload (or paste), a preview of every item with what
the import would do and why, then one import of the chosen items (issue 15, item 1).

The upload needs ``importjob:create`` and, since the import writes interfaces, variables
and scenarios, the create codes of those; the preview and its page ``importjob:view``.
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
from testing.importers.base import ImportFailed
from testing.models import ImportJob, ImportStatus, Interface, Scenario, Variable
from testing.services import imports
from testing.views.common import in_project, project_of, require

AUTO = ""


class UploadForm(forms.Form):
    """A file, or text pasted (cURL commands are usually pasted), and its format."""

    file = forms.FileField(label=gettext_lazy("File"), required=False)
    text = forms.CharField(label=gettext_lazy("Or paste it here"), required=False,
                           strip=False, widget=forms.Textarea(attrs={
                               "rows": 8, "class": "code", "spellcheck": "false"}))
    format = forms.ChoiceField(label=gettext_lazy("Format"), required=False)

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
        return data

    def content(self) -> tuple[bytes, str]:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return upload.read(), upload.name
        return self.cleaned_data["text"].encode("utf-8"), "pasted text"


def require_import(request: HttpRequest) -> None:
    require(request, ImportJob, "create")
    for model in (Interface, Variable, Scenario):
        require(request, model, "create")


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
                job = imports.upload(project, data, filename, form.cleaned_data["format"])
            except ImportFailed as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("testing:import-preview", project.pk, job.pk)
        status = 400
    recent = ImportJob.objects.filter(project=project).defer("plan")[:10]
    return render(request, "testing/imports/upload.html",
                  {"project": project, "form": form, "recent": recent,
                   "formats": importers.available()}, status=status)


@login_required
def preview_view(request: HttpRequest, project_id, pk) -> HttpResponse:
    """Show what the import would do; import the chosen items (all or nothing)."""
    project = project_of(request, project_id)
    job = in_project(request, project, ImportJob, pk)
    job.project = project
    base_url = (request.POST.get("base_url") or "").strip()
    environment = (request.POST.get("environment") or "").strip()
    environment_url = (request.POST.get("environment_url") or "").strip()
    error = ""
    status = 200
    if request.method == "POST" and job.status == ImportStatus.PREVIEWED:
        require_import(request)
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


urlpatterns = [
    path("projects/<uuid:project_id>/import/", import_view, name="import"),
    path("projects/<uuid:project_id>/import/<uuid:pk>/", preview_view, name="import-preview"),
]
