"""Test plans and their scenarios (seed 001 sections 3.12 and 3.13)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.crypto import EncryptedJSONField
from tenants.models import TenantModel, unique_live_per_tenant
from testing.choices import NotifyOn, RunMode
from testing.models.base import ProjectOwnedModel, validate_json_field


class TestPlan(ProjectOwnedModel):
    """Scenarios run together, in order or in parallel (§3.12)."""

    __test__ = False  # not a pytest test class, despite its name

    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    run_mode = models.CharField(_("run mode"), max_length=20, choices=RunMode.choices,
                                default=RunMode.SERIAL)
    environment = models.ForeignKey(
        "testing.Environment", verbose_name=_("default environment"), on_delete=models.SET_NULL,
        null=True, blank=True, related_name="+",
        help_text=_("For scenarios of the plan that name no environment of their own."))
    stop_on_failure = models.BooleanField(
        _("stop on failure"), default=False,
        help_text=_("Serial plans: run no further scenario once one has failed."))
    # When a run of the plan ends (testing.services.notices): a notification to these users
    # and role holders, and a webhook (JSON, signed with HMAC-SHA256 by the secret).
    notify_on = models.CharField(_("notify when a run ends"), max_length=10,
                                 choices=NotifyOn.choices, default=NotifyOn.NEVER)
    notify_users = models.ManyToManyField(
        "accounts.User", verbose_name=_("users to notify"), blank=True, related_name="+")
    notify_roles = models.ManyToManyField(
        "rbac.Role", verbose_name=_("roles to notify"), blank=True, related_name="+",
        help_text=_("Every holder of these roles is notified."))
    webhook_url = models.URLField(
        _("webhook URL"), max_length=1024, blank=True,
        help_text=_("Receives a POST of the run's outcome as JSON, signed in the "
                    "X-Atrium-Signature header (sha256=HMAC of the body with the secret)."))
    webhook_secret = EncryptedJSONField(
        _("webhook secret"), null=True, blank=True,
        help_text=_("Stored encrypted; never shown again after saving."))
    audit_secret_fields = frozenset({"webhook_secret"})

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_plans"
        verbose_name = _("test plan")
        verbose_name_plural = _("test plans")
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "name", name="testing_plans_unique_name",
                                   message=_("This project already has a plan with this name.")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse an environment of another project."""
        super().clean()
        errors = self.check_same_project(environment=self.environment)
        if errors:
            raise ValidationError(errors)


class PlanScenario(TenantModel):
    """One scenario of a plan, in order, with its dataset, environment and overrides (§3.13)."""

    plan = models.ForeignKey(TestPlan, verbose_name=_("plan"), on_delete=models.CASCADE,
                             related_name="entries")
    scenario = models.ForeignKey("testing.Scenario", verbose_name=_("scenario"),
                                 on_delete=models.CASCADE, related_name="plan_entries")
    dataset = models.ForeignKey("testing.Dataset", verbose_name=_("dataset"),
                                on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    environment = models.ForeignKey("testing.Environment", verbose_name=_("environment"),
                                    on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    variables = models.JSONField(_("variable overrides"), default=dict, blank=True)
    sort_order = models.IntegerField(pgettext_lazy("order in a list", "position"),
                                     default=0)

    rbac_owner_path = "plan__project__created_by"

    class Meta(TenantModel.Meta):
        db_table = "testing_plan_scenarios"
        verbose_name = _("plan scenario")
        verbose_name_plural = _("plan scenarios")
        ordering = ["sort_order", "id"]
        indexes = [models.Index(fields=["tenant", "plan", "sort_order"],
                                name="testing_plan_entries_idx")]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("plan", "scenario", name="testing_plan_scenarios_unique",
                                   message=_("The plan already includes this scenario.")),
        ]

    def __str__(self) -> str:
        return f"{self.plan} / {self.scenario}"

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields and the overrides against the variables schema."""
        errors: dict[str, list] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "variables" not in errors:
            validate_json_field(self, "variables", "variables", errors)
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        """Refuse a scenario, dataset or environment of another project."""
        super().clean()
        project_id = self.plan.project_id if self.plan_id else None
        errors: dict[str, list] = {}
        for name in ("scenario", "dataset", "environment"):
            row = getattr(self, name) if getattr(self, f"{name}_id") is not None else None
            if row is not None and row.project_id != project_id:
                errors[name] = [ValidationError(_("Choose one of the plan's project's records."),
                                                code="other_project")]
        if self.dataset_id is not None and self.dataset.scenario_id not in (None, self.scenario_id):
            errors.setdefault("dataset", []).append(ValidationError(
                _("This dataset belongs to another scenario."), code="other_scenario"))
        if errors:
            raise ValidationError(errors)
