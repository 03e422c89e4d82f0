"""The entry points of partition maintenance (the command, the Celery task and beat), and the
operation log row that records every run."""

from __future__ import annotations

import logging
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from logs import maintenance
from logs.models import LoginLog, OperationLog
from logs.partitioning import MonthlyPartitioning, Retention, partitioned_models
from logs.tasks import maintain_partitions

pytestmark = pytest.mark.django_db


def test_login_logs_join_by_declaration():
    """LoginLog declares monthly partitioning with a 12-month retention."""
    assert LoginLog in partitioned_models()
    assert LoginLog.partitioning == MonthlyPartitioning(
        column="created_at", retention=Retention(months=12)
    )


def test_retention_setting_overrides_the_declaration(settings):
    """LOG_PARTITION_RETENTION names a table's retention in months or days."""
    settings.LOG_PARTITION_RETENTION = {"login_logs": "90 days"}
    assert LoginLog.partitioning.retention_for("login_logs") == Retention(days=90)


def test_command_prints_the_report():
    """The management command prints one line per partitioned table."""
    out = StringIO()
    call_command("maintain_partitions", stdout=out)
    assert "login_logs (default):" in out.getvalue()


def test_task_returns_the_report_and_beat_runs_it_daily():
    """The platform task returns the report; beat schedules it once a day."""
    result = maintain_partitions.apply().get()
    assert "login_logs" in [table["table"] for table in result["tables"]]
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values()
               if e["task"] == "logs.tasks.maintain_partitions"]
    assert entries and entries[0]["schedule"] == 24 * 3600.0


# ---------------------------------------------------------------------------
# The operation log records every run
# ---------------------------------------------------------------------------


def maintenance_runs() -> list[OperationLog]:
    """Return the operation log rows of maintenance runs, oldest first."""
    return list(
        OperationLog.objects.all_tenants()
        .filter(module="logs", operation="maintain_partitions")
        .order_by("id")
    )


def test_command_run_is_recorded_in_the_operation_log():
    """A command run leaves one platform row: method COMMAND, the command line, the report."""
    # The real clock: partition DDL commits at once on MariaDB, beyond this test's rollback.
    now = timezone.now().replace(microsecond=0, tzinfo=None).isoformat()
    call_command("maintain_partitions", "--now", now, stdout=StringIO())
    [row] = maintenance_runs()
    assert (row.method, row.uri) == ("COMMAND", f"manage.py maintain_partitions --now {now}")
    assert row.tenant_id is None and row.operator_tenant_id is None and row.user_id is None
    assert row.status == "success" and row.error_message == ""
    assert row.business_type == "other" and row.request_id
    assert row.request_params == {"now": f"{now}+00:00"}
    report = row.new_value
    tables = {table["table"]: table for table in report["tables"]}
    assert {"login_logs", "operation_logs", "audit_logs"} <= set(tables)
    for table in tables.values():
        assert {"created", "dropped", "moved_rows", "dropped_rows"} <= set(table)
    assert "login_logs (default):" in report["summary"]


def test_task_run_is_recorded_with_the_task_request_id():
    """A task run is recorded with method TASK, the task's name and the task's id."""
    result = maintain_partitions.apply()
    assert result.successful(), result.traceback
    [row] = maintenance_runs()
    assert (row.method, row.uri) == ("TASK", "logs.tasks.maintain_partitions")
    assert row.request_id == result.id
    assert row.tenant_id is None and row.status == "success"
    assert row.new_value["tables"] == result.get()["tables"]


def test_a_run_that_changes_nothing_is_recorded_as_such():
    """Running twice records two runs; the second says that nothing changed."""
    maintenance.maintain_partitions()
    maintenance.maintain_partitions()
    first, second = maintenance_runs()
    assert second.method == "CALL" and second.status == "success"
    assert second.new_value["changed"] is False
    assert all(table["created"] == [] and table["dropped"] == []
               for table in second.new_value["tables"])
    assert "created" not in second.new_value["summary"]
    expected = "skipped" if connection.vendor == "sqlite" else "nothing to do"
    assert expected in second.new_value["summary"]


def test_a_failed_run_is_recorded_with_its_error_and_partial_report():
    """A run that fails is recorded as failed with the error and what it did before."""

    def fail_halfway(report):
        report.tables.append(maintenance.TableReport(table="login_logs", alias="default",
                                                     created=["login_logs_p203001"]))
        raise RuntimeError("disk full")

    with mock.patch("logs.maintenance._maintain", side_effect=fail_halfway):
        with pytest.raises(CommandError, match="disk full"):
            call_command("maintain_partitions", stdout=StringIO())
    [row] = maintenance_runs()
    assert row.status == "failed" and row.error_message == "RuntimeError: disk full"
    assert row.new_value["tables"][0]["created"] == ["login_logs_p203001"]


def test_a_failed_write_of_the_record_does_not_break_maintenance(caplog):
    """When the operation log cannot be written the run still completes; it is reported."""
    with mock.patch("core.logrows.insert_statements", side_effect=RuntimeError("db down")):
        with caplog.at_level(logging.ERROR, logger="atrium.audit"):
            report = maintenance.maintain_partitions()
    assert report.tables
    assert maintenance_runs() == []
    assert any("Could not record partition maintenance" in r.getMessage() and r.exc_info
               for r in caplog.records)


def test_maintenance_runs_are_platform_rows_tenants_do_not_see(
    client, admin_a, admin_b, operator
):
    """Tenant administrators do not list maintenance runs; a platform operator does."""
    maintenance.maintain_partitions()
    [row] = maintenance_runs()
    for admin in (admin_a, admin_b):
        client.force_login(admin)
        response = client.get("/api/v1/operation-logs/")
        assert response.status_code == 200
        assert row.pk not in [item["id"] for item in response.json()["results"]]
        assert client.get(f"/api/v1/operation-logs/{row.pk}/").status_code == 404
    client.force_login(operator)
    response = client.get("/api/v1/operation-logs/")
    assert row.pk in [item["id"] for item in response.json()["results"]]
