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


def global_function(tenant, name: str = "Text.shout", code: str | None = None, *,
                    parameters: list | None = None, return_value: dict | None = None,
                    description: str = ""):
    """Create a global function ``Class.method`` of ``tenant`` (the testing app's model)."""
    from testing.models import GlobalFunction

    class_name, method_name = name.split(".")
    if code is None:
        code = (f"class {class_name}:\n    @staticmethod\n    def {method_name}(text):\n"
                f"        return text.upper()\n")
    with tenant_context(tenant):
        row = GlobalFunction(
            tenant=tenant, class_name=class_name, method_name=method_name, code=code,
            description=description,
            parameters=[{"name": "text", "type": "str", "description": "What to shout"}]
            if parameters is None else parameters,
            return_value={"type": "str"} if return_value is None else return_value)
        row.full_clean()
        row.save()
    return row


def script_tool(tenant, name: str = "shout", function: str = "Text.shout", **fields) -> McpTool:
    """Create a script tool of ``tenant`` running its global function ``function``."""
    values = {"name": name, "tool_type": "script", "script_function": function,
              "permission_code": "mcp_tool:call", **fields}
    with tenant_context(tenant):
        tool = McpTool(tenant=tenant, **values)
        tool.full_clean()
        tool.save()
    return tool
