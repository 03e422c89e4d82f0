"""The read API of the operation and audit logs: tenant isolation, time bounds, CSV export."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from logs.models import AuditLog, OperationLog

pytestmark = pytest.mark.django_db


def operation(tenant, uri: str, **fields) -> OperationLog:
    return OperationLog.objects.create(
        tenant=tenant, username="someone", request_id="r1", module="accounts",
        operation="update", business_type="update", method="PATCH", uri=uri,
        response_status=200, status="success", **fields,
    )


def audit(tenant, entity_id: str) -> AuditLog:
    return AuditLog.objects.create(
        tenant=tenant, username="someone", request_id="r1", source="api",
        entity_type="accounts.position", entity_id=entity_id, action="update",
        old_value={"name": "Old"}, new_value={"name": "New"},
    )


def test_operation_logs_are_the_tenants_own(client_a, tenant_a, tenant_b):
    """A tenant administrator lists only their tenant's operations, newest first."""
    operation(tenant_a, "/api/v1/positions/a1/")
    operation(tenant_a, "/api/v1/positions/a2/")
    operation(tenant_b, "/api/v1/positions/b1/")
    response = client_a.get("/api/v1/operation-logs/")
    assert response.status_code == 200, response.content
    uris = [row["uri"] for row in response.json()["results"]]
    assert uris == ["/api/v1/positions/a2/", "/api/v1/positions/a1/"]
    assert "count" not in response.json()  # cursor pagination


def test_audit_logs_show_old_and_new_values_of_the_tenant_only(client_a, tenant_a, tenant_b):
    """Audit rows carry the diff; another tenant's rows are 404."""
    mine, theirs = audit(tenant_a, "p-a"), audit(tenant_b, "p-b")
    listed = client_a.get("/api/v1/audit-logs/").json()["results"]
    assert [row["entity_id"] for row in listed] == ["p-a"]
    detail = client_a.get(f"/api/v1/audit-logs/{mine.pk}/").json()
    assert (detail["old_value"], detail["new_value"]) == ({"name": "Old"}, {"name": "New"})
    assert client_a.get(f"/api/v1/audit-logs/{theirs.pk}/").status_code == 404


def test_logs_cannot_be_written_through_the_api(client_a, tenant_a):
    """Log rows are append-only for the application."""
    row = audit(tenant_a, "p-a")
    assert client_a.post("/api/v1/audit-logs/", {}, content_type="application/json").status_code == 405
    assert client_a.delete(f"/api/v1/audit-logs/{row.pk}/").status_code == 405
    assert client_a.patch(f"/api/v1/operation-logs/{row.pk}/", {}).status_code in (404, 405)


def test_a_time_range_wider_than_the_maximum_is_refused(client_a, settings):
    """A range over LOG_QUERY_MAX_DAYS is a 400 naming the limit."""
    settings.LOG_QUERY_MAX_DAYS = 31
    response = client_a.get("/api/v1/operation-logs/", {
        "created_after": "2026-01-01T00:00:00Z", "created_before": "2026-03-01T00:00:00Z"})
    assert response.status_code == 400
    assert "31" in str(response.json()["error"]["fields"]["created_before"])


def test_malformed_filters_are_400(client_a):
    """A filter value that is not a date or a choice is a 400 with field errors."""
    response = client_a.get("/api/v1/audit-logs/", {"created_after": "yesterday", "action": "x"})
    assert response.status_code == 400
    assert {"created_after", "action"} <= set(response.json()["error"]["fields"])


def test_time_range_filters_rows(client_a, tenant_a):
    """Rows outside the range are left out."""
    old = operation(tenant_a, "/old/")
    OperationLog.objects.all_tenants().filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=40))
    operation(tenant_a, "/new/")
    since = (timezone.now() - datetime.timedelta(days=7)).isoformat()
    rows = client_a.get("/api/v1/operation-logs/", {"created_after": since}).json()["results"]
    assert [row["uri"] for row in rows] == ["/new/"]


def test_csv_export_streams_the_tenants_rows(client_a, tenant_a, tenant_b):
    """The export is streamed CSV with a header, holding the tenant's rows only."""
    audit(tenant_a, "p-a")
    audit(tenant_b, "p-b")
    response = client_a.get("/api/v1/audit-logs/export/")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,username")
    assert len(lines) == 2 and "p-a" in lines[1] and '"{""name"": ""New""}"' in lines[1]


def test_cursor_pages_do_not_repeat_rows(client_a, tenant_a):
    """Following ``next`` never repeats a row."""
    for index in range(5):
        audit(tenant_a, f"p{index}")
    first = client_a.get("/api/v1/audit-logs/", {"page_size": 2}).json()
    second = client_a.get(first["next"]).json()
    assert len(first["results"]) == len(second["results"]) == 2
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
