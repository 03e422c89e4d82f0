"""The admin of the MCP tool call log: /admin/mcp/mcptoolcalllog/ (read-only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.services.api_keys import issue_api_key
from conftest import make_user
from core.context import all_tenants, tenant_context
from gateway.services import tools
from gateway.models import McpToolCallLog
from rbac.models import ApiEndpoint
from tests.admin_cases import DataScopeAdminCase, ReadOnlyAdminTestCase, listed

pytestmark = pytest.mark.django_db

STACK = "Traceback (most recent call last): kaboom"


def log_call(tenant, name: str = "finder", user=None, tool=None, **fields) -> McpToolCallLog:
    values = {"tool_name": name, "caller_id": str(user.pk) if user else "c0",
              "caller_type": "user", "request_id": "r1", "status": "failed",
              "error_message": "It failed.", "error_stack": STACK,
              "request_params": {"city": "Oslo"}, "response_data": {"answer": "Rain"}}
    values.update(fields)
    return McpToolCallLog.objects.create(tenant=tenant, user=user, tool=tool,
                                         username=user.username if user else "", **values)


class TestMcpToolCallLogAdmin(ReadOnlyAdminTestCase, DataScopeAdminCase):
    model = McpToolCallLog
    expected_change = {"tool_name": "Renamed"}
    scope_actions = ("view",)  # log rows have no update code

    def make(self, tenant, index):
        return log_call(tenant, f"tool{index}")

    def change_data(self, row):
        return {"tool_name": "Renamed"}

    # A call's data scope is its user's department (rbac_owner_path = "user").
    def in_scope(self, org):
        return [log_call(org["user"].tenant, user=org["user"])]

    def out_of_scope(self, org):
        bob = make_user(org["root"].tenant, "bob", department=org["root"])
        return [log_call(bob.tenant, user=bob)]


def change_url(row) -> str:
    return reverse("admin:mcp_mcptoolcalllog_change", args=[row.pk])


CHANGELIST = "admin:mcp_mcptoolcalllog_changelist"


def test_the_stack_is_shown_to_operators_only(client, admin_a, operator, tenant_a):
    """A tenant administrator reads the message, never the stack; an operator reads both."""
    row = log_call(tenant_a)
    client.force_login(admin_a)
    page = client.get(change_url(row)).content.decode()
    assert "It failed." in page and STACK not in page
    client.force_login(operator)
    assert STACK in client.get(change_url(row)).content.decode()


def test_arguments_and_response_are_side_by_side(client_a, tenant_a):
    """The detail shows the arguments and the response in one table."""
    page = client_a.get(change_url(log_call(tenant_a))).content.decode()
    table = page[page.index('class="mcp-exchange"'):]
    table = table[:table.index("</table>")]
    assert "Oslo" in table and "Rain" in table


def test_nobody_writes_the_call_log(operator_client, tenant_a):
    """Not even an operator adds, changes or deletes a call row."""
    row = log_call(tenant_a)
    assert operator_client.get(reverse("admin:mcp_mcptoolcalllog_add")).status_code == 403
    assert operator_client.post(change_url(row), {"tool_name": "x"}).status_code == 403
    delete = reverse("admin:mcp_mcptoolcalllog_delete", args=[row.pk])
    assert operator_client.post(delete, {"post": "yes"}).status_code == 403
    assert McpToolCallLog.objects.all_tenants().filter(pk=row.pk).exists()


def test_filters_stay_within_the_tenant(client_a, admin_a, tenant_a, tenant_b):
    """The tool and caller filters offer the tenant's tools, users and keys only, and filter."""
    row = ApiEndpoint.objects.get(path="/api/v1/users/", method="GET")
    with tenant_context(tenant_a):
        mine = tools.create_api_tool(endpoint=row, name="mine")
    with tenant_context(tenant_b):
        theirs = tools.create_api_tool(endpoint=row, name="theirs")
    key, _plaintext = issue_api_key(user=admin_a, name="agent", scopes=[])
    by_key = log_call(tenant_a, "mine", tool=mine, caller_type="api_key", caller_id=key.prefix)
    by_user = log_call(tenant_a, "mine", user=admin_a, tool=mine)
    log_call(tenant_b, "theirs", tool=theirs)
    response = client_a.get(reverse(CHANGELIST))
    specs = {spec.title: spec for spec in response.context["cl"].filter_specs}
    assert [label for _pk, label in specs["tool"].lookup_choices] == ["mine"]
    callers = dict(specs["caller"].lookup_choices)
    assert callers[key.prefix].startswith("API key") and str(admin_a.pk) in callers
    assert "theirs" not in response.content.decode()
    with tenant_context(tenant_a):
        assert listed(client_a.get(reverse(CHANGELIST), {"caller_id": key.prefix})) == {
            str(by_key.pk)}
        assert listed(client_a.get(reverse(CHANGELIST), {"status__exact": "failed",
                                                         "caller_type__exact": "user"})) == {
            str(by_user.pk)}


def test_operators_see_every_tenant_and_filter_by_tenant(operator_client, tenant_a, tenant_b):
    """Operators list every tenant's calls, with the tenant column and filter."""
    mine, theirs = log_call(tenant_a), log_call(tenant_b)
    response = operator_client.get(reverse(CHANGELIST))
    with all_tenants():
        assert {str(mine.pk), str(theirs.pk)} <= listed(response)
    assert "tenant" in response.context["cl"].list_display
    filtered = operator_client.get(reverse(CHANGELIST), {"tenant__id__exact": str(tenant_b.pk)})
    with all_tenants():
        assert listed(filtered) == {str(theirs.pk)}


@pytest.mark.parametrize("as_operator", [False, True])
def test_the_call_list_costs_the_same_for_3_and_30_calls(
    client, admin_a, operator, tenant_a, as_operator, django_assert_max_num_queries
):
    """The change list's queries do not grow with its rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(operator if as_operator else admin_a)
    for _index in range(3):
        log_call(tenant_a, user=admin_a)
    client.get(reverse(CHANGELIST))  # warm-up: fills the permission cache
    with CaptureQueriesContext(connection) as measured:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    for _index in range(27):
        log_call(tenant_a, user=admin_a)
    with django_assert_max_num_queries(len(measured)):
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
