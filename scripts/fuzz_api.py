"""Fuzz the REST API with schemathesis against a live server (issue 10, item 7).

The stage of ``make test`` that keeps what an attacker's probe found from coming back: a
fresh database with the demo data, a real server process, one API key per kind of caller
(a tenant administrator and a platform operator, every scope each holds), and schemathesis
reading the live OpenAPI document at ``/api/schema/``. It checks every operation for server
errors and for answers that the document does not describe, with a fixed seed and a bounded
number of examples per operation so that the stage takes a couple of minutes. Any failure
fails the run.

Some operations can take the fuzzer's own access away: revoking, narrowing or deleting its
key, deactivating or deleting its user, emptying its role, deactivating its tenant. Each of
them is fuzzed in a pass of its own, with a key of its own, after the pass over every other
operation, so that no operation is fuzzed with a key that an earlier case disabled.

Environment: ``FUZZ_DATABASE_URL`` (default: a temporary SQLite file), ``FUZZ_EXAMPLES``
(examples per operation, default 12), ``FUZZ_SEED`` (default 20261206), ``FUZZ_PORT``
(default: a free port), ``FUZZ_CALLERS`` (``tenant-admin``, ``operator`` or both, the
default). The server is gunicorn with threads, the production server.
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

CALLERS = (("tenant-admin", "acme"), ("operator", "platform"))
# The operator is fuzzed on what only operators may do; a tenant administrator's pass
# covers every other route (an operator reaches them through the same views).
OPERATOR_ROUTES = r"^/api/v1/(tenants|packages|menus)/"

# Operations that can disable the key that calls them (see the module docstring).
SELF_HARMING = (
    "api_keys_partial_update", "api_keys_destroy", "api_keys_revoke_create",
    "users_update", "users_partial_update", "users_destroy",
    "roles_update", "roles_partial_update", "roles_destroy",
    "tenants_update", "tenants_partial_update",
    "packages_update", "packages_partial_update",
)

# Issue KEYS_PER_CALLER keys per caller with every scope its user holds; print
# "label key" lines.
ISSUE_KEYS = """
import sys
import django
django.setup()
from accounts.services import api_keys
from accounts.models import User
from rbac.access import get_access
from core.context import tenant_context
from tenants.models import Tenant

for label, code in %(callers)r:
    tenant = Tenant.objects.get(code=code)
    with tenant_context(tenant):
        user = User.objects.get(username="admin")
        scopes = sorted(get_access(user).permissions)
        for index in range(%(count)d):
            _, plaintext = api_keys.issue_api_key(user=user, name=f"fuzz-{index}", scopes=scopes)
            print(label, plaintext)
""" % {"callers": CALLERS, "count": 1 + len(SELF_HARMING)}


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
        keys: dict[str, list[str]] = {}
        for line in run([PYTHON, "-c", ISSUE_KEYS], env).splitlines():
            label, key = line.split()
            keys.setdefault(label, []).append(key)
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
            only_callers = os.environ.get("FUZZ_CALLERS", "").split(",")
            for label, _code in CALLERS:
                if only_callers != [""] and label not in only_callers:
                    continue
                only = ["--include-path-regex", OPERATOR_ROUTES] if label == "operator" else []
                harming = [op for op in SELF_HARMING
                           if label != "operator" or op.startswith(("tenants_", "packages_"))]
                passes = [("every other operation",
                           [*only, *(arg for op in SELF_HARMING
                                     for arg in ("--exclude-operation-id", op))])]
                passes += [(op, ["--include-operation-id", op]) for op in harming]
                for (title, selection), key in zip(passes, keys[label]):
                    print(f"\n=== schemathesis as the {label}: {title} ({examples} examples "
                          f"per operation, seed {seed}) ===", flush=True)
                    completed = subprocess.run(
                        [str(BIN / "st"), "run", f"{base}/api/schema/",
                         "--url", base, *selection,
                         "--header", f"Authorization: Bearer {key}",
                         "--checks", "not_a_server_error,response_schema_conformance",
                         "--max-examples", examples, "--seed", seed,
                         "--phases", "examples,coverage,fuzzing",
                         "--workers", "2", "--request-timeout", "30",
                         "--suppress-health-check", "all",
                         "--warnings", "off",
                         "--report-dir", str(Path(tmp) / "reports"),
                         "--output-truncate", "true"],
                        cwd=tmp, env=env, check=False,
                    )
                    if completed.returncode != 0:
                        failed.append(f"{label} ({title})")
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        text = log.read_text()
        if failed or "Traceback" in text or "Internal Server Error" in text:
            print("\n=== server log (errors) ===", file=sys.stderr)
            print(text[-40000:], file=sys.stderr)
        if failed:
            print(f"fuzz: schemathesis found failures as {', '.join(failed)}", file=sys.stderr)
            return 1
        print("fuzz: no server error and every answer as documented")
        return 0


if __name__ == "__main__":
    sys.exit(main())
