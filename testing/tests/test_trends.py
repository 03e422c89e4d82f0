"""Trends on the project dashboard (testing.selectors): each plan's pass rate and duration
over its last runs, the steps that fail or are retried most; bounded queries, two tenants."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.context import tenant_context
from testing import selectors
from testing.models import PlanScenario
from testing.services import runs
from testing.tests import factories as f
from testing.tests.factories import request_step, status_is
from testing.tests.test_runs import start
from tests.api_cases import make_actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]


@pytest.fixture
def plan_runs(django_capture_on_commit_callbacks, project_a, tenant_a, target):
    """Three runs of a plan: its second scenario fails once, then a retried step passes."""
    env = f.environment(project_a, "Local", base_url=target.url)
    plan = f.plan(project_a, "Nightly", environment=env)
    steady = f.scenario(project_a, "Steady")
    request_step(steady, "/json", assertions=[status_is(200)])
    shaky = f.scenario(project_a, "Shaky", variables={"code": 500})
    request_step(shaky, "/status/{{code}}", assertions=[status_is(200)])
    for order, scenario in enumerate((steady, shaky)):
        f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=order)
    executions = [start(django_capture_on_commit_callbacks, tenant_a, runs.start_plan, plan)]
    with tenant_context(tenant_a):
        type(shaky).objects.filter(pk=shaky.pk).update(variables={"code": 200})
    executions += [start(django_capture_on_commit_callbacks, tenant_a, runs.start_plan, plan)
                   for _ in range(2)]
    return plan, executions


def test_each_plan_charts_its_pass_rate_and_duration(plan_runs, project_a):
    plan, _executions = plan_runs
    with tenant_context(project_a.tenant):
        (trend,) = selectors.plan_trends(project_a)
    assert trend["name"] == "Nightly" and trend["runs"] == 3 and trend["last_rate"] == 100
    rates = [bar.title.rsplit(": ", 1)[1] for bar in trend["charts"][0].bars]
    assert rates == ["50", "100", "100"]


def test_the_steps_that_fail_most_are_listed(plan_runs, project_a):
    with tenant_context(project_a.tenant):
        unsteady = selectors.unsteady_steps(project_a)
    assert [(s["title"], s["runs"], s["failed"]) for s in unsteady] == [
        ("GET /status/{{code}}", 3, 1)]


def test_the_dashboard_shows_them_in_bounded_queries(client, plan_runs, project_a, tenant_a,
                                                      django_assert_max_num_queries):
    client.force_login(make_actor(tenant_a, ["project:view", "execution:view"]))
    url = reverse("testing:project", args=[project_a.pk])
    with django_assert_max_num_queries(20):
        page = client.get(url)
    text = page.content.decode()
    assert "Nightly: scenario runs passed (%)" in text and "<svg" in text
    assert "GET /status/{{code}}" in text


def test_another_tenants_runs_never_appear(plan_runs, project_b, tenant_b, client):
    with tenant_context(tenant_b):
        assert selectors.plan_trends(project_b) == []
        assert selectors.unsteady_steps(project_b) == []
    client.force_login(make_actor(tenant_b, ["project:view", "execution:view"]))
    text = client.get(reverse("testing:project", args=[project_b.pk])).content.decode()
    assert "Nightly" not in text and "No plan has run" in text
