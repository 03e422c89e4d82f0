"""What every importer produces: plain data describing what a file holds, in the platform's
own terms, before anything is written (``ImportPlan``).

An importer is a function ``parse(data: bytes, filename: str) -> ImportPlan`` that never
touches the database, the network or the filesystem beyond ``data``. It raises
``ImportFailed`` (naming the file, where in it, and why) for a file it cannot read at all,
and records in ``ImportPlan.problems`` everything it read but could not map (a script line,
an unsupported auth, a skipped static asset), so the preview lists it: nothing is dropped
silently.

The shapes below are the platform's JSON field formats (``testing/schemas/``):

* a name/value pair: ``{"name": "X-Id", "value": "{{id}}", "enabled": true}``;
* an assertion: ``{"type": "status_code" | "json" | "header" | "body" | "response_time",
  "expression": "$.id", "operator": "eq", "expected_value": 1}`` (operators of
  ``testing.engine.checks``: eq, ne, gt, ge, lt, le, contains, regex_match, len_eq, ...);
* an extractor: ``{"name": "token", "source": "json" | "header" | "regex" | "cookie" |
  "status_code", "expression": "$.token"}``;
* variables are referenced as ``{{name}}``; an importer rewrites the source's own syntax
  (HttpRunner's ``$name``, ``${name}``) and lists what it could not rewrite.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext_noop

from testing.engine.messages import data_of, message, render

SKIPPED = "skipped"    # an item of the file that will not be imported, and why
WARNING = "warning"    # imported, but something in it was not (a script line, an auth)


class ImportFailed(ValueError):
    """A file that cannot be imported at all: which file, where in it, and why."""

    def __init__(self, filename: str, where: str, reason: str) -> None:
        self.filename = filename
        self.where = where
        self.reason = reason
        # A ``Message`` (testing.engine.messages): the job keeps its id, and the page shows
        # it in the reader's language; ``where`` and ``reason`` may be messages themselves.
        if where:
            said = message(gettext_noop("%(filename)s, %(where)s: %(reason)s"),
                           filename=filename, where=where, reason=reason)
        else:
            said = message(gettext_noop("%(filename)s: %(reason)s"), filename=filename,
                           reason=reason)
        super().__init__(said)

    def text(self) -> str:
        """Return why the file cannot be read, in the active language."""
        return render(data_of(self.args[0]), str(self))


@dataclass(frozen=True)
class DataFile:
    """A file of iteration data that goes with the imported file (``newman run -d``)."""

    content: bytes
    filename: str


@dataclass
class Problem:
    """Something read but not (fully) imported: where in the file, what, and whether the
    item is skipped or only part of it."""

    where: str                 # a JSON pointer ("/item/2/event/0/script/exec/3") or "line 12"
    message: str               # in English; a ``Message`` gives its msgid to message_i18n
    severity: str = WARNING    # SKIPPED or WARNING
    item: str = ""             # the key of the request or scenario it belongs to, if any
    # The message's msgid and parameters (testing.engine.messages), so that the preview
    # shows it in the reader's language; None in plans stored before, and for a message
    # without an id, which show ``message``.
    message_i18n: dict | None = None

    def __post_init__(self) -> None:
        if self.message_i18n is None:
            self.message_i18n = data_of(self.message)
        self.message = str(self.message)

    def text(self) -> str:
        """Return the message in the active language (the stored English one without id)."""
        return render(self.message_i18n, self.message)


@dataclass
class ImportedRequest:
    """One request of the file: it becomes (or updates) an interface of the project."""

    key: str                   # stable identity in the source, e.g. "GET /pets/{petId}"
    name: str
    method: str
    url: str                   # absolute as in the file, or a path on the base URL
    folder: list[str] = field(default_factory=list)   # folder path, outermost first
    query: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    body_type: str = "none"    # none, json, form, multipart, raw
    body: Any = None           # JSON value; a list of pairs for form and multipart; text
    content_type: str = ""
    assertions: list[dict] = field(default_factory=list)
    extractors: list[dict] = field(default_factory=list)
    description: str = ""
    where: str = ""            # where in the file (for errors and the preview)


class _Described:
    """A plan item with a ``description`` and its ``description_i18n``: a ``Message`` given
    as the description is kept as its English text beside its msgid and parameters."""

    description: str
    description_i18n: dict | None

    def __post_init__(self) -> None:
        if self.description_i18n is None:
            self.description_i18n = data_of(self.description)
        self.description = str(self.description)

    def description_text(self) -> str:
        """Return the description in the active language (the stored one without id)."""
        return render(self.description_i18n, self.description)


@dataclass
class ImportedVariable(_Described):
    """A variable of the file: a project global, or one of an environment."""

    name: str
    value: Any
    secret: bool = False
    environment: str | None = None   # None: a project global
    description: str = ""      # in English; a ``Message`` gives its msgid to description_i18n
    # The msgid and parameters of a description the importer wrote (testing.engine.messages),
    # so that the commit writes it in the committer's language; None in plans stored before,
    # and for a description taken from the file, which is written as it is.
    description_i18n: dict | None = None


@dataclass
class ImportedStep:
    """A step of an imported scenario: a request of the plan (by key) with its own extras."""

    request: str               # an ImportedRequest.key
    title: str = ""
    variables: dict = field(default_factory=dict)
    assertions: list[dict] = field(default_factory=list)
    extractors: list[dict] = field(default_factory=list)


@dataclass
class ImportedDataset:
    """CSV rows a scenario runs once each (HttpRunner parameters, a Postman data file)."""

    name: str
    csv_data: str


@dataclass
class ImportedScenario(_Described):
    """A sequence the file describes (an HttpRunner testcase, a Postman collection)."""

    key: str
    name: str
    steps: list[ImportedStep] = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    description: str = ""      # in English; a ``Message`` gives its msgid to description_i18n
    dataset: ImportedDataset | None = None
    where: str = ""
    # As ``ImportedVariable.description_i18n``: None for a description taken from the file.
    description_i18n: dict | None = None


@dataclass
class ImportPlan:
    """Everything a file holds, mapped to the platform, with what could not be mapped."""

    format: str                # openapi, swagger, postman, har, curl, httprunner
    title: str
    base_urls: list[str] = field(default_factory=list)   # hosts the file's requests use
    requests: list[ImportedRequest] = field(default_factory=list)
    variables: list[ImportedVariable] = field(default_factory=list)
    scenarios: list[ImportedScenario] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def as_data(self) -> dict:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict) -> ImportPlan:
        scenarios = []
        for scenario in data.get("scenarios", []):
            dataset = scenario.get("dataset")
            scenarios.append(ImportedScenario(
                **{**scenario, "steps": [ImportedStep(**step) for step in scenario["steps"]],
                   "dataset": ImportedDataset(**dataset) if dataset else None}))
        return cls(format=data["format"], title=data["title"],
                   base_urls=list(data.get("base_urls", [])),
                   requests=[ImportedRequest(**r) for r in data.get("requests", [])],
                   variables=[ImportedVariable(**v) for v in data.get("variables", [])],
                   scenarios=scenarios,
                   problems=[Problem(**p) for p in data.get("problems", [])])
