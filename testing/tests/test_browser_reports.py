"""Reports and schedules in a real browser (issue 15, items 2 and 4).

Headless Chromium from Debian's ``chromium`` package, driven by Playwright for Python
through ``executable_path``, with the fixtures of ``test_browser.py``: no browser is
downloaded. The demo tester of ``seed_demo`` reads the report
of a finished data-driven run (one failing row) and downloads each of its files; adds,
pauses and deletes a schedule on a plan's page through its htmx forms, a bad cron
expression included; then reads both pages with Simplified Chinese as their language.

Without Chromium or Playwright the tests skip, saying what is missing; with
``ATRIUM_REQUIRE_SERVICES`` set (CI) they fail instead.

Playwright's synchronous API runs an event loop in this thread, where Django refuses ORM
calls; so the database is set up before the browser starts.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import translation

from testing.tests import test_browser

SECRET = "hunter22-secret"
MASK = "••••••"
pytestmark = [*test_browser.pytestmark, pytest.mark.usefixtures("runs_in_process")]
demo = test_browser.demo
browser = test_browser.browser


@pytest.fixture
def reported(demo, target):
    """In the demo tenant, a project (its names in Chinese, so that a Chinese page holds no
    English but what the platform wrote) whose plan runs a scenario over a dataset; its
    schedule started a run that finished: row 1 passed, row 2 failed its status check, a
    secret sent in a header. Return the addresses the tests open."""
    from core.context import tenant_context
    from tenants.models import Tenant
    from testing.models import Execution, PlanScenario, PlanSchedule, Variable
    from testing.services import runs
    from testing.tests import factories as f

    tenant = Tenant.objects.get(code=demo["tenant"])
    project = f.project(tenant, "报告演示")
    env = f.environment(project, "本地", base_url=target.url)
    with tenant_context(tenant):
        secret = Variable(tenant=tenant, project=project, environment=env, name="password",
                          is_secret=True)
        secret.set_value(SECRET)
        secret.save()
    scenario = f.scenario(project, "状态码")
    f.request_step(scenario, "/status/{{code}}", headers=[
        {"name": "X-Password", "value": "{{password}}"}], assertions=[f.status_is(200)])
    data = f.dataset(project, "状态码表", scenario=scenario, csv_data="code\n200\n500\n")
    plan = f.plan(project, "夜间计划")
    f.make(PlanScenario, tenant, plan=plan, scenario=scenario, dataset=data)
    schedule = f.make(PlanSchedule, tenant, plan=plan, project=project, cron="0 6 * * *",
                      timezone="Asia/Shanghai")
    with tenant_context(tenant):
        scenario.steps.update(description="查询状态码")
        started = runs.start_plan(plan, environment=env, schedule=schedule)
        execution = Execution.objects.get(pk=started.pk)
    assert execution.status == "failed" and execution.scenarios_failed == 1, execution.error
    args = [project.pk, execution.pk]
    return {"run": demo["url"] + reverse("testing:run", args=args),
            "report": demo["url"] + reverse("testing:run-report", args=args),
            "plan": demo["url"] + reverse("testing:plan", args=[project.pk, plan.pk]),
            "schedule": f"schedule-{schedule.pk}"}


@pytest.fixture
def chinese_tester(demo):
    """The demo tester chose Simplified Chinese as their language (their browser is in
    English: the user's choice wins)."""
    from accounts.models import User
    from core.context import tenant_context
    from tenants.models import Tenant

    with tenant_context(Tenant.objects.get(code=demo["tenant"])):
        assert User.objects.filter(username=demo["username"]).update(language="zh-hans") == 1


def open_page(browser, demo):
    """Return a page signed in as the demo tester, its browser in English, taking downloads."""
    return test_browser.open_page(browser, demo, accept_downloads=True)


def download(page, selector: str) -> tuple[str, bytes]:
    """Click the download link ``selector``; return the file's suggested name and bytes."""
    with page.expect_download() as caught:
        page.click(selector)
    done = caught.value
    assert done.failure() is None, done.failure()
    return done.suggested_filename, Path(done.path()).read_bytes()


# Reports


def test_the_report_of_a_data_driven_run_and_its_files(reported, browser, demo):
    """The report counts the rows, lists the failing one first, opens a step's request,
    response and checks with the secret masked; each download is a file its tool reads."""
    page = open_page(browser, demo)
    page.goto(reported["run"])
    assert page.inner_text("#run-status") == "Failed"
    names = {}
    names["html"], html_file = download(page, "nav.report-links a[href$='report.html']")
    names["junit"], junit_file = download(page, "nav.report-links a[href$='report.xml']")
    names["json"], json_file = download(page, "nav.report-links a[href$='report.json']")
    names["allure"], allure_file = download(page, "nav.report-links a[href$='.zip']")
    assert [Path(name).suffix for name in names.values()] == [".html", ".xml", ".json", ".zip"]

    # The report page, from the run page's link.
    page.click("nav.report-links a:text-is('Report')")
    page.wait_for_selector("main h1")
    cards = [" ".join(text.split()) for text in page.locator(".cards .card").all_inner_texts()]
    assert cards[:4] == ["2 scenario runs", "1 passed", "1 failed", "0 errors"]
    headings = page.locator("section.run h3").all_inner_texts()
    assert "row 2" in headings[0] and "Failed" in headings[0]
    assert "row 1" in headings[1] and "Passed" in headings[1]
    failing = page.locator("section.run").first
    details = failing.locator("details").first
    assert not details.locator("pre").first.is_visible()
    details.locator("summary").click()
    assert details.get_attribute("open") is not None
    opened = details.inner_text()
    assert "X-Password" in opened and MASK in opened and "/status/500" in opened
    assert "500" in details.locator("tbody").first.inner_text()  # the check's actual value
    assert SECRET not in page.content()

    # The files: a standalone page, JUnit XML, JSON and Allure results, masked.
    html_text = html_file.decode()
    assert html_text.lstrip().startswith("<!DOCTYPE html>")
    for external in ("<script", "<link", 'src="http', 'href="http', "@import"):
        assert external not in html_text
    suite = ElementTree.fromstring(junit_file).find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert len(suite.findall("testcase/failure")) == 1
    report = json.loads(json_file)
    assert report["counts"]["failed"] == 1 and report["status"] == "failed"
    results = [name for name in zipfile.ZipFile(io.BytesIO(allure_file)).namelist()
               if name.endswith("-result.json")]
    assert len(results) == 2
    for body in (html_file, junit_file, json_file, allure_file):
        assert SECRET.encode() not in body
    # The standalone file opens in the browser as the page did, with nothing to fetch.
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.set_content(html_text)
    assert page.locator(".cards .card").count() >= 3 and fetched == []
    assert page.script_errors == []


# Schedules


def schedule_rows(page):
    return page.locator("#schedules tbody tr[id^='schedule-']")


def test_add_pause_and_delete_a_schedule_in_place(reported, browser, demo):
    """The schedules section of a plan answers each form in place: a schedule added shows
    its next three times in its zone; a bad cron shows its field error with what was typed;
    pause and delete change the row without reloading the page."""
    page = open_page(browser, demo)
    # The run page says which schedule started the run and leads to it on the plan page,
    # where the schedule's last run is that run, failed.
    page.goto(reported["run"])
    marker = page.locator(".started-by-schedule")
    assert " ".join(marker.inner_text().split()) == "Schedule 0 6 * * * (Asia/Shanghai)"
    marker.locator("a").click()
    page.wait_for_url(f"**/plans/*/#{reported['schedule']}")
    last_run = page.locator(f"#{reported['schedule']} .last-run")
    assert "Failed" in last_run.inner_text()
    assert reported["run"].endswith(last_run.locator("a").get_attribute("href"))
    page.evaluate("window.sameDocument = true")
    assert schedule_rows(page).count() == 1

    page.click("#schedules details.add-schedule summary")
    page.fill("#schedule-cron", "0 9 * * 1-5")
    page.fill("#schedule-timezone", "Asia/Shanghai")
    with page.expect_response(lambda r: r.url.endswith("/schedules/new/")) as answer:
        page.click("#schedule-add")
    assert answer.value.status == 200
    page.wait_for_selector("#schedules tbody code:text-is('0 9 * * 1-5')")
    assert schedule_rows(page).count() == 2
    row = schedule_rows(page).nth(1)
    times = row.locator(".next-runs time").all_inner_texts()
    assert len(times) == 3 and all(re.fullmatch(r"\d{4}-\d\d-\d\d 09:00 CST", t) for t in times)
    page.wait_for_function("document.getElementById('live-status').textContent.length > 0")

    # A bad expression: a 400, the error under the cron field, the input as typed.
    page.click("#schedules details.add-schedule summary")
    page.fill("#schedule-cron", "75 * * * *")
    page.fill("#schedule-timezone", "Europe/Paris")
    with page.expect_response(lambda r: r.url.endswith("/schedules/new/")) as answer:
        page.click("#schedule-add")
    assert answer.value.status == 400
    page.wait_for_selector("#schedule-cron_error")
    assert "Bad minute" in page.inner_text("#schedule-cron_error")
    assert page.input_value("#schedule-cron") == "75 * * * *"
    assert page.input_value("#schedule-timezone") == "Europe/Paris"
    assert page.locator("#schedules details.add-schedule[open]").count() == 1
    assert schedule_rows(page).count() == 2

    # Pause: the row says so and offers to resume; its times are gone.
    row.locator("button[id^='schedule-toggle-']").click()
    page.wait_for_selector("#schedules tbody button[id^='schedule-toggle-']:has-text('Resume')")
    row = schedule_rows(page).nth(1)
    assert row.locator(".next-runs time").count() == 0 and "Paused" in row.inner_text()
    assert schedule_rows(page).first.locator(".next-runs time").count() == 3  # untouched

    # Delete, after the confirmation htmx asks for.
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("a.button.danger").click()
    page.wait_for_function("document.querySelectorAll('#schedules tbody tr').length === 1")
    assert schedule_rows(page).first.get_attribute("id") == reported["schedule"]
    assert page.evaluate("window.sameDocument === true")  # every answer swapped in place
    page.reload()
    assert schedule_rows(page).count() == 1
    assert page.script_errors == []


# Simplified Chinese


# Words that are names, not language: the product, formats, units, zones.
NOT_ENGLISH = {"Atrium", "Cron", "Allure", "HTML", "JUnit", "XML", "JSON", "ms", "UTC",
               "CST", "IANA", "Asia", "Shanghai", "GET"}
# Left out of the general check: values (code, preformatted bodies, times) and what the
# engine stored at run time (``.engine-text``, ``.run-error``: check messages, errors,
# variables' origins), whose parameters are the tester's own names and expressions. Those
# are checked for the words of the engine's English messages instead (ENGINE_WORDS). The
# report's charts are checked apart.
NOT_CHECKED = "code, pre, time, script, style, .engine-text, .run-error, figure.chart"
ENGINE_TEXT = ".engine-text, .run-error"
ENGINE_WORDS = {"extracted", "default", "found", "nothing", "rows", "set", "step", "dataset",
                "row", "environment", "scenario", "variables", "project", "globals",
                "function", "plan", "overrides", "expected", "got", "at", "of", "in", "this",
                "run"}


def english_words(page, selector: str, skip: str = NOT_CHECKED) -> set[str]:
    """Return the words in Latin letters of the text of every element ``selector`` (hidden
    text for screen readers included), what ``skip`` matches left out."""
    text = page.evaluate(
        """([selector, skip]) => Array.from(document.querySelectorAll(selector), element => {
            const copy = element.cloneNode(true);
            copy.querySelectorAll(skip).forEach(node => node.remove());
            return copy.textContent;
        }).join(" ")""", [selector, skip])
    return set(re.findall(r"[A-Za-z]{2,}", text))


def assert_chinese(page, selector: str) -> None:
    """Assert the part ``selector`` of the page holds no English the platform wrote: none
    at all outside the engine's texts, none of the engine's own words inside them."""
    assert page.get_attribute("html", "lang") == "zh-hans"
    left = english_words(page, selector) - NOT_ENGLISH
    assert not left, f"English on {page.url} ({selector}): {sorted(left)}"
    engine = english_words(page, f"{selector} :is({ENGINE_TEXT})", skip="code, pre, time")
    assert not engine & ENGINE_WORDS, f"English on {page.url}: {sorted(engine)}"


def test_the_run_report_and_schedules_in_simplified_chinese(reported, chinese_tester,
                                                            browser, demo):
    """With the tester's language set to Simplified Chinese, the run page, the report and
    the plan's schedules section (a schedule added and paused through htmx) hold no
    English that the platform wrote."""
    from testing.choices import RunStatus

    with translation.override("zh-hans"):
        failed = str(RunStatus.FAILED.label)
        report_label = translation.gettext("Report")
        resume = translation.gettext("Resume")
    page = open_page(browser, demo)
    page.goto(reported["run"])
    assert page.inner_text("#run-status") == failed
    assert page.locator(".started-by-schedule a").count() == 1
    page.click("#run-live .run-steps a >> nth=0")
    page.wait_for_selector("#step-detail .step-detail")
    assert_chinese(page, ".testing")

    page.click(f"nav.report-links a:text-is('{report_label}')")
    page.wait_for_selector("main h1")
    page.locator("section.run details summary").first.click()
    assert_chinese(page, "main")
    assert page.locator("main figure.chart svg").count() == 2
    charts = english_words(page, "main figure.chart", skip="script, style")
    assert charts - NOT_ENGLISH == set(), sorted(charts)

    page.goto(reported["plan"])
    assert page.locator(f"#{reported['schedule']} .last-run a").count() == 1
    page.click("#schedules details.add-schedule summary")
    page.fill("#schedule-cron", "30 8 * * *")
    page.fill("#schedule-timezone", "Asia/Shanghai")
    page.click("#schedule-add")
    page.wait_for_selector("#schedules tbody code:text-is('30 8 * * *')")
    assert_chinese(page, "#plan-schedules")
    page.click("#schedules tbody tr:has(code:text-is('30 8 * * *')) button[id^='schedule-toggle-']")
    page.wait_for_selector(f"#schedules tbody button:has-text('{resume}')")
    assert_chinese(page, "#plan-schedules")
    assert_chinese(page, "#live-status")
    assert page.script_errors == []
