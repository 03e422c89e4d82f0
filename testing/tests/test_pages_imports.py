"""The import pages and API: upload, preview, import, re-import; errors; two tenants."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.context import tenant_context
from testing.models import ImportJob, Interface
from testing.tests.importer_checks import corpus
from tests.api_cases import assert_error, assert_field_errors, make_actor

pytestmark = pytest.mark.django_db

IMPORT_CODES = ["project:view", "importjob:view", "importjob:create", "interface:create",
                "variable:create", "scenario:create", "interface:view"]


def document(status: int = 200, extra_path: bool = False) -> bytes:
    paths = {"/pets": {"get": {"tags": ["pets"], "summary": "List pets",
                               "responses": {str(status): {"description": "ok"}}}}}
    if extra_path:
        paths["/pets/{id}"] = {"get": {"tags": ["pets"], "summary": "One pet",
                                       "parameters": [{"name": "id", "in": "path",
                                                       "required": True,
                                                       "schema": {"type": "integer"}}],
                                       "responses": {"200": {"description": "ok"}}}}
    return json.dumps({"openapi": "3.0.3", "info": {"title": "Pets", "version": "1"},
                       "servers": [{"url": "https://pets.example.com/v1"}],
                       "paths": paths}).encode()


def upload(client, project, data: bytes, name="pets.json", **fields):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("testing:import", args=[project.pk]), {"file": file, **fields})


def test_upload_preview_and_import_then_sync(client, project_a, tenant_a):
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    response = upload(client, project_a, document())
    assert response.status_code == 302
    preview_url = response["Location"]
    page = client.get(preview_url).content.decode()
    assert "List pets" in page and "create" in page and "https://pets.example.com/v1" in page
    response = client.post(preview_url, {"action": "import", "item": ["request:GET /pets"],
                                         "base_url": "https://pets.example.com/v1",
                                         "environment": "Pets"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        interface = Interface.objects.get(project=project_a)
        assert interface.url == "/pets" and interface.import_key == "openapi:GET /pets"
    # The API changed: the same file again says what changed; nothing is chosen that the
    # tester did not edit away.
    response = upload(client, project_a, document(status=201, extra_path=True))
    page = client.get(response["Location"]).content.decode()
    assert "The file changed it." in page and "New interface." in page


def test_an_unreadable_file_is_refused_naming_where(client, project_a, tenant_a):
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    response = upload(client, project_a, b'{"openapi": "3.0.3", "paths": ', name="bad.json")
    assert response.status_code == 400
    assert "bad.json" in response.content.decode() and "line 1" in response.content.decode()
    assert not ImportJob.objects.all_tenants().exists()


def test_importing_needs_the_create_codes(client, project_a, tenant_a):
    client.force_login(make_actor(tenant_a, ["project:view", "importjob:create"]))
    assert client.get(reverse("testing:import", args=[project_a.pk])).status_code == 403


def test_another_tenants_import_is_404(client, project_a, tenant_a, tenant_b):
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    preview_url = upload(client, project_a, document())["Location"]
    client.force_login(make_actor(tenant_b, IMPORT_CODES))
    assert client.get(preview_url).status_code == 404
    assert client.post(preview_url, {"action": "import"}).status_code == 404


def test_the_api_imports_the_swagger_petstore(tenant_a, project_a, tenant_b):
    api = APIClient()
    api.force_login(make_actor(tenant_a, IMPORT_CODES))
    with corpus("openapi", "petstore3-openapi.yaml").open("rb") as handle:
        response = api.post("/api/v1/testing/imports/", {"project": str(project_a.pk),
                                                         "file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format"] == "openapi" and len([i for i in body["items"]
                                                if i["kind"] == "request"]) == 19
    assert any("oauth" in p["message"].lower() for p in body["problems"])
    applied = api.post(f"/api/v1/testing/imports/{body['id']}/apply/",
                       {"base_url": body["base_urls"][0], "environment": "Petstore"},
                       format="json")
    assert applied.status_code == 200, applied.content
    assert applied.json()["status"] == "imported"
    with tenant_context(tenant_a):
        assert Interface.objects.filter(project=project_a).count() == 19
    other = APIClient()
    other.force_login(make_actor(tenant_b, IMPORT_CODES))
    assert_error(other.get(f"/api/v1/testing/imports/{body['id']}/"), 404)
    assert_field_errors(other.post("/api/v1/testing/imports/", {
        "project": str(project_a.pk), "text": "curl https://x.example"}, format="json"),
        ["project"])


def test_the_api_refuses_a_hostile_document_readably(tenant_a, project_a):
    api = APIClient()
    api.force_login(make_actor(tenant_a, IMPORT_CODES))
    hostile = {"openapi": "3.0.3", "info": {"title": "x", "version": "1"},
               "paths": {"/a": {"$ref": "http://127.0.0.1:9/evil.yaml"}}}
    response = api.post("/api/v1/testing/imports/", {
        "project": str(project_a.pk), "text": json.dumps(hostile), "format": "openapi"},
        format="json")
    fields = assert_field_errors(response, ["file"])
    assert "points outside it" in fields["file"][0]


# Postman data files (newman run -d)

BOM = ("postman", "newman-csv-with-bom.postman_collection.json")
BOM_DATA = ("csv", "newman-csv-with-bom.postman_data.csv")


def named(path) -> io.BytesIO:
    file = io.BytesIO(path.read_bytes())
    file.name = path.name
    return file


def test_the_upload_page_takes_a_data_file_that_becomes_the_dataset(client, project_a,
                                                                     tenant_a):
    client.force_login(make_actor(tenant_a, [*IMPORT_CODES, "dataset:create"]))
    response = client.post(reverse("testing:import", args=[project_a.pk]), {
        "file": named(corpus(*BOM)), "data_file": named(corpus(*BOM_DATA))})
    assert response.status_code == 302, response.content.decode()
    page = client.get(response["Location"]).content.decode()
    assert "newman-csv-with-bom.postman_data.csv" in page
    assert "run once per row of its dataset" in page and "(1 rows)" in page
    assert "column c3 is missing from 1 row(s)" in page
    assert "pm.expect(data.c1).to.eql(&#x27;123&#x27;);" in page   # listed, not dropped
    client.post(response["Location"], {"action": "import", "item": [
        "request:GET postman-echo.com/get", "scenario:CSV with BOM"]})
    with tenant_context(tenant_a):
        from testing.models import Dataset
        dataset = Dataset.objects.get(project=project_a)
        assert dataset.scenario.name == "CSV with BOM"
        assert dataset.csv_data == 'c1,c2,c3\n123,"foo ""bar"" baz",\n'


@pytest.mark.parametrize(("content", "reason"), [
    (b"\x00\x01\x02", "NUL character"),
    (b"a,b\n1,2,3\n", "the row has 3 values where the header names 2"),
])
def test_a_bad_data_file_is_refused_on_the_page_and_nothing_is_written(
        client, project_a, tenant_a, content, reason):
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    data = io.BytesIO(content)
    data.name = "rows.csv"
    response = client.post(reverse("testing:import", args=[project_a.pk]), {
        "file": named(corpus(*BOM)), "data_file": data})
    assert response.status_code == 400
    assert "rows.csv" in response.content.decode() and reason in response.content.decode()
    assert not ImportJob.objects.all_tenants().exists()


def test_a_data_file_larger_than_a_dataset_is_refused_before_reading(
        client, project_a, tenant_a, settings):
    settings.TESTING_DATASET_MAX_BYTES = 1024
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    data = io.BytesIO(b"a\n" + b"x\n" * 1000)
    data.name = "rows.csv"
    response = client.post(reverse("testing:import", args=[project_a.pk]), {
        "file": named(corpus(*BOM)), "data_file": data})
    assert response.status_code == 400 and "at most 1024" in response.content.decode()
    assert not ImportJob.objects.all_tenants().exists()


def test_the_api_takes_a_data_file_and_names_it_when_refused(tenant_a, project_a):
    api = APIClient()
    api.force_login(make_actor(tenant_a, IMPORT_CODES))
    response = api.post("/api/v1/testing/imports/", {
        "project": str(project_a.pk), "file": named(corpus(*BOM)),
        "data_file": named(corpus(*BOM_DATA))}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["data_filename"] == "newman-csv-with-bom.postman_data.csv"
    [scenario] = [i for i in body["items"] if i["kind"] == "scenario"]
    assert "dataset" in scenario["reason"]
    bad = io.BytesIO(b'[{"a": 1}, 2]')
    bad.name = "rows.json"
    fields = assert_field_errors(api.post("/api/v1/testing/imports/", {
        "project": str(project_a.pk), "file": named(corpus(*BOM)), "data_file": bad},
        format="multipart"), ["data_file"])
    assert "rows.json, /1: an iteration that is not an object" in fields["data_file"][0]
    with tenant_context(tenant_a):
        assert ImportJob.objects.count() == 1


def test_importing_a_dataset_needs_the_dataset_code(client, project_a, tenant_a):
    """The import writes a dataset: a tester who may not create datasets may preview it,
    not import it."""
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    response = client.post(reverse("testing:import", args=[project_a.pk]), {
        "file": named(corpus(*BOM)), "data_file": named(corpus(*BOM_DATA))})
    assert client.get(response["Location"]).status_code == 200
    assert client.post(response["Location"], {"action": "import"}).status_code == 403
    api = APIClient()
    api.force_login(make_actor(tenant_a, IMPORT_CODES))
    job = ImportJob.objects.all_tenants().get()
    assert_error(api.post(f"/api/v1/testing/imports/{job.pk}/apply/", {}, format="json"), 403)
