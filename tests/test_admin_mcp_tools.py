"""The admin of MCP tools (/admin/mcp/mcptool/) and the registry's "make tools" action."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import make_user
from core.context import all_tenants, tenant_context
from gateway.services import tools
from gateway.selectors import percentile, tool_usage
from gateway.models import McpTool, McpToolCallLog
from rbac.models import ApiEndpoint
from tests.admin_cases import (
    AdminTestCase,
    DataScopeAdminCase,
    listed,
    make_staff_actor,
    messages_of,
)

pytestmark = pytest.mark.django_db

SECRET = "adm-7a6b5c4d3e2f-secret"
CHANGELIST = "admin:mcp_mcptool_changelist"


def endpoint(path: str, method: str = "GET") -> ApiEndpoint:
    return ApiEndpoint.objects.get(path=path, method=method)


def raw_auth_config(pk) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_config FROM mcp_tools WHERE id = %s",
                       [pk.hex if connection.vendor in ("sqlite", "mysql") else pk])
        row = cursor.fetchone()
    return row[0] if row else None


def url(view: str, *args) -> str:
    return reverse(f"admin:mcp_mcptool_{view}", args=args)


class TestMcpToolAdmin(AdminTestCase, DataScopeAdminCase):
    model = McpTool

    def make(self, tenant, index):
        return tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name=f"tool{index}")

    def change_data(self, row):
        return {"name": "Renamed", "title": row.title, "description": row.description,
                "is_enabled": "on", "required_scopes": "[]", "timeout": "30",
                "max_retries": "3"}

    def in_scope(self, org):
        return [tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="inside",
                                      created_by=org["user"])]

    def out_of_scope(self, org):
        outsider = make_user(org["root"].tenant, "bob", department=org["root"])
        return [tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="outside",
                                      created_by=outsider)]


def external_form(**overrides) -> dict:
    data = {
        "name": "weather", "title": "Weather", "description": "Today's weather.",
        "tool_type": "external", "is_enabled": "on", "endpoint": "",
        "external_url": "https://api.example.com/weather", "api_method": "GET",
        "auth_type": "bearer", "auth_credentials": f'{{"token": "{SECRET}"}}',
        "permission_code": "mcp_tool:call", "required_scopes": "[]",
        "input_schema": '{"type": "object", "properties": {"city": {"type": "string"}}}',
        "output_schema": "", "annotations": '{"readOnlyHint": true}',
        "timeout": "30", "max_retries": "3",
    }
    data.update(overrides)
    return data


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


# ---------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------


def test_credentials_are_write_only_in_the_admin(client_a, tenant_a):
    """Typed once, stored encrypted, never rendered again; blank keeps, the box removes."""
    response = client_a.post(url("add"), external_form())
    assert response.status_code == 302, form_errors(response)
    with tenant_context(tenant_a):
        tool = McpTool.objects.get(name="weather")
    assert tool.auth_config == {"token": SECRET}
    assert raw_auth_config(tool.pk).startswith("enc:v1:")
    assert tool.annotations == {"readOnlyHint": True, "title": "Weather"}

    page = client_a.get(url("change", tool.pk))
    html = page.content.decode()
    assert page.status_code == 200 and SECRET not in html
    assert "Stored (encrypted)" in html and 'name="clear_credentials"' in html
    assert re.search(r'<textarea name="auth_credentials"[^>]*>\s*</textarea>', html)

    kept = client_a.post(url("change", tool.pk), external_form(auth_credentials="",
                                                               title="Weather now"))
    assert kept.status_code == 302, form_errors(kept)
    with tenant_context(tenant_a):
        assert McpTool.objects.get(pk=tool.pk).auth_config == {"token": SECRET}

    removed = client_a.post(url("change", tool.pk), external_form(
        auth_credentials="", auth_type="none", clear_credentials="on"))
    assert removed.status_code == 302, form_errors(removed)
    assert raw_auth_config(tool.pk) is None


def test_bad_credentials_are_a_form_error_that_is_not_echoed(client_a, tenant_a):
    """Settings that do not suit the type come back as an error on the field, empty."""
    response = client_a.post(url("add"), external_form(
        auth_credentials=f'{{"tokn": "{SECRET}"}}'))
    assert "auth_credentials" in form_errors(response)
    assert SECRET not in response.content.decode()
    not_json = client_a.post(url("add"), external_form(auth_credentials=f"token={SECRET}"))
    assert "auth_credentials" in form_errors(not_json)
    assert SECRET not in not_json.content.decode()
    with tenant_context(tenant_a):
        assert not McpTool.objects.exists()


def test_validation_errors_are_form_errors(client_a):
    """Bad schemas, a taken name, a public tenant tool: field errors, never a 500."""
    client_a.post(url("add"), external_form(auth_type="none", auth_credentials=""))
    response = client_a.post(url("add"), external_form(
        name="WEATHER", is_public="on", input_schema='{"type": "array"}',
        annotations='{"colour": "red"}', permission_code="tenant:create"))
    errors = form_errors(response)
    assert {"name", "is_public", "input_schema", "annotations", "permission_code"} <= set(errors)


# ---------------------------------------------------------------------------
# API tools, endpoint choices, operators
# ---------------------------------------------------------------------------


def test_an_api_tool_is_made_on_the_add_page(client_a, tenant_a):
    """Choosing an endpoint is enough: the name and schemas come from its operation; a
    schema typed for it is refused."""
    row = endpoint("/api/v1/users/{id}/", "GET")
    data = external_form(tool_type="api", endpoint=str(row.pk), name="", title="",
                         description="", external_url="", auth_type="none",
                         auth_credentials="", permission_code="", input_schema="",
                         annotations="")
    typed = client_a.post(url("add"), {**data, "input_schema": '{"type": "object"}'})
    assert "input_schema" in form_errors(typed)
    response = client_a.post(url("add"), data)
    assert response.status_code == 302, form_errors(response)
    with tenant_context(tenant_a):
        tool = McpTool.objects.get()
    assert (tool.name, tool.permission_code) == ("users_retrieve", "user:view")
    assert tool.input_schema["required"] == ["id"]

    page = client_a.get(url("change", tool.pk))
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    assert "endpoint" not in fields and "input_schema" not in fields  # read-only, derived
    assert "users_retrieve" in page.content.decode()


def test_endpoint_choices_are_those_a_tenant_can_use(client_a, operator):
    """A tenant sees live, enabled endpoints that are not the platform's; operators all
    live, enabled ones."""
    off = endpoint("/api/v1/roles/")
    off.is_enabled = False
    off.save()
    choices = client_a.get(url("add")).context["adminform"].form.fields["endpoint"].queryset
    paths = {(row.path, row.method) for row in choices}
    assert ("/api/v1/users/", "GET") in paths
    assert ("/api/v1/roles/", "GET") not in paths
    assert ("/api/v1/tenants/", "POST") not in paths
    operator_client = Client()
    operator_client.force_login(operator)
    operator_choices = (operator_client.get(url("add")).context["adminform"].form
                        .fields["endpoint"].queryset)
    assert ("/api/v1/tenants/", "POST") in {(r.path, r.method) for r in operator_choices}


def test_operator_sees_every_tenant_and_names_the_tenant(operator_client, tenant_a, tenant_b):
    """Operators list every tenant's tools with the tenant column and filter, and must
    choose the tenant of a new tool."""
    with tenant_context(tenant_a):
        mine = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="same")
    with tenant_context(tenant_b):
        theirs = tools.create_api_tool(endpoint=endpoint("/api/v1/positions/"), name="same")
    response = operator_client.get(reverse(CHANGELIST))
    with all_tenants():
        assert {str(mine.pk), str(theirs.pk)} <= listed(response)
    assert "tenant" in response.context["cl"].list_display
    filtered = operator_client.get(reverse(CHANGELIST), {"tenant__id__exact": str(tenant_b.pk)})
    with all_tenants():
        assert listed(filtered) == {str(theirs.pk)}
    missing = operator_client.post(url("add"), external_form(auth_type="none",
                                                             auth_credentials=""))
    assert "tenant" in form_errors(missing)
    made = operator_client.post(url("add"), external_form(tenant=str(tenant_b.pk)))
    assert made.status_code == 302, form_errors(made)
    with all_tenants():
        assert McpTool.objects.get(name="weather").tenant_id == tenant_b.pk


def test_tenant_admin_lists_only_own_tools(client_a, tenant_a, tenant_b):
    """Another tenant's tool of the same name is neither listed nor found by search."""
    with tenant_context(tenant_a):
        mine = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="same")
    with tenant_context(tenant_b):
        tools.create_api_tool(endpoint=endpoint("/api/v1/positions/"), name="same")
        tools.create_api_tool(endpoint=endpoint("/api/v1/roles/"), name="theirs_only")
    with tenant_context(tenant_a):
        assert listed(client_a.get(reverse(CHANGELIST))) == {str(mine.pk)}
        assert listed(client_a.get(reverse(CHANGELIST), {"q": "theirs_only"})) == set()
    assert "tenant" not in client_a.get(reverse(CHANGELIST)).context["cl"].list_display


def test_recycle_bin_and_restore(client_a, tenant_a):
    """Deleting soft-deletes (the registry flag follows); the recycle bin lists the tool;
    restore brings it back."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="gone")
    response = client_a.post(url("delete", tool.pk), {"post": "yes"})
    assert response.status_code == 302
    assert McpTool.objects.all_tenants(include_deleted=True).get(pk=tool.pk).is_deleted
    assert endpoint("/api/v1/users/").is_mcp_tool is False
    with tenant_context(tenant_a):
        assert listed(client_a.get(reverse(CHANGELIST), {"deleted": "1"})) == {str(tool.pk)}
    restored = client_a.post(reverse(CHANGELIST) + "?deleted=1", {
        "action": "restore_selected", "_selected_action": [str(tool.pk)]})
    assert restored.status_code == 302
    assert not McpTool.objects.all_tenants().get(pk=tool.pk).is_deleted
    assert endpoint("/api/v1/users/").is_mcp_tool is True


def test_enable_disable_and_refresh_actions(client_a, tenant_a):
    """The list's actions switch tools and derive API tools' schemas again."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="finder")
    McpTool.objects.all_tenants().filter(pk=tool.pk).update(input_schema={"type": "object"})
    for action in ("disable_selected", "refresh_selected"):
        response = client_a.post(reverse(CHANGELIST), {"action": action,
                                                       "_selected_action": [str(tool.pk)]})
        assert response.status_code == 302
    saved = McpTool.objects.all_tenants().get(pk=tool.pk)
    assert saved.is_enabled is False and "search" in saved.input_schema["properties"]


# ---------------------------------------------------------------------------
# Usage charts
# ---------------------------------------------------------------------------


def call(tool, response_time: int, status: str = "success", days_ago: int = 0, **fields):
    row = McpToolCallLog.objects.create(
        tenant_id=tool.tenant_id, tool=tool, tool_name=tool.name, caller_id="c1",
        caller_type="user", request_id="r1", response_time=response_time, status=status,
        **fields)
    if days_ago:
        McpToolCallLog.objects.all_tenants().filter(pk=row.pk).update(
            created_at=timezone.now() - dt.timedelta(days=days_ago))
    return row


def test_usage_counts_the_tools_calls_per_day(tenant_a, tenant_b, django_assert_num_queries):
    """Calls, error rate, average and 95th percentile per day, from two aggregate queries,
    counting neither another tool's calls nor calls older than 30 days."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="finder")
        other = tools.create_api_tool(endpoint=endpoint("/api/v1/roles/"), name="roles")
    with tenant_context(tenant_b):
        foreign = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="finder")
    for ms in range(1, 101):
        call(tool, ms, "failed" if ms % 10 == 0 else "success")
    call(tool, 50, days_ago=2)
    call(tool, 50, days_ago=45)
    call(other, 9000)
    call(foreign, 9000)
    with tenant_context(tenant_a), django_assert_num_queries(2):
        usage = tool_usage(tool)
    assert (usage.calls, usage.failures) == (101, 10)
    calls, rates, latency = usage.charts
    today = usage.end.strftime("%m-%d")
    bars = {bar.title: bar for bar in calls.bars}
    assert f"{today} Successes: 90" in bars and f"{today} Failures: 10" in bars
    assert {bar.title for bar in rates.bars if bar.title.startswith(today)} == {
        f"{today} Error rate (%): 10"}
    averages = {bar.title for bar in latency.bars if bar.title.startswith(today)}
    assert f"{today} Average: 50" in averages  # 50.5 rounds to even
    p95 = next(int(t.rsplit(" ", 1)[1]) for t in averages if "95th" in t)
    assert 90 <= p95 <= 100  # the histogram's precision, about 5 %
    two_days_ago = (usage.end - dt.timedelta(days=2)).strftime("%m-%d")
    assert f"{two_days_ago} Successes: 1" in {bar.title for bar in calls.bars}


def test_percentile_of_a_histogram():
    """The percentile is interpolated inside its bucket and kept within the day's range."""
    assert percentile({}, 0.95, 0, 0) == 0
    assert percentile({10: 1}, 0.95, 7, 7) == 7
    buckets = {0: 94, 100: 6}  # 94 calls under 1 ms, 6 around e^5 ms
    assert 140 <= percentile(buckets, 0.95, 0, 200) <= 160


def test_the_change_page_shows_the_charts_of_the_tool(client_a, tenant_a):
    """The change page draws inline SVG charts of the tool's calls, loading nothing."""
    with tenant_context(tenant_a):
        tool = tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name="finder")
    call(tool, 120)
    call(tool, 80, "failed")
    page = client_a.get(url("change", tool.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count("<svg viewBox") == 3
    assert "Calls per day" in html and "95th percentile" in html
    assert "2 calls, 1 failed" in html
    assert not re.search(r"""(?:src|href)=["']https?://""", html)


# ---------------------------------------------------------------------------
# The registry's action
# ---------------------------------------------------------------------------

ENDPOINTS = "admin:rbac_apiendpoint_changelist"


def test_operators_make_tools_of_endpoints_for_a_chosen_tenant(operator_client, tenant_a, platform):
    """The action asks for the tenant, then makes one tool per endpoint, reporting those it
    cannot make."""
    rows = [endpoint("/api/v1/users/"), endpoint("/api/v1/positions/")]
    off = endpoint("/api/v1/roles/")
    off.is_enabled = False
    off.save()
    selected = [str(row.pk) for row in [*rows, off]]
    page = operator_client.post(reverse(ENDPOINTS), {"action": "make_mcp_tools",
                                                     "_selected_action": selected})
    assert page.status_code == 200
    assert page.context["form"].initial["tenant"] == platform
    assert "/api/v1/positions/" in page.content.decode()

    public = operator_client.post(reverse(ENDPOINTS), {
        "action": "make_mcp_tools", "_selected_action": selected, "apply": "1",
        "tenant": str(tenant_a.pk), "is_public": "on"})
    assert public.status_code == 200 and public.context["form"].errors["is_public"]

    done = operator_client.post(reverse(ENDPOINTS), {
        "action": "make_mcp_tools", "_selected_action": selected, "apply": "1",
        "tenant": str(tenant_a.pk)})
    assert done.status_code == 302
    with tenant_context(tenant_a):
        assert sorted(McpTool.objects.values_list("name", flat=True)) == [
            "positions_list", "users_list"]
    texts = messages_of(done)
    assert any("Made 2 tools" in text for text in texts)
    assert any("GET /api/v1/roles/" in text and "disabled" in text for text in texts)


def test_the_make_tools_action_needs_the_create_code(client, platform):
    """An operator without mcp_tool:create is not offered the action."""
    client.force_login(make_staff_actor(platform, ["endpoint:view", "endpoint:update"]))
    response = client.get(reverse(ENDPOINTS))
    assert response.status_code == 200
    assert "make_mcp_tools" not in dict(response.context["action_form"].fields["action"].choices)


def test_a_viewer_sees_whether_credentials_are_stored_not_what_they_are(client, tenant_a):
    """With the view code only, an external tool's page says "stored" and offers no input."""
    with tenant_context(tenant_a):
        tool = tools.create_tool(tool_type="external", name="weather", auth_type="bearer",
                                 auth_config={"token": SECRET},
                                 external_url="https://api.example.com/w",
                                 permission_code="mcp_tool:call")
    client.force_login(make_staff_actor(tenant_a, ["mcp_tool:view"]))
    page = client.get(url("change", tool.pk))
    html = page.content.decode()
    assert page.status_code == 200 and SECRET not in html
    assert "Stored (encrypted)" in html and 'name="auth_credentials"' not in html


@pytest.mark.parametrize("as_operator", [False, True])
def test_the_tool_list_costs_the_same_for_3_and_30_tools(
    client, admin_a, operator, tenant_a, as_operator, django_assert_max_num_queries
):
    """The change list's queries do not grow with its rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(operator if as_operator else admin_a)
    with tenant_context(tenant_a):
        for index in range(3):
            tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name=f"t{index}")
    client.get(reverse(CHANGELIST))  # warm-up: fills the permission cache
    with CaptureQueriesContext(connection) as measured:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    with tenant_context(tenant_a):
        for index in range(3, 30):
            tools.create_api_tool(endpoint=endpoint("/api/v1/users/"), name=f"t{index}")
    with django_assert_max_num_queries(len(measured)):
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
