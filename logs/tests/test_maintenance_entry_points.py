"""The entry points of partition maintenance: the command, the Celery task and beat."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from logs.models import LoginLog
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
