"""Reports of an execution: one stored result, several files (seed 001 section 3.16).

``build(execution)`` reads an execution, its scenario runs and their step results (three
queries whatever their number) into plain data; the writers turn that into:

* ``as_json``: the whole report as JSON (``application/json``);
* ``as_junit``: JUnit XML, one ``testcase`` per scenario run (one per dataset row when
  data-driven), failures and errors with their messages, each step in ``system-out``;
* ``html.render``: one standalone HTML file (inline CSS and SVG, no external asset): the
  summary, charts of outcomes and step times, failures first, every step's request,
  response and assertions;
* ``allure.write``: the ``allure-results`` files the Allure CLI reads, written with the
  official ``allure-python-commons``; ``allure.store`` keeps them when a run ends, where
  the execution's ``allure_report_path`` points.

Everything comes from the stored results, whose secrets were masked when they were stored;
nothing is unsealed here.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree

from testing.choices import ScenarioRunStatus, StepStatus
from testing.models import Execution, ExecutionStep, StepResult

FORMATS = ("json", "junit", "html", "allure")
CONTENT_TYPES = {"json": "application/json", "junit": "application/xml",
                 "html": "text/html; charset=utf-8", "allure": "application/zip"}
EXTENSIONS = {"json": "json", "junit": "xml", "html": "html", "allure": "zip"}
# A scenario run that never reached an outcome (terminated, or still waiting) is "skipped"
# in the files' terms.
NOT_RUN = (ScenarioRunStatus.QUEUED, ScenarioRunStatus.RUNNING, ScenarioRunStatus.PAUSED,
           ScenarioRunStatus.TERMINATED)


@dataclass
class StepReport:
    position: int
    title: str
    action: str
    status: str
    attempts: int
    flaky: bool
    duration_ms: float
    error: str
    started_at: str
    request: Any = None
    response: Any = None
    assertions: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    extracted: dict = field(default_factory=dict)
    # The error's msgid and parameters (testing.engine.messages): the HTML report shows it
    # in the reader's language; the files for machines keep ``error`` in English.
    error_i18n: dict | None = None


@dataclass
class RunReport:
    id: str
    name: str
    scenario: str
    row_number: int | None
    row_values: dict
    status: str
    error: str
    started_at: str
    completed_at: str
    duration_ms: float
    steps: list[StepReport] = field(default_factory=list)
    error_i18n: dict | None = None   # as StepReport's

    @property
    def outcome(self) -> str:
        """passed, failed, error or skipped: the run's outcome in the report files' terms."""
        if self.status in NOT_RUN:
            return "skipped"
        return self.status

    @property
    def label(self) -> str:
        return f"{self.name} [row {self.row_number}]" if self.row_number is not None \
            else self.name


@dataclass
class Report:
    id: str
    name: str
    kind: str
    project: str
    environment: str
    status: str
    error: str
    started_at: str
    completed_at: str
    duration_ms: float
    generated_at: str
    details_pruned_at: str = ""
    runs: list[RunReport] = field(default_factory=list)
    error_i18n: dict | None = None   # as StepReport's

    def counts(self) -> dict[str, int]:
        """Scenario runs by outcome."""
        found = {"total": len(self.runs), "passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for run in self.runs:
            found[run.outcome] = found.get(run.outcome, 0) + 1
        return found

    def step_counts(self) -> dict[str, int]:
        """Steps by status, and how many were flaky."""
        found = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0, "flaky": 0}
        for run in self.runs:
            for step in run.steps:
                found["total"] += 1
                found[step.status] = found.get(step.status, 0) + 1
                found["flaky"] += step.flaky
        return found

    def as_data(self) -> dict:
        data = asdict(self)
        data["counts"] = self.counts()
        data["step_counts"] = self.step_counts()
        for run, source in zip(data["runs"], self.runs):
            run["outcome"] = source.outcome
        return data


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).isoformat() if moment else ""


def _ms(started: datetime | None, ended: datetime | None) -> float:
    if started is None or ended is None:
        return 0.0
    return round((ended - started).total_seconds() * 1000, 2)


def build(execution: Execution) -> Report:
    """Return the report of ``execution`` (call inside its tenant's context)."""
    runs = {run.pk: RunReport(
        id=str(run.pk), name=run.name, scenario=run.scenario.name if run.scenario else "",
        row_number=run.row_number, row_values=dict(run.row_values or {}), status=run.status,
        error=run.error, error_i18n=run.error_i18n, started_at=_iso(run.started_at),
        completed_at=_iso(run.completed_at),
        duration_ms=_ms(run.started_at, run.completed_at))
        for run in ExecutionStep.objects.filter(execution=execution)
        .select_related("scenario").order_by("sort_order", "row_number", "id")}
    for result in (StepResult.objects.filter(execution=execution)
                   .order_by("scenario_run_id", "position", "id")):
        run = runs.get(result.scenario_run_id)
        if run is None:
            continue
        run.steps.append(StepReport(
            position=result.position, title=result.title, action=result.action,
            status=result.status, attempts=result.attempts, flaky=result.flaky,
            duration_ms=result.duration_ms, error=result.error, error_i18n=result.error_i18n,
            started_at=_iso(result.started_at), request=result.request,
            response=result.response, assertions=list(result.assertions or []),
            variables=dict(result.variables or {}), extracted=dict(result.extracted or {})))
    environment = execution.environment.name if execution.environment_id else ""
    return Report(
        id=str(execution.pk), name=execution.name, kind=execution.kind,
        project=execution.project.name, environment=environment, status=execution.status,
        error=execution.error, error_i18n=execution.error_i18n,
        started_at=_iso(execution.started_at),
        completed_at=_iso(execution.completed_at),
        duration_ms=_ms(execution.started_at, execution.completed_at),
        generated_at=datetime.now(timezone.utc).isoformat(),
        details_pruned_at=_iso(execution.details_pruned_at), runs=list(runs.values()))


def as_json(report: Report) -> bytes:
    """Return the report as JSON."""
    return json.dumps(report.as_data(), ensure_ascii=False, indent=2, default=str).encode()


def _step_line(step: StepReport) -> str:
    line = f"{step.position + 1}. [{step.status}] {step.title} ({step.duration_ms:.0f} ms)"
    if step.attempts > 1:
        line += f", {step.attempts} attempts" + (", flaky" if step.flaky else "")
    if step.error:
        line += f"\n   {step.error}"
    return line


# Characters XML 1.0 cannot carry (a response may hold any of them): written as \\xNN.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    """Return ``text`` with every character XML cannot carry written as an escape."""
    def escape(match: re.Match) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _NOT_XML.sub(escape, text)


def _junit_time(report_time: str) -> str:
    """JUnit's timestamp: ISO 8601 without a zone (UTC)."""
    if not report_time:
        return ""
    return datetime.fromisoformat(report_time).astimezone(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S")


def as_junit(report: Report) -> bytes:
    """Return JUnit XML: a ``testsuite`` of the execution, a ``testcase`` per scenario run."""
    counts = report.counts()
    seconds = f"{report.duration_ms / 1000:.3f}"
    suites = ElementTree.Element("testsuites", {
        "name": report.name, "tests": str(counts["total"]), "failures": str(counts["failed"]),
        "errors": str(counts["error"]), "time": seconds})
    suite = ElementTree.SubElement(suites, "testsuite", {
        "name": report.name, "tests": str(counts["total"]),
        "failures": str(counts["failed"]), "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]), "time": seconds,
        "timestamp": _junit_time(report.started_at) or _junit_time(report.generated_at),
        "hostname": "atrium", "id": "0", "package": report.project})
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("execution", report.id), ("project", report.project),
                        ("environment", report.environment), ("status", report.status)):
        ElementTree.SubElement(properties, "property", {"name": name, "value": value})
    for run in report.runs:
        case = ElementTree.SubElement(suite, "testcase", {
            "name": run.label, "classname": f"{report.project}.{run.scenario or run.name}",
            "time": f"{run.duration_ms / 1000:.3f}"})
        failed = [step for step in run.steps if step.status in (StepStatus.FAILED,
                                                                StepStatus.ERROR)]
        message = run.error or (f"{failed[0].title}: {failed[0].error}" if failed else "")
        if run.outcome == "failed":
            element = ElementTree.SubElement(case, "failure", {"message": message,
                                                               "type": "AssertionError"})
            element.text = "\n".join(_step_line(step) for step in failed)
        elif run.outcome == "error":
            element = ElementTree.SubElement(case, "error", {"message": message,
                                                             "type": "Error"})
            element.text = "\n".join(_step_line(step) for step in failed)
        elif run.outcome == "skipped":
            ElementTree.SubElement(case, "skipped", {
                "message": f"not run to the end: {run.status}"})
        out = ElementTree.SubElement(case, "system-out")
        out.text = "\n".join(_step_line(step) for step in run.steps)
    ElementTree.SubElement(suite, "system-out").text = ""
    ElementTree.SubElement(suite, "system-err").text = ""
    for element in suites.iter():
        element.text = _xml(element.text) if element.text else element.text
        element.attrib.update({name: _xml(value) for name, value in element.attrib.items()})
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)


def render(execution: Execution, kind: str) -> tuple[bytes, str, str]:
    """Return the report of ``execution`` as ``kind`` (one of FORMATS): the bytes, their
    content type and a file name for a download."""
    if kind not in FORMATS:
        raise ValueError(f"unknown report format {kind!r}; formats: {', '.join(FORMATS)}")
    report = build(execution)
    if kind == "json":
        body = as_json(report)
    elif kind == "junit":
        body = as_junit(report)
    elif kind == "html":
        from testing.reports import html

        body = html.render(report).encode("utf-8")
    else:
        from testing.reports import allure

        body = allure.as_zip(report, stored_at=execution.allure_report_path)
    stamp = (execution.started_at or execution.created_at).strftime("%Y%m%d-%H%M%S")
    return body, CONTENT_TYPES[kind], f"report-{stamp}-{str(execution.pk)[:8]}.{EXTENSIONS[kind]}"
