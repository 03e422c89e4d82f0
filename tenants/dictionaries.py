"""Cached lookups of the tenant's dictionaries (issue 3, item 5; seed 000 sections 3.11-3.12).

``dictionary_items("user_status")`` returns the active items of the tenant's active
``user_status`` dictionary in sort order; ``dictionary_label("user_status", value)`` the
label of one value. Templates use the same through ``{% load dictionaries %}``.

Scope: the tenant in context, failing closed like the managers (``TenantContextMissing``
with no scope). Under an operator's all-tenants scope there is no single tenant to read, so
the caller names one (``tenant=``); under a single tenant's scope naming another tenant is
refused.

Caching: one entry per (tenant, dictionary type) in Django's cache, stamped with the
tenant's dictionary version, which is kept in the cache too and fetched in the same
``get_many`` round trip. Any write to a dictionary or an item of the tenant replaces the
version (signals below for single rows, ``DictionaryQuerySet`` for bulk writes), so every
entry of the tenant is stale at once. The version is replaced both immediately, so the
writer reads its own writes, and again when the transaction commits, so that a reader that
cached the old rows between the write and the commit is not believed either.
``CACHE_TIMEOUT`` bounds staleness where invalidation cannot reach: with the local-memory
cache (the default when ``CACHE_URL`` is unset) each process has its own versions, and a
write in a transaction that is rolled back after the same transaction read the dictionary.

Labels resolve for inactive items too: deactivating an item stops offering it, while
records that already hold its value keep showing its label.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.context import TenantContextMissing, require_scope
from tenants.models import Dictionary, DictionaryItem, DictionaryStatus

CACHE_TIMEOUT = 300  # seconds
# Part of every key: change it when the cached shape (``_Entry``) changes.
KEY_PREFIX = "tenants:dict:1"
# A dictionary type is a code (tenants.models.code_validator) of at most 50 characters.
TYPE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,49}")


@dataclass(frozen=True)
class DictItem:
    """One item of a dictionary, as pages use it."""

    label: str
    value: str
    is_default: bool


@dataclass(frozen=True)
class _Entry:
    """The cached form of one dictionary of one tenant."""

    version: str
    items: tuple[DictItem, ...]  # active items, in sort order
    labels: dict[str, str]  # value -> label of every live item, inactive ones included


def dictionary_items(dict_type: str, *, tenant: Any = None) -> list[DictItem]:
    """Return the active items of the tenant's active dictionary ``dict_type``, in order.

    A missing, inactive or deleted dictionary has no items.
    """
    return list(_entry(dict_type, tenant).items)


def dictionary_label(
    dict_type: str, value: Any, default: str | None = None, *, tenant: Any = None
) -> str:
    """Return the label of ``value`` in the tenant's dictionary ``dict_type``.

    When no live item of an active dictionary has that value, return ``default``, or the
    value itself as text when no default is given (``""`` for ``None``).
    """
    label = _entry(dict_type, tenant).labels.get("" if value is None else str(value))
    if label is not None:
        return label
    if default is not None:
        return default
    return "" if value is None else str(value)


def invalidate_tenant(tenant_id: Any, using: str | None = None) -> None:
    """Make every cached dictionary of the tenant stale, now and when the transaction commits."""
    _replace_version(tenant_id)
    using = using or DEFAULT_DB_ALIAS
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(partial(_replace_version, tenant_id), using=using, robust=True)


@receiver([post_save, post_delete], sender=Dictionary)
@receiver([post_save, post_delete], sender=DictionaryItem)
def dictionary_changed(sender, instance, using: str | None = None, **kwargs: Any) -> None:
    """Invalidate the tenant's cached dictionaries after a save, soft or hard delete."""
    invalidate_tenant(instance.tenant_id, using=using)


def _tenant_id(tenant: Any) -> uuid.UUID:
    """Return the id of the tenant to read: the one in scope, or ``tenant`` when allowed."""
    scope = require_scope("dictionaries")
    if tenant is None:
        if scope.tenant_id is None:
            raise TenantContextMissing(
                "Every tenant is in scope while reading a dictionary: name the tenant "
                "whose dictionary to read (tenant=...)."
            )
        return scope.tenant_id
    tenant_id = _as_uuid(getattr(tenant, "pk", tenant))
    if scope.tenant_id is not None and scope.tenant_id != tenant_id:
        raise PermissionDenied("A tenant's scope cannot read another tenant's dictionaries.")
    return tenant_id


def _as_uuid(value: Any) -> uuid.UUID:
    """Return ``value`` (a UUID or its text) as a UUID."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _version_key(tenant_id: uuid.UUID) -> str:
    """Return the cache key of the tenant's dictionary version."""
    return f"{KEY_PREFIX}:{tenant_id.hex}:version"


def _entry_key(tenant_id: uuid.UUID, dict_type: str) -> str:
    """Return the cache key of one dictionary of the tenant."""
    return f"{KEY_PREFIX}:{tenant_id.hex}:{dict_type}"


def _replace_version(tenant_id: Any) -> None:
    """Give the tenant a new dictionary version, making its cached entries stale."""
    # A random version rather than a counter: a version evicted from the cache and made
    # anew can never match an entry cached before.
    cache.set(_version_key(_as_uuid(tenant_id)), uuid.uuid4().hex, None)


def _entry(dict_type: str, tenant: Any) -> _Entry:
    """Return the cached dictionary, loading it when missing or stale."""
    tenant_id = _tenant_id(tenant)
    dict_type = str(dict_type).strip().lower()
    if not TYPE_PATTERN.fullmatch(dict_type):
        # Not a code, so no dictionary has this type (and it would not make a safe key).
        return _Entry(version="", items=(), labels={})
    version_key, entry_key = _version_key(tenant_id), _entry_key(tenant_id, dict_type)
    found = cache.get_many([version_key, entry_key])
    version = found.get(version_key)
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(version_key, version, None):
            version = cache.get(version_key, version)
    entry = found.get(entry_key)
    if entry is None or entry.version != version:
        entry = _load(tenant_id, dict_type, version)
        cache.set(entry_key, entry, CACHE_TIMEOUT)
    return entry


def _load(tenant_id: uuid.UUID, dict_type: str, version: str) -> _Entry:
    """Read one dictionary of one tenant from the database."""
    # The tenant was resolved against the scope above, so the explicit unscoped path with an
    # explicit tenant filter is the narrower query here (it also serves a named tenant under
    # an operator's scope). The dictionary's tenant is filtered too, belt and braces.
    rows = (
        DictionaryItem.objects.all_tenants()
        .filter(
            tenant_id=tenant_id,
            dictionary__tenant_id=tenant_id,
            dictionary__type=dict_type,
            dictionary__status=DictionaryStatus.ACTIVE,
            dictionary__is_deleted=False,
        )
        .order_by("sort_order", "id")
        .values_list("label", "value", "is_default", "status")
    )
    items = []
    labels = {}
    for label, value, is_default, status in rows:
        labels[value] = label
        if status == DictionaryStatus.ACTIVE:
            items.append(DictItem(label=label, value=value, is_default=is_default))
    return _Entry(version=version, items=tuple(items), labels=labels)
