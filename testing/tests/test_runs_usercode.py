"""Runs that call testers' code: a project's keyword as a step and a global function in a
template, through the service layer (run in process) and the real sandbox, two tenants."""

from __future__ import annotations

import pytest

from core.context import tenant_context
from testing.choices import RunStatus, StepKind
from testing.models import GlobalFunction, StepResult
from testing.services import runs
from testing.tests import factories as f
from testing.tests.test_runs import start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process"),
              pytest.mark.sandbox]


def global_function(tenant, class_name, method_name, code, parameters=()):
    return f.make(GlobalFunction, tenant, class_name=class_name, method_name=method_name,
                  code=code, parameters=list(parameters))


def keyword_scenario(project, target, template):
    """A scenario whose one step calls a project keyword with ``template`` as its value."""
    env = f.environment(project, "Local", base_url=target.url)
    keyword = f.keyword(project, "Echo", method_name="echo",
                        code="def echo(value):\n    return {'echoed': value}\n",
                        parameters={"type": "object", "properties": {"value": {}},
                                    "required": ["value"]})
    scenario = f.scenario(project, "Uses code")
    f.step(scenario, kind=StepKind.KEYWORD, keyword=keyword, parameters={"value": template})
    return scenario, env


def test_a_project_keyword_and_a_global_function_run_inside_a_scenario(
        django_capture_on_commit_callbacks, project_a, tenant_a, target):
    global_function(tenant_a, "Ids", "order_id",
                    "class Ids:\n    def order_id(self, n):\n        return f'A-{n:04d}'\n",
                    [{"name": "n", "type": "int"}])
    scenario, env = keyword_scenario(project_a, target, "{{Ids.order_id(7)}}")
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=env)
    assert execution.status == RunStatus.COMPLETED, execution.error
    with tenant_context(tenant_a):
        [result] = StepResult.objects.filter(execution=execution)
    assert result.response["value"] == {"echoed": "A-0007"}
    assert result.request == {"keyword": "Echo", "arguments": {"value": "A-0007"}}


def test_two_tenants_functions_of_the_same_name_are_never_confused(
        django_capture_on_commit_callbacks, project_a, project_b, tenant_a, tenant_b, target):
    for tenant, label in ((tenant_a, "tenant A"), (tenant_b, "tenant B")):
        global_function(tenant, "Who", "am_i",
                        f"class Who:\n    @staticmethod\n    def am_i():\n"
                        f"        return {label!r}\n")
    outcomes = {}
    for project, tenant in ((project_a, tenant_a), (project_b, tenant_b)):
        scenario, env = keyword_scenario(project, target, "{{Who.am_i()}}")
        execution = start(django_capture_on_commit_callbacks, tenant, runs.start_scenario,
                          scenario, environment=env)
        assert execution.status == RunStatus.COMPLETED, execution.error
        with tenant_context(tenant):
            outcomes[tenant.pk] = StepResult.objects.get(execution=execution).response["value"]
    assert outcomes == {tenant_a.pk: {"echoed": "tenant A"}, tenant_b.pk: {"echoed": "tenant B"}}


def test_another_tenants_function_is_unknown_to_a_run(
        django_capture_on_commit_callbacks, project_b, tenant_a, tenant_b, target):
    global_function(tenant_a, "Only", "a", "class Only:\n    @staticmethod\n    def a():\n"
                                           "        return 1\n")
    scenario, env = keyword_scenario(project_b, target, "{{Only.a()}}")
    execution = start(django_capture_on_commit_callbacks, tenant_b, runs.start_scenario,
                      scenario, environment=env)
    assert execution.status == RunStatus.FAILED
    with tenant_context(tenant_b):
        result = StepResult.objects.get(execution=execution)
    assert "unknown global function 'Only.a'" in result.error


def test_a_disabled_keyword_fails_its_step_saying_so(
        django_capture_on_commit_callbacks, project_a, tenant_a, target):
    scenario, env = keyword_scenario(project_a, target, "x")
    with tenant_context(tenant_a):
        scenario.steps.get().keyword.__class__.objects.filter(project=project_a).update(
            is_enabled=False)
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=env)
    with tenant_context(tenant_a):
        result = StepResult.objects.get(execution=execution)
    assert result.status == "error" and "The keyword Echo is disabled." in result.error


def test_a_secret_variable_is_masked_in_what_a_keyword_returns(
        django_capture_on_commit_callbacks, project_a, tenant_a, target):
    from testing.models import Variable

    env = f.environment(project_a, "Local", base_url=target.url)
    with tenant_context(tenant_a):
        password = Variable(tenant=tenant_a, project=project_a, environment=env,
                            name="password", is_secret=True)
        password.set_value("hunter22")
        password.save()
    keyword = f.keyword(project_a, "Sign", method_name="sign",
                        code="def sign(key):\n    print('key', key)\n    return 'signed:' + key\n",
                        parameters={"type": "object", "properties": {
                            "key": {"type": "string", "format": "password"}}})
    scenario = f.scenario(project_a, "Signs")
    f.step(scenario, kind=StepKind.KEYWORD, keyword=keyword, parameters={"key": "{{password}}"})
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=env)
    assert execution.status == RunStatus.COMPLETED, execution.error
    stored = str(StepResult.objects.all_tenants().filter(execution=execution).values_list(
        "request", "response", "variables", "error"))
    assert "hunter22" not in stored
    assert "signed:••••••" in stored and "key ••••••" in stored
