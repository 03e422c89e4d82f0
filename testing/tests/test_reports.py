"""Reports of an execution (testing.reports): JSON, JUnit XML, standalone HTML and Allure
results from one stored run, on the pages, in the API and from ``run_plan``; two tenants."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import require_tool
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


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def junit_schema():
    """The common JUnit schema (Jenkins' junit-10.xsd; scripts/fetch_junit_schema.py)."""
    import xmlschema

    return xmlschema.XMLSchema(str(require_tool(
        ROOT / "var" / "test-tools" / "junit-10.xsd", "the JUnit schema")))


def every_outcome() -> reports.Report:
    """A report holding each outcome, a flaky step, and text no XML may carry verbatim."""
    def step(status, error="", attempts=1, flaky=False):
        return reports.StepReport(
            position=0, title="GET /thing", action="request", status=status,
            attempts=attempts, flaky=flaky, duration_ms=1234.5, error=error,
            started_at="2026-12-06T10:00:00+00:00")

    def run(name, status, steps, error=""):
        return reports.RunReport(
            id=name, name=name, scenario=name, row_number=None, row_values={}, status=status,
            error=error, started_at="2026-12-06T10:00:00+00:00",
            completed_at="2026-12-06T10:00:01.5+00:00", duration_ms=1500.0, steps=steps)

    return reports.Report(
        id="e1", name="Nightly <all> & \"more\"", kind="plan", project="Shop",
        environment="", status="failed", error="", started_at="", completed_at="",
        duration_ms=1_234_567.0, generated_at="2026-12-06T10:00:02+00:00", runs=[
            run("passes", "passed", [step("passed", attempts=3, flaky=True)]),
            run("fails", "failed", [step("failed", "body was \x1b[31mred\x00 \ud83d")]),
            run("breaks", "error", [step("error", "connection refused")], "boom \x07"),
            run("stopped", "terminated", []),
        ])


def test_junit_is_valid_against_the_common_schema(junit_schema, execution):
    for report in (report_of(execution), every_outcome()):
        junit_schema.validate(reports.as_junit(report))
    suite = ElementTree.fromstring(reports.as_junit(every_outcome())).find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("4", "1", "1", "1")
    failure = suite.find("testcase[@name='fails']/failure")
    assert "\\x1b[31mred\\x00 \\ud83d" in failure.get("message")


def test_the_allure_command_line_reads_the_results(execution, tmp_path):
    """The Allure CLI (tools/package.json) turns the results into a report with the run's
    outcomes, steps and parameters."""
    allure_cli = require_tool(ROOT / "tools" / "node_modules" / ".bin" / "allure",
                              "the Allure command line")
    results, site = tmp_path / "allure-results", tmp_path / "allure-report"
    allure.write(report_of(execution), results)
    subprocess.run([str(allure_cli), "generate", str(results), "-o", str(site), "--clean"],
                   check=True, capture_output=True, timeout=120)
    summary = json.loads((site / "widgets" / "summary.json").read_text())
    assert {k: summary["statistic"][k] for k in ("total", "passed", "failed", "broken")} == {
        "total": 2, "passed": 1, "failed": 1, "broken": 0}
    cases = {case["name"]: case for case in (
        json.loads(path.read_text()) for path in (site / "data" / "test-cases").glob("*.json"))}
    failed = cases["Statuses [row 2]"]
    assert failed["status"] == "failed"
    assert failed["parameters"] == [{"name": "code", "value": "500"}]
    assert [s["status"] for s in failed["testStage"]["steps"]] == ["failed"]
    suites = json.loads((site / "data" / "suites.json").read_text())
    assert [child["name"] for child in suites["children"]] == [execution.project.name]


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


def test_an_ended_run_stores_its_allure_results_and_serves_them(client, execution, tenant_a):
    """allure_report_path (seed 3.16) points at the stored files; the download is them, the
    same files each time."""
    from django.core.files.storage import default_storage

    execution.refresh_from_db()
    where = execution.allure_report_path
    assert where == f"allure-results/{tenant_a.pk}/{execution.pk}/"
    stored = sorted(allure.stored(where))
    assert len(stored) == 2 and all(name.endswith("-result.json") for name, _ in stored)
    assert default_storage.exists(where + stored[0][0])
    client.force_login(make_actor(tenant_a, ["project:view", "execution:view"]))
    url = reverse("testing:run-report-allure", args=[execution.project_id, execution.pk])

    def served():
        archive = zipfile.ZipFile(io.BytesIO(client.get(url).content))
        return sorted((name.removeprefix("allure-results/"), archive.read(name))
                      for name in archive.namelist())

    assert served() == stored == served()


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
    detail = api.get(reverse("api:testexecution-detail", args=[execution.pk])).json()
    assert detail["allure_report_path"] == f"allure-results/{tenant_a.pk}/{execution.pk}/"
    assert detail["schedule"] is None and detail["details_pruned_at"] is None


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
