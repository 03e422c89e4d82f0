"""Imports into a project (issue 15): what a file held, previewed, then written at once.

An ``ImportJob`` keeps the parsed file (``testing.importers.base.ImportPlan`` as JSON, not
the file itself), the choices the preview offers, and, once applied, what was created,
updated, removed and skipped. The file is parsed when it is uploaded; the import writes
everything or nothing (``testing.services.imports``).
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from testing.models.base import ProjectOwnedModel


class ImportStatus(models.TextChoices):
    PREVIEWED = "previewed", _("Previewed")
    IMPORTED = "imported", _("Imported")


class ImportJob(ProjectOwnedModel):
    """One file imported (or about to be) into a project."""

    format = models.CharField(_("format"), max_length=20)
    filename = models.CharField(_("file name"), max_length=255)
    title = models.CharField(_("title"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices,
                              default=ImportStatus.PREVIEWED)
    plan = models.JSONField(_("what the file holds"), default=dict, blank=True)
    result = models.JSONField(_("what the import did"), default=dict, blank=True)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)

    rbac_actions = ("view", "create", "delete")

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_import_jobs"
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("testing:import-preview", args=[self.project_id, self.pk])
