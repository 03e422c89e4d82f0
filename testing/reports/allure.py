"""The ``allure-results`` of an execution, written with the official allure-python-commons.

One test result per scenario run (per dataset row): its steps as Allure steps with their
status and message, the dataset row as parameters, labels that group it under the project
(parent suite) and the execution (suite), and a history id stable across executions of
the same scenario and row, so Allure's trends and retries line up.

When a run ends its results are also **stored** (``store``), in the media storage under
``allure-results/<tenant>/<execution>/``, and the execution's ``allure_report_path`` points
there (seed 001 section 3.16): the download serves those files, the same ones every time,
so a pipeline fetching them twice sees one set of results. The retention policy removes
them with the run's step detail (``remove``).
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
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
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


def _results(report: Report) -> list[tuple[str, bytes]]:
    """Return the names and contents of the ``allure-results`` files of ``report``."""
    with tempfile.TemporaryDirectory() as directory:
        return [(path.name, path.read_bytes()) for path in write(report, directory)]


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(f"allure-results/{name}", content)
    return buffer.getvalue()


def as_zip(report: Report, stored_at: str = "") -> bytes:
    """Return the ``allure-results`` files of ``report`` in one zip archive: the stored ones
    when ``stored_at`` (an execution's ``allure_report_path``) holds them."""
    files = stored(stored_at) if stored_at else []
    return _zip(files or _results(report))


def location(execution) -> str:
    """Return where the results of ``execution`` are stored, relative to the storage."""
    return f"allure-results/{execution.tenant_id}/{execution.pk}/"


def store(execution, report: Report) -> str:
    """Store the results of ``report`` (the report of ``execution``, which has ended) and
    return their location; files stored before for it are replaced."""
    where = location(execution)
    remove(where)
    for name, content in _results(report):
        default_storage.save(where + name, ContentFile(content))
    return where


def stored(where: str) -> list[tuple[str, bytes]]:
    """Return the files stored at ``where``, by name."""
    try:
        _directories, names = default_storage.listdir(where)
    except FileNotFoundError:
        return []
    files = []
    for name in sorted(names):
        with default_storage.open(where + name, "rb") as handle:
            files.append((name, handle.read()))
    return files


def remove(where: str) -> int:
    """Delete the files stored at ``where``; return how many there were."""
    try:
        _directories, names = default_storage.listdir(where)
    except FileNotFoundError:
        return 0
    for name in names:
        default_storage.delete(where + name)
    try:  # a file system leaves the emptied folder; other storages have no folders
        Path(default_storage.path(where)).rmdir()
    except (NotImplementedError, OSError):
        pass
    return len(names)
