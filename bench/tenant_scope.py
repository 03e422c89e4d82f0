"""Benchmark: what tenant scoping costs, against an unscoped baseline in the same run.

Run with ``make bench`` (or ``.venv/bin/python bench/tenant_scope.py``). The database is a
throw-away test database on whatever DATABASE_URL names (default: SQLite in memory), filled
with BENCH_USERS users per tenant in two tenants.

Pairs measured (p50/p95 in microseconds or milliseconds):

1. ORM lookup by username: ``User.objects`` inside ``tenant_context`` (the fail-closed
   manager, filter added at compile time) against ``all_tenants().filter(tenant_id=...)``,
   which runs the same SQL without the scope machinery.
2. Admin user change list, first page: a tenant administrator (scoped) against a platform
   operator (all tenants, plus the tenant column and filter).
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import os

from harness import percentiles, throwaway_database, timed_pair  # noqa: I001 (sets Django up)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2000"))
PAGE_ROUNDS = int(os.environ.get("BENCH_PAGE_ROUNDS", "100"))


def seed():
    from django.contrib.auth.hashers import make_password

    from accounts.models import Department, User
    from core.context import tenant_context
    from rbac.catalogue import tenant_grantable_codes
    from rbac.models import Permission
    from rbac.services import assign_roles, ensure_admin_role
    from tenants.models import Tenant, TenantPackage

    password = make_password("bench-password")
    package = TenantPackage.objects.create(code="bench", name="Bench")
    package.permissions.set(Permission.objects.filter(code__in=tenant_grantable_codes()))
    tenants = [Tenant.objects.create(code=f"bench{i}", name=f"Bench {i}", package=package)
               for i in range(2)]
    for tenant in tenants:
        with tenant_context(tenant):
            dept = Department.objects.create(code="hq", name="HQ")
            User.objects.bulk_create(
                [
                    User(tenant=tenant, username=f"user{n:05d}", password=password, department=dept)
                    for n in range(USERS)
                ],
                batch_size=500,
            )
            admin = User.objects.create(tenant=tenant, username="admin", password=password,
                                        is_staff=True)
            assign_roles(user=admin, roles=[ensure_admin_role(tenant)])
    platform = Tenant.objects.get(is_platform=True)
    with tenant_context(platform):
        operator = User.objects.create(tenant=platform, username="root", password=password,
                                       is_staff=True, is_superuser=True)
    return tenants[0], admin, operator


def main() -> None:
    from accounts.models import User
    from core.context import tenant_context

    with throwaway_database():
        tenant, admin, operator = seed()
        target = f"user{USERS // 2:05d}"

        def scoped():
            with tenant_context(tenant):
                User.objects.filter(username=target).first()

        def baseline():
            User.objects.all_tenants().filter(tenant_id=tenant.pk, username=target).first()

        base_samples, scoped_samples = timed_pair(baseline, scoped, ROUNDS)
        rows = [("ORM lookup, unscoped baseline", base_samples, 1e6, "µs"),
                ("ORM lookup, tenant-scoped", scoped_samples, 1e6, "µs")]

        admin_client, operator_client = Client(), Client()
        admin_client.force_login(admin)
        operator_client.force_login(operator)
        url = "/admin/accounts/user/"
        for client in (admin_client, operator_client):
            assert client.get(url).status_code == 200
        operator_samples, admin_samples = timed_pair(
            lambda: operator_client.get(url), lambda: admin_client.get(url), PAGE_ROUNDS
        )
        rows.append(("Admin user list, operator (all tenants)", operator_samples, 1e3, "ms"))
        rows.append(("Admin user list, tenant admin (scoped)", admin_samples, 1e3, "ms"))

        vendor = connection.vendor
        print(f"Atrium tenant-scope benchmark on {vendor}, {USERS} users x 2 tenants, "
              f"hasher {settings.PASSWORD_HASHERS[0].rsplit('.', 1)[-1]}")
        print(f"{'case':<42} {'p50':>10} {'p95':>10}")
        for name, samples, scale, unit in rows:
            p50, p95 = percentiles(samples)
            print(f"{name:<42} {p50 * scale:>8.1f}{unit} {p95 * scale:>8.1f}{unit}")
        base50 = percentiles(rows[0][1])[0]
        scoped50 = percentiles(rows[1][1])[0]
        print(f"scope overhead at p50: {(scoped50 - base50) * 1e6:.1f}µs "
              f"({(scoped50 / base50 - 1) * 100:.1f}%)")


if __name__ == "__main__":
    main()
