"""The comparators of assertions: their names, their semantics and their messages."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator
from django.utils.translation import gettext_noop
from jsonschema.exceptions import SchemaError

from testing.engine.messages import message


class _Missing:
    """The type of ``MISSING``: a single value that survives copy and pickle."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING = _Missing()
"""What an expression returns when it found nothing (distinct from a JSON null)."""


class CheckError(ValueError):
    """An assertion is badly defined: unknown comparator or invalid expected value."""


class _Failed(Exception):
    """A comparison failed with its own message (type mismatch, schema error, length)."""


COMPARATORS = (
    "eq", "ne", "gt", "ge", "lt", "le",
    "contains", "not_contains", "contained_by", "not_contained_by",
    "startswith", "endswith", "regex_match", "type_match",
    "len_eq", "len_gt", "len_ge", "len_lt", "len_le",
    "is_null", "is_not_null", "exists", "not_exists",
    "str_eq", "equal_fold", "json_schema",
)
# Older stored assertions use these symbols and names.
ALIASES = {
    "==": "eq", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le",
    "matches": "regex_match", "in": "contained_by", "not_in": "not_contained_by",
    "type_is": "type_match", "length_eq": "len_eq",
}
NO_EXPECTED = {"is_null", "is_not_null", "exists", "not_exists"}

TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "float": lambda value: isinstance(value, float),
    "number": lambda value: _is_number(value),
    "str": lambda value: isinstance(value, str),
    "bool": lambda value: isinstance(value, bool),
    "list": lambda value: isinstance(value, (list, tuple)),
    "dict": lambda value: isinstance(value, dict),
    "null": lambda value: value is None,
}
TYPE_ALIASES = {
    "integer": "int", "string": "str", "boolean": "bool",
    "array": "list", "object": "dict", "none": "null",
}
SHOW_LIMIT = 200


@dataclass(frozen=True)
class Outcome:
    """The result of one comparison and a short message that says why."""

    passed: bool
    message: str


def canonical(name: str) -> str:
    """Return the canonical name of a comparator given by its name or an alias."""
    if isinstance(name, str):
        name = ALIASES.get(name, name)
        if name in COMPARATORS:
            return name
    raise CheckError(message(gettext_noop("unknown comparator %(name)s; known: %(known)s"),
                             name=repr(name), known=", ".join(COMPARATORS)))


def show(value: Any) -> str:
    """Return a short text of a value for messages: JSON literals, Python quotes for text.

    A top-level string keeps Python's quotes (``'abc'``) so that ``'200'`` and ``200`` read
    differently; lists and dictionaries read as the JSON they usually came from.
    """
    if value is MISSING:
        text = "<missing>"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (bool, type(None), list, tuple, dict)):
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    else:
        text = repr(value)
    return _cut(text)


def _cut(text: str) -> str:
    return text if len(text) <= SHOW_LIMIT else text[: SHOW_LIMIT - 1] + "…"


def compare(comparator: str, actual: Any, expected: Any = None) -> Outcome:
    """Compare ``actual`` with ``expected`` and return whether it passed, and why.

    A value of the wrong type is a failed outcome, never an exception: only a badly defined
    assertion raises ``CheckError``. ``MISSING`` passes ``is_null`` and ``not_exists`` only.
    """
    name = canonical(comparator)
    _check_definition(name, expected)
    if name in NO_EXPECTED:
        if _PREDICATES[name](actual):
            return Outcome(True, name)
        if actual is MISSING:
            return Outcome(False, message(gettext_noop("expected %(comparator)s, nothing was "
                                                       "found"), comparator=name))
        return Outcome(False, message(gettext_noop("expected %(comparator)s, got %(actual)s"),
                                      comparator=name, actual=show(actual)))
    if actual is MISSING:
        return Outcome(False, message(gettext_noop("expected %(comparator)s %(expected)s, "
                                                   "nothing was found"),
                                      comparator=name, expected=show(expected)))
    try:
        passed = _COMPARISONS[name](actual, expected)
    except _Failed as failure:
        return Outcome(False, failure.args[0])
    if passed:
        # A schema is too long to repeat in every passed assertion.
        return Outcome(True, "json_schema" if name == "json_schema" else f"{name} {show(expected)}")
    return Outcome(False, message(gettext_noop("expected %(comparator)s %(expected)s, got "
                                               "%(actual)s"),
                                  comparator=name, expected=show(expected), actual=show(actual)))


def _check_definition(name: str, expected: Any) -> None:
    """Raise ``CheckError`` when ``expected`` cannot be used with the comparator."""
    if name == "regex_match":
        _pattern(expected)
    elif name == "type_match":
        _type_test(expected)
    elif name.startswith("len_"):
        if not isinstance(expected, int) or isinstance(expected, bool):
            raise CheckError(message(gettext_noop("%(comparator)s needs an integer length, not "
                                                  "%(expected)s"),
                                     comparator=name, expected=show(expected)))
    elif name == "json_schema":
        if not isinstance(expected, (dict, bool)):
            raise CheckError(message(gettext_noop("json_schema needs a JSON Schema object, not "
                                                  "%(expected)s"), expected=show(expected)))
        try:
            Draft202012Validator.check_schema(expected)
        except SchemaError as error:
            raise CheckError(message(gettext_noop("invalid JSON Schema at %(path)s: %(reason)s"),
                                     path=error.json_path, reason=error.message)) from None


def _pattern(expected: Any) -> re.Pattern[str]:
    if not isinstance(expected, str):
        raise CheckError(message(gettext_noop("regex_match needs a regular expression, not "
                                              "%(expected)s"), expected=show(expected)))
    try:
        return re.compile(expected)
    except re.error as error:
        raise CheckError(message(gettext_noop("invalid regular expression %(pattern)s: "
                                              "%(reason)s"),
                                 pattern=repr(expected), reason=str(error))) from None


def _type_test(expected: Any) -> Callable[[Any], bool]:
    key = expected.lower() if isinstance(expected, str) else expected
    test = TYPES.get(TYPE_ALIASES.get(key, key)) if isinstance(key, str) else None
    if test is None:
        known = ", ".join([*TYPES, *TYPE_ALIASES])
        raise CheckError(message(gettext_noop("unknown type %(type)s for type_match; known: "
                                              "%(known)s"), type=show(expected), known=known))
    return test


def _is_number(value: Any) -> bool:
    # Decimal comes from database rows (NUMERIC columns).
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _mismatch(name: str, actual: Any, expected: Any) -> _Failed:
    return _Failed(message(
        gettext_noop("cannot compare %(actual_type)s %(actual)s with %(expected_type)s "
                     "%(expected)s using %(comparator)s"),
        actual_type=_type_name(actual), actual=show(actual),
        expected_type=_type_name(expected), expected=show(expected), comparator=name))


def _equal(actual: Any, expected: Any) -> bool:
    """Return Python equality, except that a boolean never equals a number, at any depth."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            _equal(value, expected[key]) for key, value in actual.items()
        )
    sequences = (list, tuple)
    if isinstance(actual, sequences) and isinstance(expected, sequences):
        return len(actual) == len(expected) and all(map(_equal, actual, expected))
    return actual == expected


def _order(name: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def comparison(actual: Any, expected: Any) -> bool:
        both_numbers = _is_number(actual) and _is_number(expected)
        if not (both_numbers or (isinstance(actual, str) and isinstance(expected, str))):
            raise _mismatch(name, actual, expected)
        return test(actual, expected)

    return comparison


def _membership(name: str, *, reverse: bool, negate: bool) -> Callable[[Any, Any], bool]:
    """Return a test of ``expected`` in ``actual``, or of ``actual`` in ``expected`` (reverse)."""

    def comparison(actual: Any, expected: Any) -> bool:
        container, item = (expected, actual) if reverse else (actual, expected)
        if isinstance(container, str) and isinstance(item, str):
            found = item in container
        elif isinstance(container, (list, tuple)):
            found = any(_equal(element, item) for element in container)
        elif isinstance(container, dict) and isinstance(item, Hashable):
            found = item in container
        else:
            raise _mismatch(name, actual, expected)
        return found != negate

    return comparison


def _text_test(name: str, test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def comparison(actual: Any, expected: Any) -> bool:
        if not (isinstance(actual, str) and isinstance(expected, str)):
            raise _mismatch(name, actual, expected)
        return test(actual, expected)

    return comparison


def _regex_match(actual: Any, expected: Any) -> bool:
    if not isinstance(actual, str):
        raise _mismatch("regex_match", actual, expected)
    return _pattern(expected).search(actual) is not None


def _type_match(actual: Any, expected: Any) -> bool:
    if _type_test(expected)(actual):
        return True
    raise _Failed(message(gettext_noop("expected type_match %(expected)s, got %(actual_type)s "
                                       "%(actual)s"),
                          expected=show(expected), actual_type=_type_name(actual),
                          actual=show(actual)))


def _length(name: str, test: Callable[[int, int], bool]) -> Callable[[Any, Any], bool]:
    def comparison(actual: Any, expected: int) -> bool:
        if not isinstance(actual, (str, list, tuple, dict)):
            raise _Failed(message(gettext_noop("cannot take the length of %(actual_type)s "
                                               "%(actual)s for %(comparator)s"),
                                  actual_type=_type_name(actual), actual=show(actual),
                                  comparator=name))
        if test(len(actual), expected):
            return True
        raise _Failed(message(gettext_noop("expected %(comparator)s %(expected)s, got length "
                                           "%(length)s: %(actual)s"),
                              comparator=name, expected=expected, length=len(actual),
                              actual=show(actual)))

    return comparison


def _text(value: Any) -> str:
    """Return the JSON-ish text of a value: ``null``, ``true``, ``1.5``, ``{"a": 1}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_schema(actual: Any, expected: dict | bool) -> bool:
    validator = Draft202012Validator(expected, format_checker=Draft202012Validator.FORMAT_CHECKER)
    error = next(validator.iter_errors(actual), None)
    if error is None:
        return True
    raise _Failed(message(gettext_noop("json_schema failed at %(path)s: %(reason)s"),
                          path=error.json_path, reason=_cut(error.message)))


_PREDICATES: dict[str, Callable[[Any], bool]] = {
    "is_null": lambda actual: actual is None or actual is MISSING,
    "is_not_null": lambda actual: actual is not None and actual is not MISSING,
    "exists": lambda actual: actual is not MISSING,
    "not_exists": lambda actual: actual is MISSING,
}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _equal,
    "ne": lambda actual, expected: not _equal(actual, expected),
    "gt": _order("gt", operator.gt),
    "ge": _order("ge", operator.ge),
    "lt": _order("lt", operator.lt),
    "le": _order("le", operator.le),
    "contains": _membership("contains", reverse=False, negate=False),
    "not_contains": _membership("not_contains", reverse=False, negate=True),
    "contained_by": _membership("contained_by", reverse=True, negate=False),
    "not_contained_by": _membership("not_contained_by", reverse=True, negate=True),
    "startswith": _text_test("startswith", str.startswith),
    "endswith": _text_test("endswith", str.endswith),
    "equal_fold": _text_test("equal_fold", lambda a, e: a.casefold() == e.casefold()),
    "regex_match": _regex_match,
    "type_match": _type_match,
    "len_eq": _length("len_eq", operator.eq),
    "len_gt": _length("len_gt", operator.gt),
    "len_ge": _length("len_ge", operator.ge),
    "len_lt": _length("len_lt", operator.lt),
    "len_le": _length("len_le", operator.le),
    "str_eq": lambda actual, expected: _text(actual) == _text(expected),
    "json_schema": _json_schema,
}
