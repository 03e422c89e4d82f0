"""MCP tool definitions of registered endpoints, read from the platform's own OpenAPI document.

``tool_definition(endpoint)`` finds the endpoint's operation (by path and method, else by
operation id) in the document drf-spectacular generates for ``/api/schema/``, and turns it
into what ``tools/list`` announces (issue 5, item 2):

* **input schema**: a JSON Schema object (draft 2020-12, ``additionalProperties: false``)
  whose top-level properties are the path parameters (required) and the query parameters,
  and, when the operation takes a body, the body under the one property ``body`` (required
  when the body is). The dispatcher (``gateway.dispatch``) maps arguments back the same way:
  path placeholders take the arguments of their name, ``body`` is the JSON body, the rest is
  the query string. Body fields are never flattened to the top level, so a body field and a
  query parameter of the same name cannot collide. A query parameter named ``body`` of an
  operation that also takes a body could not be told apart from it and is left out.
* **output schema**: the schema of the first 2xx JSON response, only when it is an object
  (MCP requires ``type: object``); a page of results is an object, a bare list or text is not.
* Every ``$ref`` is resolved inline. A schema that refers to itself is cut where it recurs,
  or ``MAX_REF_DEPTH`` references deep, with the permissive schema ``{}``.
* OpenAPI 3.0's dialect becomes JSON Schema's: ``nullable: true`` becomes an ``anyOf``
  of the schema and ``{"type": "null"}`` (not a ``type`` list, which the MCP Inspector's
  strict mode warns about), ``example`` becomes ``examples``, the boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` become numbers, and keywords that JSON Schema
  does not know (``discriminator``, ``xml``, ``externalDocs``) are dropped.
* ``oneOf`` becomes ``anyOf``. drf-spectacular writes a field that may be blank as
  ``oneOf`` of the field and ``{"type": "string", "maxLength": 0}``; a validator that does
  not check formats (the Python SDK client's) finds ``""`` valid under both branches of an
  e-mail field and so refuses it under ``oneOf``. No answer of the platform depends on
  exactly one branch matching, so ``anyOf`` says the same thing to every validator.
* ``readOnly`` properties are dropped from the body (the server sets them) and
  ``writeOnly`` ones from the output (the server never returns them).
* **annotations** (MCP ``ToolAnnotations``) follow the verb: GET is read-only, DELETE
  destructive, PUT idempotent, POST and PATCH writes; a platform endpoint's world is closed.

The document is generated once per process, in the platform's language
(``LANGUAGE_CODE``), and cached: the API changes only with the code, that is with a new
process. ``clear_cache()`` drops it (tests that swap ``ROOT_URLCONF`` do so automatically).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation

# The argument that carries the request body (gateway.dispatch.BODY).
BODY = "body"
# $refs followed inside one another before the schema is cut with ``{}``.
MAX_REF_DEPTH = 8
# MCP tool names: 1-128 of A-Z, a-z, 0-9, "_", "-", "." (specification, "Tool names").
NAME_MAX_LENGTH = 128
TITLE_MAX_LENGTH = 200  # McpTool.title
INVALID_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# OpenAPI keywords JSON Schema 2020-12 does not define.
DROPPED_KEYWORDS = frozenset({"nullable", "discriminator", "xml", "externalDocs", "example"})
JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\b", re.I)
# Keywords that describe a schema rather than constrain it.
ANNOTATION_KEYWORDS = ("title", "description", "examples", "default", "deprecated",
                       "readOnly", "writeOnly")
ANNOTATION_KEYS = ("title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")


class SchemaUnavailable(LookupError):
    """The OpenAPI document holds no operation for the endpoint."""


@dataclass(frozen=True)
class ToolDefinition:
    """What an MCP client learns about a tool from ``tools/list``."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# The OpenAPI document, once per process
# ---------------------------------------------------------------------------

_lock = threading.Lock()
_document: dict[str, Any] | None = None


def openapi_document() -> dict[str, Any]:
    """Return the platform's OpenAPI document (generated on first use, then cached).

    The returned dictionary is shared: callers copy what they change.
    """
    global _document
    document = _document
    if document is None:
        with _lock:
            if _document is None:
                _document = _generate()
            document = _document
    return document


def clear_cache() -> None:
    """Forget the cached document; the next use generates it again."""
    global _document
    with _lock:
        _document = None


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs) -> None:
    if setting in ("ROOT_URLCONF", "SPECTACULAR_SETTINGS", "LANGUAGE_CODE"):
        clear_cache()


def _generate() -> dict[str, Any]:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    # The platform's language, not the request's that happens to come first: the cached
    # texts are shown to every tenant. The JSON round trip renders lazy translations now,
    # inside the override, and leaves plain data that nobody can mutate by accident.
    with translation.override(settings.LANGUAGE_CODE), GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
        return json.loads(json.dumps(schema, default=str))


# ---------------------------------------------------------------------------
# Finding the operation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation of the document, with the parameters its path item declares."""

    path: str
    method: str
    spec: dict[str, Any]
    parameters: list[dict[str, Any]]


def find_operation(endpoint, document: dict[str, Any] | None = None) -> Operation:
    """Return the operation of ``endpoint`` (an ``ApiEndpoint``): by path and method, else by
    operation id. Raise ``SchemaUnavailable`` when the document has neither."""
    document = openapi_document() if document is None else document
    paths = document.get("paths", {})
    method = endpoint.method.lower()
    item = paths.get(endpoint.path) or {}
    if isinstance(item.get(method), dict):
        return _operation(document, endpoint.path, method, item)
    if endpoint.operation_id:
        for path, candidate in paths.items():
            for verb in HTTP_METHODS:
                spec = candidate.get(verb)
                if isinstance(spec, dict) and spec.get("operationId") == endpoint.operation_id:
                    return _operation(document, path, verb, candidate)
    raise SchemaUnavailable(
        f"The OpenAPI document has no operation {endpoint.method} {endpoint.path}"
        + (f" ({endpoint.operation_id})" if endpoint.operation_id else "")
        + "."
    )


def _operation(document: dict, path: str, method: str, item: dict) -> Operation:
    # Operation parameters override path-item ones of the same name and location.
    merged: dict[tuple[str, str], dict] = {}
    for raw in [*item.get("parameters", []), *item[method].get("parameters", [])]:
        parameter = _deref(document, raw)
        if isinstance(parameter, dict) and "name" in parameter:
            merged[parameter["name"], parameter.get("in", "")] = parameter
    return Operation(path=path, method=method.upper(), spec=item[method],
                     parameters=list(merged.values()))


def _deref(document: dict, value: Any, depth: int = 0) -> Any:
    """Return the object a (chain of) ``$ref`` of a parameter, body or response points at."""
    while isinstance(value, dict) and "$ref" in value and depth < MAX_REF_DEPTH:
        value = _pointer(document, value["$ref"])
        depth += 1
    return value


def _pointer(document: dict, ref: str) -> Any:
    """Return what the local JSON pointer ``ref`` names, ``None`` when nothing does."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


# ---------------------------------------------------------------------------
# OpenAPI schema -> JSON Schema 2020-12
# ---------------------------------------------------------------------------


class _Converter:
    """Resolve ``$ref``s inline and translate OpenAPI 3.0 schema keywords to JSON Schema.

    ``hidden`` names the flag of properties left out: ``readOnly`` for what the client
    sends, ``writeOnly`` for what the server answers.
    """

    def __init__(self, document: dict, hidden: str) -> None:
        self.document = document
        self.hidden = hidden

    def convert(self, schema: Any, stack: tuple[str, ...] = ()) -> Any:
        """Return ``schema`` resolved and translated (a new object; the input is untouched)."""
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            return {}
        if "$ref" in schema:
            return self._reference(schema, stack)
        result: dict[str, Any] = {}
        for key, value in schema.items():
            if key in DROPPED_KEYWORDS:
                continue
            if key == "properties" and isinstance(value, dict):
                result[key] = {name: self.convert(sub, stack) for name, sub in value.items()}
            elif key in ("items", "not", "additionalProperties", "contains",
                         "propertyNames", "if", "then", "else") and isinstance(value, dict):
                result[key] = self.convert(value, stack)
            elif key == "oneOf" and isinstance(value, list):
                result["anyOf"] = [self.convert(sub, stack) for sub in value]
            elif key in ("allOf", "anyOf", "prefixItems") and isinstance(value, list):
                result[key] = [self.convert(sub, stack) for sub in value]
            elif key in ("patternProperties", "$defs", "dependentSchemas") and isinstance(
                value, dict
            ):
                result[key] = {name: self.convert(sub, stack) for name, sub in value.items()}
            else:
                result[key] = copy.deepcopy(value)
        if "example" in schema and "examples" not in schema:
            result["examples"] = [copy.deepcopy(schema["example"])]
        self._exclusive_bounds(result)
        self._drop_hidden(result)
        if schema.get("nullable") is True:
            result = self._nullable(result)
        return result

    def _reference(self, schema: dict, stack: tuple[str, ...]) -> Any:
        ref = schema["$ref"]
        target = _pointer(self.document, ref)
        if ref in stack or len(stack) >= MAX_REF_DEPTH or target is None:
            # Recursion (a tree of departments) or a reference that leads nowhere: any value.
            resolved: Any = {}
        else:
            resolved = self.convert(target, (*stack, ref))
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        if not siblings:
            return resolved
        if resolved is True or resolved == {}:
            resolved = {}
        elif not isinstance(resolved, dict):
            return resolved
        # 3.0 ignores a $ref's siblings but generators put description/readOnly there.
        return {**resolved, **self.convert(siblings, stack)}

    @staticmethod
    def _exclusive_bounds(result: dict) -> None:
        for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            value = result.get(exclusive)
            if isinstance(value, bool):
                del result[exclusive]
                if value and bound in result:
                    result[exclusive] = result.pop(bound)

    def _drop_hidden(self, result: dict) -> None:
        properties = result.get("properties")
        if not isinstance(properties, dict):
            return
        hidden = {name for name, sub in properties.items()
                  if isinstance(sub, dict) and sub.get(self.hidden) is True}
        if not hidden:
            return
        result["properties"] = {n: s for n, s in properties.items() if n not in hidden}
        if isinstance(result.get("required"), list):
            required = [name for name in result["required"] if name not in hidden]
            if required:
                result["required"] = required
            else:
                del result["required"]

    @staticmethod
    def _nullable(result: dict) -> dict:
        kind = result.get("type")
        if kind == "null" or (isinstance(kind, list) and "null" in kind):
            return result
        if result == {}:
            return result  # any value, null included
        # The annotations stay on the outside, where a reader of the schema looks for them.
        outer = {key: result.pop(key) for key in ANNOTATION_KEYWORDS if key in result}
        return {"anyOf": [result, {"type": "null"}], **outer}


def _media_schema(content: Any) -> Any:
    """Return the schema of the JSON media type of ``content`` (else of the first one)."""
    if not isinstance(content, dict) or not content:
        return None
    for media_type, media in content.items():
        if JSON_MEDIA_TYPE.match(media_type) and isinstance(media, dict):
            return media.get("schema", {})
    first = next(iter(content.values()))
    return first.get("schema", {}) if isinstance(first, dict) else None


def _is_object(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "object"


# ---------------------------------------------------------------------------
# The definition
# ---------------------------------------------------------------------------


def input_schema(operation: Operation, document: dict) -> dict[str, Any]:
    """Return the arguments of ``operation`` as one JSON Schema object (module docstring)."""
    converter = _Converter(document, hidden="readOnly")
    body = _deref(document, operation.spec.get("requestBody"))
    body_schema = _media_schema(body.get("content")) if isinstance(body, dict) else None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in operation.parameters:
        location, name = parameter.get("in"), parameter["name"]
        if location not in ("path", "query") or (name == BODY and body_schema is not None):
            continue
        raw = parameter.get("schema")
        if raw is None:
            raw = _media_schema(parameter.get("content")) or {}
        schema = converter.convert(raw)
        if not isinstance(schema, dict):
            schema = {}
        if parameter.get("description") and "description" not in schema:
            schema["description"] = parameter["description"]
        if parameter.get("deprecated"):
            schema["deprecated"] = True
        properties[name] = schema
        if location == "path" or parameter.get("required"):
            required.append(name)
    if body_schema is not None:
        schema = converter.convert(body_schema)
        if isinstance(schema, dict):
            if body.get("description") and "description" not in schema:
                schema["description"] = body["description"]
        properties[BODY] = schema
        if body.get("required"):
            required.append(BODY)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    result["additionalProperties"] = False
    return result


def output_schema(operation: Operation, document: dict) -> dict[str, Any] | None:
    """Return the schema of the first 2xx JSON answer when it is an object, else ``None``."""
    responses = operation.spec.get("responses") or {}
    # The document went through JSON: status codes are strings ("200", "2XX").
    for status, response in sorted(responses.items()):
        if not (status.startswith("2") and len(status) == 3):
            continue
        response = _deref(document, response)
        if not isinstance(response, dict):
            continue
        raw = _media_schema(response.get("content"))
        if raw is None:
            return None  # 204 and friends: nothing structured to describe
        schema = _Converter(document, hidden="writeOnly").convert(raw)
        return schema if _is_object(schema) else None
    return None


def tool_name(operation: Operation) -> str:
    """Return an MCP tool name from the operation id (else from the method and path)."""
    raw = operation.spec.get("operationId") or f"{operation.method}_{operation.path}"
    name = INVALID_NAME_CHARACTERS.sub("_", raw).strip("_") or "tool"
    return name[:NAME_MAX_LENGTH]


# The verb of a title by the HTTP method, for a collection and for one item of it.
COLLECTION_VERBS = {"GET": "List", "POST": "Create"}
ITEM_VERBS = {"GET": "Get", "PUT": "Replace", "PATCH": "Update", "DELETE": "Delete"}
# Words written in capitals in a title.
ACRONYMS = {"api": "API", "mcp": "MCP", "csv": "CSV", "id": "ID", "url": "URL", "json": "JSON"}


def _words(text: str) -> str:
    """Return ``text`` (``api-keys``, ``DictionaryItem``) as lower-case words, acronyms kept."""
    parts = re.split(r"[_.\s-]+|(?<=[a-z0-9])(?=[A-Z])", text)
    return " ".join(ACRONYMS.get(part.lower(), part.lower()) for part in parts if part)


def _component_name(document: dict, spec: Any) -> str:
    """Return the name of the component the first 2xx JSON answer (or the body) of an
    operation refers to, ``""`` when none."""
    if not isinstance(spec, dict):
        return ""
    candidates = [response for status, response in sorted((spec.get("responses") or {}).items())
                  if status.startswith("2")]
    candidates.append(spec.get("requestBody"))
    for candidate in candidates:
        candidate = _deref(document, candidate)
        schema = _media_schema(candidate.get("content")) if isinstance(candidate, dict) else None
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        if ref.startswith("#/components/schemas/"):
            return ref.rsplit("/", 1)[1].removeprefix("Patched")
    return ""


def _action(name: str, thing: str) -> str:
    """Return the title of a custom action ``name`` on ``thing``: ``Revoke API key``, ``Test
    connection of database config``."""
    words = _words(name)
    return f"{words} {thing}" if " " not in words else f"{words} of {thing}"


def operation_title(operation: Operation, document: dict) -> str:
    """Return a title that reads as what the operation does: its summary when it has one,
    else a verb and what it acts on, from the method and the path: ``List users``, ``Get
    user``, ``Update role`` (one item: named by the component its ``GET`` answers),
    ``Revoke API key`` (an action on one item), ``Export operation logs`` (an action on a
    collection)."""
    summary = (operation.spec.get("summary") or "").strip()
    if summary:
        return summary[:TITLE_MAX_LENGTH]
    paths = document.get("paths") or {}
    parts = operation.path.strip("/").split("/")
    last = parts[-1]
    placeholders = [index for index, part in enumerate(parts) if part.startswith("{")]
    if placeholders:
        at = placeholders[-1]
        item_path = "/" + "/".join(parts[:at + 1]) + "/"
        item = _component_name(document, (paths.get(item_path) or {}).get("get")) \
            or _component_name(document, operation.spec)
        thing = _words(item) if item else _words(parts[at - 1])
        if at == len(parts) - 1:
            title = f"{ITEM_VERBS.get(operation.method, operation.method.title())} {thing}"
        else:
            title = _action(last, thing)
    elif "/" + "/".join(parts[:-1]) + "/" in paths:
        title = _action(last, _words(parts[-2]))   # an action on a collection
    elif operation.method == "POST":
        item = _component_name(document, operation.spec)
        title = f"Create {_words(item) if item else _words(last)}"
    else:
        title = f"{COLLECTION_VERBS.get(operation.method, operation.method.title())} " \
                f"{_words(last)}"
    return (title[:1].upper() + title[1:])[:TITLE_MAX_LENGTH]


def tool_annotations(method: str, title: str) -> dict[str, Any]:
    """Return the MCP ``ToolAnnotations`` of an endpoint answering ``method``."""
    method = method.upper()
    annotations: dict[str, Any] = {"title": title}
    if method in ("GET", "HEAD", "OPTIONS"):
        annotations["readOnlyHint"] = True
    else:
        annotations["readOnlyHint"] = False
        if method == "DELETE":
            annotations["destructiveHint"] = True
        elif method == "PUT":
            annotations["idempotentHint"] = True
    # The platform's own API: a closed world, unlike a web search.
    annotations["openWorldHint"] = False
    return annotations


def tool_definition(endpoint) -> ToolDefinition:
    """Return the MCP tool definition of a registered endpoint (see the module docstring).

    Raise ``SchemaUnavailable`` when the OpenAPI document does not describe it.
    """
    document = openapi_document()
    operation = find_operation(endpoint, document)
    name = tool_name(operation)
    summary = (operation.spec.get("summary") or "").strip()
    description = (operation.spec.get("description") or "").strip()
    title = operation_title(operation, document)
    text = "\n\n".join(part for part in dict.fromkeys([summary, description]) if part)
    return ToolDefinition(
        name=name,
        title=title,
        description=text or f"{operation.method} {operation.path}",
        input_schema=input_schema(operation, document),
        output_schema=output_schema(operation, document),
        annotations=tool_annotations(operation.method, title),
    )
