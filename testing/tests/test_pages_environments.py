"""The environments page: environments, their variables and the project's globals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from testing.models import Environment, Project, Variable
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
SECRET = "s3cr3t-VALUE-9f8e7d"
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, project, *args):
    return reverse(f"testing:{name}", args=[project.pk, *args])


def secret_variable(tenant, project, environment=None, name="api_key"):
    with as_tenant(tenant):
        variable = Variable(tenant=tenant, project=project, environment=environment, name=name,
                            is_secret=True)
        variable.set_value(SECRET)
        variable.full_clean()
        variable.save()
        return variable


@pytest.fixture
def staging(tenant_a, project_a):
    return make(Environment, tenant_a, project=project_a, name="staging",
                base_url="https://staging.example.com")


def all_urls(project, environment, variable) -> list[str]:
    return [url("environments", project), url("environment-create", project),
            url("environment-edit", project, environment.pk),
            url("environment-delete", project, environment.pk),
            url("variable-create", project), url("variable-edit", project, variable.pk),
            url("variable-delete", project, variable.pk)]


def test_sign_in_needed_and_codes_required(client, tenant_a, project_a, staging):
    """Anonymous: to sign in. Without environment codes (but with project:view): 403."""
    variable = make(Variable, tenant_a, project=project_a, name="host", value="h")
    urls = all_urls(project_a, staging, variable)
    assert_sign_in_needed(client, urls)
    sign_in(client, tenant_a, codes((Project, "view")))
    assert_all_refused(client, urls)


def test_another_tenants_environments_are_404(client, tenant_a, tenant_b, project_b):
    """Every path into tenant B's project, or to its rows through A's project, is 404."""
    environment = make(Environment, tenant_b, project=project_b, name="prod")
    variable = secret_variable(tenant_b, project_b, environment)
    sign_in(client, tenant_a)
    assert_all_missing(client, all_urls(project_b, environment, variable))


def test_rows_of_another_project_are_404(client, tenant_a, project_a, staging):
    """A variable or environment of another project of the same tenant is 404 here."""
    other = make(Project, tenant_a, name="Other")
    foreign_env = make(Environment, tenant_a, project=other, name="qa")
    foreign_var = make(Variable, tenant_a, project=other, name="x", value="1")
    sign_in(client, tenant_a)
    assert client.get(url("environment-edit", project_a, foreign_env.pk)).status_code == 404
    assert client.get(url("variable-edit", project_a, foreign_var.pk)).status_code == 404
    response = client.post(url("variable-create", project_a),
                           {"name": "y", "value": "1", "environment": foreign_env.pk})
    assert response.status_code == 400 and field_errors(response, "environment")


def test_empty_page_says_what_to_do(client, tenant_a, project_a):
    """Without environments the page says to add one for a base URL."""
    sign_in(client, tenant_a)
    page = client.get(url("environments", project_a))
    html = page.content.decode()
    assert "No environments yet. Add one to give the project a base URL." in html
    assert "No global variables yet." in html


def test_create_environment_and_refuse_bad_input(client, tenant_a, project_a, staging):
    """A valid environment is added; a bad URL and a duplicate name are field errors."""
    sign_in(client, tenant_a)
    ok = client.post(url("environment-create", project_a),
                     {"name": "prod", "base_url": "https://api.example.com"})
    assert ok.status_code == 302
    assert Environment.objects.all_tenants().filter(project=project_a, name="prod").exists()
    bad = client.post(url("environment-create", project_a),
                      {"name": "staging", "base_url": "ftp://nope"})
    assert bad.status_code == 400
    assert field_errors(bad, "base_url")
    assert "already has an environment with this name" in bad.content.decode()


def test_edit_and_delete_environment(client, tenant_a, project_a, staging):
    sign_in(client, tenant_a)
    response = client.post(url("environment-edit", project_a, staging.pk),
                           {"name": "stage", "base_url": ""})
    assert response.status_code == 302
    staging.refresh_from_db()
    assert staging.name == "stage" and staging.base_url == ""
    assert client.post(url("environment-delete", project_a, staging.pk)).status_code == 302
    assert Environment._base_manager.get(pk=staging.pk).is_deleted


def test_add_variables_plain_global_and_secret(client, tenant_a, project_a, staging):
    """A global plain variable and an environment's secret one; both values stored right."""
    sign_in(client, tenant_a)
    plain = client.post(url("variable-create", project_a),
                        {"name": "user_id", "value": "42", "environment": ""})
    assert plain.status_code == 302
    secret = client.post(url("variable-create", project_a),
                         {"name": "token", "secret_value": SECRET, "environment": staging.pk})
    assert secret.status_code == 302
    with as_tenant(tenant_a):
        stored = {v.name: v for v in Variable.objects.filter(project=project_a)}
    assert stored["user_id"].is_global and stored["user_id"].value == "42"
    assert stored["token"].environment_id == staging.pk and stored["token"].is_secret
    assert stored["token"].value == "" and stored["token"].plain_value == SECRET


def test_variable_bad_input_is_a_field_error(client, tenant_a, project_a, staging):
    """A name that is no identifier, both values, or a duplicate name: errors, nothing stored."""
    make(Variable, tenant_a, project=project_a, environment=staging, name="host", value="h")
    sign_in(client, tenant_a)
    create = url("variable-create", project_a)
    bad_name = client.post(create, {"name": "1-bad", "value": "x"})
    assert bad_name.status_code == 400 and field_errors(bad_name, "name")
    both = client.post(create, {"name": "ok", "value": "x", "secret_value": SECRET})
    assert both.status_code == 400 and field_errors(both, "secret_value")
    assert SECRET not in both.content.decode()
    duplicate = client.post(create, {"name": "host", "value": "y", "environment": staging.pk})
    assert duplicate.status_code == 400
    assert "A variable with this name already exists here." in duplicate.content.decode()
    # The same name as a global is another scope: accepted.
    assert client.post(create, {"name": "host", "value": "g"}).status_code == 302


def test_secret_value_never_in_any_page(client, tenant_a, project_a, staging):
    """The value of a secret variable appears in no page: list, edit, errors, htmx parts."""
    variable = secret_variable(tenant_a, project_a, staging)
    global_secret = secret_variable(tenant_a, project_a, None, name="global_key")
    sign_in(client, tenant_a)
    edit = url("variable-edit", project_a, variable.pk)
    pages = [
        client.get(url("environments", project_a)),
        client.get(edit),
        client.get(edit, **HTMX),
        client.get(url("variable-edit", project_a, global_secret.pk)),
        client.post(edit, {"name": "bad name", "environment": staging.pk}),
        client.post(edit, {"name": "bad name", "environment": staging.pk}, **HTMX),
        client.get(url("variable-delete", project_a, variable.pk)),
    ]
    for page in pages:
        assert page.status_code in (200, 400)
        assert SECRET not in page.content.decode()
    assert "••••••" in pages[0].content.decode()


def test_secret_is_write_only_and_kept_when_left_empty(client, tenant_a, project_a, staging):
    """Editing a secret without a new value keeps it; a new value replaces it."""
    variable = secret_variable(tenant_a, project_a, staging)
    sign_in(client, tenant_a)
    edit = url("variable-edit", project_a, variable.pk)
    form = client.get(edit).context["form"]
    assert "value" not in form.fields and "secret_value" in form.fields
    assert client.post(edit, {"name": "api_key", "environment": staging.pk,
                              "description": "d"}).status_code == 302
    with as_tenant(tenant_a):
        assert Variable.objects.get(pk=variable.pk).plain_value == SECRET
    assert client.post(edit, {"name": "api_key", "environment": staging.pk,
                              "secret_value": "new-one"}).status_code == 302
    with as_tenant(tenant_a):
        stored = Variable.objects.get(pk=variable.pk)
    assert stored.is_secret and stored.plain_value == "new-one"


def test_seal_a_plain_variable(client, tenant_a, project_a):
    """Ticking "make secret" seals the plain value; it is then masked."""
    variable = make(Variable, tenant_a, project=project_a, name="pw", value=SECRET)
    sign_in(client, tenant_a)
    response = client.post(url("variable-edit", project_a, variable.pk),
                           {"name": "pw", "value": SECRET, "seal": "on"})
    assert response.status_code == 302
    with as_tenant(tenant_a):
        stored = Variable.objects.get(pk=variable.pk)
    assert stored.is_secret and stored.value == "" and stored.plain_value == SECRET
    assert SECRET not in client.get(url("environments", project_a)).content.decode()


def test_htmx_add_and_edit_answer_with_the_section(client, tenant_a, project_a, staging):
    """With htmx, adding and editing answer with the variables section only."""
    sign_in(client, tenant_a)
    added = client.post(url("variable-create", project_a),
                        {"name": "host", "value": "h1", "environment": staging.pk}, **HTMX)
    html = added.content.decode()
    assert added.status_code == 200
    assert f'id="vars-{staging.pk}"' in html and "<html" not in html
    assert 'hx-swap-oob="true"' in html  # the announcement for screen readers
    invalid = client.post(url("variable-create", project_a),
                          {"name": "", "value": "h1", "environment": staging.pk}, **HTMX)
    assert invalid.status_code == 400 and 'class="errorlist"' in invalid.content.decode()
    with as_tenant(tenant_a):
        variable = Variable.objects.get(project=project_a, name="host")
    editing = client.get(url("variable-edit", project_a, variable.pk), **HTMX)
    assert 'class="editing"' in editing.content.decode()
    saved = client.post(url("variable-edit", project_a, variable.pk),
                        {"name": "host", "value": "h2", "environment": staging.pk}, **HTMX)
    assert saved.status_code == 200 and "h2" in saved.content.decode()


@pytest.mark.parametrize("count", [1, 6])
def test_page_query_count_is_constant(client, tenant_a, project_a, count,
                                      django_assert_max_num_queries):
    """The page costs the same for 1 or 6 environments with variables each."""
    for index in range(count):
        environment = make(Environment, tenant_a, project=project_a, name=f"e{index}")
        make(Variable, tenant_a, project=project_a, environment=environment, name="v", value="1")
        secret_variable(tenant_a, project_a, environment, name="k")
    sign_in(client, tenant_a)
    client.get(url("environments", project_a))
    with django_assert_max_num_queries(10):
        assert client.get(url("environments", project_a)).status_code == 200


def test_secret_value_never_in_the_logs(client, tenant_a, project_a, staging):
    """Adding, replacing and sealing secrets leaves no value in the operation or audit log."""
    sign_in(client, tenant_a)
    client.post(url("variable-create", project_a),
                {"name": "token", "secret_value": SECRET, "environment": staging.pk})
    with as_tenant(tenant_a):
        variable = Variable.objects.get(project=project_a, name="token")
    client.post(url("variable-edit", project_a, variable.pk),
                {"name": "token", "secret_value": SECRET + "2", "environment": staging.pk},
                **HTMX)
    assert SECRET not in everything_logged()
