"""Prometheus metrics at ``/metrics`` (issue 19, item 3), with the official client library.

Who may scrape: a request carrying ``Authorization: Bearer <METRICS_TOKEN>`` or coming from
one of ``METRICS_ALLOWED_NETWORKS`` (the client address as ``core.context.client_ip`` reads
it, so ``TRUSTED_PROXY_COUNT`` applies). With neither setting the endpoint answers 404: it
is never public. The token is compared as SHA-256 digests with ``hmac.compare_digest``, so
the comparison takes the same time whatever the presented value (its length included); the
token itself lives only in the environment, like every other secret of the platform.

What is measured, and where:

* requests (``RequestMetricsMiddleware``, outermost): ``atrium_http_requests_total`` by
  route, method and status code, ``atrium_http_request_duration_seconds`` by route, method
  and status class. The route is the resolved URL pattern (``api/v1/users/<int:pk>/``),
  never the raw path, and an unknown method counts as ``other``: the label sets are bounded;
* database statements (``core.dbwatch.add_statement_observer``): counts and durations per
  alias, and errors;
* connection pools (PostgreSQL with ``OPTIONS["pool"]``): ``pool.get_stats()`` sampled by
  each process at most every ``POOL_SAMPLE_SECONDS`` and at every scrape;
* Celery task outcomes (the ``task_success``, ``task_failure``, ``task_retry`` signals, in
  the worker processes);
* read at scrape time (``ScrapeCollector``): the broker backlog per queue (Redis ``LLEN``
  of each queue and its priority lists; the filesystem broker's message files; nothing
  for another broker), Celery beat's last heartbeat (``config.ops``), the slow queries
  and deadlocks of the last hour (``core.dbwatch.recent_counts``), and from the database the last hour's test runs by outcome, MCP
  calls by outcome and sign-in failures, and partition maintenance runs of the last two
  days. These come from rows every process writes, so they are right whichever process
  serves the scrape and however many there are.

Multi-process servers: with ``PROMETHEUS_MULTIPROC_DIR`` set in the environment of every
web and worker process of one host (before start), the library's multiprocess mode writes
each process's figures to files there and ``/metrics`` adds them up. The folder must be
emptied before the server starts (``clear_multiprocess_dir``) and a dead worker's live
gauges dropped (``mark_process_dead``); the README gives the gunicorn hooks. Without the
variable the figures are this process's own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from core.context import client_ip

logger = logging.getLogger(__name__)

# Seconds between two samples of the connection pools by one process.
POOL_SAMPLE_SECONDS = 5.0
# Seconds a scrape waits for the broker.
BROKER_TIMEOUT = 2.0
# The window of the event counts read from the database at scrape time (seconds).
EVENT_WINDOW = 3600
MAINTENANCE_WINDOW = 2 * 24 * 3600

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

# The in-process metrics. In multiprocess mode the library writes them to files instead,
# and the scrape reads every process's files (``scrape_registry``).
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "atrium_http_requests", "HTTP requests served, by route, method and status code.",
    ["route", "method", "status"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "atrium_http_request_duration_seconds",
    "Time to answer a request, by route, method and status class (2xx, 4xx, ...).",
    ["route", "method", "status_class"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_QUERIES = Counter(
    "atrium_db_queries", "SQL statements run, per database alias and outcome (ok, error).",
    ["alias", "outcome"], registry=REGISTRY,
)
DB_DURATION = Histogram(
    "atrium_db_query_duration_seconds", "Time of each SQL statement, per database alias.",
    ["alias"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10),
)
POOL_IN_USE = Gauge(
    "atrium_db_pool_connections_in_use", "Pooled connections lent out, per alias.",
    ["alias"], registry=REGISTRY, multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "atrium_db_pool_connections_max", "Largest size of the connection pool, per alias.",
    ["alias"], registry=REGISTRY, multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "atrium_db_pool_requests_waiting", "Requests waiting for a pooled connection, per alias.",
    ["alias"], registry=REGISTRY, multiprocess_mode="livesum",
)
CELERY_TASKS = Counter(
    "atrium_celery_tasks", "Celery tasks finished, by task name and outcome "
    "(success, failure, retry).", ["task", "outcome"], registry=REGISTRY,
)


# -- access -------------------------------------------------------------------------------


def metrics_enabled() -> bool:
    """Return whether /metrics answers anybody (a token or a network is configured)."""
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS)


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def token_matches(request: HttpRequest) -> bool:
    """Return whether the request carries ``METRICS_TOKEN`` as its bearer token."""
    expected = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(
        hashlib.sha256(presented.strip().encode()).digest(),
        hashlib.sha256(expected.encode()).digest(),
    )


def network_allowed(request: HttpRequest) -> bool:
    """Return whether the client address lies in ``METRICS_ALLOWED_NETWORKS``."""
    cidrs = tuple(settings.METRICS_ALLOWED_NETWORKS)
    address = client_ip(request)
    if not cidrs or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(cidrs))


def scraper_allowed(request: HttpRequest) -> bool:
    """Return whether the request may read the metrics (token or allowed network)."""
    return token_matches(request) or network_allowed(request)


# -- what processes record ----------------------------------------------------------------


# (alias, outcome) -> the labelled counter and histogram: ``labels()`` would look them up
# under a lock at every statement. The children are the library's own (fork-safe: a value
# notices a new process id in multiprocess mode).
_statement_children: dict[tuple[str, str], tuple] = {}


def observe_statement(alias: str, seconds: float, error: BaseException | None) -> None:
    """Count one SQL statement (the ``core.dbwatch`` observer)."""
    key = (alias, "ok" if error is None else "error")
    children = _statement_children.get(key)
    if children is None:
        children = _statement_children[key] = (DB_QUERIES.labels(*key), DB_DURATION.labels(alias))
    children[0].inc()
    children[1].observe(seconds)


def _task_name(sender) -> str:
    return getattr(sender, "name", None) or str(sender)


def on_task_success(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(_task_name(sender), "success").inc()


def on_task_failure(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(_task_name(sender), "failure").inc()


def on_task_retry(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(_task_name(sender), "retry").inc()


def pools() -> dict[str, object]:
    """Return the connection pools this process has opened, by alias (never opens one)."""
    from django.db import connections

    found = {}
    for alias in settings.DATABASES:
        # Django keeps the pools in a class attribute of the PostgreSQL backend; reading
        # ``connection.pool`` would open a pool that was never needed.
        opened = getattr(type(connections[alias]), "_connection_pools", {})
        if alias in opened:
            found[alias] = opened[alias]
    return found


_last_pool_sample = 0.0


def sample_pools(now: float | None = None, *, force: bool = False) -> None:
    """Copy every open pool's ``get_stats()`` into the pool gauges, at most every
    ``POOL_SAMPLE_SECONDS`` unless ``force``."""
    global _last_pool_sample
    now = time.monotonic() if now is None else now
    if not force and now - _last_pool_sample < POOL_SAMPLE_SECONDS:
        return
    _last_pool_sample = now
    for alias, pool in pools().items():
        stats = pool.get_stats()
        size = stats.get("pool_size", 0)
        POOL_IN_USE.labels(alias).set(size - stats.get("pool_available", 0))
        POOL_MAX.labels(alias).set(stats.get("pool_max", 0))
        POOL_WAITING.labels(alias).set(stats.get("requests_waiting", 0))


class RequestMetricsMiddleware:
    """Count every request and time it, by resolved route, method and status."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else UNMATCHED_ROUTE
        method = request.method if request.method in METHODS else "other"
        status = response.status_code
        HTTP_REQUESTS.labels(route, method, str(status)).inc()
        HTTP_DURATION.labels(route, method, f"{status // 100}xx").observe(elapsed)
        sample_pools()
        return response


_installed = threading.Lock()
_done = False


def install() -> None:
    """Attach the statement observer and the Celery signal receivers (once per process)."""
    global _done
    with _installed:
        if _done:
            return
        _done = True
    from celery.signals import beat_init, task_failure, task_retry, task_success

    from config import ops
    from core import dbwatch

    dbwatch.add_statement_observer(observe_statement)
    task_success.connect(on_task_success, weak=False)
    task_failure.connect(on_task_failure, weak=False)
    task_retry.connect(on_task_retry, weak=False)
    beat_init.connect(ops.on_beat_init, weak=False)


# -- read at scrape time ------------------------------------------------------------------


class ScrapeCollector:
    """Figures read when Prometheus scrapes: the broker, beat, and the recent events that
    the database holds for every process."""

    def collect(self):
        from config import ops

        backlog = GaugeMetricFamily(
            "atrium_celery_queue_length",
            "Messages waiting in each Celery queue of the broker (Redis or filesystem).",
            labels=["queue"],
        )
        for queue, length in (ops.broker_backlog() or {}).items():
            backlog.add_metric([queue], length)
        yield backlog

        beat = GaugeMetricFamily(
            "atrium_celery_beat_last_seen_timestamp_seconds",
            "When Celery beat last recorded its heartbeat (Unix time).",
        )
        seen = ops.beat_last_seen()
        if seen is not None:
            beat.add_metric([], seen)
        yield beat

        try:
            events = ops.recent_events(EVENT_WINDOW, MAINTENANCE_WINDOW)
        except Exception as exc:  # noqa: BLE001 - a scrape still answers with the rest
            logger.warning("Metrics: the recent events could not be read: %s", exc)
            return
        yield _family("atrium_test_runs_last_hour",
                      "Test runs finished in the last hour, by outcome.",
                      "outcome", events["test_runs"])
        yield _family("atrium_mcp_calls_last_hour",
                      "MCP tool calls in the last hour, by outcome.",
                      "outcome", events["mcp_calls"])
        failures = GaugeMetricFamily("atrium_signin_failures_last_hour",
                                     "Failed sign-ins in the last hour.")
        failures.add_metric([], events["signin_failures"])
        yield failures
        yield _family("atrium_partition_maintenance_runs_last_2d",
                      "Log partition maintenance runs in the last two days, by status.",
                      "status", events["maintenance_runs"])
        last = GaugeMetricFamily(
            "atrium_partition_maintenance_last_run_timestamp_seconds",
            "When log partition maintenance last ran, by status (Unix time).",
            labels=["status"],
        )
        for status, when in events["maintenance_last"].items():
            last.add_metric([status], when)
        yield last

        recent = ops.dbwatch_counts()
        slow = GaugeMetricFamily("atrium_db_slow_queries_last_hour",
                                 "Statements over SLOW_QUERY_MS in the last hour "
                                 "(core.dbwatch, shared through the cache).")
        slow.add_metric([], recent.get("slow_queries", 0))
        yield slow
        deadlocks = GaugeMetricFamily("atrium_db_deadlocks_last_hour",
                                      "Deadlocks in the last hour (core.dbwatch).")
        deadlocks.add_metric([], recent.get("deadlocks", 0))
        yield deadlocks


def _family(name: str, documentation: str, label: str, counts: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


class _InProcess:
    """This process's metrics, as one collector of the scrape's registry."""

    def collect(self):
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """Return ``PROMETHEUS_MULTIPROC_DIR`` when the multiprocess mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """Return a registry of the processes' own metrics: every process's files in
    multiprocess mode, else this process's."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_InProcess())
    return registry


def scrape_registry() -> CollectorRegistry:
    """Return the registry a scrape reads: the processes' metrics and the scrape-time ones."""
    registry = process_registry()
    registry.register(ScrapeCollector())
    return registry


def clear_multiprocess_dir(path: str | None = None) -> None:
    """Empty the multiprocess folder; call it once before the server's workers start."""
    folder = path or multiprocess_dir()
    if not folder:
        return
    for entry in Path(folder).glob("*.db"):
        entry.unlink(missing_ok=True)
    Path(folder).mkdir(parents=True, exist_ok=True)


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a worker that exited (gunicorn's ``child_exit`` hook)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Answer the metrics in the Prometheus text format to an allowed scraper."""
    if not metrics_enabled():
        raise Http404
    if not scraper_allowed(request):
        if settings.METRICS_TOKEN:
            response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    sample_pools(force=True)
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)

