"""Test data of the MCP gateway: API tools over real registry endpoints, keys."""

from __future__ import annotations

import uuid

from accounts.services.api_keys import issue_api_key
from core.context import tenant_context
from gateway.models import McpTool
from rbac.models import ApiEndpoint

USERS_LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "search": {"type": "string"},
        "page_size": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}


def endpoint(path: str, method: str = "GET") -> ApiEndpoint:
    """Return the registry row of a route (synced after migrate)."""
    return ApiEndpoint.objects.get(path=path, method=method)


def api_tool(tenant, name: str = "users_list", *, path: str = "/api/v1/users/",
             method: str = "GET", schema: dict | None = None, **fields) -> McpTool:
    """Create an API tool of ``tenant`` over the route ``method path``."""
    row = endpoint(path, method)
    values = {
        "name": name,
        "tool_type": "api",
        "endpoint": row,
        "api_path": row.path,
        "api_method": row.method,
        "permission_code": row.permission_code,
        "input_schema": USERS_LIST_SCHEMA if schema is None else schema,
        "annotations": {"readOnlyHint": method == "GET"},
        **fields,
    }
    with tenant_context(tenant):
        tool = McpTool(tenant=tenant, **values)
        tool.full_clean()
        tool.save()
    return tool


def key_of(user, scopes=("user:view",)) -> str:
    """Return the plaintext of a new API key of ``user`` with ``scopes``."""
    _key, plaintext = issue_api_key(user=user, name=f"agent-{uuid.uuid4().hex[:8]}",
                                    scopes=list(scopes))
    return plaintext
