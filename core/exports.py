"""CSV files the platform writes: streamed, and safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula, so a user agent or a username typed by
an attacker (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``) would run when an operator opens
the export. Following OWASP's advice on CSV injection, such a cell is written with a
leading single quote, which spreadsheets show as text; the stored value is unchanged.
Every CSV export of the platform goes through ``csv_rows``.
"""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Return ``text`` as a spreadsheet shows it as text, never as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> Any:
    """Return one value as a CSV cell: JSON for structures, ISO 8601 for times, text safe."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    elif isinstance(value, (bool, int, float)):
        # A negative number is a number, not a formula: spreadsheets read it as one.
        return value
    return neutralise(str(value))


class _Echo:
    """A file-like object whose ``write`` returns the line, for streaming ``csv.writer``."""

    def write(self, value: str) -> str:
        return value


def csv_rows(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield the CSV lines of ``header`` and then ``rows``, every cell through ``cell``."""
    writer = csv.writer(_Echo())
    yield writer.writerow([neutralise(str(name)) for name in header])
    for row in rows:
        yield writer.writerow([cell(value) for value in row])
