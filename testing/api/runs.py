"""API of runs under /api/v1/testing/: start, read and control executions.

* ``POST executions/`` with exactly one of ``plan``, ``scenario`` or ``interface`` (and an
  optional ``environment``; ``dataset`` with a scenario) starts a run (``execution:create``)
  and answers 201 with the execution, queued or running; the workers do the rest.
* ``GET executions/`` (filter by project, plan, scenario, status), ``GET executions/{id}/``.
* ``POST executions/{id}/pause/``, ``resume/``, ``terminate/`` (``execution:control``): 409
  when the execution is not in a state that allows it.
* ``GET executions/{id}/report/{kind}/`` (``execution:view``): the report as a file,
  ``json``, ``junit`` (JUnit XML), ``html`` (standalone) or ``allure`` (a zip of
  ``allure-results``), so a pipeline needs only ``curl``.
* ``GET scenario-runs/?execution=`` and ``GET step-results/?execution=&scenario_run=``: the
  runs and their steps in order (``execution:view`` through their execution, whose
  ``executionstep:view`` and ``stepresult:view`` codes they need). A step result's
  ``error`` and each assertion's ``message`` stay the English text the engine stored; beside
  them ``error_localized`` (also on executions and scenario runs) and each assertion's
  ``message_localized`` are the same messages in
  the request's language (``Accept-Language``, else the user's), and a new row's assertions
  carry ``message_i18n`` (``{"msgid", "params"}``, testing.engine.messages). Likewise each
  variable a step read keeps its English ``origin`` ("extracted at step 1 (Log in) $.token"),
  with ``origin_localized`` beside it and, on a new row, ``origin_i18n``.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants.api.base import ScopedQuerysetMixin
from tenants.scoping import restrict
from testing.models import (
    Dataset,
    Environment,
    Execution,
    ExecutionStep,
    Interface,
    Scenario,
    StepResult,
    TestPlan,
)
from testing import reports
from testing.engine.messages import render as render_message
from testing.services import runs


class ExecutionSerializer(serializers.ModelSerializer):
    """An execution: what ran, its state and totals."""

    pass_rate = serializers.FloatField(read_only=True, allow_null=True)
    error_localized = serializers.SerializerMethodField(
        help_text="The error in the request's language; `error` is the English text.")

    class Meta:
        model = Execution
        fields = ["id", "tenant", "project", "kind", "name", "plan", "schedule", "scenario",
                  "interface", "environment", "dataset", "status", "requested", "parallel",
                  "stop_on_failure", "started_at", "completed_at", "scenarios_total",
                  "scenarios_passed", "scenarios_failed", "steps_passed", "steps_failed",
                  "pass_rate", "error", "error_localized", "allure_report_path",
                  "details_pruned_at", "created_at", "created_by"]
        read_only_fields = fields

    def get_error_localized(self, execution: Execution) -> str:
        return render_message(execution.error_i18n, execution.error)


class StartRunSerializer(serializers.Serializer):
    """What to run: exactly one of a plan, a scenario or an interface."""

    plan = serializers.PrimaryKeyRelatedField(queryset=TestPlan.objects.none(), required=False)
    scenario = serializers.PrimaryKeyRelatedField(queryset=Scenario.objects.none(),
                                                  required=False)
    interface = serializers.PrimaryKeyRelatedField(queryset=Interface.objects.none(),
                                                   required=False)
    environment = serializers.PrimaryKeyRelatedField(queryset=Environment.objects.none(),
                                                     required=False, allow_null=True)
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.none(),
                                                 required=False, allow_null=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None:  # the schema generator describes the fields only
            return
        user = request.user
        # Choices are the caller's reach: another tenant's or project's rows do not exist.
        for name, model in (("plan", TestPlan), ("scenario", Scenario),
                            ("interface", Interface), ("environment", Environment),
                            ("dataset", Dataset)):
            self.fields[name].queryset = restrict(
                model.objects.filter(project__is_deleted=False), user)

    def validate(self, attrs: dict) -> dict:
        targets = [name for name in ("plan", "scenario", "interface") if attrs.get(name)]
        if len(targets) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Give exactly one of plan, scenario or interface.")]})
        target = attrs[targets[0]]
        errors: dict[str, list] = {}
        for name in ("environment", "dataset"):
            row = attrs.get(name)
            if row is not None and row.project_id != target.project_id:
                errors[name] = [_("Choose one of the same project's records.")]
        dataset = attrs.get("dataset")
        if dataset is not None and targets[0] != "scenario":
            errors["dataset"] = [_("Only a scenario runs with a dataset; a plan names its "
                                   "own per scenario.")]
        elif dataset is not None and dataset.scenario_id not in (None, target.pk):
            errors["dataset"] = [_("Choose a dataset of this scenario.")]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["target"] = targets[0]
        return attrs


class ScenarioRunSerializer(serializers.ModelSerializer):
    """One scenario run of an execution (one dataset row when data-driven)."""

    error_localized = serializers.SerializerMethodField(
        help_text="The error in the request's language; `error` is the English text.")

    class Meta:
        model = ExecutionStep
        fields = ["id", "tenant", "execution", "scenario", "interface", "environment",
                  "dataset", "name", "sort_order", "row_number", "row_values", "status",
                  "steps_total", "steps_passed", "steps_failed", "attempts", "started_at",
                  "completed_at", "error", "error_localized"]
        read_only_fields = fields

    def get_error_localized(self, run: ExecutionStep) -> str:
        return render_message(run.error_i18n, run.error)


class StepResultSerializer(serializers.ModelSerializer):
    """What one step did; secrets are masked."""

    error_localized = serializers.SerializerMethodField(
        help_text="The error in the request's language; `error` is the English text.")

    class Meta:
        model = StepResult
        fields = ["id", "execution", "scenario_run", "position", "step_key", "title",
                  "action", "status", "attempts", "flaky", "request", "response", "variables",
                  "extracted", "assertions", "error", "error_localized", "started_at",
                  "duration_ms"]
        read_only_fields = fields

    def get_error_localized(self, result: StepResult) -> str:
        return render_message(result.error_i18n, result.error)

    def to_representation(self, instance: StepResult) -> dict:
        data = super().to_representation(instance)
        # Each assertion keeps its English ``message``; ``message_localized`` is added.
        data["assertions"] = [
            {**item, "message_localized": render_message(item.get("message_i18n"),
                                                         item.get("message", ""))}
            if isinstance(item, dict) else item for item in data.get("assertions") or []]
        # Each variable read keeps its English ``origin``; ``origin_localized`` is added.
        if isinstance(data.get("variables"), dict):
            data["variables"] = {
                name: {**used, "origin_localized": render_message(used.get("origin_i18n"),
                                                                  used.get("origin", ""))}
                if isinstance(used, dict) else used for name, used in data["variables"].items()}
        return data


class ExecutionViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """Runs of plans, scenarios and interfaces."""

    queryset = Execution.objects.all()
    serializer_class = ExecutionSerializer
    filterset_fields = ["project", "plan", "scenario", "interface", "status", "kind"]
    search_fields = ["name"]
    ordering_fields = ["created_at", "started_at", "completed_at", "status"]
    ordering = ["-created_at"]
    rbac_actions = {"pause": "control", "resume": "control", "terminate": "control",
                    "report": "view"}

    def optimise(self, queryset):
        return queryset.filter(project__is_deleted=False)

    @extend_schema(request=StartRunSerializer, responses={201: ExecutionSerializer})
    def create(self, request):
        """Start a run; the workers run it and the execution's state follows."""
        start = StartRunSerializer(data=request.data, context={"request": request})
        start.is_valid(raise_exception=True)
        data = start.validated_data
        environment = data.get("environment")
        try:
            if data["target"] == "plan":
                execution = runs.start_plan(data["plan"], environment=environment)
            elif data["target"] == "scenario":
                execution = runs.start_scenario(data["scenario"], environment=environment,
                                                dataset=data.get("dataset"))
            else:
                execution = runs.start_interface(data["interface"], environment=environment)
        except runs.RunRefused as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from None
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_201_CREATED)

    def _control(self, request, change):
        execution = self.get_object()
        try:
            execution = change(execution)
        except runs.RunRefused as exc:
            return Response({"error": {"status": 409, "code": "conflict",
                                       "message": str(exc)}}, status=status.HTTP_409_CONFLICT)
        return Response(ExecutionSerializer(execution).data)

    @extend_schema(
        parameters=[OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     enum=list(reports.FORMATS),
                                     description="json, junit, html or allure")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT,
                   (200, "application/xml"): OpenApiTypes.STR,
                   (200, "text/html"): OpenApiTypes.STR,
                   (200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"],
            url_path=r"report/(?P<kind>json|junit|html|allure)")
    def report(self, request, pk=None, kind="json"):
        """The execution's report as a file: JSON, JUnit XML, standalone HTML, or the
        Allure results in a zip. Readable while the run goes on (what has run so far)."""
        execution = self.get_object()
        body, content_type, filename = reports.render(execution, kind)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(request=None, responses=ExecutionSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Pause after the current step of each running scenario run."""
        return self._control(request, runs.pause)

    @extend_schema(request=None, responses=ExecutionSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Continue a paused execution from each run's checkpoint."""
        return self._control(request, runs.resume)

    @extend_schema(request=None, responses=ExecutionSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        """Stop the execution within one step; runs not started never run."""
        return self._control(request, runs.terminate)


class ScenarioRunViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The scenario runs of executions."""

    queryset = ExecutionStep.objects.all()
    serializer_class = ScenarioRunSerializer
    filterset_fields = ["execution", "scenario", "status"]
    ordering_fields = ["sort_order"]
    ordering = ["execution_id", "sort_order"]

    def optimise(self, queryset):
        return queryset.filter(execution__is_deleted=False,
                               execution__project__is_deleted=False)


class StepResultViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Step results, in order within each scenario run."""

    queryset = StepResult.objects.all()
    serializer_class = StepResultSerializer
    filterset_fields = ["execution", "scenario_run", "status", "flaky"]
    ordering_fields = ["position", "started_at"]
    ordering = ["scenario_run_id", "position", "id"]

    def optimise(self, queryset):
        return queryset.filter(execution__is_deleted=False,
                               execution__project__is_deleted=False)
