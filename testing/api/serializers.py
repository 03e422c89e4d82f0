"""Serializers of the test design domain (seed 001 sections 3.2-3.13 and 3.17).

Writes run the models' ``full_clean`` (``PlatformSerializer``), so a JSON field that does
not fit its schema in ``testing/schemas/`` is a 400 naming the field and the JSON path,
code that does not compile names the line and column, and CSV names the line. Code, CSV
and SQL are stored as sent, whitespace included.

Secrets never leave in an answer: a database's ``password`` is write-only
(``has_password`` says whether one is set), and a secret variable's ``value`` is answered
masked and written through ``Variable.set_value``, which seals it.

A row inside a project stays in it: ``project`` (a step's ``scenario``, a plan entry's
``plan``) is chosen on creation and refused on update when it differs, because the rows
that reference it (steps, plans, scenarios' SQL) would be left pointing across projects.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from tenants.api.base import PlatformSerializer
from tenants.scoping import restrict
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    Dataset,
    Environment,
    GlobalFunction,
    Interface,
    InterfaceFolder,
    Keyword,
    PlanScenario,
    PlanSchedule,
    Project,
    Scenario,
    ScenarioStep,
    TestPlan,
    Variable,
)
from testing.models.environments import MASK, VALUE_MAX_LENGTH
from testing.services.scenarios import next_position

AUDIT = ["created_at", "updated_at", "created_by", "updated_by"]


class ProjectSerializer(PlatformSerializer):
    """A tester's project."""

    class Meta:
        model = Project
        fields = ["id", "tenant", "name", "description", "report_retention_days", *AUDIT]


class InProjectSerializer(PlatformSerializer):
    """A row of one project (or of one scenario or plan): its container never changes."""

    container_fields: tuple[str, ...] = ("project",)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if self.instance is not None:
            for name in self.container_fields:
                if name in attrs and attrs[name].pk != getattr(self.instance, f"{name}_id"):
                    raise serializers.ValidationError({name: _(
                        "A record cannot move to another %(container)s; create it there "
                        "instead.") % {"container": self.Meta.model._meta.get_field(name)
                                       .verbose_name}})
        return attrs


class DatabaseConfigSerializer(InProjectSerializer):
    """A database the project's steps may query; the password is written, never read."""

    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True,
        trim_whitespace=False, max_length=1024, style={"input_type": "password"},
        help_text=gettext_lazy("Stored sealed and never returned. Leave out to keep the "
                               "stored one; null removes it."),
    )
    has_password = serializers.SerializerMethodField(
        help_text=gettext_lazy("Whether a password is stored (never the password)."))

    class Meta:
        model = DatabaseConfig
        fields = ["id", "tenant", "project", "name", "variable_name", "db_type", "host", "port",
                  "initial_database", "username", "password", "has_password", "is_enabled",
                  "connection_status", "status_message", "last_tested_at", *AUDIT]

    def get_has_password(self, config: DatabaseConfig) -> bool:
        """Return whether a password is stored."""
        return config.password is not None


class ConnectionResultSerializer(serializers.ModelSerializer):
    """The outcome of ``POST database-configs/{id}/test-connection/``."""

    class Meta:
        model = DatabaseConfig
        fields = ["id", "connection_status", "status_message", "last_tested_at"]
        read_only_fields = fields


class InterfaceFolderSerializer(InProjectSerializer):
    """A folder of a project's interface tree (at most five levels)."""

    level = serializers.SerializerMethodField(
        help_text=gettext_lazy("1 for a top-level folder, up to 5."))

    class Meta:
        model = InterfaceFolder
        fields = ["id", "tenant", "project", "parent", "name", "sort_order", "level", *AUDIT]

    def get_level(self, folder: InterfaceFolder) -> int:
        """Return the folder's depth, counted from 1."""
        return folder.level + 1


class InterfaceSerializer(InProjectSerializer):
    """One request of the project's API, with its assertions and extractors."""

    class Meta:
        model = Interface
        fields = ["id", "tenant", "project", "folder", "name", "description", "method", "url",
                  "query", "headers", "body_type", "body", "content_type", "assertions",
                  "extractors", "sort_order", *AUDIT]


class EnvironmentSerializer(InProjectSerializer):
    """Where a project's requests go."""

    class Meta:
        model = Environment
        fields = ["id", "tenant", "project", "name", "base_url", "description", *AUDIT]


@extend_schema_serializer(examples=[
    OpenApiExample(
        "A secret variable", response_only=True,
        value={"id": "0190b6a4-6f1e-7c3a-9d2b-5e4f3a2b1c0d", "project":
               "0190b6a4-6f1e-7c3a-9d2b-000000000001", "environment": None, "name": "api_key",
               "value": MASK, "is_secret": True, "is_global": True,
               "description": "The key the requests send."},
    ),
])
class VariableSerializer(InProjectSerializer):
    """A variable of an environment, or a project global; a secret one is sealed and masked."""

    value = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=VALUE_MAX_LENGTH,
        help_text=gettext_lazy("Answered as •••••• when the variable is secret; sending "
                               "•••••• back keeps the stored secret."),
    )
    is_global = serializers.BooleanField(
        read_only=True, help_text=gettext_lazy("Shared by every environment of the project."))

    class Meta:
        model = Variable
        fields = ["id", "tenant", "project", "environment", "name", "value", "is_secret",
                  "is_global", "description", *AUDIT]

    def to_representation(self, variable: Variable) -> dict:
        data = super().to_representation(variable)
        data["value"] = variable.shown_value
        return data

    def _save(self, instance: Variable, validated_data: dict) -> Variable:
        value = validated_data.pop("value", None)
        was_secret = instance.is_secret and not instance._state.adding
        is_secret = validated_data.pop("is_secret", instance.is_secret)
        if was_secret and value == MASK:
            value = None  # the masked answer sent back: the stored secret stays
        if was_secret and not is_secret and value is None:
            raise ValidationError({"value": _("Give the new value: a secret is never turned "
                                              "back into plain text.")})
        if is_secret and not was_secret and value is None:
            value = instance.value  # seal the plain value it had
        instance.is_secret = is_secret
        if value is not None:
            instance.set_value(value)
        return super()._save(instance, validated_data)


class KeywordSerializer(InProjectSerializer):
    """A keyword a tester wrote: its code is syntax-checked on save, never run here."""

    class Meta:
        model = Keyword
        fields = ["id", "tenant", "project", "type", "name", "method_name", "code",
                  "parameters", "description", "is_enabled", *AUDIT]
        extra_kwargs = {"code": {"trim_whitespace": False}}


class BuiltinKeywordSerializer(serializers.ModelSerializer):
    """A keyword the platform ships, offered to every tenant."""

    class Meta:
        model = BuiltinKeyword
        fields = ["id", "code", "type", "name", "method_name", "description", "parameters",
                  "is_active"]
        read_only_fields = fields


class GlobalFunctionSerializer(PlatformSerializer):
    """A helper function of the tenant: stored and syntax-checked, run only in the sandbox."""

    class Meta:
        model = GlobalFunction
        fields = ["id", "tenant", "class_name", "method_name", "code", "description",
                  "parameters", "return_value", *AUDIT]
        extra_kwargs = {"code": {"trim_whitespace": False}}


class ScenarioSerializer(InProjectSerializer):
    """A chain of steps with its variables and its SQL before and after."""

    class Meta:
        model = Scenario
        fields = ["id", "tenant", "project", "name", "description", "priority", "tags",
                  "variables", "database_config", "pre_sql", "post_sql", *AUDIT]
        extra_kwargs = {"pre_sql": {"trim_whitespace": False},
                        "post_sql": {"trim_whitespace": False}}


class ScenarioStepSerializer(InProjectSerializer):
    """One step of a scenario; a new step without a position goes last."""

    container_fields = ("scenario",)

    class Meta:
        model = ScenarioStep
        fields = ["id", "tenant", "scenario", "sort_order", "is_enabled", "description", "kind",
                  "interface", "keyword", "builtin_keyword", "parameters", "retries", *AUDIT]
        extra_kwargs = {"sort_order": {"required": False}}

    def validate_builtin_keyword(self, keyword: BuiltinKeyword | None) -> BuiltinKeyword | None:
        kept = self.instance is not None and keyword is not None and (
            self.instance.builtin_keyword_id == keyword.pk)
        if keyword is not None and not keyword.is_active and not kept:
            raise serializers.ValidationError(_("This built-in keyword is no longer offered."))
        return keyword

    def _save(self, instance: ScenarioStep, validated_data: dict) -> ScenarioStep:
        if instance._state.adding and "sort_order" not in validated_data:
            validated_data["sort_order"] = next_position(validated_data["scenario"])
        return super()._save(instance, validated_data)


class DatasetSerializer(InProjectSerializer):
    """Rows of CSV a scenario runs once each."""

    class Meta:
        model = Dataset
        fields = ["id", "tenant", "project", "scenario", "name", "csv_data", *AUDIT]
        extra_kwargs = {"csv_data": {"trim_whitespace": False}}


class DatasetPreviewSerializer(serializers.Serializer):
    """The first rows of a dataset."""

    header = serializers.ListField(child=serializers.CharField(),
                                   help_text=gettext_lazy("The column names."))
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                 help_text=gettext_lazy("The first rows, in order."))
    row_count = serializers.IntegerField(help_text=gettext_lazy("How many rows there are."))


class TestPlanSerializer(InProjectSerializer):
    """Scenarios run together, in order or in parallel, and who hears when a run ends.

    ``webhook_secret`` is written, never read (``has_webhook_secret`` says whether one is
    stored); ``notify_users`` and ``notify_roles`` are users and roles of the caller's
    tenant."""

    webhook_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=False, allow_null=True,
        trim_whitespace=False, max_length=1024, style={"input_type": "password"},
        help_text=gettext_lazy("Signs each webhook (X-Atrium-Signature). Stored sealed and "
                               "never returned; leave out to keep the stored one, null "
                               "removes it."))
    has_webhook_secret = serializers.SerializerMethodField(
        help_text=gettext_lazy("Whether a webhook secret is stored (never the secret)."))

    class Meta:
        model = TestPlan
        fields = ["id", "tenant", "project", "name", "description", "run_mode", "environment",
                  "stop_on_failure", "notify_on", "notify_users", "notify_roles",
                  "webhook_url", "webhook_secret", "has_webhook_secret", *AUDIT]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from accounts.models import User
        from rbac.models import Role

        request = self.context.get("request")
        tenant_id = getattr(getattr(request, "user", None), "tenant_id", None)
        # Choices are the caller's tenant's users and roles: another tenant's do not exist.
        for name, model in (("notify_users", User), ("notify_roles", Role)):
            field = self.fields[name]
            child = getattr(field, "child_relation", field)
            child.queryset = model.objects.all_tenants().filter(tenant_id=tenant_id)

    def get_has_webhook_secret(self, plan: TestPlan) -> bool:
        return plan.webhook_secret is not None


class PlanScenarioSerializer(InProjectSerializer):
    """One scenario of a plan; a new entry without a position goes last."""

    container_fields = ("plan",)

    class Meta:
        model = PlanScenario
        fields = ["id", "tenant", "plan", "scenario", "dataset", "environment", "variables",
                  "sort_order", *AUDIT]
        extra_kwargs = {"sort_order": {"required": False}}

    def _save(self, instance: PlanScenario, validated_data: dict) -> PlanScenario:
        if instance._state.adding and "sort_order" not in validated_data:
            last = PlanScenario.objects.filter(plan=validated_data["plan"]).aggregate(
                last=Max("sort_order"))["last"]
            validated_data["sort_order"] = (last or 0) + 10
        return super()._save(instance, validated_data)


class PlanScheduleSerializer(InProjectSerializer):
    """A cron schedule of a plan in a time zone, with its next times and what it did last.

    The project is the plan's; the times are computed, never written.
    """

    container_fields = ("plan",)
    next_run_times = serializers.SerializerMethodField(
        help_text=gettext_lazy("The next three times it runs (ISO 8601, in its time zone)."))
    is_overdue = serializers.SerializerMethodField(
        help_text=gettext_lazy("Enabled and past due by more than two minutes: beat is down."))

    class Meta:
        model = PlanSchedule
        fields = ["id", "tenant", "project", "plan", "cron", "timezone", "environment",
                  "is_enabled", "next_due_at", "next_run_times", "is_overdue", "last_fired_at",
                  "last_execution", "missed_count", "last_missed_at", "last_error", *AUDIT]
        read_only_fields = ["project"]

    def get_next_run_times(self, schedule: PlanSchedule) -> list[str]:
        if not schedule.is_enabled:
            return []
        return [moment.isoformat() for moment in schedule.next_times(3)]

    def get_is_overdue(self, schedule: PlanSchedule) -> bool:
        return schedule.is_overdue()


class ScenarioImportSerializer(serializers.Serializer):
    """What ``POST scenarios/import/`` takes: the target project and an exported document."""

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.all(),
        help_text=gettext_lazy("A project of your tenant to create the scenario in."))
    data = serializers.JSONField(
        help_text=gettext_lazy("A document from GET scenarios/{id}/export/."))
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=255,
        help_text=gettext_lazy("A new name for the scenario; default: the exported one."))

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Only projects the user reaches: another tenant's is as unknown as a wrong id.
            fields["project"].queryset = restrict(Project.objects.all(), request.user)
        return fields

    def validate_data(self, document):
        """Refuse references that are not names, before the import looks them up."""
        if not isinstance(document, dict):
            return document  # the import refuses it, naming the format it expects
        problems = []
        for key in ("interfaces", "keywords"):
            items = document.get(key, [])
            if not isinstance(items, list):
                problems.append(_("%(where)s: give a list.") % {"where": key})
                continue
            problems += [_("%(where)s: give an object with a name (text).")
                         % {"where": f"{key}[{index}]"}
                         for index, item in enumerate(items)
                         if not isinstance(item, dict) or not isinstance(item.get("name"), str)]
        steps = document.get("steps")
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            problems += [_("%(where)s: name the %(key)s by its name (text).")
                         % {"where": f"steps[{index}].{key}", "key": key}
                         for key in ("interface", "keyword", "builtin_keyword")
                         if isinstance(step, dict) and step.get(key) is not None
                         and not isinstance(step[key], str)]
        head = document.get("scenario")
        problems += [_("%(where)s: give text.") % {"where": f"scenario.{key}"}
                     for key in ("name", "database")
                     if isinstance(head, dict) and head.get(key) is not None
                     and not isinstance(head[key], str)]
        if problems:
            raise serializers.ValidationError(problems)
        return document

    def validate(self, attrs: dict) -> dict:
        """Refuse a name the project already uses, on ``name`` (where the fix is)."""
        head = attrs["data"].get("scenario") if isinstance(attrs["data"], dict) else None
        name = attrs.get("name") or (head.get("name") if isinstance(head, dict) else None)
        if isinstance(name, str) and Scenario.objects.filter(project=attrs["project"],
                                                             name=name).exists():
            raise serializers.ValidationError({"name": _(
                "The project already has a scenario named %(name)s; give the copy another "
                "name.") % {"name": name}})
        return attrs


class ReorderStepsSerializer(serializers.Serializer):
    """What ``POST scenarios/{id}/reorder-steps/`` takes: every step's id, in the new order."""

    steps = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=True, max_length=10_000,
        help_text=gettext_lazy("The ids of all the scenario's steps, each once, in order."))


class MoveStepSerializer(serializers.Serializer):
    """What ``POST scenario-steps/{id}/move/`` takes: how many places to move."""

    offset = serializers.IntegerField(
        min_value=-10_000, max_value=10_000,
        help_text=gettext_lazy("-1 moves the step up one place, 1 down one place."))


class TryCodeSerializer(serializers.Serializer):
    """What ``POST keywords/{id}/try/`` and ``global-functions/{id}/try/`` take."""

    arguments = serializers.JSONField(
        default=dict, help_text=gettext_lazy(
            "A JSON object of the arguments, checked against the parameter docs."))
    response = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text=gettext_lazy(
            "A keyword with a `response` parameter receives this sample response "
            "(status, headers, text, json)."))


class TryResultSerializer(serializers.Serializer):
    """One call of a tester's code in the sandbox."""

    ok = serializers.BooleanField(help_text=gettext_lazy("Whether the code returned a value."))
    value = serializers.JSONField(allow_null=True,
                                  help_text=gettext_lazy("The value it returned."))
    error = serializers.CharField(help_text=gettext_lazy(
        "Why it did not: the exception, or the limit it exceeded."))
    traceback = serializers.CharField(help_text=gettext_lazy(
        "The lines of the tester's own code that led to the error."))
    output = serializers.CharField(help_text=gettext_lazy("What the code printed."))
    limit_exceeded = serializers.BooleanField(help_text=gettext_lazy(
        "Whether a limit of the sandbox (CPU, memory, time, output) ended the call."))
    duration_ms = serializers.FloatField(help_text=gettext_lazy("Time used, as seen by the "
                                                                "platform."))
    cpu_ms = serializers.FloatField(help_text=gettext_lazy("CPU time the call used."))


def try_result(outcome) -> dict:
    """Return the API's answer for a sandbox outcome."""
    return {"ok": outcome.ok, "value": outcome.value, "error": outcome.error,
            "traceback": outcome.traceback, "output": outcome.output,
            "limit_exceeded": outcome.breach, "duration_ms": outcome.duration_ms,
            "cpu_ms": outcome.cpu_ms}
