"""Benchmark: the cost of the audit trail (issue 4).

Run with ``.venv/bin/python bench/log_capture.py`` (``DATABASE_URL`` picks the backend).

1. Capture cost: ``PATCH /api/v1/users/<id>/`` by a tenant administrator, with the
   operation-log middleware (one operation row and one audit row per request) against the
   same stack without it, called alternately in the same run (BENCH_CAPTURE_ROUNDS each).
2. Insert throughput (MariaDB/MySQL and PostgreSQL only): BENCH_INSERT_ROWS operation-log
   rows spread over five months, inserted in batches of 1,000 into the partitioned
   ``operation_logs`` and, as the baseline, into a plain copy of the same table.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import datetime
import os
import time

from harness import percentiles, throwaway_database, timed_pair  # noqa: I001 (sets Django up)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

CAPTURE_ROUNDS = int(os.environ.get("BENCH_CAPTURE_ROUNDS", "300"))
INSERT_ROWS = int(os.environ.get("BENCH_INSERT_ROWS", "50000"))
BATCH = 1000


def seed():
    from accounts.models import User
    from core.context import tenant_context
    from rbac.catalogue import tenant_grantable_codes
    from rbac.models import Permission
    from rbac.services import assign_roles, ensure_admin_role
    from tenants.models import Tenant, TenantPackage

    package = TenantPackage.objects.create(code="bench", name="Bench")
    package.permissions.set(Permission.objects.filter(code__in=tenant_grantable_codes()))
    tenant = Tenant.objects.create(code="bench", name="Bench", package=package)
    with tenant_context(tenant):
        admin = User.objects.create_user("admin", "bench-password-1", tenant=tenant, is_staff=True)
        target = User.objects.create_user("target", "bench-password-1", tenant=tenant)
    assign_roles(user=admin, roles=[ensure_admin_role(tenant)])
    return admin, target


def capture_cost(admin, target) -> list[str]:
    url = f"/api/v1/users/{target.pk}/"
    without = [m for m in settings.MIDDLEWARE if m != "logs.middleware.OperationLogMiddleware"]
    logged, plain = Client(), Client()
    logged.force_login(admin)
    plain.force_login(admin)
    counter = iter(range(10**9))

    def patch(client):
        response = client.patch(url, {"name": f"n{next(counter)}"}, content_type="application/json")
        assert response.status_code == 200, response.content[:300]

    from logs.models import OperationLog

    def logged_rows() -> int:
        return OperationLog.objects.all_tenants().count()

    with override_settings(MIDDLEWARE=without):
        patch(plain)  # builds this client's handler without the capture middleware
    before = logged_rows()
    patch(plain)
    assert logged_rows() == before, "the baseline must not capture"
    patch(logged)
    assert logged_rows() == before + 1, "the candidate must write one operation row"

    # Each test client keeps the middleware chain it was built with on its first request.
    base, cand = timed_pair(lambda: patch(plain), lambda: patch(logged), CAPTURE_ROUNDS, warmup=20)
    (b50, b95), (c50, c95) = percentiles(base), percentiles(cand)
    return [
        f"{'PATCH a user, capture off (baseline)':<46} {b50 * 1e3:>7.2f}ms {b95 * 1e3:>7.2f}ms",
        f"{'PATCH a user, operation + audit log on':<46} {c50 * 1e3:>7.2f}ms {c95 * 1e3:>7.2f}ms",
        f"capture cost at p50: +{(c50 - b50) * 1e3:.2f}ms ({(c50 / b50 - 1) * 100:.1f}%)",
    ]


def insert_throughput() -> list[str]:
    if connection.vendor not in ("mysql", "postgresql"):
        return ["insert throughput: partitions exist on MariaDB/MySQL and PostgreSQL only"]
    from logs.models import OperationLog

    columns = ["username", "request_id", "module", "operation", "business_type", "business_id",
               "method", "uri", "user_agent", "response_status", "execute_time", "status",
               "error_message", "created_at"]
    start = timezone.now().replace(day=15) - datetime.timedelta(days=60)
    rows = [
        ("bench", f"r{n}", "accounts", "update", "update", str(n), "PATCH", f"/api/v1/users/{n}/",
         "bench", 200, 3, "success", "", start + datetime.timedelta(days=(n % 150)))
        for n in range(INSERT_ROWS)
    ]
    quote = connection.ops.quote_name
    table = OperationLog._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(f"CREATE TABLE bench_plain LIKE {quote(table)}")
            cursor.execute("ALTER TABLE bench_plain REMOVE PARTITIONING")
        else:
            cursor.execute(f"CREATE TABLE bench_plain (LIKE {quote(table)} INCLUDING ALL)")
    try:
        results = {}
        for target in ("bench_plain", table):
            sql = (f"INSERT INTO {quote(target)} ({', '.join(quote(c) for c in columns)}) "
                   f"VALUES ({', '.join(['%s'] * len(columns))})")
            began = time.perf_counter()
            for offset in range(0, len(rows), BATCH):
                with connection.cursor() as cursor:
                    cursor.executemany(sql, rows[offset:offset + BATCH])
            results[target] = len(rows) / (time.perf_counter() - began)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_plain")
    return [
        f"{'insert, plain copy of the table (baseline)':<46} {results['bench_plain']:>10,.0f} rows/s",
        f"{'insert, partitioned operation_logs':<46} {results[table]:>10,.0f} rows/s",
    ]


def main() -> None:
    with throwaway_database():
        admin, target = seed()
        lines = capture_cost(admin, target) + insert_throughput()
    print(f"Atrium log capture benchmark on {connection.vendor}: {CAPTURE_ROUNDS} requests each, "
          f"{INSERT_ROWS} rows inserted in batches of {BATCH}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
