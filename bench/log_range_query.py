"""Benchmark: a one-day query of the operation log, partitioned against plain (issue 4).

Run with ``.venv/bin/python bench/log_range_query.py`` on MariaDB/MySQL or PostgreSQL
(``DATABASE_URL``); SQLite keeps log tables plain, so there is nothing to compare.

A throw-away database gets BENCH_RANGE_ROWS operation-log rows (default 5,000,000) spread
evenly over the last 12 months and over 20 tenants. They are generated in the database
(MariaDB's sequence engine, PostgreSQL's ``generate_series``) into the monthly-partitioned
``operation_logs``, with partitions made by ``maintain_partitions`` as in production. The
same rows are then copied into a plain table with the same columns and indexes. Each query
runs BENCH_RANGE_ROUNDS times on each table, alternately, over a different day each time:

* page: one tenant's day, newest first, 50 rows (the log API's first page);
* day: every row of one day counted by status (what a rollup or an export reads).

Goal (seed 001 appendix B): the partitioned query under 50 ms and no slower than plain.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import datetime as dt
import os
import random
import time

from harness import percentiles, throwaway_database  # noqa: I001 (sets Django up)

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

ROWS = int(os.environ.get("BENCH_RANGE_ROWS", "5000000"))
ROUNDS = int(os.environ.get("BENCH_RANGE_ROUNDS", "100"))
TENANTS = 20
DAYS = 365
TABLE = "operation_logs"
PLAIN = "bench_operation_logs_plain"


def make_partitions(now: dt.datetime) -> None:
    """Create the monthly partitions of the last 12 months and the next 3, as beat would."""
    from django.conf import settings
    from django.test import override_settings

    from logs.maintenance import maintain_partitions

    # Keep the oldest month: the default retention (12 months) would drop it in between.
    retention = {**settings.LOG_PARTITION_RETENTION, TABLE: "14 months"}
    with override_settings(LOG_PARTITION_RETENTION=retention):
        maintain_partitions(now=now - dt.timedelta(days=DAYS))
        maintain_partitions(now=now)


def fill(now: dt.datetime, tenants: list[str]) -> None:
    """Generate ROWS rows over the last DAYS days in the database, then the plain copy."""
    quote = connection.ops.quote_name
    start = now - dt.timedelta(days=DAYS)
    step = DAYS * 86400 / ROWS  # seconds between consecutive rows
    columns = ("tenant_id, username, request_id, module, operation, business_type, business_id, "
               "method, uri, user_agent, response_status, execute_time, status, error_message, "
               "created_at")
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            tenant_list = ",".join(f"'{t}'" for t in tenants)
            cursor.execute(
                f"INSERT INTO {quote(TABLE)} ({columns}) "
                f"SELECT ELT(1 + seq %% {TENANTS}, {tenant_list}), 'bench', CONCAT('r', seq), "
                "'accounts', 'user.update', 'update', seq, 'PATCH', '/api/v1/users/x/', 'bench', "
                "IF(seq %% 50 = 0, 500, 200), 3, IF(seq %% 50 = 0, 'failed', 'success'), '', "
                f"%s + INTERVAL FLOOR(seq * {step}) SECOND FROM seq_0_to_{ROWS - 1}",
                [start.replace(tzinfo=None)],
            )
            cursor.execute(f"CREATE TABLE {quote(PLAIN)} LIKE {quote(TABLE)}")
            cursor.execute(f"ALTER TABLE {quote(PLAIN)} REMOVE PARTITIONING")
        else:
            tenant_array = "ARRAY[" + ",".join(f"'{t}'::uuid" for t in tenants) + "]"
            cursor.execute(
                f"INSERT INTO {quote(TABLE)} ({columns}) "
                f"SELECT ({tenant_array})[1 + seq %% {TENANTS}], 'bench', 'r' || seq, "
                "'accounts', 'user.update', 'update', seq::text, 'PATCH', '/api/v1/users/x/', "
                "'bench', CASE WHEN seq %% 50 = 0 THEN 500 ELSE 200 END, 3, "
                "CASE WHEN seq %% 50 = 0 THEN 'failed' ELSE 'success' END, '', "
                f"%s + make_interval(secs => floor(seq * {step})) "
                f"FROM generate_series(0, {ROWS - 1}) AS seq",
                [start],
            )
            cursor.execute(f"CREATE TABLE {quote(PLAIN)} (LIKE {quote(TABLE)} INCLUDING ALL)")
        cursor.execute(f"INSERT INTO {quote(PLAIN)} SELECT * FROM {quote(TABLE)}")
        cursor.execute(f"ANALYZE {'TABLE ' if connection.vendor == 'mysql' else ''}{quote(TABLE)}")
        cursor.execute(f"ANALYZE {'TABLE ' if connection.vendor == 'mysql' else ''}{quote(PLAIN)}")


def queries(table: str, tenant: str, day: dt.datetime) -> tuple[str, list, str, list]:
    quote = connection.ops.quote_name
    end = day + dt.timedelta(days=1)
    if connection.vendor == "mysql":
        day, end = day.replace(tzinfo=None), end.replace(tzinfo=None)
    page = (f"SELECT id, created_at, module, operation, status FROM {quote(table)} "
            "WHERE tenant_id = %s AND created_at >= %s AND created_at < %s "
            "ORDER BY created_at DESC, id DESC LIMIT 50")
    count = (f"SELECT status, COUNT(*) FROM {quote(table)} "
             "WHERE created_at >= %s AND created_at < %s GROUP BY status")
    return page, [tenant, day, end], count, [day, end]


def timed(sql: str, params: list) -> float:
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()
    return time.perf_counter() - began


def main() -> None:
    if connection.vendor not in ("mysql", "postgresql"):
        print("log range query: partitions exist on MariaDB/MySQL and PostgreSQL only")
        return
    import uuid

    with throwaway_database():
        now = timezone.now()
        tenants = [str(uuid.uuid4()) if connection.vendor == "postgresql" else uuid.uuid4().hex
                   for _ in range(TENANTS)]
        began = time.perf_counter()
        make_partitions(now)
        fill(now, tenants)
        loaded = time.perf_counter() - began
        rng = random.Random(7)
        samples = {(kind, table): [] for kind in ("page", "day") for table in (TABLE, PLAIN)}
        for round_ in range(ROUNDS + 10):
            day = (now - dt.timedelta(days=rng.randrange(2, DAYS - 2))).replace(
                hour=0, minute=0, second=0, microsecond=0)
            tenant = rng.choice(tenants)
            for table in (PLAIN, TABLE) if round_ % 2 else (TABLE, PLAIN):
                page, page_params, count, count_params = queries(table, tenant, day)
                page_time, count_time = timed(page, page_params), timed(count, count_params)
                if round_ >= 10:  # warm-up rounds are not counted
                    samples[("page", table)].append(page_time)
                    samples[("day", table)].append(count_time)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(TABLE)}")
            (stored,) = cursor.fetchone()
    print(f"one-day queries of the operation log on {connection.vendor}: {stored:,} rows over "
          f"{DAYS} days and {TENANTS} tenants (loaded in {loaded:.0f} s), {ROUNDS} days each")
    print(f"{'case':<64} {'p50':>9} {'p95':>9}")
    for kind, label in (("page", "one tenant's day, newest 50"),
                        ("day", "every row of a day, counted by status")):
        for table, name in ((PLAIN, "plain table (baseline)"), (TABLE, "partitioned by month")):
            p50, p95 = percentiles(samples[(kind, table)])
            print(f"{label + ', ' + name:<64} {p50 * 1e3:>7.2f}ms {p95 * 1e3:>7.2f}ms")


if __name__ == "__main__":
    main()
