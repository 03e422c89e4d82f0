"""``manage.py run_plan``: names or ids, progress, summary, exit codes 0, 1 and 2."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.context import tenant_context
from testing.choices import StepKind
from testing.models import PlanScenario
from testing.tests import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]





@pytest.fixture
def plan(tenant_a, target):
    project = f.project(tenant_a, "Shop")
    f.environment(project, "Local", base_url=target.url)
    plan = f.plan(project, "Nightly")
    for name, url in (("Reads", "/json"), ("Fails", "/status/{{code}}")):
        scenario = f.scenario(project, name, variables={"code": 200})
        f.step(scenario, kind=StepKind.REQUEST, parameters={
            "method": "GET", "url": url,
            "assertions": [{"type": "status_code", "operator": "eq", "expected_value": 200}]})
        f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=len(name))
    return plan


def run(django_capture_on_commit_callbacks, *args):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_plan", "--tenant", "alpha", "--in-process", *args, stdout=out)
    return out.getvalue()


def test_a_passing_plan_exits_0_with_a_summary(django_capture_on_commit_callbacks, plan):
    out = run(django_capture_on_commit_callbacks, "--project", "Shop", "--plan", "Nightly",
              "--env", "Local")
    assert "[2/2]" in out and "Completed" in out and "2 of 2 scenario runs passed" in out


def test_a_failed_check_exits_1(django_capture_on_commit_callbacks, plan):
    with tenant_context(plan.tenant):
        scenario = plan.entries.get(scenario__name="Fails").scenario
        type(scenario).objects.filter(pk=scenario.pk).update(variables={"code": 500})
    with pytest.raises(SystemExit) as exited:
        run(django_capture_on_commit_callbacks, "--project", str(plan.project_id), "--plan",
            str(plan.pk), "--env", "Local")
    assert exited.value.code == 1


@pytest.mark.parametrize("args, message", [
    (["--project", "Nope", "--plan", "Nightly"], "No project is named 'Nope'"),
    (["--project", "Shop", "--plan", "Nope"], "No plan is named 'Nope'"),
    (["--project", "Shop", "--plan", "Nightly", "--env", "Nope"], "No environment"),
])
def test_a_name_that_matches_nothing_exits_2(django_capture_on_commit_callbacks, plan, args,
                                             message):
    with pytest.raises(CommandError, match=message) as error:
        run(django_capture_on_commit_callbacks, *args)
    assert error.value.returncode == 2


def test_another_tenants_plan_is_not_found(django_capture_on_commit_callbacks, plan, tenant_b):
    out = io.StringIO()
    with pytest.raises(CommandError, match="No project") as error:
        call_command("run_plan", "--tenant", "beta", "--in-process", "--project",
                     str(plan.project_id), "--plan", str(plan.pk), stdout=out)
    assert error.value.returncode == 2


def test_no_worker_within_the_timeout_exits_2(django_capture_on_commit_callbacks, plan):
    out = io.StringIO()
    with pytest.raises(CommandError, match="is a worker running") as error:
        call_command("run_plan", "--tenant", "alpha", "--project", "Shop", "--plan",
                     "Nightly", "--timeout", "0.5", stdout=out)
    assert error.value.returncode == 2
