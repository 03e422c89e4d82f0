"""The OpenAPI 3.0/3.1 and Swagger 2.0 importer's parser (no database)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from testing.importers import openapi
from testing.importers.base import SKIPPED, WARNING, ImportFailed, ImportPlan
from testing.tests.importer_checks import corpus

PETSTORE = ("openapi", "petstore3-openapi.yaml")


def parse_json(document: dict, filename: str = "api.json") -> ImportPlan:
    return openapi.parse(json.dumps(document).encode(), filename)


def parse_yaml(text: str, filename: str = "api.yaml") -> ImportPlan:
    return openapi.parse(text.encode(), filename)


def by_key(plan: ImportPlan) -> dict:
    return {request.key: request for request in plan.requests}


def pairs(items: list[dict]) -> dict[str, tuple[str, bool]]:
    return {item["name"]: (item["value"], item["enabled"]) for item in items}


def refused(data: bytes, filename: str) -> ImportFailed:
    """Return the refusal of ``data``, checking that it names the file and where."""
    with pytest.raises(ImportFailed) as caught:
        openapi.parse(data, filename)
    failure = caught.value
    if failure.where:
        assert str(failure).startswith(f"{filename}, {failure.where}: ")
    else:   # the loader's alias refusal says the line in its reason
        assert str(failure).startswith(f"{filename}: ") and " line " in failure.reason
    return failure


def minimal(**fields) -> dict:
    return {"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": {}, **fields}


# The Swagger Petstore (OpenAPI 3.0), as published


@pytest.fixture(scope="module")
def petstore() -> ImportPlan:
    path = corpus(*PETSTORE)
    return openapi.parse(path.read_bytes(), path.name)


def test_petstore_is_recognised():
    """The sniff recognises the Petstore from its first bytes."""
    path = corpus(*PETSTORE)
    assert openapi.looks_like(path.read_bytes(), path.name)


def test_petstore_operations_keys_and_folders(petstore):
    """Each operation is a request keyed by method and path, in a folder of its first tag."""
    assert petstore.format == "openapi"
    assert petstore.title == "Swagger Petstore - OpenAPI 3.0"
    assert len(petstore.requests) == 19
    assert len(by_key(petstore)) == 19
    folders: dict[str, int] = {}
    for request in petstore.requests:
        folders[request.folder[0]] = folders.get(request.folder[0], 0) + 1
    assert folders == {"pet": 8, "store": 4, "user": 7}
    get_pet = by_key(petstore)["GET /pet/{petId}"]
    assert get_pet.name == "Find pet by ID."
    assert get_pet.method == "GET"
    assert get_pet.url == "/pet/{{petId}}"
    assert get_pet.description == "Returns a single pet."
    assert get_pet.where == "/paths/~1pet~1{petId}/get"


def test_petstore_servers_are_the_base_urls(petstore):
    """The server, path included, is the base URL; requests stay paths on it."""
    assert petstore.base_urls == ["https://petstore3.swagger.io/api/v3"]
    assert all(request.url.startswith("/") for request in petstore.requests)


def test_petstore_status_assertions(petstore):
    """Each operation asserts its first documented 2xx status."""
    for request in petstore.requests:
        assert request.assertions == [
            {"type": "status_code", "operator": "eq", "expected_value": 200}], request.key


def test_petstore_referenced_body_example(petstore):
    """A body whose schema is a $ref gets an example from the referenced schemas."""
    update = by_key(petstore)["PUT /pet"]
    assert update.body_type == "json"
    assert update.content_type == "application/json"   # preferred to XML and form
    assert update.body == {"id": 10, "name": "doggie", "category": {"id": 1, "name": "Dogs"},
                           "photoUrls": ["string"], "tags": [{"id": 0, "name": "string"}],
                           "status": "available"}
    order = by_key(petstore)["POST /store/order"]
    assert order.body["shipDate"] == "2024-01-01T00:00:00Z"
    assert order.body["complete"] is False
    users = by_key(petstore)["POST /user/createWithList"].body
    assert isinstance(users, list) and len(users) == 1 and users[0]["username"] == "theUser"


def test_petstore_api_key_is_a_header_on_a_secret_variable(petstore):
    """The api_key scheme becomes its header, valued by a secret variable to fill in."""
    for key in ("GET /pet/{petId}", "GET /store/inventory"):
        assert pairs(by_key(petstore)[key].headers) == {"api_key": ("{{api_key}}", True)}
    variables = {variable.name: variable for variable in petstore.variables}
    assert variables["api_key"].secret is True
    assert variables["api_key"].value == ""


def test_petstore_oauth2_is_a_warning_and_a_bearer_header(petstore):
    """OAuth 2 is reported once and sent as a bearer token the tester provides."""
    update = by_key(petstore)["PUT /pet"]
    assert pairs(update.headers) == {"Authorization": ("Bearer {{petstore_auth}}", True)}
    assert petstore.problems[0].where == "/components/securitySchemes/petstore_auth"
    assert petstore.problems[0].severity == WARNING
    assert [p.where for p in petstore.problems].count(petstore.problems[0].where) == 1
    variables = {variable.name: variable for variable in petstore.variables}
    assert variables["petstore_auth"].secret is True
    assert by_key(petstore)["POST /store/order"].headers == []   # no security


def test_petstore_parameters(petstore):
    """Optional query parameters are there but disabled, valued by default or a variable."""
    assert by_key(petstore)["GET /pet/findByStatus"].query == [
        {"name": "status", "value": "available", "enabled": False,
         "description": "Status values that need to be considered for filter"}]
    assert pairs(by_key(petstore)["GET /user/login"].query) == {
        "username": ("{{username}}", False), "password": ("{{password}}", False)}
    delete = pairs(by_key(petstore)["DELETE /pet/{petId}"].headers)
    assert delete["api_key"] == ("{{api_key}}", False)


def test_petstore_binary_body_is_reported(petstore):
    """An octet-stream body is not imported, and the preview says so."""
    upload = by_key(petstore)["POST /pet/{petId}/uploadImage"]
    assert upload.body_type == "none" and upload.body is None
    assert any(p.item == upload.key and "binary" in p.message for p in petstore.problems)


# Swagger 2.0


SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Pets 2", "version": "1"},
    "host": "api.example.com",
    "basePath": "/v1/",
    "schemes": ["https", "http"],
    "consumes": ["application/json"],
    "securityDefinitions": {
        "key": {"type": "apiKey", "in": "query", "name": "api_key"},
        "login": {"type": "basic"},
    },
    "security": [{"key": []}],
    "parameters": {"Limit": {"name": "limit", "in": "query", "type": "integer",
                             "required": True, "default": 20}},
    "paths": {
        "/pets": {
            "parameters": [{"name": "X-Trace", "in": "header", "type": "string"},
                           {"name": "X-Request-Id", "in": "header", "type": "string",
                            "required": True}],
            "get": {
                "tags": ["pets"],
                "operationId": "listPets",
                "parameters": [{"$ref": "#/parameters/Limit"},
                               {"name": "tag", "in": "query", "type": "string"},
                               {"name": "X-Trace", "in": "header", "type": "string",
                                "required": True, "x-example": "abc"}],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "parameters": [{"name": "pet", "in": "body", "required": True,
                                "schema": {"$ref": "#/definitions/Pet"}}],
                "responses": {"201": {"description": "created"},
                              "200": {"description": "existed"}},
            },
        },
        "/pets/{pet-id}/photo": {
            "post": {
                "consumes": ["multipart/form-data"],
                "security": [{"login": []}],
                "parameters": [{"name": "pet-id", "in": "path", "type": "integer",
                                "required": True},
                               {"name": "file", "in": "formData", "type": "file",
                                "required": True},
                               {"name": "caption", "in": "formData", "type": "string"}],
                "responses": {"default": {"description": "whatever"}},
            },
        },
        "/login": {
            "post": {
                "consumes": ["application/x-www-form-urlencoded"],
                "security": [],
                "parameters": [{"name": "user", "in": "formData", "type": "string",
                                "required": True},
                               {"name": "remember", "in": "formData", "type": "boolean",
                                "default": False}],
                "responses": {"204": {"description": "in"}},
            },
        },
    },
    "definitions": {
        "Pet": {"type": "object", "required": ["name"],
                "properties": {"id": {"type": "integer", "format": "int64", "readOnly": True},
                               "name": {"type": "string", "example": "Rex"},
                               "born": {"type": "string", "format": "date"},
                               "owner": {"$ref": "#/definitions/Owner"}}},
        "Owner": {"type": "object",
                  "properties": {"email": {"type": "string", "format": "email"},
                                 "id": {"type": "string", "format": "uuid"},
                                 "age": {"type": "integer", "minimum": 18}}},
    },
}


@pytest.fixture(scope="module")
def swagger() -> ImportPlan:
    return parse_json(SWAGGER, "pets2.json")


def test_swagger_base_urls_from_host_base_path_and_schemes(swagger):
    """scheme://host + basePath, one per scheme, in the document's order."""
    assert openapi.looks_like(json.dumps(SWAGGER).encode(), "pets2.json")
    assert swagger.base_urls == ["https://api.example.com/v1", "http://api.example.com/v1"]
    assert swagger.title == "Pets 2"
    assert swagger.format == "openapi"


def test_swagger_parameters_merge_path_and_operation_levels(swagger):
    """Path-level parameters apply to each operation; the operation's win."""
    listing = by_key(swagger)["GET /pets"]
    assert listing.name == "listPets"
    assert listing.folder == ["pets"]
    assert pairs(listing.query) == {"limit": ("20", True), "tag": ("{{tag}}", False),
                                    "api_key": ("{{key}}", True)}
    assert pairs(listing.headers) == {"X-Trace": ("abc", True),
                                      "X-Request-Id": ("{{X_Request_Id}}", True)}


def test_swagger_body_parameter_and_definitions(swagger):
    """A body parameter is a JSON body generated from its definition."""
    create = by_key(swagger)["POST /pets"]
    assert create.body_type == "json"
    assert create.content_type == "application/json"
    assert create.body == {"name": "Rex", "born": "2024-01-01",
                           "owner": {"email": "user@example.com",
                                     "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "age": 18}}
    assert create.assertions == [{"type": "status_code", "operator": "eq",
                                  "expected_value": 201}]


def test_swagger_form_data_multipart_and_basic_auth(swagger):
    """formData with a file is a multipart body; basic auth an Authorization header."""
    photo = by_key(swagger)["POST /pets/{pet-id}/photo"]
    assert photo.url == "/pets/{{pet_id}}/photo"
    assert photo.body_type == "multipart"
    assert photo.content_type == ""       # the client writes it with the boundary
    assert pairs(photo.body) == {"file": ("{{file}}", True), "caption": ("{{caption}}", False)}
    assert pairs(photo.headers) == {"Authorization": ("Basic {{login}}", True)}
    assert photo.query == []              # the operation's security replaces the global
    assert photo.assertions == []         # only a default response
    assert any(p.item == photo.key and "file" in p.message for p in swagger.problems)


def test_swagger_urlencoded_form_and_no_security(swagger):
    """formData with a urlencoded consumes is a form; security: [] means none."""
    login = by_key(swagger)["POST /login"]
    assert login.body_type == "form"
    assert login.content_type == "application/x-www-form-urlencoded"
    assert pairs(login.body) == {"user": ("{{user}}", True), "remember": ("false", False)}
    assert login.query == [] and login.headers == []
    assert login.assertions[0]["expected_value"] == 204
    secrets = {variable.name for variable in swagger.variables if variable.secret}
    assert secrets == {"key", "login"}


def test_swagger_unquoted_yaml_version_reads():
    """swagger: 2.0 unquoted in YAML is a number; it still reads."""
    plan = parse_yaml("swagger: 2.0\ninfo: {title: X, version: '1'}\npaths:\n"
                      "  /a: {get: {responses: {200: {description: ok}}}}\n")
    assert plan.base_urls == []
    assert plan.requests[0].assertions[0]["expected_value"] == 200


# OpenAPI 3.1 specifics, and the example generator


OPENAPI_31 = """\
openapi: 3.1.0
info: {title: Shop 3.1, version: '1'}
servers:
  - url: https://{region}.shop.example/{base}
    variables:
      region: {default: eu, enum: [eu, us]}
      base: {default: api/v2}
  - url: /relative
security:
  - bearer: []
paths:
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
      - {name: fields, in: query, schema: {type: [string, "null"], examples: [name]}}
    get:
      tags: [items, extra]
      summary: One item
      responses:
        '2XX': {description: ok}
      callbacks:
        onChange: {}
    put:
      security: []
      servers: [{url: 'https://write.shop.example'}]
      parameters:
        - {name: session, in: cookie, required: true, schema: {type: string}}
        - {name: Accept, in: header, schema: {type: string}}
      requestBody:
        content:
          text/plain: {schema: {type: string}}
          application/json:
            schema: {$ref: '#/components/schemas/Item'}
      responses:
        '204': {description: done}
    trace:
      responses: {'200': {description: ok}}
  /items:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Item'}
            examples:
              small: {$ref: '#/components/examples/Small'}
      responses: {'201': {description: made}}
    get:
      operationId: listItems
      requestBody:
        content:
          application/xml: {example: '<items/>'}
      responses: {default: {description: all}}
  /broken:
    get: not an operation
    post:
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/Missing'}}
      responses: {'200': {description: ok}}
    delete:
      parameters: [{$ref: '#/components/parameters/A'}]
      responses: {'200': {description: ok}}
    patch:
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/Node'}}
      responses: {'200': {description: ok}}
webhooks:
  newItem:
    post: {responses: {'200': {description: ok}}}
components:
  parameters:
    A: {$ref: '#/components/parameters/B'}
    B: {$ref: '#/components/parameters/A'}
  examples:
    Small: {value: {name: small}}
  securitySchemes:
    bearer: {type: http, scheme: bearer}
  schemas:
    Item:
      type: object
      required: [name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        note: {type: [string, "null"]}
        price: {type: number, exclusiveMinimum: 0}
        kind: {enum: [book, film]}
        version: {const: 2}
        tags: {type: array, items: {type: string, minLength: 8}}
        seen: {type: [boolean, "null"]}
        when: {type: string, format: date-time}
        size: {oneOf: [{type: integer, minimum: 3}, {type: string}]}
        extra: {allOf: [{$ref: '#/components/schemas/Extra'}, {properties: {b: {type: boolean}}}]}
        nothing: {type: "null"}
    Extra:
      type: object
      properties: {a: {type: string, examples: [first, second]}}
    Node:
      type: object
      properties:
        name: {type: string}
        parent: {$ref: '#/components/schemas/Node'}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
"""


@pytest.fixture(scope="module")
def v31() -> ImportPlan:
    return parse_yaml(OPENAPI_31, "shop31.yaml")


def test_31_servers_with_variables_and_relative_ones(v31):
    """Server variables take their defaults; a relative server stays as it is."""
    assert openapi.looks_like(OPENAPI_31.encode(), "shop31.yaml")
    assert v31.base_urls[:2] == ["https://eu.shop.example/api/v2", "/relative"]


def test_31_nullable_types_examples_and_generated_body(v31):
    """type: [x, "null"] reads as x; examples arrays give the first; readOnly is left out."""
    item = by_key(v31)["PUT /items/{id}"]
    assert item.body_type == "json"
    assert item.content_type == "application/json"
    assert item.body == {
        "name": "string", "note": "string", "price": 1, "kind": "book", "version": 2,
        "tags": ["stringxx"], "seen": False, "when": "2024-01-01T00:00:00Z", "size": 3,
        "extra": {"a": "first", "b": False}, "nothing": None}
    get = by_key(v31)["GET /items/{id}"]
    assert pairs(get.query) == {"fields": ("name", False)}
    assert get.url == "/items/{{id}}"
    assert get.folder == ["items"]


def test_31_per_operation_servers_security_cookies(v31):
    """An operation's own server makes its URL absolute; security: [] removes the global
    bearer; a cookie parameter is a Cookie header; an Accept parameter is ignored."""
    get, put = by_key(v31)["GET /items/{id}"], by_key(v31)["PUT /items/{id}"]
    assert pairs(get.headers) == {"Authorization": ("Bearer {{bearer}}", True)}
    assert put.url == "https://write.shop.example/items/{{id}}"
    assert "https://write.shop.example" in v31.base_urls
    assert put.headers == [{"name": "Cookie", "value": "session={{session}}",
                            "enabled": True}]
    assert [v.name for v in v31.variables] == ["bearer"]


def test_31_status_ranges_and_examples_by_reference(v31):
    """2XX asserts the range; a referenced Example Object is the body; raw text bodies."""
    assert by_key(v31)["GET /items/{id}"].assertions == [
        {"type": "status_code", "operator": "ge", "expected_value": 200},
        {"type": "status_code", "operator": "lt", "expected_value": 300}]
    assert by_key(v31)["POST /items"].body == {"name": "small"}
    listing = by_key(v31)["GET /items"]
    assert (listing.name, listing.body_type, listing.body, listing.content_type) == (
        "listItems", "raw", "<items/>", "application/xml")
    assert listing.assertions == []


def test_31_webhooks_callbacks_and_trace_are_reported(v31):
    """What is not imported is listed: webhooks, callbacks, TRACE."""
    problems = {(p.where, p.severity) for p in v31.problems}
    assert ("/webhooks/newItem", SKIPPED) in problems
    assert ("/paths/~1items~1{id}/get/callbacks", WARNING) in problems
    assert ("/paths/~1items~1{id}/trace", SKIPPED) in problems
    assert "TRACE /items/{id}" not in by_key(v31)


def test_bad_operations_are_skipped_and_the_others_imported(v31):
    """An operation that is not an object, refers to nothing, or whose references loop, is
    skipped with a problem naming where."""
    skipped = {p.item: p for p in v31.problems if p.severity == SKIPPED}
    assert skipped["GET /broken"].where == "/paths/~1broken/get"
    assert skipped["POST /broken"].where == (
        "/paths/~1broken/post/requestBody/content/application~1json/schema/$ref")
    assert "#/components/schemas/Missing points to nothing" in skipped["POST /broken"].message
    assert "loop" in skipped["DELETE /broken"].message
    assert "PATCH /broken" in by_key(v31)


def test_a_cyclic_schema_stops_at_a_depth(v31):
    """A schema that contains itself gives a finite example."""
    body = by_key(v31)["PATCH /broken"].body

    def depth(value) -> int:
        if isinstance(value, dict):
            return 1 + max(map(depth, value.values()), default=0)
        if isinstance(value, list):
            return 1 + max(map(depth, value), default=0)
        return 0

    assert body["name"] == "string"
    assert 2 < depth(body) <= openapi.EXAMPLE_DEPTH + 1
    assert len(json.dumps(body)) < 100_000


def test_a_wide_cyclic_schema_stays_small():
    """A schema with many properties referring back to it is cut by the value budget."""
    wide = {"type": "object", "properties": {
        f"p{i}": {"$ref": "#/components/schemas/Wide"} for i in range(50)}}
    document = minimal(paths={"/w": {"post": {
        "requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Wide"}}}},
        "responses": {"200": {"description": "ok"}}}}},
        components={"schemas": {"Wide": wide}})
    started = time.perf_counter()
    body = parse_json(document).requests[0].body
    assert time.perf_counter() - started < 2
    assert json.dumps(body).count("{") <= openapi.EXAMPLE_VALUES + 1


def test_form_and_multipart_bodies_of_openapi_3():
    """A urlencoded body is form pairs, a multipart one too, its binary fields reported."""
    upload = {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "title": {"type": "string", "example": "holiday"},
        "id": {"type": "integer", "readOnly": True}}}
    document = minimal(paths={"/login": {"post": {
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["user"],
            "properties": {"user": {"type": "string"},
                           "remember": {"type": "boolean", "default": True}}}}}},
        "responses": {"200": {"description": "ok"}}}},
        "/upload": {"post": {
            "requestBody": {"content": {"multipart/form-data": {"schema": upload}}},
            "responses": {"200": {"description": "ok"}}}}})
    plan = parse_json(document)
    login, sent = by_key(plan)["POST /login"], by_key(plan)["POST /upload"]
    assert (login.body_type, login.content_type) == ("form",
                                                     "application/x-www-form-urlencoded")
    assert pairs(login.body) == {"user": ("{{user}}", True), "remember": ("true", False)}
    assert (sent.body_type, sent.content_type) == ("multipart", "")
    assert pairs(sent.body) == {"file": ("{{file}}", True), "title": ("holiday", False)}
    assert [p.item for p in plan.problems] == ["POST /upload"]


def test_security_alternatives_and_unmapped_schemes():
    """The first alternative that maps is taken; schemes that do not map are reported once;
    an API key in a cookie is a Cookie header."""
    schemes = {"oauth": {"type": "oauth2", "flows": {}},
               "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://x/.well-known"},
               "session": {"type": "apiKey", "in": "cookie", "name": "sid"},
               "digest": {"type": "http", "scheme": "digest"},
               "mtls": {"type": "mutualTLS"}}
    ok = {"200": {"description": "ok"}}
    document = minimal(paths={
        "/a": {"get": {"security": [{"oauth": []}, {"session": []}], "responses": ok}},
        "/b": {"get": {"security": [{"oauth": []}, {}], "responses": ok}},
        "/c": {"get": {"security": [{"digest": []}], "responses": ok},
               "put": {"security": [{"digest": [], "mtls": []}], "responses": ok},
               "post": {"security": [{"nope": []}], "responses": ok}},
        "/d": {"get": {"security": [{"oidc": []}], "responses": ok}}},
        components={"securitySchemes": schemes})
    plan = parse_json(document)
    requests = by_key(plan)
    assert requests["GET /a"].headers == [{"name": "Cookie", "value": "sid={{session}}",
                                           "enabled": True}]
    assert pairs(requests["GET /b"].headers) == {"Authorization": ("Bearer {{oauth}}", True)}
    assert requests["GET /c"].headers == [] and requests["PUT /c"].headers == []
    assert pairs(requests["GET /d"].headers) == {"Authorization": ("Bearer {{oidc}}", True)}
    wheres = [p.where for p in plan.problems]
    for name in ("oauth", "digest", "mtls", "oidc"):
        assert wheres.count(f"/components/securitySchemes/{name}") == 1, name
    assert any(p.item == "POST /c" and "nope is not defined" in p.message
               for p in plan.problems)
    assert sorted(v.name for v in plan.variables) == ["oauth", "oidc", "session"]


def test_malformed_parts_of_an_operation():
    """Odd shapes skip the operation or the part, never the file."""
    bomb = {f"S{i}": {"allOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 50}
            for i in range(10)}
    bomb["S5"] = {"type": "object", "properties": {"x": {"type": "string"}}}
    document = minimal(paths={"/m": {
        "get": {"parameters": "not a list", "responses": {"200": {}}},
        "put": {"parameters": [{"$ref": 5}], "responses": {"200": {}}},
        "post": {"parameters": [{"in": "query"}, 3],
                 "requestBody": {"content": {"application/json": {"schema": {
                     "$ref": "#/components/schemas/S0"}}}},
                 "responses": "none"},
        "delete": {"requestBody": {"content": {"application/json": {"schema": {
            "$ref": "#/paths/~1m/get/parameters/x"}}}}, "responses": {"200": {}}},
        "x-internal": True, "query": {}}},
        components={"schemas": bomb})
    started = time.perf_counter()
    plan = parse_json(document)
    assert time.perf_counter() - started < 2
    requests = by_key(plan)
    assert set(requests) == {"GET /m", "POST /m"}
    assert requests["POST /m"].body == {"x": "string"}
    assert requests["POST /m"].assertions == []
    problems = {(p.item, p.where, p.severity) for p in plan.problems}
    assert ("GET /m", "/paths/~1m/get/parameters", WARNING) in problems
    assert ("PUT /m", "/paths/~1m/put/parameters/0/$ref", SKIPPED) in problems
    assert ("POST /m", "/paths/~1m/post/parameters/0", WARNING) in problems
    assert ("POST /m", "/paths/~1m/post/parameters/1", WARNING) in problems
    assert ("DELETE /m", "/paths/~1m/delete/requestBody/content/application~1json/schema/$ref",
            SKIPPED) in problems
    assert ("", "/paths/~1m/query", SKIPPED) in problems


# Refused documents: every refusal names the file and where


def test_a_remote_reference_is_refused_without_connecting():
    """A $ref to a URL refuses the file; nothing connects to that URL."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.3)
        port = server.getsockname()[1]
        ref = f"http://127.0.0.1:{port}/x.yaml#/Pet"
        document = minimal(paths={"/p": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {"$ref": ref}}}},
            "responses": {"200": {"description": "ok"}}}}})
        failure = refused(json.dumps(document).encode(), "remote.json")
        with pytest.raises(socket.timeout):
            server.accept()
    assert failure.where == "/paths/~1p/post/requestBody/content/application~1json/schema/$ref"
    assert failure.reason == (f"only references inside the document are followed; {ref} "
                              "points outside it")


@pytest.mark.parametrize("ref", ["file:///etc/passwd", "other.yaml#/components/schemas/Pet",
                                 "./schemas/pet.json", "https://example.com/pet.json"])
def test_a_reference_to_a_file_is_refused_without_reading_it(ref, monkeypatch):
    """A $ref to a file, absolute or relative, refuses the file; nothing is opened."""
    import builtins

    opened = []
    real_open = builtins.open

    def watched_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(builtins, "open", watched_open)
    text = (f"openapi: 3.0.0\ninfo: {{title: t, version: '1'}}\npaths:\n  /p:\n    get:\n"
            f"      parameters: [{{$ref: '{ref}'}}]\n"
            "      responses: {'200': {description: ok}}\n")
    failure = refused(text.encode(), "files.yaml")
    assert failure.where == "/paths/~1p/get/parameters/0/$ref"
    assert ref in failure.reason and "points outside it" in failure.reason
    assert "root:" not in str(failure)
    assert opened == []


def test_a_path_item_reference_out_of_the_document_is_refused():
    """Split documents ($ref: paths/pets.yaml) are refused, naming the path item."""
    document = minimal(paths={"/pets": {"$ref": "paths/pets.yaml"}})
    failure = refused(json.dumps(document).encode(), "split.json")
    assert failure.where == "/paths/~1pets/$ref"


def test_billion_laughs_is_refused_by_the_loader():
    """Aliases of aliases are refused before anything walks them."""
    lines = ["openapi: 3.0.0", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for index, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[index]
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    lines.append("paths: {}")
    started = time.perf_counter()
    failure = refused("\n".join(lines).encode(), "laughs.yaml")
    assert "expands to more than" in failure.reason
    assert failure.where == "line 9"
    assert time.perf_counter() - started < 5


def test_a_file_over_the_size_limit_is_refused(settings):
    """A 17 MB file is refused by its size."""
    data = b"openapi: 3.0.0\npaths: {}\n" + b"#" * (17 * 1024 * 1024)
    assert len(data) > settings.TESTING_IMPORT_MAX_BYTES
    with pytest.raises(ImportFailed) as caught:
        openapi.parse(data, "huge.yaml")
    assert str(caught.value).startswith("huge.yaml: the file is ")


def test_a_file_that_is_not_utf8_is_refused():
    """Latin-1 text is refused naming the byte."""
    failure = refused("openapi: 3.0.0\ninfo: {title: café}\npaths: {}\n".encode("latin-1"),
                      "latin.yaml")
    assert failure.where == "byte 32"


@pytest.mark.parametrize(("data", "where", "reason"), [
    (b"[1, 2]", "/", "not an object"),
    (b"just text", "/", "not an object"),
    (b"info: {title: t}\npaths: {}", "/", "neither an openapi nor a swagger"),
    (b"openapi: '4.0'\npaths: {}", "/openapi", "openapi 4.0 is not a version"),
    (b"swagger: '1.2'\npaths: {}", "/swagger", "swagger 1.2 is not a version"),
    (b"openapi: 3.0.0\ninfo: {title: t}", "/paths", "no paths"),
    (b"openapi: 3.0.0\npaths: [a]", "/paths", "not an object"),
    (b"openapi: 3.1.0\npaths: {/a: 5}", "/paths/~1a", "a path item is not an object"),
    (b"openapi: 3.1.0\npaths: {/a: {$ref: '#/x'}}\nx: 5", "/x", "not an object"),
    (b"openapi: 3.0.0\npaths: {/a: {get: ]", "line 2, column 19", "not valid YAML"),
    (b'{"openapi": "3.0.0", "paths": {,}}', "line 1, column 32", "not valid JSON"),
])
def test_documents_that_cannot_be_read(data, where, reason):
    """A document that is not an OpenAPI one is refused, naming the file and where."""
    failure = refused(data, "bad.yaml")
    assert failure.where == where
    assert reason in failure.reason


def test_an_empty_paths_object_is_an_empty_plan():
    """A document with no operations imports nothing and says nothing is wrong."""
    plan = parse_json(minimal())
    assert plan.requests == [] and plan.problems == []


def test_the_sniff():
    """The sniff reads only a top-level openapi or swagger key."""
    assert openapi.looks_like(b'\xef\xbb\xbf{"swagger": "2.0", "paths": {}}', "a.json")
    assert openapi.looks_like(b"# comment\n---\nopenapi: 3.1.0\n", "a.yaml")
    assert not openapi.looks_like(b'{"info": {"_postman_id": "x"}, "item": []}', "p.json")
    assert not openapi.looks_like(b"config:\n  openapi: 3\n", "hr.yaml")
    assert not openapi.looks_like(b'{"log": {"entries": []}}', "a.har")
    assert not openapi.looks_like(b"\xff\xfe\x00", "bin")


# Scale


def large_document(operations: int) -> dict:
    schemas = {}
    for index in range(200):
        schemas[f"Thing{index}"] = {
            "type": "object", "required": ["id"],
            "description": "A thing of the large document. " * 10,
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "example": f"thing {index}"},
                "created": {"type": "string", "format": "date-time"},
                "next": {"$ref": f"#/components/schemas/Thing{(index + 1) % 200}"},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}}
    schemas["Tag"] = {"type": "object", "properties": {"label": {"type": "string"}}}
    paths = {}
    for index in range(operations // 3):
        thing = {"$ref": f"#/components/schemas/Thing{index % 200}"}
        ok = {"description": "ok " * 40, "content": {"application/json": {"schema": thing}}}
        paths[f"/things{index}/{{thingId}}"] = {
            "parameters": [{"$ref": "#/components/parameters/ThingId"}],
            "get": {"tags": [f"group{index % 20}"], "summary": f"Get thing {index}",
                    "description": "Returns the thing. " * 250,
                    "parameters": [{"$ref": "#/components/parameters/Limit"}],
                    "responses": {"200": ok, "404": {"description": "missing"}}},
            "put": {"tags": [f"group{index % 20}"], "operationId": f"put{index}",
                    "description": "Replaces the thing. " * 250,
                    "requestBody": {"content": {"application/json": {"schema": thing}}},
                    "responses": {"200": ok}},
            "delete": {"security": [], "responses": {"204": {"description": "gone"}}},
        }
    return {
        "openapi": "3.0.3", "info": {"title": "Large", "version": "1"},
        "servers": [{"url": "https://large.example/api"}],
        "security": [{"key": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {
                "ThingId": {"name": "thingId", "in": "path", "required": True,
                            "schema": {"type": "string"}},
                "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer",
                                                                     "default": 10}}},
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
    }


def test_a_10_mb_document_parses_within_seconds():
    """3,000 operations with references, over 10 MB of JSON, parse in a few seconds."""
    data = json.dumps(large_document(3000), indent=1).encode()
    assert len(data) > 10 * 1024 * 1024
    started = time.perf_counter()
    plan = openapi.parse(data, "large.json")
    elapsed = time.perf_counter() - started
    print(f"\n{len(data) / 1024 / 1024:.1f} MB, {len(plan.requests)} operations: "
          f"parsed in {elapsed:.2f} s")
    assert len(plan.requests) == 3000
    assert plan.problems == []
    assert by_key(plan)["PUT /things5/{thingId}"].body["next"]["id"] == (
        "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert elapsed < 20
