"""MCP tool definitions derived from the platform's OpenAPI document (issue 5, item 2)."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaValidationError

from gateway import schemas
from gateway.models import TOOL_NAME_PATTERN
from gateway.schemas import (
    SchemaUnavailable,
    find_operation,
    input_schema,
    output_schema,
    tool_annotations,
    tool_definition,
)
from rbac.models import ApiEndpoint

pytestmark = pytest.mark.django_db

USER_ID = "0190f5d2-5e2e-7cc2-8a6b-4a1f1c2d3e4f"


def endpoint(path: str, method: str) -> ApiEndpoint:
    return ApiEndpoint.objects.get(path=path, method=method)


def assert_valid_schema(schema: dict) -> None:
    """A draft 2020-12 schema of type object, as MCP requires of tool schemas."""
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"


def accepts(schema: dict, instance) -> bool:
    try:
        Draft202012Validator(schema).validate(instance)
    except SchemaValidationError:
        return False
    return True


def type_lists_and_one_of(schema, where="#"):
    """Yield where ``schema`` holds a ``type`` list or a ``oneOf``."""
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), list) or "oneOf" in schema:
            yield where
        for key, value in schema.items():
            if key not in ("examples", "default", "enum", "const"):
                yield from type_lists_and_one_of(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from type_lists_and_one_of(value, f"{where}/{index}")


# ---------------------------------------------------------------------------
# Real endpoints
# ---------------------------------------------------------------------------


def test_users_list_takes_its_query_parameters_at_the_top_level():
    """GET /users/: filters, search, ordering and paging are optional top-level arguments;
    the answer is a page object whose users never carry the write-only password."""
    definition = tool_definition(endpoint("/api/v1/users/", "GET"))
    assert definition.name == "users_list"
    assert definition.title == "List users"
    assert definition.description == "Users of the tenant."
    schema = definition.input_schema
    assert_valid_schema(schema)
    assert schema["additionalProperties"] is False
    assert {"status", "department", "position", "is_staff", "search", "ordering", "page",
            "page_size"} <= set(schema["properties"])
    assert "body" not in schema["properties"] and "required" not in schema
    assert schema["properties"]["status"]["enum"] == ["active", "inactive", "locked"]
    assert schema["properties"]["page"]["type"] == "integer"
    assert schema["properties"]["search"]["description"] == "A search term."
    assert accepts(schema, {"status": "active", "page": 2, "search": "ali"})
    assert not accepts(schema, {"status": "asleep"})
    assert not accepts(schema, {"nickname": "x"})  # unknown argument

    output = definition.output_schema
    assert_valid_schema(output)
    assert {"count", "next", "previous", "results"} <= set(output["properties"])
    # nullable -> anyOf with null (a type list draws warnings from the Inspector's --strict)
    assert output["properties"]["next"]["anyOf"] == [
        {"type": "string", "format": "uri"}, {"type": "null"}]
    assert output["properties"]["next"]["description"].startswith("The address of the next")
    user = output["properties"]["results"]["items"]
    assert user["type"] == "object"
    assert {"id", "username", "created_at"} <= set(user["properties"])
    assert "password" not in user["properties"]
    assert "$ref" not in str(definition.input_schema) + str(output)
    assert definition.annotations == {"title": "List users", "readOnlyHint": True,
                                      "openWorldHint": False}


def test_user_partial_update_takes_the_id_and_the_body_under_body():
    """PATCH /users/{id}/: the path id is required; the fields go under ``body`` (never
    flattened), without the read-only ones; the body itself is optional for a PATCH."""
    definition = tool_definition(endpoint("/api/v1/users/{id}/", "PATCH"))
    assert definition.name == "users_partial_update"
    schema = definition.input_schema
    assert_valid_schema(schema)
    assert set(schema["properties"]) == {"id", "body"}
    assert schema["required"] == ["id"]
    assert schema["properties"]["id"] == {
        "type": "string", "format": "uuid", "description": "A UUID string identifying this user.",
    }
    body = schema["properties"]["body"]
    assert body["type"] == "object"
    assert {"username", "name", "email", "status", "department", "roles", "password"} <= set(
        body["properties"])
    for read_only in ("id", "tenant", "created_at", "updated_at", "is_superuser",
                      "locked_until", "last_login_at"):
        assert read_only not in body["properties"], read_only
    assert "readOnly" not in str(body)
    assert body["properties"]["department"]["anyOf"] == [
        {"type": "string", "format": "uuid"}, {"type": "null"}]
    assert accepts(schema, {"id": USER_ID, "body": {"name": "Alice", "department": None}})
    assert not accepts(schema, {"id": USER_ID, "name": "Alice"})  # fields are never top-level
    assert not accepts(schema, {"body": {"name": "Alice"}})  # the id is required
    assert not accepts(schema, {"id": USER_ID, "body": {"status": "asleep"}})

    assert_valid_schema(definition.output_schema)
    assert "password" not in definition.output_schema["properties"]
    assert definition.annotations == {"title": "Update user", "readOnlyHint": False,
                                      "openWorldHint": False}


def test_user_retrieve_takes_only_the_path_id():
    """GET /users/{id}/: one required argument, the id; the answer is one user object."""
    definition = tool_definition(endpoint("/api/v1/users/{id}/", "GET"))
    assert definition.name == "users_retrieve"
    assert definition.input_schema == {
        "type": "object",
        "properties": {"id": {"type": "string", "format": "uuid",
                              "description": "A UUID string identifying this user."}},
        "required": ["id"],
        "additionalProperties": False,
    }
    output = definition.output_schema
    assert_valid_schema(output)
    assert {"id", "username", "roles"} <= set(output["properties"])
    assert definition.annotations["readOnlyHint"] is True


def test_user_create_requires_the_body_and_its_required_fields():
    """POST /users/: ``body`` is required, and within it the writable required fields only."""
    schema = tool_definition(endpoint("/api/v1/users/", "POST")).input_schema
    assert schema["required"] == ["body"]
    body = schema["properties"]["body"]
    assert "username" in body["required"]
    assert not {"id", "tenant", "created_at"} & set(body.get("required", []))
    assert accepts(schema, {"body": {"username": "bob"}})
    assert not accepts(schema, {"body": {}})


def test_annotations_follow_the_verb():
    """GET read-only, DELETE destructive, PUT idempotent, POST and PATCH writes."""
    delete = tool_definition(endpoint("/api/v1/users/{id}/", "DELETE"))
    assert delete.annotations == {"title": "Delete user", "readOnlyHint": False,
                                  "destructiveHint": True, "openWorldHint": False}
    assert delete.output_schema is None  # 204: nothing structured
    put = tool_definition(endpoint("/api/v1/users/{id}/", "PUT"))
    assert put.annotations["idempotentHint"] is True and put.annotations["readOnlyHint"] is False
    assert put.input_schema["required"] == ["id", "body"]
    post = tool_definition(endpoint("/api/v1/users/{id}/restore/", "POST"))
    assert post.annotations == {"title": "Restore user", "readOnlyHint": False,
                                "openWorldHint": False}
    assert tool_annotations("PATCH", "T") == {"title": "T", "readOnlyHint": False,
                                              "openWorldHint": False}


def test_a_text_answer_has_no_output_schema():
    """The CSV export answers text, not an object: no output schema."""
    definition = tool_definition(endpoint("/api/v1/audit-logs/export/", "GET"))
    assert definition.output_schema is None


def test_every_registered_endpoint_gives_a_valid_definition():
    """Every route of the registry yields an MCP-valid name, title and draft 2020-12 schemas
    with no reference left."""
    rows = list(ApiEndpoint.objects.filter(is_active=True))
    assert len(rows) > 40
    for row in rows:
        definition = tool_definition(row)
        assert re.match(TOOL_NAME_PATTERN, definition.name), row
        assert definition.title and len(definition.title) <= 200, row
        assert definition.description, row
        assert_valid_schema(definition.input_schema)
        assert definition.input_schema["additionalProperties"] is False
        placeholders = set(re.findall(r"{([^{}/]+)}", row.path))
        assert placeholders <= set(definition.input_schema.get("required", [])), row
        if definition.output_schema is not None:
            assert_valid_schema(definition.output_schema)
        assert "$ref" not in str(definition.input_schema) + str(definition.output_schema), row
        assert "nullable" not in str(definition.input_schema), row
        for schema in (definition.input_schema, definition.output_schema or {}):
            assert not list(type_lists_and_one_of(schema)), (row, list(
                type_lists_and_one_of(schema)))


def test_the_operation_is_found_by_operation_id_when_the_path_moved():
    """A registry row whose path no longer matches is found by its operation id."""
    moved = ApiEndpoint(path="/api/v1/people/{id}/", method="GET", operation_id="users_retrieve")
    assert find_operation(moved).path == "/api/v1/users/{id}/"
    assert tool_definition(moved).name == "users_retrieve"


def test_an_unknown_operation_is_refused():
    """An endpoint the document does not describe raises SchemaUnavailable."""
    with pytest.raises(SchemaUnavailable):
        tool_definition(ApiEndpoint(path="/api/v1/nowhere/", method="GET", operation_id="nope"))


def test_the_document_is_generated_once_per_process():
    """The document is cached; changing the URL configuration drops it."""
    first = schemas.openapi_document()
    assert schemas.openapi_document() is first
    with override_settings(ROOT_URLCONF="config.urls"):
        assert schemas._document is None
        regenerated = schemas.openapi_document()
    assert regenerated is not first
    schemas.clear_cache()


# ---------------------------------------------------------------------------
# The conversion, on documents made for the purpose
# ---------------------------------------------------------------------------


def document(operation: dict, components: dict | None = None, path: str = "/things/{id}/",
             method: str = "post", path_parameters: list | None = None) -> dict:
    item = {method: {"operationId": "things op!", **operation}}
    if path_parameters:
        item["parameters"] = path_parameters
    return {"paths": {path: item}, "components": {"schemas": components or {}}}


def operation_of(doc: dict, path: str = "/things/{id}/", method: str = "POST"):
    return find_operation(ApiEndpoint(path=path, method=method), doc)


def json_body(ref: str, required: bool = True) -> dict:
    return {"requestBody": {"required": required,
                            "content": {"application/json": {"schema": {"$ref": ref}}}}}


def test_recursive_schemas_are_cut_with_a_permissive_schema():
    """A schema that contains itself is resolved once and cut where it recurs."""
    components = {"Node": {"type": "object", "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
    }}}
    doc = document(json_body("#/components/schemas/Node"), components)
    schema = input_schema(operation_of(doc), doc)
    body = schema["properties"]["body"]
    assert body["properties"]["name"] == {"type": "string"}
    assert body["properties"]["children"]["items"] == {}
    Draft202012Validator.check_schema(schema)


def test_deep_reference_chains_are_cut_at_the_limit():
    """References nested deeper than MAX_REF_DEPTH end in ``{}`` instead of recursing on."""
    depth = schemas.MAX_REF_DEPTH + 3
    components = {
        f"L{n}": {"type": "object",
                  "properties": {"next": {"$ref": f"#/components/schemas/L{n + 1}"}}}
        for n in range(depth)
    }
    components[f"L{depth}"] = {"type": "string"}
    doc = document(json_body("#/components/schemas/L0"), components)
    node = input_schema(operation_of(doc), doc)["properties"]["body"]
    levels = 0
    while node.get("properties"):
        node = node["properties"]["next"]
        levels += 1
    assert node == {} and levels == schemas.MAX_REF_DEPTH


def test_openapi_keywords_become_json_schema():
    """nullable, example, boolean exclusive bounds and unknown keywords are translated."""
    components = {"Thing": {
        "type": "object",
        "discriminator": {"propertyName": "kind"},
        "required": ["id", "size"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "size": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "example": 3},
            "colour": {"type": "string", "enum": ["red", "blue"], "nullable": True},
            "shape": {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
            "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}], "readOnly": True},
        },
    }, "Owner": {"type": "object", "properties": {"name": {"type": "string"}}}}
    doc = document(json_body("#/components/schemas/Thing"), components)
    body = input_schema(operation_of(doc), doc)["properties"]["body"]
    assert set(body["properties"]) == {"size", "colour", "shape"}  # read-only ones dropped
    assert body["required"] == ["size"]
    assert "discriminator" not in body
    assert body["properties"]["size"] == {"type": "integer", "exclusiveMinimum": 0,
                                          "examples": [3]}
    assert body["properties"]["colour"] == {"anyOf": [
        {"type": "string", "enum": ["red", "blue"]}, {"type": "null"}]}
    assert body["properties"]["shape"] == {"anyOf": [
        {"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "null"}]}
    Draft202012Validator.check_schema(body)


def test_parameters_of_the_path_item_and_a_query_parameter_named_body():
    """Path-item parameters count; a query parameter named ``body`` beside a body is left out;
    header parameters are not arguments."""
    components = {"Thing": {"type": "object", "properties": {"name": {"type": "string"}}}}
    doc = document(
        {**json_body("#/components/schemas/Thing", required=False), "parameters": [
            {"in": "query", "name": "body", "schema": {"type": "string"}},
            {"in": "query", "name": "dry_run", "required": True, "schema": {"type": "boolean"}},
            {"in": "header", "name": "X-Trace", "schema": {"type": "string"}},
        ]},
        components,
        path_parameters=[{"in": "path", "name": "id", "required": True,
                          "schema": {"type": "integer"}}],
    )
    schema = input_schema(operation_of(doc), doc)
    assert set(schema["properties"]) == {"id", "dry_run", "body"}
    assert schema["properties"]["body"] == {"type": "object",
                                            "properties": {"name": {"type": "string"}}}
    assert schema["required"] == ["id", "dry_run"]


def test_a_list_answer_has_no_output_schema_and_an_object_answer_has_one():
    """MCP wants ``type: object`` for an output schema: a bare array gives none."""
    components = {"Thing": {"type": "object", "properties": {"secret": {"type": "string",
                                                                        "writeOnly": True},
                                                             "name": {"type": "string"}}}}
    listed = document({"responses": {"200": {"content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}}}}}, components,
        path="/things/", method="get")
    assert output_schema(operation_of(listed, "/things/", "GET"), listed) is None
    single = document({"responses": {"201": {"content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Thing"}}}}}}, components)
    assert output_schema(operation_of(single), single) == {
        "type": "object", "properties": {"name": {"type": "string"}}}


def test_names_are_made_valid_for_mcp():
    """Characters MCP does not allow in names become underscores; the length is capped."""
    doc = document({})
    assert schemas.tool_name(operation_of(doc)) == "things_op"
    long = document({"operationId": "x" * 300})
    assert schemas.tool_name(operation_of(long)) == "x" * 128


@pytest.mark.parametrize(("path", "method", "title"), [
    ("/api/v1/users/", "GET", "List users"),
    ("/api/v1/users/", "POST", "Create user"),
    ("/api/v1/users/{id}/", "PATCH", "Update user"),
    ("/api/v1/users/{id}/", "DELETE", "Delete user"),
    ("/api/v1/api-keys/{id}/revoke/", "POST", "Revoke API key"),
    ("/api/v1/testing/database-configs/{id}/test-connection/", "POST",
     "Test connection of database config"),
    ("/api/v1/operation-logs/export/", "GET", "Export operation logs"),
    ("/api/v1/testing/scenarios/import/", "POST", "Import scenarios"),
    ("/api/v1/me/", "GET", "Who am I"),  # its summary
])
def test_titles_say_what_the_operation_does(path, method, title):
    assert tool_definition(endpoint(path, method)).title == title


def test_the_migration_rewrites_stored_schemas_as_they_are_now_derived():
    """mcp 0008 turns a stored schema of the old form (oneOf, type lists) into the new one."""
    import importlib

    migration = importlib.import_module(
        "gateway.migrations.0008_tool_schemas_without_one_of_or_type_lists")
    old = {"type": "object", "properties": {
        "email": {"oneOf": [{"type": "string", "format": "email"},
                            {"type": "string", "maxLength": 0}]},
        "next": {"type": ["string", "null"], "format": "uri", "description": "Next page.",
                 "examples": [None, "x"]},
        "colour": {"type": ["string", "null"], "enum": ["red", None]},
        "any": {"type": ["string", "integer", "null"]},
    }}
    new = migration.rewrite(old)
    assert new["properties"] == {
        "email": {"anyOf": [{"type": "string", "format": "email"},
                            {"type": "string", "maxLength": 0}]},
        "next": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}],
                 "description": "Next page.", "examples": [None, "x"]},
        "colour": {"anyOf": [{"type": "string", "enum": ["red"]}, {"type": "null"}]},
        "any": {"anyOf": [{"type": ["string", "integer"]}, {"type": "null"}]},
    }
    assert migration.rewrite(new) == new
    assert not list(type_lists_and_one_of(new["properties"]["email"]))
    derived = tool_definition(endpoint("/api/v1/users/", "GET"))
    assert migration.rewrite(derived.output_schema) == derived.output_schema


def test_the_migration_rewrites_the_tools_stored_before_it(tenant_a):
    """Run on a database holding a tool of the old form, mcp 0008 rewrites its schemas."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps as django_apps
    from django.db import connection

    from core.context import tenant_context
    from gateway.models import McpTool
    from gateway.tests.factories import api_tool

    old_output = {"type": "object", "properties": {"email": {"oneOf": [
        {"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]}}}
    old_input = {"type": "object", "properties": {"page": {"type": ["integer", "null"]}},
                 "additionalProperties": False}
    tool = api_tool(tenant_a, schema=old_input, output_schema=old_output)
    migration = importlib.import_module(
        "gateway.migrations.0008_tool_schemas_without_one_of_or_type_lists")
    migration.forwards(django_apps, SimpleNamespace(connection=connection))  # its data step
    with tenant_context(tenant_a):
        tool = McpTool.objects.get(pk=tool.pk)
    assert tool.output_schema["properties"]["email"] == {"anyOf": [
        {"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]}
    assert tool.input_schema["properties"]["page"] == {
        "anyOf": [{"type": "integer"}, {"type": "null"}]}
