"""The JSON Schemas of the test domain's JSON fields, shipped with the project.

Every JSON field of a model (an interface's assertions, a step's parameters, a scenario's
variables) is checked against one of the files beside this module before it is saved, so
a malformed assertion is a 400 naming the field and the index, never a failure at run
time. ``schema_errors(name, value)`` returns readable messages with the JSON path of each
problem: ``[1].operator: 'equals' is not one of ['==', '!=', ...]``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
MAX_MESSAGES = 20


@cache
def load(name: str) -> dict:
    """Return the schema ``name`` (a file ``<name>.json`` here)."""
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    """Return the registry of every shipped schema, so that ``$ref: "pairs.json"`` resolves."""
    resources = []
    for path in sorted(HERE.glob("*.json")):
        schema = load(path.stem)
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """Return a validator of the schema ``name``."""
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def path_of(parts) -> str:
    """Return a JSON path such as ``[1].operator`` (empty for the value itself)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error) -> str:
    """Return one readable message for a validation error, with its path."""
    if error.context:
        error = best_match(error.context)
    where = path_of(error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def errors_against(schema: dict | Draft202012Validator, value: Any) -> list[str]:
    """Return the messages of ``value`` against ``schema`` (a schema or a validator)."""
    checker = schema if isinstance(schema, Draft202012Validator) else Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found = sorted(checker.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [describe(error) for error in found[:MAX_MESSAGES]]


def schema_errors(name: str, value: Any) -> list[str]:
    """Return the messages of ``value`` against the shipped schema ``name``; empty if valid."""
    return errors_against(validator(name), value)


def is_valid_schema(value: Any) -> list[str]:
    """Return why ``value`` is not a usable JSON Schema (a keyword's parameter docs)."""
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = path_of(exc.absolute_path)
        return [f"{where}: {exc.message}" if where else exc.message]
    return []
