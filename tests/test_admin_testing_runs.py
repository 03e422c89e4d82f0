"""The runs in the admin: plans started from their change list, executions read and
controlled, scenario runs and step results read-only; two tenants."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from core.context import tenant_context
from testing.choices import StepKind
from testing.models import Execution, PlanScenario, StepResult
from testing.tests import factories as f
from tests.admin_cases import make_staff_actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]

CODES = ["testplan:view", "execution:view", "execution:create", "execution:control",
         "executionstep:view", "stepresult:view"]





@pytest.fixture
def plan_a(tenant_a, target):
    project = f.project(tenant_a, "Shop")
    env = f.environment(project, "Local", base_url=target.url)
    scenario = f.scenario(project, "Reads")
    f.step(scenario, kind=StepKind.REQUEST, parameters={"method": "GET", "url": "/json"})
    plan = f.plan(project, "Nightly", environment=env)
    f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=0)
    return plan


def run_plans(client, *plans):
    return client.post(reverse("admin:testing_testplan_changelist"), {
        "action": "run_selected", ACTION_CHECKBOX_NAME: [str(p.pk) for p in plans]},
        follow=True)


def test_a_plan_runs_from_its_change_list_and_its_run_is_read_only(
        client, django_capture_on_commit_callbacks, tenant_a, plan_a):
    client.force_login(make_staff_actor(tenant_a, CODES))
    with django_capture_on_commit_callbacks(execute=True):
        response = run_plans(client, plan_a)
    assert "run started" in response.content.decode()
    with tenant_context(tenant_a):
        execution = Execution.objects.get()
        result = StepResult.objects.get()
    assert execution.status == "completed"
    page = client.get(reverse("admin:testing_execution_change", args=[execution.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(reverse("admin:testing_stepresult_change",
                              args=[result.pk])).status_code == 200
    assert client.get(reverse("admin:testing_execution_add")).status_code == 403


def test_pause_resume_terminate_from_the_change_list(
        client, django_capture_on_commit_callbacks, tenant_a, plan_a):
    client.force_login(make_staff_actor(tenant_a, CODES))
    with django_capture_on_commit_callbacks(execute=False):
        run_plans(client, plan_a)
    with tenant_context(tenant_a):
        execution = Execution.objects.get()

    def act(name):
        with django_capture_on_commit_callbacks(execute=False):
            return client.post(reverse("admin:testing_execution_changelist"), {
                "action": name, ACTION_CHECKBOX_NAME: [str(execution.pk)]}, follow=True)

    act("pause_selected")
    with tenant_context(tenant_a):
        assert Execution.objects.get().requested == "pause"
    act("resume_selected")
    act("terminate_selected")
    with tenant_context(tenant_a):
        assert Execution.objects.get().requested == "terminate"


def test_control_needs_its_code(client, tenant_a, plan_a):
    client.force_login(make_staff_actor(tenant_a, ["testplan:view", "execution:view"]))
    changelist = client.get(reverse("admin:testing_execution_changelist")).content.decode()
    assert "pause_selected" not in changelist
    plans = client.get(reverse("admin:testing_testplan_changelist")).content.decode()
    assert "run_selected" not in plans


def test_another_tenant_never_sees_the_runs(client, django_capture_on_commit_callbacks,
                                            tenant_a, tenant_b, plan_a):
    client.force_login(make_staff_actor(tenant_a, CODES))
    with django_capture_on_commit_callbacks(execute=True):
        run_plans(client, plan_a)
    with tenant_context(tenant_a):
        execution = Execution.objects.get()
        result = StepResult.objects.get()
    client.force_login(make_staff_actor(tenant_b, CODES))
    assert "Nightly" not in client.get(
        reverse("admin:testing_execution_changelist")).content.decode()
    for name, pk in (("execution", execution.pk), ("stepresult", result.pk)):
        response = client.get(reverse(f"admin:testing_{name}_change", args=[pk]))
        assert response.status_code in (302, 404)
    run_plans(client, plan_a)
    with tenant_context(tenant_a):
        assert Execution.objects.count() == 1


def test_scenarios_and_interfaces_run_in_the_environment_chosen(
        client, django_capture_on_commit_callbacks, tenant_a, tenant_b, plan_a, target):
    with tenant_context(tenant_a):
        scenario = plan_a.entries.get().scenario
        environment = plan_a.environment
    interface = f.interface(plan_a.project, "Reads JSON", url="/json")
    client.force_login(make_staff_actor(tenant_a, [*CODES, "scenario:view", "interface:view"]))
    for model, row in (("scenario", scenario), ("interface", interface)):
        url = reverse(f"admin:testing_{model}_changelist")
        asked = client.post(url, {"action": "run_selected", ACTION_CHECKBOX_NAME: [str(row.pk)]})
        assert asked.status_code == 200 and 'name="environment"' in asked.content.decode()
        other = f.environment(f.project(tenant_b, f"B {model}"), "B", base_url=target.url)
        refused = client.post(url, {"action": "run_selected", "apply": "1",
                                    "environment": str(other.pk),
                                    ACTION_CHECKBOX_NAME: [str(row.pk)]})
        assert refused.status_code == 200 and "errorlist" in refused.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            started = client.post(url, {"action": "run_selected", "apply": "1",
                                        "environment": str(environment.pk),
                                        ACTION_CHECKBOX_NAME: [str(row.pk)]}, follow=True)
        assert "run started" in started.content.decode()
    with tenant_context(tenant_a):
        assert sorted(Execution.objects.values_list("kind", "status")) == [
            ("interface", "completed"), ("scenario", "completed")]
