"""Actions and read-only pages of the test domain's admin: "Test connection" against the
local MariaDB under the network policy, the built-in keywords, soft delete and restore,
bad input as form errors (issue 12, items 1 and 4)."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import constants, get_messages
from django.test import override_settings
from django.urls import reverse

from conftest import require_service
from core.context import tenant_context
from testing.models import BuiltinKeyword, DatabaseConfig, Interface, Scenario
from tests.admin_cases import make_staff_actor
from tests.test_admin_testing import (
    make_database,
    make_dataset,
    make_interface,
    make_project,
    make_scenario,
    make_step,
)

pytestmark = pytest.mark.django_db

LOCAL_MARIADB = override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"],
                                  OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=["127.0.0.1:3306"])


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:testing_{model}_{view}", args=args)


def reported(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


def saved(model, pk):
    """Return the row as stored, whatever its tenant or deletion state."""
    return model._base_manager.get(pk=pk)


@pytest.fixture
def local_db(tenant_a):
    """The local MariaDB (root, no password) as a database of a project of tenant A."""
    with tenant_context(tenant_a):
        return make_database(make_project(tenant_a), "local_db", host="127.0.0.1", port=3306,
                             username="root")


def test_connection(client, *configs):
    return client.post(url("databaseconfig", "changelist"), {
        "action": "test_connection", ACTION_CHECKBOX_NAME: [str(c.pk) for c in configs]})


test_connection.__test__ = False  # a helper, not a test


# ---------------------------------------------------------------------------
# Test connection
# ---------------------------------------------------------------------------


@LOCAL_MARIADB
def test_test_connection_connects_to_the_local_mariadb(client_a, local_db):
    """Allowed by the policy, the action connects and records "connected" with the time."""
    require_service("127.0.0.1", 3306, "MariaDB")
    response = test_connection(client_a, local_db)
    assert response.status_code == 302
    stored = saved(DatabaseConfig, local_db.pk)
    assert stored.connection_status == "connected", stored.status_message
    assert stored.last_tested_at is not None
    [(level, text)] = reported(response)
    assert level == constants.SUCCESS and "Connected" in text and "local_db" in text


def test_test_connection_is_refused_by_the_default_policy(client_a, local_db):
    """Without the operator's allowance, loopback is refused before anything is sent: the
    status says "failed" with the reason."""
    response = test_connection(client_a, local_db)
    assert response.status_code == 302
    stored = saved(DatabaseConfig, local_db.pk)
    assert stored.connection_status == "failed"
    assert stored.status_message and stored.last_tested_at is not None
    [(level, text)] = reported(response)
    assert level == constants.ERROR and stored.status_message in text


@LOCAL_MARIADB
def test_test_connection_reports_wrong_credentials_without_the_password(client_a, tenant_a):
    require_service("127.0.0.1", 3306, "MariaDB")
    with tenant_context(tenant_a):
        config = make_database(make_project(tenant_a), "wrong_db", host="127.0.0.1",
                               port=3306, username="nobody_here", password="Wr0ng-pass-x")
    response = test_connection(client_a, config)
    stored = saved(DatabaseConfig, config.pk)
    assert stored.connection_status == "failed"
    [(level, text)] = reported(response)
    assert level == constants.ERROR and "Wr0ng-pass-x" not in text


def test_test_connection_never_reaches_another_tenants_database(client_a, tenant_b):
    """Another tenant's database posted to the action is not in the change list's rows."""
    with tenant_context(tenant_b):
        foreign = make_database(make_project(tenant_b), "beta_db", host="127.0.0.1")
    response = test_connection(client_a, foreign)
    assert saved(DatabaseConfig, foreign.pk).last_tested_at is None
    assert all(level != constants.SUCCESS for level, _ in reported(response))


def test_test_connection_needs_the_update_code(client, tenant_a, local_db):
    """A user who may only view databases is not offered the action, and it does nothing."""
    client.force_login(make_staff_actor(tenant_a, ["databaseconfig:view"]))
    page = client.get(url("databaseconfig", "changelist"))
    assert page.status_code == 200
    form = page.context["action_form"]
    assert form is None or "test_connection" not in dict(form.fields["action"].choices)
    test_connection(client, local_db)
    assert saved(DatabaseConfig, local_db.pk).last_tested_at is None


# ---------------------------------------------------------------------------
# Built-in keywords
# ---------------------------------------------------------------------------


def test_builtin_keywords_are_read_only_for_every_tenant(client_a):
    """A tenant's administrator lists the platform's keywords and opens them read-only; no
    add, change or delete."""
    keyword = BuiltinKeyword.objects.filter(is_active=True).first()
    assert keyword is not None  # written by the sync after migrate
    listed = client_a.get(reverse("admin:testing_builtinkeyword_changelist"))
    assert keyword in listed.context["cl"].result_list
    page = client_a.get(reverse("admin:testing_builtinkeyword_change", args=[keyword.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client_a.get(reverse("admin:testing_builtinkeyword_add")).status_code == 403
    response = client_a.post(reverse("admin:testing_builtinkeyword_change", args=[keyword.pk]),
                             {"name": "Renamed"})
    assert response.status_code == 403
    assert client_a.get(reverse("admin:testing_builtinkeyword_delete",
                                args=[keyword.pk])).status_code == 403
    assert BuiltinKeyword.objects.get(pk=keyword.pk).name == keyword.name


# ---------------------------------------------------------------------------
# Soft delete, restore, blockers
# ---------------------------------------------------------------------------


def test_a_scenario_is_deleted_to_the_recycle_bin_and_restored(client_a, tenant_a):
    with tenant_context(tenant_a):
        scenario = make_scenario(make_project(tenant_a))
    response = client_a.post(url("scenario", "delete", scenario.pk), {"post": "yes"})
    assert response.status_code == 302
    assert saved(Scenario, scenario.pk).is_deleted
    assert scenario not in client_a.get(url("scenario", "changelist")).context["cl"].result_list
    bin_page = client_a.get(url("scenario", "changelist"), {"deleted": "1"})
    assert scenario in bin_page.context["cl"].result_list
    client_a.post(url("scenario", "changelist") + "?deleted=1", {
        "action": "restore_selected", ACTION_CHECKBOX_NAME: [str(scenario.pk)]})
    assert not saved(Scenario, scenario.pk).is_deleted


def test_an_interface_that_steps_send_is_not_deleted(client_a, tenant_a):
    """The delete page names the scenario whose steps send the interface, and keeps it."""
    with tenant_context(tenant_a):
        project = make_project(tenant_a)
        interface = make_interface(project)
        make_step(make_scenario(project, "Checkout"), kind="interface", interface=interface,
                  parameters={})
    page = client_a.get(url("interface", "delete", interface.pk))
    assert "Checkout" in page.content.decode()
    client_a.post(url("interface", "delete", interface.pk), {"post": "yes"})
    assert not saved(Interface, interface.pk).is_deleted


# ---------------------------------------------------------------------------
# Bad input and the dataset preview
# ---------------------------------------------------------------------------


def test_a_malformed_assertion_is_a_form_error_naming_its_index(client_a, tenant_a):
    with tenant_context(tenant_a):
        interface = make_interface(make_project(tenant_a))
    response = client_a.post(url("interface", "change", interface.pk), {
        "folder": "", "name": interface.name, "description": "", "sort_order": 0,
        "method": "GET", "url": "/", "query": "[]", "headers": "[]", "body_type": "none",
        "body": "", "content_type": "", "extractors": "[]",
        "assertions": '[{"type": "status_code", "operator": "==", "expected_value": 200},'
                      ' {"type": "status_code", "operator": "equals", "expected_value": 1}]'})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["assertions"]
    assert any("[1]" in error and "operator" in error for error in errors), errors


def test_a_dataset_shows_its_first_rows_and_refuses_a_ragged_row(client_a, tenant_a):
    with tenant_context(tenant_a):
        dataset = make_dataset(make_project(tenant_a), csv_data="name,age\nalice,30\nbob,41\n")
    page = client_a.get(url("dataset", "change", dataset.pk)).content.decode()
    assert "<th>age</th>" in page and "<td>bob</td>" in page and "2 of 2 rows." in page
    response = client_a.post(url("dataset", "change", dataset.pk), {
        "scenario": "", "name": dataset.name, "csv_data": "name,age\nalice,30\nbob\n"})
    assert response.status_code == 200
    assert "Line 3" in " ".join(response.context["adminform"].form.errors["csv_data"])


def test_keyword_code_with_a_syntax_error_is_a_form_error_with_its_line(client_a, tenant_a):
    with tenant_context(tenant_a):
        project = make_project(tenant_a)
    response = client_a.post(url("keyword", "add"), {
        "project": str(project.pk), "type": "custom", "name": "Broken", "method_name": "run",
        "is_enabled": "on", "description": "", "parameters": '{"type": "object"}',
        "code": "def run(:\n    pass\n"})
    assert response.status_code == 200
    assert "Line 1" in " ".join(response.context["adminform"].form.errors["code"])
