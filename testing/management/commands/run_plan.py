"""``manage.py run_plan --tenant T --project P --plan N [--env E]``: run a test plan, for CI.

Starts a run of the plan (project, plan and environment by name or id), shows progress as
scenario runs end, waits, prints a summary and exits:

* 0 when every check passed;
* 1 when a check failed (a step, an assertion, a scenario);
* 2 on an error: a name that matches nothing, a plan that cannot start, no worker
  finishing the run within ``--timeout``, a run terminated.

The workers run the plan (``celery worker``). ``--in-process`` runs it in this process
instead, for a pipeline without workers: the same engine, results and exit codes.

``--junit FILE``, ``--json FILE`` and ``--allure DIR`` write the run's report for the
pipeline (JUnit XML, JSON, Allure results) when it ends, also when it failed or did not end
in time (what ran so far); the exit codes stay the same.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from django.core.management.base import CommandError
from django.db import transaction

from tenants.management.base import TenantCommand
from tenants.models import Tenant
from testing.choices import FINAL_SCENARIO_STATUSES, RunStatus, ScenarioRunStatus
from testing.models import Environment, Execution, ExecutionStep, Project, TestPlan
from testing import reports
from testing.reports import allure
from testing.services import runs

ERROR = 2


def _one(queryset, value: str, what: str):
    """Return the row of ``queryset`` whose id or name is ``value``; refuse none or several."""
    try:
        rows = list(queryset.filter(pk=uuid.UUID(value)))
    except ValueError:
        rows = []
    if not rows:
        rows = list(queryset.filter(name=value)[:2])
    if not rows:
        raise CommandError(f"No {what} is named {value!r}.", returncode=ERROR)
    if len(rows) > 1:
        raise CommandError(f"Several {what}s are named {value!r}: give its id.",
                           returncode=ERROR)
    return rows[0]


class Command(TenantCommand):
    help = "Run a test plan, wait for it, print a summary; exit 0 passed, 1 failed, 2 error."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--project", required=True, help="The project's name or id.")
        parser.add_argument("--plan", required=True, help="The plan's name or id.")
        parser.add_argument("--env", default=None,
                            help="An environment (name or id) for every scenario of the plan; "
                                 "default: each entry's, else the plan's.")
        parser.add_argument("--timeout", type=float, default=3600.0,
                            help="Seconds to wait for the run to end (default 3600).")
        parser.add_argument("--in-process", action="store_true",
                            help="Run the plan in this process instead of on the workers.")
        parser.add_argument("--junit", metavar="FILE",
                            help="Write the report as JUnit XML to FILE.")
        parser.add_argument("--json", metavar="FILE", help="Write the report as JSON to FILE.")
        parser.add_argument("--allure", metavar="DIR",
                            help="Write the Allure results (allure-results) into DIR.")

    def handle_tenant(self, tenant: Tenant, *args, **options) -> None:
        project = _one(Project.objects.all(), options["project"], "project")
        plan = _one(TestPlan.objects.filter(project=project), options["plan"], "plan")
        environment = (_one(Environment.objects.filter(project=project), options["env"],
                            "environment") if options["env"] else None)
        in_process = options["in_process"]
        try:
            with transaction.atomic():
                execution = runs.start_plan(plan, environment=environment,
                                            dispatch=not in_process)
        except runs.RunRefused as exc:
            raise CommandError(str(exc), returncode=ERROR) from None
        self.stdout.write(f"Run {execution.pk} of plan {plan.name!r} started "
                          f"({execution.scenarios_total} scenario runs"
                          f"{', in this process' if in_process else ''}).")
        try:
            execution = self._wait(execution, options["timeout"], in_process=in_process)
        finally:
            self._write_reports(execution, options)
        self._summary(execution)
        if execution.status == RunStatus.COMPLETED:
            return
        if execution.status == RunStatus.FAILED:
            raise SystemExit(1)
        raise CommandError(f"The run ended {execution.get_status_display().lower()}.",
                           returncode=ERROR)

    def _wait(self, execution: Execution, timeout: float, *, in_process: bool) -> Execution:
        deadline = time.monotonic() + timeout
        reported: set = set()
        while True:
            if in_process:
                # The runs the plan lets start now, one after another in this process.
                for run_id in ExecutionStep.objects.filter(
                        execution=execution, status=ScenarioRunStatus.QUEUED,
                        dispatched_at__isnull=False).values_list("pk", flat=True):
                    runs.execute_run(run_id)
            execution.refresh_from_db()
            for run in ExecutionStep.objects.filter(
                    execution=execution, status__in=FINAL_SCENARIO_STATUSES,
            ).exclude(pk__in=reported).order_by("sort_order"):
                reported.add(run.pk)
                self.stdout.write(f"  [{len(reported)}/{execution.scenarios_total}] "
                                  f"{run}: {run.get_status_display()} "
                                  f"({run.steps_passed} passed, {run.steps_failed} failed)"
                                  + (f" - {run.error}" if run.error else ""))
            if execution.is_final:
                return execution
            if time.monotonic() > deadline:
                raise CommandError(
                    f"The run did not end within {timeout:g} s (status "
                    f"{execution.status}); is a worker running? (--in-process runs it here)",
                    returncode=ERROR)
            time.sleep(0.5)

    def _write_reports(self, execution: Execution, options: dict) -> None:
        if not any(options.get(name) for name in ("junit", "json", "allure")):
            return
        execution.refresh_from_db()
        report = reports.build(execution)
        for name, writer in (("junit", reports.as_junit), ("json", reports.as_json)):
            if options.get(name):
                path = Path(options[name])
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(writer(report))
                self.stdout.write(f"Wrote {path}.")
        if options.get("allure"):
            written = allure.write(report, options["allure"])
            self.stdout.write(f"Wrote {len(written)} Allure results into {options['allure']}.")

    def _summary(self, execution: Execution) -> None:
        elapsed = ""
        if execution.started_at and execution.completed_at:
            elapsed = f" in {(execution.completed_at - execution.started_at).total_seconds():.1f} s"
        self.stdout.write(
            f"{execution.get_status_display()}{elapsed}: {execution.scenarios_passed} of "
            f"{execution.scenarios_total} scenario runs passed; steps: "
            f"{execution.steps_passed} passed, {execution.steps_failed} failed.")
        if execution.error:
            self.stdout.write(f"First failure: {execution.error}")
