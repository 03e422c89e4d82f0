"""Periodic log maintenance, run by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""

import datetime as dt

from celery import shared_task

from logs import maintenance


@shared_task(tenant_scoped=False)
def maintain_partitions() -> dict:
    """Keep the monthly partitions of every log table; return the report.

    The run is recorded in the operation log (method ``TASK``, the task's name as URI,
    the task's request id).
    """
    return maintenance.maintain_partitions(method="TASK", uri=maintain_partitions.name).as_dict()


# Days before yesterday that the daily rollup re-checks and fills in when missing.
ROLLUP_CATCH_UP_DAYS = 7


@shared_task(tenant_scoped=False)
def rollup_usage() -> list[str]:
    """Roll up yesterday (UTC) and any missing day of the week before; return the days done."""
    from logs import usage

    today = dt.datetime.now(dt.timezone.utc).date()
    yesterday = today - dt.timedelta(days=1)
    earlier = [yesterday - dt.timedelta(days=n) for n in range(1, ROLLUP_CATCH_UP_DAYS)]
    days = [*usage.missing_days(earlier), yesterday]
    for day in days:
        usage.rollup_day(day)
    return [day.isoformat() for day in days]
