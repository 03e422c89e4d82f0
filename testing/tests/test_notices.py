"""When a plan's run ends (testing.services.notices): notifications to the plan's users
and role holders, and a signed webhook to a real server on loopback; two tenants."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.context import tenant_context
from notifications.models import Notification
from rbac.services import ensure_admin_role
from testing.choices import NotifyOn
from testing.models import PlanScenario, TestPlan
from testing.services import runs
from testing.tests import factories as f
from testing.tests.factories import request_step, status_is
from testing.tests.test_runs import start
from tests.api_cases import assert_field_errors, make_actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]


class Receiver:
    """A real HTTP server on loopback that keeps what webhooks POST to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the base class's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def plan(project_a, tenant_a, target):
    env = f.environment(project_a, "Local", base_url=target.url)
    plan = f.plan(project_a, "Nightly", environment=env)
    scenario = f.scenario(project_a, "Statuses", variables={"code": 500})
    request_step(scenario, "/status/{{code}}", assertions=[status_is(200)])
    f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario, sort_order=1)
    return plan


def configure(plan, **fields):
    with tenant_context(plan.tenant):
        row = TestPlan.objects.get(pk=plan.pk)
        users = fields.pop("users", [])
        roles = fields.pop("roles", [])
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        row.notify_users.set(users)
        row.notify_roles.set(roles)
        return row


def run(django_capture_on_commit_callbacks, plan):
    return start(django_capture_on_commit_callbacks, plan.tenant, runs.start_plan, plan)


def test_a_failed_run_notifies_the_plans_users_and_role_holders(
        django_capture_on_commit_callbacks, plan, tenant_a, admin_a):
    watcher = make_actor(tenant_a, ["project:view"], username="watcher")
    configure(plan, notify_on=NotifyOn.FAILED, users=[watcher],
              roles=[ensure_admin_role(tenant_a)])
    execution = run(django_capture_on_commit_callbacks, plan)
    assert execution.status == "failed"
    with tenant_context(tenant_a):
        sent = list(Notification.objects.order_by("created_at"))
    assert [n.audience for n in sent] == ["users", "roles"]
    assert sent[0].title == "Plan Nightly: the run failed" and sent[0].level == "warning"
    assert "0 of 1 scenario runs passed" in sent[0].content
    assert str(execution.pk) in sent[0].content


def test_failed_only_stays_quiet_after_a_passing_run_and_always_speaks(
        django_capture_on_commit_callbacks, plan, tenant_a):
    watcher = make_actor(tenant_a, ["project:view"], username="watcher")
    configure(plan, notify_on=NotifyOn.FAILED, users=[watcher])
    with tenant_context(tenant_a):
        type(plan).objects.get(pk=plan.pk).entries.get().scenario.__class__.objects.filter(
            project=plan.project).update(variables={"code": 200})
    assert run(django_capture_on_commit_callbacks, plan).status == "completed"
    assert not Notification.objects.all_tenants().exists()
    configure(plan, notify_on=NotifyOn.ALWAYS, users=[watcher])
    run(django_capture_on_commit_callbacks, plan)
    (sent,) = Notification.objects.all_tenants()
    assert sent.title == "Plan Nightly: the run passed" and sent.level == "info"


def test_the_webhook_is_signed_and_carries_the_outcome(
        django_capture_on_commit_callbacks, plan, receiver):
    configure(plan, notify_on=NotifyOn.ALWAYS, webhook_url=receiver.url,
              webhook_secret="whsec-9f8e7d6c")
    execution = run(django_capture_on_commit_callbacks, plan)
    ((headers, body),) = receiver.received
    expected = hmac.new(b"whsec-9f8e7d6c", body, hashlib.sha256).hexdigest()
    assert headers["X-Atrium-Signature"] == f"sha256={expected}"
    data = json.loads(body)
    assert data["event"] == "run.finished"
    assert data["execution"]["id"] == str(execution.pk)
    assert data["execution"]["status"] == "failed"
    assert data["execution"]["scenario_runs"] == {"total": 1, "passed": 0, "failed": 1}
    assert headers["X-Atrium-Timestamp"] == str(data["sent_at"])
    assert b"whsec" not in body


def test_a_refused_webhook_address_leaves_the_run_alone(
        django_capture_on_commit_callbacks, plan, caplog):
    configure(plan, notify_on=NotifyOn.ALWAYS, webhook_url="http://169.254.169.254/hook")
    execution = run(django_capture_on_commit_callbacks, plan)
    assert execution.status == "failed"
    assert "webhook of plan" in caplog.text


def test_the_secret_is_write_only_and_people_are_of_the_callers_tenant(
        plan, tenant_a, tenant_b):
    api = APIClient()
    api.force_login(make_actor(tenant_a, ["testplan:view", "testplan:update"]))
    url = reverse("api:testplan-detail", args=[plan.pk])
    stranger = make_actor(tenant_b, ["project:view"], username="stranger")
    response = api.patch(url, {"notify_users": [str(stranger.pk)]}, format="json")
    assert_field_errors(response, ["notify_users"])
    response = api.patch(url, {"webhook_secret": "whsec-abcdef", "notify_on": "always"},
                         format="json")
    assert response.status_code == 200, response.content
    assert "whsec" not in response.content.decode()
    assert response.json()["has_webhook_secret"] is True
    with tenant_context(tenant_a):
        assert TestPlan.objects.get(pk=plan.pk).webhook_secret == "whsec-abcdef"


def test_the_plan_page_offers_only_the_tenants_people(client, plan, tenant_a, tenant_b):
    make_actor(tenant_b, ["project:view"], username="stranger")
    client.force_login(make_actor(tenant_a, ["project:view", "testplan:view",
                                             "testplan:update"], username="editor"))
    page = client.get(reverse("testing:plan", args=[plan.project_id, plan.pk]))
    text = page.content.decode()
    assert "editor" in text and "stranger" not in text


def test_a_scheduled_failing_run_notifies_and_says_its_schedule(
        django_capture_on_commit_callbacks, plan, tenant_a, tenant_b):
    """The issue's "done when": a schedule fires, its run fails, the plan's people hear of
    it; the run says which schedule started it. Another tenant hears nothing."""
    from datetime import timedelta

    from django.utils import timezone

    from testing.models import Execution
    from testing.services import schedules
    from testing.tests.test_schedules import due, schedule

    watcher = make_actor(tenant_a, ["project:view"], username="watcher")
    make_actor(tenant_b, ["project:view"], username="watcher")
    configure(plan, notify_on=NotifyOn.FAILED, users=[watcher])
    row = schedule(plan, cron="*/5 * * * *")
    mark = timezone.now().replace(second=0, microsecond=0)
    mark -= timedelta(minutes=mark.minute % 5)
    due(row, mark)
    with django_capture_on_commit_callbacks(execute=True):
        fired = schedules.fire_due(mark + timedelta(seconds=30))
    assert len(fired) == 1 and fired[0]["error"] == ""
    with tenant_context(tenant_a):
        execution = Execution.objects.get(plan=plan)
        (notice,) = Notification.objects.all()
    assert execution.status == "failed" and execution.schedule_id == row.pk
    assert notice.title == "Plan Nightly: the run failed" and str(execution.pk) in notice.content
    with tenant_context(tenant_b):
        assert not Notification.objects.exists()
