"""Importers: OpenAPI/Swagger, Postman, HAR, cURL and HttpRunner files into a project.

Each importer module turns a file into an ``ImportPlan`` (``base.py``) and nothing else: no
database, no network, no file but the one given. ``testing.services.imports`` previews the
plan against the project and writes it.
"""

from __future__ import annotations

import importlib

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from testing.engine.messages import message
from testing.importers.base import DataFile, ImportFailed, ImportPlan

# Tried in this order when the format is not given: the most specific sniffs first.
MODULES = {"openapi": "testing.importers.openapi", "postman": "testing.importers.postman",
           "har": "testing.importers.har", "httprunner": "testing.importers.httprunner",
           "curl": "testing.importers.curl"}
LABELS = {"openapi": _("OpenAPI / Swagger"), "postman": _("Postman collection"),
          "har": _("HAR"), "httprunner": _("HttpRunner testcase"), "curl": _("cURL commands")}


def _module(name: str):
    return importlib.import_module(MODULES[name])


def available() -> dict[str, str]:
    """Return the formats whose importer is installed, with their labels."""
    found = {}
    for name in MODULES:
        try:
            _module(name)
        except ImportError:
            continue
        found[name] = LABELS[name]
    return found


def detect(data: bytes, filename: str) -> str:
    """Return the format of ``data``; ``ImportFailed`` when no importer recognises it."""
    for name in available():
        if _module(name).looks_like(data, filename):
            return name
    raise ImportFailed(filename, "", message(gettext_noop(
        "not a file any importer reads (OpenAPI or Swagger, a Postman collection, HAR, cURL "
        "commands, an HttpRunner testcase); choose the format if it is one of these")))


# The formats whose importer takes a data file (``parse(..., data_file=)``).
TAKES_DATA_FILE = {"postman"}


def parse(data: bytes, filename: str, format: str | None = None, *,
          data_file: DataFile | None = None) -> ImportPlan:
    """Return what ``data`` holds, in the platform's terms; ``data_file`` (a Postman
    collection's iteration data) becomes the dataset of its scenario."""
    name = format or detect(data, filename)
    if name not in available():
        raise ImportFailed(filename, "", message(gettext_noop("unknown format %(format)s"),
                                                 format=repr(name)))
    if data_file is None:
        return _module(name).parse(data, filename)
    if name not in TAKES_DATA_FILE:
        raise ImportFailed(data_file.filename, "", message(gettext_noop(
            "a data file goes with a Postman collection; %(filename)s is %(format)s"),
            filename=filename, format=LABELS[name]))
    return _module(name).parse(data, filename, data_file=data_file)
