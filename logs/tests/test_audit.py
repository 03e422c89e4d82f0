"""The audit trail (issue 4, items 1-2): operation and audit logs captured without view code."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
from celery import shared_task
from django.test import Client
from django.urls import reverse

from accounts.services.api_keys import issue_api_key
from accounts.models import Position
from core import logrows
from core.context import actor_context, all_tenants, tenant_context
from logs import audit
from logs.models import AuditLog, OperationLog
from rbac.models import Permission, Role

pytestmark = pytest.mark.django_db

POSITIONS = "/api/v1/positions/"


@shared_task(name="logs.tests.rename_position")
def rename_position(position_id: str, name: str) -> None:
    """Rename one position (a small tenant-scoped task)."""
    position = Position.objects.get(pk=position_id)
    position.name = name
    position.save()


def audit_rows(**filters) -> list[AuditLog]:
    with all_tenants():
        return list(AuditLog.objects.filter(**filters).order_by("id"))


def operation_rows(**filters) -> list[OperationLog]:
    with all_tenants():
        return list(OperationLog.objects.filter(**filters).order_by("id"))


def position_of(tenant, code: str = "dev") -> Position:
    with tenant_context(tenant):
        return Position.objects.including_deleted().get(code=code)


def everything_logged() -> str:
    """Return every log row's values as one text, to look for leaked secrets."""
    with all_tenants():
        rows = [*AuditLog.objects.values(), *OperationLog.objects.values()]
    return json.dumps(rows, default=str)


# ---------------------------------------------------------------------------
# Admin, API, Celery
# ---------------------------------------------------------------------------


def test_admin_create_update_delete_restore_are_audited(client_a, admin_a, tenant_a):
    """Each admin write of a position leaves one audit row with its field diff and actor."""
    response = client_a.post(
        reverse("admin:accounts_position_add"),
        {"code": "dev", "name": "Developer", "sort_order": 1, "status": "active",
         "description": ""},
    )
    assert response.status_code == 302, response.content
    position = position_of(tenant_a)

    created = audit_rows(entity_type="accounts.position", entity_id=str(position.pk))
    assert [row.action for row in created] == ["create"]
    assert created[0].new_value["name"] == "Developer"
    assert created[0].old_value is None
    assert created[0].tenant_id == tenant_a.pk
    assert created[0].user_id == admin_a.pk
    assert created[0].username == admin_a.username
    assert created[0].source == "admin"

    response = client_a.post(
        reverse("admin:accounts_position_change", args=[position.pk]),
        {"code": "dev", "name": "Senior developer", "sort_order": 1, "status": "active",
         "description": ""},
    )
    assert response.status_code == 302
    response = client_a.post(
        reverse("admin:accounts_position_delete", args=[position.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert position_of(tenant_a).is_deleted
    response = client_a.post(
        reverse("admin:accounts_position_changelist") + "?deleted=1",
        {"action": "restore_selected", "_selected_action": [str(position.pk)]},
    )
    assert response.status_code == 302
    assert not position_of(tenant_a).is_deleted

    rows = audit_rows(entity_type="accounts.position", entity_id=str(position.pk))
    assert [row.action for row in rows] == ["create", "update", "delete", "restore"]
    update, delete, restore = rows[1:]
    assert update.old_value == {"name": "Developer"}
    assert update.new_value == {"name": "Senior developer"}
    assert delete.old_value["is_deleted"] is False and delete.new_value["is_deleted"] is True
    assert delete.new_value["deleted_by_id"] == str(admin_a.pk)
    assert restore.old_value["is_deleted"] is True and restore.new_value["is_deleted"] is False

    operations = operation_rows(module="accounts")
    assert [op.business_type for op in operations] == ["create", "update", "delete", "other"]
    assert all(op.status == "success" and op.tenant_id == tenant_a.pk for op in operations)
    assert operations[1].business_id == str(position.pk)
    assert operations[1].old_value == {"name": "Developer"}
    # Every audit row carries the id of the request that made it.
    assert {row.request_id for row in rows} <= {op.request_id for op in operations}


def test_api_create_update_delete_restore_are_audited(client_a, admin_a, tenant_a):
    """The API's writes are audited the same way, with one operation log per request."""
    response = client_a.post(
        POSITIONS, {"code": "qa", "name": "Tester"}, content_type="application/json",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-123"
    pk = response.json()["id"]
    assert client_a.patch(f"{POSITIONS}{pk}/", {"name": "QA"},
                          content_type="application/json").status_code == 200
    assert client_a.delete(f"{POSITIONS}{pk}/").status_code == 204
    assert client_a.post(f"{POSITIONS}{pk}/restore/").status_code == 200

    rows = audit_rows(entity_type="accounts.position", entity_id=pk)
    assert [row.action for row in rows] == ["create", "update", "delete", "restore"]
    assert rows[0].request_id == "req-123"
    assert rows[1].old_value == {"name": "Tester"} and rows[1].new_value == {"name": "QA"}
    assert all(row.source == "api" and row.user_id == admin_a.pk for row in rows)

    operations = operation_rows(request_id="req-123")
    assert len(operations) == 1
    op = operations[0]
    assert (op.module, op.operation, op.business_type, op.method) == (
        "accounts", "position.create", "create", "POST"
    )
    assert op.response_status == 201 and op.status == "success"
    assert op.business_id == pk
    assert op.request_params == {"body": {"code": "qa", "name": "Tester"}}
    assert op.new_value["name"] == "Tester"
    assert [o.operation for o in operation_rows(module="accounts")] == [
        "position.create", "position.partial_update", "position.destroy", "position.restore"
    ]


def test_reads_are_not_logged_unless_asked(client_a, tenant_a, settings):
    """GET requests write no operation log unless LOG_READS is on."""
    assert client_a.get(POSITIONS).status_code == 200
    assert operation_rows() == []
    settings.LOG_READS = True
    assert client_a.get(POSITIONS + "?status=active").status_code == 200
    [op] = operation_rows()
    assert op.method == "GET" and op.business_type == "other"
    assert op.request_params == {"query": {"status": "active"}}


def test_celery_task_changes_are_audited(org_a, admin_a, tenant_a):
    """A task run leaves audit rows with the actor that sent it and a request id."""
    position = org_a["position"]
    with tenant_context(tenant_a), actor_context(admin_a.pk):
        result = rename_position.apply(args=[str(position.pk), "Renamed"])
    assert result.successful(), result.traceback

    [row] = audit_rows(entity_type="accounts.position")
    assert row.action == "update" and row.source == "celery"
    assert row.old_value == {"name": "Alpha Developer"} and row.new_value == {"name": "Renamed"}
    assert row.user_id == admin_a.pk and row.tenant_id == tenant_a.pk
    assert row.request_id == result.id


def test_failed_celery_task_writes_no_audit_rows(org_a, tenant_a):
    """A task that fails after writing (its transaction rolled back) leaves no audit row."""
    position = org_a["position"]
    with tenant_context(tenant_a):
        with mock.patch.object(Position, "save", side_effect=RuntimeError("boom")):
            result = rename_position.apply(args=[str(position.pk), "Renamed"])
    assert result.failed()
    assert audit_rows() == []


# ---------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------


def test_password_change_never_stores_the_secret(client_a, org_a, tenant_a):
    """Changing a password through the admin records that it changed, never its value."""
    alice = org_a["user"]
    old_hash = alice.password
    response = client_a.post(
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        {"password1": "Brand-new-pass-77", "password2": "Brand-new-pass-77",
         "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    alice.refresh_from_db()
    [row] = audit_rows(entity_type="accounts.user", entity_id=str(alice.pk))
    assert row.old_value["password"] == audit.MASK and row.new_value["password"] == audit.MASK
    [op] = operation_rows(module="accounts")
    assert op.request_params["body"]["password1"] == audit.MASK
    logged = everything_logged()
    assert "Brand-new-pass-77" not in logged
    assert old_hash not in logged and alice.password not in logged


def test_api_key_issue_never_stores_the_secret(org_a, admin_a, tenant_a):
    """Issuing an API key records the key without its hash or plaintext."""
    with audit.audit_context() as state, tenant_context(tenant_a), actor_context(admin_a.pk):
        api_key, plaintext = issue_api_key(user=org_a["user"], name="ci", scopes=["user:view"])
        audit.flush_audit(state)
    [row] = audit_rows(entity_type="accounts.apikey")
    assert row.action == "create" and row.new_value["key_hash"] == audit.MASK
    logged = everything_logged()
    assert plaintext not in logged and api_key.key_hash not in logged
    secret = plaintext.split("_", 2)[2]  # atr_<prefix>_<secret>; the secret may hold "_"
    assert secret and secret not in logged


def test_fields_marked_secret_are_redacted(org_a, tenant_a, monkeypatch):
    """A field listed in the model's audit_secret_fields is masked in old and new values."""
    monkeypatch.setattr(Position, "audit_secret_fields", ("description",), raising=False)
    position = org_a["position"]
    with audit.audit_context() as state, tenant_context(tenant_a):
        position.description = "launch codes 0000"
        position.name = "Renamed"
        position.save()
        audit.flush_audit(state)
    [row] = audit_rows(entity_type="accounts.position")
    assert row.new_value == {"description": audit.MASK, "name": "Renamed"}
    assert "launch codes" not in everything_logged()


def test_secret_keys_in_request_bodies_are_redacted(client_a, tenant_a):
    """Secret-looking keys and API keys in a request body never reach the operation log."""
    client_a.post(
        POSITIONS,
        {"code": "x", "name": "X", "token": "t0ps3cret",
         "description": "key atr_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
        content_type="application/json",
    )
    logged = everything_logged()
    assert "t0ps3cret" not in logged
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ" not in logged


# ---------------------------------------------------------------------------
# Append-only
# ---------------------------------------------------------------------------


def test_log_rows_cannot_be_changed_or_deleted_in_the_admin(client_a, tenant_a):
    """The admin shows log rows read-only: change and delete answer 403, add is refused."""
    client_a.post(POSITIONS, {"code": "qa", "name": "Tester"}, content_type="application/json")
    [row] = audit_rows()
    [op] = operation_rows()
    for name, obj in (("auditlog", row), ("operationlog", op)):
        change = reverse(f"admin:logs_{name}_change", args=[obj.pk])
        page = client_a.get(change)
        assert page.status_code == 200
        assert client_a.post(change, {"action": "x"}).status_code == 403
        assert client_a.post(reverse(f"admin:logs_{name}_delete", args=[obj.pk]),
                             {"post": "yes"}).status_code == 403
        assert client_a.get(reverse(f"admin:logs_{name}_add")).status_code == 403
    detail = client_a.get(reverse("admin:logs_auditlog_change", args=[row.pk])).content.decode()
    assert "audit-diff" in detail and "Tester" in detail
    assert len(audit_rows()) == 1


def test_no_api_write_routes_for_logs(client_a, tenant_a):
    """The API offers no route that writes log rows."""
    for url in ("/api/v1/audit-logs/", "/api/v1/operation-logs/", "/api/v1/auditlogs/"):
        assert client_a.post(url, {}, content_type="application/json").status_code in (404, 405)


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------


def test_rejected_write_is_logged_and_its_changes_are_not_audited(client_a, tenant_a):
    """A 400 raised after the save (rolled back) is logged with its error; no audit row."""
    from django.core.exceptions import ValidationError

    with mock.patch(
        "tenants.api.base.PlatformViewSet.check_still_in_scope",
        side_effect=ValidationError("Outside your data scope."),
    ):
        response = client_a.post(POSITIONS, {"code": "qa", "name": "Tester"},
                                 content_type="application/json")
    assert response.status_code == 400
    with tenant_context(tenant_a):
        assert not Position.objects.including_deleted().filter(code="qa").exists()
    assert audit_rows() == []
    [op] = operation_rows()
    assert op.status == "failed" and op.response_status == 400
    assert "Outside your data scope." in op.error_message
    assert op.old_value is None and op.new_value is None


def test_server_error_is_logged_and_its_changes_are_not_audited(admin_a, tenant_a):
    """A 500 from a failing service is logged with the exception; the save is rolled back."""
    client = Client(raise_request_exception=False)
    client.force_login(admin_a)
    with mock.patch(
        "tenants.api.base.PlatformViewSet.check_still_in_scope",
        side_effect=RuntimeError("service exploded"),
    ):
        response = client.post(POSITIONS, {"code": "qa", "name": "Tester"},
                               content_type="application/json")
    assert response.status_code == 500
    with tenant_context(tenant_a):
        assert not Position.objects.including_deleted().filter(code="qa").exists()
    assert audit_rows() == []
    [op] = operation_rows()
    assert op.status == "failed" and op.response_status == 500
    assert "RuntimeError: service exploded" in op.error_message


def failing_for(model):
    """Return a stand-in for ``insert_statements`` that fails for ``model``'s rows only."""
    real = logrows.insert_statements

    def insert_statements(rows, using):
        if isinstance(rows[0], model):
            raise RuntimeError("db down")
        return real(rows, using)

    return insert_statements


def test_log_write_failure_does_not_break_the_request(client_a, tenant_a, caplog):
    """When the operation log cannot be written the request still succeeds; it is reported."""
    with mock.patch("core.logrows.insert_statements", side_effect=failing_for(OperationLog)):
        with caplog.at_level(logging.ERROR, logger="atrium.audit"):
            response = client_a.post(POSITIONS, {"code": "qa", "name": "Tester"},
                                     content_type="application/json")
    assert response.status_code == 201
    assert operation_rows() == []
    assert any("Could not write the operation log" in r.getMessage() and r.exc_info
               for r in caplog.records)
    # The audit rows are written separately and survive.
    assert [row.action for row in audit_rows()] == ["create"]


def test_audit_write_failure_does_not_break_the_request(client_a, tenant_a, caplog):
    """When the audit rows cannot be written the request still succeeds; it is reported."""
    with mock.patch("core.logrows.insert_statements", side_effect=failing_for(AuditLog)):
        with caplog.at_level(logging.ERROR, logger="atrium.audit"):
            response = client_a.post(POSITIONS, {"code": "qa", "name": "Tester"},
                                     content_type="application/json")
    assert response.status_code == 201
    assert any("Could not write" in r.getMessage() for r in caplog.records)
    assert len(operation_rows()) == 1


# ---------------------------------------------------------------------------
# Bulk and many-to-many
# ---------------------------------------------------------------------------


def make_positions(tenant, count: int) -> list[Position]:
    with tenant_context(tenant):
        return [Position.objects.create(code=f"p{i}", name=f"P{i}") for i in range(count)]


def test_bulk_update_and_delete_through_tenant_queryset(tenant_a, admin_a):
    """QuerySet.update and the soft QuerySet.delete leave one audit row per affected row."""
    positions = make_positions(tenant_a, 3)
    with audit.audit_context() as state, tenant_context(tenant_a), actor_context(admin_a.pk):
        assert Position.objects.filter(code__in=["p0", "p1"]).update(status="inactive") == 2
        Position.objects.filter(code="p2").delete()
        audit.flush_audit(state)
    rows = audit_rows(entity_type="accounts.position")
    updates = [row for row in rows if row.action == "update"]
    assert sorted(row.entity_id for row in updates) == sorted(str(p.pk) for p in positions[:2])
    assert all(row.old_value == {"status": "active"} and row.new_value == {"status": "inactive"}
               for row in updates)
    [deleted] = [row for row in rows if row.action == "delete"]
    assert deleted.entity_id == str(positions[2].pk) and deleted.new_value["is_deleted"] is True
    assert all(row.tenant_id == tenant_a.pk and row.user_id == admin_a.pk for row in rows)


def test_bulk_update_over_the_cap_is_summarised(tenant_a, settings):
    """Beyond AUDIT_BULK_DIFF_LIMIT rows one bulk update is one summary row."""
    settings.AUDIT_BULK_DIFF_LIMIT = 2
    make_positions(tenant_a, 3)
    with audit.audit_context() as state, tenant_context(tenant_a):
        Position.objects.update(status="inactive")
        audit.flush_audit(state)
    [row] = audit_rows(entity_type="accounts.position")
    assert row.action == "bulk_update" and row.entity_id == "*"
    assert row.new_value == {"rows": 3, "fields": ["status"]}


def test_hard_delete_is_audited(tenant_a):
    """hard_delete removes rows through Django's collector; each one is recorded."""
    positions = make_positions(tenant_a, 2)
    with audit.audit_context() as state, tenant_context(tenant_a):
        Position.objects.all().hard_delete()
        audit.flush_audit(state)
    rows = audit_rows(entity_type="accounts.position", action="delete")
    assert sorted(row.entity_id for row in rows) == sorted(str(p.pk) for p in positions)
    assert rows[0].old_value["code"] in {"p0", "p1"} and rows[0].new_value is None


def test_role_permission_changes_are_audited_on_the_role(tenant_a, admin_a):
    """Adding and removing a role's permissions is recorded as m2m changes on the role."""
    view, update = Permission.objects.filter(code__in=["position:view", "position:update"]) \
        .order_by("code")
    with tenant_context(tenant_a):
        role = Role.objects.create(code="clerk", name="Clerk")
    with audit.audit_context() as state, tenant_context(tenant_a), actor_context(admin_a.pk):
        role.permissions.add(view, update)
        role.permissions.remove(view)
        role.permissions.clear()
        audit.flush_audit(state)
    rows = audit_rows(entity_type="rbac.role", entity_id=str(role.pk))
    assert [row.action for row in rows] == ["m2m_add", "m2m_remove", "m2m_clear"]
    assert rows[0].new_value == {"permissions": sorted([str(view.pk), str(update.pk)])}
    assert rows[1].old_value == {"permissions": [str(view.pk)]}
    assert rows[2].old_value == {"permissions": [str(update.pk)]}
    assert all(row.tenant_id == tenant_a.pk for row in rows)


def test_role_permissions_set_is_audited(tenant_a):
    """Setting a role's permissions (what the role forms do) records what was added."""
    with tenant_context(tenant_a):
        role = Role.objects.create(code="clerk", name="Clerk")
    permission = Permission.objects.get(code="position:view")
    with audit.audit_context() as state, tenant_context(tenant_a):
        role.permissions.set([permission])
        audit.flush_audit(state)
    [row] = audit_rows(entity_type="rbac.role", action="m2m_add")
    assert row.new_value == {"permissions": [str(permission.pk)]}


# ---------------------------------------------------------------------------
# Isolation, truncation
# ---------------------------------------------------------------------------


def test_tenant_admin_sees_only_own_audit_rows(client, admin_a, admin_b, tenant_a, tenant_b):
    """Tenant A's administrator lists only tenant A's audit and operation rows."""
    for admin_user, code in ((admin_a, "alpha-pos"), (admin_b, "beta-pos")):
        client.force_login(admin_user)
        assert client.post(POSITIONS, {"code": code, "name": code},
                           content_type="application/json").status_code == 201
    client.force_login(admin_a)
    for name in ("auditlog", "operationlog"):
        response = client.get(reverse(f"admin:logs_{name}_changelist"))
        assert response.status_code == 200
        with tenant_context(tenant_a):
            listed = list(response.context["cl"].result_list)
        assert listed and {row.tenant_id for row in listed} == {tenant_a.pk}
    content = client.get(reverse("admin:logs_auditlog_changelist")).content.decode()
    assert "beta-pos" not in content


def test_large_payloads_are_truncated_with_a_marker(client_a, tenant_a, settings):
    """A payload over LOG_PAYLOAD_LIMIT is stored as a truncation marker, not rejected."""
    settings.LOG_PAYLOAD_LIMIT = 2048
    description = "x" * 10_000
    response = client_a.post(POSITIONS, {"code": "big", "name": "Big", "description": description},
                             content_type="application/json")
    assert response.status_code == 201
    [op] = operation_rows()
    assert op.request_params[audit.TRUNCATED_KEY] is True
    assert op.request_params["size"] > 10_000
    [row] = audit_rows()
    assert row.new_value[audit.TRUNCATED_KEY] is True
    assert len(json.dumps(row.new_value)) < 4096


def test_truncate_text_keeps_a_marker():
    """Long text is cut to the byte limit with a marker at its end."""
    text = audit.truncate_text("é" * 1000, limit=100)
    assert len(text.encode()) <= 100 and audit.TRUNCATED_KEY in text


# ---------------------------------------------------------------------------
# A platform operator acting inside a tenant
# ---------------------------------------------------------------------------


def change_form_data(response) -> dict:
    """Return the POST data of an admin change form as it was rendered (unchanged)."""
    data = {}
    for form in (response.context["adminform"].form,
                 *(f for fs in response.context["inline_admin_formsets"] for f in fs.formset.forms),
                 *(fs.formset.management_form for fs in response.context["inline_admin_formsets"])):
        for name, bound in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None or value is False:
                continue
            if value is True:
                data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(item) for item in value]
            else:
                data[key] = str(value)
    return data


def assert_acting_for(rows, tenant, operator, platform) -> None:
    """Each row carries the tenant acted in, the operator, and the operator's own tenant."""
    assert rows
    for row in rows:
        assert row.tenant_id == tenant.pk
        assert row.user_id == operator.pk and row.username == operator.username
        assert row.operator_tenant_id == platform.pk


def test_operator_changing_a_tenant_user_in_the_admin(operator_client, operator, platform,
                                                      org_a, tenant_a, tenant_b):
    """An operator's admin change of tenant A's user is logged in A, as the operator."""
    alice = org_a["user"]
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    page = operator_client.get(url)
    assert page.status_code == 200
    data = change_form_data(page)
    data["name"] = "Alice Operated"
    response = operator_client.post(url, data, HTTP_X_REQUEST_ID="op-admin-1")
    assert response.status_code == 302, response.context["adminform"].form.errors

    [row] = audit_rows(entity_type="accounts.user", entity_id=str(alice.pk))
    assert row.action == "update" and row.new_value == {"name": "Alice Operated"}
    assert row.source == "admin"
    assert_acting_for([row], tenant_a, operator, platform)
    [op] = operation_rows(request_id="op-admin-1")
    assert op.business_id == str(alice.pk) and op.status == "success"
    assert_acting_for([op], tenant_a, operator, platform)
    # Nothing of it lands in tenant B or in the operator's own tenant.
    assert audit_rows(tenant_id=tenant_b.pk) == [] and operation_rows(tenant_id=tenant_b.pk) == []
    assert operation_rows(tenant_id=platform.pk) == []


def test_operator_changing_a_tenant_user_through_the_api(operator_client, operator, platform,
                                                         org_a, org_b, tenant_a):
    """An operator's API change of tenant A's user is logged in A, as the operator."""
    alice = org_a["user"]
    response = operator_client.patch(
        f"/api/v1/users/{alice.pk}/", {"name": "Alice via API"},
        content_type="application/json", HTTP_X_REQUEST_ID="op-api-1",
    )
    assert response.status_code == 200, response.content

    [row] = audit_rows(entity_type="accounts.user", entity_id=str(alice.pk))
    assert row.action == "update" and row.new_value == {"name": "Alice via API"}
    assert row.source == "api"
    assert_acting_for([row], tenant_a, operator, platform)
    [op] = operation_rows(request_id="op-api-1")
    assert op.operation == "user.partial_update" and op.business_id == str(alice.pk)
    assert_acting_for([op], tenant_a, operator, platform)
    # Tenant B's user of the same name is untouched and unlogged.
    assert audit_rows(entity_id=str(org_b["user"].pk)) == []


def test_log_rows_are_inserted_as_djangos_compiler_writes_them(tenant_a, admin_a):
    """The INSERT statements equal the compiler's, text and values, for 1 row and 3 rows."""
    from django.db import connection
    from django.db.models import sql
    from django.utils import timezone

    def rows(count):
        return [
            AuditLog(tenant_id=tenant_a.pk, user_id=admin_a.pk, username="admin",
                     request_id=f"r{n}", source="api", entity_type="accounts.position",
                     entity_id=str(n), action="update", ip_address="10.0.0.1",
                     old_value={"name": "Old"}, new_value={"name": f"New {n}"})
            for n in range(count)
        ]

    def plain(value):
        if isinstance(value, (list, tuple)):  # PostgreSQL's UNNEST takes a list per column
            return [plain(item) for item in value]
        return getattr(value, "obj", value)  # psycopg's Jsonb wrapper has no equality

    fields = [f for f in AuditLog._meta.concrete_fields if not f.primary_key]
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        for count in (1, 3):
            [(ours, our_params)] = logrows.insert_statements(rows(count), "default")
            query = sql.InsertQuery(AuditLog)
            query.insert_values(fields, rows(count))
            [(theirs, their_params)] = query.get_compiler(connection=connection).as_sql()
            assert ours == theirs
            assert plain(our_params) == plain(their_params)


def test_a_request_changing_several_rows_writes_all_of_them(client_a, admin_a, tenant_a,
                                                            caplog):
    """A role created with permissions: its create and m2m rows and one operation row,
    written together (on PostgreSQL in one statement), with no fallback needed."""
    caplog.set_level(logging.WARNING, logger="atrium.audit")
    response = client_a.post(
        "/api/v1/roles/",
        {"code": "auditor", "name": "Auditor", "data_scope": "dept",
         "permissions": ["position:view", "position:update"]},
        content_type="application/json", HTTP_X_REQUEST_ID="many-rows",
    )
    assert response.status_code == 201, response.content
    rows = audit_rows(request_id="many-rows")
    assert len(rows) >= 2
    assert {"create", "m2m_add"} <= {row.action for row in rows}
    assert all(row.tenant_id == tenant_a.pk and row.user_id == admin_a.pk for row in rows)
    [op] = operation_rows(request_id="many-rows")
    assert op.status == "success" and op.new_value
    assert not [r for r in caplog.records if r.name == "atrium.audit"]
