"""Imports into a project (issue 15): what a file held, previewed, then written at once.

An ``ImportJob`` keeps the parsed file (``testing.importers.base.ImportPlan`` as JSON, not
the file itself), the choices the preview offers, and, once applied, what was created,
updated, removed and skipped. A small file is parsed when it is uploaded; a larger one
(``TESTING_IMPORT_INLINE_BYTES``) waits in ``source`` while a Celery task parses it
(``testing.tasks.parse_import``), recording its stage and percent, then the plan replaces
it. The import writes everything or nothing (``testing.services.imports``).

The waiting file is a column of the row (the database is what the web processes and the
workers share): on MariaDB, ``max_allowed_packet`` must exceed ``TESTING_IMPORT_MAX_BYTES``,
as it must for the plan of such a file anyway.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from testing.engine.messages import render
from testing.models.base import ProjectOwnedModel


class ImportStatus(models.TextChoices):
    PARSING = "parsing", _("Reading the file")
    FAILED = "failed", _("Unreadable")
    PREVIEWED = "previewed", _("Previewed")
    IMPORTED = "imported", _("Imported")


class ImportStage(models.TextChoices):
    """How far the task reading a large file got (``ImportJob.progress`` in percent)."""

    WAITING = "waiting", _("Waiting for a worker")
    READING = "reading", _("Reading the file")
    MAPPING = "mapping", _("Mapping what it holds")
    STORING = "storing", _("Storing the preview")
    DONE = "done", _("Done")


class ImportJob(ProjectOwnedModel):
    """One file imported (or about to be) into a project."""

    format = models.CharField(_("format"), max_length=20, blank=True,
                              help_text=_("Empty while a large file waits to be recognised."))
    filename = models.CharField(_("file name"), max_length=255)
    data_filename = models.CharField(_("data file name"), max_length=255, blank=True)
    title = models.CharField(_("title"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices,
                              default=ImportStatus.PREVIEWED)
    plan = models.JSONField(_("what the file holds"), default=dict, blank=True)
    result = models.JSONField(_("what the import did"), default=dict, blank=True)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    source = models.BinaryField(_("file waiting to be read"), null=True, blank=True,
                                editable=False)
    data_source = models.BinaryField(_("data file waiting to be read"), null=True,
                                     blank=True, editable=False)
    stage = models.CharField(_("stage"), max_length=20, choices=ImportStage.choices,
                             default=ImportStage.DONE)
    progress = models.PositiveSmallIntegerField(_("progress (percent)"), default=100)
    attempts = models.PositiveSmallIntegerField(_("attempts to read it"), default=0)
    error = models.TextField(_("why it cannot be read"), blank=True)
    # ``error``'s msgid and parameters (testing.engine.messages), shown in the reader's
    # language; None for a job that failed before errors had ids, which shows ``error``.
    error_i18n = models.JSONField(_("error message id"), null=True, blank=True,
                                  editable=False)

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

    def error_text(self) -> str:
        """Return why the file cannot be read, in the active language."""
        return render(self.error_i18n, self.error)

    @property
    def is_ready(self) -> bool:
        """Return whether the file has been read (its plan can be previewed)."""
        return self.status in (ImportStatus.PREVIEWED, ImportStatus.IMPORTED)
