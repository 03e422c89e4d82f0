"""Postman data files (``newman run -d``): CSV or a JSON array of objects, read as newman
reads them, into the CSV of a platform dataset (issue 15, item 1).

Newman's CSV reader is lenient where the platform's dataset parser
(``testing.models.scenarios.parse_csv``) is strict, and files written for newman rely on it:

* a UTF-8 byte-order mark is dropped;
* header names and values are trimmed (`` "foo" `` is ``foo``);
* a quote inside an unquoted value is part of it (``Abhijit "KDOS" Kane``); inside a quoted
  value ``""`` and ``\\"`` are a quote;
* an unquoted number is read as a number, a quoted one stays text (``"00123"``);
* a row shorter than the header leaves the missing columns undefined.

The dataset is written as canonical CSV (``csv.writer``: every row has every column, quoted
where needed) so that the strict parser reads back exactly the text newman would substitute
for ``{{name}}``. What canonical CSV cannot say is kept as close as it can be and listed as a
problem in the preview, never changed silently:

* **absent and empty**: a column a row does not have (a short CSV row, a key a JSON object
  lacks, a JSON ``null``) is written as an empty value, like a column given empty; newman
  leaves it undefined, so each such column is named in a warning with the rows it is missing
  from;
* an unquoted number newman would rewrite (``00123`` becomes ``123``) is kept as written, with
  a warning; a JSON number, true or false is written as its JSON text (what ``{{name}}``
  gives); a JSON object or array as its JSON text, with a warning (newman gives
  ``[object Object]``);
* a row whose only value is empty is skipped by the dataset parser, so it is a skipped row.

Refused with a readable reason (``ImportFailed`` naming the data file and the line or item):
text that is neither CSV nor JSON, a file larger than ``TESTING_DATASET_MAX_BYTES``, more
rows than ``TESTING_DATASET_MAX_ROWS``, a row with more values than the header has names, a
repeated or empty column name, a value holding a NUL character, a quote never closed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from core import json as capped_json
from testing.engine.messages import message
from testing.importers.base import SKIPPED, WARNING, DataFile, ImportFailed, Problem
from testing.importers.loading import at_line

MAX_DEPTH = 64
NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
BLANKS = " \t"


@dataclass
class DataRows:
    """The rows of a data file: column names in order, each row the values it gives (a
    column a row does not give is absent from its dict), and what could not be kept."""

    columns: list[str]
    rows: list[dict[str, str]]
    problems: list[Problem] = field(default_factory=list)
    missing: dict[str, list[int]] = field(default_factory=dict)   # column: row numbers


def read(data_file: DataFile) -> DataRows:
    """Return the rows of a newman data file; ``ImportFailed`` when it is not one."""
    content, filename = data_file.content, data_file.filename
    limit = settings.TESTING_DATASET_MAX_BYTES
    if len(content) > limit:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the data file is %(size)d bytes; at most %(limit)d are imported"),
            size=len(content), limit=limit))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(filename, message(gettext_noop("byte %(number)d"),
                                             number=exc.start),
                           message(gettext_noop("a data file is CSV or JSON text in UTF-8; "
                                                "this is not text"))) from None
    if "\x00" in text:
        raise ImportFailed(filename, at_line(text.count(chr(10), 0, text.index(chr(0))) + 1),
                           message(gettext_noop("a data file is CSV or JSON text; this holds "
                                                "a NUL character (is it a binary file?)")))
    if not text.strip():
        raise ImportFailed(filename, "", message(gettext_noop("the data file is empty")))
    if text.lstrip().startswith(("[", "{")) or filename.lower().endswith(".json"):
        found = _from_json(text, filename)
    else:
        found = _from_csv(text, filename)
    if not found.rows:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the data file has no rows: nothing would run")))
    if len(found.rows) > settings.TESTING_DATASET_MAX_ROWS:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the data file has %(count)d rows; at most %(limit)d are imported"),
            count=len(found.rows), limit=settings.TESTING_DATASET_MAX_ROWS))
    for column, numbers in found.missing.items():
        shown = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
        found.problems.append(Problem("", message(gettext_noop(
            "%(file)s: column %(column)s is missing from %(count)s row(s) (row %(rows)s); "
            "newman leaves it undefined there, the dataset gives it an empty value"),
            file=filename, column=column, count=len(numbers), rows=shown), WARNING))
    if len(found.columns) == 1:
        (column,) = found.columns
        for number, row in enumerate(found.rows, start=1):
            if not row.get(column, "").strip():
                found.problems.append(Problem(f"row {number}", message(gettext_noop(
                    "%(file)s: the row's only value is empty; a dataset skips such a row, so "
                    "it is not run"), file=filename), SKIPPED))
    return found


def canonical_csv(rows: DataRows, renamed: dict[str, str] | None = None) -> str:
    """Return ``rows`` as the CSV of a dataset (every row every column; see the module)."""
    renamed = renamed or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([renamed.get(column, column) for column in rows.columns])
    for row in rows.rows:
        writer.writerow([row.get(column, "") for column in rows.columns])
    return out.getvalue()


# CSV


def _from_csv(text: str, filename: str) -> DataRows:
    records = _records(text, filename)
    line, header = records[0]
    columns = [value for value, _quoted in header]
    _check_columns(columns, filename, at_line(line))
    result = DataRows(columns=columns, rows=[])
    for line, record in records[1:]:
        number = len(result.rows) + 1
        if len(record) > len(columns):
            raise ImportFailed(filename, at_line(line), message(gettext_noop(
                "the row has %(count)d values where the header names %(columns)d columns"),
                count=len(record), columns=len(columns)))
        row = {}
        for column, (value, quoted) in zip(columns, record):
            row[column] = value
            if not quoted and NUMBER_RE.match(value):
                number_text = _as_javascript_number(value)
                if number_text != value:
                    result.problems.append(Problem(f"line {line}", message(gettext_noop(
                        "%(file)s: newman reads the unquoted %(column)s %(value)s as the "
                        "number %(number)s; the dataset keeps it as written"),
                        file=filename, column=column, value=value, number=number_text),
                        WARNING))
        for column in columns[len(record):]:
            result.missing.setdefault(column, []).append(number)
        result.rows.append(row)
    return result


def _records(text: str, filename: str) -> list[tuple[int, list[tuple[str, bool]]]]:
    """Return the non-empty records of ``text`` with their first line, each value with
    whether it was quoted (newman's reading: trimmed, relaxed quotes).

    Read here rather than with the ``csv`` module: its reader (Python 3.11) does not say
    whether a value was quoted, which decides whether newman reads it as a number, nor
    takes ``\\"`` as a quote inside a quoted value; the writing side is ``csv.writer``."""
    records: list[tuple[int, list[tuple[str, bool]]]] = []
    record: list[tuple[str, bool]] = []
    line = start_line = 1
    position, size = 0, len(text)

    def end_record() -> None:
        if len(record) > 1 or (record and (record[0][0] or record[0][1])):
            records.append((start_line, list(record)))
        record.clear()

    while True:
        while position < size and text[position] in BLANKS:
            position += 1
        if position < size and text[position] == '"':
            opened = line
            position += 1
            value = []
            while True:
                if position >= size:
                    raise ImportFailed(filename, at_line(opened), message(gettext_noop(
                        "a quote opened here is never closed")))
                char = text[position]
                if char == "\\" and position + 1 < size and text[position + 1] in '"\\':
                    value.append(text[position + 1])
                    position += 2
                elif char == '"':
                    if position + 1 < size and text[position + 1] == '"':
                        value.append('"')
                        position += 2
                    else:
                        position += 1
                        break
                else:
                    if char == "\n" or (char == "\r" and text[position + 1:position + 2]
                                        != "\n"):
                        line += 1
                    value.append(char)
                    position += 1
            while position < size and text[position] in BLANKS:
                position += 1
            if position < size and text[position] not in ",\r\n":
                raise ImportFailed(filename, at_line(line), message(gettext_noop(
                    "text after a closing quote; quote the whole value")))
            record.append(("".join(value), True))
        else:
            end = position
            while end < size and text[end] not in ",\r\n":
                end += 1
            record.append((text[position:end].strip(BLANKS), False))
            position = end
        if position >= size:
            end_record()
            break
        char = text[position]
        position += 1
        if char == ",":
            continue
        if char == "\r" and text[position:position + 1] == "\n":
            position += 1
        line += 1
        end_record()
        start_line = line
    if not records:
        raise ImportFailed(filename, "", message(gettext_noop("the data file is empty")))
    return records


def _as_javascript_number(text: str) -> str:
    """Return how JavaScript writes the number ``text`` reads as, near enough to tell when
    newman changes a value (leading zeros, a plus sign, trailing zeros, more digits than a
    double holds). Both languages write the shortest digits that read back as the double;
    JavaScript writes an integer below 1e21 in full, padding those digits with zeros."""
    number = float(text)
    if not (number.is_integer() and abs(number) < 1e21):
        return repr(number)
    mantissa, _e, exponent = repr(abs(number)).partition("e")
    digits = mantissa.replace(".", "").rstrip("0").lstrip("0") or "0"
    if not exponent:
        return str(int(number))
    whole = digits.ljust(int(exponent) + 1, "0")
    return ("-" if number < 0 else "") + whole


def _check_columns(columns: list[str], filename: str, where: str) -> None:
    seen = set()
    for column in columns:
        if not column:
            raise ImportFailed(filename, where, message(gettext_noop(
                "a column of the header has no name")))
        if column in seen:
            raise ImportFailed(filename, where, message(gettext_noop(
                "the column %(column)s appears twice"), column=column))
        seen.add(column)


# JSON


def _from_json(text: str, filename: str) -> DataRows:
    try:
        document = capped_json.loads(text, max_depth=MAX_DEPTH)
    except capped_json.TooDeep:
        raise ImportFailed(filename, "", message(gettext_noop(
            "the JSON nests deeper than %(depth)d levels"), depth=MAX_DEPTH))
    except ValueError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        raise ImportFailed(filename, at_line(line, column), message(gettext_noop(
            "neither CSV nor valid JSON: %(detail)s"), detail=getattr(exc, "msg", exc))) from None
    if not isinstance(document, list):
        raise ImportFailed(filename, "", message(gettext_noop(
            "a JSON data file is an array of objects, one per iteration")))
    result = DataRows(columns=[], rows=[])
    for index, entry in enumerate(document):
        where = f"/{index}"
        if not isinstance(entry, dict):
            raise ImportFailed(filename, where, message(gettext_noop(
                "an iteration that is not an object")))
        row = {}
        for key, value in entry.items():
            key = key.strip()
            if key not in result.columns:
                _check_columns([key], filename, where)
                result.columns.append(key)
            if value is None:
                continue
            row[key] = _json_text(value, filename, f"{where}/{key}", result.problems)
        result.rows.append(row)
    for number, row in enumerate(result.rows, start=1):
        for column in result.columns:
            if column not in row:
                result.missing.setdefault(column, []).append(number)
    return result


def _json_text(value: Any, filename: str, where: str, problems: list[Problem]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        said = (gettext_noop("%(file)s: the value is a JSON object; the dataset keeps its JSON "
                             "text (newman's {{...}} gives [object Object] or the items "
                             "joined by commas)") if isinstance(value, dict) else
                gettext_noop("%(file)s: the value is a JSON array; the dataset keeps its JSON "
                             "text (newman's {{...}} gives [object Object] or the items "
                             "joined by commas)"))
        problems.append(Problem(where, message(said, file=filename), WARNING))
    return json.dumps(value, ensure_ascii=False)
