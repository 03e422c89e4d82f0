"""Where each value of a run came from reads in the reader's language (issue 17, item 4):
"extracted at step 1 (Log in) `$.token`" is stored in English with its msgid, and the step
page, the standalone report and the API show it in Chinese to a zh-hans reader, in English
to an English one; a step stored before origins had ids shows its text; another tenant sees
nothing of the run.

The run goes through the real service and Celery tasks (in process) against the loopback
server of the engine's tests; the zh-hans catalogue gets ``ZH`` for the test's duration.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from testing.choices import StepKind
from testing.models import StepResult
from testing.services import runs
from testing.tests import factories as f
from testing.tests.conftest import zh_hans_catalogue_with
from testing.tests.factories import request_step, status_is
from testing.tests.page_cases import as_tenant
from testing.tests.test_message_i18n import RUN_CODES, reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]

EXTRACTED = "extracted at %(step)s %(where)s"
STEP = "step %(number)s (%(title)s)"
ENVIRONMENT = "environment %(name)s"
SCENARIO = "scenario variables"
ZH = {
    EXTRACTED: "%(step)s提取的 %(where)s",
    STEP: "步骤 %(number)s（%(title)s）",
    ENVIRONMENT: "环境 %(name)s",
    SCENARIO: "场景变量",
}
ENGLISH_TOKEN = "extracted at step 1 (Log in) `$.token`"
CHINESE_TOKEN = "步骤 1（Log in）提取的 `$.token`"


@pytest.fixture
def chinese():
    with zh_hans_catalogue_with(ZH):
        yield


@pytest.fixture
def token_run(django_capture_on_commit_callbacks, tenant_a, target):
    """A finished run of tenant A: log in, then read /me with the extracted token."""
    project = f.project(tenant_a, "Shop A")
    environment = f.environment(project, "Local", base_url=target.url)
    scenario = f.scenario(project, "Login", variables={"user": "tester"})
    f.step(scenario, kind=StepKind.REQUEST, description="Log in", parameters={
        "method": "POST", "url": "/login", "body_type": "json",
        "body": {"username": "{{user}}", "password": "s3cret"}, "assertions": [status_is(200)],
        "extractors": [{"name": "token", "source": "json", "expression": "$.token"}]})
    request_step(scenario, "/me", headers=[{"name": "Authorization",
                                             "value": "Bearer {{token}}"}],
                 assertions=[status_is(200)])
    with as_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        execution = runs.start_scenario(scenario, environment=environment)
    with as_tenant(tenant_a):
        login, me = StepResult.objects.filter(execution=execution).order_by("position")
    return execution, login, me


def pages(execution, result):
    args = (execution.project_id, execution.pk)
    return {"step": reverse("testing:run-result", args=[*args, result.pk]),
            "report": reverse("testing:run-report", args=args)}


def test_an_origin_is_stored_in_english_with_its_message_id(token_run):
    execution, login, me = token_run
    assert me.status == "passed", me.error
    assert me.variables["token"]["origin"] == ENGLISH_TOKEN
    assert me.variables["token"]["origin_i18n"] == {"msgid": EXTRACTED, "params": {
        "step": {"msgid": STEP, "params": {"number": 1, "title": "Log in"}},
        "where": "`$.token`"}}
    assert login.variables["user"]["origin_i18n"] == {"msgid": SCENARIO, "params": {}}


def test_the_step_page_and_the_report_show_origins_in_the_readers_language(
        token_run, tenant_a, chinese):
    execution, login, me = token_run
    chinese_reader = reader(tenant_a, RUN_CODES, "zh-hans")
    english_reader = reader(tenant_a, RUN_CODES, "en")
    for page in (pages(execution, me)["step"], pages(execution, me)["report"]):
        shown = chinese_reader.get(page).content.decode()
        assert CHINESE_TOKEN in shown and ENGLISH_TOKEN not in shown, page
        shown = english_reader.get(page).content.decode()
        assert ENGLISH_TOKEN in shown and CHINESE_TOKEN not in shown, page
    shown = chinese_reader.get(pages(execution, login)["step"]).content.decode()
    assert "场景变量" in shown and "scenario variables" not in shown
    assert "环境 Local" not in shown      # the password is literal: no variable read


def test_the_api_adds_the_localized_origin_beside_the_english_one(token_run, tenant_a,
                                                                  chinese):
    execution, login, me = token_run
    api = reader(tenant_a, RUN_CODES)
    for language, expected in (("zh-hans", CHINESE_TOKEN), ("en", ENGLISH_TOKEN)):
        results = api.get(reverse("api:teststepresult-list"), {"execution": str(execution.pk)},
                          HTTP_ACCEPT_LANGUAGE=language).json()["results"]
        token = next(step for step in results
                     if str(step["id"]) == str(me.pk))["variables"]["token"]
        assert token["origin"] == ENGLISH_TOKEN
        assert token["origin_localized"] == expected


def test_a_step_stored_before_origins_had_ids_shows_its_text(token_run, tenant_a, chinese):
    execution, login, me = token_run
    with as_tenant(tenant_a):
        me.variables = {"token": {"value": "t", "origin": "step 1 'Log in': $.token"}}
        me.save(update_fields=["variables"])
    shown = reader(tenant_a, RUN_CODES, "zh-hans").get(pages(execution, me)["step"])
    assert "step 1 &#x27;Log in&#x27;: $.token" in shown.content.decode()


def test_another_tenant_sees_nothing_of_the_run(token_run, tenant_b, chinese):
    execution, login, me = token_run
    other = reader(tenant_b, RUN_CODES, "zh-hans")
    for page in pages(execution, me).values():
        assert other.get(page).status_code == 404
    assert other.get(reverse("api:teststepresult-list"),
                     {"execution": str(execution.pk)}).json().get("results", []) == []
