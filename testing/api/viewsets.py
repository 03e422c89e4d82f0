"""API of the test design domain (seed 001 sections 3.2-3.13 and 3.17), under /api/v1/testing/.

Every resource stands on the platform's base (``tenants.api.base``): tenant scoping, the
data scope, permission codes, validation through the model, soft delete and restore. A
row inside a project is reached only while its project (a step: its scenario; a plan
entry: its plan) is live, so a deleted project takes everything in it out of the API.

Actions beside the standard ones, each with its permission code in ``rbac_actions``:

* ``POST database-configs/{id}/test-connection/``: connect once under the tenant's network
  policy and record the outcome (``databaseconfig:update``).
* ``GET scenarios/{id}/export/``: the scenario as a portable JSON document
  (``scenario:view``); ``POST scenarios/import/`` creates one from such a document in a
  project of the caller's tenant (``scenario:create``, plus ``interface:create`` or
  ``keyword:create`` when the import has to create those).
* ``POST scenarios/{id}/reorder-steps/`` (``scenario:update``); ``POST
  scenario-steps/{id}/duplicate/`` (``scenariostep:create``) and ``move/``
  (``scenariostep:update``), the keyboard's reorder.
* ``GET datasets/{id}/preview/``: the header, the first rows and the row count
  (``dataset:view``).
* ``POST keywords/{id}/try/`` and ``global-functions/{id}/try/``: one call of the code in
  the sandbox with sample arguments (``keyword:update``, ``globalfunction:update``: who may
  change the code may run it). Arguments that do not match the parameter docs are a 400;
  a sandbox that cannot be set up here is a 503 naming what is missing.
"""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.response import Response

from rbac.access import get_access
from rbac.catalogue import code_for
from tenants.api.base import PlatformReadOnlyViewSet, SoftDeleteViewSet
from testing.api.serializers import (
    BuiltinKeywordSerializer,
    ConnectionResultSerializer,
    DatabaseConfigSerializer,
    DatasetPreviewSerializer,
    DatasetSerializer,
    EnvironmentSerializer,
    GlobalFunctionSerializer,
    InterfaceFolderSerializer,
    InterfaceSerializer,
    KeywordSerializer,
    MoveStepSerializer,
    PlanScenarioSerializer,
    PlanScheduleSerializer,
    ProjectSerializer,
    ReorderStepsSerializer,
    ScenarioImportSerializer,
    ScenarioSerializer,
    ScenarioStepSerializer,
    TestPlanSerializer,
    TryCodeSerializer,
    TryResultSerializer,
    VariableSerializer,
    try_result,
)
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    Dataset,
    DatasetError,
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
from testing.services import databases, scenarios, usercode

PREVIEW_ROWS = 10
PREVIEW_MAX_ROWS = 100


def holds(request, code: str) -> bool:
    """Return whether the caller holds ``code``: by their roles, within an API key's scopes."""
    scopes = getattr(getattr(request, "auth", None), "scopes", None)
    if scopes is not None and code not in scopes:
        return False
    return get_access(request.user).allows(code)


class InProjectViewSet(SoftDeleteViewSet):
    """Rows inside a project: reached only while the containers named here are live."""

    live_containers: tuple[str, ...] = ("project",)

    def optimise(self, queryset):
        return queryset.filter(**{f"{name}__is_deleted": False for name in self.live_containers})


class ProjectViewSet(SoftDeleteViewSet):
    """Testers' projects: everything of the test domain lives in one."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]


class DatabaseConfigViewSet(InProjectViewSet):
    """Databases a project's steps and SQL may query. The password is write-only."""

    queryset = DatabaseConfig.objects.all()
    serializer_class = DatabaseConfigSerializer
    filterset_fields = ["project", "db_type", "is_enabled", "connection_status"]
    search_fields = ["name", "variable_name", "host", "initial_database"]
    ordering_fields = ["name", "variable_name", "last_tested_at", "created_at"]
    ordering = ["name"]
    rbac_actions = {"test_connection": "update"}

    @extend_schema(request=None, responses=ConnectionResultSerializer)
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Connect once to the database, within the timeout and under the tenant's network
        policy, and record the outcome. A failed connection is an answer (status "failed"
        with the reason), not an error; a refused address is never contacted."""
        config = databases.check_connection(self.get_object())
        return Response(ConnectionResultSerializer(config).data)


class InterfaceFolderViewSet(InProjectViewSet):
    """Folders of a project's interface tree (at most five levels)."""

    queryset = InterfaceFolder.objects.all()
    serializer_class = InterfaceFolderSerializer
    filterset_fields = ["project", "parent"]
    search_fields = ["name"]
    ordering_fields = ["name", "sort_order", "created_at"]
    ordering = ["tree_id", "lft"]


class InterfaceViewSet(InProjectViewSet):
    """Requests of a project's API, with their assertions and extractors."""

    queryset = Interface.objects.all()
    serializer_class = InterfaceSerializer
    filterset_fields = ["project", "folder", "method", "body_type"]
    search_fields = ["name", "url", "description"]
    ordering_fields = ["name", "method", "url", "sort_order", "created_at", "updated_at"]
    ordering = ["sort_order", "name", "id"]


class EnvironmentViewSet(InProjectViewSet):
    """Environments of a project: a base URL and variables."""

    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    filterset_fields = ["project"]
    search_fields = ["name", "base_url", "description"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]


class VariableFilter(django_filters.FilterSet):
    """Variables by project, environment and kind; ``is_global`` picks the project's own."""

    is_global = django_filters.BooleanFilter(
        field_name="environment", lookup_expr="isnull",
        label=gettext_lazy("Global variables of the project (no environment)"))

    class Meta:
        model = Variable
        fields = ["project", "environment", "is_secret", "is_global"]


class VariableViewSet(InProjectViewSet):
    """Variables of environments, and global variables of projects; secret ones are
    masked in every answer. Their values cannot be searched."""

    queryset = Variable.objects.all()
    serializer_class = VariableSerializer
    filterset_class = VariableFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]
    # The operation log cannot tell a secret variable's value from a plain one's: it keeps
    # neither (logs.middleware.view_masked_fields).
    log_masked_fields = ("value",)

    def optimise(self, queryset):
        # The API never shows a secret: no reason to unseal one while reading.
        return (super().optimise(queryset)
                .filter(Q(environment__isnull=True) | Q(environment__is_deleted=False))
                .defer("secret_value"))


class SandboxUnavailableError(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "sandbox_unavailable"


class TryCodeMixin:
    """``POST {id}/try/``: call the row's code once in the sandbox with sample arguments."""

    rbac_actions = {"try_code": "update"}

    def call_code(self, row, data: dict):
        raise NotImplementedError

    @extend_schema(request=TryCodeSerializer, responses={200: TryResultSerializer})
    @action(detail=True, methods=["post"], url_path="try")
    def try_code(self, request, pk=None):
        """Call the code once in the sandbox; its error or a breached limit is an answer
        (``ok`` false), not an HTTP error."""
        from django.core.exceptions import ValidationError as ModelValidationError

        from core import sandbox

        row = self.get_object()
        payload = TryCodeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            outcome = self.call_code(row, payload.validated_data)
        except ModelValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        except sandbox.SandboxError as exc:
            raise ValidationError({"arguments": [str(exc)]}) from None
        except sandbox.SandboxUnavailable as exc:
            raise SandboxUnavailableError(str(exc)) from None
        return Response(try_result(outcome))


class KeywordViewSet(TryCodeMixin, InProjectViewSet):
    """Keywords testers wrote for a project; their code runs only in the sandbox."""

    queryset = Keyword.objects.all()
    serializer_class = KeywordSerializer
    filterset_fields = ["project", "type", "is_enabled"]
    search_fields = ["name", "method_name", "description"]
    ordering_fields = ["name", "type", "created_at", "updated_at"]
    ordering = ["type", "name"]

    def call_code(self, row, data: dict):
        return usercode.try_keyword(row, data["arguments"], response=data.get("response"))


class BuiltinKeywordViewSet(PlatformReadOnlyViewSet):
    """The keywords the platform ships, offered to every tenant (read-only)."""

    queryset = BuiltinKeyword.objects.all()
    serializer_class = BuiltinKeywordSerializer
    filterset_fields = ["type", "is_active"]
    search_fields = ["code", "name", "description"]
    ordering_fields = ["code", "name", "type"]
    ordering = ["type", "name"]


class GlobalFunctionViewSet(TryCodeMixin, SoftDeleteViewSet):
    """The tenant's helper functions, called as ``{{ClassName.method(args)}}``; they run only
    in the sandbox."""

    queryset = GlobalFunction.objects.all()
    serializer_class = GlobalFunctionSerializer
    search_fields = ["class_name", "method_name", "description"]
    ordering_fields = ["class_name", "method_name", "created_at", "updated_at"]
    ordering = ["class_name", "method_name"]

    def call_code(self, row, data: dict):
        return usercode.try_function(row, data["arguments"])


class ScenarioViewSet(InProjectViewSet):
    """Scenarios: ordered steps that pass values on, with SQL before and after."""

    queryset = Scenario.objects.all()
    serializer_class = ScenarioSerializer
    filterset_fields = ["project", "priority", "database_config"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "priority", "created_at", "updated_at"]
    ordering = ["name"]
    rbac_actions = {"export_document": "view", "import_scenario": "create",
                    "reorder_steps": "update"}

    # Named export-document: a route name ending in -export is a CSV export (core.exports).
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="export")
    def export_document(self, request, pk=None):
        """Return the scenario as a JSON document: its steps, the interfaces and keywords they
        use, and its database by variable name (credentials are never exported)."""
        return Response(scenarios.export_scenario(self.get_object()))

    @extend_schema(request=ScenarioImportSerializer, responses={201: ScenarioSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_scenario(self, request):
        """Create a scenario from an exported document in a project of your tenant, reusing
        the project's interfaces and keywords of the same names and creating the others.
        All or nothing: an error names where in the document it lies."""
        serializer = ScenarioImportSerializer(data=request.data,
                                              context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        project, document = serializer.validated_data["project"], serializer.validated_data["data"]
        self.check_may_create_references(project, document)
        with transaction.atomic():
            scenario = scenarios.import_scenario(
                project=project, data=document,
                name=serializer.validated_data.get("name") or None)
            self.check_still_in_scope(scenario)
        return Response(self.get_serializer(scenario).data, status=status.HTTP_201_CREATED)

    def check_may_create_references(self, project: Project, document) -> None:
        """Refuse an import that would create interfaces or keywords the caller may not
        create (keywords carry code: ``scenario:create`` alone must not add any)."""
        steps = document.get("steps") if isinstance(document, dict) else None
        if not isinstance(steps, list):
            return  # the import refuses the document, naming what is wrong
        for model, key in ((Interface, "interface"), (Keyword, "keyword")):
            names = {step[key] for step in steps
                     if isinstance(step, dict) and isinstance(step.get(key), str)}
            if not names:
                continue
            found = set(model.objects.filter(project=project, name__in=names)
                        .values_list("name", flat=True))
            code = code_for(model, "create")
            if names - found and not holds(self.request, code):
                raise PermissionDenied(_(
                    "The import would create %(what)s missing from the project; that needs "
                    "the permission %(code)s.") % {"what": model._meta.verbose_name_plural,
                                                   "code": code})

    @extend_schema(
        request=ReorderStepsSerializer,
        responses=inline_serializer("ReorderedSteps", {
            "steps": ScenarioStepSerializer(many=True)}),
    )
    @action(detail=True, methods=["post"], url_path="reorder-steps")
    def reorder_steps(self, request, pk=None):
        """Put the scenario's steps in the order given (every step's id, each once); 400 when
        the list does not match the steps (the scenario changed meanwhile)."""
        scenario = self.get_object()
        serializer = ReorderStepsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        steps = scenarios.reorder_steps(scenario, serializer.validated_data["steps"])
        context = self.get_serializer_context()
        return Response({"steps": ScenarioStepSerializer(steps, many=True, context=context).data})


class ScenarioStepFilter(django_filters.FilterSet):
    """Steps by scenario or project, kind, and what they call."""

    project = django_filters.ModelChoiceFilter(
        field_name="scenario__project", queryset=Project.objects.all(),
        label=gettext_lazy("Project"))

    class Meta:
        model = ScenarioStep
        fields = ["project", "scenario", "kind", "is_enabled", "interface", "keyword",
                  "builtin_keyword"]


class ScenarioStepViewSet(InProjectViewSet):
    """Steps of scenarios, in order: an interface, an inline request or a keyword."""

    queryset = ScenarioStep.objects.all()
    serializer_class = ScenarioStepSerializer
    filterset_class = ScenarioStepFilter
    search_fields = ["description"]
    ordering_fields = ["sort_order", "created_at"]
    ordering = ["scenario_id", "sort_order", "id"]
    live_containers = ("scenario", "scenario__project")
    rbac_actions = {"duplicate": "create", "move": "update"}

    @extend_schema(request=None, responses={201: ScenarioStepSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        """Insert a copy of the step right after it."""
        with transaction.atomic():
            copy = scenarios.duplicate_step(self.get_object())
            self.check_still_in_scope(copy)
        return Response(self.get_serializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=MoveStepSerializer,
        responses=inline_serializer("MovedSteps", {"steps": ScenarioStepSerializer(many=True)}),
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the step up (negative offset) or down (positive) within its scenario; answer
        the scenario's steps in their new order."""
        step = self.get_object()
        serializer = MoveStepSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        steps = scenarios.move_step(step, serializer.validated_data["offset"])
        context = self.get_serializer_context()
        return Response({"steps": ScenarioStepSerializer(steps, many=True, context=context).data})


class DatasetViewSet(InProjectViewSet):
    """Datasets: CSV rows a scenario runs once each."""

    queryset = Dataset.objects.all()
    serializer_class = DatasetSerializer
    filterset_fields = ["project", "scenario"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]
    rbac_actions = {"preview": "view"}

    @extend_schema(
        parameters=[OpenApiParameter(
            "limit", OpenApiTypes.INT, description="How many rows to show: 1 to 100, default 10.")],
        responses=DatasetPreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """Return the dataset's header, its first rows and how many rows it has."""
        dataset = self.get_object()
        limit = request.query_params.get("limit", str(PREVIEW_ROWS))
        if not limit.isdigit() or not 1 <= int(limit) <= PREVIEW_MAX_ROWS:
            raise ValidationError({"limit": [_("Give a number of rows from 1 to %(max)d.")
                                             % {"max": PREVIEW_MAX_ROWS}]})
        try:
            header, rows, count = dataset.preview(int(limit))
        except DatasetError as exc:  # stored before a limit was lowered
            raise ValidationError({"csv_data": [str(exc)]}) from None
        return Response(DatasetPreviewSerializer(
            {"header": header, "rows": rows, "row_count": count}).data)


class TestPlanViewSet(InProjectViewSet):
    """Test plans: scenarios run together, in order or in parallel."""

    queryset = TestPlan.objects.all()
    serializer_class = TestPlanSerializer
    filterset_fields = ["project", "run_mode", "environment", "notify_on"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def optimise(self, queryset):
        return super().optimise(queryset).prefetch_related("notify_users", "notify_roles")


class PlanScenarioFilter(django_filters.FilterSet):
    """Plan entries by plan or project, scenario, dataset and environment."""

    project = django_filters.ModelChoiceFilter(
        field_name="plan__project", queryset=Project.objects.all(),
        label=gettext_lazy("Project"))

    class Meta:
        model = PlanScenario
        fields = ["project", "plan", "scenario", "dataset", "environment"]


class PlanScenarioViewSet(InProjectViewSet):
    """The scenarios of plans, in order, with their dataset, environment and overrides."""

    queryset = PlanScenario.objects.all()
    serializer_class = PlanScenarioSerializer
    filterset_class = PlanScenarioFilter
    ordering_fields = ["sort_order", "created_at"]
    ordering = ["plan_id", "sort_order", "id"]
    live_containers = ("plan", "plan__project")


class PlanScheduleViewSet(InProjectViewSet):
    """Cron schedules of plans: when each runs next, when it fired, what it missed."""

    queryset = PlanSchedule.objects.all()
    serializer_class = PlanScheduleSerializer
    filterset_fields = ["project", "plan", "is_enabled"]
    ordering_fields = ["next_due_at", "last_fired_at", "created_at"]
    ordering = ["next_due_at", "id"]
    live_containers = ("plan", "project")
