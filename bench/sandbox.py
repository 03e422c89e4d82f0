"""Benchmark: calling a tester's keyword through the sandbox against calling it in-process
(API testing 3/4).

Run with ``.venv/bin/python bench/sandbox.py``. No database is involved.

* baseline: the same trivial keyword (``def add(a, b): return a + b``) compiled once and
  called in this process, its JSON arguments and result encoded and decoded as the sandbox
  does, so that the difference is the barrier and nothing else;
* candidate: ``core.sandbox.run`` of the same code: a warm pool (started before timing)
  forks a fresh child from the zygote behind bubblewrap, which lowers its limits, loads
  the seccomp filter, compiles and runs the code, and the zygote then kills the call's
  processes and empties ``/tmp``.

BENCH_SANDBOX_CALLS calls per case (default 2,000), alternating in rounds of 100 so that
the machine's state is shared. Printed: p50 and p95 of each, the added latency, and calls
per second of one caller, then of as many callers (threads) as the pool has sandboxes.
Goal: the sandbox call under 5 ms at p50. The script exits non-zero only on an error.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import json
import os
import sys
import threading
import time

from harness import percentiles  # noqa: I001 (sets Django up)

from django.conf import settings

from core import sandbox

CODE = "def add(a, b):\n    return a + b\n"
CALLS = int(os.environ.get("BENCH_SANDBOX_CALLS", "2000"))
ROUND = 100
GOAL_MS = 5.0


def in_process(namespace: dict) -> float:
    started = time.perf_counter()
    arguments = json.loads(json.dumps({"a": 1, "b": 2}))
    value = json.loads(json.dumps(namespace["add"](**arguments)))
    assert value == 3
    return (time.perf_counter() - started) * 1000


def through_sandbox() -> float:
    started = time.perf_counter()
    outcome = sandbox.run(CODE, "add", kwargs={"a": 1, "b": 2}, filename="<keyword add>")
    elapsed = (time.perf_counter() - started) * 1000
    if not outcome.ok or outcome.value != 3:
        raise SystemExit(f"the sandbox call failed: {outcome.message}")
    return elapsed


def concurrent(callers: int, calls_each: int) -> float:
    """Return calls per second with ``callers`` threads calling at once."""
    errors: list[str] = []

    def work() -> None:
        for _ in range(calls_each):
            outcome = sandbox.run(CODE, "add", kwargs={"a": 1, "b": 2})
            if not outcome.ok:
                errors.append(outcome.message)

    threads = [threading.Thread(target=work) for _ in range(callers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"concurrent calls failed: {errors[0]}")
    return callers * calls_each / elapsed


def main() -> int:
    state = sandbox.state()
    if state["mode"] != "bubblewrap":
        print(f"sandbox: {state['mode']} ({state.get('reason', '')}); nothing measured")
        return 1
    namespace: dict = {}
    exec(compile(CODE, "<keyword add>", "exec"), namespace)
    sandbox.warm()
    for _ in range(50):  # warm both paths
        through_sandbox()
        in_process(namespace)
    baseline: list[float] = []
    candidate: list[float] = []
    while len(candidate) < CALLS:
        baseline.extend(in_process(namespace) for _ in range(ROUND))
        candidate.extend(through_sandbox() for _ in range(ROUND))
    base50, base95 = percentiles(baseline)
    cand50, cand95 = percentiles(candidate)
    print(f"sandbox benchmark: {CALLS} calls per case, pool of {settings.SANDBOX_POOL_SIZE}")
    print(f"  in-process:   p50 {base50:.4f} ms  p95 {base95:.4f} ms")
    print(f"  sandbox:      p50 {cand50:.2f} ms  p95 {cand95:.2f} ms  "
          f"(adds {cand50 - base50:.2f} ms at p50)")
    one = 1000 / (sum(candidate) / len(candidate))
    many = concurrent(int(settings.SANDBOX_POOL_SIZE), max(1, CALLS // 4))
    print(f"  throughput:   {one:.0f} calls/s from one caller, {many:.0f} calls/s from "
          f"{settings.SANDBOX_POOL_SIZE} callers")
    verdict = "met" if cand50 < GOAL_MS else "NOT met"
    print(f"  goal: sandbox call under {GOAL_MS:g} ms at p50: {verdict}")
    print(f"  pool: {sandbox.state().get('pool')}")
    sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
