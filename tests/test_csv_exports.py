"""Every CSV export is safe to open in a spreadsheet (issue 10, item 2).

Text an attacker controls (a username typed at the sign-in page, a User-Agent header, a
tool name) reaches the exports. A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return would run as a formula in Excel, LibreOffice or Google Sheets; each is
written with a leading quote (``core.exports``), and the stored value stays as typed.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import get_resolver, reverse

from core.exports import cell, csv_rows, neutralise
from gateway.models import McpToolCallLog
from logs.models import AuditLog, LoginLog, OperationLog
from tests.api_cases import make_actor

pytestmark = pytest.mark.django_db

FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/","x")',
    "+1+2",
    "-1+2",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


def test_formula_cells_are_written_as_text():
    """Each dangerous start gets a leading quote; ordinary text and numbers do not."""
    for formula in FORMULAS:
        assert neutralise(formula) == "'" + formula
    assert cell("alice") == "alice"
    assert cell(-3) == -3 and cell(2.5) == 2.5
    assert cell(None) == ""
    assert cell({"a": "=1"}) == '{"a": "=1"}'
    lines = list(csv_rows(["=name"], [["=1+1", 4]]))
    assert lines == ["'=name\r\n", "'=1+1,4\r\n"]


def exported(client, route: str) -> list[list[str]]:
    response = client.get(reverse(route))
    assert response.status_code == 200, response.content
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def assert_no_formula(rows: list[list[str]], planted: set[str]) -> None:
    """Assert that no cell starts a formula and that every planted value came out quoted."""
    cells = [value for row in rows for value in row]
    dangerous = [value for value in cells if value.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert not dangerous, dangerous
    for value in planted:
        assert "'" + value in cells, f"{value!r} is missing from the export"


def test_login_log_export_neutralises_what_a_stranger_typed(client, tenant_a, org_a):
    """The reported case: a failed sign-in's username and User-Agent, through the login page."""
    username, agent = FORMULAS[0], FORMULAS[1]
    client.post(reverse("accounts:login"),
                {"tenant_code": "alpha", "username": username, "password": "wrong"},
                HTTP_USER_AGENT=agent)
    stored = LoginLog.objects.all_tenants().get(tenant=tenant_a)
    assert (stored.username, stored.user_agent) == (username, agent)  # stored as typed
    client.force_login(make_actor(tenant_a, ["loginlog:view"]))
    assert_no_formula(exported(client, "api:loginlog-export"), {username, agent})


def test_operation_log_export_neutralises_formulas(client, tenant_a):
    OperationLog.objects.create(
        tenant=tenant_a, username=FORMULAS[2], request_id=FORMULAS[3], module="accounts",
        operation="update", business_type="update", business_id=FORMULAS[4], method="PATCH",
        uri="/api/v1/x/", response_status=200, status="success", error_message=FORMULAS[5],
    )
    client.force_login(make_actor(tenant_a, ["operationlog:view"]))
    assert_no_formula(exported(client, "api:operationlog-export"),
                      {FORMULAS[2], FORMULAS[3], FORMULAS[4], FORMULAS[5]})


def test_audit_log_export_neutralises_formulas(client, tenant_a):
    AuditLog.objects.create(
        tenant=tenant_a, username=FORMULAS[4], request_id="r1", source="api",
        entity_type="accounts.position", entity_id=FORMULAS[0], action="update",
        old_value={"name": "=old"}, new_value={"name": "=new"},
    )
    client.force_login(make_actor(tenant_a, ["auditlog:view"]))
    assert_no_formula(exported(client, "api:auditlog-export"), {FORMULAS[4], FORMULAS[0]})


def test_mcp_call_log_export_neutralises_formulas(client, tenant_a):
    McpToolCallLog.objects.create(
        tenant=tenant_a, tool_name=FORMULAS[6], caller_id="c", caller_type="api_key",
        username=FORMULAS[2], request_id="r", status="failed", response_status=500,
        response_time=3, error_message=FORMULAS[1], protocol_version="2025-11-25",
        jsonrpc_id=FORMULAS[4],
    )
    client.force_login(make_actor(tenant_a, ["mcptoolcalllog:view"]))
    assert_no_formula(exported(client, "api:mcptoolcall-export"),
                      {FORMULAS[6], FORMULAS[2], FORMULAS[1], FORMULAS[4]})


def test_every_export_route_is_covered_here():
    """A new CSV export gets a test in this module (and goes through core.exports)."""
    names = set()

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif pattern.name and pattern.name.endswith("-export"):
                names.add(namespace + pattern.name)

    walk(get_resolver().url_patterns)
    assert names == {"api:loginlog-export", "api:operationlog-export", "api:auditlog-export",
                     "api:mcptoolcall-export"}
