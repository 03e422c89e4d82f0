"""Secrets in the test domain's admin: a database's password and a secret variable's value
are write-only, sealed at rest, and never in a page, the admin history or the operation
log (issue 12, items 1 and 4)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse

from core.context import all_tenants, tenant_context
from logs.models import OperationLog
from testing.models import DatabaseConfig, Variable
from testing.models.environments import MASK
from tests.admin_cases import make_staff_actor
from tests.test_admin_testing import (
    make_database,
    make_environment,
    make_project,
    make_variable,
)

pytestmark = pytest.mark.django_db

PASSWORD = "Db-pass-7Qx2"
SECRET = "Api-key-Z9w4"
NEW_SECRET = "Rotated-K3y5"


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:testing_{model}_{view}", args=args)


@pytest.fixture
def rows(tenant_a):
    """A project with a database holding ``PASSWORD`` and an environment with a secret
    variable holding ``SECRET``, beside a plain one."""
    with tenant_context(tenant_a):
        project = make_project(tenant_a)
        database = make_database(project, password=PASSWORD)
        environment = make_environment(project)
        secret = make_variable(project, "api_key", SECRET, environment=environment, secret=True)
        plain = make_variable(project, "host", "shop.example.com", environment=environment)
    return {"project": project, "database": database, "environment": environment,
            "secret": secret, "plain": plain}


def pages(rows, *, delete: bool = True) -> list[str]:
    """Return every admin page that shows the secrets' rows (delete pages if ``delete``)."""
    database, secret, environment = rows["database"], rows["secret"], rows["environment"]
    found = [
        url("databaseconfig", "changelist"),
        url("databaseconfig", "change", database.pk),
        url("databaseconfig", "history", database.pk),
        url("databaseconfig", "delete", database.pk),
        url("variable", "changelist"),
        url("variable", "change", secret.pk),
        url("variable", "history", secret.pk),
        url("variable", "delete", secret.pk),
        url("environment", "change", environment.pk),
        url("environment", "history", environment.pk),
    ]
    return [page for page in found if delete or not page.endswith("/delete/")]


def assert_nowhere(client, rows, *secrets: str, delete: bool = True) -> None:
    for page in pages(rows, delete=delete):
        response = client.get(page)
        assert response.status_code == 200, (page, response.status_code)
        for secret in secrets:
            assert secret.encode() not in response.content, page


def assert_not_logged(*secrets: str) -> None:
    """Assert neither the admin history nor the operation log holds any of ``secrets``."""
    messages = " ".join(LogEntry.objects.values_list("change_message", flat=True))
    with all_tenants():
        logged = " ".join(str(row.request_params) for row in OperationLog.objects.all())
    assert logged  # the writes were logged, with their parameters
    for secret in secrets:
        assert secret not in messages
        assert secret not in logged


def stored_column(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk.hex])
        return cursor.fetchone()[0]


def test_secrets_appear_in_no_admin_page(client_a, rows):
    """Change lists, change pages, inlines, history and delete pages never show a secret;
    the masked value and "Stored (encrypted)" stand in for them."""
    assert_nowhere(client_a, rows, PASSWORD, SECRET)
    assert MASK in client_a.get(url("variable", "changelist")).content.decode()
    # Nothing is searchable by a secret (sealed columns are not search fields).
    for model, secret in (("databaseconfig", PASSWORD), ("variable", SECRET)):
        found = client_a.get(url(model, "changelist"), {"q": secret})
        assert list(found.context["cl"].result_list) == []
    page = client_a.get(url("databaseconfig", "change", rows["database"].pk)).content.decode()
    assert "Stored (encrypted)" in page
    assert 'type="password"' in page


def test_secrets_appear_in_no_read_only_page(client, tenant_a, rows):
    """A user who may only view gets read-only pages, without the secrets either."""
    user = make_staff_actor(tenant_a, ["databaseconfig:view", "variable:view",
                                       "environment:view"])
    client.force_login(user)
    assert_nowhere(client, rows, PASSWORD, SECRET, delete=False)
    page = client.get(url("variable", "change", rows["secret"].pk)).content.decode()
    assert MASK in page
    assert 'type="password"' not in page


def database_post(database, **fields) -> dict:
    return {"name": database.name, "variable_name": database.variable_name,
            "db_type": database.db_type, "is_enabled": "on", "host": database.host,
            "port": database.port, "initial_database": "", "username": database.username,
            "new_password": "", **fields}


def saved(model, pk):
    return model.objects.all_tenants().get(pk=pk)


def test_an_empty_password_keeps_the_stored_one(client_a, rows):
    database = rows["database"]
    response = client_a.post(url("databaseconfig", "change", database.pk),
                             database_post(database, name="Orders"))
    assert response.status_code == 302
    assert saved(DatabaseConfig, database.pk).password == PASSWORD
    assert saved(DatabaseConfig, database.pk).name == "Orders"


def test_a_typed_password_replaces_the_stored_one_sealed(client_a, rows):
    """The new password is stored sealed, and neither the history nor the operation log
    holds it."""
    database = rows["database"]
    response = client_a.post(url("databaseconfig", "change", database.pk),
                             database_post(database, new_password=NEW_SECRET))
    assert response.status_code == 302
    assert saved(DatabaseConfig, database.pk).password == NEW_SECRET
    assert NEW_SECRET not in stored_column("testing_database_configs", "password", database.pk)
    assert_not_logged(NEW_SECRET, PASSWORD)
    assert_nowhere(client_a, rows, NEW_SECRET)


def test_a_new_database_is_added_with_its_password_sealed(client_a, rows):
    response = client_a.post(url("databaseconfig", "add"), {
        **database_post(rows["database"], variable_name="reports_db", name="Reports"),
        "project": str(rows["project"].pk), "new_password": NEW_SECRET})
    assert response.status_code == 302
    with tenant_context(rows["project"].tenant):
        made = DatabaseConfig.objects.get(variable_name="reports_db")
    assert made.password == NEW_SECRET
    assert_not_logged(NEW_SECRET)


def test_the_stored_password_can_be_removed_but_not_with_a_new_one(client_a, rows):
    database = rows["database"]
    response = client_a.post(url("databaseconfig", "change", database.pk), database_post(
        database, clear_password="on", new_password=NEW_SECRET))
    assert response.status_code == 200
    assert "clear_password" in response.context["adminform"].form.errors
    assert NEW_SECRET.encode() not in response.content  # not echoed back either
    assert saved(DatabaseConfig, database.pk).password == PASSWORD
    response = client_a.post(url("databaseconfig", "change", database.pk),
                             database_post(database, clear_password="on"))
    assert response.status_code == 302
    assert saved(DatabaseConfig, database.pk).password is None


def variable_post(variable, **fields) -> dict:
    return {"environment": str(variable.environment_id or ""), "name": variable.name,
            "value": "" if variable.is_secret else variable.value, "description": "",
            "new_secret_value": "", **({"is_secret": "on"} if variable.is_secret else {}),
            **fields}


def test_a_secret_variable_keeps_its_value_when_none_is_typed(client_a, rows):
    secret = rows["secret"]
    response = client_a.post(url("variable", "change", secret.pk),
                             variable_post(secret, description="The shop's key"))
    assert response.status_code == 302
    stored = saved(Variable, secret.pk)
    assert stored.is_secret and stored.plain_value == SECRET and stored.value == ""
    assert stored.description == "The shop's key"


def test_a_typed_secret_is_sealed_through_set_value(client_a, rows):
    secret = rows["secret"]
    response = client_a.post(url("variable", "change", secret.pk),
                             variable_post(secret, new_secret_value=NEW_SECRET))
    assert response.status_code == 302
    stored = saved(Variable, secret.pk)
    assert stored.secret_value == NEW_SECRET and stored.value == ""
    assert NEW_SECRET not in stored_column("testing_variables", "secret_value", secret.pk)
    assert_not_logged(NEW_SECRET, SECRET)
    assert_nowhere(client_a, rows, NEW_SECRET)


def test_a_new_secret_variable_is_sealed(client_a, rows):
    response = client_a.post(url("variable", "add"), {
        "project": str(rows["project"].pk), "environment": "", "name": "token", "value": "",
        "is_secret": "on", "new_secret_value": NEW_SECRET, "description": ""})
    assert response.status_code == 302
    with tenant_context(rows["project"].tenant):
        made = Variable.objects.get(name="token")
    assert made.is_global and made.secret_value == NEW_SECRET and made.value == ""
    assert_not_logged(NEW_SECRET)


def test_a_plain_variable_made_secret_seals_its_value(client_a, rows):
    plain = rows["plain"]
    response = client_a.post(url("variable", "change", plain.pk),
                             variable_post(plain, is_secret="on"))
    assert response.status_code == 302
    stored = saved(Variable, plain.pk)
    assert stored.is_secret and stored.value == "" and stored.secret_value == "shop.example.com"


def test_a_secret_typed_in_the_plain_field_is_refused(client_a, rows):
    """The plain field is shown and logged in clear: a secret typed there is a form error,
    and a value typed in the secret field of a plain variable too."""
    secret, plain = rows["secret"], rows["plain"]
    response = client_a.post(url("variable", "change", secret.pk),
                             variable_post(secret, value=NEW_SECRET))
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert saved(Variable, secret.pk).plain_value == SECRET
    response = client_a.post(url("variable", "change", plain.pk),
                             variable_post(plain, new_secret_value=NEW_SECRET))
    assert response.status_code == 200
    assert "new_secret_value" in response.context["adminform"].form.errors
    assert NEW_SECRET.encode() not in response.content


def test_unchecking_secret_discards_the_sealed_value(client_a, rows):
    secret = rows["secret"]
    data = variable_post(secret, value="public")
    del data["is_secret"]
    response = client_a.post(url("variable", "change", secret.pk), data)
    assert response.status_code == 302
    stored = saved(Variable, secret.pk)
    assert not stored.is_secret and stored.value == "public" and stored.secret_value is None


def test_a_plain_variable_made_secret_with_a_new_value_seals_the_new_one(client_a, rows):
    """Emptying the plain field and typing the secret in its own field seals the new one."""
    plain = rows["plain"]
    response = client_a.post(url("variable", "change", plain.pk), variable_post(
        plain, is_secret="on", value="", new_secret_value=NEW_SECRET))
    assert response.status_code == 302
    stored = saved(Variable, plain.pk)
    assert stored.is_secret and stored.value == "" and stored.secret_value == NEW_SECRET
