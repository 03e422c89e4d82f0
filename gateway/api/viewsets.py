"""API of the endpoint registry: read by anyone granted endpoint:view, switched by the
platform (endpoint:update, a platform action)."""

from __future__ import annotations

from config.api.base import PlatformViewSet
from gateway.api.serializers import ApiEndpointSerializer
from gateway.models import ApiEndpoint


class ApiEndpointViewSet(PlatformViewSet):
    """The API's routes as the code declares them, with operators' switches.

    Rows come from ``manage.py sync_endpoints``: no creating or deleting here, and a PATCH
    changes only ``is_enabled`` and ``required_scopes``.
    """

    queryset = ApiEndpoint.objects.all()
    serializer_class = ApiEndpointSerializer
    http_method_names = ["get", "patch", "head", "options"]
    filterset_fields = ["method", "module", "permission_code", "is_enabled", "is_active",
                        "is_mcp_tool"]
    search_fields = ["path", "operation_id", "description"]
    ordering_fields = ["path", "method", "module", "updated_at"]
    ordering = ["path", "method"]
