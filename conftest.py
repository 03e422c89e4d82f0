"""Shared fixtures: two tenants with their administrators and users, and a platform operator."""

from __future__ import annotations

import os
import socket

import pytest
from accounts.models import Department, Position, User
from rbac.catalogue import tenant_grantable_codes
from rbac.models import Menu, Permission
from rbac.services import assign_roles, ensure_admin_role
from core.context import tenant_context
from tenants.models import Tenant, TenantPackage

PASSWORD = "Correct-horse-9"


def skip_or_fail(message: str) -> None:
    """Skip the test for what is missing locally, or fail it where ``ATRIUM_REQUIRE_SERVICES``
    is set (CI): there a skipped test would pass for a test never run."""
    if os.environ.get("ATRIUM_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


def require_service(host: str, port: int, name: str) -> None:
    """Skip when a local server is not listening, or fail when CI requires it."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} at {host}:{port} does not answer: {exc}"
        skip_or_fail(message)


def test_database_url() -> str:
    """Return the URL of the test database (MariaDB or PostgreSQL), for the server and
    worker processes a test starts."""
    from django.db import connection

    db = connection.settings_dict
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[connection.vendor]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"{scheme}://{auth}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def require_tool(path, name: str):
    """Return ``path`` (a tool ``make test`` installs), or skip when it is missing, or fail
    when CI requires it."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        message = f"{name} is not installed ({path}); make test installs it"
        skip_or_fail(message)
    return path


def pytest_runtest_setup(item) -> None:
    """Tests marked ``sandbox`` run user code behind bubblewrap: without it they are
    skipped here, and fail under ATRIUM_REQUIRE_SERVICES (CI installs it)."""
    if item.get_closest_marker("sandbox") is None:
        return
    from core import sandbox

    state = sandbox.state()
    if state["mode"] != "bubblewrap":
        message = f"the sandbox of user code is {state['mode']}: {state.get('reason', '')}"
        skip_or_fail(message)


def make_user(tenant: Tenant, username: str, **fields) -> User:
    """Create a user of ``tenant`` with the shared test password."""
    with tenant_context(tenant):
        return User.objects.create_user(username, PASSWORD, tenant=tenant, **fields)


def full_package() -> TenantPackage:
    """Return a package granting every code a tenant may hold, and every menu."""
    package, created = TenantPackage.objects.get_or_create(code="full", defaults={"name": "Full"})
    if created:
        package.permissions.set(Permission.objects.filter(code__in=tenant_grantable_codes()))
        package.menus.set(Menu.objects.all())
    return package


def make_tenant_admin(tenant: Tenant, username: str = "admin") -> User:
    """Create a staff user holding the tenant's administrator role (all of its package)."""
    user = make_user(tenant, username, is_staff=True)
    assign_roles(user=user, roles=[ensure_admin_role(tenant)])
    return user


@pytest.fixture(scope="session", autouse=True)
def test_code_outside_scopes_runs_as_platform():
    """With ``DATABASE_RLS`` on: the tests' own code outside every scope and request (set
    up, inspect) reads and writes as the platform; what the platform does inside its
    requests, tasks and scopes stays under the database's policies (core.rls). The tests
    of row-level security itself turn this off (``core.rls.unscoped_code_as_platform``)."""
    from core import rls

    with rls.unscoped_code_as_platform(rls.enabled()):
        yield


@pytest.fixture
def platform(db) -> Tenant:
    return Tenant.objects.get(is_platform=True)


@pytest.fixture(autouse=True)
def fresh_caches():
    """Start every test with empty caches and rate-limit buckets.

    A test's database changes are rolled back, but what it cached (permission decisions,
    endpoint rules, the MCP tool catalogue) would outlive it and mislead the next test.
    """
    from django.core.cache import cache

    from gateway import limits
    from rbac.enforcement import CACHE_KEY

    cache.clear()
    limits.reset()
    yield
    # A test's registry rows are rolled back without signals: drop the rules cached from
    # them, or they would switch routes off for the tests that follow.
    cache.delete(CACHE_KEY)


@pytest.fixture(autouse=True)
def default_language():
    """End every test in the platform's language: a request activates its user's language in
    the test's thread, and nothing there would deactivate it before the next test."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def operator_api(operator):
    """A client of its own signed in as a platform operator (beside ``client_a``)."""
    from django.test import Client

    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.create(code="alpha", name="Alpha Ltd", package=full_package())


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.create(code="beta", name="Beta Ltd", package=full_package())


@pytest.fixture
def admin_a(tenant_a) -> User:
    return make_tenant_admin(tenant_a)


@pytest.fixture
def admin_b(tenant_b) -> User:
    return make_tenant_admin(tenant_b)


@pytest.fixture
def operator(platform) -> User:
    with tenant_context(platform):
        return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def client_a(client, admin_a):
    """A test client signed in as tenant A's administrator."""
    client.force_login(admin_a)
    return client


@pytest.fixture
def operator_client(client, operator):
    """A test client signed in as a platform operator."""
    client.force_login(operator)
    return client


@pytest.fixture
def org_a(tenant_a):
    """A department tree, a position and a user in tenant A."""
    with tenant_context(tenant_a):
        root = Department.objects.create(code="hq", name="Alpha HQ")
        child = Department.objects.create(code="eng", name="Alpha Engineering", parent=root)
        position = Position.objects.create(code="dev", name="Alpha Developer")
    user = make_user(tenant_a, "alice", department=child, position=position)
    return {"root": root, "child": child, "position": position, "user": user}


@pytest.fixture
def org_b(tenant_b):
    """The same codes and usernames as ``org_a``, in tenant B."""
    with tenant_context(tenant_b):
        root = Department.objects.create(code="hq", name="Beta HQ")
        child = Department.objects.create(code="eng", name="Beta Engineering", parent=root)
        position = Position.objects.create(code="dev", name="Beta Developer")
    user = make_user(tenant_b, "alice", department=child, position=position)
    return {"root": root, "child": child, "position": position, "user": user}


@pytest.fixture(scope="session")
def target():
    """A real HTTP server on loopback for the test engine (``testing.tests.http_target``)."""
    from testing.tests.http_target import Target

    server = Target()
    yield server
    server.close()


@pytest.fixture(scope="session")
def httpbin():
    """httpbin from PyPI on loopback (its own virtualenv, ``make test`` builds it): the real
    target the corpus's httpbin testcases were written against. Yields its base URL."""
    import subprocess
    import time
    import urllib.request
    from pathlib import Path

    gunicorn = Path(__file__).resolve().parent / ".venv-httpbin" / "bin" / "gunicorn"
    if not gunicorn.exists():
        message = f"httpbin is not installed ({gunicorn}); make test installs it"
        skip_or_fail(message)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(gunicorn), "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "httpbin:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/get", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"httpbin did not start on {url}")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def runs_in_process(settings):
    """Test runs' Celery tasks run in this process; loopback is reachable; the heartbeat
    thread stays idle; every step is stored as it ends."""
    from config.celery import app

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.TESTING_HEARTBEAT_SECONDS = 600
    settings.TESTING_RESULT_FLUSH_SECONDS = 0
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager
