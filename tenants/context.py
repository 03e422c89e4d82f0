"""The current tenant and actor of this request, task or command, kept in ``ContextVar``s.

Middleware sets them from the logged-in user, the Celery task base class from the message
that started the task, and ``--tenant`` on management commands. Tenant-owned managers read
the scope and fail closed when it is missing (``TenantContextMissing``). A platform
operator's scope covers every tenant, but only because something set it explicitly
(``all_tenants()``), never by default.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


class TenantContextMissing(RuntimeError):
    """Raised when tenant-owned data is touched with no tenant scope in context."""


@dataclass(frozen=True)
class TenantScope:
    """Which tenants the current code may see: one tenant, or explicitly all of them."""

    tenant_id: uuid.UUID | None = None
    all_tenants: bool = False

    def __post_init__(self) -> None:
        if self.all_tenants == (self.tenant_id is not None):
            raise ValueError("A TenantScope names one tenant or all tenants, not both.")


_scope: ContextVar[TenantScope | None] = ContextVar("atrium_tenant_scope", default=None)
_actor_id: ContextVar[Any] = ContextVar("atrium_actor_id", default=None)

ALL_TENANTS = TenantScope(all_tenants=True)


def _tenant_id(tenant: Any) -> uuid.UUID:
    if tenant is None:
        raise ValueError("A tenant scope needs a tenant.")
    value = getattr(tenant, "pk", tenant)
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def get_scope() -> TenantScope | None:
    """Return the current tenant scope, or ``None`` when nothing has set one."""
    return _scope.get()


def require_scope(what: str = "tenant-owned data") -> TenantScope:
    """Return the current scope, raising ``TenantContextMissing`` when there is none."""
    scope = _scope.get()
    if scope is None:
        raise TenantContextMissing(
            f"No tenant in context while accessing {what}. Run inside tenant_context(tenant) "
            "(requests, Celery tasks and --tenant commands do this), or ask for every tenant "
            "explicitly with Model.objects.all_tenants() or all_tenants()."
        )
    return scope


def get_current_tenant_id() -> uuid.UUID | None:
    """Return the id of the single tenant in scope, or ``None`` (no scope, or all tenants)."""
    scope = _scope.get()
    return scope.tenant_id if scope is not None else None


def get_current_tenant():
    """Return the ``Tenant`` in scope, or ``None`` when no single tenant is in scope."""
    tenant_id = get_current_tenant_id()
    if tenant_id is None:
        return None
    from tenants.models import Tenant

    return Tenant.objects.get(pk=tenant_id)


def get_current_actor_id() -> Any:
    """Return the id of the user acting now, or ``None`` for system work."""
    return _actor_id.get()


@contextmanager
def scope_context(scope: TenantScope | None) -> Iterator[TenantScope | None]:
    """Run the block with ``scope`` as the tenant scope (``None`` clears it)."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextmanager
def tenant_context(tenant: Any) -> Iterator[TenantScope | None]:
    """Run the block scoped to one tenant (a ``Tenant``, its id, or its id as text)."""
    with scope_context(TenantScope(tenant_id=_tenant_id(tenant))) as scope:
        yield scope


@contextmanager
def all_tenants() -> Iterator[TenantScope | None]:
    """Run the block with every tenant in scope: the explicit operator path."""
    with scope_context(ALL_TENANTS) as scope:
        yield scope


@contextmanager
def actor_context(actor_id: Any) -> Iterator[Any]:
    """Run the block with ``actor_id`` recorded as the acting user."""
    token = _actor_id.set(actor_id)
    try:
        yield actor_id
    finally:
        _actor_id.reset(token)
