"""The tester pages in a real browser (issue 12, "Tests must show").

Headless Chromium from Debian's ``chromium`` package (``scripts/install-system-deps``),
driven by Playwright for Python through ``executable_path``: no browser is downloaded.
The demo tester of ``seed_demo`` signs in, creates an environment, an interface and a
three-step scenario, reorders the steps by dragging one with the mouse, reloads and finds
the order kept; then does the same with the keyboard (the Up/Down buttons), and opens the
editor in Simplified Chinese. Finally the tester runs the demo scenario and watches the run
page follow it to the end without a reload.

Without Chromium or Playwright the tests skip, saying what is missing; with
``ATRIUM_REQUIRE_SERVICES`` set (CI) they fail instead.

Playwright's synchronous API runs an event loop in this thread, where Django refuses ORM
calls; so the database is set up before the browser starts and read after it stops.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

CHROMIUM = os.environ.get("ATRIUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-default-apps", "--disable-extensions", "--disable-sync", "--mute-audio",
]
TIMEOUT = 10_000  # milliseconds for any one wait


def browser_problem() -> str | None:
    """Return what is missing to drive a browser, or ``None``."""
    problem = None
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        problem = (f"Chromium is not installed at {CHROMIUM}"
                   + (f" (one is at {found}: set ATRIUM_CHROMIUM)" if found else "")
                   + "; scripts/install-system-deps installs Debian's chromium package")
    else:
        try:
            import playwright.sync_api  # noqa: F401 (only whether it imports)
        except ImportError as exc:
            problem = (f"Playwright for Python is not installed ({exc}): "
                       "pip install -r requirements.txt")
    return problem


PROBLEM = browser_problem()
REQUIRED = bool(os.environ.get("ATRIUM_REQUIRE_SERVICES"))
# The demo project holds two scenarios; these tests use the one of its REST API steps.
DEMO_SCENARIO_LINK = "table.rows a:has-text('Who am I')"
pytestmark = [
    # Skipped before the live server and its database are set up; under CI it runs, and
    # the ``browser`` fixture fails with the reason.
    pytest.mark.skipif(bool(PROBLEM) and not REQUIRED, reason=PROBLEM or ""),
    # Every datasource: seed_demo rolls usage up on the analytics one (postgres_db when
    # routed).
    pytest.mark.django_db(transaction=True, serialized_rollback=True, databases="__all__"),
]


def require_browser() -> None:
    """Fail (CI) when Chromium or Playwright is missing."""
    if PROBLEM:
        pytest.fail(PROBLEM)


@pytest.fixture
def demo(live_server):
    """Seed the demo data; return the server's URL and the demo tester's credentials."""
    require_browser()
    from config.management.commands.seed_demo import DEMO_PASSWORD

    call_command("seed_demo", stdout=io.StringIO())
    return {"url": live_server.url, "tenant": "acme", "username": "tester",
            "password": DEMO_PASSWORD}


@pytest.fixture
def browser(demo):
    """A headless Chromium of the system, closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser, demo, language: str = "en", *, accept_downloads: bool = False):
    """Return a page signed in as the demo tester, in ``language``."""
    context = browser.new_context(locale="zh-CN" if language == "zh-hans" else "en-US",
                                  viewport={"width": 1280, "height": 1000},
                                  extra_http_headers={"Accept-Language": language},
                                  accept_downloads=accept_downloads)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors
    page.goto(demo["url"] + "/accounts/login/")
    page.fill("[name=tenant_code]", demo["tenant"])
    page.fill("[name=username]", demo["username"])
    page.fill("[name=password]", demo["password"])
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def open_project(page, demo, name: str = "Atrium REST API") -> None:
    """Open the project ``name`` from the projects list."""
    page.goto(demo["url"] + "/testing/")
    page.click(f"a:text-is('{name}')")
    page.wait_for_selector("nav.tabs")


def step_titles(page) -> list[str]:
    """Return the titles of the scenario's steps, top to bottom."""
    return [text.split(":", 1)[-1].strip().split("：", 1)[-1].strip()
            for text in page.locator("#steps .step-title").all_inner_texts()]


def drag_step(page, source: int, target: int) -> None:
    """Drag step ``source`` by its handle onto step ``target`` (0-based) with the mouse."""
    handles = page.locator("#steps .drag-handle")
    steps = page.locator("#steps [data-step-id]")
    # SortableJS takes the list when its script has run: a drag before that moves nothing.
    page.wait_for_function("() => { const list = document.querySelector('#steps "
                           "[data-sortable]'); return !!(list && list.sortable); }")
    # The run form loads in place above the steps (hx-trigger="load") and pushes them
    # down: boxes measured before it arrives aim the mouse where the steps were.
    page.wait_for_selector("#run-start[hx-get]", state="detached")
    page.wait_for_load_state("networkidle")
    page.locator("#steps").scroll_into_view_if_needed()
    start = handles.nth(source).bounding_box()
    end = steps.nth(target).bounding_box()
    with page.expect_response(lambda r: r.url.endswith("/steps/order/")) as answer:
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        page.mouse.down()
        # Several small moves, as a hand does: SortableJS follows the pointer.
        x = end["x"] + end["width"] / 2
        y = end["y"] + (4 if target < source else end["height"] - 4)
        page.mouse.move(start["x"] + 10, start["y"] + 10, steps=5)
        page.mouse.move(x, y, steps=15)
        page.mouse.move(x, y + (-2 if target < source else 2), steps=2)
        page.mouse.up()
    assert answer.value.status == 200, answer.value.text()
    page.wait_for_selector("#steps:not([aria-busy])")


def test_tester_designs_a_scenario_and_reorders_it_by_drag_and_drop(browser, demo):
    """Environment, interface and a three-step scenario made in the pages; a mouse drag
    reorders the steps and the order survives a reload."""
    page = open_page(browser, demo)
    open_project(page, demo)

    # An environment, through the environments page.
    page.click("nav.tabs a[href$='/environments/']")
    page.fill("#env-name", "Browser staging")
    page.fill("#env-base_url", "http://127.0.0.1:9")
    page.click("form[action$='/environments/new/'] button[type=submit]")
    page.wait_for_selector("text=Browser staging")

    # An interface, in the interface editor: the preview marks {{variables}} as typed.
    page.click("nav.tabs a[href$='/interfaces/']")
    page.click("a.button[href$='/interfaces/new/']")
    page.fill("#id_name", "Health check")
    page.select_option("#id_method", "GET")
    page.fill("#id_url", "/api/v1/health/{{version}}/")
    page.wait_for_selector("[data-preview] mark.var:text-is('{{version}}')")
    page.click("button[name=add_row][value=headers]")
    page.fill("#id_headers-0-name", "Accept")
    page.fill("#id_headers-0-value", "{{accept}}")
    page.wait_for_selector("[data-vars] mark.var:text-is('accept')")
    page.click("button[name=add_row][value=assertions]")
    page.select_option("#id_assertions-0-type", "status_code")
    page.select_option("#id_assertions-0-operator", "==")
    page.fill("#id_assertions-0-expected_value", "200")
    page.click(".editor-head button[name=save]")
    page.wait_for_selector("h1#editor-title:text-is('Health check')")
    assert page.locator("#id_headers-0-value").input_value() == "{{accept}}"

    # A scenario of three steps: the new interface, then two built-in keywords.
    page.click("nav.tabs a[href$='/scenarios/']")
    page.fill("#id_name", "Made in a browser")
    page.click("form[action$='/scenarios/'] button[type=submit]")
    page.wait_for_selector("#steps")
    page.select_option("#id_source", label="GET Health check")
    page.click("#add-step button[type=submit]")
    page.wait_for_selector("#steps [data-step-id]")
    page.select_option("#id_source", "builtin:wait")
    page.click("#add-step button[type=submit]")
    page.fill("#id_p_seconds", "1")
    page.fill("#id_description", "Pause")
    page.click("form button.primary")
    page.wait_for_selector("#steps .step-title:has-text('Pause')")
    page.select_option("#id_source", "builtin:set_variable")
    page.click("#add-step button[type=submit]")
    page.fill("#id_p_name", "greeting")
    page.fill("#id_p_value", "hello {{accept}}")
    page.fill("#id_description", "Greet")
    page.click("form button.primary")
    page.wait_for_selector("#steps .step-title:has-text('Greet')")
    assert step_titles(page) == ["GET Health check", "Pause", "Greet"]

    # Drag the last step to the top with the mouse; reload; the order is kept.
    drag_step(page, 2, 0)
    assert step_titles(page) == ["Greet", "GET Health check", "Pause"]
    page.reload()
    assert step_titles(page) == ["Greet", "GET Health check", "Pause"]
    assert page.script_errors == []


def test_keyboard_alternative_moves_a_step_and_keeps_focus(browser, demo):
    """Tab to a step's "Down" button and press Enter: the step moves, focus stays on it,
    the live region says where it went, and a reload shows the same order."""
    page = open_page(browser, demo)
    open_project(page, demo)
    page.click("nav.tabs a[href$='/scenarios/']")
    page.click(DEMO_SCENARIO_LINK)
    before = step_titles(page)
    assert len(before) == 3
    first_id = page.locator("#steps [data-step-id]").first.get_attribute("data-step-id")
    # Reach the button with the keyboard: focus the title link, then Tab to "Up", "Down".
    page.locator("#steps .step-title").first.focus()
    page.keyboard.press("Tab")  # "Up" of the first step is disabled: Tab lands on "Down"
    assert page.evaluate("document.activeElement.dataset.focusKey") == f"down-{first_id}"
    with page.expect_response(lambda r: "/move/" in r.url):
        page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelectorAll('#steps [data-step-id]')[1]?.dataset.stepId === id",
        arg=first_id)
    assert step_titles(page) == [before[1], before[0], before[2]]
    page.wait_for_function("document.activeElement && document.activeElement.dataset.focusKey"
                           f" === 'down-{first_id}'")
    page.wait_for_function("document.getElementById('steps-status').textContent.length > 0")
    page.reload()
    assert step_titles(page) == [before[1], before[0], before[2]]
    assert page.script_errors == []


def test_editor_in_simplified_chinese(browser, demo):
    """With a Chinese browser the editor answers in zh-hans, and dragging still works."""
    with translation.override("zh-hans"):
        steps_heading = translation.gettext("Steps")
        add_label = translation.gettext("Add step")
    page = open_page(browser, demo, "zh-hans")
    open_project(page, demo)
    page.click("nav.tabs a[href$='/scenarios/']")
    page.click(DEMO_SCENARIO_LINK)
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.inner_text("#steps-title") == steps_heading
    assert page.inner_text("#add-step button[type=submit]") == add_label
    before = step_titles(page)
    assert len(before) == 3 and page.locator("#steps .drag-handle").count() == 3
    drag_step(page, 2, 0)
    page.reload()
    assert step_titles(page) == [before[2], before[0], before[1]]
    page.goto(page.url.split("/scenarios/")[0] + "/interfaces/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    page.wait_for_selector("nav[aria-label] .tree")
    assert page.script_errors == []


@pytest.fixture
def demo_target(demo, live_server):
    """Point the demo project's "Local" environment at the live server (not at ``make run``'s
    port), so that its scenario tests the server the browser talks to."""
    from core.context import tenant_context
    from tenants.models import Tenant
    from testing.models import Environment

    tenant = Tenant.objects.get(code=demo["tenant"])
    with tenant_context(tenant):
        Environment.objects.filter(name="Local").update(base_url=live_server.url)


def thread_worker(monkeypatch, task, work):
    """Send ``task`` to a worker thread instead of the broker: ``work(argument)`` runs there,
    in the tenant the message would carry, once the test sets the yielded event (a
    generator for a fixture to ``yield from``).

    An in-memory SQLite database lives in the test's connection, which the live server's
    threads share; the worker shares it too. Another database gets its own connection.
    """
    import threading

    from django.db import connections

    from core.context import get_current_tenant_id, tenant_context

    shared = connections["default"]
    share = shared.vendor == "sqlite" and shared.is_in_memory_db()
    if share:
        shared.inc_thread_sharing()
    release = threading.Event()
    threads: list[threading.Thread] = []

    def delay(argument: str) -> None:
        tenant_id = get_current_tenant_id()  # what the task's message would carry

        def run() -> None:
            if share:
                connections["default"] = shared
            try:
                release.wait(TIMEOUT / 1000)
                with tenant_context(tenant_id):
                    work(argument)
            finally:
                if not share:
                    connections["default"].close()

        thread = threading.Thread(target=run, daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(task, "delay", delay)
    yield release
    release.set()
    for thread in threads:
        thread.join(TIMEOUT / 1000)
    if share:
        shared.dec_thread_sharing()


@pytest.fixture
def worker(settings, monkeypatch):
    """Scenario runs go to a worker thread (``thread_worker``) and run once the test sets
    the returned event: the run page is then open and must follow the run without a reload."""
    from testing.services import runs
    from testing.tasks import run_scenario_run

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.TESTING_HEARTBEAT_SECONDS = 600
    settings.TESTING_RESULT_FLUSH_SECONDS = 0
    yield from thread_worker(monkeypatch, run_scenario_run, runs.execute_run)


def test_tester_runs_the_demo_scenario_and_watches_it_live(demo_target, worker, browser, demo):
    """Run the demo scenario from its page: the run page shows it running, then completed
    without a reload; a step's detail opens beside the steps."""
    page = open_page(browser, demo)
    open_project(page, demo)
    page.click("nav.tabs a[href$='/scenarios/']")
    page.click(DEMO_SCENARIO_LINK)
    page.wait_for_selector("#run-start form")  # loaded in place
    page.select_option("#run-environment", label="Local")
    page.click("#run-submit")
    page.wait_for_url("**/runs/*/")
    assert page.inner_text("#run-status") == "Running"
    assert page.get_attribute("#run-live", "hx-trigger") == "every 2s"
    page.evaluate("window.sameDocument = true")
    worker.set()  # the worker takes the run
    page.wait_for_selector("#run-status:text-is('Completed')")
    assert page.evaluate("window.sameDocument === true")  # updated in place, no reload
    assert page.get_attribute("#run-live", "hx-trigger") is None
    assert page.inner_text("#steps-done") == "3 of 3 done"
    page.click("#run-live .run-steps a >> nth=0")
    page.wait_for_selector("#step-detail .step-detail")
    detail = page.inner_text("#step-detail")
    assert "/api/v1/me/" in detail and "Who am I" in detail
    assert page.inner_text("#step-detail .response-status") == "200"
    assert page.script_errors == []


def test_the_run_page_in_simplified_chinese(demo_target, worker, browser, demo):
    """With a Chinese browser the run page, its live updates and a step's detail answer in
    zh-hans."""
    from testing.choices import RunStatus

    with translation.override("zh-hans"):
        running, completed = str(RunStatus.RUNNING.label), str(RunStatus.COMPLETED.label)
        progress = translation.gettext("Progress")
    page = open_page(browser, demo, "zh-hans")
    open_project(page, demo)
    page.click("nav.tabs a[href$='/scenarios/']")
    page.click(DEMO_SCENARIO_LINK)
    page.wait_for_selector("#run-start form")
    page.select_option("#run-environment", label="Local")
    page.click("#run-submit")
    page.wait_for_url("**/runs/*/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.inner_text("#run-status") == running
    assert page.inner_text("#progress-title") == progress
    worker.set()
    page.wait_for_selector(f"#run-status:text-is('{completed}')")
    page.click("#run-live .run-steps a >> nth=0")
    page.wait_for_selector("#step-detail .step-detail")
    assert page.inner_text("#step-detail .response-status") == "200"
    assert page.script_errors == []
