"""``manage.py check_worker --tenant CODE``: prove that a Celery worker runs tasks in a tenant.

Sends ``tenants.tasks.echo_context`` inside the tenant's context, waits for its result and
prints OK when the worker answered with that tenant. A timeout, a failed task or another
tenant in the answer is a ``CommandError`` (non-zero exit), so the command can gate a
deployment.
"""

from __future__ import annotations

from celery.backends.base import DisabledBackend
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.core.management.base import CommandError

from tenants.management.base import TenantCommand
from tenants.models import Tenant


class Command(TenantCommand):
    help = (
        "Send a probe task inside the tenant and wait until a worker answers with that "
        "tenant's context."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            help="Seconds to wait for a worker's answer (default 10).",
        )
        parser.add_argument(
            "--queue",
            default=None,
            help="Queue to send the probe to (default: the default task queue).",
        )

    def handle_tenant(self, tenant: Tenant, *args, **options) -> None:
        from tenants.tasks import echo_context

        timeout = options["timeout"]
        if timeout <= 0:
            raise CommandError("--timeout must be a positive number of seconds.")
        if isinstance(echo_context.backend, DisabledBackend):
            raise CommandError(
                "No Celery result backend is configured (CELERY_RESULT_BACKEND): the probe "
                "cannot read the worker's answer."
            )
        send_options = {"expires": timeout}  # an unanswered probe is not run later
        if options["queue"]:
            send_options["queue"] = options["queue"]
        try:
            result = echo_context.apply_async(**send_options)
        except Exception as exc:  # noqa: BLE001 - broker errors come in many classes
            raise CommandError(f"Could not send the probe to the broker: {exc}") from exc
        try:
            answer = result.get(timeout=timeout)
        except CeleryTimeoutError as exc:
            raise CommandError(
                f"No worker answered the probe for tenant {tenant.code} within "
                f"{timeout:g} seconds (task {result.id})."
            ) from exc
        except Exception as exc:  # noqa: BLE001 - the task's own failure, re-raised by get()
            result.forget()
            raise CommandError(
                f"The worker failed the probe for tenant {tenant.code}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        result.forget()  # the answer is read; only a stored one can be removed
        answered = answer.get("tenant_id") if isinstance(answer, dict) else None
        if answered != str(tenant.pk):
            raise CommandError(
                f"The worker answered with tenant {answered!r} instead of {tenant.code} "
                f"({tenant.pk}): it does not receive the tenant context."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: a worker ran the probe in tenant {tenant.code} ({tenant.pk})."
            )
        )
