"""Scenarios as portable JSON, and the order of their steps.

``export_scenario`` writes a scenario with its steps and what they reference (the
interfaces they send, the project keywords they call, the database its SQL runs on, by
variable name); ``import_scenario`` creates it in another project of the same tenant,
reusing an interface or keyword of the same name where one exists and creating it
otherwise. Exporting the imported scenario gives the same document (the round trip).
A database configuration is referenced by variable name only: its credentials never
leave the project, so the target project must have one of that name.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from testing.choices import StepKind
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    Interface,
    Keyword,
    Project,
    Scenario,
    ScenarioStep,
)

FORMAT = "atrium.scenario/1"
INTERFACE_FIELDS = ("name", "description", "method", "url", "query", "headers", "body_type",
                    "body", "content_type", "assertions", "extractors")
KEYWORD_FIELDS = ("name", "type", "method_name", "code", "parameters", "description",
                  "is_enabled")


def export_scenario(scenario: Scenario) -> dict[str, Any]:
    """Return ``scenario`` as a JSON-ready document (see the module docstring)."""
    steps = list(scenario.steps.select_related("interface", "keyword", "builtin_keyword"))
    interfaces: dict[str, dict] = {}
    keywords: dict[str, dict] = {}
    exported_steps = []
    for step in steps:
        entry: dict[str, Any] = {"kind": step.kind, "description": step.description,
                                 "is_enabled": step.is_enabled, "parameters": step.parameters}
        if step.kind == StepKind.INTERFACE:
            entry["interface"] = step.interface.name
            interfaces[step.interface.name] = {f: getattr(step.interface, f)
                                               for f in INTERFACE_FIELDS}
        elif step.kind == StepKind.KEYWORD and step.builtin_keyword_id:
            entry["builtin_keyword"] = step.builtin_keyword.code
        elif step.kind == StepKind.KEYWORD:
            entry["keyword"] = step.keyword.name
            keywords[step.keyword.name] = {f: getattr(step.keyword, f) for f in KEYWORD_FIELDS}
        exported_steps.append(entry)
    return {
        "format": FORMAT,
        "scenario": {
            "name": scenario.name, "description": scenario.description,
            "priority": scenario.priority, "tags": scenario.tags,
            "variables": scenario.variables, "pre_sql": scenario.pre_sql,
            "post_sql": scenario.post_sql,
            "database": scenario.database_config.variable_name
            if scenario.database_config_id else None,
        },
        "steps": exported_steps,
        "interfaces": [interfaces[name] for name in sorted(interfaces)],
        "keywords": [keywords[name] for name in sorted(keywords)],
    }


def _require(data: Any, key: str, kind: type, where: str):
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise ValidationError({"data": _("%(where)s: %(key)s is missing or of the wrong type.")
                               % {"where": where or "document", "key": key}})
    return value


def _text(value: Any, where: str, *, blank: bool = True) -> str:
    """Return ``value`` when it is text (a name, a description); refuse anything else."""
    if value is None and blank:
        return ""
    if not isinstance(value, str) or (not blank and not value):
        raise ValidationError({"data": _("%(where)s: expected text.") % {"where": where}})
    return value


def _saved(row, where: str):
    """Validate and save ``row``; prefix its errors with ``where``."""
    try:
        row.full_clean()
    except ValidationError as exc:
        messages = [f"{where}.{field}: {message}" for field, errors in exc.message_dict.items()
                    for message in errors]
        raise ValidationError({"data": messages}) from None
    row.save()
    return row


@transaction.atomic
def import_scenario(*, project: Project, data: Any, name: str | None = None) -> Scenario:
    """Create the scenario of an exported ``data`` document in ``project``; return it.

    All or nothing: any error (naming where in the document) leaves the project unchanged.
    ``name`` renames the scenario (to import a copy next to the original).
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError({"data": _("This is not an exported scenario (format %(format)s).")
                               % {"format": FORMAT}})
    head = _require(data, "scenario", dict, "")
    steps = _require(data, "steps", list, "")
    interfaces = _by_name(data, "interfaces")
    keywords = _by_name(data, "keywords")
    database = None
    if head.get("database"):
        _text(head["database"], "scenario.database")
        database = DatabaseConfig.objects.filter(project=project,
                                                 variable_name=head["database"]).first()
        if database is None:
            raise ValidationError({"data": _(
                "scenario.database: this project has no database named %(name)s; add it "
                "first (credentials are never exported).") % {"name": head["database"]}})
    scenario = Scenario(project=project, tenant_id=project.tenant_id,
                        name=name or _text(head.get("name"), "scenario.name"),
                        description=_text(head.get("description"), "scenario.description"),
                        priority=head.get("priority") or "P2", tags=head.get("tags") or [],
                        variables=head.get("variables") or {}, pre_sql=head.get("pre_sql") or "",
                        post_sql=head.get("post_sql") or "", database_config=database)
    _saved(scenario, "scenario")
    made_interfaces: dict[str, Interface] = {}
    made_keywords: dict[str, Keyword] = {}
    for index, entry in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(entry, dict):
            raise ValidationError({"data": _("%(where)s is not an object.") % {"where": where}})
        step = ScenarioStep(scenario=scenario, tenant_id=project.tenant_id,
                            sort_order=(index + 1) * 10,
                            kind=_text(entry.get("kind"), f"{where}.kind"),
                            description=_text(entry.get("description"), f"{where}.description"),
                            is_enabled=entry.get("is_enabled", True) is not False,
                            parameters=entry.get("parameters") or {})
        if entry.get("interface"):
            step.interface = _interface(project, _text(entry["interface"], f"{where}.interface"),
                                        interfaces, made_interfaces, where)
        if entry.get("keyword"):
            step.keyword = _keyword(project, _text(entry["keyword"], f"{where}.keyword"),
                                    keywords, made_keywords, where)
        if entry.get("builtin_keyword"):
            _text(entry["builtin_keyword"], f"{where}.builtin_keyword")
            step.builtin_keyword = BuiltinKeyword.objects.filter(
                code=entry["builtin_keyword"], is_active=True).first()
            if step.builtin_keyword is None:
                raise ValidationError({"data": _("%(where)s: no built-in keyword %(code)s.")
                                       % {"where": where, "code": entry["builtin_keyword"]}})
        _saved(step, where)
    return scenario


def _by_name(data: dict, key: str) -> dict[str, dict]:
    """Return the document's ``key`` list (interfaces, keywords) by name."""
    items = data.get(key) or []
    if not isinstance(items, list):
        raise ValidationError({"data": _("%(where)s: expected a list.") % {"where": key}})
    found = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError({"data": _("%(where)s is not an object.")
                                   % {"where": f"{key}[{index}]"}})
        found[_text(item.get("name"), f"{key}[{index}].name", blank=False)] = item
    return found


def _interface(project, name, documents, made, where) -> Interface:
    """Return the project's interface ``name``, creating it from the document if missing."""
    if name in made:
        return made[name]
    found = Interface.objects.filter(project=project, name=name).order_by("id").first()
    if found is None:
        document = documents.get(name)
        if document is None:
            raise ValidationError({"data": _("%(where)s: interface %(name)s is neither in the "
                                             "document nor in the project.")
                                   % {"where": where, "name": name}})
        found = Interface(project=project, tenant_id=project.tenant_id,
                          **{f: document[f] for f in INTERFACE_FIELDS if f in document})
        _saved(found, f"interfaces[{name}]")
    made[name] = found
    return found


def _keyword(project, name, documents, made, where) -> Keyword:
    """Return the project's keyword ``name``, creating it from the document if missing."""
    if name in made:
        return made[name]
    found = Keyword.objects.filter(project=project, name=name).first()
    if found is None:
        document = documents.get(name)
        if document is None:
            raise ValidationError({"data": _("%(where)s: keyword %(name)s is neither in the "
                                             "document nor in the project.")
                                   % {"where": where, "name": name}})
        found = Keyword(project=project, tenant_id=project.tenant_id,
                        **{f: document[f] for f in KEYWORD_FIELDS if f in document})
        _saved(found, f"keywords[{name}]")
    made[name] = found
    return found


@transaction.atomic
def reorder_steps(scenario: Scenario, step_ids: list) -> list[ScenarioStep]:
    """Put the scenario's live steps in the order of ``step_ids`` (every one, once)."""
    steps = {str(step.pk): step for step in scenario.steps.select_for_update()}
    wanted = [str(pk) for pk in step_ids]
    if sorted(wanted) != sorted(steps) or len(set(wanted)) != len(wanted):
        raise ValidationError({"steps": _("Give every step of the scenario exactly once; the "
                                          "scenario may have changed meanwhile, reload it.")})
    changed = []
    for position, pk in enumerate(wanted, start=1):
        step = steps[pk]
        if step.sort_order != position * 10:
            step.sort_order = position * 10
            changed.append(step)
    if changed:
        ScenarioStep.objects.bulk_update(changed, ["sort_order"])
    return [steps[pk] for pk in wanted]


def move_step(step: ScenarioStep, offset: int) -> list[ScenarioStep]:
    """Move ``step`` ``offset`` places (-1 up, +1 down), the keyboard's reorder."""
    order = [str(pk) for pk in step.scenario.steps.values_list("pk", flat=True)]
    index = order.index(str(step.pk))
    target = min(max(index + offset, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    return reorder_steps(step.scenario, order)


def next_position(scenario: Scenario) -> int:
    """Return the sort order of a step added at the end."""
    last = scenario.steps.aggregate(last=Max("sort_order"))["last"]
    return (last or 0) + 10


@transaction.atomic
def duplicate_step(step: ScenarioStep) -> ScenarioStep:
    """Insert a copy of ``step`` right after it."""
    step.refresh_from_db(fields=["sort_order"])
    later = list(step.scenario.steps.filter(sort_order__gt=step.sort_order))
    for other in later:
        other.sort_order += 10
    ScenarioStep.objects.bulk_update(later, ["sort_order"])
    copy = ScenarioStep(scenario=step.scenario, tenant_id=step.tenant_id,
                        sort_order=step.sort_order + 10, is_enabled=step.is_enabled,
                        description=step.description, kind=step.kind,
                        interface=step.interface, keyword=step.keyword,
                        builtin_keyword=step.builtin_keyword, parameters=step.parameters)
    copy.full_clean()
    copy.save()
    return copy
