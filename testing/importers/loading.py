"""Reading an uploaded file as JSON or YAML without letting it hurt the platform.

* Size: ``TESTING_IMPORT_MAX_BYTES`` (16 MiB) at most; the views refuse more before reading.
* JSON: nesting capped (``core.json``); a syntax error names the line and column.
* YAML: the safe loader (no Python objects), weighing the document as aliases would expand
  it: "billion laughs" (a few lines whose aliases expand to gigabytes) is refused beyond
  ``MAX_NODES`` values, before anything walks the expanded tree; nesting is capped as for
  JSON. A syntax error names the line and column.
* Text: UTF-8 (a byte-order mark is dropped); anything else is refused, naming the byte.

Nothing here opens a file or a URL: a ``$ref`` to one stays a string for the importer to
refuse.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.conf import settings
from django.utils.translation import gettext_noop

from core import json as capped_json
from testing.engine.messages import Message, message
from testing.importers.base import ImportFailed

MAX_DEPTH = 64
MAX_NODES = 2_000_000


def text_of(data: bytes, filename: str) -> str:
    """Return ``data`` as text, refusing what is too large or not UTF-8."""
    limit = settings.TESTING_IMPORT_MAX_BYTES
    if len(data) > limit:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the file is %(size)d bytes; at most %(limit)d are imported"),
            size=len(data), limit=limit))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(filename, message(gettext_noop("byte %(number)d"),
                                             number=exc.start),
                           message(gettext_noop("the file is not UTF-8 text (is it a binary "
                                                "file?)"))) from None


def load_json(data: bytes, filename: str) -> Any:
    """Return the JSON document ``data``; ``ImportFailed`` naming the line and column."""
    text = text_of(data, filename)
    try:
        return capped_json.loads(text, max_depth=MAX_DEPTH)
    except capped_json.TooDeep:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the JSON nests deeper than %(depth)d levels"), depth=MAX_DEPTH))
    except ValueError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        raise ImportFailed(filename, at_line(line, column),
                           message(gettext_noop("not valid JSON: %(detail)s"),
                                   detail=getattr(exc, "msg", exc)))


def at_line(line: int | None, column: int | None = None) -> Message | str:
    """Return where in a file ``line`` (and ``column``) is, or "" when unknown."""
    if not line:
        return ""
    if column is None:
        return message(gettext_noop("line %(line)d"), line=line)
    return message(gettext_noop("line %(line)d, column %(column)d"), line=line, column=column)


class _TooLarge(yaml.YAMLError):
    """A document the capped loader refuses: why (a message) and where."""

    def __init__(self, reason: Message, where: Message | str) -> None:
        super().__init__(reason)
        self.reason, self.where = reason, where


class _CappedLoader(yaml.SafeLoader):
    """The safe loader, weighing the document as it composes it: each node weighs one plus
    its children, an alias as much as the node it repeats. A document heavier than
    ``MAX_NODES`` ("billion laughs": a few lines of aliases of aliases) or nested deeper than
    ``MAX_DEPTH`` is refused before anything walks it."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.weights: dict[int, int] = {}
        self.depth = 0

    def refuse(self, reason: Message):
        mark = self.peek_event().start_mark if self.check_event() else None
        raise _TooLarge(reason, at_line(mark.line + 1) if mark else "")

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                self.refuse(message(gettext_noop("the YAML nests deeper than %(depth)d levels"),
                                    depth=MAX_DEPTH))
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if id(node) not in self.weights:
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            else:
                children = []
            self.weights[id(node)] = 1 + sum(self.weights.get(id(c), 1) for c in children)
        if self.weights[id(node)] > MAX_NODES:
            self.refuse(message(gettext_noop("the document expands to more than %(count)d "
                                             "values (aliases of aliases)"), count=MAX_NODES))
        return node


def load_yaml(data: bytes, filename: str) -> Any:
    """Return the YAML document ``data`` (JSON is YAML too); ``ImportFailed`` naming the line."""
    text = text_of(data, filename)
    try:
        return yaml.load(text, Loader=_CappedLoader)  # noqa: S506 (a SafeLoader subclass)
    except _TooLarge as exc:
        raise ImportFailed(filename, exc.where, exc.reason) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = at_line(mark.line + 1, mark.column + 1) if mark else ""
        raise ImportFailed(filename, where, message(gettext_noop("not valid YAML: %(detail)s"),
                                                    detail=exc.problem or exc)) from None
    except yaml.YAMLError as exc:
        raise ImportFailed(filename, "", message(gettext_noop("not valid YAML: %(detail)s"),
                                                 detail=exc)) from None
    except RecursionError:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the YAML nests deeper than %(depth)d levels"), depth=MAX_DEPTH)) from None


def load_any(data: bytes, filename: str) -> Any:
    """Return a JSON or YAML document: JSON when it reads as JSON, else YAML."""
    stripped = text_of(data, filename).lstrip()
    if stripped.startswith(("{", "[")):
        return load_json(data, filename)
    return load_yaml(data, filename)
