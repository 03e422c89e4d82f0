"""``manage.py check_schema`` against the real test databases (issue 4 item 7, seed 002).

Each drift test changes the live schema outside any test transaction (MariaDB commits DDL
implicitly, so a rolled-back test transaction could not undo it) and restores it in a
``finally``. No rows are written, so the other tests' data stays as migrated.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections

from config.schema_check import Drift, check_datasource, partitioned_tables
from rbac.models import Permission
from tenants.models import Dictionary

STRAY_TABLE = "schema_check_stray"


@pytest.fixture
def live_db(django_db_setup, django_db_blocker):
    """Give access to the test databases without wrapping the test in a transaction.

    pytest-django creates the test databases only for the aliases that marked tests ask
    for; ``test_a_migrated_schema_has_no_drift`` asks for all of them. Without it (a lone
    test picked with ``-k``) the connections would still point at the real databases, so
    the DDL below refuses to run there.
    """
    for alias in connections:
        name = str(connections[alias].settings_dict["NAME"])
        if not (name.startswith("test_") or "memorydb" in name):
            pytest.fail(f"The test database of {alias!r} is not set up; run the whole module.")
    with django_db_blocker.unblock():
        yield


def run_check_schema() -> tuple[str, CommandError | None]:
    """Return the command's output and the error it raised, if any."""
    out = StringIO()
    try:
        call_command("check_schema", stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


@pytest.mark.django_db(databases="__all__")
def test_a_migrated_schema_has_no_drift():
    """Freshly migrated test databases match the models on every alias."""
    output, error = run_check_schema()

    assert error is None, output
    assert f"No drift on {', '.join(connections)}." in output


def test_an_extra_table_is_drift(live_db):
    """A table no model accounts for is reported by name and fails the command."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {STRAY_TABLE} (id integer PRIMARY KEY)")
    try:
        output, error = run_check_schema()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {STRAY_TABLE}")

    assert error is not None
    assert f"default: {STRAY_TABLE}: extra table (no model routed here)" in output.splitlines()


def test_a_missing_named_index_is_drift(live_db):
    """Dropping an index a model names is reported with the table and index name."""
    index = next(i for i in Permission._meta.indexes if i.name == "permissions_type_idx")
    with connection.schema_editor() as editor:
        editor.remove_index(Permission, index)
    try:
        output, error = run_check_schema()
    finally:
        with connection.schema_editor() as editor:
            editor.add_index(Permission, index)

    assert error is not None
    assert (
        "default: permissions: missing index or constraint permissions_type_idx"
        in output.splitlines()
    )


def test_an_index_the_models_do_not_declare_is_drift(live_db):
    """An index added by hand on unindexed columns is reported as extra."""
    # MySQL/MariaDB index a text column by a prefix only.
    description = "description(20)" if connection.vendor == "mysql" else "description"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX schema_check_stray_idx ON permissions (name, {description})")
    try:
        drift = check_datasource(DEFAULT_DB_ALIAS)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP INDEX schema_check_stray_idx ON permissions"
                if connection.vendor == "mysql"
                else "DROP INDEX schema_check_stray_idx"
            )

    assert [str(d) for d in drift] == [
        "default: permissions: extra index schema_check_stray_idx on (name, description)"
    ]


def test_missing_and_extra_columns_are_drift(live_db):
    """A dropped model column and a column no field declares are both named."""
    deleted_at = Dictionary._meta.get_field("deleted_at")
    with connection.schema_editor() as editor:
        editor.remove_field(Dictionary, deleted_at)
    try:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE dicts ADD COLUMN stray_note varchar(10) NULL")
        try:
            output, error = run_check_schema()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE dicts DROP COLUMN stray_note")
    finally:
        with connection.schema_editor() as editor:
            editor.add_field(Dictionary, deleted_at)

    assert error is not None
    lines = output.splitlines()
    assert "default: dicts.deleted_at: missing column" in lines
    assert "default: dicts.stray_note: extra column" in lines
    assert run_check_schema()[1] is None


def test_drift_reads_alias_table_column_what():
    """A drift line names the alias, the table (and column) and what differs."""
    assert str(Drift("default", "dicts", "code", "missing column")) == (
        "default: dicts.code: missing column"
    )
    assert str(Drift("postgres_db", "report_data", "", "missing table")) == (
        "postgres_db: report_data: missing table"
    )


def test_partitions_are_read_where_the_backend_has_them(live_db):
    """MySQL/MariaDB and PostgreSQL list their partitioned tables; SQLite has none to read."""
    tables = partitioned_tables(connection)

    if connection.vendor in ("mysql", "postgresql"):
        assert isinstance(tables, set)
    else:
        assert tables is None
