"""A unique violation refused by the database, told as the validation error it stands for.

Validation checks uniqueness before a write, but two concurrent requests can both pass the
check, and the database then refuses the second write with an ``IntegrityError``.
``unique_violation`` finds the model and the unique constraint (or unique field, or
``unique_together``) the database named, and returns the ``ValidationError`` that
validation would have raised had it seen the other row: the same message, on the same
field. The API's error handler, the admin site and the pages turn it into the same 400 field
error as a duplicate found by validation (issue 10, item 4).

How each backend names what was violated:

* PostgreSQL: SQLSTATE 23505 with the table and the key's columns in the diagnostics;
* SQLite: ``UNIQUE constraint failed: table.column, ...``;
* MariaDB/MySQL: error 1062 with the index name only (MySQL 8 prefixes the table). The
  index of a ``unique=True`` field is named after its column, so ``code`` may name the
  index of several tables; the caller's ``models`` (the model the view writes) settle it;
* Oracle: ORA-00001 with the constraint's name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, models
from django.utils.translation import gettext as _

_SQLITE = re.compile(r"UNIQUE constraint failed: (?P<columns>.+)$")
_SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '(?P<name>[^']+)'")
_MYSQL_KEY = re.compile(r"for key '(?P<name>[^']+)'")
_POSTGRES_KEY = re.compile(r"Key \((?P<columns>.+?)\)=")
_ORACLE = re.compile(r"ORA-00001: unique constraint \((?:[^.]+\.)?(?P<name>[^)]+)\)")


@dataclass(frozen=True)
class UniqueRule:
    """One set of columns a model keeps unique, and the names the database may give it."""

    model: type[models.Model]
    table: str
    columns: tuple[str, ...]
    fields: tuple[str, ...]
    names: frozenset[str]
    constraint: models.UniqueConstraint | None

    def error(self, *, capitalise: bool = True) -> ValidationError:
        """Return the error validation raises for a duplicate of this rule.

        Mirrors ``Model.validate_constraints`` and ``Model.validate_unique``: a constraint's
        own message when it has one, Django's "... with this ... already exists." otherwise;
        on the field when one field is unique on its own, as a non-field error otherwise.
        Django capitalises the names in that sentence ("Tenant package with this Code");
        DRF's unique validators do not (``capitalise=False``).
        """
        constraint = self.constraint
        if constraint is not None and (
            constraint.violation_error_message != constraint.default_violation_error_message
        ):
            error = ValidationError(
                constraint.get_violation_error_message(), code=constraint.violation_error_code
            )
        elif len(self.fields) == 1 and not capitalise:
            field = self.model._meta.get_field(self.fields[0])
            error = ValidationError(
                field.error_messages["unique"] % {"model_name": self.model._meta.verbose_name,
                                                  "field_label": field.verbose_name},
                code="unique",
            )
        else:
            error = self.model().unique_error_message(self.model, self.fields)
        if getattr(error, "code", None) == "unique" and len(self.fields) == 1:
            return ValidationError({self.fields[0]: [error]})
        return ValidationError({NON_FIELD_ERRORS: [error]})


def _generated_name(table: str, columns: list[str], suffix: str) -> str:
    """Return the name Django's schema editor gives an index it names itself."""
    # Not entered as a context manager: naming needs no connection state (and SQLite's
    # editor refuses to enter inside a transaction).
    editor = connection.SchemaEditorClass(connection)
    return editor._create_index_name(table, columns, suffix=suffix)


@functools.cache
def rules() -> tuple[UniqueRule, ...]:
    """Return every unique rule of every installed model (computed once per process)."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        table = meta.db_table

        def columns_of(names: Iterable[str]) -> tuple[str, ...]:
            return tuple(meta.get_field(name).column for name in names)

        for field in meta.local_concrete_fields:
            if field.unique and not field.primary_key:
                names = {field.column, _generated_name(table, [field.column], "_uniq"),
                         f"{table}_{field.column}_key"}
                found.append(UniqueRule(model, table, (field.column,), (field.name,),
                                        frozenset(n.lower() for n in names), None))
        for together in meta.unique_together:
            columns = columns_of(together)
            name = _generated_name(table, list(columns), "_uniq").lower()
            found.append(UniqueRule(model, table, columns, tuple(together),
                                    frozenset({name}), None))
        for constraint in meta.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                found.append(UniqueRule(model, table, columns_of(constraint.fields),
                                        tuple(constraint.fields),
                                        frozenset({constraint.name.lower()}), constraint))
    return tuple(found)


def _described(exc: IntegrityError) -> tuple[str | None, tuple[str, ...] | None, str | None] | None:
    """Return ``(table, columns, name)`` of the unique key ``exc`` reports, ``None`` if
    ``exc`` is not a unique violation. Parts a backend does not report are ``None``."""
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        if sqlstate != "23505":
            return None
        diag = cause.diag
        match = _POSTGRES_KEY.search(diag.message_detail or "")
        columns = tuple(c.strip().strip('"') for c in match["columns"].split(",")) if match else None
        return diag.table_name, columns, diag.constraint_name
    args = getattr(cause, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):  # MySQLdb: (errno, message)
        if args[0] not in (1062, 1586):
            return None
        match = _MYSQL_KEY.search(str(args[1]))
        if match is None:
            return None
        table, _, name = match["name"].rpartition(".")
        return table or None, None, name
    message = str(cause)
    match = _SQLITE_INDEX.search(message)
    if match:
        return None, None, match["name"]
    match = _SQLITE.search(message)
    if match:
        pairs = [part.strip().rsplit(".", 1) for part in match["columns"].split(",")]
        tables = {pair[0] for pair in pairs if len(pair) == 2}
        if len(tables) == 1:
            return tables.pop(), tuple(pair[1] for pair in pairs), None
    match = _ORACLE.search(message)
    if match:
        return None, None, match["name"]
    return None


def unique_violation(
    exc: IntegrityError, *, models: Iterable[type[models.Model]] = (), capitalise: bool = True
) -> ValidationError | None:
    """Return the validation error a unique violation stands for, ``None`` for any other
    integrity error.

    ``models`` are the models the caller was writing, used when the database names an
    index that several tables have (MariaDB). When even they do not settle it, the error
    names the column without the model. ``capitalise``: see ``UniqueRule.error``.
    """
    described = _described(exc)
    if described is None:
        return None
    table, columns, name = described
    candidates = [
        rule for rule in rules()
        if (table is None or rule.table.lower() == table.lower())
        and (columns is None or rule.columns == columns)
        and (name is None or columns is not None or name.lower() in rule.names)
    ]
    preferred = [rule for rule in candidates if rule.model in set(models)]
    candidates = preferred or candidates
    if len(candidates) == 1:
        return candidates[0].error(capitalise=capitalise)
    fields = {rule.fields for rule in candidates}
    if len(fields) == 1:
        (only,) = fields
        message = _("A record with this %(fields)s already exists.") % {"fields": ", ".join(only)}
        key = only[0] if len(only) == 1 else NON_FIELD_ERRORS
        return ValidationError({key: [ValidationError(message, code="unique")]})
    return ValidationError(
        {NON_FIELD_ERRORS: [ValidationError(_("A record with these values already exists."),
                                            code="unique")]}
    )
