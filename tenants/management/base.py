"""Base class of management commands that act inside one tenant (``--tenant CODE``)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.context import tenant_context
from tenants.models import Tenant


class TenantCommand(BaseCommand):
    """Run ``handle_tenant`` with the tenant named by ``--tenant`` in context."""

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--tenant", required=True, metavar="CODE", help="Code of the tenant to act in."
        )

    def handle(self, *args, **options):
        code = options["tenant"].strip().lower()
        tenant = Tenant.objects.filter(code=code).first()
        if tenant is None:
            raise CommandError(f"No tenant has the code {code!r}.")
        # The Tenant replaces its code: passing options["tenant"] on would clash with it.
        options = {key: value for key, value in options.items() if key != "tenant"}
        with tenant_context(tenant):
            return self.handle_tenant(tenant, *args, **options)

    def handle_tenant(self, tenant: Tenant, *args, **options):
        raise NotImplementedError("TenantCommand subclasses implement handle_tenant().")
