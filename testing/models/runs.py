"""Executions, their scenario runs and step results (seed 001 sections 3.14-3.15).

An ``Execution`` is one run of a plan, a scenario or an interface. It holds one
``ExecutionStep`` per scenario run (one per dataset row when data-driven), which carries
the run's checkpoint and heartbeat; each step of it leaves a ``StepResult``. Results are
append-only and written in batches (``testing.services.runs``).
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from uuid6 import uuid7

from core.crypto import EncryptedJSONField
from tenants.models import TenantScopedModel
from testing.choices import (
    FINAL_RUN_STATUSES,
    ControlRequest,
    RunKind,
    RunStatus,
    ScenarioRunStatus,
    StepStatus,
)
from testing.models.base import ProjectOwnedModel


class ResultJSONField(models.JSONField):
    """A JSON column of step results, which are inserted in batches.

    Defining ``get_placeholder`` keeps Django's bulk insert on PostgreSQL off its UNNEST
    path, where psycopg escapes each array of JSON text in Python: 0.32 ms per result row
    against 0.17 ms with plain VALUES rows (``bench/engine.py``). Other backends are
    unaffected.
    """

    def get_placeholder(self, value, compiler, connection) -> str:
        return "%s"


class Execution(ProjectOwnedModel):
    """One run of a plan, a scenario or an interface (§3.14)."""

    kind = models.CharField(_("kind"), max_length=20, choices=RunKind.choices)
    name = models.CharField(_("name"), max_length=255,
                            help_text=_("What ran, as it was called when it started."))
    plan = models.ForeignKey("testing.TestPlan", verbose_name=_("plan"),
                             on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    scenario = models.ForeignKey("testing.Scenario", verbose_name=_("scenario"),
                                 on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    interface = models.ForeignKey("testing.Interface", verbose_name=_("interface"),
                                  on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    environment = models.ForeignKey("testing.Environment", verbose_name=_("environment"),
                                    on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    dataset = models.ForeignKey("testing.Dataset", verbose_name=_("dataset"),
                                on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices,
                              default=RunStatus.QUEUED)
    requested = models.CharField(_("requested"), max_length=20, choices=ControlRequest.choices,
                                 default=ControlRequest.NONE, blank=True)
    parallel = models.BooleanField(_("parallel"), default=False)
    stop_on_failure = models.BooleanField(_("stop on failure"), default=False)
    in_process = models.BooleanField(
        _("run in its starter's process"), default=False,
        help_text=_("Started by run_plan --in-process: its runs are not sent to the workers."))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    scenarios_total = models.PositiveIntegerField(_("scenario runs"), default=0)
    scenarios_passed = models.PositiveIntegerField(_("scenario runs passed"), default=0)
    scenarios_failed = models.PositiveIntegerField(_("scenario runs failed"), default=0)
    steps_passed = models.PositiveIntegerField(_("steps passed"), default=0)
    steps_failed = models.PositiveIntegerField(_("steps failed"), default=0)
    error = models.TextField(_("error"), blank=True)
    # The error as a msgid and its parameters (testing.engine.messages); empty on rows
    # stored before, and on errors without one, which show ``error``.
    error_i18n = models.JSONField(_("error message id"), null=True, blank=True,
                                  editable=False)
    schedule = models.ForeignKey(
        "testing.PlanSchedule", verbose_name=_("started by schedule"),
        on_delete=models.SET_NULL, null=True, blank=True, related_name="executions",
        help_text=_("The plan schedule that started this run; empty when a person or a "
                    "client started it."))
    allure_report_path = models.CharField(
        _("Allure results"), max_length=255, blank=True, editable=False,
        help_text=_("Where the run's allure-results files are stored (seed §3.16), "
                    "relative to the media storage; empty until the run ends, and again "
                    "once the retention policy removes its step detail."))
    details_pruned_at = models.DateTimeField(
        _("step details removed at"), null=True, blank=True, editable=False,
        help_text=_("The steps' requests, responses and checks were removed by the retention "
                    "policy; the summary stays."))

    # Starting a run is "create"; pause, resume and terminate are "control". A run is a
    # record of what happened: never edited, removed only whole.
    rbac_actions = ("view", "create", "delete", "restore")
    rbac_operations = {"control": _("Pause, resume or terminate test runs")}

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_executions"
        verbose_name = _("execution")
        verbose_name_plural = _("executions")
        ordering = ["-created_at"]
        indexes = [
            # "This project's recent runs" (newest first, UUIDv7 keys are time-ordered).
            models.Index(fields=["tenant", "project", "-created_at"],
                         name="testing_exec_project_idx"),
            # The retention policy's "this tenant's runs that ended before".
            models.Index(fields=["tenant", "completed_at"], name="testing_exec_completed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("testing:run", args=[self.project_id, self.pk])

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_RUN_STATUSES

    @property
    def pass_rate(self) -> float | None:
        done = self.scenarios_passed + self.scenarios_failed
        return None if not done else self.scenarios_passed / done


class ExecutionStep(TenantScopedModel):
    """One scenario run of an execution (§3.15): one dataset row, when data-driven."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    execution = models.ForeignKey(Execution, verbose_name=_("execution"),
                                  on_delete=models.CASCADE, related_name="scenario_runs")
    scenario = models.ForeignKey("testing.Scenario", verbose_name=_("scenario"),
                                 on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    interface = models.ForeignKey("testing.Interface", verbose_name=_("interface"),
                                  on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    environment = models.ForeignKey("testing.Environment", verbose_name=_("environment"),
                                    on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    plan_entry = models.ForeignKey("testing.PlanScenario", verbose_name=_("plan entry"),
                                   on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    dataset = models.ForeignKey("testing.Dataset", verbose_name=_("dataset"),
                                on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name = models.CharField(_("name"), max_length=255)
    sort_order = models.PositiveIntegerField(pgettext_lazy("order in a list", "position"),
                                             default=0)
    row_number = models.PositiveIntegerField(_("dataset row"), null=True, blank=True)
    row_values = models.JSONField(_("row values"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ScenarioRunStatus.choices,
                              default=ScenarioRunStatus.QUEUED)
    # Where the run stands: the next step, the variables extracted so far, the cookies,
    # the last response (runner.Checkpoint). Sealed: it holds extracted secrets and cookies.
    checkpoint = EncryptedJSONField(_("checkpoint"), null=True, blank=True, editable=False)
    step_keys = models.JSONField(_("steps"), default=list, blank=True,
                                 help_text=_("The steps as they were when the run started."))
    steps_total = models.PositiveIntegerField(_("steps"), default=0)
    steps_passed = models.PositiveIntegerField(_("steps passed"), default=0)
    steps_failed = models.PositiveIntegerField(_("steps failed"), default=0)
    attempts = models.PositiveIntegerField(_("worker attempts"), default=0)
    dispatched_at = models.DateTimeField(_("sent to the workers at"), null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The error as a msgid and its parameters (testing.engine.messages); empty on rows
    # stored before, and on errors without one, which show ``error``.
    error_i18n = models.JSONField(_("error message id"), null=True, blank=True,
                                  editable=False)

    rbac_actions = ("view",)  # read through its execution, written by the engine
    rbac_owner_path = "execution__project__created_by"

    class Meta:
        db_table = "testing_execution_steps"
        verbose_name = _("scenario run")
        verbose_name_plural = _("scenario runs")
        ordering = ["execution", "sort_order"]
        indexes = [
            models.Index(fields=["tenant", "execution", "sort_order"],
                         name="testing_exstep_exec_idx"),
            # The watchdog's scan for runs whose worker stopped beating.
            models.Index(fields=["tenant", "status", "heartbeat_at"],
                         name="testing_exstep_beat_idx"),
        ]

    def __str__(self) -> str:
        if self.row_number is not None:
            return f"{self.name} #{self.row_number}"
        return self.name


class StepResult(TenantScopedModel):
    """What one step of a scenario run did: request, response, variables, assertions."""

    execution = models.ForeignKey(Execution, verbose_name=_("execution"),
                                  on_delete=models.CASCADE, related_name="+")
    scenario_run = models.ForeignKey(ExecutionStep, verbose_name=_("scenario run"),
                                     on_delete=models.CASCADE, related_name="results")
    position = models.IntegerField(pgettext_lazy("order in a list", "position"))
    step_key = models.CharField(_("step"), max_length=64)
    title = models.CharField(_("title"), max_length=500)
    action = models.CharField(_("action"), max_length=20)
    status = models.CharField(_("status"), max_length=20, choices=StepStatus.choices)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    flaky = models.BooleanField(_("flaky"), default=False)
    request = ResultJSONField(_("request"), null=True, blank=True)
    response = ResultJSONField(_("response"), null=True, blank=True)
    variables = ResultJSONField(_("variables used"), default=dict, blank=True)
    extracted = ResultJSONField(_("extracted"), default=dict, blank=True)
    assertions = ResultJSONField(_("assertions"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The error as a msgid and its parameters, shown in the reader's language
    # (testing.engine.messages); empty on rows stored before, which show ``error``.
    error_i18n = ResultJSONField(_("error message id"), null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.FloatField(_("duration (ms)"), default=0)

    rbac_actions = ("view",)
    rbac_owner_path = "execution__project__created_by"

    class Meta:
        db_table = "testing_step_results"
        verbose_name = _("step result")
        verbose_name_plural = _("step results")
        ordering = ["scenario_run", "position", "id"]
        indexes = [
            # "This run's steps in order".
            models.Index(fields=["tenant", "scenario_run", "position"],
                         name="testing_result_run_idx"),
            models.Index(fields=["tenant", "execution", "status"],
                         name="testing_result_exec_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.title}: {self.status}"
