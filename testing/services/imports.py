"""Importing a file into a project: parse, preview against the project, then write all of
it or nothing (issue 15, item 1).

* ``upload`` parses the file (``testing.importers``) and keeps the plan in an
  ``ImportJob``; a file that cannot be read is refused naming the file, where and why. A
  Postman collection may bring its data file (``newman run -d``), which becomes its
  scenario's dataset. A file larger than ``TESTING_IMPORT_INLINE_BYTES`` is not parsed in
  the request (a 10 MB YAML document takes seconds): the job keeps it, status "parsing",
  and ``testing.tasks.parse_import`` reads it (``read_waiting``), recording its stage and
  percent, then the preview-ready state or why it cannot be read.
* ``preview`` compares the plan with the project. Every item gets an action and a reason:
  an interface is **created** (new), **updated** (the file changed it, nobody edited it
  here), a **conflict** (the file changed it and a tester edited it here: updating would
  overwrite that edit, so it is not chosen by default), **unchanged**, or **kept** (edited
  here, the file did not change it); an interface an earlier import of the same format
  created that the file no longer holds may be **removed** (not chosen by default). An
  interface is recognised by the file's key of it ("GET /pets/{petId}") and the format,
  stored on the interface (``import_key``), and a tester's edit by the digest of what the
  import wrote (``import_digest``).
* ``apply`` writes the chosen items in one transaction: folders, interfaces, variables, an
  environment with the chosen base URL, scenarios with their steps and datasets. Every row
  passes the same validation as a tester's; the first that does not rolls everything back
  and names the item. It runs in the committer's request (page or API), whose language is
  active, so the descriptions the importer wrote for its variables and scenarios are
  written in that language (``description_i18n``); a description from the file as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from core.context import tenant_context
from testing import importers
from testing.engine.messages import data_of, message, of_exception
from testing.choices import StepKind
from testing.importers import datafile, loading
from testing.importers.base import DataFile, ImportedRequest, ImportFailed, ImportPlan
from testing.models import (
    Dataset,
    Environment,
    ImportJob,
    ImportStatus,
    Interface,
    InterfaceFolder,
    Project,
    Scenario,
    ScenarioStep,
    Variable,
)
from testing.models.imports import ImportStage
from testing.models.scenarios import parse_csv

logger = logging.getLogger(__name__)

CREATE, UPDATE, CONFLICT, UNCHANGED, KEPT, REMOVE, SKIP = (
    "create", "update", "conflict", "unchanged", "kept", "remove", "skip")
CHOSEN_BY_DEFAULT = {CREATE, UPDATE}
MAX_FOLDER_DEPTH = 5
DEFAULT_ENVIRONMENT = "Imported"
ACTION_LABELS = {
    CREATE: gettext_lazy("create"), UPDATE: gettext_lazy("update"),
    CONFLICT: gettext_lazy("conflict"), UNCHANGED: gettext_lazy("unchanged"),
    KEPT: gettext_lazy("kept"), REMOVE: gettext_lazy("remove"), SKIP: gettext_lazy("skip")}
KIND_LABELS = {"request": gettext_lazy("interface"), "variable": gettext_lazy("variable"),
               "scenario": gettext_lazy("scenario"), "remove": gettext_lazy("interface")}
MAX_ATTEMPTS = 2   # a worker that died twice reading a file (out of memory) will again


class ImportRefused(ValueError):
    """The import cannot be written: the item, and why (nothing was written)."""


@dataclass
class Item:
    """One line of the preview: what the import would do with one thing of the file."""

    id: str                   # what a choice names: "request:<key>", "scenario:<key>", ...
    kind: str                 # request, variable, scenario, remove
    name: str
    action: str
    reason: str
    where: str = ""
    folder: str = ""

    @property
    def chosen(self) -> bool:
        return self.action in CHOSEN_BY_DEFAULT

    @property
    def action_label(self) -> str:
        """Return the action in the user's language."""
        return str(ACTION_LABELS.get(self.action, self.action))

    @property
    def kind_label(self) -> str:
        """Return the kind in the user's language."""
        return str(KIND_LABELS.get(self.kind, self.kind))


@dataclass
class Preview:
    job: ImportJob
    plan: ImportPlan
    items: list[Item] = field(default_factory=list)

    def labelled_counts(self) -> dict[str, int]:
        """Return ``counts`` by the actions' labels in the user's language."""
        return {str(ACTION_LABELS.get(action, action)): count
                for action, count in self.counts().items()}

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.action] = found.get(item.action, 0) + 1
        return found


def upload(project: Project, data: bytes, filename: str, format: str | None = None, *,
           data_file: DataFile | None = None) -> ImportJob:
    """Parse ``data`` (with ``data_file``, a Postman collection's iteration data) and keep
    what it holds in a new job; ``ImportFailed`` when unreadable. A file larger than
    ``TESTING_IMPORT_INLINE_BYTES`` is kept for a worker to parse: the job is "parsing"."""
    data_filename = data_file.filename[:255] if data_file is not None else ""
    if len(data) <= settings.TESTING_IMPORT_INLINE_BYTES:
        plan = importers.parse(data, filename, format or None, data_file=data_file)
        return ImportJob.objects.create(
            tenant_id=project.tenant_id, project=project, format=plan.format,
            filename=filename[:255], data_filename=data_filename, title=plan.title[:255],
            plan=plan.as_data())
    loading.text_of(data, filename)   # refuse what is too large before keeping it
    if format and format not in importers.available():
        raise ImportFailed(filename, "", message(gettext_noop("unknown format %(format)s"),
                                                 format=repr(format)))
    if data_file is not None:
        if format and format not in importers.TAKES_DATA_FILE:
            raise ImportFailed(data_file.filename, "", message(gettext_noop(
                "a data file goes with a Postman collection")))
        datafile.read(data_file)                # a bad data file is refused here and now
    with transaction.atomic():
        job = ImportJob.objects.create(
            tenant_id=project.tenant_id, project=project, format=format or "",
            filename=filename[:255], data_filename=data_filename,
            status=ImportStatus.PARSING, stage=ImportStage.WAITING, progress=0,
            source=data, data_source=data_file.content if data_file is not None else None)
        job_id, tenant_id = str(job.pk), project.tenant_id
        transaction.on_commit(lambda: _send_parse(job_id, tenant_id))
    return job


def _send_parse(job_id: str, tenant_id) -> None:
    from testing.tasks import parse_import

    with tenant_context(tenant_id):
        parse_import.delay(job_id)


def _progress(job: ImportJob, stage: str, percent: int) -> None:
    """Record how far the reading of ``job`` got (its own statement: the page polls it)."""
    job.stage, job.progress = stage, percent
    ImportJob.objects.filter(pk=job.pk).update(stage=stage, progress=percent,
                                               updated_at=timezone.now())


def read_waiting(job_id) -> str:
    """Parse the file ``job_id`` keeps (a large upload); return the job's status.

    The job ends "previewed" with its plan, or "failed" with why (the file's problem, or a
    worker that stopped ``MAX_ATTEMPTS`` times reading it); the kept file is dropped
    either way. A job that is not waiting is left alone (a task sent twice)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status != ImportStatus.PARSING:
        return job.status if job is not None else ""
    job.attempts += 1
    ImportJob.objects.filter(pk=job.pk).update(attempts=job.attempts)
    if job.attempts > MAX_ATTEMPTS:
        return _failed(job, message(gettext_noop(
            "The worker stopped while reading the file, %(count)d times (is it too large "
            "for the worker's memory?)."), count=MAX_ATTEMPTS))
    _progress(job, ImportStage.READING, 10)
    data = bytes(job.source or b"")
    data_file = (DataFile(bytes(job.data_source), job.data_filename)
                 if job.data_source is not None else None)
    _progress(job, ImportStage.MAPPING, 40)
    try:
        plan = importers.parse(data, job.filename, job.format or None, data_file=data_file)
    except ImportFailed as exc:
        return _failed(job, of_exception(exc))
    except SoftTimeLimitExceeded:
        return _failed(job, message(gettext_noop(
            "Reading the file took longer than a worker may take "
            "(CELERY_TASK_SOFT_TIME_LIMIT); split it, or ask an operator.")))
    except Exception:
        logger.exception("import %s: the importer failed", job.pk)
        return _failed(job, message(gettext_noop(
            "The importer failed on this file; the operators have the details.")))
    _progress(job, ImportStage.STORING, 90)
    job.format, job.title, job.plan = plan.format, plan.title[:255], plan.as_data()
    job.status, job.stage, job.progress = ImportStatus.PREVIEWED, ImportStage.DONE, 100
    job.source = job.data_source = None
    job.save(update_fields=["format", "title", "plan", "status", "stage", "progress",
                            "source", "data_source", "updated_at"])
    return job.status


def _failed(job: ImportJob, reason: str) -> str:
    """Record that ``job`` cannot be read: ``reason`` in English, and its id when it is a
    ``Message``, so that the page shows it in the reader's language."""
    job.status, job.error, job.error_i18n = ImportStatus.FAILED, str(reason), data_of(reason)
    job.source = job.data_source = None
    job.save(update_fields=["status", "error", "error_i18n", "source", "data_source",
                            "updated_at"])
    return job.status


def import_key(plan: ImportPlan, request: ImportedRequest) -> str:
    return f"{plan.format}:{request.key}"[:600]


def digest(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str)
                          .encode()).hexdigest()


def relative(url: str, base_url: str) -> str:
    """Return ``url`` as a path on ``base_url`` when it starts with it, else unchanged."""
    if base_url and url.startswith(base_url):
        rest = url[len(base_url):]
        if not rest or rest.startswith(("/", "?")):
            return rest or "/"
    return url


def content_of(request: ImportedRequest, base_url: str) -> dict:
    """Return what the import writes of ``request`` (the interface's imported content)."""
    return {"name": request.name[:255], "description": request.description,
            "method": request.method.upper(), "url": relative(request.url, base_url)[:2048],
            "query": request.query, "headers": request.headers,
            "body_type": request.body_type, "body": request.body,
            "content_type": request.content_type[:200], "assertions": request.assertions,
            "extractors": request.extractors}


def _existing(project: Project, plan: ImportPlan) -> dict[str, Interface]:
    return {row.import_key: row for row in Interface.objects.filter(
        project=project, import_key__startswith=f"{plan.format}:")}


def preview(job: ImportJob, *, base_url: str = "") -> Preview:
    """Return what importing ``job`` into its project would do, item by item."""
    plan = ImportPlan.from_data(job.plan)
    result = Preview(job=job, plan=plan)
    existing = _existing(job.project, plan)
    seen = set()
    for request in plan.requests:
        key = import_key(plan, request)
        seen.add(key)
        folder = " / ".join(request.folder)
        item_id = f"request:{request.key}"
        row = existing.get(key)
        label = f"{request.method.upper()} {request.name}"
        if row is None:
            result.items.append(Item(item_id, "request", label, CREATE, _("New interface."),
                                     request.where, folder))
            continue
        changed_in_file = digest(content_of(request, base_url)) != row.import_digest
        edited_here = digest(row.imported_content()) != row.import_digest
        if changed_in_file and edited_here:
            action, reason = CONFLICT, _("The file changed it, and it was edited here since "
                                         "the last import: updating overwrites that edit.")
        elif changed_in_file:
            action, reason = UPDATE, _("The file changed it.")
        elif edited_here:
            action, reason = KEPT, _("Edited here; the file did not change it.")
        else:
            action, reason = UNCHANGED, _("The same as the last import.")
        result.items.append(Item(item_id, "request", label, action, reason, request.where,
                                 folder))
    for key, row in existing.items():
        if key not in seen:
            result.items.append(Item(f"remove:{key}", "remove", f"{row.method} {row.name}",
                                     REMOVE, _("An earlier import created it; the file no "
                                               "longer holds it.")))
    variables = _existing_variables(job.project)
    for variable in plan.variables:
        scope = variable.environment or ""
        exists = (scope, variable.name) in variables
        result.items.append(Item(
            f"variable:{scope}:{variable.name}", "variable", variable.name,
            SKIP if exists else CREATE,
            _("A variable of this name exists; it is kept.") if exists else
            (_("New secret variable: fill in its value.") if variable.secret
             else _("New variable."))))
    scenario_names = set(Scenario.objects.filter(project=job.project).values_list("name",
                                                                                flat=True))
    for scenario in plan.scenarios:
        exists = scenario.name[:255] in scenario_names
        result.items.append(Item(
            f"scenario:{scenario.key}", "scenario", scenario.name, SKIP if exists else CREATE,
            _("A scenario of this name exists; rename it or delete it to import again.")
            if exists else _scenario_reason(scenario), scenario.where))
    return result


def _scenario_reason(scenario) -> str:
    if scenario.dataset is None:
        return _("New scenario of %(count)d steps.") % {"count": len(scenario.steps)}
    _header, rows = parse_csv(scenario.dataset.csv_data)
    return _("New scenario of %(count)d steps, run once per row of its dataset %(name)s "
             "(%(rows)d rows).") % {"count": len(scenario.steps),
                                          "name": scenario.dataset.name, "rows": len(rows)}


def _existing_variables(project: Project) -> set[tuple[str, str]]:
    return {(environment or "", name) for environment, name in Variable.objects.filter(
        project=project).values_list("environment__name", "name")}


# Writing


def _saved(row, what: str):
    try:
        row.full_clean()
    except ValidationError as exc:
        problems = "; ".join(f"{name}: {' '.join(messages)}"
                             for name, messages in exc.message_dict.items())
        raise ImportRefused(f"{what}: {problems}") from None
    row.save()
    return row


class _Writer:
    def __init__(self, job: ImportJob, plan: ImportPlan, base_url: str) -> None:
        self.job = job
        self.project = job.project
        self.plan = plan
        self.base_url = base_url
        self.folders: dict[tuple[str, ...], InterfaceFolder | None] = {(): None}
        self.interfaces: dict[str, Interface] = {}
        self.done: dict[str, list[str]] = {CREATE: [], UPDATE: [], REMOVE: [], SKIP: []}

    def folder(self, path: list[str]) -> InterfaceFolder | None:
        path = tuple(part[:255] for part in path if part)[:MAX_FOLDER_DEPTH]
        if path in self.folders:
            return self.folders[path]
        parent = self.folder(list(path[:-1]))
        found = InterfaceFolder.objects.filter(project=self.project, parent=parent,
                                               name=path[-1]).first()
        if found is None:
            found = _saved(InterfaceFolder(tenant_id=self.project.tenant_id,
                                           project=self.project, parent=parent,
                                           name=path[-1]),
                           _("Folder %(name)s") % {"name": " / ".join(path)})
        self.folders[path] = found
        return found

    def request(self, request: ImportedRequest, row: Interface | None, order: int) -> None:
        content = content_of(request, self.base_url)
        what = _("Interface %(name)s (%(where)s)") % {"name": request.name,
                                                       "where": request.where or request.key}
        if row is None:
            row = Interface(tenant_id=self.project.tenant_id, project=self.project,
                            sort_order=order, import_key=import_key(self.plan, request))
            self.done[CREATE].append(request.key)
        else:
            self.done[UPDATE].append(request.key)
        for name, value in content.items():
            setattr(row, name, value)
        row.folder = self.folder(request.folder)
        row.import_digest = digest(content)
        self.interfaces[request.key] = _saved(row, what)

    def variable(self, variable, environments: dict[str, Environment]) -> None:
        environment = None
        if variable.environment:
            environment = environments.get(variable.environment) or self.environment(
                variable.environment, "")
            environments[variable.environment] = environment
        row = Variable(tenant_id=self.project.tenant_id, project=self.project,
                       environment=environment, name=variable.name,
                       is_secret=variable.secret,
                       description=variable.description_text()[:500])
        value = variable.value
        text = value if isinstance(value, str) else json.dumps(value)
        if variable.secret:
            row.set_value(text)
        else:
            row.value = text
        _saved(row, _("Variable %(name)s") % {"name": variable.name})

    def environment(self, name: str, base_url: str) -> Environment:
        found = Environment.objects.filter(project=self.project, name=name).first()
        if found is None:
            return _saved(Environment(tenant_id=self.project.tenant_id, project=self.project,
                                      name=name, base_url=base_url),
                          _("Environment %(name)s") % {"name": name})
        if base_url and found.base_url != base_url:
            found.base_url = base_url
            _saved(found, _("Environment %(name)s") % {"name": name})
        return found

    def scenario(self, scenario) -> None:
        what = _("Scenario %(name)s") % {"name": scenario.name}
        row = _saved(Scenario(tenant_id=self.project.tenant_id, project=self.project,
                              name=scenario.name[:255],
                              description=scenario.description_text(),
                              variables=scenario.variables), what)
        for position, step in enumerate(scenario.steps, start=1):
            interface = self.interfaces.get(step.request) or Interface.objects.filter(
                project=self.project, import_key=f"{self.plan.format}:{step.request}").first()
            if interface is None:
                raise ImportRefused(_("%(what)s: step %(step)d sends %(key)s, which is not "
                                      "imported; choose it too.")
                                    % {"what": what, "step": position, "key": step.request})
            parameters = {"assertions": step.assertions, "extractors": step.extractors,
                          "variables": step.variables}
            _saved(ScenarioStep(tenant_id=self.project.tenant_id, scenario=row,
                                sort_order=position * 10, kind=StepKind.INTERFACE,
                                interface=interface, description=step.title[:500],
                                parameters={k: v for k, v in parameters.items() if v}),
                   _("%(what)s, step %(step)d") % {"what": what, "step": position})
        if scenario.dataset is not None:
            _saved(Dataset(tenant_id=self.project.tenant_id, project=self.project,
                           scenario=row, name=scenario.dataset.name[:255],
                           csv_data=scenario.dataset.csv_data),
                   _("%(what)s, dataset %(name)s") % {"what": what,
                                                      "name": scenario.dataset.name})
        self.done[CREATE].append(f"scenario:{scenario.key}")


def apply(job: ImportJob, *, chosen: set[str], base_url: str = "",
          environment: str = "", environment_url: str = "") -> ImportJob:
    """Write the items of ``job`` whose ids are in ``chosen``, all or nothing.

    Requests starting with ``base_url`` become paths; ``environment`` (created when
    missing) gets ``environment_url`` as its base URL, ``base_url`` when that is empty (the
    file's host, or another server of the same API, such as a local one)."""
    if job.status == ImportStatus.PARSING:
        raise ImportRefused(_("The file is still being read; import it once its preview is "
                              "shown."))
    if job.status == ImportStatus.FAILED:
        raise ImportRefused(_("The file could not be read: %(reason)s") % {"reason": job.error})
    if job.status != ImportStatus.PREVIEWED:
        raise ImportRefused(_("This file was imported already; upload it again to sync."))
    current = preview(job, base_url=base_url)
    actions = {item.id: item.action for item in current.items}
    unknown = sorted(chosen - set(actions))
    if unknown:
        raise ImportRefused(_("Unknown items chosen: %(items)s") % {"items": ", ".join(
            unknown[:5])})
    plan = current.plan
    writer = _Writer(job, plan, base_url)
    existing = _existing(job.project, plan)
    with transaction.atomic():
        environments: dict[str, Environment] = {}
        if environment:
            environments[environment] = writer.environment(
                environment, (environment_url or base_url).rstrip("/"))
        for order, request in enumerate(plan.requests, start=1):
            item_id = f"request:{request.key}"
            if item_id in chosen and actions[item_id] in (CREATE, UPDATE, CONFLICT):
                writer.request(request, existing.get(import_key(plan, request)), order * 10)
            else:
                writer.done[SKIP].append(request.key)
        for item_id, action in actions.items():
            if action == REMOVE and item_id in chosen:
                row = existing[item_id.removeprefix("remove:")]
                blockers = row.soft_delete_blockers()
                if blockers:
                    raise ImportRefused(f"{row.name}: {' '.join(blockers)}")
                row.delete()
                writer.done[REMOVE].append(item_id.removeprefix("remove:"))
        for variable in plan.variables:
            item_id = f"variable:{variable.environment or ''}:{variable.name}"
            if item_id in chosen and actions.get(item_id) == CREATE:
                writer.variable(variable, environments)
        for scenario in plan.scenarios:
            item_id = f"scenario:{scenario.key}"
            if item_id in chosen and actions.get(item_id) == CREATE:
                writer.scenario(scenario)
        job.status = ImportStatus.IMPORTED
        job.imported_at = timezone.now()
        job.result = {name: keys for name, keys in writer.done.items()}
        job.result["base_url"] = base_url
        job.result["environment"] = environment
        job.result["environment_url"] = environment_url or base_url
        job.save(update_fields=["status", "imported_at", "result", "updated_at"])
    return job


def has_datasets(job: ImportJob) -> bool:
    """Return whether importing ``job`` may create datasets (it needs ``dataset:create``)."""
    return any(scenario.get("dataset") for scenario in (job.plan or {}).get("scenarios", []))


def problems_of(job: ImportJob) -> list[dict]:
    return [asdict(problem) for problem in ImportPlan.from_data(job.plan).problems]


__all__ = ["ImportFailed", "ImportRefused", "Item", "Preview", "apply", "preview", "upload"]


def choices_default(preview_: Preview) -> set[str]:
    return {item.id for item in preview_.items if item.chosen}


def plan_summary(plan: ImportPlan) -> dict[str, Any]:
    return {"requests": len(plan.requests), "variables": len(plan.variables),
            "scenarios": len(plan.scenarios), "problems": len(plan.problems)}
