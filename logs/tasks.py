"""Periodic log maintenance, run by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from logs import maintenance


@shared_task(tenant_scoped=False)
def maintain_partitions() -> dict:
    """Keep the monthly partitions of every log table; return the report."""
    return maintenance.maintain_partitions().as_dict()
