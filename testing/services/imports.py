"""Importing a file into a project: parse, preview against the project, then write all of
it or nothing (issue 15, item 1).

* ``upload`` parses the file (``testing.importers``) and keeps the plan in an
  ``ImportJob``; a file that cannot be read is refused naming the file, where and why.
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
  and names the item.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from testing import importers
from testing.choices import StepKind
from testing.importers.base import ImportedRequest, ImportFailed, ImportPlan
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

CREATE, UPDATE, CONFLICT, UNCHANGED, KEPT, REMOVE, SKIP = (
    "create", "update", "conflict", "unchanged", "kept", "remove", "skip")
CHOSEN_BY_DEFAULT = {CREATE, UPDATE}
MAX_FOLDER_DEPTH = 5
DEFAULT_ENVIRONMENT = "Imported"


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


@dataclass
class Preview:
    job: ImportJob
    plan: ImportPlan
    items: list[Item] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.action] = found.get(item.action, 0) + 1
        return found


def upload(project: Project, data: bytes, filename: str, format: str | None = None
           ) -> ImportJob:
    """Parse ``data`` and keep what it holds in a new job; ``ImportFailed`` when unreadable."""
    plan = importers.parse(data, filename, format or None)
    return ImportJob.objects.create(
        tenant_id=project.tenant_id, project=project, format=plan.format,
        filename=filename[:255], title=plan.title[:255], plan=plan.as_data())


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
            if exists else _("New scenario of %(count)d steps.") % {
                "count": len(scenario.steps)}, scenario.where))
    return result


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
                       is_secret=variable.secret, description=variable.description[:500])
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
                              name=scenario.name[:255], description=scenario.description,
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


def problems_of(job: ImportJob) -> list[dict]:
    return [asdict(problem) for problem in ImportPlan.from_data(job.plan).problems]


__all__ = ["ImportFailed", "ImportRefused", "Item", "Preview", "apply", "preview", "upload"]


def choices_default(preview_: Preview) -> set[str]:
    return {item.id for item in preview_.items if item.chosen}


def plan_summary(plan: ImportPlan) -> dict[str, Any]:
    return {"requests": len(plan.requests), "variables": len(plan.variables),
            "scenarios": len(plan.scenarios), "problems": len(plan.problems)}
