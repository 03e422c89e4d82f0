"""Messages the engine and the importers store show in the reader's language (issue 17,
item 4): run and step pages, the standalone report, the API and the import preview answer in
Chinese for a zh-hans reader and in English for an English one; rows stored before messages
had ids still show their English text; JUnit XML stays English; another tenant sees nothing.

Runs go through the real service and Celery tasks (in process) against the loopback server
of the engine's tests. The zh-hans catalogue gets the translations below for the test's
duration (``chinese``): the messages are new, and ``locale/`` is filled in by the lead.
"""

from __future__ import annotations

import io
import json
import pickle

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from testing.engine import checks
from testing.engine.messages import Message, message, render
from testing.importers.base import Problem
from testing.models import Execution, ExecutionStep, ImportJob, StepResult
from testing.tests import factories as f
from testing.tests.factories import request_step, status_is
from testing.tests.conftest import zh_hans_catalogue_with
from testing.tests.page_cases import as_tenant
from tests.api_cases import make_actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]

WHERE = "%(where)s: %(outcome)s"
STEP = "%(step)s: %(error)s"
RUN = "%(run)s: %(error)s"
EXPECTED = "expected %(comparator)s %(expected)s, got %(actual)s"
WEBHOOK = ("Not imported: a webhook is a request the API sends to its subscribers, not one "
           "it answers.")
ZH = {
    WHERE: "%(where)s：%(outcome)s",
    STEP: "%(step)s：%(error)s",
    RUN: "%(run)s：%(error)s",
    EXPECTED: "预期 %(comparator)s %(expected)s，实际为 %(actual)s",
    WEBHOOK: "未导入：webhook 是 API 发给订阅方的请求，而不是它应答的请求。",
}
ENGLISH_FAILURE = "status_code: expected eq 200, got 404"
CHINESE_FAILURE = "status_code：预期 eq 200，实际为 404"
CHINESE_WEBHOOK = ZH[WEBHOOK]
RUN_CODES = ["project:view", "execution:view", "execution:create", "executionstep:view",
             "stepresult:view"]
IMPORT_CODES = ["project:view", "importjob:view", "importjob:create", "interface:create",
                "variable:create", "scenario:create", "interface:view"]


@pytest.fixture
def chinese():
    """Give the zh-hans catalogue the translations of ``ZH`` for the test, then restore it."""
    with zh_hans_catalogue_with(ZH):
        yield


def reader(tenant, codes, language=""):
    """Return a signed-in test client of a user of ``tenant`` reading in ``language``."""
    user = make_actor(tenant, codes)
    user.language = language
    user.save(update_fields=["language"])
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def failed_run(django_capture_on_commit_callbacks, tenant_a, target):
    """A finished run of tenant A whose one step expected 200 and got 404."""
    project = f.project(tenant_a, "Shop A")
    environment = f.environment(project, "Local", base_url=target.url)
    scenario = f.scenario(project, "Missing page")
    request_step(scenario, "/status/404", assertions=[status_is(200)])
    from testing.services import runs

    with as_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        execution = runs.start_scenario(scenario, environment=environment)
    with as_tenant(tenant_a):
        (result,) = StepResult.objects.filter(execution=execution)
    return execution, result


def run_pages(execution, result):
    args = (execution.project_id, execution.pk)
    return {"run": reverse("testing:run", args=args),
            "step": reverse("testing:run-result", args=[*args, result.pk]),
            "report": reverse("testing:run-report", args=args)}


# The messages themselves


def test_a_message_is_its_english_text_and_keeps_its_id_and_parameters():
    """A ``Message`` reads as English wherever a str is used, survives pickling, and its
    data renders in the active language with nested messages translated too."""
    outcome = checks.compare("eq", 404, 200)
    assert outcome.message == "expected eq 200, got 404"
    assert outcome.message.as_data() == {"msgid": EXPECTED, "params": {
        "comparator": "eq", "expected": "200", "actual": "404"}}
    said = message(WHERE, where="status_code", outcome=outcome.message)
    assert said == ENGLISH_FAILURE and json.dumps(said) == json.dumps(ENGLISH_FAILURE)
    assert pickle.loads(pickle.dumps(said)).as_data() == said.as_data()
    assert render(said.as_data()) == ENGLISH_FAILURE


def test_render_translates_and_never_interpolates_a_parameter(chinese):
    """A parameter is a value: a ``%(name)s`` or markup in it stays as written, in either
    language; a translation that does not fit its parameters falls back to English."""
    data = message(EXPECTED, comparator="eq", expected="'%(where)s'",
                   actual="<b>404</b>").as_data()
    with translation.override("zh-hans"):
        assert render(data) == "预期 eq '%(where)s'，实际为 <b>404</b>"
    with translation.override("en"):
        assert render(data) == "expected eq '%(where)s', got <b>404</b>"
    broken = {"msgid": EXPECTED, "params": {"comparator": "eq"}}
    assert render(broken, "stored text") == "stored text"
    for old in (None, "", {"msgid": 3}, {"msgid": EXPECTED, "params": []}):
        assert render(old, "stored text") == "stored text"


def test_a_problem_keeps_the_id_of_its_message_and_an_old_one_its_text(chinese):
    """An importer's problem stores its message's id; one stored before shows its text."""
    problem = Problem("/webhooks/x", Message(WEBHOOK), "skipped")
    assert type(problem.message) is str and problem.message == WEBHOOK
    assert problem.message_i18n == {"msgid": WEBHOOK, "params": {}}
    old = Problem(where="/webhooks/x", message="Stored before.", severity="skipped")
    with translation.override("zh-hans"):
        assert problem.text() == CHINESE_WEBHOOK
        assert old.text() == "Stored before."


# Runs: pages, report, API, JUnit


def test_an_assertion_failure_reads_in_the_readers_language(tenant_a, failed_run, chinese):
    """The same failed step reads in Chinese for a zh-hans user and in English for an
    English one: the run page, the step's detail and the standalone report."""
    execution, result = failed_run
    assert result.error == ENGLISH_FAILURE
    assert result.error_i18n["msgid"] == WHERE
    assert result.assertions[0]["message"] == ENGLISH_FAILURE
    pages = run_pages(execution, result)
    chinese_reader = reader(tenant_a, RUN_CODES, "zh-hans")
    english_reader = reader(tenant_a, RUN_CODES, "en")
    for name, address in pages.items():
        shown = chinese_reader.get(address).content.decode()
        assert CHINESE_FAILURE in shown and ENGLISH_FAILURE not in shown, name
        shown = english_reader.get(address).content.decode()
        assert ENGLISH_FAILURE in shown and CHINESE_FAILURE not in shown, name


def test_the_api_answers_in_the_requested_language_beside_the_english_text(
        tenant_a, failed_run, chinese):
    """``error`` and each assertion's ``message`` stay English; ``error_localized`` and
    ``message_localized`` follow Accept-Language."""
    execution, _result = failed_run
    client = reader(tenant_a, RUN_CODES)
    address = reverse("api:teststepresult-list")
    for language, expected in (("zh-hans", CHINESE_FAILURE), ("en", ENGLISH_FAILURE)):
        body = client.get(address, {"execution": str(execution.pk)},
                          HTTP_ACCEPT_LANGUAGE=language).json()
        (step,) = body["results"]
        assert step["error"] == ENGLISH_FAILURE and step["error_localized"] == expected
        (check,) = step["assertions"]
        assert check["message"] == ENGLISH_FAILURE and check["message_localized"] == expected
        assert check["message_i18n"]["msgid"] == WHERE
        (run,) = client.get(reverse("api:testscenariorun-list"),
                            {"execution": str(execution.pk)},
                            HTTP_ACCEPT_LANGUAGE=language).json()["results"]
        assert run["error"] == f"GET /status/404: {ENGLISH_FAILURE}"
        assert run["error_localized"].endswith(expected)
        detail = client.get(reverse("api:testexecution-detail", args=[execution.pk]),
                            HTTP_ACCEPT_LANGUAGE=language).json()
        assert detail["error"].endswith(ENGLISH_FAILURE)
        assert detail["error_localized"].endswith(expected)


def test_junit_and_allure_stay_english_for_a_chinese_reader(tenant_a, failed_run, chinese):
    """Files for machines keep the English text whatever the reader's language."""
    execution, _result = failed_run
    client = reader(tenant_a, RUN_CODES, "zh-hans")
    args = (execution.project_id, execution.pk)
    junit = client.get(reverse("testing:run-report-junit", args=args)).content.decode()
    assert "expected eq 200, got 404" in junit and "预期" not in junit
    api = client.get(reverse("api:testexecution-report", args=[execution.pk, "junit"]),
                     HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "expected eq 200, got 404" in api and "预期" not in api


def test_a_step_stored_before_messages_had_ids_shows_its_text(tenant_a, failed_run, chinese):
    """A row with plain English (no message id) shows that text on every page and in the
    API, whatever the reader's language."""
    execution, result = failed_run
    legacy = "status_code: expected 200, got 404 (stored before)"
    with as_tenant(tenant_a):
        StepResult.objects.filter(pk=result.pk).update(
            error=legacy, error_i18n=None,
            assertions=[{**result.assertions[0], "message": legacy, "message_i18n": None}])
        ExecutionStep.objects.filter(execution=execution).update(error=legacy, error_i18n=None)
        Execution.objects.filter(pk=execution.pk).update(error=legacy, error_i18n=None)
    client = reader(tenant_a, RUN_CODES, "zh-hans")
    for name, address in run_pages(execution, result).items():
        shown = client.get(address).content.decode()
        assert legacy in shown and CHINESE_FAILURE not in shown, name
    (step,) = client.get(reverse("api:teststepresult-list"),
                         {"execution": str(execution.pk)}).json()["results"]
    assert step["error_localized"] == legacy
    assert step["assertions"][0]["message_localized"] == legacy


def test_another_tenant_sees_nothing_of_the_run(tenant_a, tenant_b, failed_run, chinese):
    """Tenant B's reader, holding the same codes, gets 404 for tenant A's run pages and no
    step result of it in the API."""
    execution, result = failed_run
    client = reader(tenant_b, RUN_CODES, "zh-hans")
    for name, address in run_pages(execution, result).items():
        assert client.get(address).status_code == 404, name
    body = client.get(reverse("api:teststepresult-list"),
                      {"execution": str(execution.pk)}).json()
    assert body.get("results", []) == []


# The import preview


WEBHOOK_DOCUMENT = json.dumps({
    "openapi": "3.1.0", "info": {"title": "Pets", "version": "1"},
    "paths": {"/pets": {"get": {"responses": {"200": {"description": "ok"}}}}},
    "webhooks": {"newPet": {"post": {"responses": {"200": {"description": "ok"}}}}},
}).encode()


def upload(client, project) -> str:
    """Upload ``WEBHOOK_DOCUMENT`` on the import page; return the preview's address."""
    file = io.BytesIO(WEBHOOK_DOCUMENT)
    file.name = "pets.json"
    response = client.post(reverse("testing:import", args=[project.pk]), {"file": file})
    assert response.status_code == 302, response.content
    return response["Location"]


def test_an_import_problem_reads_in_the_readers_language(tenant_a, tenant_b, chinese):
    """The preview lists the importer's problem in Chinese for a zh-hans user and in English
    for an English one, on the page and in the API; a plan stored before messages had ids
    shows its English text; another tenant's reader finds no preview."""
    project = f.project(tenant_a, "Shop A")
    chinese_reader = reader(tenant_a, IMPORT_CODES, "zh-hans")
    preview = upload(chinese_reader, project)
    page = chinese_reader.get(preview).content.decode()
    assert CHINESE_WEBHOOK in page and WEBHOOK not in page
    english_reader = reader(tenant_a, IMPORT_CODES, "en")
    page = english_reader.get(preview).content.decode()
    assert WEBHOOK in page and CHINESE_WEBHOOK not in page

    with as_tenant(tenant_a):
        job = ImportJob.objects.get(project=project)
    api = reader(tenant_a, IMPORT_CODES)
    for language, expected in (("zh-hans", CHINESE_WEBHOOK), ("en", WEBHOOK)):
        body = api.get(f"/api/v1/testing/imports/{job.pk}/",
                       HTTP_ACCEPT_LANGUAGE=language).json()
        (problem,) = body["problems"]
        assert problem["message"] == WEBHOOK and problem["message_localized"] == expected
        assert problem["message_i18n"] == {"msgid": WEBHOOK, "params": {}}

    stored = dict(job.plan)
    stored["problems"] = [{key: value for key, value in problem.items()
                           if key != "message_i18n"} for problem in stored["problems"]]
    with as_tenant(tenant_a):
        ImportJob.objects.filter(pk=job.pk).update(plan=stored)
    page = chinese_reader.get(preview).content.decode()
    assert WEBHOOK in page and CHINESE_WEBHOOK not in page

    other = reader(tenant_b, IMPORT_CODES, "zh-hans")
    assert other.get(preview).status_code == 404
    assert other.get(f"/api/v1/testing/imports/{job.pk}/").status_code == 404
