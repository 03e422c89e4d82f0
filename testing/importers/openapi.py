"""OpenAPI 3.0/3.1 and Swagger 2.0 documents as an ``ImportPlan`` (issue 15, item 1).

Each operation (path x method) becomes one request keyed ``"GET /pets/{petId}"``, the
document's own path, so that importing a new version of the document updates the same
interfaces. The choices where the document leaves room:

* Base URL: the document's servers (3.x, server variables replaced by their defaults) or
  ``scheme://host`` + ``basePath`` (2.0) go *whole*, path included, to ``base_urls``, in the
  document's order, the first being the one the document prefers; a relative server ("/api/v3")
  stays as it is. Request URLs are the document's paths ("/pet/{{petId}}"), so the same
  interfaces run against any server by switching the environment's base URL. An operation or
  path item with servers of its own (3.x) differing from the document's first gets an
  absolute URL on its first server.
* Path parameters become variable references (``{petId}`` -> ``{{petId}}``); query, header
  and cookie parameters and form fields become pairs: required ones enabled, optional ones
  present but disabled, valued with their example or default, else a reference to a variable
  of their name. A parameter or scheme name that is not an identifier ("pet-id") is referred
  to by one ("pet_id"), as variables are identifiers.
* A JSON body gets the document's example, else one generated from the schema, small and
  deterministic (``_Examples``). Multipart bodies leave ``content_type`` empty: the HTTP
  client writes the header itself, with the boundary the parts need.
* Security: the first alternative of ``security`` whose schemes all map (else the first):
  an API key or a bearer token becomes a header (or query pair) referring to a secret variable
  named after the scheme, which the tester fills in. OAuth 2 and OpenID Connect are not run
  by the platform: a warning, and a bearer header on a variable of the scheme's name.
* ``$ref``: only references inside the document are followed (``referencing``); one to a URL
  or a file refuses the whole file before anything is fetched or opened. A reference that
  points to nothing skips the operation it is in.
* Not imported, each with a problem: webhooks and callbacks (requests the API sends rather
  than answers), TRACE operations (the platform does not send TRACE), binary bodies.
* ``plan.format`` is "openapi" for Swagger 2.0 too: an interface keeps its identity when
  its document is converted from 2.0 to 3.x.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from django.utils.translation import gettext_noop
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from testing.importers.base import (
    SKIPPED,
    ImportedRequest,
    ImportedVariable,
    ImportFailed,
    ImportPlan,
    Problem,
)
from testing.engine.messages import message
from testing.importers.loading import load_any

FORMAT = "openapi"

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SENT_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"}  # request.json
PATH_ITEM_FIELDS = {"$ref", "summary", "description", "servers", "parameters"}
# OpenAPI: a header parameter of these names "SHALL be ignored" (the body and the security
# schemes say them).
IGNORED_HEADERS = {"accept", "content-type", "authorization"}
EXAMPLE_DEPTH = 6        # objects and arrays nested in a generated example; cycles stop here
EXAMPLE_VALUES = 500     # values in one generated example
MAX_PARTS = 100          # schemas an allOf combines
MAX_HOPS = 32            # a $ref to a $ref to ...: more is a loop
MAX_VALUE = 65536        # characters of a pair's value (testing/schemas/pairs.json)
ROOT = "urn:atrium:openapi-import"   # the document's URI for the resolver: never fetched

# Where an API key goes (the security scheme's "in"), named in the variable it becomes.
API_KEY_PLACES = {"header": message(gettext_noop("header")),
                  "query": message(gettext_noop("query parameter")),
                  "cookie": message(gettext_noop("cookie"))}
_SNIFF_BYTES = 16 * 1024
_YAML_KEY = re.compile(r"""^["']?(?:openapi|swagger)["']?[ \t]*:""", re.MULTILINE)
_JSON_KEY = re.compile(r'"(?:openapi|swagger)"\s*:')
_VERSION_3 = re.compile(r"3\.[01](?:\.\d+)?(?:-[\w.]+)?")
_VERSION_2 = re.compile(r"2(?:\.0(?:\.\d+)?)?")
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_NOT_WORD = re.compile(r"\W", re.ASCII)

_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "byte": "c3RyaW5n",
    "binary": "",
    "password": "password",
}


def looks_like(data: bytes, filename: str) -> bool:
    """Return whether ``data`` reads as an OpenAPI or Swagger document, from its first
    bytes only: a top-level ``openapi`` or ``swagger`` key."""
    head = data[:_SNIFF_BYTES].decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return bool(_JSON_KEY.search(head))
    return bool(_YAML_KEY.search(head))


def parse(data: bytes, filename: str) -> ImportPlan:
    """Return what the OpenAPI or Swagger document ``data`` holds; ``ImportFailed`` naming
    the file and the place when it cannot be read at all."""
    document = load_any(data, filename)
    if not isinstance(document, dict):
        raise ImportFailed(filename, "/", message(gettext_noop(
            "the document is not an object of OpenAPI fields")))
    return _Reader(document, filename).plan()


class _Skip(Exception):
    """One operation (or path item) cannot be imported: where, and why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def _not_imported(reason: str) -> str:
    return message(gettext_noop("Not imported: %(reason)s."), reason=reason)


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _identifier(name: str) -> str:
    """Return ``name`` as a variable name (letters, digits and "_", not starting with a digit)."""
    name = _NOT_WORD.sub("_", name.strip()) or "_"
    return (name if not name[0].isdigit() else f"_{name}")[:100]


def _text(value: Any) -> str:
    """Return how ``value`` reads in a query string, a header or a form field."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = ""
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        text = ",".join(_text(v) for v in value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    return text[:MAX_VALUE]


def _string(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _given(schema: dict) -> tuple[bool, Any]:
    """Return whether ``schema`` gives a value itself (example, examples, const, default,
    enum), and that value."""
    if "example" in schema:
        return True, schema["example"]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:    # 3.1: a JSON Schema array
        return True, examples[0]
    for key in ("const", "default", "x-example"):
        if key in schema:
            return True, schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return True, enum[0]
    return False, None


def _kind(schema: dict) -> str | None:
    """Return the JSON type a schema describes; the first but "null" of a 3.1 list."""
    kind = schema.get("type")
    if isinstance(kind, list):
        named = [k for k in kind if isinstance(k, str)]
        kind = next((k for k in named if k != "null"), "null" if named else None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if schema.get("format") in ("int32", "int64"):
        return "integer"
    if schema.get("format") in ("float", "double"):
        return "number"
    if "format" in schema or "pattern" in schema or "minLength" in schema:
        return "string"
    return None


def _number(schema: dict, kind: str) -> int | float:
    """Return the minimum (past an exclusive one), a negative maximum, or 0."""
    minimum, exclusive = schema.get("minimum"), schema.get("exclusiveMinimum")
    maximum = schema.get("maximum")
    if isinstance(exclusive, (int, float)) and not isinstance(exclusive, bool):   # 3.1
        value = exclusive + 1
    elif isinstance(minimum, (int, float)) and not isinstance(minimum, bool):
        value = minimum + 1 if exclusive is True else minimum                     # 3.0
    elif isinstance(maximum, (int, float)) and not isinstance(maximum, bool) and maximum < 0:
        value = maximum
    else:
        value = 0
    return int(value) if kind == "integer" else value


def _scalar(schema: dict, kind: str | None) -> Any:
    if kind == "string":
        text = _STRING_FORMATS.get(str(schema.get("format", "")), "string")
        minimum, maximum = schema.get("minLength"), schema.get("maxLength")
        if isinstance(minimum, int) and len(text) < minimum:
            text += "x" * min(minimum - len(text), 1000)
        if isinstance(maximum, int) and maximum >= 0:
            text = text[:maximum]
        return text
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return False
    if kind == "file":           # Swagger 2.0 form field
        return ""
    return None


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base in ("application/json", "text/json") or base.endswith("+json")


def _is_text(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return (base.startswith("text/") or base.endswith(("+xml", "/xml")) or base in (
        "application/javascript", "application/graphql", "application/yaml",
        "application/x-yaml", "application/x-ndjson"))


def _body_kind(media: str) -> str | None:
    """Return the platform's body type for a media type; ``None`` for a binary one."""
    base = media.split(";")[0].strip().lower()
    if _is_json(base):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    if _is_text(base):
        return "raw"
    return None


_BODY_PREFERENCE = {"json": 0, "form": 1, "multipart": 2, "raw": 3, None: 4}


class _Reader:
    """One document being read: its references, its security schemes, the plan so far."""

    def __init__(self, document: dict, filename: str) -> None:
        self.document = document
        self.filename = filename
        self.swagger = self.version() == 2
        resource = Resource.opaque(document)
        self.resolver = Registry().with_resource(ROOT, resource).resolver(base_uri=ROOT)
        self.targets: dict[str, Any] = {}
        self.problems: list[Problem] = []
        self.variables: dict[str, ImportedVariable] = {}
        self.reported_schemes: set[str] = set()
        self.base_urls: list[str] = []
        if self.swagger:
            self.schemes_where = "/securityDefinitions"
            schemes = document.get("securityDefinitions")
        else:
            self.schemes_where = "/components/securitySchemes"
            components = document.get("components")
            schemes = components.get("securitySchemes") if isinstance(components, dict) else None
        self.schemes = schemes if isinstance(schemes, dict) else {}

    def fail(self, where: str, reason: str) -> ImportFailed:
        return ImportFailed(self.filename, where, reason)

    def version(self) -> int:
        """Return 2 or 3; refuse a document of another version or of none."""
        for key, pattern, major in (("openapi", _VERSION_3, 3), ("swagger", _VERSION_2, 2)):
            if key in self.document:
                # An unquoted YAML version (swagger: 2.0) reads as a number.
                version = str(self.document[key]).strip()
                if not pattern.fullmatch(version):
                    raise self.fail(f"/{key}", message(gettext_noop(
                        "%(field)s %(version)s is not a version this importer reads (OpenAPI "
                        "3.0 and 3.1, Swagger 2.0)"), field=key, version=version))
                return major
        raise self.fail("/", message(gettext_noop(
            "neither an openapi nor a swagger field: not an OpenAPI document")))

    # References

    def deref(self, node: Any, where: str) -> tuple[Any, str]:
        """Return what ``node`` is once its ``$ref`` (and theirs) are followed, and where that
        is. A reference out of the document refuses the file; its keys beside ``$ref`` are
        kept over the target's (3.1; widespread in 3.0 documents too)."""
        for _ in range(MAX_HOPS):
            if not isinstance(node, dict) or "$ref" not in node:
                return node, where
            ref, at = node["$ref"], f"{where}/$ref"
            if not isinstance(ref, str):
                raise _Skip(at, message(gettext_noop("a $ref is not a string")))
            if not ref.startswith("#"):
                raise self.fail(at, message(gettext_noop(
                    "only references inside the document are followed; %(ref)s points "
                    "outside it"), ref=ref))
            target = self.target(ref, at)
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node = {**target, **siblings} if siblings and isinstance(target, dict) else target
            where = unquote(ref[1:])
        raise _Skip(where, message(gettext_noop("references refer to each other in a loop")))

    def target(self, ref: str, at: str) -> Any:
        if ref not in self.targets:
            try:
                self.targets[ref] = self.resolver.lookup(ref).contents
            except (Unresolvable, ValueError, TypeError):   # ValueError: "/x" in an array
                raise _Skip(at, message(gettext_noop("%(ref)s points to nothing in the "
                                                     "document"), ref=ref)) from None
        return self.targets[ref]

    # The document

    def plan(self) -> ImportPlan:
        info = self.document.get("info")
        title = _string(info.get("title")) if isinstance(info, dict) else ""
        plan = ImportPlan(format=FORMAT, title=title or self.filename)
        self.base_urls = self.swagger_base_urls() if self.swagger else self.server_urls(
            self.document.get("servers"))
        paths = self.document.get("paths")
        if paths is None:
            raise self.fail("/paths", message(gettext_noop(
                "the document has no paths: no request to import")))
        if not isinstance(paths, dict):
            raise self.fail("/paths", message(gettext_noop(
                "paths is not an object of path items")))
        for path, item in paths.items():
            plan.requests.extend(self.path_item(str(path), item))
        webhooks = self.document.get("webhooks")
        if isinstance(webhooks, dict):
            for name in webhooks:
                self.problems.append(Problem(
                    f"/webhooks/{_escape(name)}", message(gettext_noop(
                        "Not imported: a webhook is a request the API sends to its "
                        "subscribers, not one it answers.")), SKIPPED))
        plan.base_urls = self.base_urls
        plan.variables = list(self.variables.values())
        plan.problems = self.problems
        return plan

    def swagger_base_urls(self) -> list[str]:
        host, base_path = _string(self.document.get("host")), _string(
            self.document.get("basePath"))
        base_path = base_path.rstrip("/")
        if not host:    # served from the host that serves the document
            return [base_path] if base_path else []
        schemes = self.document.get("schemes")
        schemes = [s for s in schemes if isinstance(s, str)] if isinstance(schemes, list) else []
        return list(dict.fromkeys(f"{s.lower()}://{host.rstrip('/')}{base_path}"
                                  for s in schemes or ["https"]))

    def server_urls(self, servers: Any) -> list[str]:
        urls = []
        for server in servers if isinstance(servers, list) else []:
            if not isinstance(server, dict) or not isinstance(server.get("url"), str):
                continue
            variables = server.get("variables")
            variables = variables if isinstance(variables, dict) else {}

            def value(match: re.Match, variables=variables) -> str:
                name = match.group(1)
                variable = variables.get(name)
                if isinstance(variable, dict):
                    found, given = _given(variable)
                    if found:
                        return _text(given)
                return f"{{{{{_identifier(name)}}}}}"

            url = _TEMPLATE.sub(value, server["url"].strip()).rstrip("/")
            if url and url not in urls:
                urls.append(url)
        return urls

    def path_item(self, path: str, item: Any) -> list[ImportedRequest]:
        where = f"/paths/{_escape(path)}"
        if not isinstance(item, dict):
            raise self.fail(where, message(gettext_noop(
                "a path item is not an object of operations")))
        try:
            item, item_where = self.deref(item, where)
        except _Skip as skip:
            self.problems.append(Problem(skip.where, _not_imported(skip.reason), SKIPPED))
            return []
        if not isinstance(item, dict):
            raise self.fail(item_where, message(gettext_noop(
                "a path item is not an object of operations")))
        requests = []
        for method, operation in item.items():
            if not isinstance(method, str) or method.lower() not in METHODS:
                if method not in PATH_ITEM_FIELDS and not str(method).startswith("x-"):
                    self.problems.append(Problem(
                        f"{item_where}/{_escape(method)}", message(gettext_noop(
                            "Not imported: %(method)s is not an HTTP method of OpenAPI."),
                            method=method), SKIPPED))
                continue
            request = self.operation(path, method, operation, item, item_where)
            if request is not None:
                requests.append(request)
        return requests

    # One operation

    def operation(self, path: str, method: str, operation: Any, item: dict,
                  item_where: str) -> ImportedRequest | None:
        key = f"{method.upper()} {path}"
        where = f"{item_where}/{_escape(method)}"
        notes: list[Problem] = []
        try:
            if not isinstance(operation, dict):
                raise _Skip(where, message(gettext_noop("the operation is not an object")))
            if method.upper() not in SENT_METHODS:
                raise _Skip(where, message(gettext_noop("the platform does not send %(method)s "
                                                        "requests"), method=method.upper()))
            request = self.request(key, path, method, operation, where, item, item_where,
                                   notes)
        except ImportFailed:
            raise
        except _Skip as skip:
            self.problems.append(Problem(skip.where, _not_imported(skip.reason), SKIPPED, key))
            return None
        except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
            # A field of an unexpected shape deep in one operation: that one is skipped, the
            # others imported.
            self.problems.append(Problem(where, message(gettext_noop(
                "Not imported: the operation is malformed (%(error)s)."),
                error=f"{type(exc).__name__}: {exc}"), SKIPPED, key))
            return None
        for note in notes:
            note.item = key
        self.problems.extend(notes)
        return request

    def request(self, key: str, path: str, method: str, operation: dict, where: str,
                item: dict, item_where: str, notes: list[Problem]) -> ImportedRequest:
        tags = operation.get("tags")
        folder = [str(tags[0]).strip()] if isinstance(tags, list) and tags and str(
            tags[0]).strip() else []
        request = ImportedRequest(
            key=key, method=method.upper(), url=self.url(path, operation, item), folder=folder,
            name=_string(operation.get("summary")) or _string(operation.get("operationId"))
            or key, description=_string(operation.get("description")), where=where)
        parameters = self.parameters(item.get("parameters"), f"{item_where}/parameters",
                                     notes)
        parameters.update(self.parameters(operation.get("parameters"), f"{where}/parameters",
                                           notes))
        fields: list[tuple[dict, str]] = []
        body_parameter = None
        for (location, _name), (parameter, at) in parameters.items():
            if location in ("query", "header", "cookie"):
                self.add_parameter(request, parameter, at, location)
            elif location == "formData":
                fields.append((parameter, at))
            elif location == "body":
                body_parameter = (parameter, at)
        if self.swagger:
            self.swagger_body(request, operation, where, body_parameter, fields, notes)
        elif operation.get("requestBody") is not None:
            body, body_where = self.deref(operation["requestBody"], f"{where}/requestBody")
            content = body.get("content") if isinstance(body, dict) else None
            if isinstance(content, dict) and content:
                self.body(request, content, f"{body_where}/content", notes)
        self.security(request, operation, where, notes)
        request.assertions = self.assertions(operation.get("responses"))
        callbacks = operation.get("callbacks")
        if isinstance(callbacks, dict) and callbacks:
            notes.append(Problem(f"{where}/callbacks", message(gettext_noop(
                "Callbacks not imported (%(names)s): they are requests the API sends, not ones "
                "it answers."), names=", ".join(map(str, callbacks)))))
        return request

    def url(self, path: str, operation: dict, item: dict) -> str:
        url = _TEMPLATE.sub(lambda m: f"{{{{{_identifier(m.group(1))}}}}}", path)
        if self.swagger:
            return url
        own = self.server_urls(operation.get("servers")) or self.server_urls(
            item.get("servers"))
        if own and own[0] not in self.base_urls[:1]:
            if own[0] not in self.base_urls:
                self.base_urls.append(own[0])
            return own[0] + url
        return url

    def parameters(self, parameters: Any, where: str, notes: list[Problem]
                   ) -> dict[tuple[str, str], tuple[dict, str]]:
        """Return the parameters by (in, name), each with where it is."""
        found: dict[tuple[str, str], tuple[dict, str]] = {}
        if parameters is None:
            return found
        if not isinstance(parameters, list):
            notes.append(Problem(where, message(gettext_noop(
                "Parameters not imported: not a list."))))
            return found
        for index, parameter in enumerate(parameters):
            parameter, at = self.deref(parameter, f"{where}/{index}")
            if (not isinstance(parameter, dict) or not _string(parameter.get("name"))
                    or not isinstance(parameter.get("in"), str)):
                notes.append(Problem(at, message(gettext_noop(
                    "A parameter without a name or an \"in\" is not imported."))))
                continue
            found[(parameter["in"], parameter["name"].strip())] = (parameter, at)
        return found

    def value(self, parameter: dict, at: str, schema: Any) -> tuple[bool, Any]:
        """Return whether a parameter (or form field) has an example or a default, and it;
        ``schema`` is its schema (2.0: the parameter itself)."""
        if "example" in parameter:
            return True, parameter["example"]
        examples = parameter.get("examples")
        if isinstance(examples, dict):             # 3.x: Example Objects by name
            for name, example in examples.items():
                example, _at = self.deref(example, f"{at}/examples/{_escape(name)}")
                if isinstance(example, dict) and "value" in example:
                    return True, example["value"]
        if "x-example" in parameter:
            return True, parameter["x-example"]
        schema, _at = self.deref(schema, f"{at}/schema")
        if isinstance(schema, dict):
            if "example" in schema:
                return True, schema["example"]
            if isinstance(schema.get("examples"), list) and schema["examples"]:   # 3.1
                return True, schema["examples"][0]
            if "default" in schema:
                return True, schema["default"]
        return False, None

    def pair(self, name: str, parameter: dict, at: str, schema: Any = None) -> dict:
        """Return a name/value pair, enabled when required."""
        if schema is None:
            schema = parameter if self.swagger else parameter.get("schema")
        found, value = self.value(parameter, at, schema)
        pair = {"name": name[:200],
                "value": _text(value) if found else f"{{{{{_identifier(name)}}}}}",
                "enabled": parameter.get("required") is True}
        description = _string(parameter.get("description"))
        if description:
            pair["description"] = description[:500]
        return pair

    def add_parameter(self, request: ImportedRequest, parameter: dict, at: str,
                      location: str) -> None:
        name = parameter["name"].strip()
        if location == "query":
            request.query.append(self.pair(name, parameter, at))
        elif location == "header" and name.lower() not in IGNORED_HEADERS:
            request.headers.append(self.pair(name, parameter, at))
        elif location == "cookie":
            pair = self.pair(name, parameter, at)
            pair.update(name="Cookie", value=f"{name}={pair['value']}"[:MAX_VALUE])
            request.headers.append(pair)

    # The body

    def swagger_body(self, request: ImportedRequest, operation: dict, where: str,
                     body_parameter: tuple[dict, str] | None,
                     fields: list[tuple[dict, str]], notes: list[Problem]) -> None:
        consumes = operation.get("consumes", self.document.get("consumes"))
        consumes = [c for c in consumes if isinstance(c, str)] if isinstance(
            consumes, list) else []
        if fields:
            files = any(parameter.get("type") == "file" for parameter, _at in fields)
            multipart = files or any(c.lower().startswith("multipart/") for c in consumes)
            request.body_type = "multipart" if multipart else "form"
            request.content_type = "" if multipart else "application/x-www-form-urlencoded"
            request.body = [self.pair(parameter["name"].strip(), parameter, at)
                            for parameter, at in fields][:200]
            self.note_files([parameter["name"].strip() for parameter, _at in fields
                             if parameter.get("type") == "file"], where, notes)
        elif body_parameter is not None:
            parameter, at = body_parameter
            media_types = consumes or ["application/json"]
            content = {media: {"schema": parameter.get("schema", {})} for media in media_types}
            for media in content:
                content[media]["x-example"] = parameter.get("x-example")
            self.body(request, content, at, notes, swagger_where=at)

    def body(self, request: ImportedRequest, content: dict, where: str,
             notes: list[Problem], swagger_where: str = "") -> None:
        media = min(content, key=lambda m: _BODY_PREFERENCE[_body_kind(str(m))])
        kind = _body_kind(str(media))
        media_where = swagger_where or f"{where}/{_escape(media)}"
        media_type, media_where = self.deref(content[media], media_where)
        media_type = media_type if isinstance(media_type, dict) else {}
        schema_where = f"{swagger_where}/schema" if swagger_where else f"{media_where}/schema"
        if kind is None:
            notes.append(Problem(media_where, message(gettext_noop(
                "The body (%(media)s) is binary: the request is imported without it; add it "
                "by hand."), media=media)))
            return
        request.content_type = str(media)[:200]
        if kind in ("form", "multipart"):
            request.body_type = kind
            if kind == "multipart":
                request.content_type = ""    # the client sets it, with the parts' boundary
            request.body = self.fields(media_type.get("schema"), schema_where, notes)
            return
        found, example = self.media_example(media_type, media_where)
        if not found and media_type.get("schema") is not None:
            example, found = _Examples(self).of(media_type["schema"], schema_where), True
        if kind == "json":
            request.body_type, request.body = "json", example if found else {}
        else:
            request.body_type = "raw"
            request.body = example if isinstance(example, str) else ""

    def media_example(self, media_type: dict, where: str) -> tuple[bool, Any]:
        if media_type.get("example") is not None:
            return True, media_type["example"]
        if media_type.get("x-example") is not None:
            return True, media_type["x-example"]
        examples = media_type.get("examples")
        if isinstance(examples, dict):
            for name, example in examples.items():
                example, _at = self.deref(example, f"{where}/examples/{_escape(name)}")
                # An externalValue is a URL: never fetched.
                if isinstance(example, dict) and "value" in example:
                    return True, example["value"]
        return False, None

    def fields(self, schema: Any, where: str, notes: list[Problem]) -> list[dict]:
        """Return a form's pairs from its object schema, one per property."""
        schema, where = self.deref(schema, where)
        if not isinstance(schema, dict):
            return []
        properties = _Examples(self).properties(schema, where)
        required = set()
        for part, _at in _Examples(self).parts(schema, where):
            if isinstance(part.get("required"), list):
                required.update(r for r in part["required"] if isinstance(r, str))
        pairs, files = [], []
        for name, (prop, at) in list(properties.items())[:200]:
            prop, at = self.deref(prop, at)
            prop = prop if isinstance(prop, dict) else {}
            if prop.get("readOnly") is True:
                continue
            if prop.get("format") in ("binary", "base64") or "contentMediaType" in prop:
                files.append(name)
            pairs.append(self.pair(name, {**prop, "required": name in required}, at, prop))
        self.note_files(files, where, notes)
        return pairs

    def note_files(self, files: list[str], where: str, notes: list[Problem]) -> None:
        if files:
            notes.append(Problem(where, message(gettext_noop(
                "File fields sent as text (%(fields)s): the platform's multipart bodies carry "
                "text only."), fields=", ".join(files))))

    # Security and responses

    def security(self, request: ImportedRequest, operation: dict, where: str,
                 notes: list[Problem]) -> None:
        if "security" in operation:    # an empty list: no security for this operation
            requirements, at = operation["security"], f"{where}/security"
        else:
            requirements, at = self.document.get("security"), "/security"
        if not isinstance(requirements, list):
            return
        requirements = [r for r in requirements if isinstance(r, dict)]
        if not requirements:
            return
        # Alternatives: the first that maps, one with no scheme (anonymous) only when
        # none does.
        chosen = next((r for r in requirements if r and all(map(self.mappable, r))),
                      requirements[0])
        for name in chosen:
            if str(name) not in self.schemes:
                notes.append(Problem(at, message(gettext_noop(
                    "The security scheme %(name)s is not defined in the document; the request "
                    "is imported without it."), name=name)))
                continue
            self.apply_scheme(request, str(name))

    def scheme(self, name: str) -> tuple[dict, str]:
        scheme, at = self.deref(self.schemes[name], f"{self.schemes_where}/{_escape(name)}")
        return (scheme if isinstance(scheme, dict) else {}), at

    def mappable(self, name: str) -> bool:
        if name not in self.schemes:
            return False
        scheme, _at = self.scheme(name)
        kind = str(scheme.get("type", "")).lower()
        return kind in ("apikey", "basic") or (kind == "http" and str(
            scheme.get("scheme", "")).lower() in ("bearer", "basic"))

    def apply_scheme(self, request: ImportedRequest, name: str) -> None:
        scheme, at = self.scheme(name)
        kind = str(scheme.get("type", "")).lower()
        http = str(scheme.get("scheme", "")).lower() if kind == "http" else ""
        variable = _identifier(name)
        reference = f"{{{{{variable}}}}}"
        header = None
        if kind == "apikey":
            location, key = str(scheme.get("in", "")).lower(), _string(scheme.get("name"))
            if not key or location not in ("header", "query", "cookie"):
                self.report_scheme(name, at, message(gettext_noop(
                    "An API key without a name or a place (header, query, cookie) is not "
                    "mapped.")))
                return
            if location == "query":
                request.query = [p for p in request.query if p["name"] != key]
                request.query.append({"name": key, "value": reference, "enabled": True})
            else:
                header = ("Cookie", f"{key}={reference}") if location == "cookie" else (
                    key, reference)
            description = message(gettext_noop("The API key of %(name)s (the %(location)s "
                                               "%(key)s)."), name=name, key=key,
                                  location=API_KEY_PLACES[location])
        elif kind == "basic" or http == "basic":
            header = ("Authorization", f"Basic {reference}")
            description = message(gettext_noop("The credentials of %(name)s: base64 of "
                                               "user:password."), name=name)
        elif http == "bearer" or kind in ("oauth2", "openidconnect"):
            header = ("Authorization", f"Bearer {reference}")
            description = message(gettext_noop("The bearer token of %(name)s."), name=name)
            if kind != "http":
                self.report_scheme(name, at, message(gettext_noop(
                    "%(type)s is not run by the platform: the requests send Authorization: "
                    "Bearer %(reference)s; set the variable %(variable)s to a token."),
                    type=scheme.get("type"), reference=reference, variable=variable))
        else:
            label = " ".join(filter(None, (str(scheme.get("type", "")), http))) or "no type"
            self.report_scheme(name, at, message(gettext_noop(
                "The security scheme %(name)s (%(label)s) is not mapped; the requests are "
                "imported without it."), name=name, label=label))
            return
        if header is not None:
            request.headers = [p for p in request.headers
                               if p["name"].lower() != header[0].lower() or header[0] ==
                               "Cookie"]
            request.headers.append({"name": header[0], "value": header[1], "enabled": True})
        self.variables.setdefault(variable, ImportedVariable(
            name=variable, value="", secret=True, description=description))

    def report_scheme(self, name: str, at: str, message: str) -> None:
        if name not in self.reported_schemes:
            self.reported_schemes.add(name)
            self.problems.append(Problem(at, message))

    def assertions(self, responses: Any) -> list[dict]:
        """Return a status assertion for the first 2xx response the operation documents."""
        if not isinstance(responses, dict):
            return []
        codes = [str(code).strip().upper() for code in responses]
        for code in codes:
            if re.fullmatch(r"2\d\d", code):
                return [{"type": "status_code", "operator": "eq", "expected_value": int(code)}]
        if "2XX" in codes:
            return [{"type": "status_code", "operator": "ge", "expected_value": 200},
                    {"type": "status_code", "operator": "lt", "expected_value": 300}]
        return []


class _Examples:
    """A small deterministic example of a schema: the document's own examples where it has
    them, else every property of an object, one item of an array, the first of an enum or a
    oneOf, a string by its format, a number's minimum or 0, false. Cycles and oversized
    schemas stop at ``EXAMPLE_DEPTH`` levels and ``EXAMPLE_VALUES`` values."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.budget = EXAMPLE_VALUES

    def of(self, schema: Any, where: str, depth: int = 0) -> Any:
        schema, where = self.reader.deref(schema, where)
        if not isinstance(schema, dict):
            return None
        found, value = _given(schema)
        if found:
            return value
        self.budget -= 1
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and "properties" not in schema:
            if depth >= EXAMPLE_DEPTH:
                return None
            return self.of(all_of[0], f"{where}/allOf/0", depth + 1)   # a $ref with extras
        for key in ("oneOf", "anyOf"):
            choices = schema.get(key)
            if isinstance(choices, list) and choices and "properties" not in schema:
                if depth >= EXAMPLE_DEPTH:
                    return None
                return self.of(choices[0], f"{where}/{key}/0", depth + 1)
        parts = self.parts(schema, where)
        kind = next((k for k in (_kind(part) for part, _at in parts) if k), None)
        if kind == "object":
            return self.object(parts, depth)
        if kind == "array":
            items = next(((part["items"], f"{at}/items") for part, at in parts
                          if isinstance(part.get("items"), dict)), None)
            if items is None or depth >= EXAMPLE_DEPTH or self.budget <= 0:
                return []
            return [self.of(items[0], items[1], depth + 1)]
        merged: dict = {}
        for part, _at in reversed(parts):
            merged.update(part)
        return _scalar(merged, kind)

    def parts(self, schema: dict, where: str) -> list[tuple[dict, str]]:
        """Return ``schema`` and the schemas of its ``allOf``, flattened, each with where; at
        most ``MAX_PARTS`` (an allOf of allOfs multiplies)."""
        found, pending, seen = [], [(schema, where, 0)], {where}
        while pending and len(found) < MAX_PARTS:
            schema, where, depth = pending.pop(0)
            found.append((schema, where))
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and depth < EXAMPLE_DEPTH:
                for index, part in enumerate(all_of[:MAX_PARTS]):
                    part, at = self.reader.deref(part, f"{where}/allOf/{index}")
                    if isinstance(part, dict) and at not in seen:   # the same $ref twice
                        seen.add(at)
                        pending.append((part, at, depth + 1))
        return found

    def properties(self, schema: dict, where: str) -> dict[str, tuple[Any, str]]:
        """Return the properties of ``schema`` and its ``allOf``, each with where."""
        return _properties(self.parts(schema, where))

    def object(self, parts: list[tuple[dict, str]], depth: int) -> dict:
        if depth >= EXAMPLE_DEPTH:
            return {}
        result: dict = {}
        properties = _properties(parts)
        for name, (prop, at) in properties.items():
            if self.budget <= 0:
                break
            prop, at = self.reader.deref(prop, at)
            if isinstance(prop, dict) and prop.get("readOnly") is True:
                continue        # set by the server: not in what a client sends
            result[name] = self.of(prop, at, depth + 1)
        if not properties:
            extra = next(((part["additionalProperties"], f"{at}/additionalProperties")
                          for part, at in parts
                          if isinstance(part.get("additionalProperties"), dict)), None)
            if extra is not None and self.budget > 0:
                result["additionalProp1"] = self.of(extra[0], extra[1], depth + 1)
        return result


def _properties(parts: list[tuple[dict, str]]) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for part, at in parts:
        properties = part.get("properties")
        if isinstance(properties, dict):
            for name, prop in properties.items():
                found.setdefault(str(name), (prop, f"{at}/properties/{_escape(name)}"))
    return found
