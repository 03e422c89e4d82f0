"""The Celery task base class that carries the tenant and the acting user in the message.

When a task is sent, the scope and actor in context travel as message headers. The worker
restores them before the task body runs and clears them afterwards, so a task sees exactly
the tenant of the code that sent it. A tenant-scoped task (the default) sent without a single
tenant in scope is refused at send time, and refused again by the worker if a message
arrives without one. Platform-wide tasks declare ``tenant_scoped = False`` and run with
every tenant in scope, explicitly.

The worker runs the task inside ``core.context.request_context``, with the sender's request
id (a request that queued the task), else the task id. Apps that wrap every task run (the
audit trail of ``logs``) register a wrapper with ``register_run_wrapper`` when they start.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from celery import Task

from core.context import (
    ALL_TENANTS,
    TenantContextMissing,
    TenantScope,
    current_request_id,
    get_current_actor_id,
    get_current_tenant_id,
    request_context,
)

# Context managers entered around every task run, in registration order (AppConfig.ready).
_run_wrappers: list[Callable[[], AbstractContextManager]] = []


def register_run_wrapper(wrapper: Callable[[], AbstractContextManager]) -> None:
    """Enter ``wrapper()`` around every task run from now on (once per wrapper)."""
    if wrapper not in _run_wrappers:
        _run_wrappers.append(wrapper)

TENANT_HEADER = "atrium_tenant_id"
ACTOR_HEADER = "atrium_actor_id"
REQUEST_ID_HEADER = "atrium_request_id"


class TenantTaskMissingTenant(TenantContextMissing):
    """Raised when a tenant-scoped task is sent, or arrives, without a tenant."""


class TenantAwareTask(Task):
    """Carry the tenant scope and actor from the sender to the worker."""

    tenant_scoped = True

    def _context_headers(self, headers: dict[str, Any] | None) -> dict[str, Any]:
        headers = dict(headers or {})
        scoped_tenant_id = get_current_tenant_id()
        tenant_id = headers.get(TENANT_HEADER) or scoped_tenant_id
        if scoped_tenant_id is not None and str(tenant_id) != str(scoped_tenant_id):
            # Only an all-tenants caller (a platform operator or platform task) may send a
            # task for a tenant other than its own.
            raise TenantTaskMissingTenant(
                f"Task {self.name} names another tenant than the one in context."
            )
        if self.tenant_scoped and tenant_id is None:
            raise TenantTaskMissingTenant(
                f"Task {self.name} is tenant-scoped but was sent with no tenant in context; "
                "send it inside tenant_context(tenant)."
            )
        if tenant_id is not None:
            headers[TENANT_HEADER] = str(tenant_id)
        actor_id = headers.get(ACTOR_HEADER) or get_current_actor_id()
        if actor_id is not None:
            headers[ACTOR_HEADER] = str(actor_id)
        request_id = headers.get(REQUEST_ID_HEADER) or current_request_id()
        if request_id is not None:
            headers[REQUEST_ID_HEADER] = request_id
        return headers

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None,
                    link=None, link_error=None, shadow=None, **options):
        """Send the task with the tenant and actor of the caller in its headers."""
        options["headers"] = self._context_headers(options.get("headers"))
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )

    def apply(self, args=None, kwargs=None, **options):
        """Run the task locally, carrying context the same way as a sent message."""
        options["headers"] = self._context_headers(options.get("headers"))
        return super().apply(args, kwargs, **options)

    def _header(self, name: str) -> str | None:
        headers = getattr(self.request, "headers", None) or {}
        return headers.get(name) or getattr(self.request, name, None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            # A plain function call runs in the caller's own context.
            if self.tenant_scoped and get_current_tenant_id() is None:
                raise TenantTaskMissingTenant(
                    f"Task {self.name} is tenant-scoped but was called with no tenant in context."
                )
            return super().__call__(*args, **kwargs)
        tenant_id = self._header(TENANT_HEADER)
        if self.tenant_scoped:
            if not tenant_id:
                raise TenantTaskMissingTenant(
                    f"Task {self.name} is tenant-scoped but its message carries no tenant."
                )
            scope = TenantScope(tenant_id=uuid.UUID(str(tenant_id)))
        else:
            scope = ALL_TENANTS
        request_id = self._header(REQUEST_ID_HEADER) or self.request.id
        with request_context(scope=scope, actor_id=self._header(ACTOR_HEADER),
                             request_id=request_id), ExitStack() as wrappers:
            for wrapper in _run_wrappers:
                wrappers.enter_context(wrapper())
            return super().__call__(*args, **kwargs)

