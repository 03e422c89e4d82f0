"""Benchmark: the cost of the permission layer on ``GET /api/v1/users/`` (issue 3).

Run with ``make bench-api`` (or ``.venv/bin/python bench/api_users.py``); the issue asks for
MariaDB: ``DATABASE_URL=mysql://root@127.0.0.1:3306/atrium_bench``. A throw-away database is
filled with BENCH_API_USERS users (default 10,000), 100 roles and 500 permissions; one
user holding 10 of the roles calls with an API key, 50 users a page.

Pair, called alternately in the same run:

* candidate: the real endpoint (API key, RBAC permission, endpoint registry, data scope);
* baseline: a plain DRF list view over the same queryset and serializer, with the same API
  key authentication and no permission layer.

It also counts the cache lookups of the permission decision per request (the goal is one).
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import os
import time

from harness import percentiles, throwaway_database, timed_pair  # noqa: I001 (sets Django up)

from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402
from rest_framework import generics  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402

from accounts.api.authentication import ApiKeyAuthentication  # noqa: E402
from rbac.api.users import UserSerializer  # noqa: E402

USERS = int(os.environ.get("BENCH_API_USERS", "10000"))
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "200"))
ROLES = 100
PERMISSIONS = 500


class BaselineUserList(generics.ListAPIView):
    """The same list without the permission layer: authentication only."""

    serializer_class = UserSerializer
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        from rbac.api.users import UserViewSet
        from accounts.models import User

        queryset = User.objects.all_tenants().filter(tenant_id=self.request.user.tenant_id)
        return UserViewSet.optimise(None, queryset).order_by("username")


urlpatterns = [
    path("baseline/users/", BaselineUserList.as_view()),
    path("", include("config.urls")),
]


def seed():
    import random

    from django.contrib.auth.hashers import make_password

    from accounts.services.api_keys import issue_api_key
    from accounts.models import Department, User
    from core.context import tenant_context
    from rbac.catalogue import tenant_grantable_codes
    from rbac.models import DataScope, Permission, Role, RolePermission, UserRole
    from tenants.models import Tenant, TenantPackage

    random.seed(7)
    existing = Permission.objects.count()
    Permission.objects.bulk_create(
        [Permission(code=f"bench{n:03d}:view", name=f"Bench {n}", type="operation", module="bench")
         for n in range(PERMISSIONS - existing)]
    )
    package = TenantPackage.objects.create(code="bench", name="Bench")
    codes = tenant_grantable_codes() + [f"bench{n:03d}:view" for n in range(PERMISSIONS - existing)]
    package.permissions.set(Permission.objects.filter(code__in=codes))
    tenant = Tenant.objects.create(code="bench", name="Bench", package=package)
    all_permissions = list(Permission.objects.filter(code__in=codes))
    password = make_password("bench-password")
    with tenant_context(tenant):
        departments = [Department.objects.create(code=f"d{n}", name=f"Dept {n}") for n in range(20)]
        User.objects.bulk_create(
            [User(tenant=tenant, username=f"user{n:05d}", password=password,
                  department=departments[n % 20]) for n in range(USERS)],
            batch_size=1000,
        )
        caller = User.objects.create(tenant=tenant, username="caller", password=password,
                                     department=departments[0])
        roles = Role.objects.bulk_create(
            [Role(tenant=tenant, code=f"role{n:03d}", name=f"Role {n}",
                  data_scope=DataScope.ALL if n == 0 else DataScope.DEPARTMENT)
             for n in range(ROLES)]
        )
        RolePermission.objects.bulk_create(
            [RolePermission(role=role, permission=permission)
             for role in roles for permission in random.sample(all_permissions, 50)]
            + [RolePermission(role=roles[0], permission=Permission.objects.get(code="user:view"))],
            ignore_conflicts=True,
        )
        UserRole.objects.bulk_create([UserRole(user=caller, role=role) for role in roles[:10]])
        _, key = issue_api_key(user=caller, name="bench", scopes=["user:view"])
    return key


class CacheCounter:
    """Count the permission-decision cache lookups made while it is installed."""

    def __init__(self) -> None:
        from django.core.cache import cache

        self.cache = cache
        self.original = cache.get
        self.count = 0

    def __enter__(self):
        def counting_get(key, *args, **kwargs):
            if str(key).startswith("rbac:access:"):
                self.count += 1
            return self.original(key, *args, **kwargs)

        self.cache.get = counting_get
        return self

    def __exit__(self, *exc) -> None:
        self.cache.get = self.original


def main() -> None:
    with throwaway_database():
        key = seed()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        with override_settings(ROOT_URLCONF=__name__):
            candidate_url, baseline_url = "/api/v1/users/?page_size=50", "/baseline/users/?page_size=50"
            for url in (candidate_url, baseline_url):
                response = client.get(url)
                assert response.status_code == 200, (url, response.content[:300])
                assert len(response.json()["results"]) == 50
            for _ in range(20):
                client.get(candidate_url)
                client.get(baseline_url)
            base, cand = [], []
            with CacheCounter() as counter:
                for _ in range(ROUNDS):
                    for url, bucket in ((baseline_url, base), (candidate_url, cand)):
                        start = time.perf_counter()
                        client.get(url)
                        bucket.append(time.perf_counter() - start)
            lookups = counter.count / ROUNDS
        b50, b95 = percentiles(base)
        c50, c95 = percentiles(cand)
        print(f"GET /api/v1/users/ (page of 50) on {connection.vendor}, {USERS} users, "
              f"{ROLES} roles, {PERMISSIONS} permissions, API key, {ROUNDS} rounds")
        print(f"{'case':<44} {'p50':>9} {'p95':>9}")
        print(f"{'baseline: plain DRF view, no permission layer':<44} {b50 * 1e3:>7.2f}ms {b95 * 1e3:>7.2f}ms")
        print(f"{'candidate: RBAC + registry + data scope':<44} {c50 * 1e3:>7.2f}ms {c95 * 1e3:>7.2f}ms")
        print(f"permission layer at p50: +{(c50 - b50) * 1e3:.2f}ms ({(c50 / b50 - 1) * 100:.1f}%); "
              f"permission-cache lookups per request: {lookups:.2f}")


if __name__ == "__main__":
    main()
