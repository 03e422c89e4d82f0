"""Periodic account maintenance, run by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.core.management import call_command

from accounts import services


@shared_task(tenant_scoped=False)
def release_expired_locks() -> int:
    """Unlock the accounts of every tenant whose lock time has passed."""
    return services.release_expired_locks()


@shared_task(tenant_scoped=False)
def clear_expired_sessions() -> None:
    """Delete expired sessions from the session store."""
    call_command("clearsessions")
