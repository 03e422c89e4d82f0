"""Benchmark: what verifying an API key costs, against a plain dict lookup of its prefix.

Run with ``.venv/bin/python bench/api_key_verify.py``. The database is a throw-away test
database on whatever DATABASE_URL names (default: SQLite in memory), holding BENCH_KEYS
keys of one user (default 1,000) so that the prefix lookup runs against a real index.

Measured, p50/p95 in microseconds over BENCH_ROUNDS calls each (default 10,000), the
candidates alternating with the baseline so both see the same machine conditions:

1. Baseline: ``keys_by_prefix[prefix]``, a dict lookup of the same prefix in memory.
2. The hash alone: HMAC-SHA256 of the secret under the pepper plus ``compare_digest``;
   the issue asks for this to cost well under a millisecond (no password hasher).
3. For scale, the bare ORM query ``ApiKey.objects.all_tenants().filter(prefix=...)``
   (no joins): what any single-row lookup through the ORM costs on this database.
4. ``verify()``: parse, one SELECT by prefix (key, user and tenant joined), the hash,
   the refusal checks. ``last_used_at`` is written at most once a minute, so after the
   first call no UPDATE runs: this is the steady state of a busy key.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import hmac
import os

from harness import percentiles, throwaway_database, timed_pair  # noqa: I001 (sets Django up)

from django.db import connection  # noqa: E402

KEYS = int(os.environ.get("BENCH_KEYS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10000"))


def seed():
    """Create a tenant, a user and KEYS keys; return the plaintext of one in the middle."""
    from accounts.models import ApiKey, User
    from accounts.models.api_keys import hash_secret
    from core.context import tenant_context
    from tenants.models import Tenant

    tenant = Tenant.objects.create(code="bench", name="Bench")
    with tenant_context(tenant):
        user = User.objects.create(tenant=tenant, username="agent", password="!")
    plaintexts = []
    rows = []
    for n in range(KEYS):
        key = ApiKey(tenant=tenant, user=user, name=f"key{n:05d}", scopes=["user:view"])
        plaintext = key.assign_new_secret()
        plaintexts.append(plaintext)
        rows.append(key)
    ApiKey.objects.bulk_create(rows, batch_size=500)
    chosen = plaintexts[KEYS // 2]
    assert ApiKey.objects.all_tenants().get(prefix=chosen.split("_")[1]).key_hash == hash_secret(
        chosen.split("_", 2)[2]
    )
    return chosen, rows


def main() -> None:
    from accounts.services.api_keys import verify
    from accounts.models import ApiKey
    from accounts.models.api_keys import hash_secret, parse_key

    with throwaway_database():
        plaintext, rows = seed()
        prefix, secret = parse_key(plaintext)
        keys_by_prefix = {row.prefix: row for row in rows}
        stored_hash = keys_by_prefix[prefix].key_hash
        ip = "192.0.2.10"

        def baseline():
            keys_by_prefix[prefix]

        def hash_only():
            hmac.compare_digest(hash_secret(secret), stored_hash)

        def orm_lookup():
            list(ApiKey.objects.all_tenants().filter(prefix=prefix).order_by()[:1])

        def verify_key():
            verify(plaintext, ip)

        base_hash, hash_samples = timed_pair(baseline, hash_only, ROUNDS)
        base_orm, orm_samples = timed_pair(baseline, orm_lookup, ROUNDS)
        base_verify, verify_samples = timed_pair(baseline, verify_key, ROUNDS)
        rows_out = [
            ("dict lookup of the prefix (baseline)", base_hash + base_orm + base_verify),
            ("HMAC-SHA256 + compare_digest", hash_samples),
            ("ORM SELECT by prefix, no joins", orm_samples),
            ("verify(): SELECT + hash + checks", verify_samples),
        ]

        print(f"Atrium API key verification on {connection.vendor}, {KEYS} keys, "
              f"{ROUNDS} rounds each")
        print(f"{'case':<40} {'p50':>10} {'p95':>10}")
        for name, samples in rows_out:
            p50, p95 = percentiles(samples)
            print(f"{name:<40} {p50 * 1e6:>8.1f}µs {p95 * 1e6:>8.1f}µs")
        base50 = percentiles(rows_out[0][1])[0]
        verify50 = percentiles(verify_samples)[0]
        print(f"verify() over the baseline at p50: {(verify50 - base50) * 1e6:.1f}µs")


if __name__ == "__main__":
    main()
