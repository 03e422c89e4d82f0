"""Operational probe tasks of the tenancy core."""

from __future__ import annotations

from celery import shared_task

from core.context import get_current_actor_id, get_current_tenant_id


@shared_task
def echo_context() -> dict[str, str | None]:
    """Return the tenant and actor the worker restored from the message.

    Tenant-scoped (the ``TenantAwareTask`` default): a message without a tenant is refused.
    Operators send it with ``manage.py check_worker --tenant CODE`` to verify that a worker
    runs tasks and receives the sender's tenant context.
    """
    actor_id = get_current_actor_id()
    return {
        "tenant_id": str(get_current_tenant_id()),
        "actor_id": None if actor_id is None else str(actor_id),
    }
