"""Schedules of test plans (issue 15, item 4): cron and zone validation, next times in the
schedule's zone, ``fire_due`` (a run started, a missed window fired once and counted, an
unstartable plan recorded), two tenants, the plan page (plain forms, and htmx answering
with the schedules section; each schedule's last run), the admin and the API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone

from core.context import all_tenants, tenant_context
from testing.models import Execution, PlanScenario, PlanSchedule
from testing.services import schedules
from testing.tests import factories as f
from testing.tests.page_cases import all_design_codes, sign_in
from tests import test_api_testing_factories as af
from tests.api_cases import SoftDeleteAPIViewTestCase, assert_field_errors

pytestmark = pytest.mark.django_db

UTC = dt_timezone.utc
SCHEDULE_CODES = {f"planschedule:{action}" for action in ("view", "create", "update", "delete")}


def runnable_plan(project, name="Nightly"):
    """Return a plan with one scenario of one (never sent) request step."""
    scenario = f.scenario(project, f"{name} scenario")
    f.request_step(scenario, "http://127.0.0.1:9/", assertions=[f.status_is(200)])
    plan = f.plan(project, name)
    f.make(PlanScenario, project.tenant, plan=plan, scenario=scenario)
    return plan


def schedule(plan, cron="0 9 * * *", zone="UTC", **fields) -> PlanSchedule:
    return f.make(PlanSchedule, plan.tenant, plan=plan, project=plan.project, cron=cron,
                  timezone=zone, **fields)


def due(row: PlanSchedule, when: datetime) -> None:
    """Make ``row`` due at ``when`` (as if computed long ago)."""
    with all_tenants():
        PlanSchedule.objects.all_tenants().filter(pk=row.pk).update(next_due_at=when)


def reload(row: PlanSchedule) -> PlanSchedule:
    with all_tenants():
        return PlanSchedule.objects.all_tenants(include_deleted=True).get(pk=row.pk)


# Validation and times


@pytest.mark.parametrize(("cron", "needle"), [
    ("61 * * * *", "Bad minute"),
    ("* * *", "five fields"),
    ("0 0 * * * *", "five fields"),
    ("0 0 31 2 *", "Bad day-of-month"),
    ("@daily", "five fields"),
])
def test_a_bad_cron_expression_is_refused_naming_what_is_wrong(tenant_a, cron, needle):
    """A cron expression that cronsim refuses, or that has not five fields, is a field
    error saying why."""
    from django.core.exceptions import ValidationError

    plan = f.plan(f.project(tenant_a))
    with pytest.raises(ValidationError) as caught:
        schedule(plan, cron=cron)
    assert needle in " ".join(caught.value.message_dict["cron"])


def test_an_unknown_time_zone_is_refused(tenant_a):
    """A zone name that is not IANA's is a field error."""
    from django.core.exceptions import ValidationError

    plan = f.plan(f.project(tenant_a))
    with pytest.raises(ValidationError) as caught:
        schedule(plan, zone="Mars/Olympus")
    assert "timezone" in caught.value.message_dict


def test_the_default_zone_is_the_platforms(tenant_a, settings):
    """Tenants have no zone setting: a new schedule takes settings.TIME_ZONE."""
    settings.TIME_ZONE = "Europe/Paris"
    plan = f.plan(f.project(tenant_a))
    row = f.make(PlanSchedule, tenant_a, plan=plan, cron="0 9 * * *")
    assert row.timezone == "Europe/Paris"
    assert row.project_id == plan.project_id  # taken from the plan


def test_next_times_are_in_the_schedules_zone(tenant_a):
    """0 9 * * * in Asia/Shanghai is 01:00 UTC; next_due_at is the first of them."""
    row = schedule(f.plan(f.project(tenant_a)), zone="Asia/Shanghai")
    after = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    times = row.next_times(3, after=after)
    assert [t.astimezone(UTC) for t in times] == [
        datetime(2026, 3, 2, 1, 0, tzinfo=UTC), datetime(2026, 3, 3, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 4, 1, 0, tzinfo=UTC)]
    assert row.next_due_at.astimezone(UTC).hour == 1
    assert row.next_due_at > timezone.now()


def test_a_disabled_schedule_has_no_next_time(tenant_a):
    """Disabling clears next_due_at: fire_due never looks at it."""
    row = schedule(f.plan(f.project(tenant_a)), is_enabled=False)
    assert row.next_due_at is None


# Firing


def test_fire_due_starts_the_plan_and_moves_next_due_at(tenant_a):
    """A due schedule starts a run of its plan, records it and moves on to its next time."""
    plan = runnable_plan(f.project(tenant_a))
    row = schedule(plan, cron="*/5 * * * *")
    # Due at one of its own times (a five-minute mark), fired 30 s later: on time, nothing
    # missed whatever the clock says now.
    mark = timezone.now().replace(second=0, microsecond=0)
    mark -= timedelta(minutes=mark.minute % 5)
    now = mark + timedelta(seconds=30)
    due(row, mark)
    done = schedules.fire_due(now)
    assert len(done) == 1 and done[0]["error"] == "" and done[0]["missed"] == 0
    row = reload(row)
    with tenant_context(tenant_a):
        execution = Execution.objects.get(plan=plan)
    assert row.last_execution_id == execution.pk and row.last_fired_at == now
    assert execution.schedule_id == row.pk  # the run says which schedule started it
    assert now < row.next_due_at <= now + timedelta(minutes=5)
    assert row.missed_count == 0 and row.last_error == ""
    assert schedules.fire_due(now) == []  # not due any more: never fired twice


def test_a_missed_window_fires_once_and_counts_what_was_missed(tenant_a):
    """Beat down for three hours on an hourly schedule: one run, the misses counted."""
    plan = runnable_plan(f.project(tenant_a))
    row = schedule(plan, cron="0 * * * *")
    now = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    due(row, datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    done = schedules.fire_due(now)
    assert len(done) == 1
    with tenant_context(tenant_a):
        assert Execution.objects.filter(plan=plan).count() == 1
    row = reload(row)
    assert row.missed_count == 3  # 10:00, 11:00 and 12:00 passed after 09:00
    assert row.last_missed_at == now
    assert row.next_due_at == datetime(2026, 5, 1, 13, 0, tzinfo=UTC)


def test_an_unstartable_plan_records_the_error_and_moves_on(tenant_a):
    """An empty plan is refused: the reason is kept, no run is left, the time moves on."""
    plan = f.plan(f.project(tenant_a), "Empty")
    row = schedule(plan, cron="*/10 * * * *")
    now = timezone.now()
    due(row, now - timedelta(seconds=5))
    done = schedules.fire_due(now)
    assert "no scenarios" in done[0]["error"]
    row = reload(row)
    assert "no scenarios" in row.last_error and row.last_execution_id is None
    assert row.next_due_at > now and row.last_fired_at == now
    with tenant_context(tenant_a):
        assert not Execution.objects.filter(plan=plan).exists()
    assert schedules.fire_due(now) == []


def test_a_deleted_plan_records_the_error(tenant_a):
    """The schedule of a soft-deleted plan says so instead of firing at every tick."""
    plan = runnable_plan(f.project(tenant_a))
    row = schedule(plan)
    with tenant_context(tenant_a):
        plan.soft_delete()
    now = timezone.now()
    due(row, now - timedelta(seconds=5))
    schedules.fire_due(now)
    row = reload(row)
    assert "deleted" in row.last_error and row.next_due_at > now


def test_each_schedule_fires_in_its_own_tenant(tenant_a, tenant_b):
    """fire_due reads every tenant's schedules and starts each plan in its tenant."""
    plan_a = runnable_plan(f.project(tenant_a))
    plan_b = runnable_plan(f.project(tenant_b))
    now = timezone.now()
    for plan in (plan_a, plan_b):
        due(schedule(plan, cron="* * * * *"), now - timedelta(seconds=1))
    assert len(schedules.fire_due(now)) == 2
    with all_tenants():
        rows = Execution.objects.all_tenants().filter(plan__in=[plan_a, plan_b])
        assert sorted((e.plan_id, e.tenant_id) for e in rows) == sorted(
            [(plan_a.pk, tenant_a.pk), (plan_b.pk, tenant_b.pk)])


def test_the_task_fires_due_schedules(tenant_a):
    """testing.tasks.fire_schedules (beat's entry) runs fire_due without a tenant."""
    from django.conf import settings

    from testing.tasks import fire_schedules

    entry = settings.CELERY_BEAT_SCHEDULE["fire-test-plan-schedules"]
    assert entry["task"] == "testing.tasks.fire_schedules"
    plan = runnable_plan(f.project(tenant_a))
    row = schedule(plan)
    due(row, timezone.now() - timedelta(seconds=1))
    assert len(fire_schedules.apply().get()) == 1


def test_overdue_is_flagged(tenant_a):
    """An enabled schedule past due by more than two minutes is overdue."""
    row = schedule(f.plan(f.project(tenant_a)))
    assert not row.is_overdue()
    row.next_due_at = timezone.now() - timedelta(minutes=3)
    assert row.is_overdue()


# Plan page


def page_url(name, plan, *args):
    return reverse(f"testing:{name}", args=[plan.project_id, plan.pk, *args])


def test_the_plan_page_lists_schedules_with_next_times(client, tenant_a):
    """The section shows the cron, its zone, the next three times and what it did last."""
    plan = f.plan(f.project(tenant_a))
    row = schedule(plan, zone="Asia/Shanghai")
    with all_tenants():
        PlanSchedule.objects.all_tenants().filter(pk=row.pk).update(
            missed_count=4, last_error="The plan Nightly has no scenarios to run.")
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    html = client.get(page_url("plan", plan)).content.decode()
    assert 'id="plan-schedules"' in html and "Asia/Shanghai" in html
    assert html.count("09:00 CST") == 3
    assert "no scenarios to run" in html and ">4<" in html


def test_add_edit_and_delete_from_the_page(client, tenant_a):
    """A schedule is added, changed and deleted with plain forms."""
    plan = f.plan(f.project(tenant_a))
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    response = client.post(page_url("plan-schedule-create", plan),
                           {"cron": "30 6 * * 1-5", "timezone": "Europe/Paris",
                            "is_enabled": "on"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        row = PlanSchedule.objects.get(plan=plan)
    assert row.cron == "30 6 * * 1-5" and row.next_due_at is not None
    response = client.post(page_url("plan-schedule-edit", plan, row.pk),
                           {"cron": "0 7 * * *", "timezone": "UTC"})
    assert response.status_code == 302
    row = reload(row)
    assert row.cron == "0 7 * * *" and not row.is_enabled and row.next_due_at is None
    assert client.post(page_url("plan-schedule-delete", plan, row.pk)).status_code == 302
    assert reload(row).is_deleted


def test_a_bad_cron_on_the_page_keeps_the_input_and_names_the_error(client, tenant_a):
    """A refused expression is a 400 with the field's error, the input kept."""
    plan = f.plan(f.project(tenant_a))
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    response = client.post(page_url("plan-schedule-create", plan),
                           {"cron": "75 * * * *", "timezone": "UTC", "is_enabled": "on"})
    assert response.status_code == 400
    assert "Bad minute" in " ".join(response.context["form"].errors["cron"])
    assert 'value="75 * * * *"' in response.content.decode()


def test_without_the_code_the_section_is_hidden_and_writes_refused(client, tenant_a):
    """Without planschedule codes: no section, 403 on its forms."""
    plan = f.plan(f.project(tenant_a))
    row = schedule(plan)
    sign_in(client, tenant_a, all_design_codes())
    assert 'id="plan-schedules"' not in client.get(page_url("plan", plan)).content.decode()
    assert client.post(page_url("plan-schedule-create", plan), {}).status_code == 403
    assert client.post(page_url("plan-schedule-delete", plan, row.pk)).status_code == 403


def test_another_tenants_schedules_are_404_on_the_pages(client, tenant_a, tenant_b):
    """A tenant reaches neither another tenant's plan nor its schedules."""
    plan_b = f.plan(f.project(tenant_b))
    row_b = schedule(plan_b)
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    for url in (page_url("plan-schedule-create", plan_b),
                page_url("plan-schedule-edit", plan_b, row_b.pk),
                page_url("plan-schedule-delete", plan_b, row_b.pk)):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"cron": "* * * * *"}).status_code == 404, url
    # A schedule of another tenant under one's own plan's URL is 404 too.
    plan_a = f.plan(f.project(tenant_a))
    assert client.get(page_url("plan-schedule-edit", plan_a, row_b.pk)).status_code == 404
    assert reload(row_b).cron == "0 9 * * *" and not reload(row_b).is_deleted


# Plan page with htmx: every action answers with the schedules section


HTMX = {"HTTP_HX_REQUEST": "true"}


def fragment(response) -> str:
    """Return the section an htmx answer carries, checking it is the section alone."""
    html = response.content.decode()
    assert "<html" not in html and 'id="schedules"' in html, html[:500]
    return html


def test_htmx_add_edit_pause_resume_and_delete_answer_with_the_section(client, tenant_a):
    """With htmx each action answers with the section re-rendered, announced in the live
    region; the no-JS answers (redirects) are left to the plain-form test above."""
    plan = f.plan(f.project(tenant_a))
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES | {"execution:view"})
    added = client.post(page_url("plan-schedule-create", plan),
                        {"cron": "30 6 * * 1-5", "timezone": "Europe/Paris",
                         "is_enabled": "on"}, **HTMX)
    assert added.status_code == 200
    html = fragment(added)
    assert "30 6 * * 1-5" in html and "Europe/Paris" in html and 'id="live-status"' in html
    assert html.count("<time ") == 3  # the next three times
    with tenant_context(tenant_a):
        row = PlanSchedule.objects.get(plan=plan)
    assert f'id="schedule-{row.pk}"' in html and f"schedule-toggle-{row.pk}" in html

    opened = client.get(page_url("plan-schedule-edit", plan, row.pk), **HTMX)
    assert opened.status_code == 200
    html = fragment(opened)
    assert 'class="editing"' in html and "autofocus" in html
    assert f'id="schedule-{row.pk}-cron"' in html
    saved = client.post(page_url("plan-schedule-edit", plan, row.pk),
                        {"cron": "0 7 * * *", "timezone": "UTC", "is_enabled": "on"}, **HTMX)
    assert saved.status_code == 200 and 'class="editing"' not in fragment(saved)
    assert reload(row).cron == "0 7 * * *"

    paused = client.post(page_url("plan-schedule-pause", plan, row.pk), **HTMX)
    assert paused.status_code == 200 and "Resume" in fragment(paused)
    assert not reload(row).is_enabled and reload(row).next_due_at is None
    resumed = client.post(page_url("plan-schedule-resume", plan, row.pk), **HTMX)
    assert resumed.status_code == 200 and fragment(resumed).count("<time ") == 3
    assert reload(row).is_enabled and reload(row).next_due_at > timezone.now()

    deleted = client.post(page_url("plan-schedule-delete", plan, row.pk), **HTMX)
    assert deleted.status_code == 200
    html = fragment(deleted)
    assert f'id="schedule-{row.pk}"' not in html and "has no schedule" in html
    assert reload(row).is_deleted


def test_htmx_bad_input_is_a_400_with_field_errors_and_the_input_kept(client, tenant_a):
    """A refused cron or zone: 400, the section with the add form open, each error under
    its field, everything typed still there; the edit form keeps its row open."""
    plan = f.plan(f.project(tenant_a))
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    refused = client.post(page_url("plan-schedule-create", plan),
                          {"cron": "75 * * * *", "timezone": "Mars/Olympus"}, **HTMX)
    assert refused.status_code == 400
    html = fragment(refused)
    assert "<details" in html and " open>" in html
    cron_errors = html.split('id="schedule-cron_error"', 1)[1].split("</ul>", 1)[0]
    assert "Bad minute" in cron_errors
    zone_errors = html.split('id="schedule-timezone_error"', 1)[1].split("</ul>", 1)[0]
    assert "Mars/Olympus" in zone_errors
    assert 'value="75 * * * *"' in html and 'value="Mars/Olympus"' in html
    with tenant_context(tenant_a):
        assert not PlanSchedule.objects.filter(plan=plan).exists()

    row = schedule(plan)
    refused = client.post(page_url("plan-schedule-edit", plan, row.pk),
                          {"cron": "0 25 * * *", "timezone": "UTC"}, **HTMX)
    assert refused.status_code == 400
    html = fragment(refused)
    assert 'class="editing"' in html and 'value="0 25 * * *"' in html
    assert "Bad hour" in html.split(f'id="schedule-{row.pk}-cron_error"', 1)[1]
    assert reload(row).cron == "0 9 * * *"


def test_pause_and_resume_without_javascript(client, tenant_a):
    """Pause and resume are POSTs going back to the plan page; a GET is refused."""
    plan = f.plan(f.project(tenant_a))
    row = schedule(plan)
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    pause = page_url("plan-schedule-pause", plan, row.pk)
    assert client.get(pause).status_code == 405
    response = client.post(pause)
    assert response.status_code == 302 and response.url.endswith("#plan-schedules")
    assert not reload(row).is_enabled
    assert "Resume" in client.get(page_url("plan", plan)).content.decode()
    assert client.post(page_url("plan-schedule-resume", plan, row.pk)).status_code == 302
    assert reload(row).is_enabled


def test_pause_needs_the_update_code(client, tenant_a):
    """Without planschedule:update no pause button and a 403."""
    plan = f.plan(f.project(tenant_a))
    row = schedule(plan)
    sign_in(client, tenant_a, all_design_codes() | {"planschedule:view"})
    html = client.get(page_url("plan", plan)).content.decode()
    assert "schedule-toggle-" not in html and 'id="plan-schedules"' in html
    assert client.post(page_url("plan-schedule-pause", plan, row.pk), **HTMX).status_code == 403
    assert reload(row).is_enabled


def test_htmx_another_tenants_schedule_is_404(client, tenant_a, tenant_b):
    """Through htmx too, another tenant's schedule is 404 and stays as it was, under its
    own plan's URL or under one of the tenant's plans."""
    plan_b = f.plan(f.project(tenant_b))
    row_b = schedule(plan_b)
    plan_a = f.plan(f.project(tenant_a))
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    for plan in (plan_b, plan_a):
        for name in ("plan-schedule-edit", "plan-schedule-pause", "plan-schedule-resume",
                     "plan-schedule-delete"):
            address = page_url(name, plan, row_b.pk)
            answer = client.post(address, {"cron": "* * * * *", "timezone": "UTC"}, **HTMX)
            assert answer.status_code == 404, address
        assert client.get(page_url("plan-schedule-edit", plan, row_b.pk),
                          **HTMX).status_code == 404
    assert client.post(page_url("plan-schedule-create", plan_b), {"cron": "* * * * *"},
                       **HTMX).status_code == 404
    row_b = reload(row_b)
    assert row_b.cron == "0 9 * * *" and row_b.is_enabled and not row_b.is_deleted
    with all_tenants():
        assert PlanSchedule.objects.all_tenants().filter(plan=plan_b).count() == 1


# The last run of each schedule


def scheduled_runs(row: PlanSchedule, statuses) -> list[Execution]:
    """Create runs of ``row``'s plan started by ``row``, oldest first, one a minute."""
    made = []
    start = timezone.now() - timedelta(hours=1)
    with tenant_context(row.tenant):
        for index, status in enumerate(statuses):
            execution = Execution.objects.create(
                project_id=row.project_id, kind="plan", name=row.plan.name, plan=row.plan,
                status=status, schedule=row)
            Execution.objects.filter(pk=execution.pk).update(
                created_at=start + timedelta(minutes=index))
            made.append(execution)
    return made


def test_the_section_shows_each_schedules_last_run(client, tenant_a):
    """The last run (newest) of each schedule with its status, linking to it; a schedule
    that never ran says so; without execution:view the link is left out."""
    plan = f.plan(f.project(tenant_a))
    ran, idle = schedule(plan), schedule(plan, cron="0 18 * * *")
    made = scheduled_runs(ran, ["completed", "completed", "failed"])
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES | {"execution:view"})
    html = client.get(page_url("plan", plan)).content.decode()
    ran_row = html.split(f'id="schedule-{ran.pk}"', 1)[1].split("</tr>", 1)[0]
    last = ran_row.split('class="last-run"', 1)[1].split("</td>", 1)[0]
    assert 'run-status failed' in last and made[-1].get_absolute_url() in last
    assert made[0].get_absolute_url() not in html
    idle_row = html.split(f'id="schedule-{idle.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "—" in idle_row.split('class="last-run"', 1)[1].split("</td>", 1)[0]
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES)
    html = client.get(page_url("plan", plan)).content.decode()
    assert "run-status failed" in html and made[-1].get_absolute_url() not in html


@pytest.mark.parametrize("count", [1, 6])
def test_the_section_reads_a_fixed_number_of_queries(client, tenant_a, count,
                                                     django_assert_max_num_queries):
    """The plan page and the htmx section cost the same whatever the number of schedules
    and of their runs (no query per schedule)."""
    plan = f.plan(f.project(tenant_a))
    rows = [schedule(plan, cron=f"{index} 9 * * *") for index in range(count)]
    for row in rows:
        scheduled_runs(row, ["completed", "failed"])
    sign_in(client, tenant_a, all_design_codes() | SCHEDULE_CODES | {"execution:view"})
    client.get(page_url("plan", plan))
    with django_assert_max_num_queries(16):
        assert client.get(page_url("plan", plan)).status_code == 200
    with django_assert_max_num_queries(9):
        assert client.get(page_url("plan-schedule-edit", plan, rows[0].pk),
                          **HTMX).status_code == 200


# Admin


def test_the_admin_lists_overdue_schedules(client, tenant_a, operator_client):
    """The operator's change list shows next due, last fired and the overdue flag."""
    row = schedule(f.plan(f.project(tenant_a)))
    due(row, timezone.now() - timedelta(hours=1))
    page = operator_client.get(reverse("admin:testing_planschedule_changelist"),
                               {"overdue": "yes"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "0 9 * * *" in html and "icon-yes" in html



def test_the_execution_admin_shows_the_schedule_read_only(tenant_a, operator_client):
    """An execution's change page names the schedule that started it; nothing to edit."""
    row = schedule(f.plan(f.project(tenant_a)), cron="15 3 * * *")
    execution = scheduled_runs(row, ["completed"])[0]
    page = operator_client.get(reverse("admin:testing_execution_change",
                                       args=[execution.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "15 3 * * *" in html and 'name="schedule"' not in html


# API


def api_schedule(tenant, index=0):
    plan = af.plan(tenant)
    with tenant_context(tenant):
        row = PlanSchedule(tenant=tenant, plan=plan, project=plan.project,
                           cron=f"{index % 60} 9 * * *", timezone="UTC")
        row.full_clean()
        row.save()
        return row


class TestPlanScheduleAPI(SoftDeleteAPIViewTestCase):
    basename = "testplanschedule"
    model = PlanSchedule
    patch_data = {"is_enabled": False}

    test_create_duplicate_is_400 = None  # no unique keys: two alike schedules are allowed
    test_restore_taken_keys_is_400 = None

    def make(self, tenant, index):
        return api_schedule(tenant, index)

    def create_data(self, tenant):
        return {"plan": str(af.plan(tenant).pk), "cron": "0 9 * * 1-5",
                "timezone": "Asia/Shanghai", "environment": str(af.environment(tenant).pk)}

    def update_data(self, row):
        return {"plan": str(row.plan_id), "cron": "*/15 * * * *", "timezone": "UTC",
                "environment": None, "is_enabled": True}

    def invalid_payloads(self, tenant):
        plan = str(af.plan(tenant).pk)
        stranger = af.environment(tenant, "Stranger", in_project=af.project(tenant, "Elsewhere"))
        return [({"plan": plan, "cron": "61 * * * *"}, {"cron"}),
                ({"plan": plan, "cron": "0 9 * * *", "timezone": "Nowhere/City"}, {"timezone"}),
                ({"plan": plan, "cron": "0 9 * * *", "environment": str(stranger.pk)},
                 {"environment"})]

    def foreign_references(self, other_org):
        return [({"plan": str(af.plan(other_org["root"].tenant).pk)}, "plan")]


def test_api_bad_cron_is_400_naming_the_field(tenant_a):
    """POST with a bad cron: 400, the error on ``cron`` saying what is wrong."""
    api = af.signed_in_tester(tenant_a)
    response = api.post(af.url("testplanschedule"),
                        {"plan": str(af.plan(tenant_a).pk), "cron": "0 25 * * *"},
                        format="json")
    errors = assert_field_errors(response, {"cron"})
    assert "Bad hour" in str(errors)


def test_api_answers_next_times_and_filters_by_plan(tenant_a):
    """The answer holds the next three times in the zone; ?plan= narrows the list."""
    api = af.signed_in_tester(tenant_a)
    plan = af.plan(tenant_a)
    other = af.plan(tenant_a, "Other")
    created = api.post(af.url("testplanschedule"),
                       {"plan": str(plan.pk), "cron": "0 9 * * *", "timezone": "Asia/Shanghai"},
                       format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["project"] == str(plan.project_id)
    assert len(body["next_run_times"]) == 3
    assert all(t.endswith("T09:00:00+08:00") for t in body["next_run_times"])
    assert body["next_due_at"].endswith("01:00:00Z") or "T01:00:00" in body["next_due_at"]
    api.post(af.url("testplanschedule"), {"plan": str(other.pk), "cron": "0 1 * * *"},
             format="json")
    listed = api.get(af.url("testplanschedule"), {"plan": str(plan.pk)}).json()["results"]
    assert [r["id"] for r in listed] == [body["id"]]
    by_project = api.get(af.url("testplanschedule"), {"project": str(plan.project_id)}).json()
    assert by_project["count"] == 2


def test_api_another_tenants_schedule_is_404(tenant_a, tenant_b):
    """A tester of one tenant cannot read or change another tenant's schedule."""
    row_b = api_schedule(tenant_b)
    api = af.signed_in_tester(tenant_a)
    assert api.get(af.url("testplanschedule", "detail", row_b.pk)).status_code == 404
    assert api.patch(af.url("testplanschedule", "detail", row_b.pk), {"cron": "* * * * *"},
                     format="json").status_code == 404
    assert api.delete(af.url("testplanschedule", "detail", row_b.pk)).status_code == 404
    assert reload(row_b).cron == "0 9 * * *"
