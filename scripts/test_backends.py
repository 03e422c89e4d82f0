"""Run the whole test suite once per database backend and report which ones ran.

TEST_BACKENDS is a comma-separated list of sqlite, mysql and postgres. Unset, it is sqlite
plus every local server that answers. A backend named explicitly whose server does not
answer is a failure, never a skip. When PostgreSQL answers, every run also gets it as the
routed ``postgres_db`` datasource, so the placement tests run beside each primary backend.

PostgreSQL runs with row-level security on (``DATABASE_RLS=true``, core/rls): the suite
signs in as the everyday role ``atrium_app`` (not a superuser, not the tables' owner) on
databases of its own (the names plus ``_rls``), after the two roles are created on the
server as the README says. ``TEST_POSTGRES_RLS=0`` runs it as the server's superuser with
row-level security off instead.

Server addresses: TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/atrium) and
TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/atrium); the routed
datasource uses TEST_POSTGRES_ROUTED_URL (default .../atrium_routed).

Before each backend's tests, its migrations are proved on scratch databases (the same names
plus ``_mig``; a temporary file for SQLite), issue 4 item 7: ``migrate`` on every alias,
``check_schema``, every app migrated back to zero (nothing may be left but
``django_migrations``), ``migrate`` again and ``check_schema`` again.
``makemigrations --check`` runs once. Any step that fails fails the run.

Before anything else the import contracts of ``.importlinter`` are checked (``lint-imports``:
the apps' layers and the independence of the feature apps); a broken contract fails the run.

After the backends, the API is fuzzed (``scripts/fuzz_api.py``: schemathesis against a
live server and the live OpenAPI document) on MariaDB, the primary backend, when it is
among the backends, else on SQLite. ``FUZZ_API=0`` leaves the stage out (for a quick local
run); CI always runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.rls import roles_sql  # noqa: E402  (plain SQL text; Django is not set up here)

PYTHON = sys.executable

MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/atrium")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/atrium")
POSTGRES_ROUTED_URL = os.environ.get(
    "TEST_POSTGRES_ROUTED_URL", "postgres://postgres@127.0.0.1:5432/atrium_routed"
)
KNOWN = ("sqlite", "mysql", "postgres")
POSTGRES_RLS = os.environ.get("TEST_POSTGRES_RLS", "1") != "0"
RLS_APP_ROLE = "atrium_app"
RLS_OWNER_ROLE = "atrium_owner"


def mysql_answers(url: str) -> str | None:
    """Return None when the MySQL/MariaDB server answers, else the error."""
    try:
        import MySQLdb

        parts = urlparse(url)
        MySQLdb.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            connect_timeout=3,
        ).close()
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


def postgres_answers(url: str) -> str | None:
    """Return None when the PostgreSQL server answers, else the error."""
    try:
        import psycopg

        parts = urlparse(url)
        psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


def choose_backends() -> tuple[list[str], bool]:
    """Return the backends to run and whether they were named explicitly."""
    named = os.environ.get("TEST_BACKENDS", "").strip()
    if named:
        backends = [b.strip() for b in named.split(",") if b.strip()]
        unknown = [b for b in backends if b not in KNOWN]
        if unknown:
            sys.exit(f"TEST_BACKENDS names unknown backends {unknown}; known: {', '.join(KNOWN)}")
        return backends, True
    backends = ["sqlite"]
    if mysql_answers(MYSQL_URL) is None:
        backends.append("mysql")
    if postgres_answers(POSTGRES_URL) is None:
        backends.append("postgres")
    return backends, False


# Run in one Django process: every migrated app of every alias back to zero. ``migrate X
# zero`` also unapplies the other apps' migrations that depend on X, so the order is free.
UNMIGRATE = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
for alias in connections:
    connection = connections[alias]
    for app in sorted(MigrationLoader(connection).migrated_apps):
        call_command("migrate", app, "zero", database=alias, interactive=False, verbosity=0)
    applied = sorted(MigrationRecorder(connection).applied_migrations())
    with connection.cursor() as cursor:
        left = set(connection.introspection.table_names(cursor)) - {"django_migrations"}
    if applied or left:
        sys.exit(f"{alias}: still applied {applied}, tables left {sorted(left)}")
    print(f"{alias}: every migration unapplied, no table left")
"""


def create_rls_roles(url: str) -> None:
    """Create the roles of row-level security on the server of ``url`` (as its superuser)."""
    import psycopg

    parts = urlparse(url)
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
        user=parts.username or "postgres", password=parts.password or None,
        dbname="postgres", autocommit=True,
    ) as connection:
        connection.execute(roles_sql(RLS_OWNER_ROLE, RLS_APP_ROLE, may_create_databases=True))


def rls_url(url: str) -> str:
    """Return ``url`` signing in as the everyday role, on a database of its own."""
    parts = urlparse(url)
    name = parts.path.lstrip("/") + "_rls"
    host = parts.hostname or "127.0.0.1"
    return parts._replace(netloc=f"{RLS_APP_ROLE}@{host}:{parts.port or 5432}",
                          path=f"/{name}").geturl()


def with_database(url: str, name: str) -> str:
    """Return ``url`` naming the database ``name`` instead."""
    return urlparse(url)._replace(path=f"/{name}").geturl()


def scratch_database(backend: str, url: str, *, create: bool) -> None:
    """Create (or, with ``create=False``, drop) the database that ``url`` names."""
    parts = urlparse(url)
    name = parts.path.lstrip("/")
    if backend == "mysql":
        import MySQLdb

        connection = MySQLdb.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
        )
        try:
            cursor = connection.cursor()
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            if create:
                cursor.execute(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
        finally:
            connection.close()
    else:
        import psycopg

        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            if create:
                connection.execute(f'CREATE DATABASE "{name}"')


def check_migrations(backend: str, env: dict[str, str], tmp: str, *, makemigrations: bool) -> bool:
    """Prove the migrations and the schema of ``backend`` on scratch databases; return success."""
    env = dict(env)
    # The settings pytest uses, so the routed test table is migrated and checked too.
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    scratch: list[tuple[str, str]] = []  # (backend, url) of the server databases to drop
    if backend == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'migrations.sqlite3'}"
    else:
        url = env["DATABASE_URL"]
        env["DATABASE_URL"] = with_database(url, urlparse(url).path.lstrip("/") + "_mig")
        scratch.append((backend, env["DATABASE_URL"]))
    aliases = ["default"]
    if "DATABASE_URL_POSTGRES_DB" in env:
        routed = env["DATABASE_URL_POSTGRES_DB"]
        env["DATABASE_URL_POSTGRES_DB"] = with_database(
            routed, urlparse(routed).path.lstrip("/") + "_mig"
        )
        scratch.append(("postgres", env["DATABASE_URL_POSTGRES_DB"]))
        aliases.append("postgres_db")

    manage = [PYTHON, "manage.py"]
    migrate = [[*manage, "migrate", "--noinput", "--database", alias] for alias in aliases]
    steps: list[tuple[str, list[str]]] = [
        *((f"migrate --database {alias}", cmd) for alias, cmd in zip(aliases, migrate)),
        ("check_schema", [*manage, "check_schema"]),
    ]
    if makemigrations:
        steps.append(
            ("makemigrations --check", [*manage, "makemigrations", "--check", "--dry-run"])
        )
    steps += [
        ("migrate every app to zero", [PYTHON, "-c", UNMIGRATE]),
        *((f"migrate --database {alias} (again)", cmd) for alias, cmd in zip(aliases, migrate)),
        ("check_schema (again)", [*manage, "check_schema"]),
    ]
    try:
        for backend_, url in scratch:
            try:
                scratch_database(backend_, url, create=True)
            except Exception as exc:  # noqa: BLE001
                print(f"  {backend}: creating the scratch database {url}: FAILED ({exc})")
                return False
        for label, command in steps:
            completed = subprocess.run(
                command, cwd=ROOT, env=env, check=False, capture_output=True, text=True
            )
            if completed.returncode != 0:
                print(f"  {backend}: {label}: FAILED (exit {completed.returncode})")
                print(completed.stdout + completed.stderr, file=sys.stderr)
                return False
            print(f"  {backend}: {label}: ok", flush=True)
    finally:
        for backend_, url in scratch:
            scratch_database(backend_, url, create=False)
    return True


def summarise(junit: Path) -> dict[str, int]:
    """Return the counts of a pytest JUnit XML report."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not junit.exists():
        return counts
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    return counts


def fuzz_api(backends: list[str]) -> bool:
    """Run the API fuzzing stage on MariaDB (if tested) or SQLite; return success."""
    env = dict(os.environ)
    scratch = None
    if "mysql" in backends:
        scratch = with_database(MYSQL_URL, urlparse(MYSQL_URL).path.lstrip("/") + "_fuzz")
        scratch_database("mysql", scratch, create=True)
        env["FUZZ_DATABASE_URL"] = scratch
    print(f"\n=== API fuzzing ({'MariaDB' if scratch else 'SQLite'}) ===", flush=True)
    try:
        completed = subprocess.run([PYTHON, "scripts/fuzz_api.py"], cwd=ROOT, env=env,
                                   check=False)
    finally:
        if scratch:
            scratch_database("mysql", scratch, create=False)
    return completed.returncode == 0


def main() -> int:
    backends, explicit = choose_backends()
    for backend, probe, url in (
        ("mysql", mysql_answers, MYSQL_URL),
        ("postgres", postgres_answers, POSTGRES_URL),
    ):
        if backend in backends:
            error = probe(url)
            if error is not None:
                print(f"Backend {backend} was asked for but its server does not answer "
                      f"({url}): {error}", file=sys.stderr)
                return 2

    routed_pg = postgres_answers(POSTGRES_URL) is None
    if not routed_pg and os.environ.get("ATRIUM_REQUIRE_SERVICES"):
        print("PostgreSQL must answer to test the routed datasource.", file=sys.stderr)
        return 2
    if "postgres" in backends and POSTGRES_RLS:
        try:
            create_rls_roles(POSTGRES_URL)
        except Exception as exc:  # noqa: BLE001
            print(f"Could not create the roles of row-level security: {exc}", file=sys.stderr)
            return 2

    print("=== import contracts ===", flush=True)
    contracts = subprocess.run([str(Path(PYTHON).parent / "lint-imports"), "--no-cache"],
                               cwd=ROOT, check=False, capture_output=True, text=True)
    print(contracts.stdout[contracts.stdout.find("Contracts"):] if contracts.returncode == 0
          else contracts.stdout + contracts.stderr)
    if contracts.returncode != 0:
        print("The import contracts are broken: see above.", file=sys.stderr)
        return 1

    print(f"Test backends: {', '.join(backends)}"
          f"{'' if explicit else ' (chosen by which local servers answer)'}; routed "
          f"postgres_db: {'on PostgreSQL' if routed_pg else 'not configured (placement tests skip)'}")
    results: dict[str, tuple[int, dict[str, int]]] = {}
    migrations_ok: dict[str, bool] = {}
    extra_args = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            env = dict(os.environ)
            env.pop("DATABASE_URL", None)
            if backend == "mysql":
                env["DATABASE_URL"] = MYSQL_URL
            elif backend == "postgres":
                env["DATABASE_URL"] = POSTGRES_URL
            if routed_pg:
                env["DATABASE_URL_POSTGRES_DB"] = POSTGRES_ROUTED_URL
            if backend == "postgres" and POSTGRES_RLS:
                env["DATABASE_RLS"] = "true"
                env["DATABASE_URL"] = rls_url(POSTGRES_URL)
                env["DATABASE_URL_POSTGRES_DB"] = rls_url(POSTGRES_ROUTED_URL)
                print("PostgreSQL: row-level security on, signed in as "
                      f"{RLS_APP_ROLE} (TEST_POSTGRES_RLS=0 turns it off)", flush=True)
            else:
                env.pop("DATABASE_RLS", None)
            env["ATRIUM_TEST_BACKEND"] = backend
            junit = Path(tmp) / f"{backend}.xml"
            print(f"\n=== {backend} ===", flush=True)
            migrations_ok[backend] = check_migrations(
                backend, env, tmp, makemigrations=not migrations_ok
            )
            completed = subprocess.run(
                [PYTHON, "-m", "pytest", f"--junitxml={junit}", *extra_args],
                cwd=ROOT,
                env=env,
                check=False,
            )
            results[backend] = (completed.returncode, summarise(junit))

    fuzz_ok: bool | None = None
    if os.environ.get("FUZZ_API", "1") != "0":
        fuzz_ok = fuzz_api(backends)

    print("\n=== summary ===")
    failed_backends = []
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for backend, (code, counts) in results.items():
        failed = counts["failures"] + counts["errors"]
        passed = counts["tests"] - failed - counts["skipped"]
        totals["passed"] += passed
        totals["failed"] += failed
        totals["skipped"] += counts["skipped"]
        ok = code == 0 and counts["tests"] > 0
        if not ok or not migrations_ok[backend]:
            failed_backends.append(backend)
        print(f"{backend:>9}: {passed} passed, {failed} failed, {counts['skipped']} skipped"
              f"{'' if ok else f'  (pytest exit {code})'}"
              f"{'' if migrations_ok[backend] else '  (migrations/schema check FAILED)'}")
    print(f"Backends tested: {', '.join(results)}")
    if fuzz_ok is None:
        print("API fuzzing: left out (FUZZ_API=0)")
    else:
        print(f"API fuzzing: {'no failure' if fuzz_ok else 'FAILED'}")
        if not fuzz_ok:
            failed_backends.append("fuzz")
    print(f"total: {totals['passed']} passed, {totals['failed']} failed, "
          f"{totals['skipped']} skipped")
    return 1 if failed_backends else 0


if __name__ == "__main__":
    sys.exit(main())
