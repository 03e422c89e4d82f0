"""Benchmark: the API test engine's steps per second against a plain loop of the same
client, on one worker and with 20 runs at once (API testing 2/4).

Run with ``.venv/bin/python bench/engine.py``; set ``DATABASE_URL`` for MariaDB or
PostgreSQL. The requests go to a real HTTP server on loopback started by the benchmark in a
process of its own (``testing.tests.http_target``, route ``/json``), not to the platform,
so that the server's work does not share the measured process's interpreter. The server
sets TCP_NODELAY as production servers do: without it each answer (headers and body written
apart) waits ~40 ms for the client's delayed ACK, and every case measures that wait.

1. One worker process, BENCH_ENGINE_STEPS steps (default 1,000), BENCH_ENGINE_ROUNDS
   rounds (default 3) in which the three cases take turns:

   * baseline: a plain loop of ``core.outbound.Session`` (the engine's client, the same
     policy) sending ``GET /json``, reading ``$.data.token`` with jsonpath-ng and checking
     the status (200) and ``$.data.count`` (3); nothing stored;
   * candidate: a scenario of as many inline request steps doing the same (one extractor,
     two assertions), started with ``start_scenario`` and run by ``execute_run`` in this
     process as a worker would (claim, spec, step loop, results and checkpoint stored by
     ``DatabaseSink``, finish), with the default ``TESTING_RESULT_FLUSH_SECONDS`` (0.25);
   * the same with ``TESTING_RESULT_FLUSH_SECONDS=0``: every step stored as it ends, the
     cost of per-step durability.

   Goal: the engine reaches at least 50 % of the plain loop's steps per second (the median
   of the rounds' ratios).

2. Concurrency: BENCH_ENGINE_RUNS scenario runs (default 20) of BENCH_ENGINE_RUN_STEPS
   steps (default 50) at once, one thread per run calling ``execute_run``; the total steps
   per second and the p95 of a step's own overhead (its ``duration_ms`` minus the request's
   ``elapsed_ms``). A Celery worker started as the platform documents it
   (``celery -A config worker``) has the prefork pool with one process per CPU; the 20
   threads stand for 20 worker slots (``--pool threads --concurrency 20``, or several
   workers), and a second line drains the same number of runs through one thread per CPU,
   the default's number of slots (threads, not processes: they share one interpreter).
   SQLite's in-memory test database does not take concurrent writers, so this part runs on
   MariaDB and PostgreSQL.

Every run is checked: each step stored once, all passed. The script exits non-zero only on
an error; a missed goal is printed.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import gc
import json
import logging
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from unittest import mock

from harness import ROOT, percentiles, throwaway_database  # noqa: I001 (sets Django up)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

STEPS = int(os.environ.get("BENCH_ENGINE_STEPS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ENGINE_ROUNDS", "3"))
RUNS = int(os.environ.get("BENCH_ENGINE_RUNS", "20"))
RUN_STEPS = int(os.environ.get("BENCH_ENGINE_RUN_STEPS", "50"))
GOAL = 0.5
LOOPBACK = ["127.0.0.0/8"]
TOKEN_PATH = "$.data.token"
COUNT_PATH = "$.data.count"
REQUEST = {
    "method": "GET", "url": "/json",
    "extractors": [{"name": "token", "source": "json", "expression": TOKEN_PATH}],
    "assertions": [
        {"type": "status_code", "operator": "eq", "expected_value": 200},
        {"type": "json", "expression": COUNT_PATH, "operator": "eq", "expected_value": 3},
    ],
}


@contextmanager
def target_server():
    """Start the loopback HTTP server in its own process; yield its base URL."""
    code = ("import sys; from testing.tests.http_target import Target, _Handler; "
            "_Handler.disable_nagle_algorithm = True; t = Target(); "
            "print(t.url, flush=True); sys.stdin.read()")
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the target server did not start")
        yield url
    finally:
        server.stdin.close()
        server.terminate()
        server.wait(10)


def seed(url: str):
    """Create the tenant, project, environment and the two scenarios; return them."""
    from core.context import tenant_context
    from tenants.models import Tenant
    from testing.choices import StepKind
    from testing.models import Environment, Project, Scenario, ScenarioStep

    tenant = Tenant.objects.create(code="bench", name="Bench")
    with tenant_context(tenant):
        project = Project.objects.create(tenant=tenant, name="Bench")
        environment = Environment(tenant=tenant, project=project, name="Target", base_url=url)
        environment.full_clean()
        environment.save()
        scenarios = {}
        for name, count in (("long", STEPS), ("short", RUN_STEPS)):
            scenario = Scenario.objects.create(tenant=tenant, project=project, name=name)
            steps = [ScenarioStep(tenant=tenant, scenario=scenario, sort_order=n,
                                  kind=StepKind.REQUEST, parameters=REQUEST)
                     for n in range(count)]
            steps[0].full_clean()  # the parameters are valid as the pages would store them
            ScenarioStep.objects.bulk_create(steps, batch_size=500)
            scenarios[name] = scenario
    return tenant, environment, scenarios


def start_runs(tenant, scenario, environment, count: int = 1) -> list[str]:
    """Start ``count`` executions of ``scenario``; return their run ids, not sent to Celery."""
    from core.context import tenant_context
    from testing.services import runs

    sent: list[str] = []

    def capture(run_ids, *args, **kwargs) -> None:
        sent.extend(run_ids)

    # Takes what would go to the broker when the start commits (runs._send).
    with tenant_context(tenant), mock.patch.object(runs, "_send", capture):
        for _ in range(count):
            runs.start_scenario(scenario, environment=environment)
    return sent


def checked(tenant, run_ids: list[str], steps: int) -> list[float]:
    """Check that every run passed with each step stored once; return the step overheads (ms)."""
    from core.context import tenant_context
    from testing.choices import ScenarioRunStatus
    from testing.models import ExecutionStep, StepResult

    with tenant_context(tenant):
        statuses = set(ExecutionStep.objects.filter(pk__in=run_ids)
                       .values_list("status", flat=True))
        results = list(StepResult.objects.filter(scenario_run_id__in=run_ids)
                       .values_list("status", "duration_ms", "response"))
    if statuses != {ScenarioRunStatus.PASSED}:
        raise RuntimeError(f"runs ended {statuses}, not all passed")
    if len(results) != steps * len(run_ids) or any(s != "passed" for s, _, _ in results):
        raise RuntimeError(f"{len(results)} step results, expected {steps * len(run_ids)} "
                           f"all passed")
    return [duration - response["elapsed_ms"] for _, duration, response in results]


def baseline(url: str, steps: int) -> float:
    """Run the plain loop; return its wall time (seconds)."""
    from jsonpath_ng.ext import parse

    from core.outbound import Session
    from tenants.network import outbound_policy

    token_path, count_path = parse(TOKEN_PATH), parse(COUNT_PATH)
    policy = outbound_policy(None, max_response_bytes=settings.TESTING_RESPONSE_MAX_BYTES)
    failures = 0
    with Session(policy, what="bench") as session:
        started = time.perf_counter()
        for _ in range(steps):
            answer = session.send("GET", url + "/json", timeout=settings.TESTING_REQUEST_TIMEOUT)
            document = json.loads(answer.text())
            token = token_path.find(document)[0].value
            count = count_path.find(document)
            if not (token and answer.status == 200 and count and count[0].value == 3):
                failures += 1
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"the plain loop failed {failures} checks")
    return elapsed


def engine(tenant, scenario, environment, flush: float) -> tuple[float, list[float]]:
    """Run the scenario once through the service; return the wall time and step overheads."""
    from core.context import tenant_context
    from testing.services import runs

    with override_settings(TESTING_RESULT_FLUSH_SECONDS=flush):
        (run_id,) = start_runs(tenant, scenario, environment)
        with tenant_context(tenant):
            started = time.perf_counter()
            runs.execute_run(run_id, worker="bench")
            elapsed = time.perf_counter() - started
    return elapsed, checked(tenant, [run_id], STEPS)


def single_worker(url: str, tenant, scenario, environment) -> None:
    """Time the plain loop and the engine at both flush settings, taking turns; print them."""
    default_flush = settings.TESTING_RESULT_FLUSH_SECONDS
    print(f"{STEPS}-step scenario (GET /json, 1 extractor, 2 assertions) on {connection.vendor}, "
          f"one worker process, {ROUNDS} rounds taking turns")
    baseline(url, 50)  # warm-up: connections, imports, caches
    engine(tenant, scenario, environment, default_flush)
    walls: dict = {"plain": [], default_flush: [], 0.0: []}
    overheads: dict[float, list[float]] = {default_flush: [], 0.0: []}
    for _ in range(ROUNDS):
        walls["plain"].append(baseline(url, STEPS))
        for flush in (default_flush, 0.0):
            elapsed, overhead = engine(tenant, scenario, environment, flush)
            walls[flush].append(elapsed)
            overheads[flush].extend(overhead)
    # Rates are of the median round. "of plain" is the median of each round's ratio (the
    # cases of a round ran back to back, under the same machine conditions). "adds" is the
    # wall time per step over the plain loop, storing and checkpoints included; "in-step
    # overhead" is a stored step's duration_ms minus its request's elapsed_ms: the step's
    # own work, without what happens between steps.
    base_ms = statistics.median(walls["plain"]) * 1000 / STEPS
    print(f"{'case':<44} {'steps/s':>8} {'ms/step':>8} {'adds':>8} {'of plain':>9} "
          f"{'in-step overhead p50':>21} {'p95':>8}")
    print(f"{'baseline: plain loop, nothing stored':<44} {1000 / base_ms:>8.0f} {base_ms:>8.3f}")
    ratios: dict[float, list[float]] = {}
    for flush in (default_flush, 0.0):
        ms = statistics.median(walls[flush]) * 1000 / STEPS
        ratios[flush] = [plain / wall for plain, wall in zip(walls["plain"], walls[flush])]
        p50, p95 = percentiles(overheads[flush])
        label = f"engine: execute_run, flush every {flush:g} s"
        print(f"{label:<44} {1000 / ms:>8.0f} {ms:>8.3f} {ms - base_ms:>+8.3f} "
              f"{statistics.median(ratios[flush]):>8.0%} {p50:>19.3f}ms {p95:>6.3f}ms")
    reached = statistics.median(ratios[default_flush])
    rounds = ", ".join(f"{ratio:.0%}" for ratio in ratios[default_flush])
    verdict = "goal met" if reached >= GOAL else "goal NOT met"
    print(f"{verdict}: the engine at the default flush runs {reached:.0%} of the plain loop's "
          f"steps/s (rounds: {rounds}; goal >= {GOAL:.0%}); every step stored once, all passed")


def concurrent(tenant, scenario, environment, slots: int, label: str) -> None:
    """Run RUNS scenario runs through ``slots`` threads; print steps/s and step overheads."""
    from core.context import tenant_context
    from testing.services import runs

    run_ids = start_runs(tenant, scenario, environment, RUNS)
    waiting: queue.SimpleQueue = queue.SimpleQueue()
    for run_id in run_ids:
        waiting.put(run_id)
    errors: list[BaseException] = []
    ready = threading.Barrier(slots + 1)

    def work(slot: int) -> None:
        try:
            ready.wait()
            with tenant_context(tenant):
                while True:
                    try:
                        run_id = waiting.get_nowait()
                    except queue.Empty:
                        return
                    runs.execute_run(run_id, worker=f"bench-{slot}")
        except BaseException as exc:  # noqa: BLE001 (reported after the join)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(slots)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    overhead = checked(tenant, run_ids, RUN_STEPS)
    p50, p95 = percentiles(overhead)
    print(f"{label:<52} {RUNS * RUN_STEPS / elapsed:>8.0f} {elapsed:>7.2f}s "
          f"{p50:>19.3f}ms {p95:>6.3f}ms")


def concurrency(tenant, scenario, environment) -> None:
    """Run RUNS scenario runs at once, then through the default worker's number of slots."""
    if connection.vendor == "sqlite":
        print("concurrency: skipped on SQLite (the in-memory test database does not take "
              "concurrent writers)")
        return
    cpus = os.cpu_count() or 1
    print(f"{RUNS} scenario runs of {RUN_STEPS} steps, default settings (flush "
          f"{settings.TESTING_RESULT_FLUSH_SECONDS:g} s, heartbeat "
          f"{settings.TESTING_HEARTBEAT_SECONDS:g} s), threads of this process")
    print(f"{'case':<52} {'steps/s':>8} {'wall':>8} {'in-step overhead p50':>21} {'p95':>8}")
    concurrent(tenant, scenario, environment, RUNS, f"{RUNS} runs at once, one thread each")
    concurrent(tenant, scenario, environment, cpus,
               f"{RUNS} runs through {cpus} threads (default slots)")


def sqlite_overrides() -> dict:
    """Keep the heartbeat thread idle on SQLite, whose in-memory database locks its tables
    against a second connection writing during a run."""
    return {"TESTING_HEARTBEAT_SECONDS": 600} if connection.vendor == "sqlite" else {}


def main() -> None:
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    with throwaway_database(), target_server() as url, \
            override_settings(OUTBOUND_ALLOWED_NETWORKS=LOOPBACK, **sqlite_overrides()):
        tenant, environment, scenarios = seed(url)
        gc.freeze()  # as a worker process does once it has started (config/celery.py)
        single_worker(url, tenant, scenarios["long"], environment)
        concurrency(tenant, scenarios["short"], environment)


if __name__ == "__main__":
    main()
