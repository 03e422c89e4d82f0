"""Benchmark: what the metrics of /metrics cost per request (issue 19, item 3).

Run with ``.venv/bin/python bench/metrics.py`` (any DATABASE_URL; the issue's goal: under
3 % at p50). The data of ``bench/api_users.py`` (BENCH_API_USERS users, default 10,000;
100 roles; 500 permissions) is seeded in a throw-away database and ``GET /api/v1/users/``
(a page of 50, with an API key) is called alternately, BENCH_METRICS_ROUNDS times each
(default 300), in the same run:

* off: the platform's middleware without ``config.metrics.RequestMetricsMiddleware`` and
  without the statement observer (no request counted, no SQL statement counted or timed);
* on: everything /metrics records for that request: the request counter and histogram
  and, for each of its SQL statements, the query counter and histogram
  (``core.dbwatch`` observer). ``core.dbwatch`` itself (slow-query timing) runs in both
  cases: it is issue 19 item 2's, measured by ``bench/dbwatch.py``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (to an empty folder) it measures the multiprocess
mode, where each increment writes to a memory-mapped file.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import os
import time

from harness import percentiles, throwaway_database  # noqa: I001 (sets Django up)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_METRICS_ROUNDS", "300"))
URL = "/api/v1/users/?page_size=50"
MIDDLEWARE = "config.metrics.RequestMetricsMiddleware"


def main() -> None:
    from api_users import USERS, seed

    from config import metrics
    from core import dbwatch

    with throwaway_database():
        key = seed()
        on = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        off = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert MIDDLEWARE in settings.MIDDLEWARE
        assert on.get(URL).status_code == 200  # loads the full middleware chain
        without = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
        with override_settings(MIDDLEWARE=without):
            assert off.get(URL).status_code == 200  # loads the chain without metrics
        counted = metrics.HTTP_REQUESTS.labels("api/v1/users/$", "GET", "200")

        def call(client, observe: bool) -> float:
            if observe:
                dbwatch.add_statement_observer(metrics.observe_statement)
            else:
                dbwatch.remove_statement_observer(metrics.observe_statement)
            start = time.perf_counter()
            response = client.get(URL)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200
            return elapsed

        for _ in range(20):
            call(off, False)
            call(on, True)
        before = counted._value.get()
        base, cand = [], []
        for _ in range(ROUNDS):
            base.append(call(off, False))
            cand.append(call(on, True))
        dbwatch.add_statement_observer(metrics.observe_statement)
        assert counted._value.get() - before == ROUNDS, "the 'on' client was not measured"
    b50, b95 = percentiles(base)
    c50, c95 = percentiles(cand)
    mode = "multiprocess" if metrics.multiprocess_dir() else "single-process"
    print(f"GET /api/v1/users/ (page of 50) on {connection.vendor}, {USERS} users, "
          f"{ROUNDS} rounds, {mode} mode")
    print(f"{'case':<40} {'p50':>9} {'p95':>9}")
    print(f"{'metrics off':<40} {b50 * 1e3:>7.2f}ms {b95 * 1e3:>7.2f}ms")
    print(f"{'metrics on (request + every statement)':<40} {c50 * 1e3:>7.2f}ms "
          f"{c95 * 1e3:>7.2f}ms")
    print(f"metrics at p50: {(c50 - b50) * 1e3:+.3f}ms ({(c50 / b50 - 1) * 100:+.1f}%); "
          "goal under 3 %")


if __name__ == "__main__":
    main()
