"""Script tools: a global function of the tool's tenant, run in the sandbox of user code
(seed 000 section 3.7, issue 14).

The testing app owns global functions; the gateway reads them through
``core.sandbox.functions`` (the feature apps do not import each other) and runs them with
``core.sandbox.run``.

* **Schemas**: a script tool's input schema is its function's parameter docs (JSON Schema,
  ``additionalProperties: false``, secret parameters ``writeOnly``), and its output schema
  the return docs when the function returns a ``dict``: MCP requires an output schema of
  ``type: object``, the rule API tools follow too (``gateway.schemas``). Both are read from
  the function when the tool is listed or called (``bind``), so an edit of the function
  shows at once; the copy stored on the tool is a snapshot taken when it was saved, for the
  admin and the API.
* **A deleted function**: its tool is not listed, and a call of it answers "unknown tool",
  as for any tool the caller may not call. The tool stays, and works again once a function
  of that name exists again.
* **Queries**: ``bind_all`` reads the functions of a tenant in one query (``tools/list``),
  ``bind`` one function (``tools/call``).
* **Limits**: the sandbox's ``SANDBOX_*`` limits, with the wall-clock limit lowered to the
  tool's ``timeout``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.utils.translation import gettext as _

from core import sandbox
from core.sandbox import functions
from core.sandbox.functions import UserFunction

# Set on a tool by ``bind``: its function (``None`` when it no longer exists).
BOUND = "bound_function"
FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z")
# Return types documented as an object: the only ones MCP can describe as an output schema.
OBJECT_TYPES = ("dict",)


def _is_script(tool) -> bool:
    return tool.tool_type == "script"


def find(tenant_id: Any, name: str) -> UserFunction | None:
    """Return the tenant's function ``name`` ("ClassName.method"), ``None`` when it has none."""
    if not name or not FUNCTION_NAME.match(name):
        return None
    try:
        return functions.find(tenant_id, name)
    except LookupError:
        return None  # no app offers global functions here: none exists


def _listing(tenant_id: Any) -> list[UserFunction]:
    try:
        return functions.listing(tenant_id)
    except LookupError:
        return []


def function_problem(tenant_id: Any, name: str) -> str | None:
    """Return why ``name`` cannot be run by a tool of ``tenant_id``, ``None`` when it can.

    A malformed name is the field validator's to report.
    """
    if not name or not FUNCTION_NAME.match(name):
        return None
    try:
        found = functions.find(tenant_id, name)
    except LookupError:
        return _("Global functions are not available on this server.")
    if found is None:
        return _("The tenant has no global function %(name)s.") % {"name": name}
    return None


def output_schema(function: UserFunction) -> dict | None:
    """Return the output schema of a function's return docs, ``None`` unless a ``dict``."""
    returns = function.returns or {}
    if returns.get("type") not in OBJECT_TYPES:
        return None
    schema: dict[str, Any] = {"type": "object"}
    if returns.get("description"):
        schema["description"] = returns["description"]
    return schema


def definition(function: UserFunction) -> dict[str, Any]:
    """Return what a tool takes from its function: ``input_schema`` and ``output_schema``."""
    return {"input_schema": copy.deepcopy(function.input_schema),
            "output_schema": output_schema(function)}


def bind(tool, function: UserFunction | None):
    """Return a copy of the script tool ``tool`` described by ``function`` (see the module
    docstring); the copy remembers the function, ``None`` when it no longer exists."""
    bound = copy.copy(tool)
    if function is not None:
        for name, value in definition(function).items():
            setattr(bound, name, value)
        if not bound.description:
            bound.description = function.description
    setattr(bound, BOUND, function)
    return bound


def resolved(tool):
    """Return ``tool`` with its function bound (one query for a script tool not bound yet)."""
    if not _is_script(tool) or hasattr(tool, BOUND):
        return tool
    return bind(tool, find(tool.tenant_id, tool.script_function))


def function_of(tool) -> UserFunction | None:
    """Return the function a script tool runs, ``None`` when it no longer exists."""
    return getattr(resolved(tool), BOUND)


def bind_all(tools: list) -> list:
    """Return ``tools`` with every script tool bound, those whose function is gone left out.

    One query per tenant whose script tools are among them (``tools/list``: one at most).
    """
    by_tenant: dict[Any, dict[str, UserFunction]] = {}
    result = []
    for tool in tools:
        if not _is_script(tool):
            result.append(tool)
            continue
        if hasattr(tool, BOUND):
            function = getattr(tool, BOUND)
        else:
            known = by_tenant.get(tool.tenant_id)
            if known is None:
                known = by_tenant[tool.tenant_id] = {
                    function.name: function for function in _listing(tool.tenant_id)}
            function = known.get(tool.script_function)
        if function is not None:
            result.append(bind(tool, function))
    return result


def secret_arguments(tool) -> set[str]:
    """Return the names of the tool's arguments that its input schema declares secret
    (``writeOnly`` or ``"format": "password"``), with a script function's secret parameters."""
    names: set[str] = set()
    properties = (tool.input_schema or {}).get("properties") if isinstance(
        tool.input_schema, dict) else None
    if isinstance(properties, dict):
        names.update(name for name, schema in properties.items() if isinstance(schema, dict)
                     and (schema.get("writeOnly") is True or schema.get("format") == "password"))
    function = getattr(tool, BOUND, None)
    if function is not None:
        names.update(function.secret_parameters)
    return names


def limits(tool) -> sandbox.Limits:
    """Return the sandbox's limits with the wall clock no longer than the tool's timeout."""
    return sandbox.Limits.from_settings().lowered(wall_seconds=float(tool.timeout))


def call(tool, function: UserFunction, arguments: dict) -> sandbox.Outcome:
    """Run ``function`` with ``arguments`` in the sandbox within the tool's limits.

    Raise ``core.sandbox.SandboxUnavailable`` when user code cannot run here, and
    ``core.sandbox.SandboxError`` for arguments the sandbox cannot take.
    """
    return sandbox.run(function.code, function.entry, kwargs=arguments,
                       filename=function.filename, limits=limits(tool))
