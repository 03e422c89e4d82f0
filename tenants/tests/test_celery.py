"""The tenant context travels with Celery tasks (tenants.celery, tenants.tasks, check_worker).

Send-time refusal and local runs (``apply``) need no broker. The real-worker tests start a
``celery worker`` process on the local Redis (database 15, a queue unique to the run) and
talk to it through the platform's own Celery app, reconfigured for the test and restored
afterwards: a task sent inside a tenant comes back with that tenant and actor, and a raw
message without the tenant header is refused by the worker.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery.result import AsyncResult, EagerResult
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.choices import UserStatus
from accounts.models import User
from accounts.tasks import release_expired_locks
from config.celery import app, broker_transport_options
from conftest import make_user, require_service
from core.context import actor_context, all_tenants, get_scope, tenant_context
from tenants.celery import ACTOR_HEADER, TENANT_HEADER, TenantTaskMissingTenant
from tenants.tasks import echo_context

BASE_DIR = Path(__file__).resolve().parent.parent.parent
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/15"
WORKER_START_TIMEOUT = 60  # seconds
RESULT_TIMEOUT = 60  # seconds
WORKER_STOP_TIMEOUT = 15  # seconds


def _drop_cached_connections() -> None:
    """Make the app build its broker pool and result backend again from its conf."""
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@contextmanager
def celery_app_using(broker_url: str, result_backend: str, **transport: str) -> Iterator[None]:
    """Point the platform's Celery app at another broker and result backend, then restore."""
    conf = app.conf  # configures the app from settings first, if nothing has yet
    keys = ("broker_url", "result_backend", "broker_transport_options", "task_always_eager")
    saved = {key: conf[key] for key in keys}
    options = broker_transport_options(broker_url) | transport
    _drop_cached_connections()
    conf.update(
        broker_url=broker_url,
        result_backend=result_backend,
        broker_transport_options=options,
        task_always_eager=False,
    )
    try:
        yield
    finally:
        _drop_cached_connections()
        conf.update(saved)


# ---------------------------------------------------------------------------
# Send-time refusal and local runs
# ---------------------------------------------------------------------------


@pytest.fixture
def memory_broker(tmp_path) -> Iterator[None]:
    """An in-memory broker, so that a message wrongly sent goes nowhere."""
    with celery_app_using("memory://", f"file://{tmp_path}"):
        yield


def test_a_tenant_scoped_task_sent_without_a_tenant_is_refused_at_send_time(memory_broker):
    """apply_async with no tenant in context raises before anything reaches a broker."""
    assert get_scope() is None
    with pytest.raises(TenantTaskMissingTenant, match="tenant_context"):
        echo_context.apply_async()


def test_a_tenant_scoped_task_is_refused_under_an_all_tenants_scope(memory_broker):
    """Every tenant in scope is not one tenant: a tenant-scoped task is still refused."""
    with all_tenants(), pytest.raises(TenantTaskMissingTenant):
        echo_context.apply_async()


def test_apply_without_a_tenant_is_refused():
    """A local run is refused like a sent message when no tenant is in context."""
    with pytest.raises(TenantTaskMissingTenant):
        echo_context.apply()


def test_apply_inside_a_tenant_returns_that_tenant_and_actor():
    """apply() inside tenant_context and actor_context runs with both, through the headers."""
    tenant_id = uuid.uuid4()
    actor_id = uuid.uuid4()
    with tenant_context(tenant_id), actor_context(actor_id):
        result = echo_context.apply()
    assert isinstance(result, EagerResult)
    assert result.successful(), result.traceback
    assert result.get() == {"tenant_id": str(tenant_id), "actor_id": str(actor_id)}


def test_apply_takes_the_tenant_from_the_message_headers():
    """An all-tenants caller may name the tenant in the headers; the task runs in it."""
    sender = uuid.uuid4()
    with all_tenants():
        result = echo_context.apply(headers={TENANT_HEADER: str(sender), ACTOR_HEADER: "7"})
    assert result.get() == {"tenant_id": str(sender), "actor_id": "7"}


def test_a_tenant_cannot_send_a_task_as_another_tenant(memory_broker):
    """Inside one tenant's scope, a header naming another tenant is refused at send time."""
    caller, other = uuid.uuid4(), uuid.uuid4()
    with tenant_context(caller):
        with pytest.raises(TenantTaskMissingTenant, match="another tenant"):
            echo_context.apply_async(headers={TENANT_HEADER: str(other)})
        with pytest.raises(TenantTaskMissingTenant, match="another tenant"):
            echo_context.apply(headers={TENANT_HEADER: str(other)})


def test_apply_restores_the_callers_context_afterwards():
    """The task's scope is set for the task only; the caller's scope is untouched."""
    with all_tenants():
        scope = get_scope()
        result = echo_context.apply(headers={TENANT_HEADER: str(uuid.uuid4())})
        assert result.successful(), result.traceback
        assert get_scope() is scope
    assert get_scope() is None


def test_a_direct_call_runs_in_the_callers_context():
    """Calling the task as a function uses the caller's tenant, and refuses none."""
    tenant_id = uuid.uuid4()
    with tenant_context(tenant_id):
        assert echo_context() == {"tenant_id": str(tenant_id), "actor_id": None}
    with pytest.raises(TenantTaskMissingTenant):
        echo_context()


@pytest.mark.django_db
def test_a_platform_task_runs_without_a_tenant(tenant_a, tenant_b):
    """release_expired_locks is not tenant-scoped: it runs with no tenant and unlocks the
    expired locks of every tenant."""
    past = timezone.now() - timezone.timedelta(minutes=1)
    users = [make_user(tenant_a, "locked-a"), make_user(tenant_b, "locked-b")]
    User.objects.all_tenants().filter(pk__in=[user.pk for user in users]).update(
        status=UserStatus.LOCKED, locked_until=past
    )
    assert get_scope() is None
    assert release_expired_locks.tenant_scoped is False
    result = release_expired_locks.apply()
    assert result.successful(), result.traceback
    assert result.get() == 2
    statuses = User.objects.all_tenants().filter(pk__in=[user.pk for user in users])
    assert set(statuses.values_list("status", flat=True)) == {UserStatus.ACTIVE}


# ---------------------------------------------------------------------------
# check_worker without a worker
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_worker_succeeds_when_tasks_run(tenant_a, tmp_path):
    """With tasks run in process (eager), check_worker prints OK with the tenant code."""
    results = tmp_path / "results"
    results.mkdir()
    with celery_app_using("memory://", f"file://{results}"):
        app.conf.task_always_eager = True
        out = io.StringIO()
        call_command("check_worker", "--tenant", "alpha", stdout=out)
    assert "OK" in out.getvalue()
    assert "alpha" in out.getvalue()


@pytest.mark.django_db
def test_check_worker_fails_when_no_worker_answers(tenant_a, tmp_path, settings):
    """With no worker consuming the queue, check_worker raises CommandError on timeout."""
    settings.CELERY_BROKER_FOLDER = tmp_path / "broker"
    results = tmp_path / "results"
    results.mkdir()
    with celery_app_using("filesystem://", f"file://{results}"):
        started = time.monotonic()
        with pytest.raises(CommandError, match="No worker answered"):
            call_command("check_worker", "--tenant", "alpha", "--timeout", "1")
        assert time.monotonic() - started < 30
    # The probe did reach the broker: one message waits in the queue folder.
    assert len(list((tmp_path / "broker" / "out").iterdir())) == 1


@pytest.mark.django_db
def test_check_worker_refuses_an_unknown_tenant():
    """An unknown tenant code is a CommandError, before anything is sent."""
    with pytest.raises(CommandError, match="nosuch"):
        call_command("check_worker", "--tenant", "nosuch")


# ---------------------------------------------------------------------------
# A real worker on the real Redis broker
# ---------------------------------------------------------------------------


def _stop(process: subprocess.Popen) -> None:
    """Terminate the worker, and kill it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=WORKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=WORKER_STOP_TIMEOUT)


def _wait_until_ready(process: subprocess.Popen, log: Path) -> None:
    """Wait until the worker logs that it is ready; fail with its log if it dies or hangs."""
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if " ready." in text:
            return
        if process.poll() is not None:
            pytest.fail(f"The Celery worker exited with {process.returncode}:\n{text}")
        time.sleep(0.2)
    pytest.fail(
        f"The Celery worker was not ready within {WORKER_START_TIMEOUT} s:\n"
        f"{log.read_text(errors='replace')}"
    )


def _delete_queue(queue: str) -> None:
    """Remove the run's queue and its binding from Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )
    finally:
        client.close()


@pytest.fixture(scope="class")
def worker(tmp_path_factory) -> Iterator[dict]:
    """A worker process consuming a unique queue on Redis database 15.

    The test process's Celery app talks to the same broker and result backend while the
    fixture is active. Yields the queue name and the worker's log file.
    """
    require_service(REDIS_HOST, REDIS_PORT, "Redis")
    queue = f"atrium-test-{uuid.uuid4().hex}"
    log = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool=solo", "--concurrency=1", "-Q", queue,
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=INFO",
    ]  # fmt: skip
    with celery_app_using(REDIS_URL, REDIS_URL):
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            _wait_until_ready(process, log)
            yield {"queue": queue, "log": log}
        finally:
            _stop(process)
            _delete_queue(queue)


@pytest.mark.services
@pytest.mark.django_db  # every test of the class, so pytest-django keeps them together
class TestRealWorker:
    """A worker process restores the sender's tenant and actor, and refuses none."""

    def test_a_task_sent_inside_a_tenant_runs_with_that_tenant_and_actor(
        self, worker, tenant_a
    ):
        """The worker answers with the tenant and actor that were in context at send time."""
        actor_id = uuid.uuid4()
        with tenant_context(tenant_a), actor_context(actor_id):
            result = echo_context.apply_async(queue=worker["queue"])
        assert isinstance(result, AsyncResult) and not isinstance(result, EagerResult)
        try:
            answer = result.get(timeout=RESULT_TIMEOUT)
        finally:
            result.forget()
        assert answer == {"tenant_id": str(tenant_a.pk), "actor_id": str(actor_id)}
        assert result.id in worker["log"].read_text(errors="replace")

    def test_consecutive_tasks_do_not_share_context(self, worker, tenant_a, tenant_b):
        """Two tasks run by the same worker process each see their own tenant only."""
        with tenant_context(tenant_a):
            first = echo_context.apply_async(queue=worker["queue"])
        with tenant_context(tenant_b):
            second = echo_context.apply_async(queue=worker["queue"])
        try:
            assert first.get(timeout=RESULT_TIMEOUT)["tenant_id"] == str(tenant_a.pk)
            assert second.get(timeout=RESULT_TIMEOUT) == {
                "tenant_id": str(tenant_b.pk),
                "actor_id": None,
            }
        finally:
            first.forget()
            second.forget()

    def test_a_message_without_the_tenant_header_is_refused_by_the_worker(self, worker):
        """A raw message (app.send_task, no tenant header) fails on the worker, naming why."""
        result = app.send_task("tenants.tasks.echo_context", queue=worker["queue"])
        try:
            outcome = result.get(timeout=RESULT_TIMEOUT, propagate=False)
            assert result.state == "FAILURE"
            assert isinstance(outcome, TenantTaskMissingTenant)
            assert "carries no tenant" in str(outcome)
            assert "TenantTaskMissingTenant" in (result.traceback or "")
        finally:
            result.forget()

    def test_check_worker_reports_ok(self, worker, tenant_a):
        """check_worker --tenant alpha gets the worker's answer and prints OK with the code."""
        out = io.StringIO()
        call_command(
            "check_worker", "--tenant", "alpha", "--timeout", str(RESULT_TIMEOUT),
            "--queue", worker["queue"], stdout=out,
        )  # fmt: skip
        assert "OK" in out.getvalue()
        assert "alpha" in out.getvalue()
