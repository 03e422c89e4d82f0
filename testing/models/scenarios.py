"""Scenarios, their steps and datasets (seed 001 sections 3.9, 3.10 and 3.11)."""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tenants.models import TenantModel, unique_live_per_tenant
from testing.choices import Priority, StepKind
from testing.models.base import ProjectOwnedModel, validate_json_field
from testing.schemas import errors_against, schema_errors


class Scenario(ProjectOwnedModel):
    """An ordered chain of steps that pass values on, with SQL before and after (§3.9)."""

    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices,
                                default=Priority.P2)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    variables = models.JSONField(_("variables"), default=dict, blank=True)
    database_config = models.ForeignKey(
        "testing.DatabaseConfig", verbose_name=_("database for SQL"), on_delete=models.RESTRICT,
        null=True, blank=True, related_name="scenarios",
        help_text=_("Where the SQL before and after the steps runs."))
    pre_sql = models.TextField(_("SQL before the steps"), blank=True)
    post_sql = models.TextField(_("SQL after the steps"), blank=True)

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_scenarios"
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "project", "priority"],
                                name="testing_scenarios_prio_idx")]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "name", name="testing_scenarios_unique_name",
                                   message=_("This project already has a scenario with this "
                                             "name.")),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        """Return the scenario editor."""
        from django.urls import reverse

        return reverse("testing:scenario", args=[self.project_id, self.pk])

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields and the JSON fields against the shipped schemas."""
        errors: dict[str, list] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field, schema in (("tags", "tags"), ("variables", "variables")):
            if field not in errors:
                validate_json_field(self, field, schema, errors)
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        """Refuse a database of another project, and SQL without a database to run on."""
        super().clean()
        errors = self.check_same_project(database_config=self.database_config)
        if (self.pre_sql.strip() or self.post_sql.strip()) and self.database_config_id is None:
            errors.setdefault("database_config", []).append(ValidationError(
                _("Choose the database the SQL runs on."), code="required"))
        if errors:
            raise ValidationError(errors)

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while live plans include this scenario."""
        from testing.models.plans import PlanScenario

        entries = PlanScenario.objects.all_tenants().filter(scenario=self, plan__is_deleted=False)
        if entries.exists():
            names = sorted({e.plan.name for e in entries.select_related("plan")[:5]})
            return [str(_("Plans include this scenario: %(names)s. Remove it from them first.")
                        % {"names": ", ".join(names)})]
        return []


class ScenarioStep(TenantModel):
    """One step of a scenario, in order (§3.10): an interface of the project, an inline
    request, or a keyword (built-in or the project's) with its parameters.

    ``parameters`` depends on the kind: for a keyword, an object valid against the
    keyword's parameter docs; for an interface, extra assertions, extractors and variables
    (``interface_step.json``); for an inline request, the request itself (``request.json``).
    """

    scenario = models.ForeignKey(Scenario, verbose_name=_("scenario"), on_delete=models.CASCADE,
                                 related_name="steps")
    sort_order = models.IntegerField(pgettext_lazy("order in a list", "position"),
                                     default=0)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=StepKind.choices)
    interface = models.ForeignKey("testing.Interface", verbose_name=_("interface"),
                                  on_delete=models.RESTRICT, null=True, blank=True,
                                  related_name="steps")
    keyword = models.ForeignKey("testing.Keyword", verbose_name=_("keyword"),
                                on_delete=models.RESTRICT, null=True, blank=True,
                                related_name="steps")
    builtin_keyword = models.ForeignKey("testing.BuiltinKeyword",
                                        verbose_name=_("built-in keyword"),
                                        on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+")
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    retries = models.PositiveSmallIntegerField(
        _("retries"), default=0, validators=[MaxValueValidator(5)],
        help_text=_("Run a failed step again up to this many times (0-5), waiting longer each "
                    "time; a step that passes on a retry is marked flaky."))

    rbac_owner_path = "scenario__project__created_by"

    class Meta(TenantModel.Meta):
        db_table = "testing_scenario_steps"
        verbose_name = _("scenario step")
        verbose_name_plural = _("scenario steps")
        ordering = ["sort_order", "id"]
        indexes = [models.Index(fields=["tenant", "scenario", "sort_order"],
                                name="testing_steps_order_idx")]

    def __str__(self) -> str:
        return f"{self.sort_order}. {self.title}"

    @property
    def title(self) -> str:
        """Return what the step runs, in a few words."""
        if self.description:
            return self.description
        if self.kind == StepKind.INTERFACE and self.interface_id:
            return str(self.interface)
        if self.kind == StepKind.KEYWORD:
            return str(self.keyword or self.builtin_keyword or "")
        request = self.parameters if isinstance(self.parameters, dict) else {}
        return f"{request.get('method', '')} {request.get('url', '')}".strip()

    @property
    def keyword_definition(self):
        """Return the keyword the step calls (the project's or a built-in), or ``None``."""
        return self.keyword or self.builtin_keyword

    def clean(self) -> None:
        """Check that the step names exactly what its kind needs, and its parameters."""
        super().clean()
        errors: dict[str, list] = {}

        def refuse(field: str, message) -> None:
            errors.setdefault(field, []).append(ValidationError(message, code="invalid"))

        project_id = self.scenario.project_id if self.scenario_id else None
        if self.kind == StepKind.INTERFACE:
            if self.interface_id is None:
                refuse("interface", _("Choose the interface this step sends."))
            elif self.interface.project_id != project_id:
                refuse("interface", _("Choose one of this project's interfaces."))
            elif self.interface.is_deleted:
                refuse("interface", _("This interface is deleted."))
            schema = "interface_step"
        elif self.kind == StepKind.REQUEST:
            schema = "request"
        else:
            schema = None
            if (self.keyword_id is None) == (self.builtin_keyword_id is None):
                refuse("keyword", _("Choose one keyword: the project's or a built-in one."))
            elif self.keyword_id is not None and self.keyword.project_id != project_id:
                refuse("keyword", _("Choose one of this project's keywords."))
            elif self.keyword_id is not None and self.keyword.is_deleted:
                refuse("keyword", _("This keyword is deleted."))
        if self.kind != StepKind.INTERFACE and self.interface_id is not None:
            refuse("interface", _("Only an interface step names an interface."))
        if self.kind != StepKind.KEYWORD and (self.keyword_id or self.builtin_keyword_id):
            refuse("keyword", _("Only a keyword step names a keyword."))
        if "parameters" not in errors and not errors.get("keyword"):
            if schema is not None:
                messages = schema_errors(schema, self.parameters)
            elif self.keyword_definition is not None:
                messages = errors_against(self.keyword_definition.parameters, self.parameters)
            else:
                messages = []
            for message in messages:
                errors.setdefault("parameters", []).append(ValidationError(message, code="schema"))
        if errors:
            raise ValidationError(errors)


class DatasetError(ValueError):
    """A dataset that is not usable CSV; ``line`` is 1-based or ``None``."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line

    def __str__(self) -> str:
        message = self.args[0]
        if self.line is None:
            return message
        return str(_("Line %(line)d: %(message)s") % {"line": self.line, "message": message})


def parse_csv(text: str) -> tuple[list[str], list[list[str]]]:
    """Return the header and rows of a dataset's CSV; raise ``DatasetError`` naming the line.

    Rules: at most ``TESTING_DATASET_MAX_BYTES`` of UTF-8 and ``TESTING_DATASET_MAX_ROWS``
    rows; a header row of distinct identifier names; every row as many columns as the
    header. Blank lines are skipped.
    """
    from testing.models.base import identifier_validator

    size = len(text.encode("utf-8"))
    if size > settings.TESTING_DATASET_MAX_BYTES:
        raise DatasetError(str(_("The data is %(size)d bytes; at most %(limit)d are accepted.")
                               % {"size": size, "limit": settings.TESTING_DATASET_MAX_BYTES}))
    if "\x00" in text:
        raise DatasetError(str(_("The data holds a NUL character: is it a binary file?")))
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    try:
        for record in reader:
            line = reader.line_num
            if not record or all(not cell.strip() for cell in record) and len(record) <= 1:
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                seen = set()
                for name in header:
                    try:
                        identifier_validator(name)
                    except ValidationError:
                        raise DatasetError(str(_("The column name %(name)r is not an "
                                                 "identifier (letters, digits and '_').")
                                               % {"name": name}), line) from None
                    if name in seen:
                        raise DatasetError(str(_("The column %(name)s appears twice.")
                                               % {"name": name}), line)
                    seen.add(name)
                continue
            if len(record) != len(header):
                raise DatasetError(str(_("%(found)d columns where the header has %(expected)d.")
                                       % {"found": len(record), "expected": len(header)}), line)
            rows.append(record)
            if len(rows) > settings.TESTING_DATASET_MAX_ROWS:
                raise DatasetError(str(_("More than %(limit)d rows; split the data.")
                                       % {"limit": settings.TESTING_DATASET_MAX_ROWS}), line)
    except csv.Error as exc:
        raise DatasetError(str(exc), reader.line_num) from None
    if header is None:
        raise DatasetError(str(_("The data is empty: write a header row of column names.")))
    return header, rows


class Dataset(ProjectOwnedModel):
    """Rows of data a scenario runs once each (seed 001 section 3.11), as CSV text."""

    scenario = models.ForeignKey(Scenario, verbose_name=_("scenario"), on_delete=models.CASCADE,
                                 null=True, blank=True, related_name="datasets",
                                 help_text=_("Empty: any scenario of the project may use it."))
    name = models.CharField(_("name"), max_length=255)
    csv_data = models.TextField(_("CSV data"),
                                help_text=_("A header row of column names, then one row per "
                                            "run; each column is a variable of the run."))

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_datasets"
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant("project", "name", name="testing_datasets_unique_name",
                                   message=_("This project already has a dataset with this "
                                             "name.")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Check the CSV and the scenario's project."""
        super().clean()
        errors = self.check_same_project(scenario=self.scenario)
        try:
            parse_csv(self.csv_data or "")
        except DatasetError as exc:
            errors.setdefault("csv_data", []).append(ValidationError(str(exc), code="csv"))
        if errors:
            raise ValidationError(errors)

    def preview(self, limit: int = 10) -> tuple[list[str], list[list[str]], int]:
        """Return the header, the first ``limit`` rows and the number of rows."""
        header, rows = parse_csv(self.csv_data)
        return header, rows[:limit], len(rows)

    def soft_delete_blockers(self) -> list[str]:
        """Nothing blocks: plans that chose this dataset fall back to none (seed: SET NULL)."""
        return []
