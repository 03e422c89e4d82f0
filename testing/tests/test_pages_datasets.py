"""The datasets pages: paste or upload CSV, preview, line-level errors, limits."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from testing.models import Dataset, Project, Scenario
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
CSV = "user,password\nalice,a1\nbob,b2\n"


def url(name, project, *args):
    return reverse(f"testing:{name}", args=[project.pk, *args])


def dataset(tenant, project, name="Users", csv_data=CSV, **fields):
    return make(Dataset, tenant, project=project, name=name, csv_data=csv_data, **fields)


def stored(tenant, project, name="Users"):
    with as_tenant(tenant):
        return Dataset.objects.get(project=project, name=name)


def test_sign_in_and_codes(client, tenant_a, project_a):
    row = dataset(tenant_a, project_a)
    urls = [url("datasets", project_a), url("dataset-create", project_a),
            url("dataset", project_a, row.pk), url("dataset-delete", project_a, row.pk)]
    assert_sign_in_needed(client, urls)
    sign_in(client, tenant_a, codes((Project, "view")))
    assert_all_refused(client, urls)


def test_view_only_sees_the_preview_but_cannot_change(client, tenant_a, project_a):
    row = dataset(tenant_a, project_a)
    sign_in(client, tenant_a, codes((Project, "view"), (Dataset, "view")))
    page = client.get(url("dataset", project_a, row.pk))
    assert page.status_code == 200 and page.context["form"] is None
    assert "alice" in page.content.decode()
    assert client.post(url("dataset", project_a, row.pk), {"name": "x"}).status_code == 403


def test_another_tenants_datasets_are_404(client, tenant_a, tenant_b, project_b):
    row = dataset(tenant_b, project_b)
    sign_in(client, tenant_a)
    assert_all_missing(client, [url("datasets", project_b), url("dataset-create", project_b),
                                url("dataset", project_b, row.pk),
                                url("dataset-delete", project_b, row.pk)])


def test_empty_list_says_what_to_do(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    html = client.get(url("datasets", project_a)).content.decode()
    assert "No datasets yet. Add one to run a scenario once per row" in html


def test_paste_preview_then_save(client, tenant_a, project_a):
    """Preview shows the rows without saving; save stores and shows them."""
    sign_in(client, tenant_a)
    create = url("dataset-create", project_a)
    preview = client.post(create, {"name": "Users", "csv_data": CSV, "action": "preview"})
    assert preview.status_code == 200 and preview.context["preview"]["count"] == 2
    assert "<code>password</code>" in preview.content.decode()
    with as_tenant(tenant_a):
        assert not Dataset.objects.filter(project=project_a).exists()
    saved = client.post(create, {"name": "Users", "csv_data": CSV, "action": "save"})
    row = stored(tenant_a, project_a)
    assert saved.status_code == 302 and saved.url == url("dataset", project_a, row.pk)
    page = client.get(saved.url)
    assert page.context["stored"]["header"] == ["user", "password"]
    assert "bob" in page.content.decode()


def test_upload_a_file_and_its_text_comes_back_for_saving(client, tenant_a, project_a):
    """An uploaded file is read (BOM dropped); a preview puts its text in the text area."""
    sign_in(client, tenant_a)
    upload = SimpleUploadedFile("users.csv", ("\ufeff" + CSV).encode(), "text/csv")
    preview = client.post(url("dataset-create", project_a),
                          {"name": "Users", "csv_data": "", "csv_file": upload,
                           "action": "preview"})
    assert preview.status_code == 200
    assert preview.context["form"]["csv_data"].value().startswith("user,password")
    upload = SimpleUploadedFile("users.csv", CSV.encode(), "text/csv")
    saved = client.post(url("dataset-create", project_a),
                        {"name": "Users", "csv_data": "", "csv_file": upload, "action": "save"})
    assert saved.status_code == 302
    assert stored(tenant_a, project_a).csv_data == CSV


def test_line_level_errors(client, tenant_a, project_a):
    """A row with a wrong number of columns, or a bad header, names the line."""
    sign_in(client, tenant_a)
    create = url("dataset-create", project_a)
    short = client.post(create, {"name": "U", "csv_data": "a,b\n1,2\n3\n"})
    assert short.status_code == 400
    assert field_errors(short, "csv_data")[0].startswith("Line 3:")
    header = client.post(create, {"name": "U", "csv_data": "a,not ok\n1,2\n"})
    assert field_errors(header, "csv_data")[0].startswith("Line 1:")
    upload = SimpleUploadedFile("bad.csv", b"a,b\n1,2\n\xff\xfe,3\n", "text/csv")
    binary = client.post(create, {"name": "U", "csv_data": "", "csv_file": upload})
    assert binary.status_code == 400
    assert field_errors(binary, "csv_file")[0].startswith("Line 3:")
    # The text of a file with errors comes back in the text area, to be fixed there.
    upload = SimpleUploadedFile("short.csv", b"a,b\n1,2\n3\n", "text/csv")
    fixable = client.post(create, {"name": "U", "csv_data": "", "csv_file": upload})
    assert fixable.status_code == 400
    assert fixable.context["form"]["csv_data"].value() == "a,b\n1,2\n3\n"
    assert field_errors(fixable, "csv_data")[0].startswith("Line 3:")


def test_nothing_or_both_is_an_error(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    create = url("dataset-create", project_a)
    nothing = client.post(create, {"name": "U", "csv_data": ""})
    assert nothing.status_code == 400 and field_errors(nothing, "csv_data")
    upload = SimpleUploadedFile("users.csv", CSV.encode(), "text/csv")
    both = client.post(create, {"name": "U", "csv_data": "x\n1\n", "csv_file": upload})
    assert both.status_code == 400 and field_errors(both, "csv_file")


@override_settings(TESTING_DATASET_MAX_BYTES=1024)
def test_oversize_data_is_refused_naming_the_limit(client, tenant_a, project_a):
    sign_in(client, tenant_a)
    big = "a\n" + "x\n" * 1000
    pasted = client.post(url("dataset-create", project_a), {"name": "U", "csv_data": big})
    assert pasted.status_code == 400
    assert "1024" in field_errors(pasted, "csv_data")[0]
    upload = SimpleUploadedFile("big.csv", big.encode(), "text/csv")
    uploaded = client.post(url("dataset-create", project_a),
                           {"name": "U", "csv_data": "", "csv_file": upload})
    assert uploaded.status_code == 400
    assert "1024" in field_errors(uploaded, "csv_file")[0]


def test_scenario_choice_is_the_projects(client, tenant_a, project_a):
    other = make(Project, tenant_a, name="Other")
    theirs = make(Scenario, tenant_a, project=other, name="Elsewhere")
    mine = make(Scenario, tenant_a, project=project_a, name="Checkout")
    sign_in(client, tenant_a)
    create = url("dataset-create", project_a)
    refused = client.post(create, {"name": "U", "csv_data": CSV, "scenario": theirs.pk})
    assert refused.status_code == 400 and field_errors(refused, "scenario")
    assert client.post(create, {"name": "U", "csv_data": CSV,
                                "scenario": mine.pk}).status_code == 302


def test_edit_and_delete(client, tenant_a, project_a):
    row = dataset(tenant_a, project_a)
    sign_in(client, tenant_a)
    page = url("dataset", project_a, row.pk)
    assert client.post(page, {"name": "Users", "csv_data": "id\n1\n2\n3\n",
                              "action": "save"}).status_code == 302
    assert stored(tenant_a, project_a).csv_data.startswith("id")
    # The unchanged text area (sent back with CRLF by browsers) plus a file: the file wins.
    upload = SimpleUploadedFile("n.csv", b"n\n7\n", "text/csv")
    response = client.post(page, {"name": "Users", "csv_data": "id\r\n1\r\n2\r\n3\r\n",
                                  "csv_file": upload, "action": "save"})
    assert response.status_code == 302
    assert stored(tenant_a, project_a).csv_data == "n\n7\n"
    assert client.post(url("dataset-delete", project_a, row.pk)).status_code == 302
    assert Dataset._base_manager.get(pk=row.pk).is_deleted


@pytest.mark.parametrize("count", [1, 8])
def test_list_query_count_is_constant(client, tenant_a, project_a, count,
                                      django_assert_max_num_queries):
    scenario = make(Scenario, tenant_a, project=project_a, name="S")
    for index in range(count):
        dataset(tenant_a, project_a, name=f"D{index}", scenario=scenario)
    sign_in(client, tenant_a)
    client.get(url("datasets", project_a))
    with django_assert_max_num_queries(8):
        assert client.get(url("datasets", project_a)).status_code == 200
