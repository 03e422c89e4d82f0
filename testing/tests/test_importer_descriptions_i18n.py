"""The descriptions the importers write onto the variables and scenarios they create are
written in the committer's language (issue 17, item 4): the plan keeps each one's msgid and
parameters (``description_i18n``) beside its English text, through ``as_data`` and
``from_data``; importing it as a zh-hans user writes the Chinese text, as an English user the
English one; a plan stored before descriptions had ids writes its English text; another
tenant sees none of the rows.

The zh-hans catalogue gets the translations below for the test's duration (``chinese``):
the messages are new, and ``locale/`` is filled in by the lead.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.context import tenant_context
from testing.importers.base import ImportPlan
from testing.models import ImportJob, Scenario, Variable
from testing.services import imports
from testing.tests import factories as f
from testing.tests.conftest import zh_hans_catalogue_with
from testing.tests.test_message_i18n import IMPORT_CODES, reader

pytestmark = pytest.mark.django_db

BEARER_HEADER = "The bearer token of the %(name)s header"
HEADER_VALUE = "The value of the %(name)s header"
COLLECTION_BEARER = "The bearer token of the collection"
COLLECTION_API_KEY = "The API key %(name)s of the collection"
FROM_ENV = "HttpRunner read it from the environment variable %(name)s (.env)."
RECORDED = "Recorded in %(filename)s"
RECORDED_AS = "Recorded in %(filename)s as %(origin)s."
QUERY_PARAMETER = "the query parameter %(name)s of %(key)s"
HEADER_OF = "the %(name)s header of %(key)s"
API_KEY_OF = "The API key of %(name)s (the %(location)s %(key)s)."
ZH = {
    API_KEY_OF: "%(name)s 的 API 密钥（%(location)s %(key)s）。",
    "query parameter": "查询参数",
    BEARER_HEADER: "%(name)s 请求头中的 Bearer 令牌",
    HEADER_VALUE: "%(name)s 请求头的值",
    COLLECTION_BEARER: "集合的 Bearer 令牌",
    COLLECTION_API_KEY: "集合的 API 密钥 %(name)s",
    FROM_ENV: "HttpRunner 从环境变量 %(name)s（.env）读取它。",
    RECORDED: "录制于 %(filename)s",
    RECORDED_AS: "录制于 %(filename)s，原为%(origin)s。",
    QUERY_PARAMETER: "%(key)s 的查询参数 %(name)s",
    HEADER_OF: "%(key)s 的 %(name)s 请求头",
}

CURL = (b'curl -H "Authorization: Bearer abc123" -H "X-Api-Key: k1" '
        b"https://api.example.com/pets")
HAR = json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                          "entries": [{
                              "request": {"method": "GET",
                                          "url": "https://api.example.com/pets?api_key=s3cret",
                                          "headers": [{"name": "X-Auth-Token", "value": "t0k"}]},
                              "response": {"status": 200, "headers": [], "content": {}}}]}})
POSTMAN = json.dumps({
    "info": {"name": "Shop", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/"
                                       "collection.json"},
    "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "t0ken"}]},
    "item": [{"name": "List", "request": {"method": "GET", "url": "https://api.example.com/pets"}},
             {"name": "Stock", "request": {
                 "method": "GET", "url": "https://api.example.com/stock",
                 "auth": {"type": "apikey", "apikey": [{"key": "key", "value": "X-Key"},
                                                       {"key": "value", "value": "v4l"},
                                                       {"key": "in", "value": "header"}]}}}]})
HTTPRUNNER = b"""config:
  name: Shop
teststeps:
- name: list
  request:
    method: GET
    url: https://api.example.com/pets
    headers:
      Authorization: ${ENV(API_TOKEN)}
"""
HAR_KEY = "GET https://api.example.com/pets"
OPENAPI = json.dumps({
    "openapi": "3.0.3", "info": {"title": "Pets", "version": "1"},
    "servers": [{"url": "https://api.example.com"}],
    "components": {"securitySchemes": {
        "petKey": {"type": "apiKey", "in": "query", "name": "api_key"}}},
    "security": [{"petKey": []}],
    "paths": {"/pets": {"get": {"responses": {"200": {"description": "ok"}}}}}})

# Each input, and what its plan says of each variable: (msgid, params, English, Chinese).
CASES = {
    "curl": (CURL, "cmd.sh", {
        "bearer_token": (BEARER_HEADER, {"name": "Authorization"},
                         "The bearer token of the Authorization header",
                         "Authorization 请求头中的 Bearer 令牌"),
        "x_api_key": (HEADER_VALUE, {"name": "X-Api-Key"}, "The value of the X-Api-Key header",
                      "X-Api-Key 请求头的值"),
    }),
    "har": (HAR.encode(), "rec.har", {
        "api_key": (RECORDED_AS, {"filename": "rec.har", "origin": {
            "msgid": QUERY_PARAMETER, "params": {"name": "api_key", "key": HAR_KEY}}},
            f"Recorded in rec.har as the query parameter api_key of {HAR_KEY}.",
            f"录制于 rec.har，原为{HAR_KEY} 的查询参数 api_key。"),
        "x_auth_token": (RECORDED_AS, {"filename": "rec.har", "origin": {
            "msgid": HEADER_OF, "params": {"name": "X-Auth-Token", "key": HAR_KEY}}},
            f"Recorded in rec.har as the X-Auth-Token header of {HAR_KEY}.",
            f"录制于 rec.har，原为{HAR_KEY} 的 X-Auth-Token 请求头。"),
    }),
    "postman": (POSTMAN.encode(), "shop.postman_collection.json", {
        "bearer_token": (COLLECTION_BEARER, {}, "The bearer token of the collection",
                         "集合的 Bearer 令牌"),
        "x_key": (COLLECTION_API_KEY, {"name": "X-Key"}, "The API key X-Key of the collection",
                  "集合的 API 密钥 X-Key"),
    }),
    "openapi": (OPENAPI.encode(), "pets.json", {
        "petKey": (API_KEY_OF, {"name": "petKey", "key": "api_key", "location": {
            "msgid": "query parameter", "params": {}}},
            "The API key of petKey (the query parameter api_key).",
            "petKey 的 API 密钥（查询参数 api_key）。"),
    }),
    "httprunner": (HTTPRUNNER, "shop.yml", {
        "API_TOKEN": (FROM_ENV, {"name": "API_TOKEN"},
                      "HttpRunner read it from the environment variable API_TOKEN (.env).",
                      "HttpRunner 从环境变量 API_TOKEN（.env）读取它。"),
    }),
}
FORMATS = sorted(CASES)


@pytest.fixture
def chinese():
    """Give the zh-hans catalogue the translations of ``ZH`` for the test, then restore it."""
    with zh_hans_catalogue_with(ZH):
        yield


def uploaded(project, format: str) -> ImportJob:
    data, filename, _expected = CASES[format]
    with tenant_context(project.tenant):
        job = imports.upload(project, data, filename, format)
    assert job.format == format and job.is_ready
    return job


def commit(client, job: ImportJob) -> None:
    """Import the default choice of ``job`` through the API, as ``client``'s user."""
    response = client.post(f"/api/v1/testing/imports/{job.pk}/apply/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "imported"


def descriptions(project) -> dict[str, str]:
    with tenant_context(project.tenant):
        return dict(Variable.objects.filter(project=project).values_list("name",
                                                                         "description"))


@pytest.mark.parametrize("format", FORMATS)
def test_the_plan_keeps_each_description_with_its_message_id(project_a, format):
    """Each variable's description is English text with its msgid and parameters, through
    ``as_data``/``from_data`` and the JSON the job stores."""
    job = uploaded(project_a, format)
    expected = CASES[format][2]
    for plan in (ImportPlan.from_data(job.plan),
                 ImportPlan.from_data(json.loads(json.dumps(job.plan)))):
        found = {v.name: (v.description, v.description_i18n) for v in plan.variables}
        assert found == {name: (english, {"msgid": msgid, "params": params})
                         for name, (msgid, params, english, _zh) in expected.items()}
        assert all(type(v.description) is str for v in plan.variables)
        assert ImportPlan.from_data(plan.as_data()) == plan


@pytest.mark.parametrize("format", FORMATS)
def test_committing_writes_the_description_in_the_committers_language(
        tenant_a, tenant_b, format, chinese):
    """A zh-hans user's import writes the Chinese descriptions, an English user's the English
    ones; tenant B sees none of the rows and cannot import A's job."""
    expected = CASES[format][2]
    in_chinese, in_english = f.project(tenant_a, "Shop zh"), f.project(tenant_a, "Shop en")
    chinese_job, english_job = uploaded(in_chinese, format), uploaded(in_english, format)

    commit(reader(tenant_a, IMPORT_CODES, "zh-hans"), chinese_job)
    commit(reader(tenant_a, IMPORT_CODES, "en"), english_job)

    assert descriptions(in_chinese) == {name: zh for name, (*_, zh) in expected.items()}
    assert descriptions(in_english) == {name: english
                                        for name, (_m, _p, english, _zh) in expected.items()}
    with tenant_context(tenant_b):
        assert not Variable.objects.exists() and not Scenario.objects.exists()
    other = reader(tenant_b, IMPORT_CODES, "zh-hans")
    assert other.post(f"/api/v1/testing/imports/{chinese_job.pk}/apply/", {},
                      format="json").status_code == 404


@pytest.mark.parametrize("format", FORMATS)
def test_a_plan_stored_before_description_ids_commits_its_english_text(project_a, format,
                                                                        chinese):
    """A job whose plan has no ``description_i18n`` writes the English description, even for
    a zh-hans user."""
    job = uploaded(project_a, format)
    stored = dict(job.plan)
    stored["variables"] = [{key: value for key, value in variable.items()
                            if key != "description_i18n"} for variable in stored["variables"]]
    stored["scenarios"] = [{key: value for key, value in scenario.items()
                            if key != "description_i18n"} for scenario in stored["scenarios"]]
    with tenant_context(project_a.tenant):
        ImportJob.objects.filter(pk=job.pk).update(plan=stored)
        job.refresh_from_db()
    assert all(v.description_i18n is None for v in ImportPlan.from_data(job.plan).variables)

    commit(reader(project_a.tenant, IMPORT_CODES, "zh-hans"), job)

    assert descriptions(project_a) == {name: english for name, (_m, _p, english, _zh)
                                       in CASES[format][2].items()}


def test_the_recorded_scenario_is_described_in_the_committers_language_on_the_page(
        tenant_a, tenant_b, chinese):
    """Importing a HAR on the preview page as a zh-hans user writes its scenario's and
    variables' descriptions in Chinese; the English text and its id stay on the plan."""
    project = f.project(tenant_a, "Shop zh")
    job = uploaded(project, "har")
    plan = ImportPlan.from_data(job.plan)
    (scenario,) = plan.scenarios
    assert scenario.description == "Recorded in rec.har"
    assert scenario.description_i18n == {"msgid": RECORDED, "params": {"filename": "rec.har"}}
    with tenant_context(tenant_a):
        chosen = sorted(imports.choices_default(imports.preview(job)))
    assert "scenario:rec.har" in chosen

    client = reader(tenant_a, IMPORT_CODES, "zh-hans")
    response = client.post(reverse("testing:import-preview", args=[project.pk, job.pk]),
                           {"action": "import", "item": chosen})
    assert response.status_code == 302, response.content

    with tenant_context(tenant_a):
        assert Scenario.objects.get(project=project).description == "录制于 rec.har"
    assert descriptions(project) == {name: zh for name, (*_, zh) in CASES["har"][2].items()}
    with tenant_context(tenant_b):
        assert not Scenario.objects.exists() and not Variable.objects.exists()


def test_a_scenario_from_the_file_keeps_the_files_description(project_a, chinese):
    """A description the file gives (a Postman collection's) has no id and is written as it
    is, whatever the committer's language."""
    collection = json.loads(POSTMAN)
    collection["info"]["description"] = "Die Sammlung des Ladens"
    with tenant_context(project_a.tenant):
        job = imports.upload(project_a, json.dumps(collection).encode(),
                             "shop.postman_collection.json", "postman")
    (scenario,) = ImportPlan.from_data(job.plan).scenarios
    assert scenario.description_i18n is None

    commit(reader(project_a.tenant, IMPORT_CODES, "zh-hans"), job)

    with tenant_context(project_a.tenant):
        assert Scenario.objects.get(project=project_a).description == "Die Sammlung des Ladens"
