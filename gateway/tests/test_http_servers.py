"""``/mcp/`` behind the platform's real HTTP servers: gunicorn (WSGI, what production runs)
and uvicorn (ASGI, ``config.asgi``), for what only a real server shows: bodies sent with
``Transfer-Encoding: chunked`` and refusals answered before the view (issue 16, items 4
and 5).

The servers run as processes of their own on the test database, so this needs MariaDB or
PostgreSQL (SQLite's test database lives in the memory of the pytest process).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from conftest import test_database_url
from gateway.tests.factories import key_of

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30  # seconds
PING = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()

pytestmark = [
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite's test database is in the memory of the pytest process: a server "
               "process cannot share it (run with DATABASE_URL on MariaDB or PostgreSQL)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(server: str, port: int) -> list[str]:
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """Yield ``(name, port)`` of a running server on the test database."""
    with django_db_blocker.unblock():
        url = test_database_url()
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DATABASE_URL_")} | {
        "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url,
        "DATABASE_ROUTE_FALLBACK": "true", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    with log.open("wb") as output:
        process = subprocess.Popen(command(request.param, port), cwd=BASE_DIR, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{request.param} did not start:\n{log.read_text()}")
            time.sleep(0.1)
    yield request.param, port
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def post(port: int, key: str, body, *, chunked: bool = False,
         content_type: str = "application/json") -> tuple[int, str, dict | None]:
    """POST ``body`` (bytes, or an iterable of chunks when ``chunked``) to /mcp/."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type,
               "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        conn.request("POST", "/mcp/", body=iter(body), headers=headers, encode_chunked=True)
    else:
        conn.request("POST", "/mcp/", body=body, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    kind = response.getheader("Content-Type", "")
    return response.status, kind, json.loads(raw) if kind.startswith("application/json") \
        else None


def test_a_chunked_body_is_read(server, admin_a):
    _name, port = server
    status, _kind, answer = post(port, key_of(admin_a), [PING[:10], PING[10:]], chunked=True)
    assert (status, answer) == (200, {"jsonrpc": "2.0", "id": 1, "result": {}})


def test_a_chunked_body_over_the_cap_is_the_views_413(server, admin_a):
    _name, port = server
    chunk = b" " * (64 * 1024)
    chunks = [b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "']
    chunks += [chunk] * (2 * 1024 * 1024 // len(chunk)) + [b'"}}']
    status, kind, answer = post(port, key_of(admin_a), chunks, chunked=True)
    assert status == 413 and kind.startswith("application/json"), (status, kind)
    assert answer["error"]["code"] == -32600
    assert 2 * 1024 * 1024 > settings.MCP_MAX_REQUEST_BYTES


def test_a_declared_body_over_the_cap_is_413(server, admin_a):
    _name, port = server
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b" " * (
        settings.MCP_MAX_REQUEST_BYTES) + b'"}'
    status, _kind, answer = post(port, key_of(admin_a), body)
    assert status == 413 and answer["error"]["code"] == -32600


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp"])
def test_a_body_that_is_not_json_is_415_in_json_rpc(server, admin_a, content_type):
    _name, port = server
    status, kind, answer = post(port, key_of(admin_a), PING, content_type=content_type)
    assert status == 415 and kind.startswith("application/json"), (status, kind)
    assert answer["error"]["code"] == -32600 and "application/json" in answer["error"]["message"]


def test_json_with_a_charset_is_json(server, admin_a):
    _name, port = server
    status, _kind, answer = post(port, key_of(admin_a), PING,
                                 content_type="application/json; charset=utf-8")
    assert (status, answer["result"]) == (200, {})
