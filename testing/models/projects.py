"""Projects and the databases their steps may query (seed 001 sections 3.2 and 3.3)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedJSONField
from tenants.models import TenantModel, unique_live_per_tenant
from testing.choices import ConnectionStatus, DatabaseType
from testing.models.base import ProjectOwnedModel, identifier_validator


class Project(TenantModel):
    """A tester's project: everything of the test domain lives in one (seed 001 section 3.2).

    The seed makes names unique per creating user; here they are unique per tenant among
    live rows, as every other name of the platform.
    """

    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    report_retention_days = models.PositiveIntegerField(
        _("keep run details (days)"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("How long the steps of this project's runs are kept (requests, responses, "
                    "checks); empty: the platform's setting (TEST_REPORT_RETENTION_DAYS, 30 "
                    "by default). A run's summary is kept longer, for the history charts."))

    class Meta(TenantModel.Meta):
        db_table = "testing_projects"
        verbose_name = _("test project")
        verbose_name_plural = _("test projects")
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "updated_at"], name="testing_projects_recent_idx")]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("name", name="testing_projects_unique_name",
                                   message=_("A project with this name already exists.")),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        """Return the project's dashboard."""
        from django.urls import reverse

        return reverse("testing:project", args=[self.pk])


class DatabaseConfig(ProjectOwnedModel):
    """A database the project's steps may query, by its ``variable_name`` (seed 001 §3.3).

    The password is sealed with the platform's field encryption: written, never shown
    again (not in a page, an API answer, a log or an export), unsealed only to connect.
    """

    name = models.CharField(_("name"), max_length=255)
    variable_name = models.CharField(
        _("variable name"), max_length=100, validators=[identifier_validator],
        help_text=_("How steps and SQL name this database, e.g. orders_db."),
    )
    db_type = models.CharField(_("type"), max_length=20, choices=DatabaseType.choices,
                               default=DatabaseType.MYSQL)
    host = models.CharField(_("host"), max_length=255)
    port = models.PositiveIntegerField(
        _("port"), validators=[MinValueValidator(1), MaxValueValidator(65535)])
    initial_database = models.CharField(_("database"), max_length=255, blank=True)
    username = models.CharField(_("username"), max_length=255)
    password = EncryptedJSONField(_("password"), null=True, blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    connection_status = models.CharField(
        _("connection status"), max_length=20, choices=ConnectionStatus.choices,
        default=ConnectionStatus.UNKNOWN, editable=False)
    status_message = models.CharField(_("status message"), max_length=500, blank=True,
                                      editable=False)
    last_tested_at = models.DateTimeField(_("last tested at"), null=True, blank=True,
                                          editable=False)

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_database_configs"
        verbose_name = _("database configuration")
        verbose_name_plural = _("database configurations")
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "variable_name",
                                   name="testing_dbconfigs_unique_variable",
                                   message=_("This project already has a database with this "
                                             "variable name.")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.variable_name})"

    def clean(self) -> None:
        """Refuse a database type whose driver is not installed."""
        super().clean()
        if self.db_type and self.db_type not in available_database_types():
            raise ValidationError({"db_type": _("The driver of this database type is not "
                                                "installed on this platform.")})

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while a live scenario runs its SQL on this database."""
        from testing.models.scenarios import Scenario

        if Scenario.objects.all_tenants().filter(database_config=self).exists():
            return [str(_("Scenarios run their SQL on this database; change them first."))]
        return []


def available_database_types() -> list[str]:
    """Return the database types whose Python driver is installed (Oracle is optional)."""
    import importlib.util

    drivers = {DatabaseType.MYSQL: "MySQLdb", DatabaseType.POSTGRESQL: "psycopg",
               DatabaseType.ORACLE: "oracledb"}
    return [kind for kind, module in drivers.items() if importlib.util.find_spec(module)]
