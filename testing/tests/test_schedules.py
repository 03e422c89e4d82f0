"""Schedules of test plans (issue 15, item 4): cron and zone validation, next times in the
schedule's zone, ``fire_due`` (a run started, a missed window fired once and counted, an
unstartable plan recorded), two tenants, the plan page, the admin and the API."""

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
