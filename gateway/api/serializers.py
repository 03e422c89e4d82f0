"""Serializers of the endpoint registry, MCP tools and their call log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from gateway.models import McpTool, McpToolCallLog
from gateway.services import tools
from rbac.models import ApiEndpoint
from tenants.api.base import PlatformSerializer, is_operator
from tenants.models import Tenant


class ApiEndpointSerializer(PlatformSerializer):
    """A registry row; only the operators' switches are writable."""

    class Meta:
        model = ApiEndpoint
        fields = ["id", "path", "method", "module", "description", "operation_id",
                  "permission_code", "required_scopes", "is_enabled", "is_mcp_tool",
                  "is_active", "last_synced_at", "created_at", "updated_at"]
        read_only_fields = [name for name in fields if name not in ("required_scopes",
                                                                     "is_enabled")]


class McpToolSerializer(PlatformSerializer):
    """An MCP tool. ``auth_config`` is write-only: ``has_auth_config`` says whether one is
    stored. Writes go through ``gateway.services.tools`` (the admin's path too)."""

    auth_config = serializers.JSONField(
        write_only=True, required=False, allow_null=True,
        help_text=_("An external tool's credentials, stored encrypted and never returned. "
                    "Leave out to keep the stored ones; null removes them."),
    )
    has_auth_config = serializers.SerializerMethodField(
        help_text=_("Whether credentials are stored."))
    success_rate = serializers.FloatField(
        read_only=True, allow_null=True,
        help_text=_("Share of successful calls (0 to 1); null before the first call."))

    class Meta:
        model = McpTool
        fields = ["id", "tenant", "name", "title", "description", "tool_type", "endpoint",
                  "api_path", "api_method", "api_module", "external_url", "script_function",
                  "auth_type",
                  "auth_config", "has_auth_config", "permission_code", "required_scopes",
                  "input_schema", "output_schema", "annotations", "timeout", "max_retries",
                  "is_enabled", "is_public", "call_count", "success_count", "failure_count",
                  "avg_response_time", "success_rate", "created_at", "updated_at",
                  "created_by", "updated_by"]
        read_only_fields = ["api_path", "api_module", "call_count", "success_count",
                            "failure_count", "avg_response_time"]
        extra_kwargs = {
            # An API tool is named after its operation when no name is given.
            "name": {"required": False},
        }

    def get_has_auth_config(self, tool: McpTool) -> bool:
        """Return whether the tool has stored credentials (never the credentials)."""
        return tool.auth_config is not None

    def create(self, validated_data):
        auth_config = validated_data.pop("auth_config", tools.UNCHANGED)
        tenant = validated_data.pop("tenant", None)
        return tools.create_tool(tenant=tenant, auth_config=auth_config, **validated_data)

    def update(self, instance, validated_data):
        auth_config = validated_data.pop("auth_config", tools.UNCHANGED)
        validated_data.pop("tenant", None)
        return tools.update_tool(tool=instance, auth_config=auth_config, **validated_data)


class MakeToolSerializer(serializers.Serializer):
    """What ``POST /endpoints/{id}/make-tool/`` takes: all optional."""

    name = serializers.CharField(
        required=False, allow_blank=True, max_length=128,
        help_text=_("The tool's name; default: the operation id."))
    is_public = serializers.BooleanField(
        required=False, default=False,
        help_text=_("Offer the tool to every tenant (platform tools only)."))
    tenant = serializers.PrimaryKeyRelatedField(
        queryset=Tenant.objects.all(), required=False,
        help_text=_("Platform operators: the tenant that gets the tool (default: the "
                    "platform tenant). Ignored for everybody else."))

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and not is_operator(request):
            # A tenant user's tool is their tenant's: whatever they name is not read.
            fields.pop("tenant")
        return fields


class McpToolCallLogSerializer(serializers.ModelSerializer):
    """One tools/call; the error stack only for platform operators."""

    class Meta:
        model = McpToolCallLog
        fields = ["id", "tenant", "tool", "tool_name", "caller_type", "caller_id", "user",
                  "username", "operator_tenant", "protocol_version", "jsonrpc_id",
                  "request_id", "trace_id", "request_params", "request_headers",
                  "response_status", "response_data", "response_time", "status",
                  "error_message", "error_stack", "ip_address", "user_agent", "created_at"]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None or not is_operator(request):
            fields.pop("error_stack", None)
        return fields
