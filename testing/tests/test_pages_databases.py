"""The databases page: configurations, a write-only password, and "test connection"."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.urls import reverse

from testing.choices import ConnectionStatus
from testing.models import DatabaseConfig, Project, Scenario
from testing.tests.page_cases import (
    as_tenant,
    assert_all_missing,
    assert_all_refused,
    assert_sign_in_needed,
    codes,
    everything_logged,
    field_errors,
    make,  # noqa: F401 (fixture)  # noqa: F401 (fixture)
    sign_in,
)

pytestmark = pytest.mark.django_db
PASSWORD = "pa55-W0RD-never-shown"
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, project, *args):
    return reverse(f"testing:{name}", args=[project.pk, *args])


def make_config(tenant, project, *, host="169.254.169.254", port=3306, name="Orders"):
    """A MySQL configuration; its default host is link-local, which the policy refuses."""
    return make(DatabaseConfig, tenant, project=project, name=name, variable_name="orders_db",
                db_type="mysql", host=host, port=port, username="tester", password=PASSWORD)


def form_data(**changes) -> dict:
    data = {"name": "Orders", "variable_name": "orders_db", "db_type": "mysql",
            "host": "db.example.com", "port": "3306", "initial_database": "orders",
            "username": "tester", "password": PASSWORD, "is_enabled": "on"}
    data.update(changes)
    return data


def all_urls(project, config):
    return [url("databases", project), url("database-create", project),
            url("database-edit", project, config.pk), url("database-delete", project, config.pk)]


def test_sign_in_and_codes(client, tenant_a, project_a):
    config = make_config(tenant_a, project_a)
    urls = [*all_urls(project_a, config), url("database-test", project_a, config.pk)]
    assert_sign_in_needed(client, urls[:-1])
    sign_in(client, tenant_a, codes((Project, "view")))
    assert_all_refused(client, urls[:-1])
    assert client.post(urls[-1]).status_code == 403


def test_another_tenants_databases_are_404(client, tenant_a, tenant_b, project_b):
    config = make_config(tenant_b, project_b)
    sign_in(client, tenant_a)
    assert_all_missing(client, all_urls(project_b, config))
    test_url = url("database-test", project_b, config.pk)
    assert client.post(test_url).status_code == 404
    assert client.get(test_url).status_code == 404
    with as_tenant(tenant_b):
        assert DatabaseConfig.objects.get(pk=config.pk).last_tested_at is None


def test_empty_page_says_what_to_do(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    html = client.get(url("databases", project_a)).content.decode()
    assert "No databases yet. Add one below" in html


def test_create_stores_the_password_sealed_and_never_shows_it(client, tenant_a, project_a):
    """The password is stored, and appears on no page (list, edit, a form with errors)."""
    sign_in(client, tenant_a)
    assert client.post(url("database-create", project_a), form_data()).status_code == 302
    with as_tenant(tenant_a):
        config = DatabaseConfig.objects.get(project=project_a, variable_name="orders_db")
    assert config.password == PASSWORD
    with connection.cursor() as cursor:  # as stored, not decrypted by the field
        cursor.execute("SELECT password FROM testing_database_configs WHERE id = %s",
                       [DatabaseConfig._meta.pk.get_db_prep_value(config.pk, connection)])
        raw = cursor.fetchone()[0]
    assert raw and PASSWORD not in raw
    pages = [client.get(url("databases", project_a)),
             client.get(url("database-edit", project_a, config.pk)),
             client.post(url("database-create", project_a), form_data(port="99999")),
             client.post(url("database-edit", project_a, config.pk), form_data(host=""))]
    for page in pages:
        assert page.status_code in (200, 400)
        assert PASSWORD not in page.content.decode()


def test_bad_input_is_a_field_error(client, tenant_a, project_a):
    make_config(tenant_a, project_a)
    sign_in(client, tenant_a)
    create = url("database-create", project_a)
    port = client.post(create, form_data(variable_name="other", port="70000"))
    assert port.status_code == 400 and field_errors(port, "port")
    name = client.post(create, form_data(variable_name="not an identifier"))
    assert name.status_code == 400 and field_errors(name, "variable_name")
    kind = client.post(create, form_data(variable_name="x", db_type="sqlite"))
    assert kind.status_code == 400 and field_errors(kind, "db_type")
    duplicate = client.post(create, form_data())
    assert duplicate.status_code == 400
    assert "already has a database with this variable name" in duplicate.content.decode()


def test_edit_keeps_replaces_or_removes_the_password(client, tenant_a, project_a):
    config = make_config(tenant_a, project_a)
    sign_in(client, tenant_a)
    edit = url("database-edit", project_a, config.pk)

    def stored():
        with as_tenant(tenant_a):
            return DatabaseConfig.objects.get(pk=config.pk).password

    assert client.post(edit, form_data(password="")).status_code == 302
    assert stored() == PASSWORD
    assert client.post(edit, form_data(password="next-one")).status_code == 302
    assert stored() == "next-one"
    both = client.post(edit, form_data(password="x", clear_password="on"))
    assert both.status_code == 400 and field_errors(both, "clear_password")
    assert client.post(edit, form_data(password="", clear_password="on")).status_code == 302
    assert stored() is None


def test_test_connection_refused_by_policy_records_the_reason(client, tenant_a, project_a):
    """A link-local host is refused before anything is sent; the reason is shown inline."""
    config = make_config(tenant_a, project_a)
    sign_in(client, tenant_a)
    response = client.post(url("database-test", project_a, config.pk), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'class="status failed"' in html
    with as_tenant(tenant_a):
        config.refresh_from_db()
    assert config.connection_status == ConnectionStatus.FAILED
    assert config.status_message and config.status_message in html
    assert config.last_tested_at is not None
    assert PASSWORD not in html


def test_test_connection_without_htmx_redirects_with_a_message(client, tenant_a, project_a):
    config = make_config(tenant_a, project_a)
    sign_in(client, tenant_a)
    response = client.post(url("database-test", project_a, config.pk), follow=True)
    assert response.redirect_chain[-1][0] == url("databases", project_a)
    assert "the connection failed" in response.content.decode()
    assert client.get(url("database-test", project_a, config.pk)).status_code == 405


def test_test_connection_to_a_closed_port_fails_with_the_drivers_reason(
        client, tenant_a, project_a):
    """With loopback allowed for the tenant, a closed port fails with a readable reason."""
    tenant_a.outbound_networks = ["127.0.0.0/8"]
    tenant_a.save()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(tenant_a, project_a, host="127.0.0.1", port=port)
    sign_in(client, tenant_a)
    html = client.post(url("database-test", project_a, config.pk), **HTMX).content.decode()
    assert 'class="status failed"' in html
    assert PASSWORD not in html


def test_test_connection_success_is_shown(client, tenant_a, project_a, monkeypatch):
    """A connection that succeeds (the driver stubbed: the boundary) shows "Connected"."""
    from testing.services import databases

    tenant_a.outbound_networks = ["127.0.0.0/8"]
    tenant_a.save()
    monkeypatch.setattr(databases, "_connect", lambda config, address, timeout: None)
    # Not the port of a database the platform itself uses: those stay refused.
    config = make_config(tenant_a, project_a, host="127.0.0.1", port=45999)
    sign_in(client, tenant_a)
    html = client.post(url("database-test", project_a, config.pk), **HTMX).content.decode()
    assert 'class="status connected"' in html and "Connected in" in html


def test_test_connection_needs_the_update_code(client, tenant_a, project_a):
    config = make_config(tenant_a, project_a)
    sign_in(client, tenant_a, codes((Project, "view"), (DatabaseConfig, "view")))
    page = client.get(url("databases", project_a)).content.decode()
    assert "Test connection" not in page
    assert client.post(url("database-test", project_a, config.pk)).status_code == 403


def test_delete_is_refused_while_a_scenario_uses_it(client, tenant_a, project_a):
    config = make_config(tenant_a, project_a)
    make(Scenario, tenant_a, project=project_a, name="S", database_config=config,
         pre_sql="select 1")
    sign_in(client, tenant_a)
    refused = client.post(url("database-delete", project_a, config.pk))
    assert refused.status_code == 409
    assert "Scenarios run their SQL on this database" in refused.content.decode()
    with as_tenant(tenant_a):
        assert DatabaseConfig.objects.filter(pk=config.pk).exists()


@pytest.mark.parametrize("count", [1, 8])
def test_list_query_count_is_constant(client, tenant_a, project_a, count,
                                      django_assert_max_num_queries):
    for index in range(count):
        make(DatabaseConfig, tenant_a, project=project_a, name=f"D{index}",
             variable_name=f"d{index}", db_type="mysql", host="h", port=3306, username="u")
    sign_in(client, tenant_a)
    client.get(url("databases", project_a))
    with django_assert_max_num_queries(8):
        assert client.get(url("databases", project_a)).status_code == 200


def test_password_never_in_the_logs(client, tenant_a, project_a):
    """Creating and editing with a password leaves it in no operation or audit log row."""
    sign_in(client, tenant_a)
    client.post(url("database-create", project_a), form_data())
    with as_tenant(tenant_a):
        config = DatabaseConfig.objects.get(project=project_a)
    client.post(url("database-edit", project_a, config.pk), form_data(port="1"))
    client.post(url("database-test", project_a, config.pk))
    assert PASSWORD not in everything_logged()
