"""A schedule of a plan fired by a real Celery beat (issue 15, item 4).

``celery beat`` runs as a process of its own, with its schedule file in the test's folder
and the tick of ``fire_schedules`` lowered to one second (``TESTING_SCHEDULE_TICK_SECONDS``);
it sends on the test's own queue (``testing/tests/worker.py``), which a real worker of
``test_worker_runs`` reads. As there, the processes share the test database: MariaDB or
PostgreSQL only, committed data, Redis required (CI fails rather than skips without it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.context import all_tenants, tenant_context
from testing.models import Execution, PlanScenario, PlanSchedule
from testing.tests import factories as f
from testing.tests.test_worker_runs import BASE_DIR, POLL, pytestmark, workers  # noqa: F401

BEAT_TICK = 1  # seconds between two looks for due schedules, in the beat under test
WAIT = 60  # seconds for the run to appear


def beat(pool, folder) -> subprocess.Popen:
    """Start ``celery beat`` on the workers' queue, its schedule file in ``folder``."""
    log = folder / "beat.log"
    env = pool.env | {"TESTING_SCHEDULE_TICK_SECONDS": str(BEAT_TICK)}
    command = [sys.executable, "-m", "celery", "-A", "testing.tests.worker", "beat",
               "-s", str(folder / "beat-schedule"), "--max-interval", "1", "--loglevel=INFO"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    pool.logs.append(log)
    pool.processes.append(process)  # stopped with the workers
    return process


def test_a_due_schedule_fires_on_a_real_beat(workers, tmp_path, tenant_a):  # noqa: F811
    """Beat sends fire_schedules, a worker runs it, the plan's run is recorded."""
    project = f.project(tenant_a)
    scenario = f.scenario(project, "Ping")
    f.request_step(scenario, "http://127.0.0.1:9/", assertions=[f.status_is(200)])
    plan = f.plan(project, "Scheduled")
    f.make(PlanScenario, tenant_a, plan=plan, scenario=scenario)
    row = f.make(PlanSchedule, tenant_a, plan=plan, cron="* * * * *", timezone="UTC")
    with all_tenants():
        PlanSchedule.objects.all_tenants().filter(pk=row.pk).update(
            next_due_at=timezone.now() - timedelta(seconds=1))
    workers.start()
    process = beat(workers, tmp_path)
    deadline = time.monotonic() + WAIT
    while True:
        with all_tenants():
            fired = PlanSchedule.objects.all_tenants().get(pk=row.pk)
        if fired.last_execution_id is not None:
            break
        if process.poll() is not None:
            pytest.fail(f"Beat exited with {process.returncode}:\n{workers.text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"No run from the schedule within {WAIT} s.\n{workers.text()}")
        time.sleep(POLL)
    with tenant_context(tenant_a):
        execution = Execution.objects.get(pk=fired.last_execution_id)
    assert execution.plan_id == plan.pk and execution.tenant_id == tenant_a.pk
    assert fired.last_error == "" and fired.next_due_at > fired.last_fired_at
