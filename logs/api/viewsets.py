"""API of the logs: read-only, cursor-paginated, filterable by time, exportable as CSV.

Log tables are large and partitioned by month: lists page with a cursor on
``(created_at, id)`` (seed 001 section 6.3), which stays fast however deep the page, and a
time range wider than ``LOG_QUERY_MAX_DAYS`` is refused so that a query reads only the
partitions it needs. ``GET .../export/`` streams the filtered rows as CSV.
"""

from __future__ import annotations

import datetime

import django_filters
from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import pagination
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError

from core.api.pagination import described_links
from core.context import get_scope, scope_context
from core.exports import csv_rows
from logs.api.serializers import (
    AuditLogSerializer,
    LoginLogSerializer,
    OperationLogSerializer,
)
from logs.models import AuditLog, LoginLog, OperationLog
from tenants.api.base import PlatformReadOnlyViewSet


class LogCursorPagination(pagination.CursorPagination):
    """Newest first, by a cursor over (created_at, id)."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response_schema(self, schema):
        return described_links(super().get_paginated_response_schema(schema))


class TimeRangeFilter(django_filters.FilterSet):
    """``created_after``/``created_before`` (ISO 8601), bounded by ``LOG_QUERY_MAX_DAYS``."""

    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    def filter_queryset(self, queryset):
        after = self.form.cleaned_data.get("created_after")
        before = self.form.cleaned_data.get("created_before")
        limit = datetime.timedelta(days=settings.LOG_QUERY_MAX_DAYS)
        if after and before and before - after > limit:
            raise ValidationError(
                {"created_before": [_("The time range may span at most %(days)d days.")
                                    % {"days": settings.LOG_QUERY_MAX_DAYS}]}
            )
        if after and before and before <= after:
            raise ValidationError({"created_before": [_("The range ends before it starts.")]})
        return super().filter_queryset(queryset)


class LoginLogFilter(TimeRangeFilter):
    class Meta:
        model = LoginLog
        fields = ["login_status", "reason", "user", "username", "ip_address"]


class OperationLogFilter(TimeRangeFilter):
    class Meta:
        model = OperationLog
        fields = ["user", "username", "module", "operation", "business_type", "method",
                  "status", "response_status", "request_id"]


class AuditLogFilter(TimeRangeFilter):
    class Meta:
        model = AuditLog
        fields = ["user", "username", "entity_type", "entity_id", "action", "source",
                  "request_id"]


class LogViewSet(PlatformReadOnlyViewSet):
    """A log: list and retrieve, never written through the API; CSV export."""

    pagination_class = LogCursorPagination
    rbac_actions = {"export": "view"}
    export_fields: tuple = ()

    def optimise(self, queryset):
        return queryset.select_related("tenant")

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """Stream the filtered rows as CSV (UTF-8, header row first)."""
        queryset = self.filter_queryset(self.get_queryset()).order_by("-created_at", "-id")
        fields = self.export_fields
        # The response streams after the view (and the middleware's tenant scope) returned:
        # the rows are read in the scope of the request that asked for them.
        scope = get_scope()

        def rows():
            with scope_context(scope):
                yield from queryset.values_list(*fields).iterator(chunk_size=2000)

        response = StreamingHttpResponse(
            csv_rows(fields, rows()), content_type="text/csv; charset=utf-8"
        )
        name = self.queryset.model._meta.db_table
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


class LoginLogViewSet(LogViewSet):
    """Sign-in attempts of the tenant (every tenant for operators)."""

    queryset = LoginLog.objects.all()
    serializer_class = LoginLogSerializer
    filterset_class = LoginLogFilter
    search_fields = ["username", "ip_address"]
    export_fields = ("id", "created_at", "tenant_code", "username", "login_status", "reason",
                     "ip_address", "user_agent")


class OperationLogViewSet(LogViewSet):
    """One row per write request (and per read when LOG_READS is on)."""

    queryset = OperationLog.objects.all()
    serializer_class = OperationLogSerializer
    filterset_class = OperationLogFilter
    search_fields = ["username", "uri", "business_id"]
    export_fields = ("id", "created_at", "username", "module", "operation", "business_type",
                     "business_id", "method", "uri", "ip_address", "response_status", "status",
                     "execute_time", "error_message", "request_id")


class AuditLogViewSet(LogViewSet):
    """One row per changed object, with the field-level old and new values."""

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilter
    search_fields = ["entity_id", "username"]
    export_fields = ("id", "created_at", "username", "source", "entity_type", "entity_id",
                     "action", "old_value", "new_value", "ip_address", "request_id")
