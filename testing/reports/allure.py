"""The ``allure-results`` of an execution, written with the official allure-python-commons.

One test result per scenario run (per dataset row): its steps as Allure steps with their
status and message, the dataset row as parameters, labels that group it under the project
(parent suite) and the execution (suite), and a history id stable across executions of
the same scenario and row, so Allure's trends and retries line up.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import uuid
import zipfile
from datetime import datetime
from pathlib import Path

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Label,
    Parameter,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)

from testing.reports import Report, RunReport, StepReport

STATUSES = {"passed": Status.PASSED, "failed": Status.FAILED, "error": Status.BROKEN,
            "skipped": Status.SKIPPED}


def _ms(moment: str) -> int | None:
    return int(datetime.fromisoformat(moment).timestamp() * 1000) if moment else None


def _step(step: StepReport) -> TestStepResult:
    start = _ms(step.started_at)
    details = StatusDetails(message=step.error) if step.error else None
    if step.flaky:
        details = StatusDetails(message=step.error or None, flaky=True)
    return TestStepResult(
        name=step.title or step.action, status=STATUSES.get(step.status, Status.UNKNOWN),
        statusDetails=details, stage="finished", start=start,
        stop=start + int(step.duration_ms) if start is not None else None)


def _result(report: Report, run: RunReport) -> TestResult:
    identity = f"{report.project}/{run.scenario or run.name}/{run.row_number}"
    message = run.error or next((f"{s.title}: {s.error}" for s in run.steps if s.error), "")
    return TestResult(
        uuid=str(uuid.uuid4()), name=run.label, fullName=f"{report.project}.{run.label}",
        historyId=hashlib.md5(identity.encode()).hexdigest(),
        testCaseId=hashlib.md5(identity.rsplit("/", 1)[0].encode()).hexdigest(),
        status=STATUSES.get(run.outcome, Status.UNKNOWN),
        statusDetails=StatusDetails(message=message) if message else None,
        stage="finished", start=_ms(run.started_at), stop=_ms(run.completed_at),
        steps=[_step(step) for step in run.steps],
        parameters=[Parameter(name=name, value=str(value))
                    for name, value in run.row_values.items()],
        labels=[Label(name="parentSuite", value=report.project),
                Label(name="suite", value=report.name),
                Label(name="framework", value="atrium")])


def write(report: Report, directory: str | Path) -> list[Path]:
    """Write the results of ``report`` into ``directory``; return the files written."""
    logger = AllureFileLogger(str(directory))
    for run in report.runs:
        logger.report_result(_result(report, run))
    return sorted(Path(directory).glob("*-result.json"))


def as_zip(report: Report) -> bytes:
    """Return the ``allure-results`` files of ``report`` in one zip archive."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as directory, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in write(report, directory):
            archive.write(path, arcname=f"allure-results/{path.name}")
    return buffer.getvalue()
