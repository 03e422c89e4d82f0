"""Benchmark: the MCP gateway's cost over a direct API call, and its sustained throughput (issue 5).

Run with ``.venv/bin/python bench/mcp_gateway.py`` (part of ``make bench``); set
``DATABASE_URL`` for MariaDB or PostgreSQL. A throw-away database gets a tenant with
BENCH_MCP_USERS users (default 1,000), an ``api`` tool over ``GET /api/v1/users/`` and one
API key.

1. Latency, the three cases below taking turns in the same run, through Django's test
   client (the whole middleware stack, no network):

   * baseline: ``GET /api/v1/users/?page_size=20`` with the key;
   * candidates: ``tools/call`` of the tool with ``{"page_size": 20}`` in each protocol
     generation (2025-11-25, 2026-07-28), the same key, the same endpoint run in-process,
     with the call logged and counted.

   Goal: the MCP path adds under 5 ms at p50.

2. Throughput: one gunicorn worker process (sync, one thread) on the same database,
   driven by BENCH_MCP_CLIENTS client threads for BENCH_MCP_SECONDS seconds of
   ``tools/call``, logging on; every answer is checked. SQLite's in-memory test database
   cannot be shared with another process, so this part runs on MariaDB and PostgreSQL.
"""

from __future__ import annotations

# isort: skip_file  (harness must be imported first: it sets Django up)

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

from harness import ROOT, percentiles, throwaway_database, timed_together  # noqa: I001 (sets Django up)

from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

USERS = int(os.environ.get("BENCH_MCP_USERS", "1000"))
ROUNDS = int(os.environ.get("BENCH_MCP_ROUNDS", "300"))
CLIENTS = int(os.environ.get("BENCH_MCP_CLIENTS", "4"))
SECONDS = float(os.environ.get("BENCH_MCP_SECONDS", "10"))
UNLIMITED = {"default": {"tenant": None, "key": None}}
HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25",
           "Content-Type": "application/json"}


def seed() -> str:
    """Create the tenant, users, tool and key; return the key."""
    from django.contrib.auth.hashers import make_password

    from accounts.services.api_keys import issue_api_key
    from accounts.models import User
    from core.context import tenant_context
    from gateway.models import McpTool
    from rbac.models import ApiEndpoint
    from rbac.catalogue import tenant_grantable_codes
    from rbac.models import Permission
    from rbac.services import assign_roles, ensure_admin_role
    from tenants.models import Tenant, TenantPackage

    package = TenantPackage.objects.create(code="bench", name="Bench")
    package.permissions.set(Permission.objects.filter(code__in=tenant_grantable_codes()))
    tenant = Tenant.objects.create(code="bench", name="Bench", package=package, plan="enterprise")
    password = make_password("bench-password")
    endpoint = ApiEndpoint.objects.get(path="/api/v1/users/", method="GET")
    with tenant_context(tenant):
        User.objects.bulk_create(
            [User(tenant=tenant, username=f"user{n:05d}", password=password) for n in range(USERS)],
            batch_size=1000,
        )
        caller = User.objects.create(tenant=tenant, username="agent-owner", password=password)
        assign_roles(user=caller, roles=[ensure_admin_role(tenant)])
        McpTool.objects.create(
            tenant=tenant, name="users_list", tool_type="api", endpoint=endpoint,
            api_path=endpoint.path, api_method="GET", permission_code=endpoint.permission_code,
            input_schema={"type": "object", "properties": {
                "page_size": {"type": "integer", "minimum": 1, "maximum": 100}},
                "additionalProperties": False},
            annotations={"readOnlyHint": True},
        )
    _, key = issue_api_key(user=caller, name="bench", scopes=["user:view"])
    return key


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}


def call_body(index: int = 1, modern: bool = False) -> str:
    params = {"name": "users_list", "arguments": {"page_size": 20}}
    if modern:
        params["_meta"] = MODERN_META
    return json.dumps({"jsonrpc": "2.0", "id": index, "method": "tools/call", "params": params})


def latency(key: str) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    legacy = {"HTTP_ACCEPT": HEADERS["Accept"], "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25"}
    modern = {"HTTP_ACCEPT": HEADERS["Accept"], "HTTP_MCP_PROTOCOL_VERSION": "2026-07-28",
              "HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "users_list"}

    def direct():
        # Decoded as an agent would, like the MCP answer below.
        response = client.get("/api/v1/users/?page_size=20")
        assert len(response.json()["results"]) == 20, response.content[:300]

    def through_mcp(headers, body):
        def call():
            response = client.post("/mcp/", body, content_type="application/json", **headers)
            result = response.json()["result"]
            assert result["isError"] is False, result
        return call

    print(f"tools/call vs direct GET /api/v1/users/?page_size=20 on {connection.vendor}, "
          f"{USERS} users, same API key, {ROUNDS} rounds, the three taking turns")
    print(f"{'case':<52} {'p50':>9} {'p95':>9} {'adds at p50':>12}")
    base, legacy_samples, modern_samples = timed_together(
        [direct, through_mcp(legacy, call_body()), through_mcp(modern, call_body(modern=True))],
        ROUNDS,
    )
    b50, b95 = percentiles(base)
    print(f"{'baseline: direct GET':<52} {b50 * 1e3:>7.2f}ms {b95 * 1e3:>7.2f}ms")
    for label, samples in (("2025-11-25", legacy_samples), ("2026-07-28", modern_samples)):
        c50, c95 = percentiles(samples)
        print(f"{'candidate: tools/call ' + label + ' (logged, counted)':<52} "
              f"{c50 * 1e3:>7.2f}ms {c95 * 1e3:>7.2f}ms "
              f"{(c50 - b50) * 1e3:>+9.2f}ms ({(c50 / b50 - 1) * 100:.0f}%)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """Return the URL of the throw-away database, for the gunicorn process."""
    settings = connection.settings_dict
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[connection.vendor]
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"{scheme}://{auth}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def throughput(key: str) -> None:
    if connection.vendor == "sqlite":
        print("throughput: skipped on SQLite (the in-memory test database is not shared "
              "with a server process)")
        return
    import httpx2

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "MCP_RATE_LIMITS": json.dumps(UNLIMITED),
           "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_ROUTE_FALLBACK": "true"}
    env.pop("DATABASE_URL_POSTGRES_DB", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1", "--threads", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}/mcp/"
    headers = {**HEADERS, "Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        with httpx2.Client(timeout=30) as http:  # warm-up
            for index in range(20):
                assert http.post(url, content=call_body(index), headers=headers).json()[
                    "result"]["isError"] is False
        counts = [0] * CLIENTS
        failures = [0] * CLIENTS
        stop = time.monotonic() + SECONDS

        def drive(slot: int) -> None:
            with httpx2.Client(timeout=30) as http:
                while time.monotonic() < stop:
                    answer = http.post(url, content=call_body(slot), headers=headers).json()
                    if answer.get("result", {}).get("isError") is False:
                        counts[slot] += 1
                    else:
                        failures[slot] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=drive, args=(slot,)) for slot in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(10)
    from core.context import all_tenants
    from gateway.models import McpToolCallLog

    with all_tenants():
        logged = McpToolCallLog.objects.count()
    print(f"throughput: one gunicorn worker (sync, 1 thread), {CLIENTS} clients, {elapsed:.1f}s: "
          f"{sum(counts) / elapsed:.0f} calls/s sustained, {sum(failures)} failed, "
          f"{logged} calls logged in all")


def main() -> None:
    with throwaway_database():
        key = seed()
        with override_settings(MCP_RATE_LIMITS=UNLIMITED):
            latency(key)
        throughput(key)


if __name__ == "__main__":
    main()
