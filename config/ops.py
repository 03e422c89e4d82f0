"""What an operator watches (issue 19, item 4): the thresholds of seed 001 section 8.1
against current values, on the admin's operations page and in ``/readyz`` details.

Each ``Check`` has a state: ``ok``, ``warning`` (at or over its threshold) or ``n/a`` (not
configured here, or not readable; the value says which). The values:

* **pool usage** per alias with a psycopg pool: connections lent out over the pool's
  largest size, summed over the processes in multiprocess mode (``config.metrics``), else
  this process's pool. MariaDB/MySQL and SQLite have no pool (persistent connections);
* **slow queries** and **deadlocks** in the last hour: ``core.dbwatch.recent_counts``
  (shared through the cache; per process with the development default, locmem);
* **disk usage** of each database's data directory, where this host can read it:
  PostgreSQL ``SHOW data_directory`` (superuser or ``pg_read_all_settings``), MariaDB/MySQL
  ``@@datadir``, SQLite the database file's folder, measured with ``shutil.disk_usage``
  only when the server runs on this host; "not readable" otherwise;
* **replication lag** per alias: a PostgreSQL standby's
  ``now() - pg_last_xact_replay_timestamp()``, a PostgreSQL primary's longest
  ``replay_lag`` in ``pg_stat_replication``, a MariaDB/MySQL replica's
  ``Seconds_Behind_Master`` (``SHOW REPLICA STATUS``, ``SHOW SLAVE STATUS`` before 10.5);
  "no replica configured" when none of these shows one;
* **broker backlog**: messages waiting in the Celery queues (Redis ``LLEN`` of each queue
  and its priority lists; the filesystem broker's message files; "not readable" for
  another broker);
* **beat last seen**: Celery beat writes no heartbeat of its own, so the platform records
  one beside the broker (a Redis key, or a file in the filesystem broker's folder) when beat
  starts (``beat_init``) and, at most every ``BEAT_HEARTBEAT_SECONDS``, whenever beat
  publishes a task; beat publishes ``testing.tasks.recover_runs`` every 30 seconds, so a
  beat that runs is never silent longer than that.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connections, transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

OK = "ok"
WARNING = "warning"
NOT_AVAILABLE = "n/a"

BEAT_KEY = "atrium:celery:beat:last_seen"
BEAT_FILE = "beat-heartbeat"
BEAT_HEARTBEAT_SECONDS = 10.0
BROKER_TIMEOUT = 2.0  # seconds
# kombu's Redis transport keeps a queue's priorities in lists of their own
# (``kombu.transport.redis``: the queue, then queue + "\x06\x16" + step).
REDIS_PRIORITY_SEP = "\x06\x16"
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


@dataclass
class Check:
    """One signal of seed 001 section 8.1 against its threshold."""

    key: str
    label: str
    value: float | int | str | None
    shown: str
    threshold: str
    state: str


def _state(value: float | None, limit: float) -> str:
    if value is None:
        return NOT_AVAILABLE
    return WARNING if value >= limit else OK


# -- who may see them ---------------------------------------------------------------------


def may_see_operations(user) -> bool:
    """Return whether ``user`` operates the platform and may see its health: a platform
    operator (staff of the platform tenant) who may view tenants (a platform-only code)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_platform_operator
        and user.has_perm("tenant:view")
    )


def may_see_details(request: HttpRequest) -> bool:
    """Return whether ``/readyz`` may show the details: an operator or the metrics token."""
    from config.metrics import token_matches

    return may_see_operations(getattr(request, "user", None)) or token_matches(request)


# -- the broker and beat ------------------------------------------------------------------


def _redis_client():
    import redis

    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=BROKER_TIMEOUT,
        socket_connect_timeout=BROKER_TIMEOUT,
    )


def _broker_kind() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    if url.startswith("filesystem://"):
        return "filesystem"
    return "other"


def queue_names() -> list[str]:
    """Return the names of the Celery queues the platform uses."""
    from config.celery import app

    return sorted(set(app.amqp.queues) | {app.conf.task_default_queue})


def broker_backlog() -> dict[str, int] | None:
    """Return the messages waiting per queue, or ``None`` when the broker cannot be read."""
    kind = _broker_kind()
    queues = queue_names()
    try:
        if kind == "redis":
            client = _redis_client()
            with client.pipeline(transaction=False) as pipe:
                for queue in queues:
                    for step in REDIS_PRIORITY_STEPS:
                        pipe.llen(queue if not step else f"{queue}{REDIS_PRIORITY_SEP}{step}")
                lengths = pipe.execute()
            per = len(REDIS_PRIORITY_STEPS)
            return {q: sum(lengths[i * per:(i + 1) * per]) for i, q in enumerate(queues)}
        if kind == "filesystem":
            # kombu's filesystem transport names a message "<time>_<uuid>.<queue>.msg".
            folder = Path(settings.CELERY_BROKER_FOLDER) / "out"
            counts = dict.fromkeys(queues, 0)
            if folder.is_dir():
                for entry in folder.iterdir():
                    queue = entry.name.partition(".")[2].removesuffix(".msg")
                    if queue in counts:
                        counts[queue] += 1
            return counts
    except Exception as exc:  # noqa: BLE001 - the page shows "not readable"
        logger.warning("Operations: the broker backlog could not be read: %s", exc)
    return None


def record_beat_heartbeat(now: float | None = None) -> None:
    """Record that Celery beat is alive now, beside the broker."""
    now = time.time() if now is None else now
    kind = _broker_kind()
    try:
        if kind == "redis":
            _redis_client().set(BEAT_KEY, repr(now))
        elif kind == "filesystem":
            folder = Path(settings.CELERY_BROKER_FOLDER)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / BEAT_FILE).write_text(repr(now))
    except Exception as exc:  # noqa: BLE001 - beat must go on scheduling
        logger.warning("Operations: beat's heartbeat could not be recorded: %s", exc)


def beat_last_seen() -> float | None:
    """Return when beat last recorded its heartbeat (Unix time), ``None`` if never/unknown."""
    kind = _broker_kind()
    try:
        if kind == "redis":
            raw = _redis_client().get(BEAT_KEY)
            return float(raw) if raw else None
        if kind == "filesystem":
            path = Path(settings.CELERY_BROKER_FOLDER) / BEAT_FILE
            return float(path.read_text()) if path.exists() else None
    except Exception as exc:  # noqa: BLE001
        logger.warning("Operations: beat's heartbeat could not be read: %s", exc)
    return None


_beat_lock = threading.Lock()
_beat_written = 0.0


def _on_beat_publish(**kwargs) -> None:
    global _beat_written
    now = time.time()
    with _beat_lock:
        if now - _beat_written < BEAT_HEARTBEAT_SECONDS:
            return
        _beat_written = now
    record_beat_heartbeat(now)


def on_beat_init(sender=None, **kwargs) -> None:
    """In the beat process: record the heartbeat now and whenever beat publishes a task."""
    from celery.signals import before_task_publish

    record_beat_heartbeat()
    before_task_publish.connect(_on_beat_publish, weak=False, dispatch_uid="atrium-beat-beat")


# -- the database -------------------------------------------------------------------------


def dbwatch_counts() -> dict[str, int]:
    """Return the slow queries, deadlocks and lock timeouts of the last hour."""
    from core import dbwatch

    return dbwatch.recent_counts(3600)


def recent_events(window: int, maintenance_window: int) -> dict:
    """Return the recent events the database holds for every process: test runs finished,
    MCP calls, sign-in failures (last ``window`` seconds), partition maintenance runs
    (last ``maintenance_window`` seconds)."""
    from django.db.models import Count, Max

    from core.context import all_tenants
    from gateway.models import McpToolCallLog
    from logs import maintenance
    from logs.models import LoginLog, LoginStatus, OperationLog
    from testing.models import Execution

    now = timezone.now()
    since = now - dt.timedelta(seconds=window)
    # Platform-wide figures: every tenant's rows, counted, never listed (the explicit
    # all-tenants scope, which row-level security also honours: core.rls).
    with all_tenants():
        test_runs = _grouped(Execution.objects.all_tenants().filter(completed_at__gte=since),
                             "status")
        mcp_calls = _grouped(McpToolCallLog.objects.all_tenants().filter(created_at__gte=since),
                             "status")
        failures = LoginLog.objects.all_tenants().filter(
            created_at__gte=since, login_status=LoginStatus.FAILED).count()
        runs = list(
            OperationLog.objects.all_tenants().filter(
                module=maintenance.MODULE, operation=maintenance.OPERATION,
                created_at__gte=now - dt.timedelta(seconds=maintenance_window),
            )
            .values("status").annotate(n=Count("pk"), last=Max("created_at")).order_by()
        )
    return {
        "test_runs": test_runs,
        "mcp_calls": mcp_calls,
        "signin_failures": failures,
        "maintenance_runs": {row["status"]: row["n"] for row in runs},
        "maintenance_last": {row["status"]: row["last"].timestamp() for row in runs},
    }


def _grouped(queryset, field: str) -> dict[str, int]:
    from django.db.models import Count

    rows = queryset.values(field).annotate(n=Count("pk")).order_by()
    return {row[field]: row["n"] for row in rows}


def _is_local(alias: str) -> bool:
    host = (connections[alias].settings_dict.get("HOST") or "").strip()
    return host in LOCAL_HOSTS or host.startswith("/")


def data_directory(alias: str) -> str | None:
    """Return the data directory of ``alias``'s server as this host sees it, else ``None``."""
    connection = connections[alias]
    if connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            return None
        return str(Path(connection.settings_dict["NAME"]).resolve().parent)
    queries = {"postgresql": "SHOW data_directory", "mysql": "SELECT @@datadir"}
    if connection.vendor not in queries or not _is_local(alias):
        return None
    try:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(queries[connection.vendor])
            row = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - no privilege: not readable
        logger.info("Operations: the data directory of %s is not readable: %s", alias, exc)
        return None
    return row[0] if row and row[0] else None


def disk_usage(alias: str) -> float | None:
    """Return the used fraction of the disk holding ``alias``'s data, ``None`` if unknown."""
    directory = data_directory(alias)
    if not directory:
        return None
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return None
    return usage.used / usage.total if usage.total else None


def replication_lag(alias: str) -> tuple[bool, float | None]:
    """Return (a replica is configured, its lag in seconds) for ``alias``."""
    connection = connections[alias]
    if connection.vendor not in {"postgresql", "mysql"}:
        return False, None  # SQLite has no replicas; Oracle's are not read here
    try:
        # A savepoint: a refused statement must not abort the caller's transaction.
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_is_in_recovery()")
                if cursor.fetchone()[0]:
                    cursor.execute("SELECT EXTRACT(EPOCH FROM now() - "
                                   "pg_last_xact_replay_timestamp())")
                    lag = cursor.fetchone()[0]
                    return True, float(lag) if lag is not None else None
                cursor.execute("SELECT count(*), EXTRACT(EPOCH FROM max(replay_lag)) "
                               "FROM pg_stat_replication")
                count, lag = cursor.fetchone()
                if not count:
                    return False, None
                # NULL without pg_read_all_stats (or before the first replay): unknown.
                return True, float(lag) if lag is not None else None
            rows, columns = _replica_status(cursor)
            if not rows:
                return False, None
            lag = rows[0][columns.index("Seconds_Behind_Master")]
            return True, float(lag) if lag is not None else None
    except Exception as exc:  # noqa: BLE001 - no privilege: unknown
        logger.info("Operations: the replication state of %s is not readable: %s", alias, exc)
        return True, None


def _replica_status(cursor) -> tuple[list, list[str]]:
    from django.db import DatabaseError

    try:
        cursor.execute("SHOW REPLICA STATUS")
    except DatabaseError:
        cursor.execute("SHOW SLAVE STATUS")
    columns = [column[0] for column in cursor.description or ()]
    return list(cursor.fetchall()), columns


def pool_usage() -> dict[str, tuple[float, float]]:
    """Return (connections in use, largest pool size) per alias with a pool, summed over
    the processes in multiprocess mode."""
    from config import metrics

    metrics.sample_pools(force=True)
    totals: dict[str, list[float]] = {}
    names = {"atrium_db_pool_connections_in_use": 0, "atrium_db_pool_connections_max": 1}
    for family in metrics.process_registry().collect():
        for sample in family.samples:
            if sample.name in names:
                pair = totals.setdefault(sample.labels["alias"], [0.0, 0.0])
                pair[names[sample.name]] += sample.value
    return {alias: (used, most) for alias, (used, most) in totals.items()}


# -- the checks ---------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return _("not readable") if value is None else f"{value:.0%}"


def gather() -> list[Check]:
    """Return every check of seed 001 section 8.1 with its current value and state."""
    checks: list[Check] = []
    pools = pool_usage()
    for alias in settings.DATABASES:
        if alias in pools:
            used, most = pools[alias]
            ratio = used / most if most else 0.0
            checks.append(Check(
                f"pool_usage:{alias}", _("Connection pool usage (%(alias)s)") % {"alias": alias},
                round(ratio, 4), f"{ratio:.0%} ({used:g}/{most:g})",
                f"≥ {settings.OPS_POOL_USAGE_WARN:.0%}",
                _state(ratio, settings.OPS_POOL_USAGE_WARN)))
        else:
            checks.append(Check(
                f"pool_usage:{alias}", _("Connection pool usage (%(alias)s)") % {"alias": alias},
                None, _("no pool (persistent connections)"),
                f"≥ {settings.OPS_POOL_USAGE_WARN:.0%}", NOT_AVAILABLE))

    counts = dbwatch_counts()
    checks.append(Check(
        "slow_queries", _("Slow queries in the last hour (over %(ms)s ms)")
        % {"ms": settings.SLOW_QUERY_MS},
        counts["slow_queries"], str(counts["slow_queries"]),
        f"≥ {settings.OPS_SLOW_QUERIES_WARN}",
        _state(counts["slow_queries"], settings.OPS_SLOW_QUERIES_WARN)))
    checks.append(Check(
        "deadlocks", _("Deadlocks in the last hour"),
        counts["deadlocks"], str(counts["deadlocks"]),
        f"≥ {settings.OPS_DEADLOCKS_WARN}",
        _state(counts["deadlocks"], settings.OPS_DEADLOCKS_WARN)))

    for alias in settings.DATABASES:
        usage = disk_usage(alias)
        checks.append(Check(
            f"disk_usage:{alias}", _("Disk usage of the data directory (%(alias)s)")
            % {"alias": alias},
            None if usage is None else round(usage, 4), _percent(usage),
            f"≥ {settings.OPS_DISK_USAGE_WARN:.0%}",
            _state(usage, settings.OPS_DISK_USAGE_WARN)))

    for alias in settings.DATABASES:
        configured, lag = replication_lag(alias)
        label = _("Replication lag (%(alias)s)") % {"alias": alias}
        threshold = f"≥ {settings.OPS_REPLICATION_LAG_WARN:g} s"
        if not configured:
            checks.append(Check(f"replication_lag:{alias}", label, None,
                                _("no replica configured"), threshold, NOT_AVAILABLE))
        else:
            shown = _("not readable") if lag is None else f"{lag:.1f} s"
            checks.append(Check(f"replication_lag:{alias}", label, lag, shown, threshold,
                                _state(lag, settings.OPS_REPLICATION_LAG_WARN)))

    backlog = broker_backlog()
    total = None if backlog is None else sum(backlog.values())
    checks.append(Check(
        "broker_backlog", _("Celery broker backlog (messages waiting)"), total,
        _("not readable") if backlog is None else
        ", ".join(f"{queue}: {n}" for queue, n in backlog.items()) or "0",
        f"≥ {settings.OPS_BROKER_BACKLOG_WARN}",
        _state(total, settings.OPS_BROKER_BACKLOG_WARN)))

    seen = beat_last_seen()
    age = None if seen is None else max(0.0, time.time() - seen)
    checks.append(Check(
        "beat_last_seen", _("Celery beat last seen"),
        None if age is None else round(age, 1),
        _("never seen") if age is None else _("%(seconds)s s ago") % {"seconds": f"{age:.0f}"},
        f"≥ {settings.OPS_BEAT_SILENT_SECONDS:g} s",
        # Beat never seen is a warning too: beat is part of a working platform.
        WARNING if age is None else _state(age, settings.OPS_BEAT_SILENT_SECONDS)))
    return checks


def details() -> dict:
    """Return the checks as JSON for ``/readyz`` (operators only)."""
    return {
        check.key: {
            "value": check.value, "threshold": check.threshold, "state": check.state,
        }
        for check in gather()
    }


def operations_view(request: HttpRequest, site: admin.AdminSite | None = None):
    """The admin's operations page: the seed's thresholds against current values."""
    if not may_see_operations(request.user):
        raise PermissionDenied
    site = site or admin.site
    checks = gather()
    context = {
        **site.each_context(request),
        "title": _("Operations"),
        "checks": [asdict(check) for check in checks],
        "warnings": sum(check.state == WARNING for check in checks),
    }
    return TemplateResponse(request, "admin/operations.html", context)
