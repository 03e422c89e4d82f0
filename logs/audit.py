"""Capture of the audit trail: one ``AuditLog`` per changed object, without per-view code.

The habits are NetBox's change logging (``core/signals.py``, ``netbox/context.py``):

* An *audit context* (a ``ContextVar``) holds the request id, who acts, from where, and the
  entries collected so far. ``OperationLogMiddleware`` opens one for every write request,
  the Celery task base class (``tenants.celery``) for every task run. Outside an audit
  context (migrations, shell, fixtures) nothing is captured and the signal handlers cost
  one ``ContextVar`` read.
* ``pre_save`` takes the row's old values, ``post_save`` diffs them field by field;
  ``post_delete`` records hard deletes. A soft delete or restore is a save that flips
  ``is_deleted``, recorded with the action ``delete`` or ``restore``.
* The old values come from the instance itself when it was loaded (or saved, or refreshed)
  inside the current audit context: audited models' ``from_db`` and ``refresh_from_db``
  remember the loaded columns (``install``), as NetBox's ``snapshot()`` does, so an update
  costs no extra ``SELECT``. Otherwise (loaded outside the context, pickled, deep-copied,
  another primary key or database, a column not loaded, a row changed by the audited
  ``QuerySet.update`` since) ``pre_save`` reads the stored row, as it always did. JSON
  values are copied when loaded, so changing them in place still shows in the diff. The
  old values are what the request or task saw: should another process change the row
  between this one's load and its save, that change is in the other's audit row, and a
  value this save writes back over it is not in this one's diff (a lost update, which a
  read just before the save would not have prevented either).
* Association rows (the ``through`` tables of many-to-many fields, seed 004 V12) are no
  entities of their own: ``m2m_changed`` and their own ``post_save``/``post_delete`` are
  recorded as ``m2m_add``/``m2m_remove``/``m2m_clear`` on the parent row.
* ``TenantQuerySet.update`` (and so its soft ``delete``) and ``bulk_create`` send no
  per-row signals, so they are wrapped (``install``): the affected rows are read before the
  update in the same transaction, at most ``AUDIT_BULK_DIFF_LIMIT`` of them per call; beyond
  that one summary entry names the count. Hard deletes (``hard_delete``) go through
  Django's collector, which sends ``post_delete`` for every row of an audited model.
* One context keeps at most ``AUDIT_MAX_ENTRIES`` entries; the rest are counted per model
  and action and written as one summary entry each.
* Entries are flushed only if their writes committed: each entry registers an
  ``on_commit`` marker on its database, and Django discards the markers of a savepoint that
  rolls back. At flush time an entry whose marker ran (committed), or is still queued in an
  enclosing transaction that is still open, is written; the others are dropped.
* Secrets never reach a log row (``core.redaction``): fields named like a secret or listed
  in a model's ``audit_secret_fields`` are masked, request bodies are masked by key, and
  every string is redacted (API keys, Authorization values).
* Payloads bigger than ``settings.LOG_PAYLOAD_LIMIT`` bytes are replaced by a truncation
  marker with a preview, never rejected.
* Writing a log never breaks the work being logged: a failure is reported with
  ``logger.exception`` and swallowed. Log rows are written by ``core.logrows`` (one
  ``INSERT`` per kind; on PostgreSQL the operation row and the audit rows of a request in
  one statement).

Log tables (the ``logs`` app, tables named ``*_logs``) and models declaring
``audit_exclude = True`` are not audited.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from core import logrows
from core.context import (
    clean_request_id,
    current_request_id,
    get_current_actor_id,
    get_current_tenant_id,
)
from core.redaction import MASK, is_secret_name, jsonable

logger = logging.getLogger("atrium.audit")

# Noise of every save: the stamp of the save itself, not a change someone made.
NOISE_FIELDS = frozenset({"updated_at", "updated_by", "updated_by_id", "alive"})
TRUNCATED_KEY = "__truncated__"
DEFAULT_PAYLOAD_LIMIT = 64 * 1024  # bytes
DEFAULT_BULK_DIFF_LIMIT = 500  # rows diffed per bulk call
DEFAULT_MAX_ENTRIES = 5000  # entries itemised per request or task

CREATE, UPDATE, DELETE, RESTORE = "create", "update", "delete", "restore"
M2M_ADD, M2M_REMOVE, M2M_CLEAR = "m2m_add", "m2m_remove", "m2m_clear"
BULK_UPDATE, BULK_DELETE = "bulk_update", "bulk_delete"


# ---------------------------------------------------------------------------
# The audit context
# ---------------------------------------------------------------------------


@dataclass
class Entry:
    """One pending audit row, written only if its change committed."""

    model: type[models.Model]
    entity_id: str
    action: str
    old: dict | None
    new: dict | None
    tenant_id: Any = None
    using: str = "default"
    committed: bool = False
    marker: Any = None

    def survived(self) -> bool:
        """Return whether the change was committed, or is still in an open transaction."""
        if self.committed:
            return True
        connection = transaction.get_connection(self.using)
        if not connection.in_atomic_block:
            return False
        return any(item[1] is self.marker for item in connection.run_on_commit)


@dataclass
class AuditState:
    """What the current request or task has done so far, and who and where it comes from."""

    request_id: str
    source: str = "request"
    ip: str | None = None
    user_agent: str = ""
    user: Any = None  # the user object when the caller knows it (saves a lookup)
    entries: list[Entry] = field(default_factory=list)
    m2m_depth: dict = field(default_factory=dict)
    overflow: dict = field(default_factory=dict)
    # Marks the row snapshots taken in this context (``remember_loaded``): a plain object,
    # so a pickled or deep-copied model instance carries a different one and is re-read.
    token: object = field(default_factory=object)
    # Rows (model, pk) and models changed by QuerySet.update in this context: their
    # instances' loaded values may be stale, so their old values are read from the row.
    stale_rows: set = field(default_factory=set)
    stale_models: set = field(default_factory=set)

    def add(self, entry: Entry) -> None:
        """Queue ``entry`` and mark it committed when its transaction commits."""
        if len(self.entries) >= max_entries():
            key = (entry.model, entry.action, entry.tenant_id, entry.using)
            self.overflow[key] = self.overflow.get(key, 0) + 1
            return

        def mark() -> None:
            entry.committed = True

        entry.marker = mark
        self.entries.append(entry)
        transaction.on_commit(mark, using=entry.using)

    def surviving(self) -> list[Entry]:
        """Return the entries whose changes were not rolled back.

        Entries over the cap carry no marker of their own: their summaries are kept when
        any recorded entry survived (the same request's writes).
        """
        entries = [entry for entry in self.entries if entry.survived()]
        if entries:
            for (model, action, tenant_id, using), count in self.overflow.items():
                entries.append(Entry(model, "*", action, None, {"rows_not_itemised": count},
                                     tenant_id=tenant_id, using=using, committed=True))
        self.overflow = {}
        return entries


_state: ContextVar[AuditState | None] = ContextVar("atrium_audit_state", default=None)


def current() -> AuditState | None:
    """Return the audit context of this request or task, or ``None`` outside one."""
    return _state.get()


@contextmanager
def audit_context(request_id: Any = None, **fields: Any) -> Iterator[AuditState]:
    """Collect audit entries for the block; the caller flushes them (``flush_audit``).

    ``request_id`` defaults to the request context's (``core.context``).
    """
    state = AuditState(request_id=clean_request_id(request_id or current_request_id()),
                       **fields)
    token = _state.set(state)
    try:
        yield state
    finally:
        _state.reset(token)


# ---------------------------------------------------------------------------
# Serialisation, redaction, truncation
# ---------------------------------------------------------------------------


def payload_limit() -> int:
    """Return the size limit of one log payload in bytes."""
    return int(getattr(settings, "LOG_PAYLOAD_LIMIT", DEFAULT_PAYLOAD_LIMIT))


_secret_fields: dict[tuple, frozenset[str]] = {}


def secret_fields(model: type[models.Model]) -> frozenset[str]:
    """Return the field names (and attnames) of ``model`` whose values are masked."""
    declared = tuple(getattr(model, "audit_secret_fields", ()))
    key = (model, declared)
    cached = _secret_fields.get(key)
    if cached is not None:
        return cached
    names = set(declared)
    for model_field in model._meta.concrete_fields:
        if model_field.name in names or is_secret_name(model_field.name):
            names.update({model_field.name, model_field.attname})
    _secret_fields[key] = result = frozenset(names)
    return result


def truncate(payload: Any, limit: int | None = None) -> Any:
    """Return ``payload``, or a truncation marker with a preview when it is over the limit."""
    if payload is None:
        return None
    limit = payload_limit() if limit is None else limit
    text = json.dumps(payload, ensure_ascii=False, default=str)
    size = len(text.encode())
    if size <= limit:
        return payload
    preview = text.encode()[: max(limit // 2, 0)].decode(errors="ignore")
    return {TRUNCATED_KEY: True, "size": size, "limit": limit, "preview": preview}


def truncate_text(text: str, limit: int | None = None) -> str:
    """Return ``text`` cut to ``limit`` bytes with a marker at the end when it is longer."""
    limit = payload_limit() if limit is None else limit
    data = (text or "").encode()
    if len(data) <= limit:
        return text or ""
    marker = f"... [{TRUNCATED_KEY}: {len(data)} bytes]"
    return data[: max(limit - len(marker.encode()), 0)].decode(errors="ignore") + marker


def masked(model: type[models.Model], values: dict | None) -> dict | None:
    """Return a row snapshot with secrets masked and values made JSON-safe."""
    if values is None:
        return None
    secrets = secret_fields(model)
    return {
        name: MASK if name in secrets and value not in (None, "") else jsonable(value)
        for name, value in values.items()
    }


# ---------------------------------------------------------------------------
# What is audited
# ---------------------------------------------------------------------------

_audited: dict[type, bool] = {}
_through: dict[type, list[tuple[type, str, str, str]]] = {}


def is_audited(model: type[models.Model]) -> bool:
    """Return whether changes of ``model`` are recorded (platform apps, no log tables)."""
    cached = _audited.get(model)
    if cached is not None:
        return cached
    meta = model._meta
    result = (
        meta.app_label in settings.PLATFORM_APPS
        # The logs app's tables are what the capture writes (and its rollups), not data.
        and meta.app_label != "logs"
        and not meta.proxy
        and not getattr(model, "audit_exclude", False)
        and not meta.db_table.endswith("logs")
        and model not in _through
    )
    _audited[model] = result
    return result


def snapshot(instance: models.Model, names: set[str] | None = None) -> dict:
    """Return the stored columns of ``instance`` by attname (``names`` only, if given)."""
    return {
        f.attname: getattr(instance, f.attname, None)
        for f in instance._meta.concrete_fields
        if names is None or f.attname in names or f.name in names
    }


def _column_names(model: type[models.Model], names: set[str] | None = None) -> list[str]:
    return [
        f.attname
        for f in model._meta.concrete_fields
        if names is None or f.attname in names or f.name in names
    ]


# ---------------------------------------------------------------------------
# Loaded values: the old values of an update without reading the row again
# ---------------------------------------------------------------------------

LOADED_ATTR = "_audit_loaded"
_MISSING = object()
_mutable: dict[type, frozenset[str]] = {}


def mutable_columns(model: type[models.Model]) -> frozenset[str]:
    """Return the attnames of ``model`` whose loaded values may be changed in place.

    Django's plain fields load immutable values; a field that converts what it loads
    (``from_db_value``: JSON, encrypted JSON, ...) may hand out a dict or a list.
    """
    cached = _mutable.get(model)
    if cached is None:
        cached = _mutable[model] = frozenset(
            f.attname for f in model._meta.concrete_fields if hasattr(f, "from_db_value")
        )
    return cached


def _copied(model: type[models.Model], values: dict) -> dict:
    mutable = mutable_columns(model)
    if not mutable:
        return values
    return {
        name: copy.deepcopy(value) if name in mutable else value for name, value in values.items()
    }


def remember_loaded(instance: models.Model, values: dict, *, merge: bool = True) -> None:
    """Keep ``values`` (attname -> value as stored) as the row ``instance`` reflects now.

    Only inside an audit context, and marked with its token: a snapshot never outlives the
    request or task that took it.
    """
    state = _state.get()
    if state is None:
        instance.__dict__.pop(LOADED_ATTR, None)
        return
    values = _copied(type(instance), values)
    loaded = instance.__dict__.get(LOADED_ATTR)
    if merge and loaded is not None and loaded[0] is state.token:
        values = {**_loaded_dict(loaded), **values}
    instance.__dict__[LOADED_ATTR] = (state.token, values)


def _loaded_dict(loaded: tuple) -> dict:
    # From from_db: (token, attnames, values); once used or merged: (token, dict).
    if len(loaded) == 3:
        return dict(zip(loaded[1], loaded[2]))
    return loaded[1]


def loaded_values(model: type[models.Model], instance: models.Model, using: str,
                  names: set[str] | None) -> dict | None:
    """Return the old values of ``names`` (all columns if ``None``) as ``instance`` was
    loaded in this audit context, or ``None`` when they must be read from the database."""
    loaded = instance.__dict__.get(LOADED_ATTR)
    state = _state.get()
    if loaded is None or state is None or loaded[0] is not state.token:
        return None
    if instance._state.db != using:
        return None
    concrete = model._meta.concrete_model
    if state.stale_rows or state.stale_models:
        if concrete in state.stale_models or (concrete, instance.pk) in state.stale_rows:
            return None
    values = _loaded_dict(loaded)
    if values.get(model._meta.pk.attname, _MISSING) != instance.pk:
        return None  # the instance now stands for another row
    try:
        return {name: values[name] for name in _column_names(model, names)}
    except KeyError:
        return None  # a column was not loaded (deferred)


def _wrap_from_db(original):
    """Return ``from_db`` that remembers the loaded columns inside an audit context."""

    def from_db(cls, db, field_names, values):
        instance = original(cls, db, field_names, values)
        state = _state.get()
        if state is not None:
            # Outside an audit context nothing is captured, so nothing is kept either.
            mutable = mutable_columns(cls)
            if mutable:
                values = [
                    copy.deepcopy(value) if name in mutable else value
                    for name, value in zip(field_names, values)
                ]
            instance.__dict__[LOADED_ATTR] = (state.token, field_names, values)
        return instance

    from_db._audit_wrapped = True
    return from_db


def _wrap_refresh_from_db(original):
    """Return ``refresh_from_db`` that takes the reloaded columns as the loaded values."""

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        original(self, using=using, fields=fields, from_queryset=from_queryset)
        if _state.get() is None:
            self.__dict__.pop(LOADED_ATTR, None)
            return
        deferred = self.get_deferred_fields()
        names = _column_names(type(self), set(fields) if fields is not None else None)
        remember_loaded(self, {
            name: self.__dict__[name]
            for name in names
            if name not in deferred and name in self.__dict__
        })

    refresh_from_db._audit_wrapped = True
    return refresh_from_db


def action_for(old: dict, new: dict) -> str:
    """Return ``delete``/``restore`` when the soft-delete flag flipped, else ``update``."""
    if "is_deleted" in old and "is_deleted" in new and old["is_deleted"] != new["is_deleted"]:
        return DELETE if new["is_deleted"] else RESTORE
    return UPDATE


def diff(old: dict, new: dict) -> tuple[dict, dict]:
    """Return the changed fields of two snapshots as ``(old values, new values)``."""
    changed = [
        name for name in new
        if name not in NOISE_FIELDS and name in old and old[name] != new[name]
    ]
    return {name: old[name] for name in changed}, {name: new[name] for name in changed}


def _tenant_of(model: type[models.Model], values: dict | None, pk: Any) -> Any:
    if values and values.get("tenant_id") is not None:
        return values["tenant_id"]
    if model._meta.label == "tenants.Tenant":
        return pk
    return None


def record(model, pk, action, old, new, *, tenant_id=None, using=None) -> None:
    """Queue one audit entry in the current context (no-op outside one)."""
    state = _state.get()
    if state is None:
        return
    state.add(
        Entry(
            model=model,
            entity_id=str(pk),
            action=action,
            old=masked(model, old),
            new=masked(model, new),
            tenant_id=tenant_id if tenant_id is not None else _tenant_of(model, new or old, pk),
            using=using or router.db_for_write(model),
        )
    )


# ---------------------------------------------------------------------------
# Signal handlers
# ---------------------------------------------------------------------------


def on_pre_save(sender, instance, raw=False, using=None, update_fields=None, **kwargs) -> None:
    """Snapshot the stored row before an update."""
    if _state.get() is None or raw or not is_audited(sender):
        return
    instance._audit_before = None
    if instance._state.adding or instance.pk is None:
        return
    names = set(update_fields) if update_fields is not None else None
    before = loaded_values(sender, instance, using, names)
    if before is None:
        before = (
            sender._base_manager.using(using)
            .filter(pk=instance.pk)
            .values(*_column_names(sender, names))
            .first()
        )
    instance._audit_before = before


def on_post_save(sender, instance, created, raw=False, using=None, update_fields=None,
                 **kwargs) -> None:
    """Record a create, or the field-level diff of an update (soft delete and restore too)."""
    if _state.get() is None or raw:
        return
    if sender in _through:
        _record_through_row(sender, instance, M2M_ADD, using)
        return
    if not is_audited(sender):
        return
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = None
    if created or before is None:
        after = snapshot(instance)
        record(sender, instance.pk, CREATE, None, after, using=using)
        remember_loaded(instance, after, merge=False)
        return
    after = {name: getattr(instance, name, None) for name in before}
    remember_loaded(instance, after)
    action = action_for(before, after)
    old, new = diff(before, after)
    if old or new:
        # With update_fields the tenant may not be among the saved columns.
        tenant_id = after.get("tenant_id", getattr(instance, "tenant_id", None))
        record(sender, instance.pk, action, old, new, tenant_id=tenant_id, using=using)


def on_post_delete(sender, instance, using=None, **kwargs) -> None:
    """Record a hard delete with the row as it was."""
    if _state.get() is None:
        return
    if sender in _through:
        _record_through_row(sender, instance, M2M_REMOVE, using)
        return
    if is_audited(sender):
        record(sender, instance.pk, DELETE, snapshot(instance), None, using=using)


def _record_through_row(sender, instance, action, using) -> None:
    state = _state.get()
    if state.m2m_depth.get(sender):
        return  # inside .add()/.remove(): m2m_changed records it
    for source, field_name, source_attr, target_attr in _through[sender]:
        pk = getattr(instance, source_attr, None)
        target = getattr(instance, target_attr, None)
        if pk is None or not is_audited(source):
            continue
        values = {field_name: [jsonable(target)]}
        old, new = (None, values) if action == M2M_ADD else (values, None)
        record(source, pk, action, old, new, using=using)


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, using=None,
                   **kwargs) -> None:
    """Record ``.add()``, ``.remove()``, ``.set()`` and ``.clear()`` on the parent row."""
    state = _state.get()
    if state is None or sender not in _through:
        return
    if action.startswith("pre_"):
        state.m2m_depth[sender] = state.m2m_depth.get(sender, 0) + 1
        if action == "pre_clear":
            instance._audit_cleared = _current_targets(sender, instance, reverse, using)
        return
    state.m2m_depth[sender] = max(state.m2m_depth.get(sender, 1) - 1, 0)
    kind = {"post_add": M2M_ADD, "post_remove": M2M_REMOVE, "post_clear": M2M_CLEAR}[action]
    if kind == M2M_CLEAR:
        pk_set = getattr(instance, "_audit_cleared", None) or set()
        instance._audit_cleared = None
    if not pk_set:
        return
    for source, field_name, _source_attr, _target_attr in _through[sender]:
        if not is_audited(source):
            continue
        if not reverse and isinstance(instance, source):
            parents = [(instance.pk, getattr(instance, "tenant_id", None), sorted(pk_set, key=str))]
        elif reverse and issubclass(model, source):
            parents = [(pk, None, [instance.pk]) for pk in sorted(pk_set, key=str)]
        else:
            continue
        for parent_pk, tenant_id, targets in parents:
            values = {field_name: jsonable(list(targets))}
            old, new = (None, values) if kind == M2M_ADD else (values, None)
            record(source, parent_pk, kind, old, new, tenant_id=tenant_id, using=using)
        break


def _current_targets(sender, instance, reverse, using) -> set:
    for source, _field_name, source_attr, target_attr in _through[sender]:
        if reverse:
            source_attr, target_attr = target_attr, source_attr
        return set(
            sender._base_manager.using(using)
            .filter(**{source_attr: instance.pk})
            .values_list(target_attr, flat=True)
        )
    return set()


# ---------------------------------------------------------------------------
# QuerySet wrappers (bulk paths send no per-row signals)
# ---------------------------------------------------------------------------


def max_entries() -> int:
    """Return the most entries one request or task itemises."""
    return int(getattr(settings, "AUDIT_MAX_ENTRIES", DEFAULT_MAX_ENTRIES))


def bulk_diff_limit() -> int:
    """Return the most rows one bulk call diffs row by row."""
    return int(getattr(settings, "AUDIT_BULK_DIFF_LIMIT", DEFAULT_BULK_DIFF_LIMIT))


def _wrap_update(original):
    def update(self, **kwargs):
        if _state.get() is None or not is_audited(self.model):
            return original(self, **kwargs)
        if set(kwargs) <= getattr(self.model, "audit_ignored_fields", frozenset()):
            # Counters and the like: the model keeps their own record.
            return original(self, **kwargs)
        model, using = self.model, self.db
        limit = bulk_diff_limit()
        names = list(dict.fromkeys([*_column_names(model, set(kwargs)), "tenant_id"]))
        with transaction.atomic(using=using):
            self._resolved()
            before = list(self.values("pk", *names)[: limit + 1])
            count = original(self, **kwargs)
            # Instances of these rows loaded earlier no longer show what is stored.
            state, concrete = _state.get(), model._meta.concrete_model
            if len(before) > limit:
                state.stale_models.add(concrete)
                record(model, "*", BULK_UPDATE, None,
                       {"rows": count, "fields": sorted(kwargs)}, using=using)
                return count
            state.stale_rows.update((concrete, row["pk"]) for row in before)
            after = {
                row.pop("pk"): row
                for row in model._base_manager.using(using)
                .filter(pk__in=[row["pk"] for row in before])
                .values("pk", *names)
            }
            for row in before:
                pk = row.pop("pk")
                new = after.get(pk)
                if new is None:
                    continue
                old, changed = diff(row, new)
                if old or changed:
                    record(model, pk, action_for(row, new), old, changed,
                           tenant_id=row.get("tenant_id"), using=using)
        return count

    update.alters_data = True
    update.queryset_only = False
    update._audit_wrapped = True
    return update


def _wrap_bulk_create(original):
    def bulk_create(self, objs, *args, **kwargs):
        result = original(self, objs, *args, **kwargs)
        if _state.get() is None or not is_audited(self.model):
            return result
        limit = bulk_diff_limit()
        using = self.db
        for index, obj in enumerate(result):
            if index >= limit or obj.pk is None:
                record(self.model, "*", CREATE, None, {"rows": len(result)}, using=using)
                break
            record(self.model, obj.pk, CREATE, None, snapshot(obj), using=using)
        return result

    bulk_create.alters_data = True
    bulk_create._audit_wrapped = True
    return bulk_create


# ---------------------------------------------------------------------------
# Installation (logs.apps.LogsConfig.ready)
# ---------------------------------------------------------------------------

_installed = False


def install() -> None:
    """Connect the signal handlers and wrap ``TenantQuerySet``'s bulk writes (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    models_ = apps.get_models(include_auto_created=True)
    for model in models_:
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if isinstance(through, str):
                continue
            _through.setdefault(through, []).append((
                model,
                m2m.name,
                through._meta.get_field(m2m.m2m_field_name()).attname,
                through._meta.get_field(m2m.m2m_reverse_field_name()).attname,
            ))
    _audited.clear()
    # Connected per model, not for every sender: a post_delete listener turns off Django's
    # fast delete for its sender, which must stay on for sessions and other tables.
    for model in models_:
        if model in _through:
            post_save.connect(on_post_save, sender=model, dispatch_uid="logs.audit")
            post_delete.connect(on_post_delete, sender=model, dispatch_uid="logs.audit")
            m2m_changed.connect(on_m2m_changed, sender=model, dispatch_uid="logs.audit")
        elif is_audited(model):
            pre_save.connect(on_pre_save, sender=model, dispatch_uid="logs.audit")
            post_save.connect(on_post_save, sender=model, dispatch_uid="logs.audit")
            post_delete.connect(on_post_delete, sender=model, dispatch_uid="logs.audit")
            # Loaded values stand in for the read of the old row (see the module docstring).
            if not getattr(model.from_db, "_audit_wrapped", False):
                model.from_db = classmethod(_wrap_from_db(model.from_db.__func__))
            if not getattr(model.refresh_from_db, "_audit_wrapped", False):
                model.refresh_from_db = _wrap_refresh_from_db(model.refresh_from_db)

    from tenants.managers import TenantQuerySet

    if not getattr(TenantQuerySet.update, "_audit_wrapped", False):
        # delete() of a soft-deletable model is an update underneath; hard deletes go
        # through Django's Collector, which sends post_delete per row of audited models.
        TenantQuerySet.update = _wrap_update(TenantQuerySet.update)
        TenantQuerySet.bulk_create = _wrap_bulk_create(TenantQuerySet.bulk_create)


# ---------------------------------------------------------------------------
# Flushing
# ---------------------------------------------------------------------------


def log_alias() -> str:
    """Return the database alias of the log tables."""
    from logs.models import AuditLog

    return router.db_for_write(AuditLog)


def actor_details(state: AuditState | None, actor_id: Any) -> tuple[str, Any, bool]:
    """Return ``(username, tenant id, is platform operator)`` of the acting user."""
    if actor_id is None:
        return "", None, False
    user = state.user if state is not None else None
    if user is None or str(getattr(user, "pk", None)) != str(actor_id):
        user = get_user_model()._base_manager.filter(pk=actor_id).first()
        if state is not None:
            state.user = user
    if user is None:
        return "", None, False
    return user.get_username(), user.tenant_id, bool(user.is_platform_operator)


def audit_rows(state: AuditState, entries: list[Entry], actor_id: Any) -> list:
    """Return the ``AuditLog`` rows of ``entries``, not yet saved."""
    from logs.models import AuditLog

    username, actor_tenant_id, operator = actor_details(state, actor_id)
    scope_tenant_id = get_current_tenant_id()
    rows = []
    for entry in entries:
        tenant_id = entry.tenant_id or scope_tenant_id or actor_tenant_id
        rows.append(
            AuditLog(
                tenant_id=tenant_id,
                user_id=actor_id,
                username=username,
                operator_tenant_id=(
                    actor_tenant_id if operator and str(tenant_id) != str(actor_tenant_id) else None
                ),
                request_id=state.request_id,
                source=state.source,
                entity_type=entry.model._meta.label_lower,
                entity_id=entry.entity_id[:64],
                action=entry.action,
                old_value=truncate(entry.old),
                new_value=truncate(entry.new),
                ip_address=state.ip,
                user_agent=(state.user_agent or "")[:500],
            )
        )
    return rows


def take_surviving(state: AuditState) -> list[Entry]:
    """Return the entries of ``state`` whose changes were not rolled back, and forget all."""
    entries = state.surviving()
    state.entries = []
    return entries


def flush_audit(state: AuditState, actor_id: Any = None) -> list[Entry]:
    """Write the surviving entries of ``state`` in one insert; return them.

    A failure is reported to the application log, never raised.
    """
    entries = take_surviving(state)
    if not entries:
        return []
    if actor_id is None:
        actor_id = get_current_actor_id()
    failure = ("Could not write %d audit log row(s) of request %s", len(entries), state.request_id)
    try:
        rows = audit_rows(state, entries, actor_id)
    except Exception:
        logger.exception(*failure)
        return entries
    logrows.write_log_rows([(rows, failure)], log_alias())
    return entries


def summary(entries: list[Entry]) -> tuple[Any, Any]:
    """Return the old and new values an operation log shows for ``entries``."""
    if not entries:
        return None, None
    if len(entries) == 1:
        return entries[0].old, entries[0].new
    old, new = {}, {}
    for entry in entries:
        key = f"{entry.model._meta.label_lower}:{entry.entity_id}:{entry.action}"
        if entry.old is not None:
            old[key] = entry.old
        if entry.new is not None:
            new[key] = entry.new
    return old or None, new or None


@contextmanager
def task_audit() -> Iterator[AuditState]:
    """Audit one Celery task run; write its audit rows if it succeeds.

    Registered with ``tenants.celery.register_run_wrapper`` when the app starts; the
    request id is the task's (the sender's request, else the task id).
    """
    with audit_context(source="celery") as state:
        yield state
        flush_audit(state)
