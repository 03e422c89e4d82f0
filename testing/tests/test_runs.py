"""Runs through the service layer and Celery tasks (run in process), against a real HTTP
server on loopback: executions, data-driven rows, plans, control, recovery, two tenants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.context import tenant_context
from testing.choices import RunStatus, ScenarioRunStatus, StepKind
from testing.engine.runner import Checkpoint
from testing.models import Execution, ExecutionStep, PlanScenario, StepResult, Variable
from testing.services import runs
from testing.tests import factories as f
from testing.tests.conftest import as_stored_in_english
from testing.tests.factories import request_step, status_is
from testing.tests.http_target import TOKEN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]





@pytest.fixture
def login_scenario(project_a, target):
    """Log in with a secret password, then read /me with the extracted token."""
    env = f.environment(project_a, "Local", base_url=target.url)
    with tenant_context(project_a.tenant):
        password = Variable(tenant=project_a.tenant, project=project_a, environment=env,
                            name="password", is_secret=True)
        password.set_value("s3cret")
        password.save()
    scenario = f.scenario(project_a, "Login", variables={"user": "tester"})
    request_step(scenario, "/login", method="POST", body_type="json",
                 body={"username": "{{user}}", "password": "{{password}}"},
                 assertions=[status_is(200)],
                 extractors=[{"name": "token", "source": "json", "expression": "$.token"}])
    request_step(scenario, "/me", headers=[{"name": "Authorization",
                                             "value": "Bearer {{token}}"}],
                 assertions=[status_is(200)])
    return scenario, env


def start(django_capture_on_commit_callbacks, tenant, starter, *args, **kwargs):
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        execution = starter(*args, **kwargs)
    with tenant_context(tenant):
        execution.refresh_from_db()
    return execution


def test_a_scenario_run_stores_each_step_with_origins_and_masked_secrets(
        django_capture_on_commit_callbacks, login_scenario, tenant_a):
    scenario, env = login_scenario
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=env)
    assert execution.status == RunStatus.COMPLETED, execution.error
    assert (execution.scenarios_passed, execution.steps_passed) == (1, 2)
    with tenant_context(tenant_a):
        login, me = StepResult.objects.filter(execution=execution).order_by("position")
    assert login.request["body"] == {"username": "tester", "password": "••••••"}
    assert as_stored_in_english(login.variables["password"]) == {
        "value": "••••••", "origin": "environment Local"}
    assert login.variables["user"]["origin"] == "scenario variables"
    assert me.variables["token"]["origin"].startswith("extracted at step 1")
    assert "s3cret" not in str(StepResult.objects.all_tenants().values_list(
        "request", "response", "variables"))
    assert login.extracted == {"token": TOKEN}


def test_a_dataset_runs_the_scenario_once_per_row(django_capture_on_commit_callbacks,
                                                    project_a, tenant_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Statuses")
    request_step(scenario, "/status/{{code}}", assertions=[
        {"type": "status_code", "operator": "==", "expected_value": "{{expected}}"}])
    data = f.dataset(project_a, "codes", scenario=scenario,
                     csv_data="code,expected\n200,200\n404,404\n500,200\n")
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=env, dataset=data)
    with tenant_context(tenant_a):
        rows = list(ExecutionStep.objects.filter(execution=execution).order_by("sort_order"))
    assert [(r.row_number, r.status) for r in rows] == [(1, "passed"), (2, "passed"),
                                                        (3, "failed")]
    assert rows[2].row_values == {"code": "500", "expected": "200"}
    assert execution.status == RunStatus.FAILED
    assert (execution.scenarios_passed, execution.scenarios_failed) == (2, 1)


@pytest.mark.parametrize("csv_data, reason", [
    ("code\n", "has no rows"),
    ('code,expected\n"unclosed,1\n', "is invalid"),
])
def test_an_empty_or_invalid_dataset_refuses_the_run(project_a, tenant_a, csv_data, reason):
    scenario = f.scenario(project_a, "S")
    data = f.dataset(project_a, "d", scenario=scenario, csv_data="code\n1\n")
    with tenant_context(tenant_a):
        type(data).objects.filter(pk=data.pk).update(csv_data=csv_data)
        data.refresh_from_db()
        with pytest.raises(runs.RunRefused, match=reason):
            runs.start_scenario(scenario, dataset=data)
        assert not Execution.objects.exists()


def test_a_serial_plan_that_stops_on_failure_runs_nothing_after_it(
        django_capture_on_commit_callbacks, project_a, tenant_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    failing = f.scenario(project_a, "Fails")
    request_step(failing, "/status/500", assertions=[status_is(200)])
    after = f.scenario(project_a, "After")
    request_step(after, "/json")
    plan = f.plan(project_a, "Nightly", environment=env, stop_on_failure=True)
    for order, scenario in enumerate((failing, after)):
        f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=order)
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_plan, plan)
    with tenant_context(tenant_a):
        statuses = list(ExecutionStep.objects.filter(execution=execution)
                        .order_by("sort_order").values_list("status", "error"))
    assert statuses[0][0] == ScenarioRunStatus.FAILED
    assert statuses[1] == (ScenarioRunStatus.TERMINATED,
                           "Not run: an earlier scenario failed and the plan stops on failure.")
    assert execution.status == RunStatus.FAILED


def test_a_parallel_plan_runs_every_scenario(django_capture_on_commit_callbacks, project_a,
                                             tenant_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    plan = f.plan(project_a, "Wide", environment=env, run_mode="parallel")
    for order in range(6):
        scenario = f.scenario(project_a, f"S{order}")
        request_step(scenario, "/json", assertions=[status_is(200)])
        f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=order)
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_plan, plan)
    assert execution.status == RunStatus.COMPLETED
    assert execution.scenarios_passed == 6


def test_pause_then_resume_continues_and_completes(django_capture_on_commit_callbacks,
                                                   login_scenario, tenant_a):
    scenario, env = login_scenario
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            execution = runs.start_scenario(scenario, environment=env)
        runs.pause(execution)
        for callback in callbacks:  # the worker gets the run after the pause request
            callback()
        execution.refresh_from_db()
        assert execution.status == RunStatus.PAUSED
        assert ExecutionStep.objects.get(execution=execution).status == "paused"
        with django_capture_on_commit_callbacks(execute=True):
            runs.resume(execution)
        execution.refresh_from_db()
    assert execution.status == RunStatus.COMPLETED


def test_terminate_a_paused_run_ends_it(django_capture_on_commit_callbacks, login_scenario,
                                        tenant_a):
    scenario, env = login_scenario
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            execution = runs.start_scenario(scenario, environment=env)
        runs.pause(execution)
        for callback in callbacks:
            callback()
        runs.terminate(execution)
        execution.refresh_from_db()
        assert execution.status == RunStatus.TERMINATED
        assert ExecutionStep.objects.get(execution=execution).status == "terminated"
        with pytest.raises(runs.RunRefused):
            runs.resume(execution)


def test_a_run_whose_worker_died_continues_from_its_checkpoint(
        django_capture_on_commit_callbacks, project_a, tenant_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Two")
    first = request_step(scenario, "/anything/first")
    request_step(scenario, "/anything/second")
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):
            execution = runs.start_scenario(scenario, environment=env)
        run = ExecutionStep.objects.get(execution=execution)
        # A worker claimed it, stored step 1 with its checkpoint, and was killed.
        ExecutionStep.objects.filter(pk=run.pk).update(
            status=ScenarioRunStatus.RUNNING, worker="dead", attempts=1,
            heartbeat_at=timezone.now() - timedelta(minutes=5),
            checkpoint=Checkpoint(position=1, passed=1).as_data(),
            step_keys=[str(first.pk)])
    before = dict(target.hits)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.recover_runs() == [str(run.pk)]
    assert target.hits["/anything/first"] == before.get("/anything/first", 0)
    assert target.hits["/anything/second"] == before.get("/anything/second", 0) + 1
    with tenant_context(tenant_a):
        run.refresh_from_db()
        execution.refresh_from_db()
    assert (run.status, run.attempts) == (ScenarioRunStatus.PASSED, 2)
    assert execution.status == RunStatus.COMPLETED


def test_a_live_worker_keeps_its_run(project_a, tenant_a, target):
    scenario = f.scenario(project_a, "One")
    request_step(scenario, f"{target.url}/json")
    with tenant_context(tenant_a):
        execution = runs.start_scenario(scenario)
        run = ExecutionStep.objects.get(execution=execution)
        ExecutionStep.objects.filter(pk=run.pk).update(
            status=ScenarioRunStatus.RUNNING, worker="alive", heartbeat_at=timezone.now())
        assert runs.execute_run(run.pk, worker="other") is None
    assert runs.recover_runs() == []


def test_a_deleted_interface_fails_its_step_readably(django_capture_on_commit_callbacks,
                                                     project_a, tenant_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Uses an interface")
    interface = f.interface(project_a, "Orders", url="/json")
    f.step(scenario, kind=StepKind.INTERFACE, interface=interface)
    with tenant_context(tenant_a):
        type(interface).objects.filter(pk=interface.pk).update(is_deleted=True, alive=None)
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=env)
    assert execution.status == RunStatus.FAILED
    assert "interface of this step was deleted" in execution.error


def test_a_tenant_never_reads_or_runs_another_tenants_execution(
        django_capture_on_commit_callbacks, login_scenario, tenant_a, tenant_b):
    scenario, env = login_scenario
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):
            execution = runs.start_scenario(scenario, environment=env)
        run = ExecutionStep.objects.get(execution=execution)
    with tenant_context(tenant_b):
        assert not Execution.objects.filter(pk=execution.pk).exists()
        assert not ExecutionStep.objects.filter(pk=run.pk).exists()
        assert runs.execute_run(run.pk, worker="b") is None
        with pytest.raises(Execution.DoesNotExist):
            runs.pause(execution)
    with tenant_context(tenant_a):
        assert ExecutionStep.objects.get(pk=run.pk).status == ScenarioRunStatus.QUEUED


def test_a_run_whose_message_was_lost_is_sent_again(django_capture_on_commit_callbacks,
                                                    project_a, tenant_a, target, settings):
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Lost")
    request_step(scenario, "/anything/lost")
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):  # the message never arrives
            execution = runs.start_scenario(scenario, environment=env)
        run = ExecutionStep.objects.get(execution=execution)
        ExecutionStep.objects.filter(pk=run.pk).update(
            dispatched_at=timezone.now() - timedelta(
                seconds=11 * settings.TESTING_HEARTBEAT_TIMEOUT))
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.recover_runs() == [str(run.pk)]
    assert runs.recover_runs() == []  # ended: nothing to send again
    with tenant_context(tenant_a):
        execution.refresh_from_db()
    assert execution.status == RunStatus.COMPLETED
