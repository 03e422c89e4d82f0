"""Scenario runs on a real Celery worker process, on Redis and the test database (seed 001
§3.15: pause, resume, terminate, recovery from a dead worker).

Each test starts ``celery worker`` processes (solo pool, one task at a time) on the local
Redis, database 15, reading a queue unique to the test, as ``tenants/tests/test_celery.py``
does; the test process sends to that queue through the platform's own Celery app,
reconfigured for the test and restored afterwards. The workers use the very database of
the test (``DATABASE_URL`` built from the test connection), so the test needs committed
data (``transaction=True``) and a server backend: SQLite's test database lives in the
memory of the pytest process, where no worker process can reach it.

The workers run ``testing/tests/worker.py``: the platform's app, sending on to the same
queue. The steps call a real HTTP server on loopback (``http_target``); each step has a
path of its own (``/delay/<s>/<name>``: slow, and counted apart), so the server's ``hits``
say how many times each step really ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app
from conftest import require_service, test_database_url
from core.context import tenant_context
from tenants.tests.test_celery import REDIS_HOST, REDIS_PORT, REDIS_URL, celery_app_using
from testing.choices import RunStatus, ScenarioRunStatus, StepKind
from testing.models import Execution, ExecutionStep, StepResult
from testing.reports import allure
from testing.services import runs
from testing.tasks import recover_runs, run_scenario_run
from testing.tests import factories as f
from testing.tests.http_target import Target

BASE_DIR = Path(__file__).resolve().parents[2]
WAIT_TIMEOUT = 30  # seconds, for any one state of a run
POLL = 0.1  # seconds between two reads of the database
WORKER_START_TIMEOUT = 60  # seconds
WORKER_STOP_TIMEOUT = 15  # seconds
STEP_SECONDS = 0.3  # how long the target takes to answer each step
HEARTBEAT_SECONDS = 0.5
HEARTBEAT_TIMEOUT = 3  # seconds; the settings' minimum is 1

pytestmark = [
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite's test database is in the memory of the pytest process: a worker "
               "process cannot share it (run with DATABASE_URL on MariaDB or PostgreSQL)"),
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def database_url() -> str:
    """Return the URL of the test database, for the worker processes."""
    return test_database_url()


class Workers:
    """Celery worker processes reading one queue, started on demand, all stopped at the end."""

    def __init__(self, queue: str, folder: Path) -> None:
        self.queue = queue
        self.folder = folder
        self.logs: list[Path] = []
        self.processes: list[subprocess.Popen] = []
        self.env = {
            key: value for key, value in os.environ.items()
            if not key.startswith("DATABASE_URL_")  # other databases: not under test here
        } | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "DATABASE_ROUTE_FALLBACK": "true",
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_RESULT_BACKEND": REDIS_URL,
            "ATRIUM_TEST_QUEUE": queue,
            "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
            "TESTING_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "TESTING_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "TESTING_RESULT_FLUSH_SECONDS": "0",
        }

    def node(self, number: int) -> str:
        """Return the node name of worker ``number``, unique to the test like its queue."""
        return f"runs-{number}-{self.queue[-12:]}"

    def start(self) -> subprocess.Popen:
        """Start a worker and wait until it reads the queue."""
        number = len(self.processes) + 1
        log = self.folder / f"worker-{number}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "testing.tests.worker", "worker",
            "--pool=solo", "--concurrency=1", "-Q", self.queue, "-n", f"{self.node(number)}@%h",
            "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=INFO",
        ]  # fmt: skip
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=output,
                                       stderr=subprocess.STDOUT)
        self.logs.append(log)
        self.processes.append(process)
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"Worker {number} exited with {process.returncode}:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Worker {number} was not ready within {WORKER_START_TIMEOUT} s:\n"
                            f"{self.text()}")
            time.sleep(POLL)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """Stop ``process`` as an operator would (SIGTERM: finish the task, then exit)."""
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=WORKER_STOP_TIMEOUT)

    def kill(self, process: subprocess.Popen) -> None:
        """Kill ``process`` at once (SIGKILL): with the solo pool it is the one running tasks."""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=WORKER_STOP_TIMEOUT)

    def close(self) -> None:
        """Kill the workers still running: the test has read all it needed, a warm shutdown
        would only cost time (or wait for the task of a failed test), and the message a
        killed worker holds is removed with the queue (``forget``)."""
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)

    def forget(self, *queues: str) -> None:
        """Remove from Redis the queues, their bindings and what killed workers left there.

        A worker killed mid-task leaves its message in kombu's ``unacked`` hash (kept, it would
        go back to the deleted queue after the visibility timeout), and any killed worker
        leaves its remote-control binding in ``_kombu.binding.celery.pidbox``.
        """
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        try:
            for queue in queues:
                client.delete(queue, f"_kombu.binding.{queue}",
                              f"_kombu.binding_permanent.{queue}")
            for tag, payload in client.hgetall("unacked").items():
                if any(queue.encode() in payload for queue in queues):
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
            nodes = [f"{self.node(n)}@".encode() for n in range(1, len(self.processes) + 1)]
            pidbox = "_kombu.binding.celery.pidbox"
            left = [m for m in client.smembers(pidbox) if any(n in m for n in nodes)]
            if left:
                client.srem(pidbox, *left)
        finally:
            client.close()

    def text(self) -> str:
        """Return the logs of every worker started, the last lines of each."""
        parts = []
        for log in self.logs:
            lines = log.read_text(errors="replace").splitlines()[-60:]
            parts.append(f"--- {log.name} ---\n" + "\n".join(lines))
        return "\n".join(parts) or "(no worker started)"

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until true; fail naming ``what``, with the workers' logs."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"Not seen within {WAIT_TIMEOUT} s: {what}.\n{self.text()}")
            time.sleep(POLL)



@pytest.fixture
def workers(tmp_path, tenant_a) -> Iterator[Workers]:
    """Workers on a queue of the test's own; this process sends its runs there meanwhile.

    Depends on the database fixtures, so that its workers stop before the test database is
    flushed.
    """
    require_service(REDIS_HOST, REDIS_PORT, "Redis")
    queue = f"atrium-test-runs-{uuid.uuid4().hex}"
    pool = Workers(queue, tmp_path)
    with celery_app_using(REDIS_URL, REDIS_URL):
        default_queue = app.conf.task_default_queue
        app.conf.task_default_queue = queue
        try:
            yield pool
        finally:
            pool.close()
            app.conf.task_default_queue = default_queue
            pool.forget(queue, held_queue(queue))


def held_queue(queue: str) -> str:
    """Return the name of a queue that no worker reads, to hold a message back."""
    return f"{queue}-held"


def slow_scenario(project, target, name: str, count: int):
    """Return a scenario of ``count`` slow steps, each on a path of its own, and its paths."""
    env = f.environment(project, "Loopback", base_url=target.url)
    scenario = f.scenario(project, name)
    paths = [f"/delay/{STEP_SECONDS}/{name}-{index}" for index in range(count)]
    for path in paths:
        f.step(scenario, kind=StepKind.REQUEST, parameters={
            "method": "GET", "url": path, "extractors": [],
            "assertions": [{"type": "status_code", "operator": "==", "expected_value": 200}]})
    return scenario, env, paths


class Run:
    """Reads of one started execution and its single scenario run, from the database."""

    def __init__(self, tenant, execution: Execution) -> None:
        self.tenant = tenant
        self.execution = execution
        with tenant_context(tenant):
            self.run = ExecutionStep.objects.get(execution=execution)

    def refresh(self) -> None:
        with tenant_context(self.tenant):
            self.execution.refresh_from_db()
            self.run.refresh_from_db()

    def positions(self) -> list[int]:
        with tenant_context(self.tenant):
            return list(StepResult.objects.filter(scenario_run=self.run)
                        .order_by("position").values_list("position", flat=True))

    def status(self) -> str:
        self.refresh()
        return self.execution.status

    def stored(self) -> int:
        return len(self.positions())


def start(tenant, scenario, env) -> Run:
    with tenant_context(tenant):
        return Run(tenant, runs.start_scenario(scenario, environment=env))


def hits(target: Target, paths: list[str]) -> list[int]:
    return [target.hits[path] for path in paths]


def test_a_scenario_completes_on_a_worker(workers, project_a, tenant_a, target):
    """Each step runs once on the worker; the execution completes with every result."""
    scenario, env, paths = slow_scenario(project_a, target, "plain", 4)
    workers.start()
    run = start(tenant_a, scenario, env)
    workers.wait_for(lambda: run.status() == RunStatus.COMPLETED, "the execution completed")
    assert hits(target, paths) == [1, 1, 1, 1]
    assert run.positions() == [0, 1, 2, 3]
    assert (run.run.status, run.run.attempts) == (ScenarioRunStatus.PASSED, 1)
    assert run.execution.steps_passed == 4
    # The worker stores the run's allure-results once its end is committed.
    workers.wait_for(lambda: run.refresh() or run.execution.allure_report_path,
                     "the allure-results stored")
    assert len(allure.stored(run.execution.allure_report_path)) == 1


def test_pause_then_resume_on_another_worker_runs_every_step_once(
        workers, project_a, tenant_a, target):
    """A run paused mid-way, its worker stopped, continues on a new worker where it stopped."""
    scenario, env, paths = slow_scenario(project_a, target, "pause", 8)
    first = workers.start()
    run = start(tenant_a, scenario, env)
    workers.wait_for(lambda: run.stored() >= 2, "two results stored")
    with tenant_context(tenant_a):
        runs.pause(run.execution)
    workers.wait_for(lambda: run.status() == RunStatus.PAUSED, "the execution paused")
    stored = run.stored()
    assert 2 <= stored < len(paths), "the pause did not come mid-run"
    assert run.run.status == ScenarioRunStatus.PAUSED
    workers.stop(first)
    assert first.returncode == 0, workers.text()

    workers.start()
    with tenant_context(tenant_a):
        runs.resume(run.execution)
    workers.wait_for(lambda: run.status() == RunStatus.COMPLETED, "the execution completed")
    assert hits(target, paths) == [1] * len(paths)
    assert run.positions() == list(range(len(paths)))
    assert (run.run.status, run.run.attempts) == (ScenarioRunStatus.PASSED, 2)


def test_a_run_whose_worker_was_killed_continues_without_repeating_stored_steps(
        workers, project_a, tenant_a, target):
    """After SIGKILL, recover_runs sends the run again and a new worker continues it from the
    checkpoint: the steps stored before the kill never run again. The step in flight at the
    kill (its request maybe sent, its result not stored) may run again: the service promises
    no more ("re-runs at most the steps of that window, whose results were not stored"), and
    with results stored as each step ends (TESTING_RESULT_FLUSH_SECONDS=0) the window is
    that one step."""
    scenario, env, paths = slow_scenario(project_a, target, "kill", 8)
    first = workers.start()
    run = start(tenant_a, scenario, env)
    workers.wait_for(lambda: run.stored() >= 2, "two results stored")
    workers.kill(first)
    stored = run.stored()
    before = hits(target, paths)
    assert 2 <= stored < len(paths), "the worker was not killed mid-run"
    assert before[:stored] == [1] * stored
    assert before[stored + 1:] == [0] * (len(paths) - stored - 1), (
        "a step after the one in flight had started")
    run.refresh()
    assert run.run.status == ScenarioRunStatus.RUNNING

    workers.start()
    # Nothing is redelivered by itself: the killed worker's message stays unacknowledged
    # until the broker's visibility timeout (an hour). recover_runs, run by the worker as
    # beat would send it, finds the run once its heartbeat is older than the timeout.
    silent_until = run.run.heartbeat_at + timedelta(seconds=HEARTBEAT_TIMEOUT + 0.2)
    time.sleep(max((silent_until - timezone.now()).total_seconds(), 0))
    sent = recover_runs.delay()  # a platform task: no tenant
    try:
        assert sent.get(timeout=WAIT_TIMEOUT) == [str(run.run.pk)]
    finally:
        sent.forget()
    workers.wait_for(lambda: run.status() == RunStatus.COMPLETED, "the execution completed")

    after = hits(target, paths)
    assert after[:stored] == [1] * stored, "a step stored before the kill ran again"
    assert after[stored] in (1, 2), "the step in flight ran more than twice"
    assert after[stored + 1:] == [1] * (len(paths) - stored - 1)
    assert run.positions() == list(range(len(paths)))
    with tenant_context(tenant_a):
        assert ExecutionStep.objects.filter(execution=run.execution).count() == 1
    assert (run.run.status, run.run.attempts) == (ScenarioRunStatus.PASSED, 2)
    assert (run.execution.scenarios_passed, run.execution.steps_passed) == (1, len(paths))


def test_terminate_stops_a_running_scenario_within_one_step(
        workers, project_a, tenant_a, target):
    """Terminate asked after the first result: at most the step that was starting runs."""
    scenario, env, paths = slow_scenario(project_a, target, "stop", 8)
    workers.start()
    run = start(tenant_a, scenario, env)
    workers.wait_for(lambda: run.stored() >= 1, "the first result stored")
    ran_before = sum(hits(target, paths))
    with tenant_context(tenant_a):
        runs.terminate(run.execution)
    workers.wait_for(lambda: run.status() == RunStatus.TERMINATED, "the execution terminated")
    after = hits(target, paths)
    assert set(after) <= {0, 1}, "a step ran twice"
    ran = sum(after)
    assert ran - ran_before <= 1, f"{ran - ran_before} steps started after the request"
    assert ran < len(paths)
    assert run.positions() == list(range(ran))
    assert run.run.status == ScenarioRunStatus.TERMINATED


def test_a_message_sent_by_another_tenant_does_not_run_the_run(
        workers, project_a, tenant_a, tenant_b, target):
    """Tenant B sending tenant A's run id gets nothing run; A's own message then runs it."""
    scenario, env, paths = slow_scenario(project_a, target, "tenant", 1)
    app.conf.task_default_queue = held_queue(workers.queue)  # A's start sends to no worker
    try:
        run = start(tenant_a, scenario, env)
    finally:
        app.conf.task_default_queue = workers.queue
    workers.start()

    with tenant_context(tenant_b):
        foreign = run_scenario_run.delay(str(run.run.pk))
    try:
        assert foreign.get(timeout=WAIT_TIMEOUT) is None
    finally:
        foreign.forget()
    run.refresh()
    assert (run.run.status, run.run.attempts) == (ScenarioRunStatus.QUEUED, 0)
    assert hits(target, paths) == [0]

    with tenant_context(tenant_a):
        own = run_scenario_run.delay(str(run.run.pk))
    try:
        assert own.get(timeout=WAIT_TIMEOUT) == ScenarioRunStatus.PASSED
    finally:
        own.forget()
    assert run.status() == RunStatus.COMPLETED
    assert hits(target, paths) == [1]
