"""Third-party testcases imported and run: the corpus's HttpRunner httpbin testcase, a HAR
recording, and Newman's CSV-driven collections with their data files, imported through the
service with their host turned into an environment on a local httpbin (PyPI's), then run by
the engine; they pass. Two tenants."""

from __future__ import annotations

import pytest

from core.context import tenant_context
from testing.choices import RunStatus
from testing.importers.base import DataFile
from testing.models import (
    Dataset,
    Environment,
    ExecutionStep,
    ImportJob,
    Scenario,
    StepResult,
    Variable,
)
from testing.services import imports, runs
from testing.tests import importer_checks
from testing.tests.test_runs import start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]


def corpus(*parts: str) -> bytes:
    return importer_checks.corpus(*parts).read_bytes()


def imported(project, data: bytes, filename: str, httpbin: str,
             data_file: DataFile | None = None):
    """Import everything the file holds, its host made the environment "httpbin" on the
    local server; return the imported scenario and that environment."""
    with tenant_context(project.tenant):
        job = imports.upload(project, data, filename, data_file=data_file)
        preview = imports.preview(job)
        base_url = job.plan["base_urls"][0] if job.plan["base_urls"] else ""
        imports.apply(job, chosen=imports.choices_default(
            imports.preview(job, base_url=base_url)), base_url=base_url,
            environment="httpbin", environment_url=httpbin)
        scenario = Scenario.objects.get(project=project,
                                        name=job.plan["scenarios"][0]["name"])
        environment = Environment.objects.get(project=project, name="httpbin")
    assert preview.items
    return scenario, environment


def test_the_httprunner_httpbin_testcase_runs_and_passes(
        django_capture_on_commit_callbacks, project_a, tenant_a, httpbin):
    scenario, environment = imported(
        project_a, corpus("httprunner", "v3.1.11", "examples", "httpbin", "validate.yml"),
        "validate.yml", httpbin)
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=environment)
    assert execution.status == RunStatus.COMPLETED, execution.error
    with tenant_context(tenant_a):
        results = list(StepResult.objects.filter(execution=execution).order_by("position"))
    assert [r.status for r in results] == ["passed", "passed"]
    checks = [(a["expression"], a["actual"]) for a in results[0].assertions]
    assert ("$.args.a", "1") in checks and ("$.args.b", "2") in checks
    assert results[0].request["url"].startswith(httpbin)


def test_a_har_recording_replays_against_httpbin(
        django_capture_on_commit_callbacks, project_a, tenant_a, httpbin):
    entry = ('{"startedDateTime": "2024-01-01T00:00:00Z", "time": 1, "request": '
             '{"method": "POST", "url": "https://httpbin.org/post?x=1", "httpVersion": '
             '"HTTP/1.1", "headers": [{"name": "Content-Type", "value": "application/json"}],'
             ' "queryString": [{"name": "x", "value": "1"}], "cookies": [], "headersSize": -1,'
             ' "bodySize": 9, "postData": {"mimeType": "application/json", "text": '
             '"{\\"a\\": 1}"}}, "response": {"status": 200, "statusText": "OK", "httpVersion":'
             ' "HTTP/1.1", "headers": [], "cookies": [], "content": {"size": 2, "mimeType": '
             '"application/json"}, "redirectURL": "", "headersSize": -1, "bodySize": 2}, '
             '"cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}')
    har = ('{"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, '
           f'"entries": [{entry}]}}}}').encode()
    scenario, environment = imported(project_a, har, "session.har", httpbin)
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=environment)
    assert execution.status == RunStatus.COMPLETED, execution.error
    with tenant_context(tenant_a):
        (result,) = StepResult.objects.filter(execution=execution)
    assert '"a": 1' in result.response["body"] and '"x": "1"' in result.response["body"]


def test_two_tenants_import_the_same_testcase_apart(
        django_capture_on_commit_callbacks, project_a, project_b, tenant_a, tenant_b,
        httpbin):
    data = corpus("httprunner", "v3.1.11", "examples", "httpbin", "validate.yml")
    first, _env = imported(project_a, data, "validate.yml", httpbin)
    second, _env = imported(project_b, data, "validate.yml", httpbin)
    assert first.tenant_id == tenant_a.pk and second.tenant_id == tenant_b.pk
    with tenant_context(tenant_b):
        assert not Scenario.objects.filter(pk=first.pk).exists()


@pytest.mark.parametrize(("collection", "data"), [
    ("newman-comma-test-csv.postman_collection.json", "newman-comma-test.postman_data.csv"),
    ("newman-csv-with-bom.postman_collection.json", "newman-csv-with-bom.postman_data.csv"),
])
def test_a_csv_driven_collection_runs_once_per_data_row(
        django_capture_on_commit_callbacks, project_a, tenant_a, httpbin, collection, data):
    """The collection with its newman data file: the hard-coded postman-echo.com becomes
    the environment's base URL on the local httpbin; the scenario runs with its dataset, one
    scenario run per row, and passes, each row's values sent. The comma test's body refers
    to ``{{nameWithoutComma}}``, which neither the collection nor the data defines (newman
    sends it as written): the preview lists it, and the tester gives it a value."""
    scenario, environment = imported(
        project_a, corpus("postman", collection), collection, httpbin,
        DataFile(corpus("csv", data), data))
    with tenant_context(tenant_a):
        job = ImportJob.objects.get(project=project_a)
        undefined = [p["message"] for p in job.plan["problems"]
                     if "is defined by no variable" in p["message"]]
        if "comma" in collection:
            assert len(undefined) == 1 and "{{nameWithoutComma}}" in undefined[0]
            Variable.objects.create(project=project_a, name="nameWithoutComma",
                                    value="Abhijit Kane")
        else:
            assert undefined == []
        dataset = Dataset.objects.get(scenario=scenario)
        assert dataset.name == data
        _header, rows = dataset.preview()[:2]
    execution = start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario,
                      scenario, environment=environment, dataset=dataset)
    assert execution.status == RunStatus.COMPLETED, execution.error
    with tenant_context(tenant_a):
        scenario_runs = list(ExecutionStep.objects.filter(execution=execution))
        results = list(StepResult.objects.filter(execution=execution))
    assert len(scenario_runs) == len(rows) == 1
    assert [run.status for run in scenario_runs] == ["passed"]
    assert [r.status for r in results] == ["passed"]
    assert results[0].request["url"] == f"{httpbin}/get"
    if "comma" in collection:
        assert results[0].request["body"]["nameWithComma"] == "Abhijit, Kane"
        assert results[0].request["body"]["spaceAfterComma"] == "foo"


def test_two_tenants_import_a_collection_with_its_data_apart(
        project_a, project_b, tenant_a, tenant_b, httpbin):
    collection, data = ("newman-csv-with-bom.postman_collection.json",
                        "newman-csv-with-bom.postman_data.csv")
    first, _env = imported(project_a, corpus("postman", collection), collection, httpbin,
                           DataFile(corpus("csv", data), data))
    second, _env = imported(project_b, corpus("postman", collection), collection, httpbin,
                            DataFile(corpus("csv", data), data))
    with tenant_context(tenant_b):
        assert list(Dataset.objects.values_list("scenario", flat=True)) == [second.pk]
    with tenant_context(tenant_a):
        assert list(Dataset.objects.values_list("scenario", flat=True)) == [first.pk]
