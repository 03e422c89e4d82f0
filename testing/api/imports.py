"""API of imports under /api/v1/testing/imports/ (issue 15, item 1).

* ``POST imports/`` (multipart ``file``, or ``text``; ``project``; optional ``format``;
  optional ``data_file``, a Postman collection's CSV or JSON iteration data, which becomes
  its scenario's dataset) reads the file and answers 201 with the job and its preview. A
  file larger than ``TESTING_IMPORT_INLINE_BYTES`` is read by a worker: 202 with the job,
  status ``parsing``, its ``stage`` and ``progress`` (percent); poll ``GET imports/{id}/``
  until the status is ``previewed`` (the preview is there) or ``failed`` (``error`` says
  why in English, ``error_localized`` in the request's language). The preview: every item with its action
  (create, update, conflict, unchanged, kept, remove, skip), the reason, and what the file
  held that is not carried over (``problems``: each ``message`` in English as stored, with
  ``message_localized`` in the request's language and ``message_i18n`` its msgid and
  parameters, testing.engine.messages). A file that cannot be read is a 400 naming
  the file, where in it and why. Needs ``importjob:create`` and the create codes of
  interfaces, variables and scenarios.
* ``GET imports/``, ``GET imports/{id}/?base_url=``: jobs and their preview.
* ``POST imports/{id}/apply/`` with ``items`` (the ids to import; default: the preview's
  default choice), ``base_url`` (a host the requests hard-code, made an environment's),
  ``environment`` and ``environment_url`` (that environment's base URL, when not
  ``base_url``): all or nothing; a refused item is a 400 naming it.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from rbac.access import get_access
from rbac.catalogue import code_for
from tenants.api.base import ScopedQuerysetMixin
from tenants.scoping import restrict
from testing import importers
from testing.importers.base import DataFile, ImportFailed
from testing.models import Dataset, ImportJob, Interface, Project, Scenario, Variable
from testing.services import imports


class ImportJobSerializer(serializers.ModelSerializer):
    """An import: the file, its format, and what it did once applied."""

    error_localized = serializers.SerializerMethodField(
        help_text="Why the file cannot be read, in the request's language; `error` is the "
                  "English text.")

    class Meta:
        model = ImportJob
        fields = ["id", "tenant", "project", "format", "filename", "data_filename", "title",
                  "status", "stage", "progress", "error", "error_localized", "result",
                  "imported_at", "created_at", "created_by"]
        read_only_fields = fields

    def get_error_localized(self, job: ImportJob) -> str:
        return job.error_text()


class PreviewItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    action = serializers.CharField()
    reason = serializers.CharField()
    where = serializers.CharField()
    folder = serializers.CharField()
    chosen = serializers.BooleanField()


class ProblemSerializer(serializers.Serializer):
    where = serializers.CharField()
    message = serializers.CharField(help_text="The problem in English, as it was stored.")
    severity = serializers.CharField()
    item = serializers.CharField()
    message_i18n = serializers.JSONField(
        allow_null=True, help_text='The message id and parameters ({"msgid", "params"}); '
                                   "null for a preview stored before messages had ids.")
    message_localized = serializers.CharField(
        help_text="The problem in the request's language (Accept-Language, else the user's).")


class ImportPreviewSerializer(ImportJobSerializer):
    """An import with its preview."""

    base_urls = serializers.ListField(child=serializers.CharField(), read_only=True)
    items = PreviewItemSerializer(many=True, read_only=True)
    problems = ProblemSerializer(many=True, read_only=True)

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "base_urls", "items", "problems"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    file = serializers.FileField(required=False)
    text = serializers.CharField(required=False, trim_whitespace=False,
                                 max_length=settings.TESTING_IMPORT_MAX_BYTES)
    format = serializers.ChoiceField(choices=list(importers.MODULES), required=False)
    data_file = serializers.FileField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["project"].queryset = restrict(Project.objects.all(), request.user)

    def validate(self, attrs: dict) -> dict:
        upload = attrs.get("file")
        if upload is None and not (attrs.get("text") or "").strip():
            raise serializers.ValidationError({"file": [_("Send a file, or its text.")]})
        if upload is not None and upload.size > settings.TESTING_IMPORT_MAX_BYTES:
            raise serializers.ValidationError({"file": [
                _("The file is %(size)d bytes; at most %(limit)d are imported.")
                % {"size": upload.size, "limit": settings.TESTING_IMPORT_MAX_BYTES}]})
        rows = attrs.get("data_file")
        if rows is not None and rows.size > settings.TESTING_DATASET_MAX_BYTES:
            raise serializers.ValidationError({"data_file": [
                _("The data file is %(size)d bytes; at most %(limit)d are imported.")
                % {"size": rows.size, "limit": settings.TESTING_DATASET_MAX_BYTES}]})
        return attrs


class ApplySerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.CharField(max_length=700), required=False,
                                  max_length=100_000)
    base_url = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    environment = serializers.CharField(required=False, allow_blank=True, max_length=255)
    environment_url = serializers.URLField(required=False, allow_blank=True, max_length=1024)


def preview_data(job: ImportJob, base_url: str = "") -> dict:
    data = ImportJobSerializer(job).data
    if not job.is_ready:
        return {**data, "base_urls": [], "items": [], "problems": []}
    preview = imports.preview(job, base_url=base_url)
    data["base_urls"] = preview.plan.base_urls
    data["items"] = [{**asdict(item), "chosen": item.chosen} for item in preview.items]
    data["problems"] = [{**asdict(problem), "message_localized": problem.text()}
                        for problem in preview.plan.problems]
    return data


class ImportJobViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """Files imported into projects, each with its preview."""

    queryset = ImportJob.objects.all()
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_fields = ["project", "status", "format"]
    ordering = ["-created_at"]
    rbac_actions = {"apply": "create"}

    def optimise(self, queryset):
        return queryset.filter(project__is_deleted=False).defer("plan", "source", "data_source")

    def _require_writes(self, request, job: ImportJob | None = None) -> None:
        access = get_access(request.user)
        if job is not None and imports.has_datasets(job) and not access.allows(
                code_for(Dataset, "create")):
            raise PermissionDenied(_("This import creates datasets: the caller may not "
                                     "create them."))
        for model in (Interface, Variable, Scenario):
            if not access.allows(code_for(model, "create")):
                raise PermissionDenied(_("Importing creates interfaces, variables and "
                                         "scenarios: the caller may not create them."))

    @extend_schema(request=UploadSerializer, responses={201: ImportPreviewSerializer,
                                                        202: ImportPreviewSerializer})
    def create(self, request):
        """Read a file into a preview; nothing is written to the project yet."""
        self._require_writes(request)
        upload = UploadSerializer(data=request.data, context={"request": request})
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        if data.get("file") is not None:
            content, filename = data["file"].read(), data["file"].name
        else:
            content, filename = data["text"].encode("utf-8"), "pasted text"
        rows = data.get("data_file")
        data_file = DataFile(rows.read(), rows.name) if rows is not None else None
        try:
            job = imports.upload(data["project"], content, filename, data.get("format"),
                                 data_file=data_file)
        except ImportFailed as exc:
            field = ("data_file" if data_file is not None
                     and exc.filename == data_file.filename else "file")
            raise ValidationError({field: [exc.text()]}) from None
        return Response(preview_data(job), status=status.HTTP_201_CREATED if job.is_ready
                        else status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ImportPreviewSerializer)
    def retrieve(self, request, pk=None):
        """The import and its preview (``?base_url=`` as it would be applied)."""
        job = ImportJob.objects.get(pk=self.get_object().pk)
        return Response(preview_data(job, request.query_params.get("base_url", "")))

    @extend_schema(request=ApplySerializer, responses=ImportJobSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        """Write the chosen items, all or nothing."""
        job = ImportJob.objects.get(pk=self.get_object().pk)
        self._require_writes(request, job)
        choice = ApplySerializer(data=request.data)
        choice.is_valid(raise_exception=True)
        data = choice.validated_data
        base_url = data.get("base_url", "")
        chosen = data.get("items")
        try:
            if chosen is None:
                chosen = (imports.choices_default(imports.preview(job, base_url=base_url))
                          if job.is_ready else set())
            imports.apply(job, chosen=set(chosen), base_url=base_url,
                          environment=data.get("environment", ""),
                          environment_url=data.get("environment_url", ""))
        except imports.ImportRefused as exc:
            raise ValidationError({"items": [str(exc)]}) from None
        return Response(ImportJobSerializer(job).data)
