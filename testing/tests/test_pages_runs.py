"""The runs pages: start a run from a scenario, a plan or an interface; the run page with its
live progress, steps and step detail; pause, resume and terminate; the list and the
dashboard's recent runs; permissions and two tenants.

Runs go through the real service and Celery tasks (in process) against a real HTTP server
on loopback (``http_target.Target``), as in ``test_runs.py``.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from testing.choices import RunStatus
from testing.models import Execution, PlanScenario, PlanSchedule, StepResult
from testing.services import runs
from testing.tests import factories as f
from testing.tests.factories import request_step, status_is
from testing.tests.http_target import TOKEN
from testing.tests.page_cases import (
    all_design_codes,
    as_tenant,
    assert_accessible_forms,
    assert_sign_in_needed,
    sign_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]
HTMX = {"HTTP_HX_REQUEST": "true"}
RUN_CODES = {"execution:view", "execution:create", "execution:control", "execution:delete"}
POLLING = 'hx-trigger="every 2s"'





def sign_in_tester(client, tenant, extra=RUN_CODES):
    """Sign in a tester holding every design code plus ``extra``."""
    return sign_in(client, tenant, all_design_codes() | set(extra))


@pytest.fixture
def login(project_a, target):
    """A two-step scenario: log in (extract the token), then read /me with it."""
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Login", variables={"user": "tester"})
    request_step(scenario, "/login", method="POST", body_type="json",
                 body={"username": "{{user}}", "password": "s3cret"},
                 assertions=[status_is(200)],
                 extractors=[{"name": "token", "source": "json", "expression": "$.token"}])
    request_step(scenario, "/me", headers=[{"name": "Authorization",
                                             "value": "Bearer {{token}}"}],
                 assertions=[status_is(200)])
    return scenario, env


def url(name, *args):
    return reverse(f"testing:{name}", args=list(args))


def run_urls(execution, result=None):
    """Return every page of one run (GET) and its control URLs (POST)."""
    args = (execution.project_id, execution.pk)
    pages = [url("run", *args), url("run-live", *args)]
    if result is not None:
        pages.append(url("run-result", *args, result.pk))
    return pages, [url(f"run-{name}", *args) for name in ("pause", "resume", "terminate")]


def start_urls(scenario, plan, interface):
    return [url("scenario-run", scenario.project_id, scenario.pk),
            url("plan-run", plan.project_id, plan.pk),
            url("interface-run", interface.project_id, interface.pk)]


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST as the signed-in user, in the tenant's context; with ``execute``, run the work
    the request sent to the workers (in process) when it commits."""
    def send(tenant, address, data=None, *, execute=True, **headers):
        with as_tenant(tenant), django_capture_on_commit_callbacks(execute=execute) as sent:
            response = client.post(address, data or {}, **headers)
        return response, sent
    return send


def execution_of(tenant, response) -> Execution:
    """Return the execution the response redirected to."""
    pk = re.search(r"/runs/([0-9a-f-]{36})/", response.get("HX-Redirect") or response.url).group(1)
    with as_tenant(tenant):
        return Execution.objects.get(pk=pk)


def results_of(tenant, execution) -> list[StepResult]:
    with as_tenant(tenant):
        return list(StepResult.objects.filter(execution=execution).order_by("position"))


def queued_run(django_capture_on_commit_callbacks, tenant, scenario, env):
    """Start a run whose scenario run stays queued (its dispatch is held back)."""
    with as_tenant(tenant), django_capture_on_commit_callbacks(execute=False) as held:
        execution = runs.start_scenario(scenario, environment=env)
    return execution, held


# ---------------------------------------------------------------------------
# Starting
# ---------------------------------------------------------------------------


def test_start_from_the_scenario_page_and_read_every_step(client, post, tenant_a, login):
    """The scenario page loads the run form; posting it runs the scenario and opens the
    run page, which lists the steps; a step's detail shows request, response, variables
    with their origins, extracted values and assertions."""
    scenario, env = login
    sign_in_tester(client, tenant_a)
    start = url("scenario-run", scenario.project_id, scenario.pk)
    page = client.get(scenario.get_absolute_url()).content.decode()
    assert f'hx-get="{start}"' in page and 'hx-trigger="load"' in page
    form = client.get(start, **HTMX)
    html = form.content.decode()
    assert form.status_code == 200 and "<html" not in html
    assert 'name="environment"' in html and 'name="dataset"' in html and "Local" in html
    assert form.context["form"].initial["environment"] == env
    assert_accessible_forms(html)
    assert_accessible_forms(client.get(start).content.decode())  # the page of its own

    response, _ = post(tenant_a, start, {"environment": env.pk})
    assert response.status_code == 302
    execution = execution_of(tenant_a, response)
    assert execution.status == RunStatus.COMPLETED, execution.error
    assert response.url == execution.get_absolute_url()

    run_page = client.get(response.url)
    html = run_page.content.decode()
    assert run_page.status_code == 200
    assert "Started the run of “Login”." in html
    assert "Completed" in html and "100 %" in html and "2 of 2 done" in html
    assert POLLING not in html  # final: nothing polls
    assert run_page.context["execution"].created_by_id is not None
    login_step, me_step = results_of(tenant_a, execution)
    assert html.index(f'id="result-{login_step.pk}"') < html.index(f'id="result-{me_step.pk}"')

    detail = client.get(url("run-result", execution.project_id, execution.pk, login_step.pk),
                        **HTMX)
    text = detail.content.decode()
    assert detail.status_code == 200 and "<html" not in text
    assert f"POST {env.base_url}/login" in text
    assert 'class="response-status">200<' in text
    assert "scenario variables" in text  # the origin of {{user}}
    assert "token" in text and TOKEN in text  # extracted
    assert "status_code" in text and "Passed" in text
    assert "<pre" in text
    page = client.get(url("run-result", execution.project_id, execution.pk, me_step.pk))
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert "extracted at step 1" in page.content.decode()


def test_start_with_a_dataset_runs_each_row(client, post, tenant_a, project_a, target,
                                            django_assert_max_num_queries):
    """A dataset of the scenario runs it once per row; the run page names the rows."""
    env = f.environment(project_a, "Local", base_url=target.url)
    scenario = f.scenario(project_a, "Statuses")
    request_step(scenario, "/status/{{code}}", assertions=[
        {"type": "status_code", "operator": "==", "expected_value": "{{expected}}"}])
    data = f.dataset(project_a, "codes", scenario=scenario,
                     csv_data="code,expected\n200,200\n500,200\n")
    sign_in_tester(client, tenant_a)
    response, _ = post(tenant_a, url("scenario-run", project_a.pk, scenario.pk),
                       {"environment": env.pk, "dataset": data.pk}, **HTMX)
    assert response.status_code == 204
    execution = execution_of(tenant_a, response)
    assert execution.status == RunStatus.FAILED
    html = client.get(execution.get_absolute_url()).content.decode()
    assert "row 1" in html and "row 2" in html and "50 %" in html
    assert "code=500" in html
    # The polled fragment reads a fixed number of rows, whatever the number of steps.
    with django_assert_max_num_queries(8):
        client.get(url("run-live", project_a.pk, execution.pk), **HTMX)


def test_start_from_the_plan_page_with_an_environment_override(client, post, tenant_a,
                                                                 project_a, target):
    """A plan runs its scenarios; the environment chosen overrides the plan's own."""
    wrong = f.environment(project_a, "Nowhere", base_url="http://192.0.2.1:9")
    right = f.environment(project_a, "Local", base_url=target.url)
    plan = f.plan(project_a, "Nightly", environment=wrong)
    for order, name in enumerate(("One", "Two")):
        scenario = f.scenario(project_a, name)
        request_step(scenario, "/json", assertions=[status_is(200)])
        f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=order)
    sign_in_tester(client, tenant_a)
    start = url("plan-run", project_a.pk, plan.pk)
    assert f'hx-get="{start}"' in client.get(url("plan", project_a.pk, plan.pk)).content.decode()
    form = client.get(start, **HTMX)
    assert 'name="dataset"' not in form.content.decode()
    assert_accessible_forms(form.content.decode())
    response, _ = post(tenant_a, start, {"environment": right.pk})
    execution = execution_of(tenant_a, response)
    assert execution.status == RunStatus.COMPLETED, execution.error
    assert execution.scenarios_passed == 2
    html = client.get(response.url).content.decode()
    assert "One" in html and "Two" in html and "2 of 2 finished" in html


def test_a_refused_plan_shows_the_reason_on_the_form(client, post, tenant_a, project_a):
    """An empty plan cannot run: the form says why, and nothing is started."""
    plan = f.plan(project_a, "Empty")
    sign_in_tester(client, tenant_a)
    start = url("plan-run", project_a.pk, plan.pk)
    response, _ = post(tenant_a, start, {"environment": ""}, **HTMX)
    assert response.status_code == 409
    assert "has no scenarios to run" in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert 'id="run-start"' in response.content.decode()
    plain, _ = post(tenant_a, start, {"environment": ""})
    assert plain.status_code == 409 and "<html" in plain.content.decode()
    with as_tenant(tenant_a):
        assert not Execution.objects.exists()


def test_start_from_the_interface_page(client, post, tenant_a, project_a, target):
    """One interface runs as a one-step run with its assertions and extractors."""
    env = f.environment(project_a, "Local", base_url=target.url)
    interface = f.interface(project_a, "Document", url="/json",
                            assertions=[status_is(200)],
                            extractors=[{"name": "first", "source": "json",
                                         "expression": "$.data.token"}])
    sign_in_tester(client, tenant_a)
    start = url("interface-run", project_a.pk, interface.pk)
    page = client.get(url("interface", project_a.pk, interface.pk)).content.decode()
    assert f'hx-get="{start}"' in page
    new_page = client.get(url("interface-new", project_a.pk)).content.decode()
    assert "/run/" not in new_page  # an unsaved interface has nothing to run
    assert_accessible_forms(client.get(start, **HTMX).content.decode())
    response, _ = post(tenant_a, start, {"environment": env.pk})
    execution = execution_of(tenant_a, response)
    assert execution.status == RunStatus.COMPLETED, execution.error
    (result,) = results_of(tenant_a, execution)
    assert result.extracted == {"first": "tok-123"}
    html = client.get(url("run-result", project_a.pk, execution.pk, result.pk),
                      **HTMX).content.decode()
    assert "tok-123" in html and "first" in html


def test_bad_input_is_a_form_error_and_choices_stay_in_the_project(
        client, post, tenant_a, project_a, project_b, login):
    """Only the project's environments and the scenario's datasets are offered; anything
    else posted (another project's, another tenant's, another scenario's, not an id) is a
    field error with status 400, and nothing starts."""
    scenario, env = login
    other_project = f.project(tenant_a, "Other")
    foreign_env = f.environment(other_project, "Their env")
    foreign_data = f.dataset(other_project, "Their data")
    tenant_b_env = f.environment(project_b, "B env")
    tenant_b_data = f.dataset(project_b, "B data")
    sibling = f.scenario(project_a, "Sibling")
    sibling_data = f.dataset(project_a, "Sibling data", scenario=sibling)
    shared_data = f.dataset(project_a, "Shared data")
    own_data = f.dataset(project_a, "Own data", scenario=scenario)
    sign_in_tester(client, tenant_a)
    start = url("scenario-run", project_a.pk, scenario.pk)
    form = client.get(start, **HTMX).context["form"]
    assert list(form.fields["environment"].queryset) == [env]
    assert set(form.fields["dataset"].queryset) == {shared_data, own_data}
    html = client.get(start, **HTMX).content.decode()
    for name in ("Their env", "Their data", "B env", "B data", "Sibling data"):
        assert name not in html
    for data in ({"environment": foreign_env.pk}, {"environment": tenant_b_env.pk},
                 {"environment": "not-an-id"}, {"environment": "12345"},
                 {"environment": env.pk, "dataset": foreign_data.pk},
                 {"environment": env.pk, "dataset": tenant_b_data.pk},
                 {"environment": env.pk, "dataset": sibling_data.pk}):
        response, sent = post(tenant_a, start, data)
        assert response.status_code == 400, data
        field = "dataset" if "dataset" in data else "environment"
        assert response.context["form"].errors.get(field), data
        assert 'role="alert"' in response.content.decode()
        assert not sent
    htmx, _ = post(tenant_a, start, {"environment": "nope"}, **HTMX)
    assert htmx.status_code == 400 and "<html" not in htmx.content.decode()
    assert 'aria-describedby="run-environment_error"' in htmx.content.decode()
    with as_tenant(tenant_a):
        assert not Execution.objects.exists()


# ---------------------------------------------------------------------------
# Live progress and control
# ---------------------------------------------------------------------------


def test_the_fragment_polls_while_running_and_stops_when_final(
        client, tenant_a, login, django_capture_on_commit_callbacks):
    """While the run is not final its fragment carries the 2 s trigger; once final, the
    fragment comes without it (htmx then stops polling) and announces the end."""
    scenario, env = login
    execution, held = queued_run(django_capture_on_commit_callbacks, tenant_a, scenario, env)
    sign_in_tester(client, tenant_a)
    live = url("run-live", execution.project_id, execution.pk)
    page = client.get(execution.get_absolute_url()).content.decode()
    assert POLLING in page and f'hx-get="{live}"' in page
    assert "No step has finished yet." in page and "0 of 1 finished" in page
    assert "Waiting for a worker." in page
    fragment = client.get(live, **HTMX).content.decode()
    assert POLLING in fragment and "<html" not in fragment and 'id="run-live"' in fragment
    assert 'id="run-pause"' in fragment and 'id="run-terminate"' in fragment
    with as_tenant(tenant_a):
        for callback in held:  # the worker takes the run
            callback()
    final = client.get(live, **HTMX).content.decode()
    assert POLLING not in final and "hx-get" not in final.split('id="run-live"')[1][:200]
    assert "The run ended: Completed." in final and 'hx-swap-oob="true"' in final
    assert "2 of 2 done" in final and 'id="run-pause"' not in final


def test_pause_resume_and_terminate_from_the_run_page(
        client, post, tenant_a, login, django_capture_on_commit_callbacks):
    """Pause, then resume: the run completes; the buttons follow the state."""
    scenario, env = login
    execution, held = queued_run(django_capture_on_commit_callbacks, tenant_a, scenario, env)
    sign_in_tester(client, tenant_a)
    _pages, (pause, resume, terminate) = run_urls(execution)
    paused, _ = post(tenant_a, pause, {}, execute=False)
    assert paused.status_code == 302 and paused.url == execution.get_absolute_url()
    with as_tenant(tenant_a):
        for callback in held:  # the worker gets the run after the pause request
            callback()
        execution.refresh_from_db()
    assert execution.status == RunStatus.PAUSED
    html = client.get(execution.get_absolute_url()).content.decode()
    assert 'id="run-resume"' in html and 'id="run-pause"' not in html
    assert 'id="run-terminate"' in html and "Paused" in html

    refused, _ = post(tenant_a, pause, {}, execute=False, **HTMX)
    assert refused.status_code == 409
    assert "Only a running execution can be paused." in refused.content.decode()

    resumed, _ = post(tenant_a, resume, {}, **HTMX)
    assert resumed.status_code == 200 and 'id="run-live"' in resumed.content.decode()
    with as_tenant(tenant_a):
        execution.refresh_from_db()
    assert execution.status == RunStatus.COMPLETED
    ended, _ = post(tenant_a, terminate, {}, execute=False)
    assert ended.status_code == 302
    assert "This execution has already ended." in client.get(ended.url).content.decode()


def test_terminate_a_queued_run(client, post, tenant_a, login, django_capture_on_commit_callbacks):
    """Terminate before the worker runs it: the run ends terminated, nothing is sent."""
    scenario, env = login
    execution, held = queued_run(django_capture_on_commit_callbacks, tenant_a, scenario, env)
    sign_in_tester(client, tenant_a)
    _pages, (_pause, _resume, terminate) = run_urls(execution)
    response, _ = post(tenant_a, terminate, {}, execute=False, **HTMX)
    assert response.status_code == 200
    assert "Terminating" in response.content.decode()
    with as_tenant(tenant_a):
        for callback in held:
            callback()
        execution.refresh_from_db()
    assert execution.status == RunStatus.TERMINATED
    assert results_of(tenant_a, execution) == []
    html = client.get(execution.get_absolute_url()).content.decode()
    assert POLLING not in html and "Terminated" in html
    assert 'id="run-pause"' not in html and 'id="run-terminate"' not in html


# ---------------------------------------------------------------------------
# Permissions and tenants
# ---------------------------------------------------------------------------


def test_pages_need_sign_in(client, tenant_a, project_a, login,
                            django_capture_on_commit_callbacks):
    """An anonymous visitor is sent to the sign-in page from every runs page."""
    scenario, env = login
    execution, _ = queued_run(django_capture_on_commit_callbacks, tenant_a, scenario, env)
    pages, _controls = run_urls(execution)
    assert_sign_in_needed(client, [url("runs", project_a.pk), url("runs-recent", project_a.pk),
                                   *pages,
                                   url("scenario-run", project_a.pk, scenario.pk)])


def test_without_run_codes_no_button_and_403(client, tenant_a, project_a, login,
                                             django_capture_on_commit_callbacks):
    """Without execution:create the Run block is not shown and starting is 403; without
    execution:view the runs are 403; without execution:control no control button shows
    and posting one is 403."""
    scenario, env = login
    plan = f.plan(project_a, "Nightly")
    interface = f.interface(project_a, "Doc", url="/json")
    execution, _ = queued_run(django_capture_on_commit_callbacks, tenant_a, scenario, env)
    pages, controls = run_urls(execution)
    sign_in_tester(client, tenant_a, extra=())
    for page in (scenario.get_absolute_url(), url("plan", project_a.pk, plan.pk),
                 url("interface", project_a.pk, interface.pk), url("project", project_a.pk)):
        html = client.get(page).content.decode()
        assert "/run/" not in html and "run-start" not in html, page
        assert "/runs/" not in html, page  # no recent runs either
    for start in start_urls(scenario, plan, interface):
        assert client.get(start).status_code == 403
        assert client.post(start, {"environment": env.pk}).status_code == 403
    for page in [*pages, url("runs", project_a.pk), url("runs-recent", project_a.pk)]:
        assert client.get(page).status_code == 403, page
    for control in controls:
        assert client.post(control).status_code == 403

    client.logout()
    sign_in_tester(client, tenant_a, extra={"execution:view"})
    html = client.get(execution.get_absolute_url()).content.decode()
    assert "run-pause" not in html and "run-terminate" not in html and POLLING in html
    for control in controls:
        assert client.post(control).status_code == 403
    with as_tenant(tenant_a):
        assert Execution.objects.get(pk=execution.pk).requested == ""


def test_another_tenants_runs_are_404(client, post, tenant_a, tenant_b, project_a, login,
                                      django_capture_on_commit_callbacks):
    """Tenant B's tester, holding every code, finds none of tenant A's runs or targets."""
    scenario, env = login
    plan = f.plan(project_a, "Nightly")
    interface = f.interface(project_a, "Doc", url="/json")
    sign_in_tester(client, tenant_a)
    response, _ = post(tenant_a, url("scenario-run", project_a.pk, scenario.pk),
                       {"environment": env.pk})
    execution = execution_of(tenant_a, response)
    result = results_of(tenant_a, execution)[0]
    queued, _held = queued_run(django_capture_on_commit_callbacks, tenant_a, scenario, env)
    client.logout()
    sign_in_tester(client, tenant_b)
    pages, controls = run_urls(execution, result)
    for page in [*pages, url("runs", project_a.pk), url("runs-recent", project_a.pk),
                 *start_urls(scenario, plan, interface)]:
        assert client.get(page).status_code == 404, page
        assert client.get(page, **HTMX).status_code == 404, page
    for control in [*run_urls(queued)[1], *controls, *start_urls(scenario, plan, interface)]:
        assert client.post(control, {"environment": env.pk}).status_code == 404, control
    with as_tenant(tenant_a):
        assert Execution.objects.get(pk=queued.pk).requested == ""
        assert Execution.objects.count() == 2


def test_a_step_of_another_run_is_404(client, post, tenant_a, project_a, login):
    """A step result is found only through its own run (and project)."""
    scenario, env = login
    sign_in_tester(client, tenant_a)
    start = url("scenario-run", project_a.pk, scenario.pk)
    first = execution_of(tenant_a, post(tenant_a, start, {"environment": env.pk})[0])
    second = execution_of(tenant_a, post(tenant_a, start, {"environment": env.pk})[0])
    result = results_of(tenant_a, first)[0]
    assert client.get(url("run-result", project_a.pk, second.pk, result.pk)).status_code == 404
    other = f.project(tenant_a, "Other")
    assert client.get(url("run", other.pk, first.pk)).status_code == 404
    assert client.get(url("run-result", project_a.pk, first.pk, 999999)).status_code == 404


# ---------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------


def make_runs(tenant, project, statuses):
    """Create finished-looking executions (oldest first) without running anything."""
    made = []
    with as_tenant(tenant):
        for index, status in enumerate(statuses):
            made.append(Execution.objects.create(
                project=project, kind="scenario", name=f"Run {index}", status=status,
                scenarios_total=2, scenarios_passed=1 if status == "failed" else 2,
                scenarios_failed=1 if status == "failed" else 0))
    return made


def test_run_list_newest_first_filtered_and_paginated(client, tenant_a, project_a, project_b,
                                                      django_assert_max_num_queries):
    """The list shows the project's runs only, newest first, 25 a page; the status
    filter keeps one status (an unknown one is ignored)."""
    statuses = ["completed", "failed"] * 15
    make_runs(tenant_a, project_a, statuses)
    make_runs(project_b.tenant, project_b, ["completed"])
    sign_in_tester(client, tenant_a)
    runs_url = url("runs", project_a.pk)
    with django_assert_max_num_queries(12):
        page = client.get(runs_url)
    names = [e.name for e in page.context["page_obj"].object_list]
    assert names[0] == "Run 29" and len(names) == 25
    assert "Run 28" in page.content.decode() and "50 %" in page.content.decode()
    second = client.get(runs_url, {"page": 2})
    assert [e.name for e in second.context["page_obj"].object_list][-1] == "Run 0"
    failed = client.get(runs_url, {"status": "failed"})
    assert {e.status for e in failed.context["page_obj"].object_list} == {"failed"}
    assert failed.context["page_obj"].paginator.count == 15
    assert 'value="failed" selected' in failed.content.decode()
    assert client.get(runs_url, {"status": "bogus"}).context["page_obj"].paginator.count == 30
    assert client.get(runs_url, {"status": "paused"}).context["page_obj"].paginator.count == 0
    assert_accessible_forms(page.content.decode())


def test_dashboard_recent_runs(client, tenant_a, project_a):
    """The dashboard loads the last ten runs with status and pass rate, linking to each."""
    made = make_runs(tenant_a, project_a, ["completed"] * 11 + ["failed"])
    sign_in_tester(client, tenant_a)
    recent_url = url("runs-recent", project_a.pk)
    dashboard = client.get(url("project", project_a.pk)).content.decode()
    assert f'hx-get="{recent_url}"' in dashboard
    fragment = client.get(recent_url, **HTMX)
    html = fragment.content.decode()
    assert len(fragment.context["recent"]) == 10 and "<html" not in html
    assert html.index("Run 11") < html.index("Run 10")
    assert "Run 1<" not in html and made[-1].get_absolute_url() in html
    assert "50 %" in html and "100 %" in html and "Failed" in html
    assert "every 5s" not in html  # nothing is running
    empty = f.project(tenant_a, "Empty")
    assert "No runs yet." in client.get(url("runs-recent", empty.pk)).content.decode()


# ---------------------------------------------------------------------------
# Runs started by a schedule (issue 15, item 4)
# ---------------------------------------------------------------------------


def scheduled_runs(tenant, project, count=1, *, cron="0 9 * * 1-5"):
    """Create a plan, a schedule of it, and ``count`` finished runs the schedule started."""
    plan = f.plan(project, "Nightly")
    schedule = f.make(PlanSchedule, tenant, plan=plan, project=project, cron=cron,
                      timezone="Asia/Shanghai")
    with as_tenant(tenant):
        made = [Execution.objects.create(project=project, kind="plan", name=plan.name,
                                         plan=plan, status="completed", schedule=schedule)
                for _ in range(count)]
    return plan, schedule, made


SCHEDULE_VIEW = RUN_CODES | {"planschedule:view"}


def marker(html: str) -> str:
    """Return the "started by schedule" marker of a page (empty: none)."""
    found = re.search(r'<span class="started-by-schedule">(.*?)</span>', html, re.S)
    return found.group(1) if found else ""


def test_the_run_page_and_list_say_a_schedule_started_the_run(client, tenant_a, project_a,
                                                              django_assert_max_num_queries):
    """The run page and the runs list name the schedule (cron and zone), linking to its row
    in the plan's schedules section; a person's run names the person. The list reads no
    query per scheduled run."""
    plan, schedule, made = scheduled_runs(tenant_a, project_a, count=25)
    by_hand = make_runs(tenant_a, project_a, ["completed"])[0]
    sign_in_tester(client, tenant_a, SCHEDULE_VIEW)
    link = f'{url("plan", project_a.pk, plan.pk)}#schedule-{schedule.pk}'
    html = client.get(made[0].get_absolute_url()).content.decode()
    shown = marker(html)
    assert f'href="{link}"' in shown and "<code>0 9 * * 1-5</code>" in shown
    assert "Asia/Shanghai" in shown
    assert marker(client.get(by_hand.get_absolute_url()).content.decode()) == ""
    with django_assert_max_num_queries(12):
        listed = client.get(url("runs", project_a.pk))
    html = listed.content.decode()
    assert html.count('class="started-by-schedule"') == 24  # 25 a page, one by hand
    assert html.count(f'href="{link}"') == 24


def test_the_marker_links_only_to_what_the_user_may_open(client, tenant_a, project_a):
    """Without planschedule:view, or once the schedule is deleted, the marker stays but
    links nowhere."""
    plan, schedule, made = scheduled_runs(tenant_a, project_a)
    sign_in_tester(client, tenant_a)  # no planschedule:view
    shown = marker(client.get(made[0].get_absolute_url()).content.decode())
    assert "<code>0 9 * * 1-5</code>" in shown and "href" not in shown
    sign_in_tester(client, tenant_a, SCHEDULE_VIEW)
    with as_tenant(tenant_a):
        schedule.soft_delete()
    shown = marker(client.get(url("runs", project_a.pk)).content.decode())
    assert "<code>0 9 * * 1-5</code>" in shown and "href" not in shown
