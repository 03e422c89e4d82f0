"""Serializer of the API endpoint registry."""

from __future__ import annotations

from config.api.base import PlatformSerializer
from gateway.models import ApiEndpoint


class ApiEndpointSerializer(PlatformSerializer):
    """A registry row; only the operators' switches are writable."""

    class Meta:
        model = ApiEndpoint
        fields = ["id", "path", "method", "module", "description", "operation_id",
                  "permission_code", "required_scopes", "is_enabled", "is_mcp_tool",
                  "is_active", "last_synced_at", "created_at", "updated_at"]
        read_only_fields = [name for name in fields if name not in ("required_scopes",
                                                                     "is_enabled")]
