"""Reports of an execution (testing.reports): JSON, JUnit XML, standalone HTML and Allure
results from one stored run, on the pages, in the API and from ``run_plan``; two tenants."""

from __future__ import annotations

import io
import json
import zipfile
from xml.etree import ElementTree

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from core.context import tenant_context
from testing import reports
from testing.models import Execution, PlanScenario, Variable
from testing.reports import allure, html
from testing.services import runs
from testing.tests import factories as f
from testing.tests.factories import request_step, status_is
from testing.tests.test_runs import start
from tests.api_cases import assert_error, make_actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]


@pytest.fixture
def execution(django_capture_on_commit_callbacks, project_a, tenant_a, target):
    """A data-driven run: row 1 passes, row 2 fails its check, with a secret in the request."""
    env = f.environment(project_a, "Local", base_url=target.url)
    with tenant_context(tenant_a):
        secret = Variable(tenant=tenant_a, project=project_a, environment=env,
                          name="password", is_secret=True)
        secret.set_value("hunter22-secret")
        secret.save()
    scenario = f.scenario(project_a, "Statuses")
    request_step(scenario, "/status/{{code}}", headers=[
        {"name": "X-Password", "value": "{{password}}"}], assertions=[status_is(200)])
    data = f.dataset(project_a, "codes", scenario=scenario, csv_data="code\n200\n500\n")
    return start(django_capture_on_commit_callbacks, tenant_a, runs.start_scenario, scenario,
                 environment=env, dataset=data)


def report_of(execution):
    with tenant_context(execution.tenant):
        return reports.build(Execution.objects.get(pk=execution.pk))


def test_the_report_counts_runs_and_steps_and_keeps_secrets_masked(execution):
    report = report_of(execution)
    assert report.counts() == {"total": 2, "passed": 1, "failed": 1, "error": 0, "skipped": 0}
    assert report.step_counts()["total"] == 2
    data = json.loads(reports.as_json(report))
    assert [run["row_number"] for run in data["runs"]] == [1, 2]
    assert data["runs"][1]["outcome"] == "failed"
    assert data["runs"][1]["steps"][0]["assertions"][0]["actual"] == 500
    assert "hunter22-secret" not in json.dumps(data)


def test_the_report_is_read_in_a_bounded_number_of_queries(execution,
                                                           django_assert_max_num_queries):
    with tenant_context(execution.tenant):
        loaded = Execution.objects.select_related("project", "environment").get(
            pk=execution.pk)
        with django_assert_max_num_queries(2):
            reports.build(loaded)


def test_junit_has_a_testcase_per_dataset_row_with_the_failure(execution):
    root = ElementTree.fromstring(reports.as_junit(report_of(execution)))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("2", "1", "0", "0")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ["Statuses [row 1]", "Statuses [row 2]"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert "status_code" in failure.get("message") and "500" in failure.get("message")
    assert "[failed]" in cases[1].find("system-out").text
    assert "T" in suite.get("timestamp") and "+" not in suite.get("timestamp")


def test_the_html_report_is_standalone_failures_first_and_masked(execution):
    text = html.render(report_of(execution))
    assert text.lstrip().startswith("<!DOCTYPE html>")
    for external in ("<script", "<link", "src=\"http", "href=\"http", "@import", "url("):
        assert external not in text
    assert text.index("Statuses [row 2]") < text.index("Statuses [row 1]")
    assert "<svg" in text and "hunter22-secret" not in text


def test_allure_results_are_written_and_read_back(execution, tmp_path):
    written = allure.write(report_of(execution), tmp_path)
    results = sorted((json.loads(path.read_text()) for path in written),
                     key=lambda result: result["name"])
    assert [(r["name"], r["status"]) for r in results] == [
        ("Statuses [row 1]", "passed"), ("Statuses [row 2]", "failed")]
    assert results[1]["parameters"] == [{"name": "code", "value": "500"}]
    assert results[1]["steps"][0]["status"] == "failed"
    assert {label["name"]: label["value"] for label in results[0]["labels"]}[
        "parentSuite"] == execution.project.name
    assert results[0]["historyId"] != results[1]["historyId"]
    assert all(r["stop"] >= r["start"] for r in results)


def test_the_pages_show_the_report_and_offer_each_file(client, execution, tenant_a):
    user = make_actor(tenant_a, ["project:view", "execution:view"])
    client.force_login(user)
    args = [execution.project_id, execution.pk]
    page = client.get(reverse("testing:run-report", args=args))
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in page
    for name, content_type in (("run-report-html", "text/html"),
                               ("run-report-junit", "application/xml"),
                               ("run-report-json", "application/json"),
                               ("run-report-allure", "application/zip")):
        response = client.get(reverse(f"testing:{name}", args=args))
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith(content_type)
        assert response["Content-Disposition"].startswith("attachment; filename=")
    archive = zipfile.ZipFile(io.BytesIO(client.get(
        reverse("testing:run-report-allure", args=args)).content))
    assert len([n for n in archive.namelist() if n.endswith("-result.json")]) == 2


def test_another_tenants_report_is_404_on_pages_and_api(client, execution, tenant_b):
    other = make_actor(tenant_b, ["project:view", "execution:view"])
    client.force_login(other)
    assert client.get(reverse("testing:run-report",
                              args=[execution.project_id, execution.pk])).status_code == 404
    api = APIClient()
    api.force_login(other)
    assert_error(api.get(reverse("api:testexecution-report",
                                 args=[execution.pk, "junit"])), 404)


def test_the_api_serves_each_report_file(execution, tenant_a):
    api = APIClient()
    api.force_login(make_actor(tenant_a, ["execution:view"]))
    response = api.get(reverse("api:testexecution-report", args=[execution.pk, "junit"]))
    assert response.status_code == 200
    assert ElementTree.fromstring(response.content).tag == "testsuites"
    data = api.get(reverse("api:testexecution-report", args=[execution.pk, "json"]))
    assert json.loads(data.content)["counts"]["failed"] == 1
    unknown = api.get(f"/api/v1/testing/executions/{execution.pk}/report/pdf/")
    assert unknown.status_code == 404


def test_run_plan_writes_the_reports_and_keeps_its_exit_code(
        django_capture_on_commit_callbacks, project_a, tenant_a, target, tmp_path):
    f.environment(project_a, "Local", base_url=target.url)
    plan = f.plan(project_a, "Nightly")
    scenario = f.scenario(project_a, "Fails")
    request_step(scenario, "/status/500", assertions=[status_is(200)])
    f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=1)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited, \
            django_capture_on_commit_callbacks(execute=True):
        call_command("run_plan", "--tenant", tenant_a.code, "--in-process", "--project",
                     project_a.name, "--plan", "Nightly", "--env", "Local",
                     "--junit", str(tmp_path / "out" / "junit.xml"),
                     "--json", str(tmp_path / "report.json"),
                     "--allure", str(tmp_path / "allure-results"), stdout=out)
    assert exited.value.code == 1
    suite = ElementTree.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "1"
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "failed"
    assert len(list((tmp_path / "allure-results").glob("*-result.json"))) == 1
    assert "Wrote 1 Allure results" in out.getvalue()
