"""The tenancy core."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    """Own Tenant, the current-tenant context (``core.context``), the fail-closed manager
    and base models of every tenant-owned table (``tenants.models``), the middleware and the
    Celery task base class that set the context, and tenant dictionaries (issue 3)."""

    name = "tenants"
    verbose_name = _("Tenancy")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import (
            checks,  # noqa: F401  (registers the checks)
            dictionaries,  # noqa: F401  (connects the cache invalidation)
        )
