"""What every benchmark here shares: Django set up on the project, a throw-away database,
and timing of a candidate against its baseline in the same run.

Importing this module sets Django up (``DATABASE_URL`` picks the backend, routes to missing
datasources fall back to it), so a benchmark imports it before any model.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_ROUTE_FALLBACK", "true")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Create a migrated test database on the configured backend, and drop it afterwards."""
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Return (p50, p95) of the samples."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def timed_pair(
    baseline: Callable[[], object], candidate: Callable[[], object], rounds: int, warmup: int = 50
) -> tuple[list[float], list[float]]:
    """Return the wall times (seconds) of both functions, called alternately after a warm-up."""
    base, cand = timed_together([baseline, candidate], rounds, warmup)
    return base, cand


def timed_together(
    functions: list[Callable[[], object]], rounds: int, warmup: int = 50
) -> list[list[float]]:
    """Return the wall times (seconds) of each function, called in turn round after round.

    Taking turns gives every function the same machine conditions (caches, frequency,
    other load): on a shared machine whose speed drifts over minutes, candidates timed in
    separate runs are not comparable, and those timed together are.
    """
    for _ in range(min(warmup, rounds)):
        for fn in functions:
            fn()
    samples: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for fn, bucket in zip(functions, samples):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return samples
