"""The login log admin: read-only, and scoped to the tenant of a tenant administrator."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core.context import scope_context
from logs.models import LoginLog

pytestmark = pytest.mark.django_db

# The login-log changelist's query count must not depend on how many rows it lists: the
# count measured with 3 rows (the same on SQLite, MariaDB and PostgreSQL) plus a slack of
# 1 must hold for 30 rows too.
MAX_QUERIES_LOGIN_LOG_CHANGELIST = 6  # measured: 5 (permissions cached)
OPERATOR_MAX_QUERIES_LOGIN_LOG_CHANGELIST = 8  # measured: 7 (superusers skip the permission lookup)


def log_attempt(tenant, ip_address: str, username: str = "alice", **fields) -> LoginLog:
    """Record a failed sign-in attempt at ``tenant`` (``None``: unknown tenant)."""
    return LoginLog.objects.create(
        tenant=tenant,
        tenant_code=tenant.code if tenant is not None else "nosuch",
        username=username,
        ip_address=ip_address,
        login_status="failed",
        reason="bad_credentials",
        **fields,
    )


def listed(response) -> list:
    """Return the rows of a changelist response, evaluated under the request's scope."""
    with scope_context(response.wsgi_request.tenant_scope):
        return list(response.context["cl"].result_list)


@pytest.fixture
def logs(tenant_a, tenant_b):
    """One failed attempt at each tenant, with the same username, and one at no tenant."""
    return {
        "a": log_attempt(tenant_a, "10.0.0.1"),
        "b": log_attempt(tenant_b, "10.0.0.2"),
        "none": log_attempt(None, "10.0.0.3"),
    }


def test_tenant_admin_sees_only_own_tenant_login_logs(client_a, logs):
    """A tenant administrator sees only their tenant's login log rows."""
    response = client_a.get(reverse("admin:logs_loginlog_changelist"))

    assert response.status_code == 200
    assert [row.pk for row in listed(response)] == [logs["a"].pk]
    content = response.content.decode()
    assert "10.0.0.1" in content
    assert "10.0.0.2" not in content
    assert "10.0.0.3" not in content
    assert "tenant" not in response.context["cl"].list_display


def test_tenant_admin_search_does_not_reach_other_tenant_logs(client_a, logs):
    """Searching the login log finds only the administrator's tenant's rows."""
    response = client_a.get(reverse("admin:logs_loginlog_changelist"), {"q": "10.0.0.2"})

    assert response.status_code == 200
    assert listed(response) == []


def test_operator_sees_every_login_log_with_tenant_filter(operator_client, tenant_b, logs):
    """A platform operator sees every attempt (unknown tenants too) and can narrow to one
    tenant."""
    url = reverse("admin:logs_loginlog_changelist")
    response = operator_client.get(url)

    assert response.status_code == 200
    assert {row.pk for row in listed(response)} == {log.pk for log in logs.values()}
    assert "tenant" in response.context["cl"].list_display

    response = operator_client.get(url, {"tenant__id__exact": str(tenant_b.pk)})

    assert response.status_code == 200
    assert [row.pk for row in listed(response)] == [logs["b"].pk]


def test_tenant_admin_cannot_add_login_log(client_a, logs):
    """A tenant administrator cannot add login log rows: the add view answers 403."""
    url = reverse("admin:logs_loginlog_add")

    assert client_a.get(url).status_code == 403
    response = client_a.post(
        url, {"tenant_code": "alpha", "username": "x", "login_status": "success"}
    )
    assert response.status_code == 403
    assert LoginLog.objects.all_tenants().count() == len(logs)


def test_operator_cannot_add_login_log(operator_client):
    """Not even a platform operator adds login log rows."""
    url = reverse("admin:logs_loginlog_add")

    assert operator_client.get(url).status_code == 403
    response = operator_client.post(
        url, {"tenant_code": "alpha", "username": "x", "login_status": "success"}
    )
    assert response.status_code == 403
    assert not LoginLog.objects.all_tenants().exists()


def test_login_log_change_form_is_read_only(client_a, logs):
    """The login log change form shows the row read-only, with nothing to save."""
    url = reverse("admin:logs_loginlog_change", args=[logs["a"].pk])
    response = client_a.get(url)

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["adminform"].form.fields == {}
    assert {"tenant_code", "username", "ip_address", "login_status"} <= set(
        response.context["adminform"].readonly_fields
    )
    content = response.content.decode()
    assert "10.0.0.1" in content
    assert 'name="_save"' not in content

    response = client_a.post(url, {"username": "changed", "login_status": "success"})

    assert response.status_code == 403
    logs["a"].refresh_from_db()
    assert (logs["a"].username, logs["a"].login_status) == ("alice", "failed")


def test_other_tenant_login_log_does_not_exist_for_tenant_admin(client_a, logs):
    """Another tenant's login log row does not exist for a tenant administrator."""
    response = client_a.get(reverse("admin:logs_loginlog_change", args=[logs["b"].pk]))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    assert any("doesn’t exist" in str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("who", ["client_a", "operator_client"])
def test_login_log_cannot_be_deleted(request, logs, who):
    """Nobody deletes login log rows in the admin: the delete view answers 403."""
    client = request.getfixturevalue(who)
    url = reverse("admin:logs_loginlog_delete", args=[logs["a"].pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert LoginLog.objects.all_tenants().filter(pk=logs["a"].pk).exists()


def test_login_log_changelist_offers_no_bulk_delete(client_a, logs):
    """The login log changelist offers no delete action; forcing it deletes nothing."""
    url = reverse("admin:logs_loginlog_changelist")
    response = client_a.get(url)
    assert response.context["action_form"] is None  # no action at all, delete included

    response = client_a.post(
        url, {"action": "delete_selected", "_selected_action": [str(logs["a"].pk)], "post": "yes"}
    )

    assert response.status_code == 200
    assert LoginLog.objects.all_tenants().filter(pk=logs["a"].pk).exists()


@pytest.mark.parametrize("rows", [3, 30])
def test_login_log_changelist_query_count_is_constant(
    client_a, tenant_a, tenant_b, rows, django_assert_max_num_queries
):
    """The login log changelist runs a fixed number of queries, however many rows it lists."""
    for index in range(rows):
        log_attempt(tenant_a, f"10.0.1.{index}", username=f"user{index}")
        log_attempt(tenant_b, f"10.0.2.{index}", username=f"user{index}")

    client_a.get(reverse("admin:logs_loginlog_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(MAX_QUERIES_LOGIN_LOG_CHANGELIST):
        response = client_a.get(reverse("admin:logs_loginlog_changelist"))

    assert len(listed(response)) == rows


@pytest.mark.parametrize("rows", [3, 30])
def test_operator_login_log_changelist_query_count_is_constant(
    operator_client, tenant_a, tenant_b, rows, django_assert_max_num_queries
):
    """The operator's login log changelist (tenant column and filter) runs a fixed number of
    queries, however many rows it lists."""
    for index in range(rows):
        log_attempt(tenant_a if index % 2 else tenant_b, f"10.0.1.{index}",
                    username=f"user{index}")

    operator_client.get(reverse("admin:logs_loginlog_changelist"))  # warm-up: fills the permission cache
    with django_assert_max_num_queries(OPERATOR_MAX_QUERIES_LOGIN_LOG_CHANGELIST):
        response = operator_client.get(reverse("admin:logs_loginlog_changelist"))

    assert len(listed(response)) == rows


def test_log_modules_and_entity_types_read_in_the_readers_language():
    """A log's module (an app's label, or a model name from an admin page) and an audit row's
    entity type are shown by name, in the reader's language (issue 17, item 4)."""
    from django.utils import translation

    from logs.admin import entity_label, module_label

    with translation.override("zh-hans"):
        assert module_label("accounts") not in ("accounts", "Accounts")
        assert module_label("user") not in ("user", "users")
        assert entity_label("accounts.user") == "用户"
    assert module_label("accounts") == "Accounts" and module_label("nothing") == "nothing"
    assert entity_label("accounts.user") == "user" and entity_label("gone.thing") == "gone.thing"


def test_log_operations_read_as_what_was_done():
    """An operation code names an action on a model: shown as such in the reader's
    language; a code that names no known action reads as its words, never raw."""
    from django.utils import translation

    from logs.admin import operation_label

    assert operation_label("user", "change") == "Change user"
    assert operation_label("accounts", "user.create") == "Create user"
    assert operation_label("accounts", "users.partial_update") == "Update user"
    assert operation_label("accounts", "login") == "Sign in"
    assert operation_label("testing", "run-report-junit") == "Run report junit"
    with translation.override("zh-hans"):
        assert operation_label("user", "change") == "修改用户"
        assert operation_label("accounts", "login") == "登录"
