"""The services that write MCP tools (``gateway.services.tools``): one path for the admin and the API."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from core.context import all_tenants, tenant_context
from gateway.models import McpTool
from gateway.services import tools
from rbac.models import ApiEndpoint

pytestmark = pytest.mark.django_db

SECRET = "s3cret-token-value-42"
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"], "additionalProperties": False}


def endpoint(path: str, method: str = "GET") -> ApiEndpoint:
    return ApiEndpoint.objects.get(path=path, method=method)


def raw_auth_config(tool: McpTool) -> str | None:
    """Return the auth_config column as stored, read past the model."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_config FROM mcp_tools WHERE id = %s",
                       [tool.pk.hex if connection.vendor in ("sqlite", "mysql") else tool.pk])
        row = cursor.fetchone()
    return row[0] if row else None


def external(tenant, name: str = "weather", **fields) -> McpTool:
    values = {"tool_type": "external", "name": name, "external_url": "https://api.example.com/w",
              "permission_code": "mcp_tool:call", "input_schema": WEATHER_SCHEMA}
    values.update(fields)
    with tenant_context(tenant):
        return tools.create_tool(**values)


def messages_of(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


# ---------------------------------------------------------------------------
# API tools
# ---------------------------------------------------------------------------


def test_an_endpoint_becomes_a_tool_of_the_tenant(tenant_a, admin_a):
    """Everything is filled from the endpoint and its operation; the registry row is marked."""
    row = endpoint("/api/v1/users/{id}/", "PATCH")
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=row, created_by=admin_a)
    tool.refresh_from_db()
    assert (tool.tenant_id, tool.tool_type, tool.name, tool.title) == (
        tenant_a.pk, "api", "users_partial_update", "Update user")
    assert tool.description == "Users of the tenant."
    assert (tool.api_path, tool.api_method, tool.api_module, tool.permission_code) == (
        "/api/v1/users/{id}/", "PATCH", "accounts", "user:update")
    assert tool.input_schema["required"] == ["id"] and "body" in tool.input_schema["properties"]
    assert tool.output_schema["type"] == "object"
    assert tool.annotations == {"title": "Update user", "readOnlyHint": False,
                                "openWorldHint": False}
    assert tool.created_by_id == admin_a.pk and tool.auth_config is None and not tool.is_public
    row.refresh_from_db()
    assert row.is_mcp_tool is True


def test_two_tenants_may_name_a_tool_alike(tenant_a, tenant_b):
    """Names are unique per tenant: the same name in two tenants, with different schemas."""
    with tenant_context(tenant_a):
        mine = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="lookup")
    with tenant_context(tenant_b):
        theirs = tools.create_api_tool(endpoint=endpoint("/api/v1/positions/"), name="lookup")
    assert mine.name == theirs.name == "lookup"
    assert mine.input_schema != theirs.input_schema
    with tenant_context(tenant_a):
        assert list(McpTool.objects.values_list("pk", flat=True)) == [mine.pk]


def test_a_name_taken_in_the_tenant_is_refused_clearly(tenant_a):
    """A second tool of the same name (whatever its case) is a field error naming it."""
    with tenant_context(tenant_a):
        tools.create_api_tool(endpoint=endpoint("/api/v1/users/"))
        with pytest.raises(ValidationError) as exc:
            tools.create_api_tool(endpoint=endpoint("/api/v1/users/"))
        assert messages_of(exc)["name"] == [
            "The tenant already has a tool named “users_list” (names ignore case); choose "
            "another name."]
        with pytest.raises(ValidationError) as exc:
            tools.create_api_tool(endpoint=endpoint("/api/v1/positions/"), name="USERS_LIST")
        assert len(messages_of(exc)["name"]) == 1
        assert McpTool.objects.count() == 1


@pytest.mark.parametrize("switch", ["is_enabled", "is_active"])
def test_a_disabled_or_vanished_endpoint_is_refused(tenant_a, switch):
    """An endpoint switched off, or gone from the code, cannot become a tool."""
    row = endpoint("/api/v1/users/")
    setattr(row, switch, False)
    row.save()
    with tenant_context(tenant_a), pytest.raises(ValidationError) as exc:
        tools.create_api_tool(endpoint=row)
    assert list(messages_of(exc)) == ["endpoint"]
    row.refresh_from_db()
    assert row.is_mcp_tool is False


def test_a_platform_only_endpoint_is_the_platforms(tenant_a, platform):
    """A tenant's tool cannot use an endpoint only operators may call; the platform's can."""
    row = endpoint("/api/v1/tenants/", "POST")
    with tenant_context(tenant_a), pytest.raises(ValidationError) as exc:
        tools.create_api_tool(endpoint=row)
    assert "platform operators only" in messages_of(exc)["endpoint"][0]
    tool = tools.create_api_tool(endpoint=row, tenant=platform)
    assert tool.tenant_id == platform.pk


def test_only_the_platforms_tools_are_public(tenant_a, platform):
    """Offering a tool to every tenant is the platform's alone."""
    with tenant_context(tenant_a), pytest.raises(ValidationError) as exc:
        tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), is_public=True)
    assert "is_public" in messages_of(exc)
    with all_tenants():
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), tenant=platform,
                                     is_public=True)
    assert tool.is_public


def test_a_tool_needs_a_tenant(platform):
    """Without a tenant in context or given (an operator's scope), the tenant is asked for."""
    with all_tenants(), pytest.raises(ValidationError) as exc:
        tools.create_api_tool(endpoint=endpoint("/api/v1/users/"))
    assert list(messages_of(exc)) == ["tenant"]


def test_what_an_api_tool_derives_is_not_typed(tenant_a):
    """A schema, method or permission sent for an API tool that differs from its endpoint's
    is refused; the endpoint and the type stay as they are."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"))
        with pytest.raises(ValidationError) as exc:
            tools.update_tool(tool=McpTool.objects.get(pk=tool.pk),
                              input_schema={"type": "object"}, permission_code="user:delete")
        assert {"input_schema", "permission_code"} <= set(messages_of(exc))
        with pytest.raises(ValidationError) as exc:
            tools.update_tool(tool=McpTool.objects.get(pk=tool.pk),
                              endpoint=endpoint("/api/v1/positions/"), tool_type="external")
        assert {"endpoint", "tool_type"} <= set(messages_of(exc))
        same = tools.update_tool(tool=McpTool.objects.get(pk=tool.pk), title="Find users",
                                 input_schema=tool.input_schema)
        assert same.annotations["title"] == "Find users"
        assert McpTool.objects.get(pk=tool.pk).permission_code == "user:view"


def test_refresh_derives_the_schemas_again(tenant_a):
    """After the API changed, refresh puts the operation's schemas back; names stay."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="people")
        McpTool.objects.filter(pk=tool.pk).update(input_schema={"type": "object"},
                                                  annotations={})
        stale = McpTool.objects.get(pk=tool.pk)
        fresh = tools.refresh_api_tool(tool=stale)
    fresh.refresh_from_db()
    assert "search" in fresh.input_schema["properties"]
    assert fresh.annotations["readOnlyHint"] is True and fresh.name == "people"


def test_delete_and_restore_keep_the_registry_flag_true_while_a_tool_lives(tenant_a, tenant_b):
    """``is_mcp_tool`` is true exactly while a live tool of any tenant uses the endpoint."""
    row = endpoint("/api/v1/users/")
    with tenant_context(tenant_a):
        mine = tools.create_api_tool(endpoint=row)
    with tenant_context(tenant_b):
        theirs = tools.create_api_tool(endpoint=row)
    with tenant_context(tenant_a):
        tools.delete_tool(tool=mine)
    row.refresh_from_db()
    assert row.is_mcp_tool is True
    with tenant_context(tenant_b):
        tools.delete_tool(tool=theirs)
    row.refresh_from_db()
    assert row.is_mcp_tool is False
    with tenant_context(tenant_a):
        tools.restore_tool(tool=McpTool.objects.deleted().get(pk=mine.pk))
    row.refresh_from_db()
    assert row.is_mcp_tool is True


def test_restore_refuses_a_name_a_live_tool_took(tenant_a):
    """A deleted tool whose name is in use again stays deleted, with a field error."""
    with tenant_context(tenant_a):
        old = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="Finder")
        tools.delete_tool(tool=old)
        tools.create_api_tool(endpoint=endpoint("/api/v1/positions/"), name="finder")
        with pytest.raises(ValidationError) as exc:
            tools.restore_tool(tool=McpTool.objects.deleted().get(pk=old.pk))
    assert "name" in messages_of(exc)
    assert McpTool.objects.all_tenants(include_deleted=True).get(pk=old.pk).is_deleted


# ---------------------------------------------------------------------------
# External tools and their credentials
# ---------------------------------------------------------------------------


def test_credentials_are_stored_encrypted(tenant_a):
    """The stored column is ciphertext, never the secret; the model reads it back."""
    tool = external(tenant_a, auth_type="bearer", auth_config={"token": SECRET})
    raw = raw_auth_config(tool)
    assert raw.startswith("enc:v1:") and SECRET not in raw
    with tenant_context(tenant_a):
        assert McpTool.objects.get(pk=tool.pk).auth_config == {"token": SECRET}


def test_credentials_are_kept_replaced_removed_and_dropped(tenant_a):
    """Unchanged by default, replaced by a new value, removed by None, and forgotten when
    authentication is switched off."""
    tool = external(tenant_a, auth_type="bearer", auth_config={"token": SECRET})
    with tenant_context(tenant_a):
        tool = tools.update_tool(tool=McpTool.objects.get(pk=tool.pk), title="Weather")
        assert McpTool.objects.get(pk=tool.pk).auth_config == {"token": SECRET}
        tools.update_tool(tool=McpTool.objects.get(pk=tool.pk), auth_type="api_key",
                          auth_config={"header": "X-Api-Key", "value": "other"})
        assert McpTool.objects.get(pk=tool.pk).auth_config == {"header": "X-Api-Key",
                                                               "value": "other"}
        with pytest.raises(ValidationError) as exc:
            tools.update_tool(tool=McpTool.objects.get(pk=tool.pk), auth_config=None)
        assert "auth_config" in messages_of(exc)  # an api_key tool needs its settings
        tools.update_tool(tool=McpTool.objects.get(pk=tool.pk), auth_type="none")
        assert McpTool.objects.get(pk=tool.pk).auth_config is None
    assert raw_auth_config(tool) is None


def test_bad_credentials_are_refused_without_repeating_them(tenant_a, caplog):
    """Settings that do not suit the type are a field error that never quotes the secret,
    and nothing of them reaches the log."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValidationError) as exc:
        external(tenant_a, auth_type="bearer", auth_config={"tokn": SECRET})
    assert "auth_config" in messages_of(exc)
    assert SECRET not in str(exc.value.messages)
    assert SECRET not in caplog.text
    with pytest.raises(ValidationError) as exc:
        external(tenant_a, auth_type="none", auth_config={"token": SECRET})
    assert "auth_config" in messages_of(exc)
    with tenant_context(tenant_a):
        assert not McpTool.objects.exists()


def test_an_api_tool_takes_no_credentials(tenant_a):
    """Only external tools authenticate to their target."""
    with tenant_context(tenant_a), pytest.raises(ValidationError) as exc:
        tools.create_tool(tool_type="api", endpoint=endpoint("/api/v1/users/"),
                          auth_config={"token": SECRET})
    assert "auth_config" in messages_of(exc)


def test_external_schemas_must_be_json_schema_objects(tenant_a):
    """MCP needs ``type: object`` schemas; a malformed schema names where it is wrong."""
    with pytest.raises(ValidationError) as exc:
        external(tenant_a, input_schema={"type": "array"}, output_schema={"type": 5},
                 annotations={"readOnlyHint": "yes", "colour": "red"})
    errors = messages_of(exc)
    assert "input_schema" in errors and "output_schema" in errors and "annotations" in errors
    assert any("type" in message for message in errors["output_schema"])
    tool = external(tenant_a, input_schema={})
    assert tool.input_schema == tools.EMPTY_INPUT_SCHEMA and tool.output_schema is None


def test_external_permission_must_exist_and_be_the_tenants(tenant_a):
    """An unknown permission code, or a platform one for a tenant, is refused."""
    with pytest.raises(ValidationError) as exc:
        external(tenant_a, permission_code="weather:read")
    assert "permission_code" in messages_of(exc)
    with pytest.raises(ValidationError) as exc:
        external(tenant_a, permission_code="tenant:create")
    assert "platform" in messages_of(exc)["permission_code"][0]


def test_set_enabled_switches_a_tool_whatever_else_it_holds(tenant_a):
    """A tool can always be switched off, even one that no longer validates."""
    tool = external(tenant_a)
    McpTool.objects.all_tenants().filter(pk=tool.pk).update(input_schema={"type": "array"})
    with tenant_context(tenant_a):
        tools.set_enabled(tool=McpTool.objects.get(pk=tool.pk), enabled=False)
        assert McpTool.objects.get(pk=tool.pk).is_enabled is False
