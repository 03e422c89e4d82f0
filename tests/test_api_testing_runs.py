"""The runs API under /api/v1/testing/: start, read and control executions, two tenants.

Tasks run in process (eager), against the real loopback server of the engine's tests.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.context import tenant_context
from testing.choices import StepKind
from testing.models import Execution
from testing.tests import factories as f
from tests.api_cases import assert_error, assert_field_errors, make_actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]

ALL = ["execution:view", "execution:create", "execution:control", "executionstep:view",
       "stepresult:view"]





def client_of(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def project_a(tenant_a):
    return f.project(tenant_a, "Shop A")


@pytest.fixture
def design(project_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Reads JSON")
    f.step(scenario, kind=StepKind.REQUEST, parameters={
        "method": "GET", "url": "/json",
        "assertions": [{"type": "status_code", "operator": "eq", "expected_value": 200}]})
    return {"project": project_a, "environment": env, "scenario": scenario}


def start(client, django_capture_on_commit_callbacks, execute=True, **payload):
    with django_capture_on_commit_callbacks(execute=execute):
        return client.post(reverse("api:testexecution-list"),
                           {k: str(v.pk) for k, v in payload.items()}, format="json")


def test_start_read_and_list_a_run(django_capture_on_commit_callbacks, tenant_a, design):
    client = client_of(make_actor(tenant_a, ALL))
    response = start(client, django_capture_on_commit_callbacks,
                     scenario=design["scenario"], environment=design["environment"])
    assert response.status_code == 201, response.content
    execution_id = response.json()["id"]
    detail = client.get(reverse("api:testexecution-detail", args=[execution_id])).json()
    assert detail["status"] == "completed" and detail["steps_passed"] == 1
    runs = client.get(reverse("api:testscenariorun-list"), {"execution": execution_id}).json()
    assert [r["status"] for r in runs["results"]] == ["passed"]
    steps = client.get(reverse("api:teststepresult-list"), {"execution": execution_id}).json()
    (step,) = steps["results"]
    assert step["response"]["status"] == 200 and step["assertions"][0]["passed"] is True
    listed = client.get(reverse("api:testexecution-list"),
                        {"project": str(design["project"].pk)}).json()
    assert [e["id"] for e in listed["results"]] == [execution_id]


def test_pause_resume_and_terminate(django_capture_on_commit_callbacks, tenant_a, design):
    client = client_of(make_actor(tenant_a, ALL))
    response = start(client, django_capture_on_commit_callbacks, execute=False,
                     scenario=design["scenario"], environment=design["environment"])
    url = reverse("api:testexecution-pause", args=[response.json()["id"]])
    paused = client.post(url)
    assert paused.status_code == 200 and paused.json()["requested"] == "pause"
    resumed = client.post(reverse("api:testexecution-resume", args=[response.json()["id"]]))
    assert resumed.status_code == 200, resumed.content
    with django_capture_on_commit_callbacks(execute=False):
        ended = client.post(reverse("api:testexecution-terminate",
                                    args=[response.json()["id"]]))
    assert ended.status_code == 200
    again = client.post(reverse("api:testexecution-pause", args=[response.json()["id"]]))
    assert_error(again, 409, "conflict")


def test_control_needs_its_own_code(django_capture_on_commit_callbacks, tenant_a, design):
    starter = client_of(make_actor(tenant_a, ["execution:view", "execution:create"]))
    response = start(starter, django_capture_on_commit_callbacks, execute=False,
                     scenario=design["scenario"], environment=design["environment"])
    assert response.status_code == 201
    refused = starter.post(reverse("api:testexecution-pause", args=[response.json()["id"]]))
    assert_error(refused, 403)
    reader = client_of(make_actor(tenant_a, ["execution:view"]))
    assert_error(start(reader, django_capture_on_commit_callbacks,
                       scenario=design["scenario"]), 403)


@pytest.mark.parametrize("payload, fields", [
    ({}, {"non_field_errors"}),
    ({"scenario": "x", "plan": "y"}, {"scenario", "plan"}),
    ({"scenario": "00000000-0000-0000-0000-000000000000"}, {"scenario"}),
])
def test_bad_input_is_a_400_with_field_errors(tenant_a, design, payload, fields):
    client = client_of(make_actor(tenant_a, ALL))
    response = client.post(reverse("api:testexecution-list"), payload, format="json")
    assert_field_errors(response, fields)
    with tenant_context(tenant_a):
        assert not Execution.objects.exists()


def test_an_environment_of_another_project_is_refused(tenant_a, design, target):
    other = f.project(tenant_a, "Other")
    env = f.environment(other, "Elsewhere", base_url=target.url)
    client = client_of(make_actor(tenant_a, ALL))
    response = client.post(reverse("api:testexecution-list"),
                           {"scenario": str(design["scenario"].pk),
                            "environment": str(env.pk)}, format="json")
    assert_field_errors(response, {"environment"})


def test_another_tenant_can_neither_run_read_nor_control(
        django_capture_on_commit_callbacks, tenant_a, tenant_b, design):
    mine = client_of(make_actor(tenant_a, ALL))
    execution_id = start(mine, django_capture_on_commit_callbacks, execute=False,
                         scenario=design["scenario"]).json()["id"]
    theirs = client_of(make_actor(tenant_b, ALL))
    assert_error(theirs.get(reverse("api:testexecution-detail", args=[execution_id])), 404)
    assert_error(theirs.post(reverse("api:testexecution-terminate", args=[execution_id])), 404)
    assert theirs.get(reverse("api:testexecution-list")).json()["results"] == []
    assert theirs.get(reverse("api:teststepresult-list"),
                      {"execution": execution_id}).status_code in (200, 400)
    assert theirs.get(reverse("api:testscenariorun-list")).json()["results"] == []
    refused = theirs.post(reverse("api:testexecution-list"),
                          {"scenario": str(design["scenario"].pk)}, format="json")
    assert_field_errors(refused, {"scenario"})
    with tenant_context(tenant_a):
        assert Execution.objects.get(pk=execution_id).status == "running"
