"""The keywords page (the project's and the built-in ones) and the global functions page."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from testing.models import BuiltinKeyword, GlobalFunction, Keyword, Project
from testing.tests.page_cases import (
    as_tenant,
    assert_all_missing,
    assert_all_refused,
    assert_sign_in_needed,
    codes,
    field_errors,
    make,  # noqa: F401 (fixture)  # noqa: F401 (fixture)
    sign_in,
)

pytestmark = pytest.mark.django_db
CODE = "def check(value):\n    return value\n"
FUNCTION = "class Text:\n    @staticmethod\n    def upper(value):\n        return value.upper()\n"


def url(name, project, *args):
    return reverse(f"testing:{name}", args=[project.pk, *args])


def keyword(tenant, project, name="Check"):
    return make(Keyword, tenant, project=project, name=name, method_name="check", code=CODE)


def function(tenant, class_name="Text"):
    return make(GlobalFunction, tenant, class_name=class_name, method_name="upper",
                code=FUNCTION.replace("Text", class_name))


def keyword_data(**changes):
    data = {"name": "Check", "type": "custom", "method_name": "check", "code": CODE,
            "parameters": '{"type": "object", "properties": {}}', "is_enabled": "on"}
    data.update(changes)
    return data


def function_urls(row):
    return [reverse("testing:functions"), reverse("testing:function-create"),
            reverse("testing:function-edit", args=[row.pk]),
            reverse("testing:function-delete", args=[row.pk])]


def test_sign_in_and_codes(client, tenant_a, project_a):
    row = keyword(tenant_a, project_a)
    urls = [url("keywords", project_a), url("keyword-create", project_a),
            url("keyword-edit", project_a, row.pk), url("keyword-delete", project_a, row.pk)]
    fn_urls = function_urls(function(tenant_a))
    assert_sign_in_needed(client, [*urls, *fn_urls])
    sign_in(client, tenant_a, codes((Project, "view")))
    assert_all_refused(client, [*urls, *fn_urls])


def test_another_tenants_keywords_and_functions_are_404(client, tenant_a, tenant_b, project_b):
    row = keyword(tenant_b, project_b)
    foreign = function(tenant_b)
    sign_in(client, tenant_a)
    assert_all_missing(client, [url("keywords", project_b), url("keyword-create", project_b),
                                url("keyword-edit", project_b, row.pk),
                                url("keyword-delete", project_b, row.pk)])
    assert_all_missing(client, function_urls(foreign)[2:])
    assert b"Text.upper" not in client.get(reverse("testing:functions")).content


def test_builtins_listed_read_only_with_parameter_docs(client, tenant_a, project_a):
    """The built-in keywords are listed with their parameters; no edit link for them."""
    assert BuiltinKeyword.objects.exists(), "the built-ins are synced after migrate"
    sign_in(client, tenant_a)
    page = client.get(url("keywords", project_a))
    html = page.content.decode()
    assert "Built-in keywords" in html and "http_request" in html
    assert "<code>expression</code>" in html  # a parameter of assert_json
    assert "No keywords of this project yet." in html
    builtin = BuiltinKeyword.objects.first()
    assert f"/{builtin.pk}/edit" not in html


def test_create_keyword_and_syntax_error_with_line_and_column(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    create = url("keyword-create", project_a)
    assert "def run(" in client.get(create).content.decode()  # a start for the code
    assert client.post(create, keyword_data()).status_code == 302
    with as_tenant(tenant_a):
        assert Keyword.objects.filter(project=project_a, name="Check").exists()
    broken = client.post(create, keyword_data(name="Broken",
                                              code="def check(value):\n    return (value\n"))
    assert broken.status_code == 400
    errors = field_errors(broken, "code")
    assert errors and errors[0].startswith("Line ") and "column" in errors[0]
    html = broken.content.decode()
    assert 'class="syntax-error"' in html and 'aria-invalid="true"' in html


def test_keyword_bad_input_is_a_field_error(client, tenant_a, project_a):
    keyword(tenant_a, project_a)
    sign_in(client, tenant_a)
    create = url("keyword-create", project_a)
    missing = client.post(create, keyword_data(name="Other", method_name="nope"))
    assert missing.status_code == 400 and field_errors(missing, "method_name")
    bad_json = client.post(create, keyword_data(name="J", parameters="{not json"))
    assert bad_json.status_code == 400 and field_errors(bad_json, "parameters")
    bad_docs = client.post(create, keyword_data(name="D", parameters='{"type": "array"}'))
    assert bad_docs.status_code == 400 and field_errors(bad_docs, "parameters")
    duplicate = client.post(create, keyword_data())
    assert duplicate.status_code == 400
    assert "already has a keyword with this name" in duplicate.content.decode()
    empty_docs = client.post(create, keyword_data(name="E", parameters=""))
    assert empty_docs.status_code == 302


@override_settings(TESTING_CODE_MAX_BYTES=1024)
def test_oversize_code_is_refused_naming_the_limit(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    code = CODE + "#" * 2000 + "\n"
    response = client.post(url("keyword-create", project_a), keyword_data(code=code))
    assert response.status_code == 400
    assert any("1024" in error for error in field_errors(response, "code"))


def test_edit_and_delete_keyword(client, tenant_a, project_a):
    row = keyword(tenant_a, project_a)
    sign_in(client, tenant_a)
    edit = url("keyword-edit", project_a, row.pk)
    assert client.get(edit).status_code == 200
    assert client.post(edit, keyword_data(is_enabled="")).status_code == 302
    with as_tenant(tenant_a):
        assert not Keyword.objects.get(pk=row.pk).is_enabled
    assert client.post(url("keyword-delete", project_a, row.pk)).status_code == 302
    assert Keyword._base_manager.get(pk=row.pk).is_deleted


def test_functions_create_edit_and_errors(client, tenant_a):
    sign_in(client, tenant_a)
    assert "No global functions yet." in client.get(reverse("testing:functions")).content.decode()
    data = {"class_name": "Text", "method_name": "upper", "code": FUNCTION,
            "parameters": '[{"name": "value", "type": "str"}]', "return_value": ""}
    assert client.post(reverse("testing:function-create"), data).status_code == 302
    with as_tenant(tenant_a):
        row = GlobalFunction.objects.get(class_name="Text")
    assert row.return_value == {} and row.parameters[0]["name"] == "value"
    page = client.get(reverse("testing:functions")).content.decode()
    assert "Text.upper(value)" in page

    duplicate = client.post(reverse("testing:function-create"), data)
    assert duplicate.status_code == 400
    bad = client.post(reverse("testing:function-edit", args=[row.pk]),
                      {**data, "parameters": '[{"name": "1x", "type": "str"}]',
                       "code": "class Text:\n  def upper(:\n"})
    assert bad.status_code == 400
    assert field_errors(bad, "parameters") and field_errors(bad, "code")
    wrong = client.post(reverse("testing:function-edit", args=[row.pk]),
                        {**data, "method_name": "lower"})
    assert wrong.status_code == 400 and field_errors(wrong, "code")
    assert client.post(reverse("testing:function-delete", args=[row.pk])).status_code == 302


def test_functions_are_per_tenant_not_per_project(client, tenant_a, tenant_b):
    mine = function(tenant_a, "Mine")
    function(tenant_b, "Theirs")
    sign_in(client, tenant_a)
    html = client.get(reverse("testing:functions")).content.decode()
    assert "Mine.upper" in html and "Theirs.upper" not in html
    assert client.get(reverse("testing:function-edit", args=[mine.pk])).status_code == 200


@pytest.mark.parametrize("count", [1, 8])
def test_list_query_counts_are_constant(client, tenant_a, project_a, count,
                                        django_assert_max_num_queries):
    for index in range(count):
        keyword(tenant_a, project_a, name=f"K{index}")
        function(tenant_a, f"C{index}")
    sign_in(client, tenant_a)
    client.get(url("keywords", project_a))
    with django_assert_max_num_queries(8):
        assert client.get(url("keywords", project_a)).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(reverse("testing:functions")).status_code == 200
