"""The backup procedure of docs/operations/backup.md, rehearsed (issue 19 item 6).

The migrated test database is dumped with the database's own tool (``mariadb-dump`` or
``pg_dump``), restored into a new database with ``mariadb``/``pg_restore``, and the
restored copy is checked as an operator would after a restore: ``manage.py check_schema``
against it, and the row count of every table equal to the source's. The commands run in
subprocesses, as in the procedure; the test holds no transaction open on the database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

from conftest import skip_or_fail

ROOT = Path(settings.BASE_DIR)

COUNT_SCRIPT = """
import json
from django.db import connections
from config.schema_check import models_on
with connections["default"].cursor() as cursor:
    counts = {}
    for table in sorted(models_on("default")):
        cursor.execute("SELECT COUNT(*) FROM " + connections["default"].ops.quote_name(table))
        counts[table] = cursor.fetchone()[0]
print(json.dumps(counts))
"""


def tool(*names: str) -> str:
    """Return the first of ``names`` on PATH, or skip (fail under CI) when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    skip_or_fail(f"{' / '.join(names)} is not installed; the backup rehearsal needs it")


def url_of(database: dict, name: str) -> str:
    """Return a DATABASE_URL for ``name`` on the server of ``database``."""
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[database["ENGINE"].rsplit(".", 1)[1]]
    user = quote(database.get("USER") or "", safe="")
    password = database.get("PASSWORD")
    credentials = f"{user}:{quote(password, safe='')}@" if password else f"{user}@"
    return f"{scheme}://{credentials}{database['HOST']}:{database['PORT']}/{name}"


def manage(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``manage.py`` against ``database_url`` with this session's other datasources."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url, "DATABASE_RLS": str(settings.DATABASE_RLS).lower()}
    for alias in connections:
        if alias != "default":
            env[f"DATABASE_URL_{alias.upper()}"] = url_of(
                connections[alias].settings_dict, connections[alias].settings_dict["NAME"])
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result


def mysql_rehearsal(database: dict, dump: Path, restored: str) -> None:
    dump_tool, client = tool("mariadb-dump", "mysqldump"), tool("mariadb", "mysql")
    login = ["-h", database["HOST"], "-P", str(database["PORT"]), "-u", database["USER"]]
    env = {**os.environ, "MYSQL_PWD": database.get("PASSWORD") or ""}
    # The daily full dump of the procedure: one consistent snapshot, no table locks.
    with dump.open("w") as out:
        result = subprocess.run(
            [dump_tool, *login, "--single-transaction", "--routines", "--triggers",
             "--events", "--hex-blob", "--default-character-set=utf8mb4", database["NAME"]],
            stdout=out, stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    run([client, *login, "-e", f"CREATE DATABASE `{restored}` CHARACTER SET utf8mb4 "
                               "COLLATE utf8mb4_unicode_ci"], env=env)
    with dump.open() as source:
        result = subprocess.run([client, *login, restored], stdin=source, capture_output=True,
                                text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr


def mysql_drop(database: dict, restored: str) -> None:
    client = shutil.which("mariadb") or shutil.which("mysql")
    login = ["-h", database["HOST"], "-P", str(database["PORT"]), "-u", database["USER"]]
    subprocess.run([client, *login, "-e", f"DROP DATABASE IF EXISTS `{restored}`"],
                   env={**os.environ, "MYSQL_PWD": database.get("PASSWORD") or ""},
                   capture_output=True, timeout=120)


def postgres_env(database: dict) -> dict:
    return {**os.environ, "PGHOST": database["HOST"], "PGPORT": str(database["PORT"]),
            "PGUSER": database["USER"], "PGPASSWORD": database.get("PASSWORD") or ""}


def postgres_rehearsal(database: dict, dump: Path, restored: str) -> None:
    pg_dump, pg_restore, psql = tool("pg_dump"), tool("pg_restore"), tool("psql")
    env = postgres_env(database)
    # Under row-level security the everyday role sees one tenant at most: the dump and the
    # restore take the owner role (BYPASSRLS), as the procedure says.
    role = [f"--role={settings.DATABASE_RLS_OWNER_ROLE}"] if settings.DATABASE_RLS else []
    run([pg_dump, *role, "--format=custom", "--file", str(dump), database["NAME"]], env=env)
    run([psql, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c",
         f'CREATE DATABASE "{restored}"'], env=env)
    if settings.DATABASE_RLS:
        # The new database's schema belongs to its creator; the owner role creates the
        # tables in it (README, "Row-level security on PostgreSQL").
        run([psql, "-d", restored, "-v", "ON_ERROR_STOP=1", "-c",
             "SET ROLE pg_database_owner; GRANT USAGE, CREATE ON SCHEMA public TO "
             f'"{settings.DATABASE_RLS_OWNER_ROLE}"'], env=env)
    run([pg_restore, *role, "--no-owner", "--exit-on-error", "--dbname", restored,
         str(dump)], env=env)


def postgres_drop(database: dict, restored: str) -> None:
    subprocess.run([shutil.which("psql") or "psql", "-d", "postgres", "-c",
                    f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)'],
                   env=postgres_env(database), capture_output=True, timeout=120)


@pytest.mark.services
@pytest.mark.django_db  # sets the test database up; the test itself writes nothing
def test_a_dump_restores_into_another_database_without_drift(tmp_path):
    """mariadb-dump / pg_dump of the migrated test database, restored into a new database:
    check_schema finds no drift there, and every table holds the source's row count."""
    database = connections["default"].settings_dict
    vendor = connections["default"].vendor
    if vendor not in ("mysql", "postgresql"):
        pytest.skip("The rehearsal dumps a MariaDB or PostgreSQL server; SQLite is a file "
                    "(back it up with sqlite3 .backup).")
    restored = f"{database['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    dump = tmp_path / "atrium.dump"
    try:
        if vendor == "mysql":
            mysql_rehearsal(database, dump, restored)
        else:
            postgres_rehearsal(database, dump, restored)
        assert dump.stat().st_size > 10_000

        # A restore adds no drift: check_schema reads the copy exactly as the source.
        checked = manage(url_of(database, restored), "check_schema", "--database", "default")
        baseline = manage(url_of(database, database["NAME"]), "check_schema", "--database",
                          "default")
        assert "Traceback" not in checked.stderr, checked.stderr
        assert checked.stdout == baseline.stdout
        assert checked.returncode == baseline.returncode == 0, checked.stdout + checked.stderr
        assert "No drift" in checked.stdout

        source = manage(url_of(database, database["NAME"]), "shell", "-v", "0", "-c",
                        COUNT_SCRIPT)
        copy = manage(url_of(database, restored), "shell", "-v", "0", "-c", COUNT_SCRIPT)
        assert source.returncode == 0 and copy.returncode == 0, source.stderr + copy.stderr
        source_counts = json.loads(source.stdout.strip().splitlines()[-1])
        assert source_counts["permissions"] > 0 and source_counts["tenants"] >= 1
        assert json.loads(copy.stdout.strip().splitlines()[-1]) == source_counts
    finally:
        if vendor == "mysql":
            mysql_drop(database, restored)
        else:
            postgres_drop(database, restored)
