"""Benchmark: the MCP gateway's cost over a direct API call, and its sustained throughput
(issue 5; issue 16, item 6).

Run with ``.venv/bin/python bench/mcp_gateway.py`` (part of ``make bench``); set
``DATABASE_URL`` for MariaDB or PostgreSQL. A throw-away database gets a tenant with
BENCH_MCP_USERS users (default 1,000), an ``api`` tool over ``GET /api/v1/users/`` and one
API key.

1. Latency, the seven cases below taking turns in the same run, through Django's test
   client (the whole middleware stack, no network):

   * baseline: ``GET /api/v1/users/?page_size=20`` with the key;
   * candidates: ``tools/call`` of the tool with ``{"page_size": 20}`` in each protocol
     generation (2025-11-25, 2026-07-28), the same key, the same endpoint run in-process:
     as served now (the call logged and counted by the writer after the answer,
     ``gateway.calllog``; the in-process chain ``gateway.dispatch.IN_PROCESS_MIDDLEWARE``;
     the handshake era served without the SDK's per-request transport and 2026-07-28 by
     the SDK's single-exchange entry, ``gateway.server.serve``); as served before that
     last step, through the SDK's session manager and its stateless transport
     (``gateway.server.serve_through_sdk_transport``); and as served before issue 16 (log
     row and counters written in the request, the in-process request through every
     middleware but three, the SDK's session manager).

   Goal (issue 16): the MCP path adds under 2.5 ms and under 20 % at p50.

2. Throughput: one gunicorn worker process (sync, one thread) on the same database, call
   log writer on, driven by BENCH_MCP_CLIENTS client threads: the direct GET and
   ``tools/call`` take turns, BENCH_MCP_SECONDS seconds each, twice; every answer is
   checked. Goal: the tools/call rate at least 80 % of the direct GET's. The worker is then
   stopped with SIGTERM and the log rows and counters are checked against the calls made
   (a clean shutdown loses none). SQLite's in-memory test database cannot be shared with
   another process, so this part runs on MariaDB and PostgreSQL.

3. Latency over HTTP, against the same gunicorn worker before it is stopped: one client,
   the direct GET and ``tools/call`` of both generations taking turns for BENCH_MCP_ROUNDS
   rounds (how issue 16 first measured the gateway), every answer checked.

With ``DATABASE_RLS=true`` and the everyday role (``postgres://atrium_app@...``) it measures
PostgreSQL with row-level security, as production runs it.
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

from harness import ROOT, percentiles, throwaway_database, timed_together  # noqa: I001 (sets Django up)

from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

USERS = int(os.environ.get("BENCH_MCP_USERS", "1000"))
ROUNDS = int(os.environ.get("BENCH_MCP_ROUNDS", "300"))
CLIENTS = int(os.environ.get("BENCH_MCP_CLIENTS", "4"))
SECONDS = float(os.environ.get("BENCH_MCP_SECONDS", "10"))
# Which parts to run: "latency", "throughput" or both (comma-separated).
PARTS = set(os.environ.get("BENCH_MCP_PARTS", "latency,throughput").split(","))
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


def previous_path():
    """Return a context that serves calls as before issue 16 (see the module docstring)."""
    from contextlib import contextmanager

    from django.conf import settings
    from django.core.handlers.base import BaseHandler

    from gateway import dispatch, server

    old = BaseHandler()
    with override_settings(MIDDLEWARE=[name for name in settings.MIDDLEWARE if name not in (
            "core.api.middleware.ApiErrorFormatMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware")]):
        old.load_middleware()
    new = dispatch.handler()
    serve = server.serve

    @contextmanager
    def served(before: bool, sdk_transport: bool = False):
        queue = settings.MCP_CALL_LOG_QUEUE
        dispatch._handler = old if before else new
        settings.MCP_CALL_LOG_QUEUE = 0 if before else queue
        if before or sdk_transport:
            server.serve = server.serve_through_sdk_transport
        try:
            yield
        finally:
            dispatch._handler = new
            settings.MCP_CALL_LOG_QUEUE = queue
            server.serve = serve

    return served


def latency(key: str) -> None:
    from core.context import all_tenants
    from gateway import calllog
    from gateway.models import McpTool

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    legacy = {"HTTP_ACCEPT": HEADERS["Accept"], "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25"}
    modern = {"HTTP_ACCEPT": HEADERS["Accept"], "HTTP_MCP_PROTOCOL_VERSION": "2026-07-28",
              "HTTP_MCP_METHOD": "tools/call", "HTTP_MCP_NAME": "users_list"}
    served = previous_path()

    def direct():
        # Decoded as an agent would, like the MCP answer below.
        response = client.get("/api/v1/users/?page_size=20")
        assert len(response.json()["results"]) == 20, response.content[:300]

    def through_mcp(headers, body, before=False, sdk_transport=False):
        def call():
            with served(before, sdk_transport):
                response = client.post("/mcp/", body, content_type="application/json",
                                       **headers)
            result = response.json()["result"]
            assert result["isError"] is False, result
        return call

    print(f"tools/call vs direct GET /api/v1/users/?page_size=20 on {connection.vendor}, "
          f"{USERS} users, same API key, {ROUNDS} rounds, the seven taking turns")
    print(f"{'case':<60} {'p50':>9} {'p95':>9} {'adds at p50':>12}")
    cases = [
        ("2025-11-25, before (log in the request, full chain)", legacy, call_body(), True,
         True),
        ("2026-07-28, before (log in the request, full chain)", modern,
         call_body(modern=True), True, True),
        ("2025-11-25, SDK transport (log after, short chain)", legacy, call_body(), False,
         True),
        ("2026-07-28, SDK transport (log after, short chain)", modern,
         call_body(modern=True), False, True),
        ("2025-11-25, now (log after the answer, short chain)", legacy, call_body(), False,
         False),
        ("2026-07-28, now (log after the answer, short chain)", modern,
         call_body(modern=True), False, False),
    ]
    base, *samples = timed_together(
        [direct, *(through_mcp(headers, body, before, transport)
                   for _, headers, body, before, transport in cases)],
        ROUNDS,
    )
    b50, b95 = percentiles(base)
    print(f"{'baseline: direct GET':<60} {b50 * 1e3:>7.2f}ms {b95 * 1e3:>7.2f}ms")
    for (label, *_rest), times in zip(cases, samples):
        c50, c95 = percentiles(times)
        print(f"{'tools/call ' + label:<60} {c50 * 1e3:>7.2f}ms {c95 * 1e3:>7.2f}ms "
              f"{(c50 - b50) * 1e3:>+9.2f}ms ({(c50 / b50 - 1) * 100:.0f}%)")
    calllog.flush()
    made = (ROUNDS + min(50, ROUNDS)) * len(cases)
    with all_tenants():  # the platform's own read (row-level security lets it through)
        tool = McpTool._base_manager.get(name="users_list")
    print(f"calls made {made}, counted {tool.call_count}")
    assert tool.call_count == made


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

    from core.context import all_tenants
    from gateway.models import McpTool, McpToolCallLog

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    with all_tenants():
        logged_before = McpToolCallLog.objects.count()
        counted_before = McpTool._base_manager.get(name="users_list").call_count
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "MCP_RATE_LIMITS": json.dumps(UNLIMITED),
           "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_ROUTE_FALLBACK": "true",
           "MCP_CALL_LOG_QUEUE": "10000"}
    env.pop("DATABASE_URL_POSTGRES_DB", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1", "--threads", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    root = f"http://127.0.0.1:{port}"
    headers = {**HEADERS, "Authorization": f"Bearer {key}"}
    sent = 0  # tools/call requests answered, whatever the answer

    def mcp_call(http, slot: int) -> bool:
        answer = http.post(f"{root}/mcp/", content=call_body(slot), headers=headers).json()
        return answer.get("result", {}).get("isError") is False

    def direct_get(http, slot: int) -> bool:
        response = http.get(f"{root}/api/v1/users/?page_size=20",
                            headers={"Authorization": f"Bearer {key}"})
        return response.status_code == 200 and len(response.json()["results"]) == 20

    def phase(request) -> tuple[float, int]:
        """Drive ``request`` from CLIENTS threads for SECONDS; return (rate, failures)."""
        counts = [0] * CLIENTS
        failures = [0] * CLIENTS
        stop = time.monotonic() + SECONDS

        def drive(slot: int) -> None:
            with httpx2.Client(timeout=30) as http:
                while time.monotonic() < stop:
                    if request(http, slot):
                        counts[slot] += 1
                    else:
                        failures[slot] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=drive, args=(slot,)) for slot in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts) / (time.monotonic() - started), sum(failures), sum(counts)

    rates: dict[str, list[float]] = {"direct": [], "mcp": []}
    failed = 0
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{root}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        with httpx2.Client(timeout=30) as http:  # warm-up
            for index in range(20):
                assert direct_get(http, index)
                assert mcp_call(http, index)
                sent += 1
        http_latency = timed_over_http(root, key)
        sent += 2 * (ROUNDS + min(50, ROUNDS))
        for _ in range(2):
            for name, request in (("direct", direct_get), ("mcp", mcp_call)):
                rate, failures, done = phase(request)
                rates[name].append(rate)
                failed += failures
                if name == "mcp":
                    sent += done + failures
    finally:
        server.terminate()  # SIGTERM: the worker exits cleanly and flushes its queue
        server.wait(30)
    with all_tenants():
        logged = McpToolCallLog.objects.count() - logged_before
        counted = McpTool._base_manager.get(name="users_list").call_count - counted_before
    direct, mcp = (sum(rates[name]) / len(rates[name]) for name in ("direct", "mcp"))
    print(f"throughput: one gunicorn worker (sync, 1 thread), {CLIENTS} clients, "
          f"2 x {SECONDS:.0f}s each, call log writer on")
    print(f"  direct GET: {direct:.0f}/s ({', '.join(f'{r:.0f}' for r in rates['direct'])}); "
          f"tools/call: {mcp:.0f}/s ({', '.join(f'{r:.0f}' for r in rates['mcp'])}); "
          f"ratio {mcp / direct * 100:.0f}%; {failed} failed")
    print(f"  after SIGTERM: {sent} tools/call answered, {logged} logged, {counted} counted")
    print(f"latency over HTTP: the same worker, one client, {ROUNDS} rounds, the three taking "
          f"turns")
    base = http_latency[0][1][0]
    for index, (label, (p50, p95)) in enumerate(http_latency):
        adds = f" {(p50 - base) * 1e3:>+9.2f}ms ({(p50 / base - 1) * 100:.0f}%)" if index else ""
        print(f"  {label:<28} {p50 * 1e3:>7.2f}ms {p95 * 1e3:>7.2f}ms{adds}")


def timed_over_http(root: str, key: str) -> list[tuple[str, tuple[float, float]]]:
    """Return (label, (p50, p95)) of the direct GET and ``tools/call`` of both protocol
    generations over HTTP from one client, taking turns (the issue's own measurement)."""
    import httpx2

    auth = {"Authorization": f"Bearer {key}"}
    legacy = {**HEADERS, **auth}
    modern = {**HEADERS, **auth, "MCP-Protocol-Version": "2026-07-28",
              "MCP-Method": "tools/call", "MCP-Name": "users_list"}
    with httpx2.Client(timeout=30) as http:
        def direct():
            response = http.get(f"{root}/api/v1/users/?page_size=20", headers=auth)
            assert len(response.json()["results"]) == 20, response.text[:300]

        def through_mcp(headers, body):
            def call():
                answer = http.post(f"{root}/mcp/", content=body, headers=headers).json()
                assert answer["result"]["isError"] is False, answer
            return call

        samples = timed_together(
            [direct, through_mcp(legacy, call_body()), through_mcp(modern, call_body(modern=True))],
            ROUNDS,
        )
    labels = ("direct GET", "tools/call 2025-11-25", "tools/call 2026-07-28")
    return [(label, percentiles(times)) for label, times in zip(labels, samples)]


def main() -> None:
    from gateway import calllog

    with throwaway_database():
        try:
            key = seed()
            if "latency" in PARTS:
                with override_settings(MCP_RATE_LIMITS=UNLIMITED, MCP_CALL_LOG_QUEUE=10_000):
                    latency(key)
            if "throughput" in PARTS:
                throughput(key)
        finally:
            # The writer's thread holds a connection to the throw-away database.
            calllog.stop()


if __name__ == "__main__":
    main()
