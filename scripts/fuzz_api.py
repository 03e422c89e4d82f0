"""Fuzz the REST API with schemathesis against a live server (issue 10, item 7).

The stage of ``make test`` that keeps what an attacker's probe found from coming back: a
fresh database with the demo data, a real server process, one API key per kind of caller
(a tenant administrator and a platform operator, every scope each holds), and schemathesis
reading the live OpenAPI document at ``/api/schema/``. It checks every operation for server
errors and for answers that the document does not describe, with a fixed seed and a bounded
number of examples per operation so that the stage takes a couple of minutes. Any failure
fails the run.

Environment: ``FUZZ_DATABASE_URL`` (default: a temporary SQLite file), ``FUZZ_EXAMPLES``
(examples per operation, default 12), ``FUZZ_SEED`` (default 20261206), ``FUZZ_PORT``
(default: a free port). The server is gunicorn with threads, the production server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent

# Issue one key per caller with every scope its user holds; print "label key" lines.
ISSUE_KEYS = """
import django
django.setup()
from accounts import api_keys
from accounts.models import User
from rbac.access import get_access
from tenants.context import all_tenants, tenant_context
from tenants.models import Tenant

for label, code in (("tenant-admin", "acme"), ("operator", "platform")):
    tenant = Tenant.objects.get(code=code)
    with tenant_context(tenant):
        user = User.objects.get(username="admin")
        scopes = sorted(get_access(user).permissions)
        _, plaintext = api_keys.issue_api_key(user=user, name="fuzz", scopes=scopes)
    print(label, plaintext)
"""


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str], env: dict[str, str]) -> str:
    """Run a command in the checkout; return its output or exit with it."""
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        print(completed.stdout + completed.stderr, file=sys.stderr)
        sys.exit(f"fuzz: {' '.join(command[:3])} failed (exit {completed.returncode})")
    return completed.stdout


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    """Wait for ``url`` to answer, or exit when the server died or the time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"fuzz: the server exited with {server.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"fuzz: {url} did not answer within {seconds:.0f} s")


def main() -> int:
    examples = os.environ.get("FUZZ_EXAMPLES", "12")
    seed = os.environ.get("FUZZ_SEED", "20261206")
    port = int(os.environ.get("FUZZ_PORT") or free_port())
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "config.settings"
        env["DATABASE_URL"] = os.environ.get("FUZZ_DATABASE_URL") or f"sqlite:///{tmp}/fuzz.sqlite3"
        env.pop("DATABASE_URL_POSTGRES_DB", None)
        env["CELERY_BROKER_URL"] = f"filesystem://{tmp}/broker"
        env["LOG_LEVEL"] = "WARNING"
        # One database holds every table, as in the embedded default.
        env["DATABASE_ROUTE_FALLBACK"] = "true"
        run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
        run([PYTHON, "manage.py", "seed_demo"], env)
        keys = dict(line.split() for line in run([PYTHON, "-c", ISSUE_KEYS], env).splitlines())
        log = Path(tmp) / "server.log"
        with log.open("w") as server_log:
            server = subprocess.Popen(
                [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
                 "--workers", "2", "--threads", "4", "--timeout", "60"],
                cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        failed = []
        try:
            wait_until_up(f"{base}/healthz", server)
            for label, key in keys.items():
                print(f"\n=== schemathesis as the {label} ({examples} examples per operation, "
                      f"seed {seed}) ===", flush=True)
                completed = subprocess.run(
                    [str(BIN / "st"), "run", f"{base}/api/schema/",
                     "--url", base,
                     "--header", f"Authorization: Bearer {key}",
                     "--checks", "not_a_server_error,response_schema_conformance",
                     "--max-examples", examples, "--seed", seed,
                     "--phases", "examples,coverage,fuzzing",
                     "--workers", "2", "--request-timeout", "30",
                     "--suppress-health-check", "all",
                     "--output-truncate", "true"],
                    cwd=ROOT, env=env, check=False,
                )
                if completed.returncode != 0:
                    failed.append(label)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        errors = [line for line in log.read_text().splitlines() if "Traceback" in line]
        if errors or failed:
            print(log.read_text()[-20000:], file=sys.stderr)
        if failed:
            print(f"fuzz: schemathesis found failures as {', '.join(failed)}", file=sys.stderr)
            return 1
        print("fuzz: no server error and every answer as documented")
        return 0


if __name__ == "__main__":
    sys.exit(main())
