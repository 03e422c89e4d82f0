"""Benchmark: the cost per statement of the statement watch (issue 19, item 2; core/dbwatch.py).

Run with ``.venv/bin/python bench/dbwatch.py`` (``DATABASE_URL`` picks the backend).

The connection to a throw-away database (DEBUG off, as in production) runs the
same trivial ``SELECT 1`` through Django's cursor without the watch (the baseline, its
``execute_wrappers`` emptied) and with it, in turns,
BENCH_DBWATCH_BATCH statements a turn, BENCH_DBWATCH_ROUNDS turns; each turn gives one
time per statement. First both without the watch (the noise floor), then three runs:
the watch with no observer, with one observer doing
nothing, and with the observers the platform registers (the metrics of ``/metrics``,
whose own cost is theirs). Prints the wall time per statement (p50, p95) and the client
process's CPU time per statement (mean): on a shared machine the round trip to a server
varies by more than the watch costs, and the CPU time shows the watch's own work.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import os
import time

from harness import percentiles, throwaway_database, timed_together  # noqa: I001

from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

from core import dbwatch  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_DBWATCH_ROUNDS", "300"))
BATCH = int(os.environ.get("BENCH_DBWATCH_BATCH", "100"))


def runner(conn, wrappers: list):
    """Return a function running BATCH trivial statements on ``conn`` with ``wrappers``."""
    cursor = conn.cursor()

    def run() -> None:
        conn.execute_wrappers[:] = wrappers
        start = time.process_time()
        for _ in range(BATCH):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        run.cpu.append(time.process_time() - start)

    run.cpu = []
    return run


def main() -> None:
    registered = list(dbwatch._observers)  # the platform's own (the metrics of /metrics)
    with throwaway_database(), override_settings(DEBUG=False):
        # One connection for both, so both talk to the same server process.
        conn = connection
        conn.ensure_connection()
        assert conn.execute_wrappers[:1] == [dbwatch.watch]
        saved_wrappers = list(conn.execute_wrappers)

        def nothing(alias, seconds, error):
            return None

        results = []
        # A/A: both without the watch, the noise floor of the comparison.
        first, second = runner(conn, []), runner(conn, [])
        base, cand = timed_together([first, second], ROUNDS)
        results.append(("no watch against no watch (noise floor)", base, cand,
                        first.cpu[-ROUNDS:], second.cpu[-ROUNDS:]))
        for label, observers in (("the watch alone", []),
                                 ("the watch + 1 empty observer", [nothing]),
                                 (f"the watch + the platform's {len(registered)} observer(s)",
                                  registered)):
            dbwatch._observers[:] = observers
            try:
                without, with_watch = runner(conn, []), runner(conn, [dbwatch.watch])
                base, cand = timed_together([without, with_watch], ROUNDS)
            finally:
                dbwatch._observers[:] = registered
            results.append((label, base, cand, without.cpu[-ROUNDS:], with_watch.cpu[-ROUNDS:]))
        conn.execute_wrappers[:] = saved_wrappers

    print(f"statement watch, {connection.vendor}: {ROUNDS} turns of {BATCH} x SELECT 1, "
          "per statement")
    for label, base, cand, base_cpu, cand_cpu in results:
        base50, base95 = percentiles([turn / BATCH * 1e6 for turn in base])
        p50, p95 = percentiles([turn / BATCH * 1e6 for turn in cand])
        cpu_base = sum(base_cpu) / len(base_cpu) / BATCH * 1e6
        cpu_cand = sum(cand_cpu) / len(cand_cpu) / BATCH * 1e6
        print(f"  {label}\n"
              f"    wall p50 {base50:7.2f} -> {p50:7.2f} us "
              f"(+{p50 - base50:6.2f} us, {100 * (p50 - base50) / base50:+6.1f} %), "
              f"p95 {base95:7.2f} -> {p95:7.2f} us\n"
              f"    client CPU (mean) {cpu_base:7.2f} -> {cpu_cand:7.2f} us "
              f"(+{cpu_cand - cpu_base:6.2f} us)")


if __name__ == "__main__":
    main()
