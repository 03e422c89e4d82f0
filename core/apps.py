"""The bottom layer as an app: its templates (charts) and commands (key rotation)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Own the mechanisms every app shares and that know no app: the request context,
    redaction, field encryption, deadlines, the guarded outbound HTTP client, the log-row
    writer, the API's error format, CSV exports and SVG charts."""

    name = "core"
    verbose_name = _("Platform core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Watch every database connection (slow statements, deadlocks: core.dbwatch) and
        make PostgreSQL's tenant tables enforce row-level security as the switch says after
        each migrate (core.rls)."""
        from django.db.models.signals import post_migrate

        from core import dbwatch, rls

        dbwatch.install()
        post_migrate.connect(rls.enforce_after_migrate, dispatch_uid="core.rls.enforce")
