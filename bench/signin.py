"""Benchmark: what the password hasher costs a sign-in (issue 17, item 8).

Run with ``.venv/bin/python bench/signin.py``. The database is a throw-away test database on
whatever DATABASE_URL names (default: SQLite). One tenant holds one user per hasher, each
with the same password hashed by that hasher.

Three cases, each under its own ``PASSWORD_HASHERS`` so that no hash is upgraded while
being measured:

* PBKDF2: Django's default list (PBKDF2-SHA256, 1,000,000 iterations in Django 5.2), what
  the platform used before;
* Argon2: the platform's production list (``config.settings``: Argon2id with Django's
  default parameters first);
* MD5: the tests' list (``tests/settings.py``), for scale; never used outside the tests.

Measured, p50/p95 over BENCH_SIGNIN_ROUNDS rounds (default 30); in every round each case
runs both, in turn with the other cases, so that all see the same machine conditions:

1. ``check_password`` alone: the hash of the stored password, as the sign-in service runs it;
2. a whole sign-in: the login page's POST through the Django test client and the real
   middleware (session, CSRF, tenant context), the sign-in service with its login-log row,
   ``login()`` and the redirect. Each POST starts with no session, as a browser would.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import logging
import os
import time

from harness import percentiles, throwaway_database  # noqa: I001 (sets Django up)

from django.conf import global_settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import reverse  # noqa: E402

import config.settings as production  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_SIGNIN_ROUNDS", "30"))
WARMUP = 2
PASSWORD = "Atrium-bench-2026"

# (label, username, PASSWORD_HASHERS of the case)
CASES = [
    ("PBKDF2 (Django default)", "pbkdf2", list(global_settings.PASSWORD_HASHERS)),
    ("Argon2 (production)", "argon2", list(production.PASSWORD_HASHERS)),
    ("MD5 (tests only)", "md5", ["django.contrib.auth.hashers.MD5PasswordHasher"]),
]


def seed() -> dict[str, str]:
    """Create the tenant and one user per case; return each case's stored hash by username."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from core.context import tenant_context
    from tenants.models import Tenant

    tenant = Tenant.objects.create(code="bench", name="Bench")
    hashes = {}
    with tenant_context(tenant):
        for _, username, hashers in CASES:
            with override_settings(PASSWORD_HASHERS=hashers):
                hashes[username] = make_password(PASSWORD)
            User.objects.create(tenant=tenant, username=username, password=hashes[username])
    return hashes


def sign_in(client: Client, username: str) -> None:
    """POST the login form as a visitor with no session; fail unless it signs in."""
    client.cookies.clear()
    response = client.post(
        reverse("accounts:login"),
        {"tenant_code": "bench", "username": username, "password": PASSWORD},
    )
    assert response.status_code == 302, (username, response.status_code)


def check_password_once(encoded: str) -> None:
    """Verify the password against a stored hash, as ``User.check_password`` does."""
    from django.contrib.auth.hashers import check_password

    assert check_password(PASSWORD, encoded)


def measure(client: Client, hashes: dict[str, str]) -> dict[tuple[str, str], list[float]]:
    """Return the wall times (seconds) of ``check_password`` and of a sign-in per case.

    In every round each case runs both, in turn with the other cases, so that the two
    columns and the three cases all see the same machine conditions. Each case runs under
    its own PASSWORD_HASHERS, switched outside the timed part (the switch clears Django's
    hasher caches, which is not what a sign-in costs).
    """
    samples: dict[tuple[str, str], list[float]] = {}
    for round_number in range(WARMUP + ROUNDS):
        for _, username, hashers in CASES:
            work = {
                "hash": lambda: check_password_once(hashes[username]),
                "sign-in": lambda: sign_in(client, username),
            }
            with override_settings(PASSWORD_HASHERS=hashers):
                for kind, function in work.items():
                    start = time.perf_counter()
                    function()
                    elapsed = time.perf_counter() - start
                    if round_number >= WARMUP:
                        samples.setdefault((kind, username), []).append(elapsed)
    return samples


def main() -> None:
    logging.getLogger("atrium.request").setLevel(logging.WARNING)  # not a line per request
    with throwaway_database():
        hashes = seed()
        from accounts.models import User

        times = measure(Client(), hashes)
        # No case's hash was upgraded while measured: each user still has its own hasher.
        for _, username, _ in CASES:
            stored = User.objects.all_tenants().get(username=username).password
            assert stored.split("$", 1)[0] == hashes[username].split("$", 1)[0], stored[:20]
        pbkdf2 = hashes["pbkdf2"].split("$")[1]
        argon2 = hashes["argon2"].split("$")[3]

    print(f"Sign-in on {connection.vendor}, {ROUNDS} rounds, cases taking turns "
          f"(Django PBKDF2 {pbkdf2} iterations; Argon2 {argon2}; {os.cpu_count()} CPUs)")
    print(f"{'hasher':<26} {'check_password p50':>19} {'sign-in p50':>12} {'sign-in p95':>12}")
    for label, username, _ in CASES:
        h50, _ = percentiles(times["hash", username])
        s50, s95 = percentiles(times["sign-in", username])
        print(f"{label:<26} {h50 * 1e3:>17.1f}ms {s50 * 1e3:>10.1f}ms {s95 * 1e3:>10.1f}ms")
    pbkdf2_50 = percentiles(times["sign-in", "pbkdf2"])[0]
    argon2_50 = percentiles(times["sign-in", "argon2"])[0]
    md5_50 = percentiles(times["sign-in", "md5"])[0]
    print(f"Argon2 against PBKDF2 at p50: {(argon2_50 - pbkdf2_50) * 1e3:+.1f}ms "
          f"({(argon2_50 / pbkdf2_50 - 1) * 100:+.1f}%); the sign-in without the hash "
          f"(MD5 case): {md5_50 * 1e3:.1f}ms")


if __name__ == "__main__":
    main()
