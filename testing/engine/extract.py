"""Reading values out of a response: the sources, JSONPath and regex selection, extractors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from django.utils.translation import gettext_noop
from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse

from testing.engine.checks import MISSING
from testing.engine.messages import message

SOURCES = ("json", "header", "cookie", "regex", "status_code", "body", "response_time", "rows")
# These sources are the whole of something and ignore the expression.
WHOLE_SOURCES = {"status_code", "body", "response_time"}


class ExtractError(ValueError):
    """A value cannot be read: invalid expression, body not JSON, unknown source."""


@dataclass
class ResponseData:
    """The parts of an HTTP response (or the rows of a database step) that steps read."""

    status: int
    headers: list[tuple[str, str]]
    cookies: dict[str, str]
    text: str
    elapsed_ms: float
    rows: list[dict] | None = None

    @cached_property
    def json(self) -> Any:
        """Return the body parsed as JSON, parsed once; raise ``ExtractError`` if not JSON."""
        if not self.text.strip():
            raise ExtractError(message(gettext_noop("the body is not JSON: it is empty")))
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as error:
            raise ExtractError(message(
                gettext_noop("the body is not JSON: %(reason)s at line %(line)s column "
                             "%(column)s"),
                reason=error.msg, line=error.lineno, column=error.colno)) from None


@dataclass
class Extracted:
    """A value an extractor produced, with whether it was found and where it came from."""

    name: str
    value: Any
    found: bool
    origin: str


def select(source: str, expression: str | None, response: ResponseData) -> Any:
    """Return the value ``expression`` selects from ``source``, or ``MISSING``."""
    if source == "json":
        return _first_match(expression, response.json)
    if source == "rows":
        if response.rows is None:
            raise ExtractError(message(gettext_noop("no database rows here: this is not a "
                                                    "database step")))
        return _first_match(expression, response.rows)
    if source == "header":
        wanted = _required(source, expression).lower()
        return next((value for name, value in response.headers if name.lower() == wanted), MISSING)
    if source == "cookie":
        return response.cookies.get(_required(source, expression), MISSING)
    if source == "regex":
        match = _regex(_required(source, expression)).search(response.text)
        if match is None:
            return MISSING
        value = match.group(1) if match.re.groups else match.group(0)
        # An optional group that took no part in the match found nothing.
        return MISSING if value is None else value
    if source == "status_code":
        return response.status
    if source == "body":
        return response.text
    if source == "response_time":
        return response.elapsed_ms
    raise ExtractError(message(gettext_noop("unknown source %(source)s; known: %(known)s"),
                               source=repr(source), known=", ".join(SOURCES)))


def extract(extractor: dict, response: ResponseData, *, step_label: str) -> Extracted:
    """Run an extractor ``{"name", "source", "expression"?, "default"?}`` on a response.

    When nothing is found the ``default`` is used if the extractor has one; an error (invalid
    expression, body not JSON) is raised even then, since a default stands for an absent value.
    """
    try:
        name, source = extractor["name"], extractor["source"]
    except KeyError as error:
        raise ExtractError(message(gettext_noop("an extractor needs a name and a source; "
                                                "%(key)s is missing"), key=str(error))) from None
    expression = None if source in WHOLE_SOURCES else extractor.get("expression")
    where = f"({source})" if expression is None else _quoted(source, expression)
    try:
        value = select(source, expression, response)
    except ExtractError as error:
        raise ExtractError(message(gettext_noop("extractor '%(name)s': %(reason)s"),
                                   name=name, reason=error.args[0])) from None
    if value is not MISSING:
        return Extracted(name, value, found=True, origin=message(
            gettext_noop("extracted at %(step)s %(where)s"), step=step_label, where=where))
    if "default" in extractor:
        origin = message(gettext_noop("default at %(step)s: %(where)s found nothing"),
                         step=step_label, where=where)
        return Extracted(name, extractor["default"], found=False, origin=origin)
    raise ExtractError(message(gettext_noop("extractor '%(name)s': %(source)s %(expression)s "
                                            "found nothing"),
                               name=name, source=source, expression=expression))


def _quoted(source: str, expression: str) -> str:
    # A JSONPath speaks for itself; a header or cookie name needs its source to be read.
    return f"`{expression}`" if source == "json" else f"{source} `{expression}`"


def _required(source: str, expression: str | None) -> str:
    if not expression:
        raise ExtractError(message(gettext_noop("the %(source)s source needs an expression"),
                                   source=source))
    return expression


def _first_match(expression: str | None, document: Any) -> Any:
    path = _jsonpath(expression or "$")
    try:
        matches = path.find(document)
    except Exception as error:
        # Filters run user code inside jsonpath-ng (a regex in `=~`, comparisons), which
        # raises whatever the failing operation raises.
        raise ExtractError(message(gettext_noop("JSONPath %(expression)s failed: %(reason)s"),
                                   expression=repr(expression), reason=str(error))) from None
    return matches[0].value if matches else MISSING


@lru_cache(maxsize=512)
def _jsonpath(expression: str) -> JSONPath:
    """Return the parsed JSONPath; the leading ``$`` may be omitted (``data.id``)."""
    rooted = expression.strip()
    if not rooted.startswith("$"):
        rooted = "$" + rooted if rooted.startswith(("[", ".")) else "$." + rooted
    try:
        return parse(rooted)
    except JSONPathError as error:
        raise ExtractError(message(gettext_noop("invalid JSONPath %(expression)s: %(reason)s"),
                                   expression=repr(rooted), reason=str(error).strip())) from None


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ExtractError(message(gettext_noop("invalid regular expression %(pattern)s: "
                                                "%(reason)s"),
                                   pattern=repr(pattern), reason=str(error))) from None
