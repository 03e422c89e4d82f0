"""HttpRunner v3 and v4 testcases (YAML or JSON: ``config`` and ``teststeps``) into a plan.

* The testcase becomes a scenario (key and name: ``config.name``, else the file name) with the
  config's variables; ``base_url`` is the plan's base URL and step URLs stay paths on it (a
  URL that starts with ``$base_url`` loses it: HttpRunner reads that variable from ``.env``,
  the platform from the environment's base URL).
* Each ``request`` step becomes an interface (key ``"{testcase}/{position}:{step name}"``)
  that carries the step's ``validate`` as assertions and ``extract`` as extractors, and a
  scenario step that carries the step's ``variables``. The checks sit on the interface because
  each HttpRunner step is a request of its own: the interface then checks the same things when
  it is sent alone, and the scenario step adds only what belongs to this use of it.
* ``config.headers`` are merged into every request (a step's own header wins, as in HttpRunner);
  ``cookies`` become a Cookie header; ``json`` and ``body`` objects a JSON body; ``data`` and
  ``body`` mappings a form when the Content-Type says so; text a raw body.
* References: ``$name`` and ``${name}`` become ``{{name}}``; ``$$`` a dollar;
  ``${ENV(NAME)}`` becomes ``{{NAME}}`` and a variable NAME to fill in; built-ins with an
  equivalent become helper calls (``get_timestamp``, ``gen_random_string``, ``md5``,
  ``get_current_date``); any other ``${func(...)}`` is left as written with a warning: it
  calls debugtalk.py code, which is never evaluated here.
* ``parameters`` given inline become the scenario's dataset (every combination, as HttpRunner
  runs them); one read from a CSV file is named in a warning and the file is never opened:
  the tester uploads it as a dataset.
* Not imported, each listed: steps that call another testcase or an API file (never read),
  hooks and ``validate_script`` (user code runs only in the sandbox: rewrite them as keywords),
  comparators and response fields without an equivalent, ``verify: false`` (TLS verification
  stays on), ``export`` and request options such as ``timeout`` or ``files``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from core.redaction import is_secret_name
from testing.engine.checks import ALIASES, COMPARATORS, TYPE_ALIASES, TYPES
from testing.engine.messages import message
from testing.importers.base import (
    SKIPPED,
    WARNING,
    ImportedDataset,
    ImportedRequest,
    ImportedScenario,
    ImportedStep,
    ImportedVariable,
    ImportFailed,
    ImportPlan,
    Problem,
)
from testing.importers.loading import load_any

FORMAT = "httprunner"

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# HttpRunner's own syntax (v3 parser.py, v4 hrp/parser.go): "$$" escapes a dollar; a call's
# arguments are read more loosely than HttpRunner does, so that nothing that looks like a
# call slips through unlisted.
REFERENCE_RE = re.compile(r"\$\$|\$\{(\w+)\(([^(){}]*)\)\}|\$\{(\w+)\}|\$(\w+)")
SNIFF_RE = re.compile(rb"""(?<![\w-])["']?teststeps["']?\s*:""")
BASE_URL_RE = re.compile(r"^\$(?:\{base_url\}|base_url(?!\w))")
FILE_CALL_RE = re.compile(r"^\s*(?:\$\{)?(?:parameterize|P)\((.*)\)\}?\s*$", re.S)
CALL_RE = re.compile(r"^\s*\$\{(\w+)\((.*)\)\}\s*$", re.S)

COMPARATOR_NAMES = {
    **dict.fromkeys(("eq", "equal", "equals", "==", "is"), "eq"),
    **dict.fromkeys(("ne", "not_equal", "not_equals", "!="), "ne"),
    **dict.fromkeys(("lt", "less_than", "<"), "lt"),
    **dict.fromkeys(("le", "less_or_equals", "less_than_or_equals", "<="), "le"),
    **dict.fromkeys(("gt", "greater_than", ">"), "gt"),
    **dict.fromkeys(("ge", "greater_or_equals", "greater_than_or_equals", ">="), "ge"),
    **dict.fromkeys(("str_eq", "string_equals"), "str_eq"),
    **dict.fromkeys(("len_eq", "length_equal", "length_equals", "count_eq"), "len_eq"),
    **dict.fromkeys(("len_gt", "count_gt", "length_greater_than", "count_greater_than"),
                    "len_gt"),
    **dict.fromkeys(("len_ge", "count_ge", "length_greater_or_equals",
                     "length_greater_than_or_equals", "count_greater_than_or_equals"),
                    "len_ge"),
    **dict.fromkeys(("len_lt", "count_lt", "length_less_than", "count_less_than"), "len_lt"),
    **dict.fromkeys(("len_le", "count_le", "length_less_or_equals",
                     "length_less_than_or_equals", "count_less_than_or_equals"), "len_le"),
    "contains": "contains", "contained_by": "contained_by", "type_match": "type_match",
    "regex_match": "regex_match", "startswith": "startswith", "endswith": "endswith",
}
STATUS_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le", "contained_by", "not_contained_by"}
# A Python or Go type name HttpRunner's type_match may name, as the platform's type names.
TYPE_NAMES = {"nonetype": "null", "none": "null", "nil": "null", "tuple": "list",
              "int64": "int", "float64": "float", "map": "dict", "slice": "list",
              "string": "str"}

CONFIG_KEYS = {"name", "base_url", "variables", "parameters", "parameters_setting", "export",
               "verify", "headers", "setup_hooks", "teardown_hooks"}
STEP_KEYS = {"name", "request", "variables", "extract", "validate", "validate_script",
             "setup_hooks", "teardown_hooks"}
REQUEST_KEYS = {"method", "url", "params", "headers", "json", "data", "body", "cookies"}


def looks_like(data: bytes, filename: str) -> bool:
    """Return whether ``data`` reads like an HttpRunner testcase: it has ``teststeps``."""
    return SNIFF_RE.search(data[:4 * 1024 * 1024]) is not None


def parse(data: bytes, filename: str) -> ImportPlan:
    """Return the testcase ``data`` as interfaces, a scenario and what could not be mapped."""
    document = load_any(data, filename)
    if isinstance(document, list):
        raise ImportFailed(filename, "", message(gettext_noop(
            "a list of config and test items is the HttpRunner v1/v2 format; v3 and v4 "
            "testcases (config and teststeps) are imported")))
    if isinstance(document, dict) and "testcases" in document and "teststeps" not in document:
        raise ImportFailed(filename, "/testcases", message(gettext_noop(
            "a testsuite only names testcase files: import each testcase file")))
    if not isinstance(document, dict) or not isinstance(document.get("teststeps"), list):
        raise ImportFailed(filename, "/teststeps", message(gettext_noop(
            "not an HttpRunner testcase: expected a config and a list of teststeps")))
    config = document.get("config", {})
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ImportFailed(filename, "/config", message(gettext_noop(
            "the config is not a mapping")))
    return _Reader(filename).read(config, document["teststeps"])


def _text(value: Any) -> str:
    """Return a value as a text field reads it (a query parameter, a header, a CSV cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _at(where: str, key: Any) -> str:
    """Return the JSON pointer of ``key`` under ``where`` (``~`` and ``/`` escaped)."""
    return f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _pairs(mapping: dict) -> list[dict]:
    return [{"name": str(name), "value": _text(value), "enabled": True}
            for name, value in mapping.items() if str(name)]


def _number(value: Any) -> Any:
    """Return an integer written as text ("200") as the integer; anything else unchanged."""
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    return value


class _Reader:
    """One reading of a testcase: the plan, and the references and warnings met on the way."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.plan = ImportPlan(format=FORMAT, title=filename)
        self.warned: set[tuple[str, str]] = set()
        self.item = ""
        self.config_variables: dict = {}

    def problem(self, where: str, message: str, severity: str = WARNING,
                item: str | None = None) -> None:
        self.plan.problems.append(Problem(where=where, message=message, severity=severity,
                                          item=self.item if item is None else item))

    def warn_once(self, kind: str, subject: str, where: str, message: str) -> None:
        if (kind, subject) not in self.warned:
            self.warned.add((kind, subject))
            self.problem(where, message)

    def read(self, config: dict, teststeps: list) -> ImportPlan:
        name = config.get("name")
        key = name.strip() if isinstance(name, str) and name.strip() else self.filename
        self.item = key
        self.plan.title = key[:255]
        raw_variables = config.get("variables") or {}
        self.config_variables = raw_variables if isinstance(raw_variables, dict) else {}
        scenario = ImportedScenario(key=key[:255], name=key[:255], where="/config")
        scenario.variables = self.variables(raw_variables, "/config/variables")
        self.base_url(config.get("base_url"))
        headers = config.get("headers") or {}
        if not isinstance(headers, dict):
            self.problem("/config/headers", message(gettext_noop(
                "the config headers are not a mapping: not imported")))
            headers = {}
        config_headers = self.rewrite(headers, "/config/headers")
        self.config_extras(config)
        scenario.dataset = self.parameters(config, key)
        for index, step in enumerate(teststeps):
            where = f"/teststeps/{index}"
            imported = self.step(step, index, key, config_headers, where)
            if imported is not None:
                scenario.steps.append(imported)
        self.item = key
        if scenario.steps or scenario.dataset is not None:
            self.plan.scenarios.append(scenario)
        return self.plan

    def base_url(self, value: Any) -> None:
        if value in (None, ""):
            defined = self.config_variables.get("base_url")
            value = defined if isinstance(defined, str) else None
            if value is None:
                return
        if not isinstance(value, str) or "$" in value:
            self.problem("/config/base_url", message(gettext_noop(
                "the base URL %(url)s is not a URL (a reference or a call): set the "
                "environment's base URL"), url=repr(_text(value)[:200])))
            return
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problem("/config/base_url", message(gettext_noop(
                "the base URL %(url)s is not an http or https URL: set the environment's base "
                "URL"), url=repr(value[:200])))
            return
        self.add_base(value.strip().rstrip("/"))

    def add_base(self, base: str) -> None:
        if base not in self.plan.base_urls:
            self.plan.base_urls.append(base)

    def config_extras(self, config: dict) -> None:
        if config.get("verify") is False:
            self.problem("/config/verify", message(gettext_noop(
                "verify: false is not imported: TLS certificates stay verified (the platform "
                "always verifies them)")))
        export = config.get("export")
        if export:
            names = ", ".join(map(_text, export)) if isinstance(export, list) else _text(export)
            self.problem("/config/export", message(gettext_noop(
                "export (%(names)s) is not imported: it hands values to a testcase that calls "
                "this one; the values extracted here are seen by the following steps of the "
                "scenario"), names=names))
        if config.get("parameters_setting"):
            self.problem("/config/parameters_setting", message(gettext_noop(
                "parameters_setting (pick order, limit) is not imported: the dataset runs each "
                "row once, in order")))
        self.hooks(config, "/config")
        for extra in config:
            if extra not in CONFIG_KEYS:
                self.problem(_at("/config", extra), message(gettext_noop(
                    "config.%(key)s is not imported"), key=extra))

    def hooks(self, holder: dict, where: str) -> None:
        for kind in ("setup_hooks", "teardown_hooks"):
            hooks = holder.get(kind) or []
            for index, hook in enumerate(hooks if isinstance(hooks, list) else [hooks]):
                said = (gettext_noop("the setup hook %(hook)s is not run: user code runs only in "
                                     "the sandbox; rewrite it as a keyword step")
                        if kind == "setup_hooks" else
                        gettext_noop("the teardown hook %(hook)s is not run: user code runs "
                                     "only in the sandbox; rewrite it as a keyword step"))
                self.problem(f"{where}/{kind}/{index}", message(said, hook=_text(hook)[:200]))

    def parameters(self, config: dict, key: str) -> ImportedDataset | None:
        parameters = config.get("parameters")
        if not parameters:
            return None
        if not isinstance(parameters, dict):
            self.problem("/config/parameters", message(gettext_noop(
                "the parameters are not a mapping: not imported")))
            return None
        groups: list[tuple[list[str], list[list[str]]]] = []
        for raw_name, spec in parameters.items():
            where = _at("/config/parameters", raw_name)
            names = [part.strip() for part in str(raw_name).split("-")]
            if isinstance(spec, list):
                rows = self.parameter_rows(names, spec, where)
                if rows is not None:
                    groups.append((names, rows))
            elif isinstance(spec, str) and FILE_CALL_RE.match(spec):
                path = self.file_argument(FILE_CALL_RE.match(spec).group(1))
                self.problem(where, message(gettext_noop(
                    "the parameters %(name)s are read from the file %(path)s, which is not "
                    "read here: upload it as a dataset (columns %(columns)s)%(combined)s"),
                    name=raw_name, path=repr(path), columns=", ".join(names),
                    combined=self.combined_with(parameters, raw_name)))
            elif isinstance(spec, str) and CALL_RE.match(spec):
                function = CALL_RE.match(spec).group(1)
                self.problem(where, message(gettext_noop(
                    "the parameters %(name)s come from %(function)s(), a debugtalk.py "
                    "function, which is never run here: upload its rows as a "
                    "dataset%(combined)s"), name=raw_name, function=function,
                    combined=self.combined_with(parameters, raw_name)))
            else:
                self.problem(where, message(gettext_noop(
                    "the parameters %(name)s are neither a list nor a CSV file: not imported"),
                    name=raw_name))
        if not groups:
            return None
        header = [name for names, _ in groups for name in names]
        bad = [name for name in header if not NAME_RE.fullmatch(name)]
        if bad or len(set(header)) != len(header):
            self.problem("/config/parameters", message(gettext_noop(
                "the parameter names %(names)s are not distinct identifiers (letters, digits "
                "and '_'): no dataset is made"), names=", ".join(header)))
            return None
        count = math.prod(len(rows) for _, rows in groups)
        limit = settings.TESTING_DATASET_MAX_ROWS
        if count > limit:
            self.problem("/config/parameters", message(gettext_noop(
                "the parameters make %(count)s combinations; a dataset holds at most %(limit)s "
                "rows: no dataset is made"), count=count, limit=limit))
            return None
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        combinations: list[list[str]] = [[]]
        for _, rows in groups:
            combinations = [done + row for done in combinations for row in rows]
        writer.writerows(combinations)
        return ImportedDataset(name=f"{key} (parameters)"[:255], csv_data=buffer.getvalue())

    def parameter_rows(self, names: list[str], spec: list, where: str) -> list[list[str]] | None:
        rows = []
        for index, item in enumerate(spec):
            if len(names) == 1:
                rows.append([_text(item)])
            elif isinstance(item, (list, tuple)) and len(item) == len(names):
                rows.append([_text(value) for value in item])
            elif isinstance(item, dict) and all(name in item for name in names):
                rows.append([_text(item[name]) for name in names])
            else:
                self.problem(f"{where}/{index}", message(gettext_noop(
                    "the row %(row)s does not give the %(count)s values %(names)s: these "
                    "parameters are not imported"),
                    row=_text(item)[:200], count=len(names), names=", ".join(names)))
                return None
        if not rows:
            self.problem(where, message(gettext_noop("the parameter list is empty: not imported")))
            return None
        return rows

    def file_argument(self, argument: str) -> str:
        """Return the file a ``parameterize`` call names, a config variable resolved."""
        path = argument.strip().strip("'\"")
        reference = re.fullmatch(r"\$\{?(\w+)\}?", path)
        if reference and isinstance(self.config_variables.get(reference.group(1)), str):
            return self.config_variables[reference.group(1)]
        return path

    @staticmethod
    def combined_with(parameters: dict, name: str) -> str:
        others = [str(other) for other in parameters if other != name]
        if not others:
            return ""
        return message(gettext_noop("; HttpRunner runs every combination of its rows with the "
                                    "parameters %(names)s: put them together in one dataset"),
                       names=", ".join(others))

    def step(self, step: Any, index: int, case_key: str, config_headers: dict,
             where: str) -> ImportedStep | None:
        if not isinstance(step, dict):
            self.problem(where, message(gettext_noop("not a step (a mapping with a request)")),
                         SKIPPED, case_key)
            return None
        name = step.get("name")
        name = name.strip() if isinstance(name, str) and name.strip() else f"step {index + 1}"
        key = f"{case_key[:255]}/{index + 1}:{name[:255]}"
        self.item = key
        for kind in ("testcase", "api"):
            if kind in step and "request" not in step:
                target = _text(step[kind])[:300]
                said = (gettext_noop("the step %(name)s calls another testcase, %(target)s, "
                                     "which is not read here: import that file and add its "
                                     "steps") if kind == "testcase" else
                        gettext_noop("the step %(name)s calls an API file, %(target)s, which "
                                     "is not read here: import that file and add its steps"))
                self.problem(f"{where}/{kind}", message(said, name=repr(name),
                                                        target=repr(target)), SKIPPED)
                return None
        request = step.get("request")
        if not isinstance(request, dict):
            kinds = (", ".join(sorted(set(step) - STEP_KEYS))
                     or message(gettext_noop("no request")))
            self.problem(where, message(gettext_noop(
                "the step %(name)s is not an HTTP request (%(keys)s): not imported"),
                name=repr(name), keys=kinds), SKIPPED)
            return None
        method = _text(request.get("method") or "GET").strip().upper()
        url = request.get("url")
        if method not in METHODS:
            self.problem(f"{where}/request/method", message(gettext_noop(
                "the step %(name)s uses the method %(method)s, which the platform does not "
                "send"), name=repr(name), method=method[:20]), SKIPPED)
            return None
        if not isinstance(url, str) or not url.strip() or len(url) > 2048:
            self.problem(f"{where}/request/url", message(gettext_noop(
                "the step %(name)s has no URL (or one longer than 2048 characters)"),
                name=repr(name)), SKIPPED)
            return None
        imported = ImportedRequest(key=key, name=name[:255], method=method, url="",
                                   where=where)
        self.request(imported, request, url.strip(), config_headers, f"{where}/request")
        imported.extractors = self.extractors(step.get("extract"), f"{where}/extract")
        imported.assertions = self.assertions(step.get("validate"), f"{where}/validate")
        self.plan.requests.append(imported)
        if step.get("validate_script"):
            lines = step["validate_script"]
            count = len(lines) if isinstance(lines, list) else 1
            self.problem(f"{where}/validate_script", message(gettext_noop(
                "validate_script (%(count)s lines of Python) is not run: user code runs only "
                "in the sandbox; rewrite it as assertions or a keyword step"), count=count))
        self.hooks(step, where)
        for extra in step:
            if extra not in STEP_KEYS:
                self.problem(_at(where, extra), message(gettext_noop(
                    "the step's %(key)s is not imported"), key=extra))
        return ImportedStep(request=key, title=name[:255],
                            variables=self.variables(step.get("variables") or {},
                                                     f"{where}/variables"))

    def request(self, imported: ImportedRequest, request: dict, url: str,
                config_headers: dict, where: str) -> None:
        if BASE_URL_RE.match(url) and "base_url" not in self.config_variables:
            url = BASE_URL_RE.sub("", url) or "/"
            self.warn_once("base_url", "", f"{where}/url", message(gettext_noop(
                "the URLs start with $base_url, which HttpRunner reads from .env: they are "
                "kept as paths on the environment's base URL")))
        url = self.rewrite(url, f"{where}/url")
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            self.problem(f"{where}/url", message(gettext_noop(
                "the URL %(url)s is invalid (%(reason)s): kept as written"),
                url=repr(url[:200]), reason=str(exc)))
            imported.url = url
        else:
            if parts.scheme in ("http", "https") and parts.netloc:
                self.add_base(f"{parts.scheme}://{parts.netloc}")
            imported.url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) or "/"
            imported.query = [{"name": name, "value": value, "enabled": True} for name, value
                              in parse_qsl(parts.query, keep_blank_values=True) if name]
        params = request.get("params") or {}
        if isinstance(params, dict):
            imported.query += _pairs(self.rewrite(params, f"{where}/params"))
        else:
            self.problem(f"{where}/params", message(gettext_noop(
                "the params are not a mapping: not imported")))

        headers = request.get("headers") or {}
        if not isinstance(headers, dict):
            self.problem(f"{where}/headers", message(gettext_noop(
                "the headers are not a mapping: not imported")))
            headers = {}
        own = {str(name).lower() for name in headers}
        merged = {**{n: v for n, v in config_headers.items() if str(n).lower() not in own},
                  **self.rewrite(headers, f"{where}/headers")}
        cookies = request.get("cookies")
        if isinstance(cookies, dict) and cookies:
            jar = "; ".join(f"{name}={_text(value)}" for name, value
                            in self.rewrite(cookies, f"{where}/cookies").items())
            existing = next((n for n in merged if str(n).lower() == "cookie"), None)
            if existing is not None:
                merged[existing] = f"{_text(merged[existing])}; {jar}"
            else:
                merged["Cookie"] = jar
        elif cookies:
            self.problem(f"{where}/cookies", message(gettext_noop(
                "the cookies are not a mapping: not imported")))
        imported.headers = _pairs(merged)
        self.body(imported, request, where)
        for extra in request:
            if extra not in REQUEST_KEYS:
                hint = {"files": gettext_noop(" (files are never read: add the fields by hand)"),
                        "upload": gettext_noop(" (files are never read: add the fields by "
                                               "hand)"),
                        "auth": gettext_noop(" (set an Authorization header instead)"),
                        "verify": gettext_noop(" (TLS certificates are always verified)"),
                        }.get(extra)
                self.problem(_at(where, extra), message(gettext_noop(
                    "the request's %(key)s is not imported%(hint)s"),
                    key=extra, hint=message(hint) if hint else ""))

    def body(self, imported: ImportedRequest, request: dict, where: str) -> None:
        content_type = next((pair for pair in imported.headers
                             if pair["name"].lower() == "content-type"), None)
        declared = content_type["value"].split(";")[0].strip().lower() if content_type else ""
        present = [name for name in ("json", "data", "body") if request.get(name) is not None]
        if not present:
            return
        if len(present) > 1:
            self.problem(where, message(gettext_noop(
                "the request has %(fields)s: only %(field)s is imported"),
                fields=", ".join(present), field=present[0]))
        field = present[0]
        value = self.rewrite(request[field], f"{where}/{field}")
        form = declared in ("application/x-www-form-urlencoded", "multipart/form-data")
        if isinstance(value, dict) and (field == "data" or form):
            imported.body_type = "multipart" if declared == "multipart/form-data" else "form"
            imported.body = _pairs(value)
        elif isinstance(value, (dict, list)) and field != "data":
            imported.body_type, imported.body = "json", value
        elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
            imported.body_type = "form"
            imported.body = [{"name": _text(n), "value": _text(v), "enabled": True}
                             for n, v in value if _text(n)]
        elif field == "json":
            imported.body_type, imported.body = "json", value
        else:
            imported.body_type, imported.body = "raw", _text(value)
        if content_type is not None:
            imported.headers.remove(content_type)
            if imported.body_type != "multipart":  # the client writes the boundary
                imported.content_type = content_type["value"][:200]

    def variables(self, value: Any, where: str) -> dict:
        if isinstance(value, list):  # v2 wrote variables as a list of one-key mappings
            merged = {}
            for entry in value:
                if isinstance(entry, dict):
                    merged.update(entry)
            value = merged
        if not isinstance(value, dict):
            self.problem(where, message(gettext_noop(
                "the variables %(value)s are not a mapping (a debugtalk.py call?): not "
                "imported"), value=_text(value)[:200]))
            return {}
        result = {}
        for name, item in value.items():
            if not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > 100:
                self.problem(_at(where, name), message(gettext_noop(
                    "the variable name %(name)s is not an identifier (letters, digits and "
                    "'_'): not imported"), name=repr(str(name)[:100])))
                continue
            result[name] = self.rewrite(item, _at(where, name))
        return result

    def rewrite(self, value: Any, where: str) -> Any:
        """Return ``value`` with HttpRunner's references in the platform's syntax."""
        if isinstance(value, str):
            return self.rewrite_text(value, where)
        if isinstance(value, dict):
            return {(self.rewrite_text(k, where) if isinstance(k, str) else k):
                    self.rewrite(v, _at(where, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite(v, f"{where}/{i}") for i, v in enumerate(value)]
        return value

    def rewrite_text(self, text: str, where: str) -> str:
        if "$" not in text:
            return text

        def replace(match: re.Match) -> str:
            whole = match.group(0)
            if whole == "$$":
                return "$"
            if match.group(1):
                return self.call(match.group(1), match.group(2), whole, where)
            name = match.group(3) or match.group(4)
            if NAME_RE.fullmatch(name):
                return "{{" + name + "}}"
            self.warn_once("name", name, where, message(gettext_noop(
                "%(reference)s names no variable the platform can hold (letters, digits and "
                "'_', not starting with a digit): left as written"), reference=whole))
            return whole

        return REFERENCE_RE.sub(replace, text)

    def call(self, function: str, arguments: str, whole: str, where: str) -> str:
        """Return the platform's form of ``${function(arguments)}``, or the call as written."""
        args = [a.strip() for a in arguments.split(",")] if arguments.strip() else []
        if function in ("ENV", "environ", "get_env") and len(args) == 1:
            name = args[0].strip("'\"")
            if NAME_RE.fullmatch(name):
                self.environment_variable(name, where)
                return "{{" + name + "}}"
        helper = self.helper(function, args)
        if helper is not None:
            return "{{" + helper + "}}"
        if function in ("parameterize", "P"):
            self.warn_once("call", function, where, message(gettext_noop(
                "%(call)s reads a CSV file, which is not read here: upload it as a dataset; "
                "left as written"), call=whole))
        else:
            self.warn_once("call", function, where, message(gettext_noop(
                "%(call)s calls a debugtalk.py function %(function)s(): write it as a global "
                "function; left as written and never evaluated"),
                call=whole, function=function))
        return whole

    def helper(self, function: str, args: list[str]) -> str | None:
        """Return the call of the built-in helper equivalent to an HttpRunner built-in."""
        values = [self.argument(a) for a in args]
        if any(v is None for v in values):
            return None
        if function == "get_timestamp" and len(values) <= 1:
            length = values[0] if values else "13"
            return {"13": "timestamp_ms()", "10": "timestamp()"}.get(length)
        if function == "gen_random_string" and len(values) == 1:
            return f"random_string({values[0]})"
        if function == "md5" and len(values) == 1:
            return f"md5({values[0]})"
        if function == "get_current_date" and len(values) <= 1:
            return f"now({values[0] if values else json.dumps('%Y-%m-%d')})"
        return None

    @staticmethod
    def argument(text: str) -> str | None:
        """Return an HttpRunner argument as a helper argument: a name, a number or a string."""
        if "=" in text:
            return None
        reference = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text)
        if reference:
            return reference.group(1)
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return text
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
        if "$" in text:
            return None
        return json.dumps(text, ensure_ascii=False)

    def environment_variable(self, name: str, where: str) -> None:
        if any(v.name == name for v in self.plan.variables):
            return
        secret = is_secret_name(name)
        self.plan.variables.append(ImportedVariable(
            name=name, value="", secret=secret,
            description=message(gettext_noop(
                "HttpRunner read it from the environment variable %(name)s (.env)."),
                name=name)))
        said = (gettext_noop("%(call)s reads the environment variable %(name)s: it becomes the "
                             "secret variable %(name)s, imported empty; set its value in the "
                             "project or an environment") if secret else
                gettext_noop("%(call)s reads the environment variable %(name)s: it becomes the "
                             "variable %(name)s, imported empty; set its value in the project "
                             "or an environment"))
        self.problem(where, message(said, call="${ENV(" + name + ")}", name=name))

    def locate(self, path: Any) -> tuple[str, str | None] | None:
        """Return the platform's (source, expression) for an HttpRunner response path."""
        if not isinstance(path, str):
            return None
        text = path.strip()
        if "(.*)" in text:
            return "regex", text
        match = re.match(r"(\w+)(.*)$", text, re.S)
        if not match:
            return None
        head, rest = match.group(1), match.group(2).strip()
        if head == "status_code" and not rest:
            return "status_code", None
        if head in ("headers", "cookies") and rest.startswith("."):
            name = rest[1:].strip()
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = name[1:-1]
            if name:
                return ("header" if head == "headers" else "cookie"), name
            return None
        if head in ("body", "content", "json", "text"):
            if not rest:
                return "body", None
            expression = _jsonpath(rest)
            return ("json", expression) if expression else None
        return None

    def extractors(self, extract: Any, where: str) -> list[dict]:
        if not extract:
            return []
        if isinstance(extract, list):  # v2: a list of one-key mappings
            merged = {}
            for entry in extract:
                if isinstance(entry, dict):
                    merged.update(entry)
            extract = merged
        if not isinstance(extract, dict):
            self.problem(where, message(gettext_noop(
                "extract is not a mapping of names to response paths: not imported")))
            return []
        result = []
        for name, path in extract.items():
            if not isinstance(name, str) or not NAME_RE.fullmatch(name) or len(name) > 100:
                self.problem(_at(where, name), message(gettext_noop(
                    "the name %(name)s is not an identifier: this extractor is not imported"),
                    name=repr(str(name)[:100])))
                continue
            located = self.locate(path)
            if located is None:
                self.problem(_at(where, name), message(gettext_noop(
                    "%(name)s: %(path)s is not a part of the response the platform reads "
                    "(status_code, headers.X, cookies.x, body.a.b or a regex with (.*)): not "
                    "imported"), name=name, path=repr(_text(path)[:200])))
                continue
            source, expression = located
            extractor = {"name": name, "source": source}
            if expression is not None:
                extractor["expression"] = expression
            result.append(extractor)
        return result

    def assertions(self, validate: Any, where: str) -> list[dict]:
        if not validate:
            return []
        if not isinstance(validate, list):
            self.problem(where, message(gettext_noop("validate is not a list: not imported")))
            return []
        result = []
        for index, validator in enumerate(validate):
            assertion = self.assertion(validator, f"{where}/{index}")
            if assertion is not None:
                result.append(assertion)
        return result

    def assertion(self, validator: Any, where: str) -> dict | None:
        shown = _text(validator)[:200]
        if isinstance(validator, dict) and "check" in validator:
            comparator = validator.get("assert", validator.get("comparator", "eq"))
            check, expected = validator["check"], validator.get("expect")
            note = validator.get("msg", validator.get("message", ""))
        elif (isinstance(validator, dict) and len(validator) == 1
              and isinstance(next(iter(validator.values())), list)
              and len(next(iter(validator.values()))) in (2, 3)):
            comparator, arguments = next(iter(validator.items()))
            check, expected = arguments[0], arguments[1]
            note = arguments[2] if len(arguments) == 3 else ""
        else:
            self.problem(where, message(gettext_noop(
                "%(validator)s is not a validator ({comparator: [check, expect]} or "
                "check/assert/expect): not imported"), validator=shown))
            return None
        operator = self.operator(comparator)
        if operator is None:
            self.problem(where, message(gettext_noop(
                "the comparator %(comparator)s has no equivalent here: the assertion "
                "%(assertion)s is not imported"),
                comparator=repr(_text(comparator)[:50]), assertion=shown))
            return None
        located = self.locate(check)
        if located is None or located[0] == "regex":
            self.problem(where, message(gettext_noop(
                "%(check)s is not a part of the response the platform asserts on "
                "(status_code, headers.X, cookies.x, body or body.a.b): the assertion "
                "%(assertion)s is not imported"),
                check=repr(_text(check)[:200]), assertion=shown))
            return None
        kind, expression = located
        expected = self.rewrite(expected, f"{where}/expect")
        if kind == "body" and not (isinstance(expected, str) and not operator.startswith("len_")):
            kind, expression = "json", "$"  # HttpRunner's body is the parsed JSON
        if operator == "type_match":
            expected = _type_name(expected)
        elif operator.startswith("len_") or kind == "status_code":
            expected = _number(expected)
        if operator.startswith("len_") and not (
                (isinstance(expected, int) and not isinstance(expected, bool))
                or (isinstance(expected, str) and re.fullmatch(r"\{\{.*\}\}", expected))):
            self.problem(where, message(gettext_noop(
                "%(comparator)s needs a whole number, not %(expected)s: the assertion "
                "%(assertion)s is not imported"),
                comparator=operator, expected=_text(expected)[:50], assertion=shown))
            return None
        if operator in ("startswith", "endswith") and not isinstance(expected, str):
            expected = _text(expected)  # HttpRunner compares str(expect)
        if ((operator in ("contained_by", "not_contained_by")
             and not isinstance(expected, (list, str, dict)))
                or (operator == "regex_match" and not isinstance(expected, str))):
            self.problem(where, message(gettext_noop(
                "%(comparator)s cannot use %(expected)s as what it expects: the assertion "
                "%(assertion)s is not imported"),
                comparator=operator, expected=_text(expected)[:50], assertion=shown))
            return None
        if kind == "status_code" and operator not in STATUS_OPERATORS:
            self.problem(where, message(gettext_noop(
                "the status code cannot be compared with %(comparator)s: the assertion "
                "%(assertion)s is not imported"), comparator=operator, assertion=shown))
            return None
        assertion: dict = {"type": "status_code" if kind == "status_code" else kind,
                           "operator": operator, "expected_value": expected}
        if expression is not None:
            assertion["expression"] = expression
        if note:
            assertion["description"] = _text(note)[:500]
        return assertion

    @staticmethod
    def operator(comparator: Any) -> str | None:
        if not isinstance(comparator, str):
            return None
        name = comparator.strip()
        if name in COMPARATOR_NAMES:
            return COMPARATOR_NAMES[name]
        lowered = name.lower()
        if lowered in COMPARATOR_NAMES:
            return COMPARATOR_NAMES[lowered]
        name = ALIASES.get(lowered, lowered)
        return name if name in COMPARATORS else None


def _jsonpath(rest: str) -> str | None:
    """Return the JSONPath of a JMESPath-like tail (``.a."b-c"[0].d``), or ``None``."""
    segment = re.compile(r'\.(?:"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)|(\d+))'
                         r"|\[(-?\d+)\]")
    parts, position = [], 0
    while position < len(rest):
        match = segment.match(rest, position)
        if match is None:
            return None
        quoted, name, digits, index = match.groups()
        if index is not None or digits is not None:
            # "body.items.0" is HttpRunner v2's way to say "items[0]".
            parts.append(f"[{index if index is not None else digits}]")
        elif name is not None and name not in ("where", "wherenot"):
            parts.append(f".{name}")
        else:
            field = quoted if quoted is not None else name
            if '"' in field or "\\" in field:
                return None
            parts.append(f'."{field}"')
        position = match.end()
    return "$" + "".join(parts)


def _type_name(expected: Any) -> Any:
    """Return what HttpRunner's type_match expects as one of the platform's type names.

    v3 names a type ("int", "str", "NoneType"); v4 gives a value of that type (``0``, ``""``).
    """
    if isinstance(expected, str):
        key = expected.strip().lower()
        key = TYPE_NAMES.get(key, key)
        if key in TYPES or key in TYPE_ALIASES:
            return key
        return "str"
    if expected is None:
        return "null"
    if isinstance(expected, bool):
        return "bool"
    if isinstance(expected, int):
        return "int"
    if isinstance(expected, float):
        return "float"
    if isinstance(expected, list):
        return "list"
    if isinstance(expected, dict):
        return "dict"
    return "str"
