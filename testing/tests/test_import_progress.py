"""Large imports read by a Celery task with progress (issue 15, item 1: "a 10 MB OpenAPI
document imports within the worker's limits"): above ``TESTING_IMPORT_INLINE_BYTES`` the
upload keeps the file in a job "parsing", the task ``parse_import`` reads it recording its
stage and percent, then the preview is ready or the job says why it cannot be. The page
polls the progress (htmx), the API answers 202; two tenants. In process (the task eager,
as ``runs_in_process`` runs them), and once on a real worker process."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from core.context import tenant_context
from testing import importers
from testing.models import ImportJob, Interface
from testing.services import imports
from testing.tests import test_worker_runs
from testing.tests.test_pages_imports import IMPORT_CODES, document
from tests.api_cases import assert_error, assert_field_errors, make_actor

pytestmark = pytest.mark.django_db

INLINE = 256   # bytes: the documents below are larger
workers = test_worker_runs.workers   # Celery worker processes on a queue of the test's own


@pytest.fixture
def small_inline(settings):
    settings.TESTING_IMPORT_INLINE_BYTES = INLINE


def big_document(operations: int = 20) -> bytes:
    paths = {f"/items{n}": {"get": {"summary": f"Item {n}", "responses": {
        "200": {"description": "ok"}}}} for n in range(operations)}
    return json.dumps({"openapi": "3.0.3", "info": {"title": "Big", "version": "1"},
                       "servers": [{"url": "https://big.example.com"}],
                       "paths": paths}).encode()


def upload(project, data: bytes, capture, filename: str = "big.json", **options):
    with tenant_context(project.tenant), capture(execute=True):
        return imports.upload(project, data, filename, **options)


def test_a_small_file_is_read_in_the_request(project_a, small_inline):
    with tenant_context(project_a.tenant):
        job = imports.upload(project_a, b"curl https://a.example", "c.txt")
    assert job.status == "previewed" and job.progress == 100 and job.source is None


@pytest.mark.usefixtures("runs_in_process", "small_inline")
def test_a_large_file_waits_for_the_task_which_records_its_progress(
        project_a, django_capture_on_commit_callbacks, monkeypatch):
    seen = []
    parse = importers.parse

    def watched(*args, **kwargs):
        # What a poll of the page reads while the importer works: its own statements.
        seen.append(ImportJob.objects.all_tenants().values_list("stage", "progress").get())
        return parse(*args, **kwargs)

    monkeypatch.setattr(importers, "parse", watched)
    with tenant_context(project_a.tenant):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job = imports.upload(project_a, big_document(), "big.json")
        waiting = ImportJob.objects.get(pk=job.pk)
        assert (waiting.status, waiting.stage, waiting.progress) == ("parsing", "waiting", 0)
        assert bytes(waiting.source) == big_document() and waiting.plan == {}
        for callback in callbacks:
            callback()
        job.refresh_from_db()
    assert seen == [("mapping", 40)]
    assert (job.status, job.stage, job.progress, job.attempts) == ("previewed", "done", 100, 1)
    assert job.source is None and job.format == "openapi" and job.title == "Big"
    assert len(job.plan["requests"]) == 20


@pytest.mark.usefixtures("runs_in_process", "small_inline")
def test_a_large_file_that_cannot_be_read_fails_with_the_reason(
        project_a, django_capture_on_commit_callbacks):
    broken = b'{"openapi": "3.0.3", "paths": {' + b" " * INLINE
    job = upload(project_a, broken, django_capture_on_commit_callbacks, "broken.json")
    with tenant_context(project_a.tenant):
        job.refresh_from_db()
        assert job.status == "failed" and job.source is None
        assert job.error.startswith("broken.json, line 1") and "not valid JSON" in job.error
        with pytest.raises(imports.ImportRefused, match="could not be read"):
            imports.apply(job, chosen=set())
        assert not Interface.objects.exists()


@pytest.mark.usefixtures("small_inline")
def test_what_the_request_can_refuse_of_a_large_file_it_refuses_at_once(project_a, settings):
    """Not UTF-8, larger than the import limit, a bad data file: refused, no job kept."""
    settings.TESTING_IMPORT_MAX_BYTES = 2048
    with tenant_context(project_a.tenant):
        with pytest.raises(importers.ImportFailed, match="not UTF-8"):
            imports.upload(project_a, b"\xff" * 1000, "x.bin")
        with pytest.raises(importers.ImportFailed, match="at most 2048"):
            imports.upload(project_a, b"a" * 4096, "x.json")
        with pytest.raises(importers.ImportFailed, match="rows.csv"):
            imports.upload(project_a, big_document(2), "c.postman_collection.json",
                           data_file=importers.DataFile(b"a\n1,2\n", "rows.csv"))
        assert not ImportJob.objects.exists()


@pytest.mark.usefixtures("small_inline")
def test_a_worker_that_keeps_dying_on_a_file_gives_up(project_a):
    """A worker killed reading a file (out of memory) hands the task to another
    (``reject_on_worker_lost``); after ``MAX_ATTEMPTS`` the job fails, saying so."""
    with tenant_context(project_a.tenant):
        job = imports.upload(project_a, big_document(), "big.json")
        ImportJob.objects.filter(pk=job.pk).update(attempts=imports.MAX_ATTEMPTS)
        assert imports.read_waiting(job.pk) == "failed"
        job.refresh_from_db()
        assert "stopped while reading the file, 2 times" in job.error
        assert imports.read_waiting(job.pk) == "failed"   # sent again: left alone


@pytest.mark.usefixtures("runs_in_process", "small_inline")
def test_the_task_belongs_to_the_tenant_of_the_job(project_a, project_b, tenant_b,
                                                   django_capture_on_commit_callbacks):
    job = upload(project_a, big_document(), django_capture_on_commit_callbacks)
    with tenant_context(tenant_b):
        assert imports.read_waiting(job.pk) == ""   # another tenant sees no such job
        assert not ImportJob.objects.filter(pk=job.pk).exists()


# The page


@pytest.mark.usefixtures("small_inline")
def test_the_page_shows_the_progress_and_polls_it(client, project_a, tenant_a,
                                                  django_capture_on_commit_callbacks):
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    file = io.BytesIO(big_document())
    file.name = "big.json"
    with django_capture_on_commit_callbacks(execute=False):   # no worker yet
        response = client.post(reverse("testing:import", args=[project_a.pk]), {"file": file})
    assert response.status_code == 302
    url = response["Location"]
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page and f'hx-get="{url}?progress=1"' in page
    assert '<progress id="import-percent" max="100" value="0">' in page
    assert "Waiting for a worker" in page
    fragment = client.get(f"{url}?progress=1", headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith("<div id=\"import-progress\"")
    job = ImportJob.objects.all_tenants().get()
    with tenant_context(tenant_a):
        imports.read_waiting(job.pk)
    done = client.get(f"{url}?progress=1", headers={"HX-Request": "true"})
    assert done.status_code == 200 and done["HX-Refresh"] == "true"
    page = client.get(url).content.decode()
    assert "Item 19" in page and "import-progress" not in page


@pytest.mark.usefixtures("small_inline")
def test_the_page_of_a_file_that_could_not_be_read_says_why(client, project_a, tenant_a,
                                                            tenant_b):
    with tenant_context(tenant_a):
        job = imports.upload(project_a, b"[" * 10 + b" " * INLINE, "deep.json")
        imports.read_waiting(job.pk)
    client.force_login(make_actor(tenant_a, IMPORT_CODES))
    url = reverse("testing:import-preview", args=[project_a.pk, job.pk])
    page = client.get(url).content.decode()
    assert "Nothing was imported: the file cannot be read." in page
    assert "deep.json" in page and "hx-trigger" not in page
    client.force_login(make_actor(tenant_b, IMPORT_CODES))
    assert client.get(url).status_code == 404
    assert client.get(f"{url}?progress=1", headers={"HX-Request": "true"}).status_code == 404


# The API


@pytest.mark.usefixtures("small_inline")
def test_the_api_answers_202_then_the_preview(tenant_a, project_a, tenant_b,
                                              django_capture_on_commit_callbacks):
    api = APIClient()
    api.force_login(make_actor(tenant_a, IMPORT_CODES))
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post("/api/v1/testing/imports/", {
            "project": str(project_a.pk), "text": big_document().decode()}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["stage"], body["progress"]) == ("parsing", "waiting", 0)
    assert body["items"] == [] and body["error"] == ""
    assert api.get(f"/api/v1/testing/imports/{body['id']}/").json()["status"] == "parsing"
    fields = assert_field_errors(api.post(f"/api/v1/testing/imports/{body['id']}/apply/", {},
                                          format="json"), ["items"])
    assert "still being read" in fields["items"][0]
    other = APIClient()
    other.force_login(make_actor(tenant_b, IMPORT_CODES))
    assert_error(other.get(f"/api/v1/testing/imports/{body['id']}/"), 404)
    with tenant_context(tenant_a):
        imports.read_waiting(body["id"])
    ready = api.get(f"/api/v1/testing/imports/{body['id']}/").json()
    assert ready["status"] == "previewed" and ready["progress"] == 100
    assert len([i for i in ready["items"] if i["kind"] == "request"]) == 20
    applied = api.post(f"/api/v1/testing/imports/{body['id']}/apply/", {}, format="json")
    assert applied.status_code == 200 and applied.json()["status"] == "imported"


def test_the_default_threshold_parses_a_small_upload_inline(tenant_a, project_a):
    api = APIClient()
    api.force_login(make_actor(tenant_a, IMPORT_CODES))
    response = api.post("/api/v1/testing/imports/", {
        "project": str(project_a.pk), "text": document().decode()}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "previewed"


# A real worker process


@pytest.mark.skipif(connection.vendor == "sqlite",
                    reason="a worker process cannot reach SQLite's in-memory test database")
@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_process_reads_a_large_file(workers, project_a, tenant_a, settings):
    settings.TESTING_IMPORT_INLINE_BYTES = INLINE
    workers.start()
    with tenant_context(tenant_a):
        job = imports.upload(project_a, big_document(200), f"big-{uuid.uuid4().hex}.json")

    def ready() -> bool:
        with tenant_context(tenant_a):
            return ImportJob.objects.get(pk=job.pk).status != "parsing"

    workers.wait_for(ready, "the import read by the worker")
    with tenant_context(tenant_a):
        job.refresh_from_db()
    assert (job.status, job.progress, job.attempts) == ("previewed", 100, 1), job.error
    assert len(job.plan["requests"]) == 200 and job.source is None


def ten_megabytes() -> bytes:
    """An OpenAPI document of about 10 MB: operations with long descriptions."""
    text = "x" * 2000
    paths = {f"/things{n}": {"get": {"summary": f"Thing {n}", "description": text,
                                     "responses": {"200": {"description": "ok"}}}}
             for n in range(5000)}
    return json.dumps({"openapi": "3.0.3", "info": {"title": "Large", "version": "1"},
                       "paths": paths}).encode()


@pytest.mark.usefixtures("runs_in_process")
def test_a_ten_megabyte_document_is_read_by_the_task_not_the_request(
        project_a, django_capture_on_commit_callbacks):
    """The issue's case, with the default threshold: the upload keeps the file, the task
    reads it into a preview of every operation."""
    data = ten_megabytes()
    assert len(data) > 10_000_000
    with tenant_context(project_a.tenant):
        with django_capture_on_commit_callbacks(execute=True):
            job = imports.upload(project_a, data, "large.json")
            assert job.status == "parsing"
        job.refresh_from_db()
        assert job.status == "previewed", job.error
        assert len(job.plan["requests"]) == 5000 and job.source is None
        assert len(imports.preview(job).items) == 5000
