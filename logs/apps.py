"""Logs."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LogsConfig(AppConfig):
    """Own the login log (every sign-in attempt) and, as the platform grows, the operation
    and audit logs, their monthly partitions, retention and usage rollups."""

    name = "logs"
    verbose_name = _("Logs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Capture of the audit trail: signal handlers and TenantQuerySet wrappers, and an
        # audit context around every Celery task run.
        from logs import audit
        from tenants.celery import register_run_wrapper

        audit.install()
        register_run_wrapper(audit.task_audit)
