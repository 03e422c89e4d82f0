"""One tenant's data out to an archive and back (issue 19 item 5; seed 001 section 7,
seed 003 section 7.2 "verify").

Which tables: found from the model registry, so a new model cannot be forgotten.

* **owned**: every concrete model with a ``tenant`` foreign key to ``Tenant``
  (``TenantScopedModel`` and its subclasses, logs included);
* **link**: every model without one with a non-null foreign key to an owned model (the
  many-to-many tables: user roles, role grants, notification recipients, plan watchers);
  a link row belongs to the tenant of the owned row it points at;
* **global**: everything else (permissions, menus, API endpoints, built-in keywords,
  packages, content types). Never exported; a reference to a global row is written as its
  natural key and resolved on the target platform, with a clear error when it is missing;
* ``EXCLUDED``: tables left out on purpose, each with its reason.

``config.tests.test_tenant_archive`` checks that every installed model falls in one of
these classes.

The archive (``FORMAT_VERSION`` 1) is a gzip'd tar holding ``manifest.json`` and one
JSON-lines file per table, ``tables/<app_label>.<model>.jsonl``. A row is one JSON object
of the row's column values by attribute name (``department_id``), plain JSON, not Django's
serializer (which writes no sealed value and no ``tenant``-less rows):

* the ``tenant`` column is left out: the rows belong to whichever tenant they are imported
  into;
* a reference to another row of the tenant holds that row's key in the source;
* a reference to a global row, or to a tenant (``operator_tenant``), holds a list: its
  natural key (``["user:create"]``, ``["platform"]``), or ``["@self"]`` for the archived
  tenant itself;
* a reference to a row outside the tenant that is not global (a platform operator who
  created the tenant's first administrator) is written as ``null`` and counted in the
  manifest's ``external_references_dropped``; such a reference in a column that may not be
  null stops the export;
* datetimes, dates, UUIDs and decimals as text, binary values in base64, JSON values as
  JSON;
* sealed secrets (``core.crypto.EncryptedJSONField``) as the stored ciphertext: the
  archive never holds a secret in the clear, and a secret is never re-sealed on the way;
* hashed secrets (passwords, API key hashes) as stored.

The manifest records the format and its version, the platform (Django version, database
vendor, the migration leaves of every app), the source tenant's attributes, the log window,
and per table the model, row count, SHA-256 of its file and the content checksum.

The content checksum (``table_checksums``) does not depend on keys, so a restored tenant
with new keys has the checksums of its source: each row is reduced to its columns minus
its key, its tenant and its tree id; a reference inside the tenant is replaced by the
fingerprint of the row it points at (the SHA-256 of that row's own non-key columns), so
the checksum also covers which row points at which. A table's checksum is the SHA-256 of
its rows' sorted digests.

Import (``import_archive``) runs in one transaction on the tenant tables' database and
inside the new tenant's scope: create the tenant (or take an existing one that owns no
rows), give every row a new key (UUIDv7, or the database's next id for auto-increment
keys), rewrite every reference inside the tenant to the new keys, including self
references, django-mptt trees (new tree ids taken after the table's highest, under the
platform tenant's row lock that ``tenants.trees`` uses; ``lft``/``rght``/``level`` are
kept) and generic references (the audit log's ``entity_type``/``entity_id``, the admin
log's ``content_type``/``object_id``) that point at a row of the tenant; resolve global references
by natural key; insert with the foreign key checks deferred, check them, then recompute
the counts and checksums from the database and compare them with the manifest. Any
difference or error rolls everything back.

A value that must be unique across the whole platform (``globally_unique_fields``) that is
already taken on the target (importing a copy on the same platform) gets a fresh value
where ``FRESH_VALUES`` knows how to make one: an API key's prefix, so the copy's keys do not
authenticate with the original's plaintext keys (a copy never shares a credential). Those
columns count as keys in the checksum.

Sealed secrets on a platform with other ``FIELD_ENCRYPTION_KEYS``: the import tries to open
every sealed value with the target's keys and refuses when one does not open, naming the
tables. Add the source platform's key to ``FIELD_ENCRYPTION_KEYS`` (every listed key opens)
and run ``manage.py reencrypt_secrets`` afterwards, or pass ``keep_unreadable_secrets``
to import them sealed anyway (they then raise ``SecretUnreadable`` where they are used,
until they are entered again).

Left out: files in the media storage (stored Allure results: rows keep their paths, the
files are copied with the storage), ids inside JSON values (run snapshots, the audit log's
old and new values) which are history and copied as they are, and the usage rollups
(``EXCLUDED``).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import io
import json
import secrets
import tarfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models.functions import Cast
from django.db.models.sql import InsertQuery
from django.utils import timezone
from django.utils.duration import duration_iso_string

from core.context import all_tenants, tenant_context
from core.crypto import EncryptedJSONField, SecretUnreadable, unseal
from logs.partitioning import partitioning_of
from tenants.ids import uuid7
from tenants.models import Tenant

FORMAT = "atrium-tenant-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SELF = "@self"

EXCLUDED = {
    "logs.UsageDaily": "daily usage rolled up from the logs on the analytics datasource; "
                       "the rollup task computes it again on the target",
}

# Tenant attributes carried in the manifest and given to a tenant the import creates.
TENANT_FIELDS = ("name", "status", "plan", "settings", "description", "expires_on",
                 "user_quota", "outbound_networks")


def _fresh_api_key_prefix() -> str:
    from accounts.models.api_keys import PREFIX_ALPHABET, PREFIX_LENGTH

    return "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


FRESH_VALUES: dict[tuple[str, str], Callable[[], Any]] = {
    ("accounts.ApiKey", "prefix"): _fresh_api_key_prefix,
}

# Generic references kept as a model label in one column and an id in another
# (``logs.audit`` writes ``label_lower``). Django's own pattern, a ``content_type`` foreign
# key beside an ``object_id`` (the admin's ``LogEntry``), is found by ``_generic``.
LABEL_REFERENCES = {"logs.AuditLog": ("entity_type", "entity_id")}


def _generic(model: type[models.Model]) -> tuple[str, str] | None:
    """Return ``(kind column, id column)`` of the model's generic reference, if it has one."""
    label = model._meta.label
    if label in LABEL_REFERENCES:
        return LABEL_REFERENCES[label]
    names = {f.attname: f for f in model._meta.concrete_fields}
    content_type = names.get("content_type_id")
    if (content_type is not None and content_type.related_model._meta.label
            == "contenttypes.ContentType" and "object_id" in names):
        return ("content_type_id", "object_id")
    return None


def _generic_label(kind: Any) -> str | None:
    """Return the ``label_lower`` a generic reference's kind column names, as archived."""
    if isinstance(kind, list) and len(kind) == 2:  # a content type's natural key
        return f"{kind[0]}.{kind[1]}"
    return kind if isinstance(kind, str) else None


class ArchiveError(Exception):
    """An export or import that cannot proceed; the message says why and what to do."""


# --- which tables --------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One exported table: its model and how its rows belong to the tenant."""

    model: type[models.Model]
    kind: str  # "owned" or "link"
    owner: str = "tenant"  # the field that ties a row to the tenant

    @property
    def label(self) -> str:
        """Return the model's label (``accounts.User``)."""
        return self.model._meta.label

    @property
    def file(self) -> str:
        """Return the table's file inside the archive."""
        return f"tables/{self.model._meta.label_lower}.jsonl"

    @property
    def log_column(self) -> str | None:
        """Return the time column of a partitioned log table, else ``None``."""
        partitioning = partitioning_of(self.model)
        return partitioning.column if partitioning is not None else None


def _concrete_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models(include_auto_created=True)
            if not m._meta.proxy and not m._meta.abstract]


def _is_owned(model: type[models.Model]) -> bool:
    return any(f.name == "tenant" and f.is_relation and f.related_model is Tenant
               for f in model._meta.concrete_fields)


def tenant_tables() -> list[Table]:
    """Return every table holding a tenant's rows, owned tables first, in a stable order."""
    owned = [m for m in _concrete_models()
             if _is_owned(m) and m._meta.label not in EXCLUDED]
    owned_set = set(owned)
    tables = [Table(m, "owned") for m in owned]
    for model in _concrete_models():
        if model in owned_set or model._meta.label in EXCLUDED:
            continue
        # A row that cannot exist without a tenant's row (a many-to-many link); a nullable
        # reference (a package's creator) does not make a platform row the tenant's.
        links = [f for f in model._meta.concrete_fields
                 if f.is_relation and f.related_model in owned_set and not f.null]
        if links:
            tables.append(Table(model, "link", owner=links[0].name))
    return tables


def global_models() -> list[type[models.Model]]:
    """Return the models whose rows belong to the platform, not to a tenant."""
    exported = {t.model for t in tenant_tables()}
    return [m for m in _concrete_models()
            if m not in exported and m._meta.label not in EXCLUDED and m is not Tenant]


def natural_key_fields(model: type[models.Model]) -> tuple[str, ...]:
    """Return the attribute names that identify a global row on any platform."""
    meta = model._meta
    for f in meta.concrete_fields:
        if f.unique and not f.primary_key and not f.is_relation:
            return (f.attname,)
    candidates = [tuple(c.fields) for c in meta.constraints
                  if isinstance(c, models.UniqueConstraint) and c.fields and c.condition is None]
    candidates += [tuple(group) for group in meta.unique_together]
    for names in candidates:
        fields = [meta.get_field(name) for name in names]
        if not any(f.is_relation for f in fields):
            return tuple(f.attname for f in fields)
    raise ArchiveError(f"{meta.label} has no natural key (a unique column); tenant rows "
                       "cannot refer to it portably.")


def _tree_id_attr(model: type[models.Model]) -> str | None:
    mptt_meta = getattr(model, "_mptt_meta", None)
    return mptt_meta.tree_id_attr if mptt_meta is not None else None


def _globally_unique(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(getattr(model, "globally_unique_fields", ()))


# --- reading rows --------------------------------------------------------------------------


@dataclass
class LogWindow:
    """Which log rows go into the archive: none, all, or those in ``[start, end)``."""

    include: bool = True
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def as_json(self) -> dict:
        """Return the window as the manifest records it."""
        return {"included": self.include,
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}


def _rows_queryset(table: Table, tenant_id: uuid.UUID, logs: LogWindow):
    model = table.model
    lookup = "tenant_id" if table.kind == "owned" else f"{table.owner}__tenant_id"
    queryset = model._base_manager.filter(**{lookup: tenant_id})
    column = table.log_column
    if column is not None:
        if not logs.include:
            return queryset.none()
        if logs.start is not None:
            queryset = queryset.filter(**{f"{column}__gte": logs.start})
        if logs.end is not None:
            queryset = queryset.filter(**{f"{column}__lt": logs.end})
    return queryset.order_by(model._meta.pk.attname)


def _encode(field: models.Field, value: Any) -> Any:
    """Return a column value as JSON."""
    if value is None or isinstance(field, (models.JSONField, EncryptedJSONField)):
        return value
    if isinstance(value, (bytes, memoryview, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, dt.timedelta):
        return duration_iso_string(value)
    return value


class _NaturalKeys:
    """Natural keys of global rows and tenants, looked up once per row."""

    def __init__(self, tenant_id: uuid.UUID) -> None:
        self.tenant_id = tenant_id
        self.cache: dict[tuple[type, Any], list] = {}

    def of(self, model: type[models.Model], pk: Any) -> list | None:
        """Return the natural key of row ``pk`` of ``model``, or ``None`` when it is gone
        (log tables keep references without a database constraint)."""
        key = (model, pk)
        if key not in self.cache:
            if model is Tenant:
                code = Tenant.objects.filter(pk=pk).values_list("code", flat=True).first()
                value = [SELF] if pk == self.tenant_id else ([code] if code else None)
            else:
                names = natural_key_fields(model)
                by_attname = {f.attname: f for f in model._meta.concrete_fields}
                row = model._base_manager.filter(pk=pk).values_list(*names).first()
                value = (None if row is None
                         else [_encode(by_attname[n], v) for n, v in zip(names, row)])
            self.cache[key] = value
        return self.cache[key]


def read_tenant(tenant: Tenant, tables: list[Table], logs: LogWindow):
    """Return ``(rows by label, dropped external references)`` of one tenant, as JSON.

    Runs inside the tenant's scope; every query filters by the tenant explicitly.
    """
    with tenant_context(tenant):
        keys: dict[type, set] = {}
        querysets = {t.label: _rows_queryset(t, tenant.pk, logs) for t in tables}
        for table in tables:
            keys[table.model] = set(querysets[table.label].values_list("pk", flat=True))
        natural = _NaturalKeys(tenant.pk)
        global_set = set(global_models())
        rows: dict[str, list[dict]] = {}
        dropped: dict[str, int] = defaultdict(int)
        for table in tables:
            model = table.model
            fields = [f for f in model._meta.concrete_fields
                      if not (table.kind == "owned" and f.name == "tenant")]
            sealed = {f.attname for f in fields if isinstance(f, EncryptedJSONField)}
            plain = [f.attname for f in fields if f.attname not in sealed]
            queryset = querysets[table.label].annotate(
                **{f"_sealed_{name}": Cast(name, models.TextField()) for name in sealed})
            out = []
            for values in queryset.values(*plain, *(f"_sealed_{n}" for n in sealed)):
                row = {}
                for f in fields:
                    if f.attname in sealed:
                        row[f.attname] = values[f"_sealed_{f.attname}"] or None
                        continue
                    value = values[f.attname]
                    if f.is_relation and value is not None:
                        target = f.related_model
                        if target in keys:
                            if value not in keys[target]:
                                if not f.null:
                                    raise ArchiveError(
                                        f"{table.label}.{f.name} refers to a "
                                        f"{target._meta.label} row outside the tenant, and "
                                        "the column cannot be empty.")
                                dropped[f"{table.label}.{f.name}"] += 1
                                value = None
                        elif target is Tenant or target in global_set:
                            value = natural.of(target, value)
                            if value is None and not f.null:
                                raise ArchiveError(f"{table.label}.{f.name} refers to a "
                                                   f"missing {target._meta.label} row.")
                            if value is None:
                                dropped[f"{table.label}.{f.name}"] += 1
                        elif f.null:
                            dropped[f"{table.label}.{f.name}"] += 1
                            value = None
                        else:
                            raise ArchiveError(f"{table.label}.{f.name} refers to "
                                               f"{target._meta.label}, which is not exported.")
                    row[f.attname] = _encode(f, value) if not isinstance(value, list) else value
                out.append(row)
            rows[table.label] = out
        return rows, dict(dropped)


# --- checksums -----------------------------------------------------------------------------


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _internal_refs(table: Table, labels: dict[type, str]) -> dict[str, str]:
    """Return ``{attname: target label}`` of the table's references to exported rows."""
    return {f.attname: labels[f.related_model] for f in table.model._meta.concrete_fields
            if f.is_relation and f.related_model in labels}


def _key_columns(table: Table, labels: dict[type, str]) -> set[str]:
    model = table.model
    keys = {model._meta.pk.attname, *_internal_refs(table, labels)}
    keys |= {model._meta.get_field(n).attname for n in _globally_unique(model)}
    tree_id = _tree_id_attr(model)
    if tree_id:
        keys.add(tree_id)
    generic = _generic(model)
    if generic is not None:
        keys.add(generic[1])
    return keys


def table_checksums(tables: list[Table], rows: dict[str, list[dict]]) -> dict[str, str]:
    """Return the key-independent content checksum of each table (see the module docstring)."""
    labels = {t.model: t.label for t in tables}
    by_lower = {t.model._meta.label_lower: t.label for t in tables}
    fingerprint: dict[tuple[str, str], str] = {}
    for table in tables:
        keys = _key_columns(table, labels)
        pk = table.model._meta.pk.attname
        for row in rows[table.label]:
            own = {k: v for k, v in row.items() if k not in keys}
            fingerprint[(table.label, str(row[pk]))] = _digest(own)
    result = {}
    for table in tables:
        keys = _key_columns(table, labels)
        refs = _internal_refs(table, labels)
        generic = _generic(table.model)
        digests = []
        for row in rows[table.label]:
            canonical = {k: v for k, v in row.items() if k not in keys}
            for attname, target in refs.items():
                value = row[attname]
                canonical[attname] = (None if value is None
                                      else fingerprint.get((target, str(value)), "?"))
            if generic is not None:
                kind, ident = row[generic[0]], row[generic[1]]
                target = by_lower.get(_generic_label(kind))
                canonical[generic[1]] = fingerprint.get((target, str(ident)), ident)
            digests.append(_digest(canonical))
        result[table.label] = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()
    return result


# --- export --------------------------------------------------------------------------------


def _schema_leaves(alias: str) -> dict[str, list[str]]:
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    leaves: dict[str, list[str]] = defaultdict(list)
    for app_label, name in loader.graph.leaf_nodes():
        leaves[app_label].append(name)
    return {app: sorted(names) for app, names in sorted(leaves.items())}


def _tables_alias(tables: list[Table]) -> str:
    aliases = {router.db_for_write(t.model) for t in tables}
    if len(aliases) != 1:
        raise ArchiveError("The tenant's tables live on several databases "
                           f"({', '.join(sorted(aliases))}); one transaction cannot cover them.")
    return aliases.pop()


@dataclass
class ExportResult:
    """What an export wrote."""

    path: Path
    manifest: dict
    seconds: float


def export_tenant(code: str, out: Path | str, *, logs: LogWindow | None = None) -> ExportResult:
    """Write every row of tenant ``code`` to the archive ``out``."""
    started = time.monotonic()
    logs = logs or LogWindow()
    tenant = Tenant.objects.filter(code=str(code).strip().lower()).first()
    if tenant is None:
        raise ArchiveError(f"There is no tenant with code {code!r}.")
    tables = tenant_tables()
    alias = _tables_alias(tables)
    try:
        with transaction.atomic(using=alias):  # one snapshot where the backend gives one
            rows, dropped = read_tenant(tenant, tables, logs)
    except DatabaseError as exc:
        raise ArchiveError(f"The tenant's rows cannot be read ({exc}); is the database "
                           "migrated to this release (manage.py migrate)?") from exc
    checksums = table_checksums(tables, rows)
    files = {}
    table_entries = []
    for table in tables:
        data = "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n"
                       for row in rows[table.label]).encode()
        files[table.file] = data
        table_entries.append({
            "model": table.label, "db_table": table.model._meta.db_table, "kind": table.kind,
            "log": table.log_column is not None, "file": table.file,
            "rows": len(rows[table.label]), "file_sha256": hashlib.sha256(data).hexdigest(),
            "checksum": checksums[table.label],
        })
    tenant_values = dict(Tenant.objects.filter(pk=tenant.pk).values(*TENANT_FIELDS).get())
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "platform": {"django": django.get_version(), "vendor": connections[alias].vendor,
                     "migrations": _schema_leaves(alias)},
        "tenant": {"id": str(tenant.pk), "code": tenant.code,
                   "package": [tenant.package.code] if tenant.package_id else None,
                   **{k: _encode(Tenant._meta.get_field(k), v)
                      for k, v in tenant_values.items()}},
        "logs": logs.as_json(),
        "sealed_fields": sorted(f"{t.label}.{f.name}" for t in tables
                                for f in t.model._meta.concrete_fields
                                if isinstance(f, EncryptedJSONField)),
        "external_references_dropped": dropped,
        "tables": table_entries,
    }
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(partial, "w:gz") as archive:
            _add(archive, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
            for name, data in files.items():
                _add(archive, name, data)
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"The archive cannot be written to {out}: {exc}") from exc
    return ExportResult(out, manifest, time.monotonic() - started)


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


# --- import --------------------------------------------------------------------------------


def read_archive(path: Path | str) -> tuple[dict, dict[str, list[dict]]]:
    """Return ``(manifest, rows by label)`` of an archive, checking its files' SHA-256."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {m.name: m for m in archive.getmembers() if m.isfile()}
            if MANIFEST not in members:
                raise ArchiveError(f"{path} is not a tenant archive: it has no {MANIFEST}.")
            manifest = json.loads(archive.extractfile(members[MANIFEST]).read())
            if manifest.get("format") != FORMAT:
                raise ArchiveError(f"{path} is not a tenant archive (format "
                                   f"{manifest.get('format')!r}).")
            if manifest.get("format_version") != FORMAT_VERSION:
                raise ArchiveError(
                    f"The archive has format version {manifest.get('format_version')}; this "
                    f"platform reads version {FORMAT_VERSION}.")
            rows = {}
            for entry in manifest["tables"]:
                member = members.get(entry["file"])
                if member is None:
                    raise ArchiveError(f"The archive lacks {entry['file']}.")
                data = archive.extractfile(member).read()
                if hashlib.sha256(data).hexdigest() != entry["file_sha256"]:
                    raise ArchiveError(f"{entry['file']} does not match its checksum in the "
                                       "manifest: the archive is damaged.")
                rows[entry["model"]] = [json.loads(line) for line in data.splitlines() if line]
    except (tarfile.TarError, OSError, EOFError, ValueError, KeyError) as exc:
        raise ArchiveError(f"{path} cannot be read as a tenant archive: {exc}") from exc
    return manifest, rows


@dataclass
class ImportReport:
    """What an import restored and how it was checked."""

    tenant: Tenant
    source_code: str
    tables: list[dict] = field(default_factory=list)  # model, expected, restored, checksum ok
    fresh_values: dict[str, int] = field(default_factory=dict)
    unreadable_secrets: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Return how many rows were restored."""
        return sum(entry["restored"] for entry in self.tables)


def _decode(field: models.Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, EncryptedJSONField):
        return models.Value(value, output_field=models.TextField())
    if isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.BinaryField):
        return base64.b64decode(value)
    return field.to_python(value)


def _check_schema(manifest: dict, alias: str) -> None:
    here = _schema_leaves(alias)
    theirs = manifest["platform"]["migrations"]
    differ = sorted(app for app in set(here) | set(theirs) if here.get(app) != theirs.get(app))
    if differ:
        details = "; ".join(f"{app}: archive {theirs.get(app)} here {here.get(app)}"
                            for app in differ)
        raise ArchiveError("The archive was made at another schema version; migrate both "
                           f"platforms to the same release first ({details}).")


def _target_tenant(manifest: dict, code: str, tables: list[Table]) -> Tenant:
    tenant = Tenant.objects.select_for_update().filter(code=code).first()
    if tenant is not None:
        with tenant_context(tenant):
            busy = [t.label for t in tables
                    if _rows_queryset(t, tenant.pk, LogWindow()).exists()]
        if busy:
            raise ArchiveError(f"Tenant {code!r} already has data ({', '.join(busy[:5])}"
                               f"{', ...' if len(busy) > 5 else ''}); import into a new code "
                               "with --as, or into an empty tenant.")
        return tenant
    source = manifest["tenant"]
    values = {k: _decode(Tenant._meta.get_field(k), source.get(k)) for k in TENANT_FIELDS}
    values = {k: v for k, v in values.items() if v is not None or Tenant._meta.get_field(k).null}
    package = None
    if source.get("package"):
        from tenants.models import TenantPackage

        package = TenantPackage.objects.filter(code=source["package"][0]).first()
        if package is None:
            raise ArchiveError(f"The tenant's package {source['package'][0]!r} does not "
                               "exist on this platform; create it first.")
    tenant = Tenant(code=code, package=package, **values)
    try:
        tenant.full_clean()
    except ValidationError as exc:
        problems = "; ".join(f"{name}: {' '.join(map(str, errors))}"
                             for name, errors in exc.message_dict.items())
        raise ArchiveError(f"The tenant {code!r} cannot be created: {problems}") from exc
    tenant.save()
    return tenant


def _resolve_natural(model: type[models.Model], key: list, tenant: Tenant, source_code: str,
                     cache: dict) -> Any:
    cache_key = (model, tuple(map(str, key)))
    if cache_key not in cache:
        if model is Tenant:
            code = key[0]
            if code == SELF:
                cache[cache_key] = tenant.pk
            else:
                pk = Tenant.objects.filter(code=code).values_list("pk", flat=True).first()
                if pk is None:
                    raise ArchiveError(f"The archive refers to tenant {code!r}, which this "
                                       "platform does not have.")
                cache[cache_key] = pk
        else:
            names = natural_key_fields(model)
            by_attname = {f.attname: f for f in model._meta.concrete_fields}
            lookup = {n: by_attname[n].to_python(v) for n, v in zip(names, key)}
            pk = model._base_manager.filter(**lookup).values_list("pk", flat=True).first()
            if pk is None:
                shown = ", ".join(f"{n}={v!r}" for n, v in lookup.items())
                raise ArchiveError(f"The archive refers to {model._meta.label} {shown}, "
                                   "which this platform does not have.")
            cache[cache_key] = pk
    return cache[cache_key]


def _auto_pk(model: type[models.Model]) -> bool:
    return isinstance(model._meta.pk, models.AutoField)


def _insert(model: type[models.Model], objs: list[models.Model], fields: list[models.Field],
            alias: str, *, returning: bool) -> list:
    """Insert ``objs`` as they are (``raw``: no ``auto_now``, no signals, no ``save()``)."""
    connection = connections[alias]
    ids = []
    if returning:
        for obj in objs:
            query = InsertQuery(model)
            query.insert_values(fields, [obj], raw=True)
            result = query.get_compiler(using=alias).execute_sql([model._meta.pk])
            ids.append(result[0][0])
        return ids
    size = max(1, connection.ops.bulk_batch_size(fields, objs) or len(objs))
    for start in range(0, len(objs), size):
        query = InsertQuery(model)
        query.insert_values(fields, objs[start:start + size], raw=True)
        query.get_compiler(using=alias).execute_sql(None)
    return ids


def import_archive(path: Path | str, *, code: str | None = None,
                   keep_unreadable_secrets: bool = False,
                   out: Callable[[str], None] | None = None) -> ImportReport:
    """Restore an archive into an empty tenant ``code`` (default: the source's code)."""
    started = time.monotonic()
    manifest, archived = read_archive(path)
    tables = tenant_tables()
    known = {t.label: t for t in tables}
    missing = [entry["model"] for entry in manifest["tables"] if entry["model"] not in known]
    if missing:
        raise ArchiveError(f"This platform has no table for {', '.join(missing)}.")
    order = {label: i for i, label in enumerate(e["model"] for e in manifest["tables"])}
    tables = sorted((t for t in tables if t.label in order), key=lambda t: order[t.label])
    alias = _tables_alias(tables)
    _check_schema(manifest, alias)
    source_code = manifest["tenant"]["code"]
    code = (code or source_code).strip().lower()
    report_secrets = _check_secrets(tables, archived, keep_unreadable_secrets)
    with transaction.atomic(using=alias):
        tenant = _target_tenant(manifest, code, tables)
        report = ImportReport(tenant=tenant, source_code=source_code,
                              unreadable_secrets=report_secrets)
        with tenant_context(tenant):
            try:
                _restore(tenant, tables, archived, alias, source_code, report)
            except (KeyError, ValueError, TypeError, ValidationError, DatabaseError) as exc:
                # Raised inside the transaction: everything written so far rolls back.
                raise ArchiveError(f"The archive's rows cannot be restored ({exc!r}); "
                                   "nothing was imported.") from exc
            _verify(tenant, tables, manifest, report)
    report.seconds = time.monotonic() - started
    return report


def _check_secrets(tables: list[Table], archived: dict, keep: bool) -> dict[str, int]:
    unreadable: dict[str, int] = defaultdict(int)
    for table in tables:
        sealed = [f.attname for f in table.model._meta.concrete_fields
                  if isinstance(f, EncryptedJSONField)]
        for row in archived[table.label] if sealed else ():
            for name in sealed:
                if row.get(name) is None:
                    continue
                try:
                    unseal(row[name])
                except SecretUnreadable:
                    unreadable[f"{table.label}.{name}"] += 1
    if unreadable and not keep:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(unreadable.items()))
        raise ArchiveError(
            f"FIELD_ENCRYPTION_KEYS of this platform cannot open sealed secrets in {listed}. "
            "Add the source platform's key to FIELD_ENCRYPTION_KEYS (then run "
            "reencrypt_secrets), or pass --keep-unreadable-secrets to import them sealed.")
    return dict(unreadable)


def _restore(tenant: Tenant, tables: list[Table], archived: dict, alias: str,
             source_code: str, report: ImportReport) -> None:
    labels = {t.model: t.label for t in tables}
    by_lower = {t.model._meta.label_lower: t.label for t in tables}
    referenced = {f.related_model for t in tables for f in t.model._meta.concrete_fields
                  if f.is_relation and f.related_model in labels}
    new_keys: dict[str, dict[str, Any]] = defaultdict(dict)
    for table in tables:
        if not _auto_pk(table.model):
            pk = table.model._meta.pk.attname
            for row in archived[table.label]:
                new_keys[table.label][str(row[pk])] = uuid7()
    # Tables whose auto-increment keys others refer to go first, so their ids are known.
    first = [t for t in tables if _auto_pk(t.model) and t.model in referenced]
    rest = [t for t in tables if t not in first]
    natural_cache: dict = {}
    connection = connections[alias]
    with connection.constraint_checks_disabled():
        for table in first + rest:
            model = table.model
            auto = _auto_pk(model)
            fields = [f for f in model._meta.local_concrete_fields
                      if not (auto and f.primary_key)]
            refs = _internal_refs(table, labels)
            tree_ids = _new_tree_ids(model, archived[table.label])
            unique = {model._meta.get_field(n).attname: n for n in _globally_unique(model)}
            taken = {attname: _taken(model, attname, [r[attname] for r in archived[table.label]])
                     for attname in unique}
            generic = _generic(model)
            objs = []
            for row in archived[table.label]:
                values = {}
                for f in fields:
                    value = row.get(f.attname)
                    if f.name == "tenant" and table.kind == "owned":
                        values[f.attname] = tenant.pk
                        continue
                    if f.primary_key:
                        values[f.attname] = new_keys[table.label][str(value)]
                    elif f.attname in refs and value is not None:
                        target = refs[f.attname]
                        try:
                            values[f.attname] = new_keys[target][str(value)]
                        except KeyError:
                            raise ArchiveError(f"{table.label}.{f.name} refers to a "
                                               f"{target} row missing from the archive.")
                    elif f.is_relation and isinstance(value, list):
                        values[f.attname] = _resolve_natural(
                            f.related_model, value, tenant, source_code, natural_cache)
                    elif f.attname == _tree_id_attr(model) and value is not None:
                        values[f.attname] = tree_ids[value]
                    elif f.attname in unique and value in taken[f.attname]:
                        values[f.attname] = FRESH_VALUES[(table.label, unique[f.attname])]()
                        key = f"{table.label}.{unique[f.attname]}"
                        report.fresh_values[key] = report.fresh_values.get(key, 0) + 1
                    else:
                        values[f.attname] = _decode(f, value)
                if generic is not None:
                    kind, ident = row.get(generic[0]), row.get(generic[1])
                    mapped = new_keys.get(by_lower.get(_generic_label(kind)), {}).get(str(ident))
                    if mapped is not None:
                        values[generic[1]] = str(mapped)
                objs.append(model(**values))
            for attname, name in unique.items():
                if taken[attname] and (table.label, name) not in FRESH_VALUES:
                    raise ArchiveError(f"{table.label}.{name} must be unique on the whole "
                                       "platform and the archive's values are taken here.")
            ids = _insert(model, objs, fields, alias, returning=auto and model in referenced)
            if auto and model in referenced:
                pk = model._meta.pk.attname
                for row, new in zip(archived[table.label], ids):
                    new_keys[table.label][str(row[pk])] = new
        connection.check_constraints(table_names=[t.model._meta.db_table for t in tables])


def _taken(model: type[models.Model], attname: str, values: list) -> set:
    """Return which of ``values`` of a platform-wide unique column are used on the platform.

    Read as the platform (row-level security would hide other tenants' values), and only
    the column itself.
    """
    with all_tenants():
        return set(model._base_manager.filter(**{f"{attname}__in": values})
                   .values_list(attname, flat=True))


def _new_tree_ids(model: type[models.Model], rows: list[dict]) -> dict[int, int]:
    """Return new django-mptt tree ids after the table's highest, one per archived tree."""
    attr = _tree_id_attr(model)
    if attr is None or not rows:
        return {}
    # The lock every tree id allocation takes (tenants.trees.TenantTreeManager).
    Tenant.objects.select_for_update().filter(is_platform=True).exists()
    # Tree ids are numbered across the whole table: the one read beyond the tenant, as the
    # platform (under PostgreSQL row-level security the tenant's scope would see only its
    # own trees), and only the highest number.
    with all_tenants():
        highest = model._base_manager.aggregate(top=models.Max(attr))["top"] or 0
    old = sorted({row[attr] for row in rows if row.get(attr) is not None})
    return {value: highest + index for index, value in enumerate(old, start=1)}


def _verify(tenant: Tenant, tables: list[Table], manifest: dict, report: ImportReport) -> None:
    """Recompute counts and checksums of the restored tenant; raise on any difference."""
    rows, _dropped = read_tenant(tenant, tables, LogWindow())
    checksums = table_checksums(tables, rows)
    failed = []
    for entry in manifest["tables"]:
        label = entry["model"]
        restored = len(rows[label])
        ok = restored == entry["rows"] and checksums[label] == entry["checksum"]
        report.tables.append({"model": label, "expected": entry["rows"],
                              "restored": restored, "ok": ok})
        if not ok:
            failed.append(f"{label} (rows {restored}/{entry['rows']}, checksum "
                          f"{'ok' if checksums[label] == entry['checksum'] else 'differs'})")
    if failed:
        raise ArchiveError("The restored data does not match the archive; nothing was "
                           f"imported: {'; '.join(failed)}.")


def iter_report_lines(report: ImportReport) -> Iterable[str]:
    """Yield the lines of the import report."""
    yield (f"Imported tenant {report.source_code!r} as {report.tenant.code!r}: "
           f"{report.rows} rows in {len(report.tables)} tables, {report.seconds:.2f} s.")
    for entry in report.tables:
        if entry["expected"]:
            yield (f"  {entry['model']:<36} {entry['restored']:>7} rows  "
                   f"{'verified' if entry['ok'] else 'MISMATCH'}")
    yield "Verified: row counts and content checksums equal the manifest."
    for key, count in sorted(report.fresh_values.items()):
        yield (f"  {key}: {count} value(s) already used on this platform were replaced "
               "(copied API keys get new prefixes: the original plaintext keys do not "
               "authenticate in the copy).")
    for key, count in sorted(report.unreadable_secrets.items()):
        yield (f"  {key}: {count} sealed value(s) this platform's keys cannot open were "
               "imported sealed.")
