"""The MCP tools API: /api/v1/mcp-tools/ and /api/v1/endpoints/{id}/make-tool/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from core.context import all_tenants, tenant_context
from gateway.services import tools
from gateway.models import McpTool
from logs.models import AuditLog, OperationLog
from rbac.models import ApiEndpoint
from tests.api_cases import (
    DataScopeCase,
    SoftDeleteAPIViewTestCase,
    assert_error,
    assert_field_errors,
    make_actor,
)

SECRET = "tok-9f8e7d6c5b4a-secret"
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"], "additionalProperties": False}


def endpoint(path: str, method: str = "GET") -> ApiEndpoint:
    return ApiEndpoint.objects.get(path=path, method=method)


def raw_auth_config(pk) -> str | None:
    """Return the auth_config column as stored, read past the model."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_config FROM mcp_tools WHERE id = %s",
                       [pk.hex if connection.vendor in ("sqlite", "mysql") else pk])
        row = cursor.fetchone()
    return row[0] if row else None


def api_tool(tenant, index: int = 0, path: str = "/api/v1/users/", **fields) -> McpTool:
    with tenant_context(tenant):
        return tools.create_api_tool(endpoint=endpoint(path), name=f"tool{index}", **fields)


class TestMcpToolAPI(SoftDeleteAPIViewTestCase, DataScopeCase):
    basename = "mcptool"
    model = McpTool
    secret_fields = ("auth_config",)
    patch_data = {"title": "Patched"}

    def make(self, tenant, index):
        return tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), tenant=tenant,
                                     name=f"tool{index}")

    def create_data(self, tenant):
        return {"tool_type": "external", "name": "weather", "title": "Weather",
                "external_url": "https://api.example.com/weather", "api_method": "GET",
                "permission_code": "mcp_tool:call", "input_schema": WEATHER_SCHEMA,
                "auth_type": "bearer", "auth_config": {"token": SECRET}}

    def update_data(self, row):
        return {"name": row.name, "title": "Renamed", "description": "Finds users.",
                "tool_type": "api", "endpoint": row.endpoint_id, "timeout": 10,
                "max_retries": 1, "is_enabled": False}

    def invalid_payloads(self, tenant):
        return [({"name": "bad name!", "tool_type": "shell", "timeout": 0, "max_retries": 11},
                 {"name", "tool_type", "timeout", "max_retries"})]

    def in_scope(self, org):
        return [tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="inside",
                                      created_by=org["user"])]

    def out_of_scope(self, org):
        from conftest import make_user

        outsider = make_user(org["root"].tenant, "bob", department=org["root"])
        return [tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="outside",
                                      created_by=outsider)]


pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def sign_in(api, tenant, codes) -> None:
    api.force_login(make_actor(tenant, codes))


# ---------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------


def test_credentials_are_write_only_and_encrypted(api, tenant_a):
    """auth_config is accepted, stored encrypted and never answered; has_auth_config says
    whether one is stored; leaving it out keeps it, null removes it."""
    sign_in(api, tenant_a, ["mcp_tool:create", "mcp_tool:view", "mcp_tool:update"])
    data = TestMcpToolAPI().create_data(tenant_a)
    created = api.post(reverse("api:mcptool-list"), data, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert "auth_config" not in body and body["has_auth_config"] is True
    assert SECRET not in created.content.decode()
    pk = McpTool.objects.all_tenants().get(pk=body["id"]).pk
    raw = raw_auth_config(pk)
    assert raw.startswith("enc:v1:") and SECRET not in raw

    detail = reverse("api:mcptool-detail", args=[pk])
    for response in (api.get(detail), api.get(reverse("api:mcptool-list")),
                     api.patch(detail, {"title": "Weather now"}, format="json")):
        assert response.status_code == 200, response.content
        assert SECRET not in response.content.decode()
        assert "auth_config" not in response.content.decode().replace("has_auth_config", "")
    assert McpTool.objects.all_tenants().get(pk=pk).auth_config == {"token": SECRET}

    switched = api.patch(detail, {"auth_type": "none", "auth_config": None}, format="json")
    assert switched.status_code == 200, switched.content
    assert switched.json()["has_auth_config"] is False
    assert raw_auth_config(pk) is None


def test_bad_credentials_are_a_400_that_does_not_repeat_them(api, tenant_a):
    """Settings that do not suit the type name the field, never the secret."""
    sign_in(api, tenant_a, ["mcp_tool:create"])
    data = {**TestMcpToolAPI().create_data(tenant_a), "auth_config": {"tokn": SECRET}}
    response = api.post(reverse("api:mcptool-list"), data, format="json")
    assert_field_errors(response, {"auth_config"})
    assert SECRET not in response.content.decode()


def test_credentials_never_reach_the_operation_or_audit_log(api, tenant_a):
    """The request body and the row's change are logged with the credentials masked."""
    sign_in(api, tenant_a, ["mcp_tool:create", "mcp_tool:update"])
    created = api.post(reverse("api:mcptool-list"), TestMcpToolAPI().create_data(tenant_a),
                       format="json")
    assert created.status_code == 201, created.content
    api.patch(reverse("api:mcptool-detail", args=[created.json()["id"]]),
              {"auth_type": "api_key", "auth_config": {"header": "X-Key", "value": SECRET}},
              format="json")
    with all_tenants():
        operations = [str(row) for row in OperationLog.objects.values_list("request_params",
                                                                            flat=True)]
        audits = [str(row) for row in AuditLog.objects.values_list("old_value", "new_value")]
    assert operations and audits
    assert not [row for row in operations + audits if SECRET in row]


# ---------------------------------------------------------------------------
# Tenants, filters, derived fields
# ---------------------------------------------------------------------------


def test_two_tenants_see_their_own_tool_of_the_same_name(api, tenant_a, tenant_b):
    """The same tool name in two tenants, with different schemas: each sees its own only."""
    mine = api_tool(tenant_a, 1, "/api/v1/users/")
    theirs = api_tool(tenant_b, 1, "/api/v1/positions/")
    sign_in(api, tenant_a, ["mcp_tool:view"])
    listed = api.get(reverse("api:mcptool-list"), {"name": "TOOL1"}).json()["results"]
    assert [row["id"] for row in listed] == [str(mine.pk)]
    assert listed[0]["input_schema"] == mine.input_schema != theirs.input_schema
    assert_error(api.get(reverse("api:mcptool-detail", args=[theirs.pk])), 404, "not_found")


def test_filters_search_and_ordering(api, tenant_a):
    """tool_type, is_enabled, is_public and search narrow the list; ordering sorts it."""
    api_tool(tenant_a, 1)
    off = api_tool(tenant_a, 2, "/api/v1/positions/")
    with tenant_context(tenant_a):
        tools.set_enabled(tool=off, enabled=False)
        weather = tools.create_tool(tool_type="external", name="weather",
                                    external_url="https://api.example.com/w",
                                    permission_code="mcp_tool:call")
    sign_in(api, tenant_a, ["mcp_tool:view"])
    url = reverse("api:mcptool-list")

    def names(**params):
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names(tool_type="external") == [weather.name]
    assert names(is_enabled="false") == ["tool2"]
    assert names(is_public="true") == []
    assert names(search="positions") == ["tool2"]
    assert names(ordering="-name") == ["weather", "tool2", "tool1"]
    assert_field_errors(api.get(url, {"tool_type": "shell"}), {"tool_type"})


def test_derived_fields_of_an_api_tool_are_refused(api, tenant_a):
    """Typing an API tool's schema or permission is a 400; its endpoint and type stay."""
    tool = api_tool(tenant_a)
    sign_in(api, tenant_a, ["mcp_tool:update"])
    detail = reverse("api:mcptool-detail", args=[tool.pk])
    response = api.patch(detail, {"input_schema": {"type": "object"},
                                  "permission_code": "user:delete",
                                  "endpoint": endpoint("/api/v1/roles/").pk}, format="json")
    assert_field_errors(response, {"input_schema", "permission_code", "endpoint"})
    assert_field_errors(api.patch(detail, {"tool_type": "external"}, format="json"),
                        {"tool_type"})


def test_public_tools_are_the_platforms(api, tenant_a, platform):
    """A tenant cannot offer a tool to every tenant; an operator's platform tool can be."""
    tool = api_tool(tenant_a)
    sign_in(api, tenant_a, ["mcp_tool:update"])
    response = api.patch(reverse("api:mcptool-detail", args=[tool.pk]), {"is_public": True},
                         format="json")
    assert_field_errors(response, {"is_public"})
    sign_in(api, platform, ["mcp_tool:create"])
    data = {"tool_type": "api", "endpoint": endpoint("/api/v1/users/").pk, "is_public": True,
            "tenant": str(platform.pk)}
    created = api.post(reverse("api:mcptool-list"), data, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["is_public"] is True and created.json()["name"] == "users_list"


# ---------------------------------------------------------------------------
# make-tool
# ---------------------------------------------------------------------------


def make_tool_url(row: ApiEndpoint) -> str:
    return reverse("api:endpoint-make-tool", args=[row.pk])


def test_make_tool_turns_an_endpoint_into_a_tool_of_the_callers_tenant(api, tenant_a):
    """POST make-tool answers 201 with the tool, made from the operation, in the caller's tenant."""
    sign_in(api, tenant_a, ["mcp_tool:create"])
    row = endpoint("/api/v1/users/{id}/", "PATCH")
    response = api.post(make_tool_url(row), {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["tool_type"], body["endpoint"]) == (
        "users_partial_update", "api", row.pk)
    assert body["input_schema"]["required"] == ["id"]
    assert body["annotations"]["readOnlyHint"] is False
    assert McpTool.objects.all_tenants().get(pk=body["id"]).tenant_id == tenant_a.pk
    row.refresh_from_db()
    assert row.is_mcp_tool

    named = api.post(make_tool_url(row), {"name": "edit_user", "tenant": "not-read"},
                     format="json")
    assert named.status_code == 201 and named.json()["name"] == "edit_user"
    taken = api.post(make_tool_url(row), {"name": "EDIT_USER"}, format="json")
    assert "already has a tool" in str(assert_field_errors(taken, {"name"}))


def test_make_tool_ignores_a_tenant_named_by_a_tenant_user(api, tenant_a, tenant_b):
    """A tenant user's tool always lands in their own tenant."""
    sign_in(api, tenant_a, ["mcp_tool:create"])
    response = api.post(make_tool_url(endpoint("/api/v1/users/")), {"tenant": str(tenant_b.pk)},
                        format="json")
    assert response.status_code == 201, response.content
    assert McpTool.objects.all_tenants().get(pk=response.json()["id"]).tenant_id == tenant_a.pk


def test_make_tool_for_operators_defaults_to_the_platform(api, platform, tenant_b):
    """An operator's tool is the platform's, or the named tenant's."""
    sign_in(api, platform, ["mcp_tool:create"])
    own = api.post(make_tool_url(endpoint("/api/v1/users/")), {"is_public": True}, format="json")
    assert own.status_code == 201, own.content
    assert own.json()["tenant"] == str(platform.pk) and own.json()["is_public"] is True
    other = api.post(make_tool_url(endpoint("/api/v1/users/")), {"tenant": str(tenant_b.pk)},
                     format="json")
    assert other.status_code == 201 and other.json()["tenant"] == str(tenant_b.pk)


def test_make_tool_refusals(api, tenant_a):
    """Without mcp_tool:create: 403 naming it. A disabled or platform-only endpoint, or a
    public tool of a tenant: 400 naming the field. An unknown endpoint: 404."""
    sign_in(api, tenant_a, ["endpoint:view"])
    refused = api.post(make_tool_url(endpoint("/api/v1/users/")), {}, format="json")
    assert "mcp_tool:create" in assert_error(refused, 403, "permission_denied")["message"]

    sign_in(api, tenant_a, ["mcp_tool:create"])
    off = endpoint("/api/v1/roles/")
    off.is_enabled = False
    off.save()
    assert_field_errors(api.post(make_tool_url(off), {}, format="json"), {"endpoint"})
    assert_field_errors(api.post(make_tool_url(endpoint("/api/v1/tenants/", "POST")), {},
                                 format="json"), {"endpoint"})
    assert_field_errors(api.post(make_tool_url(endpoint("/api/v1/users/")), {"is_public": True},
                                 format="json"), {"is_public"})
    assert_error(api.post(reverse("api:endpoint-make-tool", args=[999999]), {}, format="json"),
                 404, "not_found")
    with all_tenants():
        assert not McpTool.objects.exists()


def test_the_registry_takes_no_post_but_make_tool(api, platform):
    """POST /endpoints/ creates nothing: the registry's rows come from the code."""
    sign_in(api, platform, ["endpoint:create", "endpoint:view"])
    assert api.post(reverse("api:endpoint-list"), {}, format="json").status_code == 405
