"""Managers of tenant-owned models: scoped by the tenant in context, failing closed.

``Model.objects`` returns the live rows of the tenant in scope. With no scope it raises
``TenantContextMissing`` instead of running an unfiltered query. Every wider view is a
named, explicit call: ``all_tenants()``, ``including_deleted()``, ``deleted()``.

The tenant filter is added when the query is first compiled (any evaluation, or use as a
subquery), not when the queryset is built. Django builds querysets ahead of any request (a
model form's foreign-key choices are made when the form class is defined, then copied per
form); resolving at query time gives each of them the tenant of the request that runs it.

``QuerySet.delete()`` on a soft-deletable model soft-deletes; ``hard_delete()`` removes rows.

The querysets of ``all_tenants()`` are the platform's own, explicit cross-tenant reads and
writes: with row-level security on (``core.rls``) their statements run as the platform
(``core.context.platform_statements``), past the database's tenant policies, whatever the
scope in context. Every other query runs under the policies of the scope in context.
"""

from __future__ import annotations

import functools
from contextlib import nullcontext

from django.db import models
from django.db.models import Q
from django.db.models.sql import Query
from django.utils import timezone

from core.context import get_current_actor_id, platform_statements, require_scope


def _statements_of(query):
    """Return the context the statements of ``query`` run in: the platform's for the
    explicit all-tenants querysets, else the scope's."""
    return platform_statements() if getattr(query, "across_tenants", False) else nullcontext()


def _run_as_platform(execute_sql):
    @functools.wraps(execute_sql)
    def run(*args, **kwargs):
        with platform_statements():
            return execute_sql(*args, **kwargs)

    return run


def is_soft_deletable(model: type[models.Model]) -> bool:
    """Return whether ``model`` carries the soft-delete fields."""
    return any(field.name == "is_deleted" for field in model._meta.concrete_fields)


class TenantQuery(Query):
    """A SQL query that adds the tenant filter of the current scope when it is compiled."""

    tenant_scope_pending = False
    # Set on the querysets of TenantManager.all_tenants(): the platform's explicit reads.
    across_tenants = False

    def resolve_tenant_scope(self) -> None:
        """Add the tenant filter of the scope in context, raising when there is none."""
        if not self.tenant_scope_pending:
            return
        scope = require_scope(self.model._meta.label)
        self.tenant_scope_pending = False
        if not scope.all_tenants:
            self.add_q(Q(tenant_id=scope.tenant_id))

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        self.resolve_tenant_scope()
        compiler = super().get_compiler(using, connection, elide_empty)
        if self.across_tenants:
            compiler.execute_sql = _run_as_platform(compiler.execute_sql)
        return compiler


class TenantQuerySet(models.QuerySet):
    """Querysets of tenant-owned rows, optionally scoped to the tenant in context."""

    def __init__(self, model=None, query=None, using=None, hints=None) -> None:
        super().__init__(model, query or TenantQuery(model), using, hints)

    def scoped_to_context(self) -> TenantQuerySet:
        """Return a copy filtered, when it runs, to the tenant in context (fail closed)."""
        clone = self._chain()
        clone.query.tenant_scope_pending = True
        return clone

    def _resolved(self) -> TenantQuerySet:
        # UPDATE and DELETE compile a query of another class, so resolve the scope first.
        if isinstance(self.query, TenantQuery):
            self.query.resolve_tenant_scope()
        return self

    def count(self):
        with _statements_of(self.query):
            return super().count()

    def aggregate(self, *args, **kwargs):
        with _statements_of(self.query):
            return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        with _statements_of(self.query):
            return models.QuerySet.update(self._resolved(), **kwargs)

    update.alters_data = True
    update.queryset_only = False

    def _update(self, values):
        with _statements_of(self.query):
            return models.QuerySet._update(self._resolved(), values)

    _update.alters_data = True
    _update.queryset_only = False

    def _raw_delete(self, using):
        with _statements_of(self.query):
            return models.QuerySet._raw_delete(self._resolved(), using)

    _raw_delete.alters_data = True

    def for_tenant(self, tenant) -> TenantQuerySet:
        """Return the rows of one tenant (a ``Tenant`` or its id)."""
        return self.filter(tenant_id=getattr(tenant, "pk", tenant))

    def delete(self):
        """Soft-delete the rows of a soft-deletable model; hard-delete otherwise."""
        if not is_soft_deletable(self.model):
            return super().delete()
        now = timezone.now()
        count = self._resolved().filter(is_deleted=False).update(
            is_deleted=True,
            alive=None,
            deleted_at=now,
            deleted_by_id=get_current_actor_id(),
            updated_at=now,
        )
        return count, {self.model._meta.label: count}

    delete.alters_data = True
    delete.queryset_only = True

    def hard_delete(self):
        """Delete the rows from the database, cascading as the foreign keys say."""
        with _statements_of(self.query):
            return models.QuerySet.delete(self._resolved())

    hard_delete.alters_data = True
    hard_delete.queryset_only = True


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Return the live rows of the tenant in context; raise when there is none."""

    def _unscoped(self, *, include_deleted: bool) -> TenantQuerySet:
        queryset = super().get_queryset()
        if not include_deleted and is_soft_deletable(self.model):
            queryset = queryset.filter(is_deleted=False)
        return queryset

    def _scoped(self, *, include_deleted: bool) -> TenantQuerySet:
        return self._unscoped(include_deleted=include_deleted).scoped_to_context()

    def get_queryset(self) -> TenantQuerySet:
        """Return the live rows of the tenant in scope (every tenant if explicitly all)."""
        return self._scoped(include_deleted=False)

    def including_deleted(self) -> TenantQuerySet:
        """Return the tenant's rows, soft-deleted ones included."""
        return self._scoped(include_deleted=True)

    def deleted(self) -> TenantQuerySet:
        """Return the tenant's soft-deleted rows (the recycle bin)."""
        return self._scoped(include_deleted=True).filter(is_deleted=True)

    def all_tenants(self, *, include_deleted: bool = False) -> TenantQuerySet:
        """Return the rows of every tenant: the explicit, unscoped operator path."""
        queryset = self._unscoped(include_deleted=include_deleted)
        queryset.query.across_tenants = True
        return queryset
