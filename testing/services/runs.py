"""Runs: start, control and execute plans, scenarios and interfaces (seed 001 §3.14-3.15).

Starting a run writes an ``Execution`` with one ``ExecutionStep`` per scenario run (one per
dataset row when data-driven) and sends the runs to the workers when the transaction
commits: a serial plan one after another, a parallel plan up to the tenant's concurrency
limit at once. Each scenario run is one Celery task (``testing.tasks.run_scenario_run``):

1. ``claim`` takes the run (a run already final, or held by a live worker, is left alone);
2. ``scenario_spec`` turns the models into the engine's plain data, unsealing secret
   variables and database passwords here, in the worker;
3. the engine runs it with a ``DatabaseSink``, which stores results in batches
   (``TESTING_RESULT_FLUSH_SECONDS``) together with the checkpoint, answers pause and
   terminate requests, and beats the heartbeat from a thread;
4. ``finish`` records the outcome and ``advance`` sends the next runs or ends the execution.

A run whose worker died is found by ``recover_runs`` (heartbeat older than
``TESTING_HEARTBEAT_TIMEOUT``) and sent again: it continues from its last stored checkpoint.
"""

from __future__ import annotations

import datetime
import logging
import socket
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.context import tenant_context
from tenants.models import Tenant
from tenants.network import outbound_policy
from testing.choices import (
    FINAL_SCENARIO_STATUSES,
    ControlRequest,
    RunKind,
    RunMode,
    RunStatus,
    ScenarioRunStatus,
    StepKind,
)
from testing.engine import runner, spec as S
from testing.engine.messages import Message, data_of, message
from testing.services.databases import database_spec
from testing.services import usercode
from testing.models import (
    DatabaseConfig,
    Dataset,
    DatasetError,
    Environment,
    Execution,
    ExecutionStep,
    Interface,
    Scenario,
    ScenarioStep,
    StepResult,
    TestPlan,
    Variable,
    parse_csv,
)

logger = logging.getLogger(__name__)


class RunRefused(ValueError):
    """A run that cannot start (an empty plan, an invalid dataset), with the reason."""


# Starting


def _dataset_rows(dataset: Dataset) -> list[dict[str, str]]:
    try:
        headers, rows = parse_csv(dataset.csv_data)
    except DatasetError as exc:
        raise RunRefused(_("The dataset %(name)s is invalid: %(reason)s")
                         % {"name": dataset.name, "reason": exc}) from None
    if not rows:
        raise RunRefused(_("The dataset %(name)s has no rows: nothing would run.")
                         % {"name": dataset.name})
    return [dict(zip(headers, row)) for row in rows]


def _scenario_runs(execution: Execution, scenario: Scenario, *, order: int,
                   environment: Environment | None, dataset: Dataset | None,
                   plan_entry=None) -> list[ExecutionStep]:
    common = {"tenant_id": execution.tenant_id, "execution": execution, "scenario": scenario,
              "environment": environment, "plan_entry": plan_entry, "dataset": dataset,
              "name": scenario.name}
    if dataset is None:
        return [ExecutionStep(sort_order=order, **common)]
    return [ExecutionStep(sort_order=order + index, row_number=index + 1, row_values=row,
                          **common)
            for index, row in enumerate(_dataset_rows(dataset))]


@transaction.atomic
def start_scenario(scenario: Scenario, *, environment: Environment | None = None,
                   dataset: Dataset | None = None) -> Execution:
    """Start a run of ``scenario`` (once, or once per row of ``dataset``)."""
    execution = Execution.objects.create(
        project_id=scenario.project_id, kind=RunKind.SCENARIO, name=scenario.name,
        scenario=scenario, environment=environment, dataset=dataset)
    runs = _scenario_runs(execution, scenario, order=0, environment=environment,
                          dataset=dataset)
    return _launch(execution, runs)


@transaction.atomic
def start_interface(interface: Interface, *, environment: Environment | None = None) -> Execution:
    """Start a run of one interface: its request, assertions and extractors."""
    execution = Execution.objects.create(
        project_id=interface.project_id, kind=RunKind.INTERFACE, name=interface.name,
        interface=interface, environment=environment)
    run = ExecutionStep(tenant_id=execution.tenant_id, execution=execution,
                        interface=interface, environment=environment, name=interface.name)
    return _launch(execution, [run])


@transaction.atomic
def start_plan(plan: TestPlan, *, environment: Environment | None = None,
               dispatch: bool = True, schedule=None) -> Execution:
    """Start a run of ``plan``: its scenarios in order, or in parallel.

    ``dispatch=False`` sends no task: the caller runs the scenario runs marked as sent
    (``dispatched_at``) itself, with ``execute_run`` (``run_plan --in-process``).
    ``schedule`` is the plan schedule that starts it, recorded on the execution.
    """
    entries = list(plan.entries.select_related("scenario", "dataset", "environment")
                   .filter(scenario__is_deleted=False).order_by("sort_order", "id"))
    execution = Execution.objects.create(
        project_id=plan.project_id, kind=RunKind.PLAN, name=plan.name, plan=plan,
        environment=environment, parallel=plan.run_mode == RunMode.PARALLEL,
        stop_on_failure=plan.stop_on_failure, in_process=not dispatch, schedule=schedule)
    if not entries:
        raise RunRefused(_("The plan %(name)s has no scenarios to run.") % {"name": plan.name})
    runs: list[ExecutionStep] = []
    for entry in entries:
        env = environment or entry.environment or plan.environment
        runs.extend(_scenario_runs(execution, entry.scenario, order=len(runs),
                                   environment=env, dataset=entry.dataset, plan_entry=entry))
    return _launch(execution, runs, dispatch=dispatch)


def _launch(execution: Execution, runs: list[ExecutionStep], *,
            dispatch: bool = True) -> Execution:
    ExecutionStep.objects.bulk_create(runs)
    execution.scenarios_total = len(runs)
    execution.status = RunStatus.RUNNING
    execution.started_at = timezone.now()
    execution.save(update_fields=["scenarios_total", "status", "started_at"])
    advance(execution.pk, dispatch=dispatch)
    return execution


# Control


def pause(execution: Execution) -> Execution:
    """Ask a running execution to pause after its current steps."""
    with transaction.atomic():
        locked = Execution.objects.select_for_update().get(pk=execution.pk)
        if (locked.status not in (RunStatus.RUNNING, RunStatus.QUEUED)
                or locked.requested == ControlRequest.TERMINATE):
            raise RunRefused(_("Only a running execution can be paused."))
        locked.requested = ControlRequest.PAUSE
        locked.save(update_fields=["requested"])
    advance(execution.pk)
    return Execution.objects.get(pk=execution.pk)


def resume(execution: Execution) -> Execution:
    """Continue a paused execution where each of its scenario runs stopped."""
    with transaction.atomic():
        locked = Execution.objects.select_for_update().get(pk=execution.pk)
        if locked.is_final or (locked.status != RunStatus.PAUSED
                               and locked.requested != ControlRequest.PAUSE):
            raise RunRefused(_("Only a paused execution can be resumed."))
        locked.requested = ControlRequest.NONE
        locked.status = RunStatus.RUNNING
        locked.save(update_fields=["requested", "status"])
        ExecutionStep.objects.filter(execution=locked, status=ScenarioRunStatus.PAUSED).update(
            status=ScenarioRunStatus.QUEUED, dispatched_at=None)
    advance(execution.pk)
    return Execution.objects.get(pk=execution.pk)


def terminate(execution: Execution) -> Execution:
    """Stop an execution: running scenario runs stop within one step, the rest never run."""
    with transaction.atomic():
        locked = Execution.objects.select_for_update().get(pk=execution.pk)
        if locked.is_final:
            raise RunRefused(_("This execution has already ended."))
        locked.requested = ControlRequest.TERMINATE
        locked.save(update_fields=["requested"])
    advance(execution.pk)
    return Execution.objects.get(pk=execution.pk)


# Sending runs to the workers, and ending the execution


def concurrency_limit(tenant_id) -> int:
    """Return how many scenario runs of one tenant may run at once."""
    tenant = Tenant.objects.select_related("package").get(pk=tenant_id)
    limit = tenant.package.max_concurrent_runs if tenant.package else None
    return limit or settings.TESTING_MAX_CONCURRENT_RUNS


def advance(execution_id, *, dispatch: bool | None = None) -> None:
    """Send the runs that may start now; end the execution when every run has ended.

    ``dispatch`` False marks them sent without sending a task (a caller running them in its
    own process); None: as the execution was started (``Execution.in_process``).
    """
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        if execution.is_final:
            return
        runs = ExecutionStep.objects.filter(execution=execution)
        if execution.requested == ControlRequest.NONE:
            # A run can pause after resume() was asked (its worker read the pause request
            # just before): send it again rather than leave it paused in a running execution.
            runs.filter(status=ScenarioRunStatus.PAUSED).update(
                status=ScenarioRunStatus.QUEUED, dispatched_at=None)
        undispatched = runs.filter(status=ScenarioRunStatus.QUEUED, dispatched_at__isnull=True)
        now = timezone.now()
        if execution.requested == ControlRequest.TERMINATE:
            said = message(gettext_noop("Terminated before it ran."))
            (undispatched | runs.filter(status=ScenarioRunStatus.PAUSED)).update(
                status=ScenarioRunStatus.TERMINATED, error=said, error_i18n=data_of(said),
                completed_at=now)
        elif (not execution.parallel and execution.stop_on_failure and runs.filter(
                status__in=(ScenarioRunStatus.FAILED, ScenarioRunStatus.ERROR)).exists()):
            said = message(gettext_noop(
                "Not run: an earlier scenario failed and the plan stops on failure."))
            undispatched.update(status=ScenarioRunStatus.TERMINATED, completed_at=now,
                                error=said, error_i18n=data_of(said))
        active = runs.filter(status=ScenarioRunStatus.RUNNING).count() + runs.filter(
            status=ScenarioRunStatus.QUEUED, dispatched_at__isnull=False).count()
        waiting = list(undispatched.order_by("sort_order").values_list("pk", flat=True))
        if execution.requested == ControlRequest.PAUSE:
            if not active:
                execution.status = RunStatus.PAUSED
                execution.save(update_fields=["status"])
            return
        if not active and not waiting:
            _end(execution)
            execution_id, tenant_id = str(execution.pk), execution.tenant_id
            in_process, announce = execution.in_process, execution.kind == RunKind.PLAN
            transaction.on_commit(
                lambda: _ended(execution_id, tenant_id, in_process, announce=announce))
            return
        if execution.requested == ControlRequest.TERMINATE:
            return  # the running ones stop within a step, then end the execution
        room = (concurrency_limit(execution.tenant_id) - active) if execution.parallel \
            else (0 if active else 1)
        to_send = waiting[:max(room, 0)]
        if to_send:
            ExecutionStep.objects.filter(pk__in=to_send).update(dispatched_at=now)
            ids = [str(pk) for pk in to_send]
            tenant_id = execution.tenant_id
            if dispatch is None:
                dispatch = not execution.in_process
            if dispatch:
                transaction.on_commit(lambda: _send(ids, tenant_id))


def _send(run_ids: list[str], tenant_id) -> None:
    """Send the runs' tasks, carrying their tenant (whatever scope the commit happens in)."""
    from testing.tasks import run_scenario_run

    with tenant_context(tenant_id):
        for run_id in run_ids:
            run_scenario_run.delay(run_id)


def _ended(execution_id: str, tenant_id, in_process: bool, *, announce: bool) -> None:
    """Once a run's end is committed: store its Allure results and, for a plan, announce
    it as the plan asks (testing.services.notices); in this process for an in-process run,
    else by tasks."""
    with tenant_context(tenant_id):
        if in_process:
            from testing.services import notices

            store_results(execution_id)
            if announce:
                notices.announce(execution_id)
        else:
            from testing.tasks import announce_run, store_run_results

            store_run_results.delay(execution_id)
            if announce:
                announce_run.delay(execution_id)


def store_results(execution_id) -> str:
    """Store the ended run's ``allure-results`` and point ``allure_report_path`` at them."""
    from testing.reports import allure, build

    execution = (Execution.objects.select_related("project", "environment")
                 .filter(pk=execution_id, completed_at__isnull=False).first())
    if execution is None or execution.details_pruned_at is not None:
        return ""
    where = allure.store(execution, build(execution))
    Execution.objects.filter(pk=execution.pk).update(allure_report_path=where)
    return where


def _end(execution: Execution) -> None:
    """Record the final state and totals of ``execution`` (its row is locked)."""
    runs = ExecutionStep.objects.filter(execution=execution)
    statuses = list(runs.values_list("status", flat=True))
    passed = statuses.count(ScenarioRunStatus.PASSED)
    failed = sum(statuses.count(s) for s in (ScenarioRunStatus.FAILED, ScenarioRunStatus.ERROR))
    if execution.requested == ControlRequest.TERMINATE:
        status = RunStatus.TERMINATED
    elif passed == len(statuses):
        status = RunStatus.COMPLETED
    else:
        status = RunStatus.FAILED
    if status == RunStatus.FAILED and not execution.error:
        first = runs.exclude(status=ScenarioRunStatus.PASSED).exclude(error="").order_by(
            "sort_order").first()
        error = (message(gettext_noop("%(run)s: %(error)s"), run=str(first),
                         error=(Message.from_data(first.error_i18n) if first.error_i18n
                                else first.error)) if first else "")
        execution.error, execution.error_i18n = error, data_of(error)
    execution.status = status
    execution.requested = ControlRequest.NONE
    execution.scenarios_passed = passed
    execution.scenarios_failed = failed
    execution.completed_at = timezone.now()
    execution.save(update_fields=["status", "requested", "scenarios_passed",
                                  "scenarios_failed", "completed_at", "error", "error_i18n"])


# The plain data of a run


def _variables(project_id, environment: Environment | None) -> tuple[dict, dict, list[str]]:
    rows = Variable.objects.filter(project_id=project_id)
    rows = rows.filter(environment__isnull=True) | (
        rows.filter(environment=environment) if environment is not None else rows.none())
    project: dict[str, Any] = {}
    env: dict[str, Any] = {}
    secrets: list[str] = []
    for row in rows:
        (project if row.environment_id is None else env)[row.name] = row.plain_value
        if row.is_secret:
            secrets.append(row.name)
    return project, env, secrets


def _request_of(interface: Interface) -> dict:
    data = interface.as_request()
    data.pop("assertions", None)
    data.pop("extractors", None)
    return data


def _pairs(mapping: dict | None) -> list[dict]:
    return [{"name": str(k), "value": str(v)} for k, v in (mapping or {}).items()]


def _keyword_step(step: ScenarioStep, base: dict) -> S.StepSpec:
    params = step.parameters or {}
    if step.keyword_id is not None:
        if not step.keyword.is_enabled:
            return S.StepSpec(**base, action=S.BROKEN,
                              problem=_("The keyword %(name)s is disabled.")
                              % {"name": step.keyword.name})
        return S.StepSpec(**base, action=S.CODE, params=params,
                          user_code=usercode.keyword_code(step.keyword))
    code = step.builtin_keyword.code
    if code == "http_request":
        request = {"method": params.get("method", "GET"), "url": params.get("url", ""),
                   "query": _pairs(params.get("query")), "headers": _pairs(params.get("headers")),
                   "body_type": "json" if "json" in params else "none",
                   "body": params.get("json"), "timeout": params.get("timeout")}
        return S.StepSpec(**base, action=S.HTTP, request=request)
    if code == "assert_json":
        return S.StepSpec(**base, action=S.ASSERT, assertions=[{
            "type": "json", "expression": params["expression"], "operator": params["operator"],
            "expected_value": params.get("expected_value")}])
    if code == "assert_status":
        return S.StepSpec(**base, action=S.ASSERT, assertions=[{
            "type": "status_code", "operator": "eq", "expected_value": params["expected"]}])
    if code == "assert_equal":
        return S.StepSpec(**base, action=S.ASSERT, assertions=[{
            "type": "value", "actual": params.get("actual"), "operator": params["operator"],
            "expected_value": params.get("expected")}])
    if code in ("extract_json", "extract_header", "extract_regex"):
        source = {"extract_json": "json", "extract_header": "header",
                  "extract_regex": "regex"}[code]
        expression = params.get("expression") or params.get("header") or params.get("pattern")
        extractor = {"name": params["variable"], "source": source, "expression": expression}
        if "default" in params:
            extractor["default"] = params["default"]
        return S.StepSpec(**base, action=S.EXTRACT, extractors=[extractor])
    if code == "sql_query":
        return S.StepSpec(**base, action=S.SQL, params={
            "database": params.get("database"), "sql": params.get("sql"),
            "variable": params.get("variable"), "writes": bool(params.get("writes"))})
    if code in ("set_variable", "wait"):
        return S.StepSpec(**base, action=code, params=params)
    return S.StepSpec(**base, action=S.BROKEN,
                      problem=_("The built-in keyword %(code)s is unknown to the engine.")
                      % {"code": code})


def step_spec(step: ScenarioStep) -> S.StepSpec:
    """Return the engine's view of one scenario step."""
    base = {"key": str(step.pk), "title": (step.title or str(step))[:500],
            "retries": step.retries}
    params = step.parameters or {}
    if step.kind == StepKind.INTERFACE:
        interface = step.interface
        if interface is None or interface.is_deleted:
            return S.StepSpec(**base, action=S.BROKEN,
                              problem=_("The interface of this step was deleted."))
        return S.StepSpec(**base, action=S.HTTP, request=_request_of(interface),
                          assertions=[*interface.assertions, *params.get("assertions", [])],
                          extractors=[*interface.extractors, *params.get("extractors", [])],
                          variables=params.get("variables") or {})
    if step.kind == StepKind.REQUEST:
        request = {k: v for k, v in params.items() if k not in ("assertions", "extractors")}
        return S.StepSpec(**base, action=S.HTTP, request=request,
                          assertions=params.get("assertions", []),
                          extractors=params.get("extractors", []))
    if step.keyword_id is not None and (step.keyword is None or step.keyword.is_deleted):
        return S.StepSpec(**base, action=S.BROKEN,
                          problem=_("The keyword of this step was deleted."))
    return _keyword_step(step, base)


def run_settings() -> S.RunSettings:
    return S.RunSettings(
        timeout=settings.TESTING_REQUEST_TIMEOUT,
        stored_body_bytes=settings.TESTING_STORED_BODY_BYTES,
        response_bytes=settings.TESTING_RESPONSE_MAX_BYTES,
        statement_timeout=settings.TESTING_STATEMENT_TIMEOUT,
        max_rows=settings.TESTING_SQL_MAX_ROWS,
    )


def scenario_spec(run: ExecutionStep) -> S.ScenarioRunSpec:
    """Return the plain data of ``run``, secrets unsealed (call it in the worker only)."""
    environment = run.environment
    project_id = run.execution.project_id
    project_vars, env_vars, secrets = _variables(project_id, environment)
    # Origins are messages, shown later in the reader's language (engine.variables.LABELS).
    labels = {"environment": message(gettext_noop("environment %(name)s"),
                                     name=environment.name) if environment
              else message(gettext_noop("environment")),
              "project": message(gettext_noop("project globals"))}
    databases = {db.variable_name: database_spec(db) for db in
                 DatabaseConfig.objects.filter(project_id=project_id, is_enabled=True)}
    layers = {"project": project_vars, "environment": env_vars,
              "dataset": dict(run.row_values or {})}
    if run.row_number is not None:
        labels["dataset"] = message(gettext_noop("dataset row %(number)s"),
                                    number=run.row_number)
    if run.plan_entry_id is not None and run.plan_entry is not None:
        layers["plan"] = dict(run.plan_entry.variables or {})
    common = {"base_url": environment.base_url if environment else "", "layers": layers,
              "labels": labels, "secrets": secrets, "databases": databases,
              "settings": run_settings(), "row_number": run.row_number,
              "functions": usercode.tenant_functions(run.tenant_id)}
    if run.interface_id is not None:
        interface = run.interface
        step = S.StepSpec(key=str(interface.pk), title=interface.name, action=S.HTTP,
                          request=_request_of(interface), assertions=interface.assertions,
                          extractors=interface.extractors)
        return S.ScenarioRunSpec(name=interface.name, steps=[step], **common)
    scenario = run.scenario
    if scenario is None or scenario.is_deleted:
        raise RunRefused(_("The scenario of this run was deleted."))
    layers["scenario"] = dict(scenario.variables or {})
    steps = (ScenarioStep.objects.filter(scenario=scenario, is_enabled=True)
             .select_related("interface", "keyword", "builtin_keyword")
             .order_by("sort_order", "id"))
    database = scenario.database_config.variable_name if scenario.database_config_id else ""
    return S.ScenarioRunSpec(name=scenario.name, steps=[step_spec(s) for s in steps],
                             database=database, pre_sql=scenario.pre_sql,
                             post_sql=scenario.post_sql, **common)


# The worker's side


def worker_name() -> str:
    return f"{socket.gethostname()}:{threading.get_ident()}:{id(object())}"[:255]


def claim(run_id, worker: str) -> ExecutionStep | None:
    """Take ``run_id`` for ``worker``; return None when it is not to run here."""
    stale = timezone.now() - timedelta(seconds=settings.TESTING_HEARTBEAT_TIMEOUT)
    with transaction.atomic():
        run = (ExecutionStep.objects.select_for_update().select_related("execution")
               .filter(pk=run_id).first())
        if run is None or run.status in FINAL_SCENARIO_STATUSES:
            return None
        if run.status == ScenarioRunStatus.PAUSED:
            return None
        if (run.status == ScenarioRunStatus.RUNNING and run.heartbeat_at
                and run.heartbeat_at > stale):
            return None  # a live worker has it (a duplicate delivery)
        run.status = ScenarioRunStatus.RUNNING
        run.worker = worker
        run.attempts += 1
        run.heartbeat_at = timezone.now()
        run.started_at = run.started_at or run.heartbeat_at
        run.save(update_fields=["status", "worker", "attempts", "heartbeat_at", "started_at"])
        return run


class DatabaseSink:
    """Stores step results in batches with the checkpoint; answers control requests."""

    def __init__(self, run: ExecutionStep, worker: str) -> None:
        self.run = run
        self.worker = worker
        self.pending: list[StepResult] = []
        self.checkpoint = None  # the runner's: called when a batch is stored
        self.flushed_at = time.monotonic()
        self.asked_at = 0.0
        self.requested = ""
        self.lost = False  # another worker took the run over

    def record(self, result: runner.StepResult, checkpoint) -> None:
        self.pending.append(StepResult(
            tenant_id=self.run.tenant_id, execution_id=self.run.execution_id,
            scenario_run_id=self.run.pk, position=result.position, step_key=result.key[:64],
            title=result.title[:500], action=result.action, status=result.status,
            attempts=result.attempts, flaky=result.flaky, request=result.request,
            response=result.response, variables=result.variables, extracted=result.extracted,
            assertions=result.assertions, error=result.error, error_i18n=result.error_i18n,
            started_at=datetime.datetime.fromtimestamp(result.started_at, tz=datetime.UTC),
            duration_ms=result.duration_ms))
        self.checkpoint = checkpoint
        if time.monotonic() - self.flushed_at >= settings.TESTING_RESULT_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Store pending results and the checkpoint in one transaction."""
        if not self.pending:
            return
        passed = sum(r.status == "passed" for r in self.pending)
        failed = len(self.pending) - passed
        with transaction.atomic():
            updated = ExecutionStep.objects.filter(
                pk=self.run.pk, worker=self.worker, status=ScenarioRunStatus.RUNNING,
            ).update(checkpoint=self.checkpoint().as_data(), heartbeat_at=timezone.now(),
                     steps_passed=F("steps_passed") + passed,
                     steps_failed=F("steps_failed") + failed)
            if not updated:
                # Taken over (this worker was thought dead) or ended: store nothing more.
                self.lost = True
                self.pending.clear()
                return
            StepResult.objects.bulk_create(self.pending)
            Execution.objects.filter(pk=self.run.execution_id).update(
                steps_passed=F("steps_passed") + passed, steps_failed=F("steps_failed") + failed)
        self.pending.clear()
        self.flushed_at = time.monotonic()

    def control(self) -> str:
        if self.lost:
            return runner.TERMINATE
        now = time.monotonic()
        if now - self.asked_at >= 0.2 or settings.TESTING_RESULT_FLUSH_SECONDS == 0:
            self.asked_at = now
            self.requested = (Execution.objects.filter(pk=self.run.execution_id)
                              .values_list("requested", flat=True).first() or "")
        if self.requested in (ControlRequest.PAUSE, ControlRequest.TERMINATE):
            self.flush()
            return runner.PAUSE if self.requested == ControlRequest.PAUSE else runner.TERMINATE
        return runner.RUN


class Heartbeat(threading.Thread):
    """Writes the run's heartbeat every ``TESTING_HEARTBEAT_SECONDS`` until stopped."""

    def __init__(self, run_id, worker: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id = run_id
        self.worker = worker
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.TESTING_HEARTBEAT_SECONDS):
                ExecutionStep.objects.all_tenants().filter(
                    pk=self.run_id, worker=self.worker, status=ScenarioRunStatus.RUNNING,
                ).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def execute_run(run_id, *, worker: str | None = None) -> str | None:
    """Run one scenario run to its end or pause; return its status (None: not run here)."""
    worker = worker or worker_name()
    run = claim(run_id, worker)
    if run is None:
        return None
    if run.attempts > settings.TESTING_MAX_RUN_ATTEMPTS:
        return finish(run, worker, ScenarioRunStatus.ERROR,
                      message(gettext_noop("The workers running it stopped %(count)d times; "
                                           "it was not run again."), count=run.attempts - 1))
    heartbeat = Heartbeat(run.pk, worker)
    heartbeat.start()
    sink = DatabaseSink(run, worker)
    try:
        try:
            spec = scenario_spec(run)
        except RunRefused as exc:
            return finish(run, worker, ScenarioRunStatus.ERROR, str(exc))
        if not run.step_keys:
            run.step_keys = [step.key for step in spec.steps]
            run.steps_total = len(spec.steps) + bool(spec.pre_sql.strip())
            ExecutionStep.objects.filter(pk=run.pk).update(step_keys=run.step_keys,
                                                           steps_total=run.steps_total)
        checkpoint = runner.Checkpoint.from_data(run.checkpoint)
        tenant = Tenant.objects.get(pk=run.tenant_id)
        policy = outbound_policy(tenant, max_response_bytes=spec.settings.response_bytes)
        try:
            outcome = runner.run_scenario(spec, sink, policy=policy, checkpoint=checkpoint)
        except Exception as exc:  # noqa: BLE001 (the run must end in a final state)
            logger.exception("Scenario run %s failed in the engine.", run.pk)
            sink.flush()
            return finish(run, worker, ScenarioRunStatus.ERROR,
                          message(gettext_noop("The engine stopped on an unexpected error: "
                                               "%(error)s"), error=exc.__class__.__name__))
        sink.flush()
        if sink.lost:
            return None
        status = {"passed": ScenarioRunStatus.PASSED, "failed": ScenarioRunStatus.FAILED,
                  "error": ScenarioRunStatus.ERROR, "paused": ScenarioRunStatus.PAUSED,
                  "terminated": ScenarioRunStatus.TERMINATED}[outcome.status]
        return finish(run, worker, status, outcome.error)
    finally:
        heartbeat.stop()


def finish(run: ExecutionStep, worker: str, status: str, error: str = "") -> str | None:
    """Record how ``run`` ended (or paused) and move its execution on."""
    values: dict[str, Any] = {"status": status, "error": error[:10000], "worker": "",
                              "error_i18n": data_of(error)}
    if status in FINAL_SCENARIO_STATUSES:
        values["completed_at"] = timezone.now()
    with transaction.atomic():
        updated = ExecutionStep.objects.filter(pk=run.pk, worker=worker).update(**values)
    if updated:
        advance(run.execution_id)
        return status
    return None


def recover_runs() -> list[str]:
    """Send again every scenario run whose worker stopped beating; return their ids.

    Also sends again a run sent long ago that no worker took (its message lost with a
    broker that keeps nothing on disk): after ten heartbeat timeouts, once per such
    window. A duplicate message is harmless: ``claim`` lets one worker have the run.
    Runs under the all-tenants scope (a platform task); each run continues from its last
    stored checkpoint when a worker claims it.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TESTING_HEARTBEAT_TIMEOUT)
    unclaimed = now - timedelta(seconds=10 * settings.TESTING_HEARTBEAT_TIMEOUT)
    steps = ExecutionStep.objects.all_tenants()
    lost = list(steps.filter(status=ScenarioRunStatus.RUNNING, heartbeat_at__lt=stale)
                .values_list("pk", "tenant_id"))
    forgotten = list(steps.filter(status=ScenarioRunStatus.QUEUED, dispatched_at__lt=unclaimed)
                     .values_list("pk", "tenant_id"))
    if forgotten:
        steps.filter(pk__in=[pk for pk, _tenant in forgotten]).update(dispatched_at=now)
    from testing.tasks import run_scenario_run

    for run_id, tenant_id in [*lost, *forgotten]:
        logger.warning("Scenario run %s lost its worker or its message; sending it again.",
                       run_id)
        with tenant_context(tenant_id):
            run_scenario_run.delay(str(run_id))
    return [str(run_id) for run_id, _tenant in [*lost, *forgotten]]
