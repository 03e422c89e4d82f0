"""Postman collections (schema v2.0 and v2.1) into an ``ImportPlan`` (issue 15, item 1).

What a collection becomes:

* each request an ``ImportedRequest`` (folders give its folder path); the collection one
  ``ImportedScenario`` whose steps are its requests in order, as Newman runs it;
* collection and folder ``variable`` entries project globals (a folder's are flattened into
  the globals, with a warning; where a folder gives a name another value, the steps under it
  carry the folder's value as step variables);
* ``auth`` (request, else the nearest folder's, else the collection's) headers: bearer and
  OAuth 2.0 access tokens ``Authorization: Bearer {{...}}``, basic
  ``Authorization: Basic {{base64_encode(...)}}``, API keys a header or a query parameter; the
  credentials move into secret variables;
* a data file (``newman run -d``, CSV or JSON; ``datafile.py``) the scenario's dataset, its
  columns' names made identifiers as variables' are;
* ``test`` scripts assertions and extractors, ``prerequest`` scripts' literal
  ``pm.variables.set(...)`` step variables. Scripts are read line by line with regular
  expressions, never run; every line that is not mapped is listed as a problem.

URLs are kept as written (the raw text), so that collections that test odd encodings send
the same bytes. The query string moves into ``query`` pairs only where sending the pairs
puts the same bytes on the wire (the engine encodes pairs itself, and pairs replace a query
written in the URL); otherwise it stays in the URL.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote_plus, unquote, unquote_plus

from django.conf import settings
from django.utils.translation import gettext_noop

from core.redaction import is_secret_name
from testing.engine.messages import Message, message
from testing.importers import datafile
from testing.importers.base import (
    SKIPPED,
    WARNING,
    DataFile,
    ImportedDataset,
    ImportedRequest,
    ImportedScenario,
    ImportedStep,
    ImportedVariable,
    ImportFailed,
    ImportPlan,
    Problem,
)
from testing.importers.loading import load_json

FORMAT = "postman"

SCHEMA_RE = re.compile(r"/collection/v(2\.[01])\.\d+/")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
REFERENCE_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
# Postman's dynamic variables that have a built-in of the platform (testing.engine.functions).
DYNAMIC = {
    "$guid": "uuid()", "$randomUUID": "uuid()", "$timestamp": "timestamp()",
    "$isoTimestamp": 'now("%Y-%m-%dT%H:%M:%S.000Z")', "$randomInt": "random_int(0, 1000)",
}
# Settings of protocolProfileBehavior with the value the platform behaves as anyway.
PROTOCOL_DEFAULTS = {"followRedirects": True, "strictSSL": True, "disableUrlEncoding": False,
                     "disableCookies": False, "followOriginalHttpMethod": False,
                     "followAuthorizationHeader": False, "removeRefererHeaderOnRedirect": False,
                     "insecureHTTPParser": False}
PRUNED_METHODS = ("GET", "HEAD")   # Postman drops their body unless told not to
LANGUAGE_TYPES = {"json": "application/json", "xml": "application/xml", "html": "text/html",
                  "javascript": "application/javascript", "text": "text/plain"}
# Besides the platform's secret names (core.redaction): API keys, sessions, cookies.
SECRET_NAME_RE = re.compile(r"apikey|passwd|session|cookie", re.I)
MAX_DESCRIPTION = 500
MAX_CHECKS = 200   # assertions, extractors of an interface (testing/schemas)


def looks_like(data: bytes, filename: str) -> bool:
    """Return whether ``data`` reads as a Postman collection (a cheap sniff, no parsing)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    if filename.lower().endswith(".postman_collection.json"):
        return True
    return (b"schema.getpostman.com/json/collection" in data
            or b"schema.postman.com/json/collection" in data
            or (b'"_postman_id"' in data and b'"item"' in data))


def parse(data: bytes, filename: str, *, data_file: DataFile | None = None) -> ImportPlan:
    """Return what the collection ``data`` holds, with ``data_file``'s rows as the dataset
    of its scenario; ``ImportFailed`` when either cannot be read."""
    document = load_json(data, filename)
    rows = datafile.read(data_file) if data_file is not None else None
    return _Collection(document, filename, rows, data_file).plan()


# Small helpers


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _description(value: Any) -> str:
    """Return a description, which v2.1 may give as ``{"content": ..., "type": ...}``."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _identifier(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)[:100] or "_"
    return "_" + cleaned[:99] if cleaned[0].isdigit() else cleaned


def _pair(name: str, value: Any, enabled: bool = True, description: str = "") -> dict:
    pair = {"name": name[:200], "value": _text(value), "enabled": enabled}
    if description:
        pair["description"] = description[:MAX_DESCRIPTION]
    return pair


def _has_header(headers: list[dict], name: str) -> bool:
    return any(h["name"].lower() == name.lower() and h.get("enabled", True) for h in headers)


def _header_value(headers: list[dict], name: str) -> str:
    return next((h["value"] for h in headers
                 if h["name"].lower() == name.lower() and h.get("enabled", True)), "")


def _encoded(text: str) -> str:
    """Return ``text`` as the engine encodes a query name or value (HTTPX's form encoding)."""
    return quote_plus(text, safe="")


def _decoded_if_canonical(text: str) -> str | None:
    """Return the value whose encoding is exactly ``text``, ``{{...}}`` kept as they are;
    None when sending the value would change the bytes (``%2a``, a raw space, ``,``...)."""
    parts = []
    for index, chunk in enumerate(REFERENCE_RE.split(text)):
        if index % 2:   # a reference: rendered when sent, then encoded
            parts.append("{{" + chunk + "}}")
            continue
        try:
            value = unquote_plus(chunk, errors="strict")
        except UnicodeDecodeError:
            return None
        if _encoded(value) != chunk:
            return None
        parts.append(value)
    return "".join(parts)


def body_size(body_type: str, body: Any) -> int:
    """Return the size of a body as the platform weighs it (``Interface`` validation)."""
    if body_type not in ("raw", "json"):
        return 0
    text = body if body_type == "raw" else json.dumps(body, ensure_ascii=False)
    return len(text.encode("utf-8"))


def split_query(url: str) -> tuple[str, list[tuple[str, str]]] | None:
    """Return ``url`` without its query and the query's pairs, when sending them gives the same
    bytes as the URL does; None when the query must stay as written."""
    if "#" in url or "?" not in url:
        return None
    base, query = url.split("?", 1)
    if not query:
        return None
    pairs = []
    for piece in query.split("&"):
        if "=" not in piece:
            return None
        name, value = piece.split("=", 1)
        name, value = _decoded_if_canonical(name), _decoded_if_canonical(value)
        if not name or value is None or len(name) > 200:
            return None
        pairs.append((name, value))
    return base, pairs


def base_url_of(url: str) -> str:
    """Return the scheme and host (and port) of an absolute URL, "" for a templated host."""
    match = re.match(r"(https?://[^/?#@]+)(?=[/?#]|$)", url, re.I)
    if not match or "{{" in match.group(1):
        return ""
    return match.group(1)


def ranked_base_urls(urls: list[str]) -> list[str]:
    """Return the distinct base URLs of ``urls``, the most used first (then first seen)."""
    counts = Counter(base for base in map(base_url_of, urls) if base)
    order = {base: index for index, base in reversed(list(enumerate(
        base_url_of(url) for url in urls)))}
    return sorted(counts, key=lambda base: (-counts[base], order[base]))


# JavaScript, read but never run


def _mask(code: str, in_comment: bool = False) -> tuple[str, str, bool]:
    """Return ``code`` without comments, the same text with the insides of strings, template
    literals and regular expressions blanked (for finding brackets and ``;``), and whether a
    ``/* ... */`` comment is still open at the end."""
    kept, masked = [], []
    i, n = 0, len(code)
    previous = ""
    while i < n:
        if in_comment:
            end = code.find("*/", i)
            if end == -1:
                return "".join(kept), "".join(masked), True
            i, in_comment = end + 2, False
            continue
        char = code[i]
        if code.startswith("//", i):
            break
        if code.startswith("/*", i):
            in_comment = True
            i += 2
            continue
        regex = char == "/" and (previous == "" or previous in "(,=:[!&|?{};+-*%<>~^")
        if char in "\"'`" or regex:
            j = i + 1
            in_class = False
            while j < n:
                if code[j] == "\\":
                    j += 2
                    continue
                if regex and code[j] == "[":
                    in_class = True
                elif regex and code[j] == "]":
                    in_class = False
                elif code[j] == char and not in_class:
                    break
                j += 1
            end = min(j + 1, n)
            kept.append(code[i:end])
            masked.append(char + "_" * max(end - i - 2, 0) + (code[end - 1] if end - i > 1
                                                               else ""))
            i = end
            previous = "a"
            continue
        kept.append(char)
        masked.append(char)
        if not char.isspace():
            previous = char
        i += 1
    return "".join(kept), "".join(masked), in_comment


def _depth(masked: str) -> int:
    return sum(masked.count(c) for c in "([{") - sum(masked.count(c) for c in ")]}")


def _split_top(code: str, masked: str, separator: str) -> list[str]:
    """Split ``code`` at each ``separator`` outside strings and brackets."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(masked):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(code[start:index])
            start = index + 1
    parts.append(code[start:])
    return parts


def _balanced_end(masked: str, start: int) -> int:
    """Return the index just after the bracket closing the one at ``start``; -1 if none."""
    depth = 0
    for index in range(start, len(masked)):
        if masked[index] in "([{":
            depth += 1
        elif masked[index] in ")]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return -1


_STRING = r"""(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\$]|\\.|\$(?!\{))*`)"""
_TOKEN_RE = re.compile(r"""\s*(?:(?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<str>""" + _STRING + r""")|(?P<word>[A-Za-z_$][\w$]*)|(?P<punct>[\[\]{}:,]))""", re.X)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


class _NotLiteral(ValueError):
    pass


def _js_string(token: str) -> str:
    """Return the value of a JavaScript string literal (quotes included in ``token``)."""
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif nxt == "u" and body[i + 2:i + 3] == "{":
            end = body.find("}", i)
            out.append(chr(int(body[i + 3:end], 16)))
            i = end + 1
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif nxt == "\n":
            i += 2
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


def js_literal(text: str) -> Any:
    """Return the value of a JavaScript literal (numbers, strings, true/false/null, arrays and
    objects of them); ``_NotLiteral`` for anything else (a call, a name, an expression)."""
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match or match.end() == position:
            raise _NotLiteral(text)
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    value, used = _literal(tokens, 0)
    if used != len(tokens):
        raise _NotLiteral(text)
    return value


def _literal(tokens: list[tuple[str, str]], index: int) -> tuple[Any, int]:
    if index >= len(tokens):
        raise _NotLiteral("")
    kind, token = tokens[index]
    if kind == "num":
        number = float(token)
        return (int(number) if number.is_integer() and re.fullmatch(r"-?\d+", token)
                else number), index + 1
    if kind == "str":
        return _js_string(token), index + 1
    if kind == "word" and token in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[token], index + 1
    if token == "[":
        items, index = [], index + 1
        while index < len(tokens) and tokens[index][1] != "]":
            item, index = _literal(tokens, index)
            items.append(item)
            if index < len(tokens) and tokens[index][1] == ",":
                index += 1
        if index >= len(tokens):
            raise _NotLiteral("[")
        return items, index + 1
    if token == "{":
        found, index = {}, index + 1
        while index < len(tokens) and tokens[index][1] != "}":
            key_kind, key = tokens[index]
            if key_kind == "str":
                key = _js_string(key)
            elif key_kind not in ("word", "num"):
                raise _NotLiteral(key)
            if index + 1 >= len(tokens) or tokens[index + 1][1] != ":":
                raise _NotLiteral(key)
            found[key], index = _literal(tokens, index + 2)
            if index < len(tokens) and tokens[index][1] == ",":
                index += 1
        if index >= len(tokens):
            raise _NotLiteral("{")
        return found, index + 1
    raise _NotLiteral(token)


@dataclass(frozen=True)
class _Subject:
    """What a script reads of the response: a source of the platform and its expression."""

    kind: str                # json, body, header, cookie, status_code, response_time, response
    expression: str = ""
    length: bool = False     # ``.length`` of it

    def child(self, key: str | int) -> _Subject:
        if isinstance(key, int):
            step = f"[{key}]"
        elif IDENTIFIER_RE.match(key):
            step = f".{key}"
        else:
            step = "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
        return replace(self, expression=self.expression + step)


_GETTER_RE = re.compile(
    r"(?:pm\.(?:environment|variables|collectionVariables|globals|iterationData)\.get"
    r"|postman\.get(?:Environment|Global)Variable)\(\s*(" + _STRING + r")\s*\)\Z")
_LEGACY_GETTER_RE = re.compile(r"(?:environment|globals|data)(?:\.(\w+)|\[\s*(" + _STRING
                               + r")\s*\])\Z")
_SETTER_RE = re.compile(
    r"(?:pm\.(environment|collectionVariables|globals|variables)\.set"
    r"|postman\.set(?:Environment|Global)Variable)\(\s*(" + _STRING + r")\s*,(.*)\)\Z", re.S)
_ROOTS = [
    (re.compile(r"pm\.response\.json\(\s*\)"), _Subject("json", "$")),
    (re.compile(r"JSON\.parse\(\s*(?:responseBody|pm\.response\.text\(\s*\))\s*\)"),
     _Subject("json", "$")),
    (re.compile(r"(?:pm\.response\.code|responseCode\.code)\b"), _Subject("status_code")),
    (re.compile(r"(?:pm\.response\.responseTime|responseTime)\b"), _Subject("response_time")),
    (re.compile(r"(?:pm\.response\.text\(\s*\)|responseBody\b)"), _Subject("body")),
    (re.compile(r"pm\.response\b(?!\.)"), _Subject("response")),
]
_HEADER_RE = re.compile(r"(?:pm\.response\.headers\.get|postman\.getResponseHeader)\(\s*("
                        + _STRING + r")\s*\)|responseHeaders\[\s*(" + _STRING + r")\s*\]")
_COOKIE_RE = re.compile(r"(?:pm\.cookies\.get\(\s*(" + _STRING + r")\s*\)"
                        r"|postman\.getResponseCookie\(\s*(" + _STRING + r")\s*\)\.value)")
_ACCESSOR_RE = re.compile(r"\s*(?:\??\.\s*([A-Za-z_$][\w$]*)|\[\s*(\d+)\s*\]|\[\s*("
                          + _STRING + r")\s*\])")
_TEST_OPEN_RE = re.compile(
    r"pm\.test(\.skip|\.only)?\(\s*(?P<name>" + _STRING + r"|[^,]*?)\s*,\s*(?:async\s+)?"
    r"(?:function\s*\w*\s*\(\s*\w*\s*\)|\(\s*\w*\s*\)\s*=>|\w+\s*=>)\s*\{\Z", re.S)
_TEST_ONE_LINE_RE = re.compile(
    r"pm\.test(\.skip|\.only)?\(\s*(?P<name>" + _STRING + r")\s*,\s*(?:async\s+)?"
    r"(?:function\s*\w*\s*\(\s*\w*\s*\)\s*\{(?P<body>.*)\}|\(\s*\w*\s*\)\s*=>\s*(?:\{(?P<"
    r"block>.*)\}|(?P<expr>.*)))\s*\)\Z", re.S)
_DECLARATION_RE = re.compile(r"(?:var|let|const)\s+([A-Za-z_$][\w$]*)\s*=(.*)\Z", re.S)
_DESTRUCTURING_RE = re.compile(r"(?:var|let|const)\s*\{(.*)\}\s*=(.*)\Z", re.S)
_LEGACY_TEST_RE = re.compile(r"tests\[\s*(?P<name>" + _STRING + r")\s*\]\s*=(?P<expr>.*)\Z",
                             re.S)
_LINK_RE = re.compile(r"\s*\.\s*([A-Za-z_$][\w$]*)")
_COMPARISON_RE = re.compile(r"(.+?)\s*(===|!==|==|!=|>=|<=|>|<)\s*(.+)\Z", re.S)

_CHAINS = {"to", "be", "been", "is", "that", "which", "and", "has", "have", "with", "at",
           "of", "same", "but", "does", "still", "also", "deep", "own", "itself", "any",
           "all", "an", "a"}
_EQUAL = {"equal", "equals", "eq", "eql", "eqls"}
_ORDER = {"above": "gt", "gt": "gt", "greaterThan": "gt", "below": "lt", "lt": "lt",
          "lessThan": "lt", "least": "ge", "gte": "ge", "greaterThanOrEqual": "ge",
          "most": "le", "lte": "le", "lessThanOrEqual": "le"}
_NEGATED = {"eq": "ne", "ne": "eq", "gt": "le", "le": "gt", "lt": "ge", "ge": "lt",
            "contains": "not_contains", "contained_by": "not_contained_by",
            "exists": "not_exists", "not_exists": "exists", "is_null": "is_not_null"}
_TYPES = {"string": "str", "number": "number", "boolean": "bool", "object": "dict",
          "array": "list", "null": "null"}
_STATUS_WORDS = {"ok": 200, "accepted": 202, "withoutContent": 204, "badRequest": 400,
                 "unauthorized": 401, "unauthorised": 401, "forbidden": 403, "notFound": 404,
                 "notAcceptable": 406, "rateLimited": 429}
_STATUS_CLASSES = {"info": (100, 200), "success": (200, 300), "redirection": (300, 400),
                   "clientError": (400, 500), "serverError": (500, 600), "error": (400, 600)}
_NUMERIC_KINDS = {"status_code", "response_time"}
_NUMERIC_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le", "contained_by", "not_contained_by"}
_NO_EXPECTED = {"exists", "not_exists", "is_null", "is_not_null"}
_LENGTH = {"eq": "len_eq", "gt": "len_gt", "ge": "len_ge", "lt": "len_lt", "le": "len_le"}


class _Unmapped(Exception):
    """A statement the reader does not map."""


@dataclass
class ScriptResult:
    """What one script maps to."""

    assertions: list[dict] = field(default_factory=list)
    extractors: list[dict] = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    unmapped: list[tuple[str, str]] = field(default_factory=list)   # (pointer, line)


class ScriptReader:
    """Map the lines of one Postman script to assertions, extractors and step variables.

    ``phase`` is "test" (after the response) or "prerequest" (before the request: only
    literal ``set`` calls map, to step variables). ``renamed`` maps the collection's variable
    names that are not identifiers to the names they are imported under.
    """

    def __init__(self, phase: str, renamed: dict[str, str]) -> None:
        self.phase = phase
        self.renamed = renamed
        self.aliases: dict[str, _Subject] = {}
        self.values: dict[str, Any] = {}
        self.stack: list[tuple[str, str, bool]] = []   # ("test", name, skipped) / ("block",)
        self.result = ScriptResult()

    # Lines and statements

    def read(self, lines: list[str], pointers: list[str]) -> ScriptResult:
        """Map ``lines`` (``pointers`` name where each is); return what they map to."""
        codes, in_comment = [], False
        for line in lines:
            code, _masked, in_comment = _mask(line, in_comment)
            codes.append(code.strip())
        index = 0
        while index < len(lines):
            if not codes[index]:
                index += 1
                continue
            group = [index]
            index += 1
            # A statement goes on while a bracket is open (``eql({``) or the next line carries
            # on its chain (``.and.equal(1)``).
            while True:
                text = " ".join(codes[i] for i in group)
                masked = _mask(text)[1]
                following = next((i for i in range(index, len(lines)) if codes[i]), None)
                if _depth(masked) > 0 and not self._opens_block(text, masked) \
                        and following is not None and len(group) < 60:
                    group.extend(range(index, following + 1))
                    index = following + 1
                elif following is not None and codes[following].startswith(".") \
                        and not self._opens_block(text, masked):
                    group.extend(range(index, following + 1))
                    index = following + 1
                else:
                    break
            self._line_group([(pointers[i], lines[i], codes[i]) for i in group])
        return self.result

    def _opens_block(self, text: str, masked: str) -> bool:
        """Return whether ``text`` opens a block (``pm.test(..., function () {``, ``if (x) {``):
        a line that ends with ``{`` with nothing else left open."""
        if not text.rstrip().endswith("{"):
            return False
        if _DECLARATION_RE.match(text) and _depth(masked.rstrip()[:-1]) == 0:
            return False   # ``var schema = {``: an object literal over several lines
        return _depth(masked.rstrip()[:-1]) == 0 or bool(_TEST_OPEN_RE.match(text.strip()))

    def _line_group(self, group: list[tuple[str, str, str]]) -> None:
        text = " ".join(code for _pointer, _line, code in group).strip()
        listed = [(pointer, line) for pointer, line, code in group if code]
        if self._scaffolding(text):
            return
        if any(entry[0] == "block" for entry in self.stack):
            self.result.unmapped.extend(listed)
            if text.rstrip().endswith("{"):
                self.stack.append(("block", "", False))
            return
        if text.rstrip().endswith("{") and _depth(_mask(text)[1].rstrip()[:-1]) == 0:
            self.stack.append(("block", "", False))   # if / for / function: not mapped
            self.result.unmapped.extend(listed)
            return
        masked = _mask(text)[1]
        statements = [s.strip() for s in _split_top(text, masked, ";")]
        mapped = [self._statement_mapped(s) for s in statements if s]
        if not all(mapped):
            self.result.unmapped.extend(listed)

    def _scaffolding(self, text: str) -> bool:
        """Handle the lines that only frame tests: ``pm.test(..., function () {``, ``});``."""
        opened = _TEST_OPEN_RE.match(text)
        if opened:
            self.stack.append(("test", self._test_name(opened.group("name")),
                               opened.group(1) == ".skip"))
            return True
        if re.fullmatch(r"[\s});\]]+", text) and "}" in text:
            for _ in range(min(text.count("}"), len(self.stack))):
                self.stack.pop()
            return True
        if re.fullmatch(r"}\s*else\s*(if\s*\(.*\)\s*)?\{", text) and self.stack:
            return False
        return text in ('"use strict"', "'use strict'", '"use strict";', "'use strict';")

    @staticmethod
    def _test_name(token: str) -> str:
        token = token.strip()
        if token[:1] in "\"'" or (token[:1] == "`" and "${" not in token):
            return _js_string(token)
        return token.strip("`")

    def _context(self) -> tuple[str, bool]:
        tests = [entry for entry in self.stack if entry[0] == "test"]
        if not tests:
            return "", False
        return tests[-1][1], any(entry[2] for entry in tests)

    def _statement_mapped(self, statement: str) -> bool:
        before = (len(self.result.assertions), len(self.result.extractors),
                  dict(self.result.variables))
        try:
            self._statement(statement)
        except (_Unmapped, ValueError, IndexError, re.error):
            # Nothing of a statement that is not understood in full is kept.
            del self.result.assertions[before[0]:]
            del self.result.extractors[before[1]:]
            self.result.variables = before[2]
            return False
        return True

    def _statement(self, statement: str) -> None:
        statement = statement.strip().rstrip(";").strip()
        if statement in ('"use strict"', "'use strict'"):
            return
        one_line = _TEST_ONE_LINE_RE.match(statement)
        if one_line:
            body = one_line.group("body") or one_line.group("block") or one_line.group("expr")
            self.stack.append(("test", self._test_name(one_line.group("name")),
                               one_line.group(1) == ".skip"))
            try:
                parts = _split_top(body, _mask(body)[1], ";")
                for part in parts:
                    if part.strip():
                        self._statement(part)
            finally:
                self.stack.pop()
            return
        if self._setter(statement):
            return
        if self.phase != "test":
            raise _Unmapped(statement)
        if self._declaration(statement):
            return
        legacy = _LEGACY_TEST_RE.match(statement)
        if legacy:
            self.stack.append(("test", self._test_name(legacy.group("name")), False))
            try:
                self._legacy_test(legacy.group("expr").strip())
            finally:
                self.stack.pop()
            return
        if statement.startswith("pm.expect("):
            masked = _mask(statement)[1]
            end = _balanced_end(masked, len("pm.expect"))
            if end == -1:
                raise _Unmapped(statement)
            inner = statement[len("pm.expect("):end - 1]
            arguments = _split_top(inner, _mask(inner)[1], ",")
            subject = self.subject(arguments[0])
            self._chain(subject, statement[end:])
            return
        response = re.match(r"pm\.response(?=\s*\.\s*(?:to|not)\b)", statement)
        if response:
            self._chain(_Subject("response"), statement[response.end():])
            return
        raise _Unmapped(statement)

    # Values and subjects

    def reference(self, name: str) -> str:
        name = self.renamed.get(name, name)
        if not IDENTIFIER_RE.match(name):
            raise _Unmapped(name)
        return "{{" + name + "}}"

    def value(self, text: str) -> Any:
        """Return the value of a literal, a variable getter (as ``{{name}}``) or a name bound
        to a literal; ``_NotLiteral`` otherwise."""
        text = text.strip()
        getter = _GETTER_RE.match(text)
        if getter:
            return self.reference(_js_string(getter.group(1)))
        legacy = _LEGACY_GETTER_RE.match(text)
        if legacy:
            return self.reference(legacy.group(1) or _js_string(legacy.group(2)))
        if text in self.values:
            return self.values[text]
        return js_literal(text)

    def subject(self, text: str) -> _Subject:
        """Return what ``text`` reads of the response; ``_Unmapped`` when it is not that."""
        text = text.strip()
        while text.startswith("(") and _balanced_end(_mask(text)[1], 0) == len(text):
            text = text[1:-1].strip()
        subject, rest = None, ""
        header = _HEADER_RE.match(text)
        cookie = _COOKIE_RE.match(text)
        if header:
            subject = _Subject("header", _js_string(header.group(1) or header.group(2)))
            rest = text[header.end():]
        elif cookie:
            subject = _Subject("cookie", _js_string(cookie.group(1) or cookie.group(2)))
            rest = text[cookie.end():]
        else:
            for pattern, root in _ROOTS:
                match = pattern.match(text)
                if match:
                    subject, rest = root, text[match.end():]
                    break
            else:
                name = re.match(r"[A-Za-z_$][\w$]*", text)
                if name and name.group(0) in self.aliases:
                    subject, rest = self.aliases[name.group(0)], text[name.end():]
        if subject is None:
            raise _Unmapped(text)
        position = 0
        while position < len(rest):
            match = _ACCESSOR_RE.match(rest, position)
            if not match:
                break
            position = match.end()
            if subject.length:
                raise _Unmapped(text)
            if match.group(1) == "length" and subject.kind in ("json", "body"):
                subject = replace(subject, length=True)
            elif subject.kind != "json":
                raise _Unmapped(text)
            elif match.group(1):
                subject = subject.child(match.group(1))
            elif match.group(2):
                subject = subject.child(int(match.group(2)))
            else:
                subject = subject.child(_js_string(match.group(3)))
        if rest[position:].strip():
            raise _Unmapped(text)
        return subject

    def _declaration(self, statement: str) -> bool:
        destructuring = _DESTRUCTURING_RE.match(statement)
        if destructuring:
            subject = self.subject(destructuring.group(2))
            if subject.kind != "json" or subject.length:
                raise _Unmapped(statement)
            self._destructure(destructuring.group(1), subject)
            return True
        declaration = _DECLARATION_RE.match(statement)
        if not declaration:
            return False
        name, expression = declaration.group(1), declaration.group(2)
        try:
            self.aliases[name] = self.subject(expression)
        except _Unmapped:
            self.values[name] = self.value(expression)
        return True

    def _destructure(self, pattern: str, subject: _Subject) -> None:
        masked = _mask(pattern)[1]
        for part in _split_top(pattern, masked, ","):
            part = part.strip()
            if not part:
                continue
            if ":" not in part:
                if not re.fullmatch(r"[A-Za-z_$][\w$]*", part):
                    raise _Unmapped(part)
                self.aliases[part] = subject.child(part)
                continue
            key, target = (s.strip() for s in part.split(":", 1))
            key = _js_string(key) if key[:1] in "\"'" else key
            if target.startswith("{") and target.endswith("}"):
                self._destructure(target[1:-1], subject.child(key))
            elif re.fullmatch(r"[A-Za-z_$][\w$]*", target):
                self.aliases[target] = subject.child(key)
            else:
                raise _Unmapped(part)

    def _setter(self, statement: str) -> bool:
        setter = _SETTER_RE.match(statement)
        if not setter:
            return False
        name = self.renamed.get(_js_string(setter.group(2)), _js_string(setter.group(2)))
        if not IDENTIFIER_RE.match(name):
            raise _Unmapped(statement)
        expression = setter.group(3)
        if self.phase == "prerequest":
            self.result.variables[name] = self.value(expression)
            return True
        subject = self.subject(expression)
        if subject.length or subject.kind in ("response", "response_time"):
            raise _Unmapped(statement)
        extractor = {"name": name, "source": subject.kind}
        if subject.kind in ("json", "header", "cookie"):
            extractor["expression"] = subject.expression
        if is_secret_name(name) or SECRET_NAME_RE.search(name):
            extractor["secret"] = True
        self.result.extractors.append(extractor)
        return True

    # Assertions

    def _add(self, subject: _Subject, operator: str, expected: Any = None) -> None:
        kind = subject.kind
        if subject.length:
            if operator not in _LENGTH:
                raise _Unmapped(operator)
            operator = _LENGTH[operator]
        if kind == "response":
            raise _Unmapped(operator)
        if kind in _NUMERIC_KINDS and operator not in _NUMERIC_OPERATORS:
            raise _Unmapped(operator)
        assertion: dict[str, Any] = {"type": kind}
        if kind in ("json", "header", "cookie"):
            assertion["expression"] = subject.expression
        assertion["operator"] = operator
        if operator not in _NO_EXPECTED:
            assertion["expected_value"] = expected
        name, skipped = self._context()
        if name:
            assertion["description"] = name[:MAX_DESCRIPTION]
        # Postman records a failed test and goes on to the next request: soft.
        assertion["soft"] = True
        if skipped:
            assertion["enabled"] = False
        self.result.assertions.append(assertion)

    def _arguments(self, text: str | None) -> list[str]:
        if text is None:
            return []
        inner = text[1:-1]
        return [part.strip() for part in _split_top(inner, _mask(inner)[1], ",")
                if part.strip()]

    def _chain(self, subject: _Subject, chain: str) -> None:
        """Map a chai chain (``.to.have.property('a').and.equal(1)``) on ``subject``."""
        links, position, masked = [], 0, _mask(chain)[1]
        while position < len(chain):
            match = _LINK_RE.match(chain, position)
            if not match:
                break
            position = match.end()
            arguments = None
            if position < len(chain) and chain[position] == "(":
                end = _balanced_end(masked, position)
                if end == -1:
                    raise _Unmapped(chain)
                arguments, position = chain[position:end], end
            links.append((match.group(1), arguments))
        if chain[position:].strip() or not links:
            raise _Unmapped(chain)
        negate, asserted, pending_property = False, False, False
        for word, raw in links:
            arguments = self._arguments(raw)
            if raw is None and word in _CHAINS:
                if word == "and":
                    negate = False
                continue
            if word == "not" and raw is None:
                negate = not negate
                continue
            if word == "nested" and raw is None:
                continue
            if subject.kind == "response":
                self._response_link(word, raw, arguments, negate)
                asserted = True
                continue
            if word in ("length", "lengthOf") and raw is None:
                if subject.kind not in ("json", "body"):
                    raise _Unmapped(word)
                subject = replace(subject, length=True)
                continue
            if word == "property":
                if subject.kind != "json" or not arguments or len(arguments) > 2:
                    raise _Unmapped(word)
                key = self.value(arguments[0])
                if not isinstance(key, str):
                    raise _Unmapped(word)
                for piece in key.split(".") if "nested" in [w for w, _ in links] else [key]:
                    subject = subject.child(piece)
                if len(arguments) == 2:
                    self._add(subject, "ne" if negate else "eq", self.value(arguments[1]))
                    asserted, pending_property = True, False
                else:
                    pending_property = True
                continue
            self._link(subject, word, raw, arguments, negate)
            asserted, pending_property, negate = True, False, False
        if pending_property:
            self._add(subject, "not_exists" if negate else "exists")
            asserted = True
        if not asserted:
            raise _Unmapped(chain)

    def _link(self, subject: _Subject, word: str, raw: str | None, arguments: list[str],
              negate: bool) -> None:
        if raw is None:   # a property that asserts
            if word == "exist":
                self._add(subject, "not_exists" if negate else "exists")
            elif word == "null":
                self._add(subject, "is_not_null" if negate else "is_null")
            elif word == "undefined":
                self._add(subject, "exists" if negate else "not_exists")
            elif word in ("true", "false"):
                self._add(subject, "ne" if negate else "eq", word == "true")
            elif word == "empty":
                self._add(replace(subject, length=True), "gt" if negate else "eq", 0)
            else:
                raise _Unmapped(word)
            return
        if word in _EQUAL and len(arguments) == 1:
            self._add(subject, "ne" if negate else "eq", self.value(arguments[0]))
        elif word in _ORDER and len(arguments) == 1:
            operator = _ORDER[word]
            self._add(subject, _NEGATED[operator] if negate else operator,
                      self._number(arguments[0]))
        elif word in ("lengthOf", "length") and len(arguments) == 1 and not negate:
            if subject.kind not in ("json", "body"):
                raise _Unmapped(word)
            self._add(replace(subject, length=True), "eq", self._number(arguments[0]))
        elif word in ("include", "includes", "contain", "contains") and len(arguments) == 1:
            if subject.kind in _NUMERIC_KINDS:
                raise _Unmapped(word)
            self._add(subject, "not_contains" if negate else "contains",
                      self.value(arguments[0]))
        elif word == "oneOf" and len(arguments) == 1:
            expected = self.value(arguments[0])
            if not isinstance(expected, list):
                raise _Unmapped(word)
            self._add(subject, "not_contained_by" if negate else "contained_by", expected)
        elif word == "match" and len(arguments) == 1 and not negate:
            self._add(subject, "regex_match", self._regex(arguments[0]))
        elif word in ("a", "an") and len(arguments) == 1 and not negate:
            expected = self.value(arguments[0])
            if expected not in _TYPES:
                raise _Unmapped(word)
            self._add(subject, "type_match", _TYPES[expected])
        elif word == "within" and len(arguments) == 2 and not negate:
            self._add(subject, "ge", self._number(arguments[0]))
            self._add(subject, "le", self._number(arguments[1]))
        else:
            raise _Unmapped(word)

    def _response_link(self, word: str, raw: str | None, arguments: list[str],
                       negate: bool) -> None:
        """Map the assertions of ``pm.response.to...`` (Postman's chai plugin)."""
        status = _Subject("status_code")
        if raw is None:
            if word in _STATUS_WORDS:
                self._add(status, "ne" if negate else "eq", _STATUS_WORDS[word])
            elif word in _STATUS_CLASSES and not negate:
                low, high = _STATUS_CLASSES[word]
                self._add(status, "ge", low)
                self._add(status, "lt", high)
            elif word in ("error", "serverError") and negate:
                self._add(status, "lt", _STATUS_CLASSES[word][0])
            elif word == "json" and not negate:
                self._add(_Subject("json", "$"), "exists")
            else:
                raise _Unmapped(word)
            return
        if word == "status" and len(arguments) == 1:
            code = self.value(arguments[0])
            if not isinstance(code, int) or isinstance(code, bool):
                raise _Unmapped(word)
            self._add(status, "ne" if negate else "eq", code)
        elif word == "header" and len(arguments) in (1, 2):
            name = self.value(arguments[0])
            if not isinstance(name, str):
                raise _Unmapped(word)
            header = _Subject("header", name)
            if len(arguments) == 2:
                self._add(header, "ne" if negate else "eq", self.value(arguments[1]))
            else:
                self._add(header, "not_exists" if negate else "exists")
        elif word == "body" and len(arguments) == 1 and not negate:
            expected = self.value(arguments[0])
            if not isinstance(expected, str):
                raise _Unmapped(word)
            self._add(_Subject("body"), "eq", expected)
        elif word == "jsonBody" and not negate and len(arguments) <= 2:
            subject = _Subject("json", "$")
            if arguments:
                path = self.value(arguments[0])
                if not isinstance(path, str) or not re.fullmatch(r"[\w$]+(\.[\w$]+|\[\d+\])*",
                                                                  path):
                    raise _Unmapped(word)
                subject = replace(subject, expression="$." + path)
            if len(arguments) == 2:
                self._add(subject, "eq", self.value(arguments[1]))
            else:
                self._add(subject, "exists")
        elif word == "jsonSchema" and len(arguments) == 1 and not negate:
            schema = self.value(arguments[0])
            if not isinstance(schema, (dict, bool)):
                raise _Unmapped(word)
            self._add(_Subject("json", "$"), "json_schema", schema)
        else:
            raise _Unmapped(word)

    def _number(self, text: str) -> Any:
        value = self.value(text)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _Unmapped(text)
        if isinstance(value, str) and not re.fullmatch(r"\{\{.*\}\}", value):
            raise _Unmapped(text)
        return value

    @staticmethod
    def _regex(text: str) -> str:
        match = re.fullmatch(r"/(.+)/([a-z]*)", text.strip(), re.S)
        if not match or set(match.group(2)) - {"i"}:
            raise _Unmapped(text)
        pattern = match.group(1).replace("\\/", "/")
        re.compile(pattern)
        return ("(?i)" if match.group(2) else "") + pattern

    def _legacy_test(self, expression: str) -> None:
        """Map ``tests["name"] = <expression>`` (the scripts of Postman before ``pm``)."""
        contains = re.fullmatch(r"(.+?)\.(?:has|includes)\((.+)\)", expression, re.S)
        if contains:
            self._add(self.subject(contains.group(1)), "contains", self.value(contains.group(2)))
            return
        comparison = _COMPARISON_RE.match(expression)
        if comparison:
            left, symbol, right = comparison.groups()
            operator = {"===": "eq", "==": "eq", "!==": "ne", "!=": "ne", ">": "gt",
                        ">=": "ge", "<": "lt", "<=": "le"}[symbol]
            subject = self.subject(left)
            expected = (self._number(right) if operator in ("gt", "ge", "lt", "le")
                        else self.value(right))
            self._add(subject, operator, expected)
            return
        subject = self.subject(expression)
        if subject.kind not in ("header", "cookie", "json"):
            raise _Unmapped(expression)
        self._add(subject, "exists")


# The collection


@dataclass
class _Scope:
    """What a folder hands down to what it holds."""

    auth: dict | None = None
    auth_where: str = ""
    assertions: list[dict] = field(default_factory=list)
    extractors: list[dict] = field(default_factory=list)
    step_variables: dict = field(default_factory=dict)


class _Collection:
    """One reading of a collection document into an ``ImportPlan``."""

    def __init__(self, document: Any, filename: str, rows: datafile.DataRows | None = None,
                 data_file: DataFile | None = None) -> None:
        self.document = document
        self.filename = filename
        self.rows = rows
        self.data_file = data_file
        self.problems: list[Problem] = []
        self.requests: list[ImportedRequest] = []
        self.steps: list[ImportedStep] = []
        self.variables: list[ImportedVariable] = []
        self.globals: dict[str, Any] = {}
        self.renamed: dict[str, str] = {}
        self.auth_headers: dict[str, tuple[str, str, str]] = {}
        self.secret_names: set[str] = set()
        self.keys: Counter[str] = Counter()
        self.examples = 0
        self.scenario_key = ""

    def fail(self, where: str, reason: str) -> ImportFailed:
        return ImportFailed(self.filename, where, reason)

    def problem(self, where: str, message: str, severity: str = WARNING, item: str = "") -> None:
        self.problems.append(Problem(where=where, message=message, severity=severity,
                                     item=item))

    def plan(self) -> ImportPlan:
        document = self.document
        if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
            if isinstance(document, dict) and "requests" in document and "order" in document:
                raise self.fail("", message(gettext_noop(
                    "a Postman collection v1; export it from Postman as a collection v2.1 and "
                    "import that")))
            raise self.fail("", message(gettext_noop(
                "not a Postman collection: it has no \"info\" object")))
        info = document["info"]
        items = document.get("item")
        if not isinstance(items, list):
            raise self.fail("/item", message(gettext_noop(
                "not a Postman collection: \"item\" is not a list of requests and folders")))
        schema = info.get("schema")
        if schema is None:
            self.problem("/info/schema", message(gettext_noop(
                "the collection names no schema version; read as v2.1")))
        elif not isinstance(schema, str) or not SCHEMA_RE.search(schema):
            raise self.fail("/info/schema", message(gettext_noop(
                "unknown collection schema %(schema)s; the importer reads Postman collections "
                "v2.0 and v2.1"), schema=repr(schema)))
        title = str(info.get("name") or self.filename)
        self.scenario_key = key = str(info.get("_postman_id") or title)
        self._declared_names(document)
        self._variables(document.get("variable"), "/variable", folder="")
        root = self._level(document, "", _Scope())
        self._walk(items, "/item", [], root)
        if self.examples:
            self.problem("/", message(gettext_noop("%(count)s saved example responses are not "
                                                   "imported"), count=self.examples), SKIPPED)
        self._mark_secret_variables()
        self._undefined_references()
        scenario = ImportedScenario(key=key, name=title, steps=self.steps,
                                    description=_description(info.get("description")),
                                    where="/", dataset=self._dataset())
        return ImportPlan(format=FORMAT, title=title,
                          base_urls=ranked_base_urls([r.url for r in self.requests]),
                          requests=self.requests, variables=self.variables,
                          scenarios=[scenario] if self.steps else [], problems=self.problems)

    def _undefined_references(self) -> None:
        """List each variable the requests refer to that nothing imported defines (a
        variable, a data column, a script's set or extract): newman sends ``{{name}}`` as
        written, a run here fails the step naming it (it may live in a Postman environment
        file, which is not imported)."""
        known = {variable.name for variable in self.variables}
        if self.rows is not None:
            known.update(self.renamed.get(column, column) for column in self.rows.columns)
        for step in self.steps:
            known.update(step.variables)
        for request in self.requests:
            known.update(extractor["name"] for extractor in request.extractors)
        first: dict[str, ImportedRequest] = {}
        for request in self.requests:
            for name in _references(request):
                if IDENTIFIER_RE.match(name) and name not in known:
                    first.setdefault(name, request)
        for name, request in first.items():
            said = (gettext_noop(
                "%(reference)s is defined by no variable of the collection nor column of the "
                "data file: newman sends it as written, a run here fails the step naming it; "
                "give it a value (a variable of the project or an environment)")
                if self.rows is not None else gettext_noop(
                    "%(reference)s is defined by no variable of the collection: newman sends "
                    "it as written, a run here fails the step naming it; give it a value (a "
                    "variable of the project or an environment)"))
            self.problem(request.where, message(said, reference="{{" + name + "}}"),
                         item=request.key)

    def _dataset(self) -> ImportedDataset | None:
        if self.rows is None:
            return None
        assert self.data_file is not None
        if not self.steps:
            raise ImportFailed(self.data_file.filename, "", message(gettext_noop(
                "%(filename)s holds no request to run with the data"), filename=self.filename))
        for column in self.rows.columns:
            if self.renamed.get(column, column) != column:
                self.problem("", message(gettext_noop(
                    "%(file)s: column %(column)s is imported as %(name)s (names are letters, "
                    "digits and _); its references are renamed"),
                    file=self.data_file.filename, column=repr(column),
                    name=repr(self.renamed[column])))
        self.problems.extend(self.rows.problems)
        return ImportedDataset(name=self.data_file.filename,
                               csv_data=datafile.canonical_csv(self.rows, self.renamed))

    # Variables

    def _declared_names(self, node: dict) -> None:
        """Choose the imported names of every declared variable (and data file column)
        before anything refers to them: a name that is not an identifier (``base-url``)
        gets one (``base_url``)."""
        stack = [node]
        names = list(self.rows.columns) if self.rows is not None else []
        while stack:
            current = stack.pop(0)
            variables = current.get("variable")
            for variable in variables if isinstance(variables, list) else []:
                if isinstance(variable, dict):
                    name = variable.get("key", variable.get("id"))
                    if isinstance(name, str) and name:
                        names.append(name)
            stack.extend(child for child in current.get("item") or []
                         if isinstance(child, dict) and isinstance(child.get("item"), list))
        fine = [name for name in names if IDENTIFIER_RE.match(name) and len(name) <= 100]
        taken = set(fine)
        for name in names:
            if name in fine or name in self.renamed:
                continue
            new = base = _identifier(name)
            counter = 2
            while new in taken:
                new = f"{base}_{counter}"
                counter += 1
            taken.add(new)
            self.renamed[name] = new

    def _variables(self, variables: Any, pointer: str, folder: str) -> dict:
        """Import the ``variable`` entries at ``pointer``; return those the folder changes."""
        overrides: dict[str, Any] = {}
        if not isinstance(variables, list):
            return overrides
        for index, variable in enumerate(variables):
            where = f"{pointer}/{index}"
            if not isinstance(variable, dict):
                self.problem(where, message(gettext_noop("a variable that is not an object")),
                             SKIPPED)
                continue
            name = variable.get("key", variable.get("id"))
            if not isinstance(name, str) or not name:
                self.problem(where, message(gettext_noop("a variable without a name")), SKIPPED)
                continue
            if variable.get("disabled"):
                self.problem(where, message(gettext_noop("variable %(name)s is disabled"),
                                            name=name), SKIPPED)
                continue
            imported = self.renamed.get(name, name)
            if imported != name:
                self.problem(where, message(gettext_noop(
                    "variable %(name)s is imported as %(imported)s (names are letters, digits "
                    "and _); its references are renamed"),
                    name=repr(name), imported=repr(imported)))
            value = variable.get("value")
            value = self.rewrite(value) if isinstance(value, str) else value
            if folder:
                self.problem(where, message(gettext_noop(
                    "variable %(name)s of folder %(folder)s is imported as a project global "
                    "(folders have no variables here)"), name=imported, folder=folder))
            if imported in self.globals:
                if self.globals[imported] != value:
                    overrides[imported] = value
                    self.problem(where, message(gettext_noop(
                        "variable %(name)s of folder %(folder)s differs from the one already "
                        "imported; the steps under the folder get the folder's value as step "
                        "variables"), name=imported, folder=folder))
                continue
            self.globals[imported] = value
            self.variables.append(ImportedVariable(
                name=imported, value="" if value is None else value,
                secret=variable.get("type") == "secret",
                description=_description(variable.get("description"))[:MAX_DESCRIPTION]))
        return overrides

    def _mark_secret_variables(self) -> None:
        for variable in self.variables:
            if variable.name in self.secret_names:
                variable.secret = True

    def rewrite(self, text: str) -> str:
        """Return ``text`` with the references renamed and Postman's dynamic variables
        (``{{$guid}}``) turned into the platform's built-ins."""
        if "{{" not in text:
            return text

        def replaced(match: re.Match) -> str:
            name = match.group(1).strip()
            if name in DYNAMIC:
                return "{{" + DYNAMIC[name] + "}}"
            if name in self.renamed:
                return "{{" + self.renamed[name] + "}}"
            return match.group(0)

        return REFERENCE_RE.sub(replaced, text)

    def _check_references(self, request: ImportedRequest) -> None:
        """List each ``{{...}}`` of the request that the platform cannot resolve."""
        seen: list[str] = []
        for name in _references(request):
            fine = IDENTIFIER_RE.match(name) or re.fullmatch(r"[\w.]+\(.*\)", name)
            if not fine and name not in seen:
                seen.append(name)
        for name in seen:
            said = (gettext_noop("%(reference)s is a Postman dynamic variable the platform has "
                                 "no built-in for: it will not resolve")
                    if name.startswith("$") else
                    gettext_noop("%(reference)s is not a variable name the platform reads "
                                 "(letters, digits and _): it will not resolve"))
            self.problem(request.where, message(said, reference="{{" + name + "}}"),
                         item=request.key)

    # Folders, scripts and auth

    def _level(self, node: dict, pointer: str, scope: _Scope) -> _Scope:
        """Return the scope ``node`` (the collection or a folder) hands down."""
        scope = _Scope(auth=scope.auth, auth_where=scope.auth_where,
                       assertions=list(scope.assertions), extractors=list(scope.extractors),
                       step_variables=dict(scope.step_variables))
        auth = node.get("auth")
        if isinstance(auth, dict):
            scope.auth, scope.auth_where = auth, f"{pointer}/auth"
        # The scripts of the collection and its folders belong to the scenario.
        scripts = self._events(node.get("event"), f"{pointer}/event", self.scenario_key)
        scope.assertions += scripts["test"].assertions
        scope.extractors += scripts["test"].extractors
        scope.step_variables.update(scripts["prerequest"].variables)
        return scope

    def _events(self, events: Any, pointer: str, item: str) -> dict[str, ScriptResult]:
        found = {"test": ScriptResult(), "prerequest": ScriptResult()}
        if not isinstance(events, list):
            return found
        for index, event in enumerate(events):
            where = f"{pointer}/{index}"
            if not isinstance(event, dict):
                continue
            listen = event.get("listen")
            script = event.get("script") or {}
            if listen not in found:
                self.problem(where, message(gettext_noop("a script for %(event)s is not imported"),
                                            event=repr(listen)), item=item)
                continue
            if event.get("disabled"):
                self.problem(where, message(gettext_noop("the %(event)s script is disabled"),
                                            event=listen), SKIPPED, item=item)
                continue
            if not isinstance(script, dict):
                continue
            if script.get("src"):
                self.problem(f"{where}/script/src", message(gettext_noop(
                    "a script read from a URL is not imported")), item=item)
            exec_ = script.get("exec")
            if isinstance(exec_, str):
                lines = exec_.splitlines()
                pointers = [f"{where}/script/exec (line {n})" for n in range(1, len(lines) + 1)]
            elif isinstance(exec_, list):
                lines = [line if isinstance(line, str) else "" for line in exec_]
                pointers = [f"{where}/script/exec/{n}" for n in range(len(lines))]
            else:
                continue
            result = ScriptReader(listen, self.renamed).read(lines, pointers)
            for line_where, line in result.unmapped:
                self.problem(line_where, message(gettext_noop("script line not imported: "
                                                              "%(line)s"), line=line.strip()),
                             item=item)
            bucket = found[listen]
            bucket.assertions += result.assertions
            bucket.extractors += result.extractors
            bucket.variables.update(result.variables)
        return found

    def _walk(self, items: list, pointer: str, folder: list[str], scope: _Scope) -> None:
        for index, item in enumerate(items):
            where = f"{pointer}/{index}"
            if not isinstance(item, dict):
                self.problem(where, message(gettext_noop(
                    "an item that is neither a folder nor a request")), SKIPPED)
                continue
            name = item.get("name")
            if isinstance(item.get("item"), list):
                label = str(name or f"folder {index + 1}")
                overrides = self._variables(item.get("variable"), f"{where}/variable", label)
                inner = self._level(item, where, scope)
                inner.step_variables.update(overrides)
                self._walk(item["item"], f"{where}/item", [*folder, label], inner)
            elif "request" in item:
                try:
                    self._request(item, where, folder, scope)
                except _Skip as skip:
                    self.problem(skip.where or where, skip.reason, SKIPPED)
            else:
                self.problem(where, message(gettext_noop(
                    "item %(name)s is neither a folder (no \"item\" list) nor a request (no "
                    "\"request\")"), name=repr(name or index + 1)), SKIPPED)

    def _request(self, item: dict, where: str, folder: list[str], scope: _Scope) -> None:
        request = item["request"]
        if isinstance(request, str):
            request = {"url": request, "method": "GET"}
        if not isinstance(request, dict):
            raise _Skip(f"{where}/request", message(gettext_noop(
                "the request is neither a URL nor an object")))
        method = str(request.get("method") or "GET").upper()
        if method not in METHODS:
            raise _Skip(f"{where}/request/method", message(gettext_noop(
                "method %(method)s is not one the platform sends (%(methods)s)"),
                method=method, methods=", ".join(METHODS)))
        url_data = request.get("url")
        raw, rebuilt = self._raw_url(url_data, f"{where}/request/url")
        name = str(item.get("name") or raw.strip() or f"request {len(self.requests) + 1}")
        key = str(item.get("id") or f"{method} {' / '.join([*folder, name])}")
        self.keys[key] += 1
        if self.keys[key] > 1:
            key = f"{key} ({self.keys[key]})"
        imported = ImportedRequest(key=key, name=name, method=method, url="",
                                   folder=list(folder), where=where,
                                   description=_description(request.get("description")
                                                            or item.get("description")))
        if rebuilt:
            self.problem(f"{where}/request/url", message(gettext_noop(
                "the raw URL is blank; rebuilt from its parts: %(url)s"), url=raw), item=key)
        self._url(imported, raw, url_data, f"{where}/request/url")
        self._headers(imported, request.get("header"), f"{where}/request/header")
        self._body(imported, request.get("body"), f"{where}/request/body",
                   (item.get("protocolProfileBehavior") or {}).get("disableBodyPruning"))
        size = body_size(imported.body_type, imported.body)
        if size > settings.TESTING_BODY_MAX_BYTES:
            raise _Skip(f"{where}/request/body", message(gettext_noop(
                "the body is %(size)s bytes; an interface holds at most %(limit)s"),
                size=size, limit=settings.TESTING_BODY_MAX_BYTES))
        self._auth(imported, request.get("auth"), f"{where}/request/auth", scope)
        self._protocol(imported, item.get("protocolProfileBehavior"),
                       f"{where}/protocolProfileBehavior")
        scripts = self._events(item.get("event"), f"{where}/event", key)
        for kind, found in (("assertions", scope.assertions + scripts["test"].assertions),
                             ("extractors", scope.extractors + scripts["test"].extractors)):
            if len(found) > MAX_CHECKS:
                said = (gettext_noop("%(count)s assertions: the first %(limit)s are imported")
                        if kind == "assertions" else
                        gettext_noop("%(count)s extractors: the first %(limit)s are imported"))
                self.problem(f"{where}/event", message(said, count=len(found), limit=MAX_CHECKS),
                             item=key)
            setattr(imported, kind, found[:MAX_CHECKS])
        if isinstance(item.get("response"), list):
            self.examples += len(item["response"])
        self._check_references(imported)
        self.requests.append(imported)
        step_variables = {**scope.step_variables, **scripts["prerequest"].variables}
        self.steps.append(ImportedStep(request=key, title=name[:500],
                                       variables=step_variables))

    # URL, headers, body

    def _raw_url(self, url: Any, pointer: str) -> tuple[str, bool]:
        """Return the URL as written, and whether it had to be rebuilt from its parts."""
        if isinstance(url, str):
            return url, False
        if url is None:
            return "", False
        if not isinstance(url, dict):
            raise _Skip(pointer, message(gettext_noop("the URL is neither text nor an object")))
        raw = url.get("raw")
        if isinstance(raw, str) and raw.strip():
            return raw, False
        built = _url_from_parts(url)
        return built, bool(built and isinstance(raw, str))

    def _url(self, request: ImportedRequest, raw: str, url: Any, pointer: str) -> None:
        if not raw.strip():
            raise _Skip(pointer, message(gettext_noop("the request has no URL")))
        text = self.rewrite(raw)
        parts = url if isinstance(url, dict) else {}
        for variable in parts.get("variable") or []:
            if not isinstance(variable, dict) or not isinstance(variable.get("key"), str):
                continue
            value = variable.get("value")
            segment = re.compile(r"(?<=/):" + re.escape(variable["key"]) + r"(?=[/?#]|\Z)")
            if not segment.search(text):
                continue
            if value in (None, ""):
                value = self.reference_text(variable["key"])
                self.problem(pointer, message(gettext_noop(
                    "path variable :%(name)s has no value; the URL reads %(value)s instead"),
                    name=variable["key"], value=value), item=request.key)
            text = segment.sub(lambda _m, v=self.rewrite(_text(value)): v, text)
        if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:[/\\]|\{\{|/", text):
            text = "http://" + text
            self.problem(pointer, message(gettext_noop(
                "the URL has no scheme; imported as http://, as Postman sends it")),
                item=request.key)
        text = self._credentials(request, text, parts, pointer)
        split = split_query(text)
        disabled = [q for q in parts.get("query") or []
                    if isinstance(q, dict) and q.get("disabled") and q.get("key")]
        if split:
            text, pairs = split
            request.query = [_pair(name, value) for name, value in pairs]
        if disabled and ("?" not in text):
            request.query += [_pair(self.rewrite(q["key"]), self.rewrite(_text(q.get("value"))),
                                    False, _description(q.get("description")))
                              for q in disabled]
        elif disabled:
            names = ", ".join(q["key"] for q in disabled)
            self.problem(pointer, message(gettext_noop(
                "disabled query parameters (%(names)s) are not imported: the URL keeps its "
                "query as written, and a parameter enabled beside it would replace that "
                "query"), names=names), item=request.key)
        if re.search(r"[\x00-\x1f\x7f]", text):
            self.problem(pointer, message(gettext_noop(
                "the URL holds a control character (a line break, a tab) that HTTP cannot "
                "carry as written; it is kept, and sending it fails until it is "
                "percent-encoded")), item=request.key)
        request.url = text

    def reference_text(self, name: str) -> str:
        return "{{" + self.renamed.get(name, name) + "}}"

    def _credentials(self, request: ImportedRequest, text: str, parts: dict,
                     pointer: str) -> str:
        """Move a user name and password written in the URL into basic auth: the platform
        refuses to send a URL that carries them."""
        match = re.match(r"(https?://)([^/?#]*)@([^/?#@]*)", text, re.I)
        if not match:
            if isinstance(parts.get("auth"), dict):
                self.problem(pointer, message(gettext_noop(
                    "the URL carries a user name and password, which the platform refuses to "
                    "send; give the request basic auth instead")), item=request.key)
            return text
        auth = parts.get("auth") if isinstance(parts.get("auth"), dict) else {}
        userinfo = match.group(2)
        user, _, password = userinfo.partition(":")
        user = _text(auth.get("user")) if auth else unquote(user)
        password = _text(auth.get("password")) if auth else unquote(password)
        request.headers.append(_pair("Authorization", "Basic {{base64_encode("
                                     + self.secret("basic_credentials", f"{user}:{password}",
                                                   message(gettext_noop(
                                                       "The user name and password of a URL "
                                                       "of the collection")), bare=True)
                                     + ")}}"))
        self.problem(pointer, message(gettext_noop(
            "the user name and password written in the URL moved into an Authorization header "
            "(basic auth) with a secret variable")), item=request.key)
        return match.group(1) + match.group(3) + text[match.end():]

    def _headers(self, request: ImportedRequest, headers: Any, pointer: str) -> None:
        if isinstance(headers, str):   # v2.0 allows "Name: value" lines
            headers = [dict(zip(("key", "value"), (s.strip() for s in line.split(":", 1))))
                       for line in headers.splitlines() if ":" in line]
        for index, header in enumerate(headers or []):
            if not isinstance(header, dict):
                continue
            name = _text(header.get("key")).strip()
            if not name:
                self.problem(f"{pointer}/{index}", message(gettext_noop(
                    "a header without a name")), SKIPPED, item=request.key)
                continue
            request.headers.append(_pair(self.rewrite(name),
                                         self.rewrite(_text(header.get("value"))),
                                         not header.get("disabled"),
                                         _description(header.get("description"))))

    def _body(self, request: ImportedRequest, body: Any, pointer: str, keep: Any) -> None:
        if not isinstance(body, dict) or not body.get("mode"):
            return
        mode = body["mode"]
        if body.get("disabled"):
            self.problem(pointer, message(gettext_noop("the body is disabled; not imported")),
                         item=request.key)
            return
        if request.method in PRUNED_METHODS and not keep and body.get(mode):
            self.problem(pointer, message(gettext_noop(
                "Postman sends no body with %(method)s (unless disableBodyPruning is set); the "
                "body is not imported"), method=request.method), item=request.key)
            return
        header_type = _header_value(request.headers, "Content-Type")
        if mode == "raw":
            text = self.rewrite(_text(body.get("raw")))
            if not text:
                return
            language = (((body.get("options") or {}).get("raw") or {}).get("language") or "")
            implied = LANGUAGE_TYPES.get(language, "")
            if language == "json" or "json" in header_type.lower():
                try:
                    request.body_type, request.body = "json", json.loads(text)
                except ValueError:
                    request.body_type, request.body = "raw", text
            else:
                request.body_type, request.body = "raw", text
            if not header_type:
                request.content_type = implied or ("application/json"
                                                   if request.body_type == "json" else "text/plain")
        elif mode in ("urlencoded", "formdata"):
            pairs = []
            for index, part in enumerate(body.get(mode) or []):
                where = f"{pointer}/{mode}/{index}"
                if not isinstance(part, dict) or not _text(part.get("key")):
                    self.problem(where, message(gettext_noop("a form field without a name")),
                                 SKIPPED, item=request.key)
                    continue
                if part.get("type") == "file":
                    self.problem(where, message(gettext_noop(
                        "file field %(name)s is not imported (the importer reads no file)"),
                        name=repr(part["key"])), item=request.key)
                    continue
                pairs.append(_pair(self.rewrite(_text(part["key"])),
                                   self.rewrite(_text(part.get("value"))),
                                   not part.get("disabled"),
                                   _description(part.get("description"))))
            request.body_type = "form" if mode == "urlencoded" else "multipart"
            request.body = pairs
            if mode == "formdata" and "multipart" in header_type.lower():
                request.headers = [h for h in request.headers
                                   if h["name"].lower() != "content-type"]
                self.problem(pointer, message(gettext_noop(
                    "the Content-Type header is dropped: the platform writes its own multipart "
                    "boundary")), item=request.key)
        elif mode == "graphql":
            graphql = body.get("graphql") or {}
            variables = graphql.get("variables")
            if isinstance(variables, str):
                try:
                    variables = json.loads(variables) if variables.strip() else None
                except ValueError:
                    pass
            payload = {"query": _text(graphql.get("query"))}
            if variables not in (None, ""):
                payload["variables"] = variables
            request.body_type = "raw"
            request.body = self.rewrite(json.dumps(payload, ensure_ascii=False))
            if not header_type:
                request.content_type = "application/json"
            self.problem(pointer, message(gettext_noop(
                "a GraphQL body is imported as the JSON text Postman sends ({\"query\": ..., "
                "\"variables\": ...})")), item=request.key)
        elif mode == "file":
            self.problem(pointer, message(gettext_noop(
                "a body read from a file is not imported (the importer reads no file)")),
                item=request.key)
        else:
            self.problem(pointer, message(gettext_noop("body mode %(mode)s is not imported"),
                                          mode=repr(mode)), item=request.key)

    def _protocol(self, request: ImportedRequest, settings: Any, pointer: str) -> None:
        if not isinstance(settings, dict):
            return
        reasons = {
            "followRedirects": gettext_noop("the platform follows redirects"),
            "strictSSL": gettext_noop("TLS verification stays on"),
            "disableUrlEncoding": gettext_noop("the platform percent-encodes what a URL cannot "
                                               "carry as written (spaces, quotes, < and >)"),
            "disableCookies": gettext_noop("the platform keeps cookies between the steps of a "
                                           "scenario"),
        }
        for name, value in settings.items():
            if name == "disableBodyPruning" or PROTOCOL_DEFAULTS.get(name, object()) == value:
                continue
            reason = message(reasons.get(name, gettext_noop("not imported")))
            self.problem(f"{pointer}/{name}", message(gettext_noop(
                "%(name)s: %(value)s: %(reason)s"), name=name, value=json.dumps(value),
                reason=reason), item=request.key)

    # Auth

    def _auth(self, request: ImportedRequest, auth: Any, pointer: str, scope: _Scope) -> None:
        if isinstance(auth, dict):
            where = pointer
        else:
            auth, where = scope.auth, scope.auth_where
        if not isinstance(auth, dict) or auth.get("type") in (None, "noauth"):
            return
        kind = auth["type"]
        if where not in self.auth_headers:
            self.auth_headers[where] = self._auth_header(kind, _auth_params(auth, kind), where)
        placement, name, value = self.auth_headers[where]
        if not placement:
            return
        if placement == "header":
            if _has_header(request.headers, name):
                self.problem(where, message(gettext_noop(
                    "the request has its own %(header)s header; the %(kind)s auth is not "
                    "added"), header=name, kind=kind), item=request.key)
                return
            request.headers.append(_pair(name, value))
        elif "?" in request.url:
            joiner = "" if request.url.endswith(("?", "&")) else "&"
            request.url += f"{joiner}{_encoded(name)}={value}"
        else:
            request.query.append(_pair(name, value))

    def _auth_header(self, kind: str, params: dict, where: str) -> tuple[str, str, str]:
        """Return where the auth goes (header or query), the name and the value."""
        if kind == "bearer":
            token = self.secret("bearer_token", _text(params.get("token")),
                                message(gettext_noop("The bearer token of the collection")))
            return "header", "Authorization", f"Bearer {token}"
        if kind == "basic":
            credentials = (f"{_text(params.get('username'))}:"
                           f"{_text(params.get('password'))}")
            name = self.secret("basic_credentials", credentials, message(gettext_noop(
                "The basic auth user:password of the collection")), bare=True)
            return "header", "Authorization", "Basic {{base64_encode(" + name + ")}}"
        if kind == "apikey":
            name = _text(params.get("key")) or "X-API-Key"
            value = self.secret(_identifier(name.lower()), _text(params.get("value")),
                                message(gettext_noop("The API key %(name)s of the collection"),
                                        name=name))
            placement = "query" if params.get("in") == "query" else "header"
            return placement, self.rewrite(name), value
        if kind == "oauth2" and params.get("accessToken"):
            if params.get("addTokenTo") == "queryParams":
                self.problem(where, message(gettext_noop(
                    "OAuth 2.0 with the token in the query is not imported")))
                return "", "", ""
            token = self.secret("oauth2_access_token", _text(params["accessToken"]),
                                message(gettext_noop(
                                    "The OAuth 2.0 access token of the collection")))
            prefix = _text(params.get("headerPrefix")) or "Bearer"
            self.problem(where, message(gettext_noop(
                "OAuth 2.0: the access token saved in the collection is sent as a bearer "
                "token; it is not renewed when it expires")))
            return "header", "Authorization", f"{prefix} {token}"
        self.problem(where, message(gettext_noop(
            "%(kind)s auth is not imported; the requests that use it are sent without it"),
            kind=kind))
        return "", "", ""

    def secret(self, base: str, value: str, description: Message, bare: bool = False) -> str:
        """Return a reference to a secret variable holding ``value`` (one already imported
        with that value, or a new one); a value that is one reference is used as it is.
        ``description`` is what a new one is described by, in the committer's language."""
        value = self.rewrite(value)
        whole = re.fullmatch(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", value)
        if whole:
            self.secret_names.add(whole.group(1))
            return whole.group(1) if bare else value
        for variable in self.variables:
            if variable.secret and variable.value == value and variable.name.startswith(base):
                return variable.name if bare else "{{" + variable.name + "}}"
        name, counter = base, 2
        taken = {v.name for v in self.variables}
        while name in taken:
            name = f"{base}_{counter}"
            counter += 1
        self.variables.append(ImportedVariable(name=name, value=value, secret=True,
                                               description=description))
        self.globals[name] = value
        return name if bare else "{{" + name + "}}"


def _references(request: ImportedRequest) -> list[str]:
    """Return what the ``{{...}}`` of ``request`` name, in order, repeats included."""
    texts = [request.url, *(p["name"] + p["value"] for p in request.query + request.headers)]
    if isinstance(request.body, str):
        texts.append(request.body)
    elif request.body is not None:
        texts.append(json.dumps(request.body, ensure_ascii=False))
    return [match.group(1).strip() for text in texts for match in REFERENCE_RE.finditer(text)]


class _Skip(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def _auth_params(auth: dict, kind: str) -> dict:
    """Return the parameters of an auth: v2.1 lists ``{"key", "value"}``, v2.0 an object."""
    params = auth.get(kind)
    if isinstance(params, list):
        return {p.get("key"): p.get("value") for p in params if isinstance(p, dict)}
    return params if isinstance(params, dict) else {}


def _url_from_parts(url: dict) -> str:
    """Return the URL Postman's ``Url.toString()`` builds from the parts of a URL object."""
    host = url.get("host")
    host = ".".join(_text(h) for h in host) if isinstance(host, list) else _text(host)
    if not host:
        return ""
    text = f"{url['protocol']}://" if url.get("protocol") else ""
    text += host
    if url.get("port"):
        text += f":{url['port']}"
    path = url.get("path")
    if isinstance(path, list):
        text += "/" + "/".join(_text(p) for p in path)
    elif isinstance(path, str) and path:
        text += path if path.startswith("/") else "/" + path
    query = [q for q in url.get("query") or [] if isinstance(q, dict) and not q.get("disabled")]
    if query:
        text += "?" + "&".join(_text(q.get("key")) + ("" if q.get("value") is None
                                                      else "=" + _text(q.get("value")))
                               for q in query)
    if url.get("hash"):
        text += "#" + _text(url["hash"])
    return text
