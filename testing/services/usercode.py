"""A tenant's code (keywords, global functions) as the sandbox and its callers see it.

- ``function_data`` / ``GlobalFunctions``: a global function as plain data, registered with
  ``core.sandbox.functions`` so that the MCP gateway's script tools find it without
  importing this app.
- ``keyword_code``: a project's keyword as a scenario step calls it.
- ``try_keyword`` / ``try_function``: one call with sample arguments, for the "try it"
  panels; arguments are checked against the parameter docs first (a ``ValidationError``
  naming each problem), then the code runs in the sandbox.

A parameter is secret when its docs say so: ``"format": "password"`` (or
``"writeOnly": true``) in a keyword's JSON Schema, ``"secret": true`` in a global
function's parameter list. Only such parameters receive values computed from secrets.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core import sandbox
from core.sandbox.functions import UserFunction, register_source
from testing.engine import functions as builtin_functions, spec as S
from testing.models import GlobalFunction, Keyword
from testing.schemas import errors_against

TYPES = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
         "bool": {"type": "boolean"}, "list": {"type": "array"}, "dict": {"type": "object"},
         "any": {}}
RESPONSE_PARAMETER = "response"


def function_schema(parameters: list[dict] | None) -> dict:
    """Return the JSON Schema of a global function's arguments (from its parameter list)."""
    properties: dict[str, dict] = {}
    required: list[str] = []
    for parameter in parameters or []:
        schema = dict(TYPES.get(parameter.get("type", "any"), {}))
        if parameter.get("description"):
            schema["description"] = parameter["description"]
        if "default" in parameter:
            schema["default"] = parameter["default"]
        else:
            required.append(parameter["name"])
        if parameter.get("secret"):
            schema["format"] = "password"
            schema["writeOnly"] = True
        properties[parameter["name"]] = schema
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


def function_data(function: GlobalFunction) -> UserFunction:
    """Return a global function as the sandbox's callers need it."""
    name = f"{function.class_name}.{function.method_name}"
    parameters = function.parameters if isinstance(function.parameters, list) else []
    return UserFunction(
        name=name, code=function.code, entry=name, filename=f"<function {name}>",
        description=function.description, input_schema=function_schema(parameters),
        secret_parameters=frozenset(p["name"] for p in parameters if p.get("secret")),
        parameter_order=tuple(p["name"] for p in parameters),
        returns=function.return_value if isinstance(function.return_value, dict) else {})


class GlobalFunctions:
    """The source of global functions that ``core.sandbox.functions`` asks."""

    def find(self, tenant_id: Any, name: str) -> UserFunction | None:
        class_name, _dot, method_name = name.partition(".")
        if not class_name or not method_name:
            return None
        row = (GlobalFunction.objects.all_tenants()
               .filter(tenant_id=tenant_id, class_name=class_name, method_name=method_name)
               .first())
        return function_data(row) if row is not None else None

    def listing(self, tenant_id: Any) -> list[UserFunction]:
        rows = GlobalFunction.objects.all_tenants().filter(tenant_id=tenant_id)
        return [function_data(row) for row in rows.order_by("class_name", "method_name")]


def tenant_functions(tenant_id: Any) -> dict[str, UserFunction]:
    """Return the tenant's global functions by "Class.method" (for a run's templates)."""
    return {function.name: function for function in GlobalFunctions().listing(tenant_id)}


def secret_parameters(schema: dict | None) -> list[str]:
    """Return the parameters a keyword's JSON Schema declares secret."""
    properties = (schema or {}).get("properties") or {}
    return sorted(name for name, docs in properties.items() if isinstance(docs, dict) and (
        docs.get("format") == "password" or docs.get("writeOnly") is True))


def takes_response(code: str, function_name: str) -> bool:
    """Return whether the function ``function_name`` of ``code`` has a ``response`` parameter."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function_name:
            names = [a.arg for a in (*node.args.posonlyargs, *node.args.args,
                                     *node.args.kwonlyargs)]
            return RESPONSE_PARAMETER in names or node.args.kwarg is not None
    return False


def keyword_code(keyword: Keyword) -> S.CodeSpec:
    """Return a project's keyword as a step calls it."""
    return S.CodeSpec(name=keyword.name, code=keyword.code, entry=keyword.method_name,
                      filename=f"<keyword {keyword.name}>", keyword_type=keyword.type,
                      secret_parameters=secret_parameters(keyword.parameters),
                      takes_response=takes_response(keyword.code, keyword.method_name))


def _arguments(arguments: Any, schema: dict) -> dict:
    if not isinstance(arguments, dict):
        raise ValidationError({"arguments": [_("Enter the arguments as a JSON object.")]})
    problems = errors_against(schema, arguments)
    if problems:
        raise ValidationError({"arguments": problems})
    return arguments


def try_keyword(keyword: Keyword, arguments: Any, *, response: Any = None) -> sandbox.Outcome:
    """Call a project's keyword once with sample arguments (and a sample response)."""
    arguments = _arguments(arguments, keyword.parameters or {"type": "object"})
    if takes_response(keyword.code, keyword.method_name):
        arguments = {**arguments, RESPONSE_PARAMETER: response}
    return sandbox.run(keyword.code, keyword.method_name, kwargs=arguments,
                       filename=f"<keyword {keyword.name}>")


def try_function(function: GlobalFunction, arguments: Any) -> sandbox.Outcome:
    """Call a global function once with sample arguments."""
    data = function_data(function)
    arguments = _arguments(arguments, data.input_schema)
    return sandbox.run(data.code, data.entry, kwargs=arguments, filename=data.filename)


def register() -> None:
    """Offer the engine's built-in functions as ``atrium`` inside the sandbox and make the
    tenant's global functions findable from other apps (called by the app's ``ready``)."""
    sandbox.register_module("atrium", inspect.getsource(builtin_functions))
    register_source("global", GlobalFunctions())
