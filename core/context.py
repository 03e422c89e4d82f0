"""The request context: the tenant scope, the acting user and the request id of this
request, task or command, kept in ``ContextVar``s; and the client's address.

There is one way in: ``request_context(scope=, actor_id=, request_id=)``, used by the
request middleware (``tenants.middleware``), the Celery task base class
(``tenants.celery``) and, through ``tenant_context``, by ``--tenant`` commands. An API key
is authenticated lazily, inside the view, after the middleware entered the context:
``enter_principal`` changes the principal of the open context, and leaving the context
restores what was there before, whatever was set in between, so nothing set inside
outlives its request. Outside an open context ``enter_principal`` refuses.

Tenant-owned managers read the scope and fail closed when it is missing
(``TenantContextMissing``). A platform operator's scope covers every tenant, but only
because something set it explicitly (``all_tenants()``), never by default.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings


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
_request_id: ContextVar[str | None] = ContextVar("atrium_request_id", default=None)
# True inside request_context(): where enter_principal may change the principal.
_open: ContextVar[bool] = ContextVar("atrium_request_context_open", default=False)
# True inside platform_statements(): the database runs the platform's own statements,
# beside any tenant scope (core.rls).
_platform: ContextVar[bool] = ContextVar("atrium_platform_statements", default=False)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}\Z")

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
def platform_statements() -> Iterator[None]:
    """Run the block's SQL as the platform itself, past the database's tenant policies.

    Only for statements the platform makes on purpose across tenants or on the schema: the
    queries of ``Model.objects.all_tenants()``, migrations, partition maintenance, flushing
    a test database. With row-level security off it changes nothing. The tenant scope of
    the block (and so the manager's own filter) is untouched.
    """
    token = _platform.set(True)
    try:
        yield
    finally:
        _platform.reset(token)


def in_platform_statements() -> bool:
    """Return whether the current SQL runs as the platform (``platform_statements``)."""
    return _platform.get()


@contextmanager
def actor_context(actor_id: Any) -> Iterator[Any]:
    """Run the block with ``actor_id`` recorded as the acting user."""
    token = _actor_id.set(actor_id)
    try:
        yield actor_id
    finally:
        _actor_id.reset(token)


# ---------------------------------------------------------------------------
# The request id, the one way in, and the principal of a lazily authenticated request
# ---------------------------------------------------------------------------


def current_request_id() -> str | None:
    """Return the id of the current request or task, or ``None`` outside one."""
    return _request_id.get()


def clean_request_id(value: Any) -> str:
    """Return ``value`` when it is a sane request id (an incoming X-Request-ID), else a new one."""
    if isinstance(value, str) and REQUEST_ID_RE.match(value):
        return value
    return str(uuid.uuid4())


@contextmanager
def request_context(
    *, scope: TenantScope | None = None, actor_id: Any = None, request_id: Any = None
) -> Iterator[str]:
    """Run a request, task or command with its scope, actor and request id; yield the id.

    ``request_id`` is kept when it is sane, else a new one is made (``clean_request_id``).
    """
    request_id = clean_request_id(request_id)
    tokens = (_scope.set(scope), _actor_id.set(actor_id), _request_id.set(request_id),
              _open.set(True))
    try:
        yield request_id
    finally:
        for var, token in zip((_scope, _actor_id, _request_id, _open), tokens):
            var.reset(token)


def in_request_context() -> bool:
    """Return whether a ``request_context`` is open."""
    return _open.get()


def enter_principal(scope: TenantScope | None, actor_id: Any) -> None:
    """Make the rest of the open request run as ``actor_id`` within ``scope``.

    For authentication that happens inside the view (an API key): the ``request_context``
    around the request restores the previous values when it ends.
    """
    if not _open.get():
        raise RuntimeError(
            "enter_principal() needs an open request_context(): without one nothing would "
            "restore the scope after the request."
        )
    _scope.set(scope)
    _actor_id.set(actor_id)


def client_ip(request) -> str | None:
    """Return the client IP, trusting ``TRUSTED_PROXY_COUNT`` hops of X-Forwarded-For."""
    if request is None:
        return None
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.META.get("REMOTE_ADDR") or None
