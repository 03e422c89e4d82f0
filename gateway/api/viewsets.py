"""API of the endpoint registry, MCP tools and their call log.

* ``/endpoints/``: read by anyone granted endpoint:view, switched by the platform
  (endpoint:update, a platform action). ``POST /endpoints/{id}/make-tool/`` makes the
  endpoint a tool of the caller's tenant (``mcp_tool:create``); a platform operator may
  name another tenant in the body, and gets a tool of the platform tenant otherwise.
* ``/mcp-tools/``: the tenant's tools, written through ``gateway.services.tools`` like the admin;
  DELETE soft-deletes, ``restore/`` brings a tool back. ``auth_config`` is write-only.
* ``/mcp-tool-calls/``: the call log, read-only, cursor-paginated, bounded in time like
  the other logs (``logs.api.viewsets``); the error stack only for platform operators.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gateway.api.serializers import (
    ApiEndpointSerializer,
    MakeToolSerializer,
    McpToolCallLogSerializer,
    McpToolSerializer,
)
from gateway.models import McpTool, McpToolCallLog
from gateway.services import tools
from logs.api.viewsets import LogViewSet, TimeRangeFilter
from rbac.catalogue import code_for
from rbac.models import ApiEndpoint
from tenants.api.base import ScopedQuerysetMixin, SoftDeleteViewSet, is_operator


class ApiEndpointViewSet(
    ScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The API's routes as the code declares them, with operators' switches.

    Rows come from ``manage.py sync_endpoints``: no creating or deleting here, and a PATCH
    changes only ``is_enabled`` and ``required_scopes``.
    """

    queryset = ApiEndpoint.objects.all()
    serializer_class = ApiEndpointSerializer
    # POST answers make-tool only: there is no create, rows come from the code.
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["method", "module", "permission_code", "is_enabled", "is_active",
                        "is_mcp_tool"]
    search_fields = ["path", "operation_id", "description"]
    ordering_fields = ["path", "method", "module", "updated_at"]
    ordering = ["path", "method"]

    @property
    def permission_code(self) -> str | None:
        """Return the code of making a tool for ``make_tool``; the model's codes otherwise."""
        if getattr(self, "action", None) == "make_tool":
            return code_for(McpTool, "create")
        return None

    @extend_schema(request=MakeToolSerializer, responses={201: McpToolSerializer})
    @action(detail=True, methods=["post"], url_path="make-tool")
    def make_tool(self, request, pk=None):
        """Make the endpoint an MCP tool: schemas, description and annotations from its
        OpenAPI operation; 400 when the endpoint is disabled or the name taken."""
        endpoint = self.get_object()
        serializer = MakeToolSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tenant = data.get("tenant") if is_operator(request) else None
        tool = tools.create_api_tool(
            endpoint=endpoint,
            tenant=tenant or request.user.tenant,
            name=data.get("name") or None,
            is_public=data.get("is_public", False),
            created_by=request.user,
        )
        body = McpToolSerializer(tool, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class McpToolFilter(django_filters.FilterSet):
    """Filters of the tool list; ``name`` matches without case, like tool names compare."""

    name = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = McpTool
        fields = ["name", "tool_type", "is_enabled", "is_public", "auth_type", "endpoint"]


class McpToolViewSet(SoftDeleteViewSet):
    """MCP tools of the tenant: registered endpoints and external APIs offered to agents."""

    queryset = McpTool.objects.all()
    serializer_class = McpToolSerializer
    filterset_class = McpToolFilter
    search_fields = ["name", "title", "description", "api_path", "external_url"]
    ordering_fields = ["name", "title", "tool_type", "call_count", "avg_response_time",
                       "created_at", "updated_at"]
    ordering = ["name"]

    def optimise(self, queryset):
        return queryset.select_related("tenant")

    def perform_destroy(self, instance) -> None:
        tools.delete_tool(tool=instance)

    @extend_schema(request=None, description="Bring a soft-deleted tool back.")
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Restore a soft-deleted tool; 400 when a live tool has taken its name."""
        tool = tools.restore_tool(tool=self.get_object())
        return Response(self.get_serializer(tool).data)


class McpToolCallLogFilter(TimeRangeFilter):
    """Filters of the call log, by time (bounded), tool, caller and outcome."""

    tool = django_filters.UUIDFilter(field_name="tool_id")
    user = django_filters.UUIDFilter(field_name="user_id")

    class Meta:
        model = McpToolCallLog
        fields = ["tool", "tool_name", "caller_type", "caller_id", "user", "status",
                  "response_status", "protocol_version", "request_id", "trace_id"]


class McpToolCallLogViewSet(LogViewSet):
    """One row per tools/call: who called which tool with what, and how it ended."""

    queryset = McpToolCallLog.objects.all()
    serializer_class = McpToolCallLogSerializer
    filterset_class = McpToolCallLogFilter
    search_fields = ["tool_name", "username", "caller_id", "request_id", "trace_id"]
    export_fields = ("id", "created_at", "tool_name", "caller_type", "caller_id", "username",
                     "protocol_version", "jsonrpc_id", "request_id", "trace_id",
                     "response_status", "status", "response_time", "error_message")
