"""Benchmark: the cost of PostgreSQL row-level security (issue 18, core/rls).

Run with ``.venv/bin/python bench/rls.py`` (PostgreSQL at BENCH_POSTGRES_URL, default
``postgres://postgres@127.0.0.1:5432/atrium_bench_rls``, as a superuser that may create the
two roles). Two worker processes, each on a throw-away database of its own seeded alike
(two tenants of BENCH_RLS_USERS users each, an API key of one of them):

* baseline: ``DATABASE_RLS`` off, signed in as the superuser: Django's PostgreSQL engine,
  policies not enforced;
* candidate: ``DATABASE_RLS=true``, signed in as the everyday role ``atrium_app``: the
  engine of core/rls (``set_config`` of the scope before a statement when it changed),
  every tenant-owned table enforcing its policy.

Both take turns, request by request, with the same two operations: the API users list
(``GET /api/v1/users/?page_size=20``) and a write (``PATCH /api/v1/positions/<id>/``). As
in production, each request ends by handing its connection back to the pool, so every
request starts on a connection that must be given its scope again.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/atrium_bench_rls")
USERS = int(os.environ.get("BENCH_RLS_USERS", "2000"))
ROUNDS = int(os.environ.get("BENCH_RLS_ROUNDS", "300"))
WARMUP = 30


# -- the worker: one platform, one database, answering "list" and "write" ------------------


def worker() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness import throwaway_database  # noqa: I001 (sets Django up)

    from django.db import connection
    from django.test import Client

    with throwaway_database():
        key, position_id = seed()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        operations = {
            "list": lambda: client.get("/api/v1/users/?page_size=20"),
            "write": lambda n: client.patch(f"/api/v1/positions/{position_id}/",
                                            data=json.dumps({"name": f"Position {n}"}),
                                            content_type="application/json"),
        }
        assert operations["list"]().status_code == 200
        assert operations["write"](0).status_code == 200, operations["write"](0).content
        connection.close()
        print("ready", flush=True)
        n = 0
        for line in sys.stdin:
            n += 1
            name = line.strip()
            start = time.perf_counter()
            response = operations[name]() if name == "list" else operations[name](n)
            connection.close()  # the end of a request: the connection goes back to the pool
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.content[:300]
            print(elapsed, flush=True)


def seed() -> tuple[str, str]:
    from django.contrib.auth.hashers import make_password

    from accounts.models import Department, Position, User
    from accounts.services.api_keys import issue_api_key
    from core.context import all_tenants, tenant_context
    from rbac.catalogue import tenant_grantable_codes
    from rbac.models import DataScope, Permission, Role, RolePermission, UserRole
    from tenants.models import Tenant, TenantPackage

    with all_tenants():
        package = TenantPackage.objects.create(code="bench", name="Bench")
        package.permissions.set(Permission.objects.filter(code__in=tenant_grantable_codes()))
        tenants = [Tenant.objects.create(code=f"bench{n}", name=f"Bench {n}", package=package)
                   for n in range(2)]
    password = make_password("bench-password")
    for tenant in tenants:
        with tenant_context(tenant):
            department = Department.objects.create(code="d", name="Dept")
            position = Position.objects.create(code="p", name="Position")
            User.objects.bulk_create(
                [User(tenant=tenant, username=f"user{n:05d}", password=password,
                      department=department) for n in range(USERS)],
                batch_size=1000,
            )
            caller = User.objects.create(tenant=tenant, username="caller", password=password,
                                         department=department)
            role = Role.objects.create(code="bench", name="Bench", data_scope=DataScope.ALL)
            RolePermission.objects.bulk_create(
                [RolePermission(role=role, permission=permission) for permission in
                 Permission.objects.filter(code__in=["user:view", "position:update",
                                                     "position:view"])])
            UserRole.objects.create(user=caller, role=role)
            _, key = issue_api_key(user=caller, name="bench",
                                   scopes=["user:view", "position:view", "position:update"])
    return key, str(position.pk)


# -- the driver ---------------------------------------------------------------------------


def start(env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker"], cwd=ROOT, env={**os.environ, **env},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise SystemExit(f"a worker did not start ({env.get('DATABASE_URL')}): {line!r}")
    return process


def ask(process: subprocess.Popen, operation: str) -> float:
    process.stdin.write(operation + "\n")
    process.stdin.flush()
    return float(process.stdout.readline())


def main() -> None:
    import psycopg

    sys.path.insert(0, str(ROOT))
    from core.rls import roles_sql

    parts = urlparse(URL)
    with psycopg.connect(host=parts.hostname, port=parts.port or 5432,
                         user=parts.username or "postgres", dbname="postgres",
                         autocommit=True) as admin:
        admin.execute(roles_sql(may_create_databases=True))
    host = f"{parts.hostname}:{parts.port or 5432}"
    name = parts.path.lstrip("/")
    baseline = start({"DATABASE_URL": f"postgres://{parts.username or 'postgres'}@{host}/{name}_plain",
                      "DATABASE_RLS": "false"})
    candidate = start({"DATABASE_URL": f"postgres://atrium_app@{host}/{name}_rls",
                       "DATABASE_RLS": "true"})
    workers = {"baseline": baseline, "candidate": candidate}
    samples = {(who, op): [] for who in workers for op in ("list", "write")}
    try:
        for round_ in range(WARMUP + ROUNDS):
            for op in ("list", "write"):
                for who, process in workers.items():
                    elapsed = ask(process, op)
                    if round_ >= WARMUP:
                        samples[(who, op)].append(elapsed)
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait(timeout=120)
    print(f"PostgreSQL row-level security, {ROUNDS} rounds taking turns, two tenants of "
          f"{USERS} users, API key, connection back to the pool after each request")
    print(f"{'operation':<44} {'baseline p50':>13} {'RLS p50':>9} {'cost':>16}")
    for op, label in (("list", "GET /api/v1/users/?page_size=20"),
                      ("write", "PATCH /api/v1/positions/<id>/")):
        base = statistics.median(samples[("baseline", op)])
        cand = statistics.median(samples[("candidate", op)])
        print(f"{label:<44} {base * 1e3:>11.2f}ms {cand * 1e3:>7.2f}ms "
              f"{(cand - base) * 1e3:>+7.2f}ms {(cand / base - 1) * 100:>+6.1f}%")


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
