"""Structured logs (issue 19, item 1): one JSON object per line with the request context,
one access record per request, secrets redacted, Celery tasks carrying their request id.

The records are those of ``LOGGING``'s own console handler (its filters: the request
context and the platform's redaction), pointed at a buffer with the JSON formatter.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.services.api_keys import issue_api_key
from conftest import make_user
from core.context import TenantScope, request_context, tenant_context
from core.logjson import JsonFormatter, TextFormatter, redacted_query
from core.redaction import MASK
from core.tests import logtasks
from tenants.tests import test_celery as celery_tests

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ME_URL = "/api/v1/me/"


@contextmanager
def console_writing_to(stream: io.StringIO, formatter: logging.Formatter) -> Iterator[None]:
    """Point the console handler ``LOGGING`` configured (its own filters) at ``stream``
    with ``formatter``, then restore it."""
    [handler] = [handler for handler in logging.getLogger().handlers
                 if handler.name == "console"]
    saved_formatter = handler.formatter
    saved_stream = handler.setStream(stream)
    handler.setFormatter(formatter)
    try:
        yield
    finally:
        handler.setStream(saved_stream)
        handler.setFormatter(saved_formatter)


class Captured:
    """The lines a captured handler wrote."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        """Every line, each parsed as one JSON object (a line that is not fails the test)."""
        return [json.loads(line) for line in self.text().splitlines()]

    def of(self, logger: str) -> list[dict]:
        return [record for record in self.records() if record["logger"] == logger]


@pytest.fixture
def json_log() -> Iterator[Captured]:
    stream = io.StringIO()
    with console_writing_to(stream, JsonFormatter()):
        yield Captured(stream)


def test_the_console_handler_carries_the_context_and_redaction_filters():
    """LOGGING puts the context filter and the platform's redaction on the console."""
    assert settings.LOGGING["handlers"]["console"]["filters"] == [
        "request_context", "redact_secrets"]
    assert settings.LOGGING["filters"]["redact_secrets"]["()"] == (
        "core.redaction.RedactSecretsFilter")


def test_a_record_is_one_json_object_with_the_leading_fields(json_log):
    """time (ISO 8601 UTC), level, logger, message, request id, tenant and actor lead."""
    tenant_id = uuid.uuid4()
    with request_context(scope=TenantScope(tenant_id=tenant_id), actor_id=42,
                         request_id="req-leading-1"):
        logging.getLogger("atrium.test").warning("hello %s\nsecond line", "world")
    [record] = json_log.of("atrium.test")
    assert list(record)[:7] == ["time", "level", "logger", "message", "request_id", "tenant",
                                "actor"]
    assert record["time"].endswith("Z") and "T" in record["time"]
    assert record["level"] == "WARNING"
    assert record["message"] == "hello world\nsecond line"
    assert (record["request_id"], record["tenant"], record["actor"]) == (
        "req-leading-1", str(tenant_id), "42")
    assert len(json_log.text().splitlines()) == 1  # the newline is escaped, one line


def test_outside_any_context_the_context_fields_are_null(json_log):
    logging.getLogger("atrium.test").warning("no context")
    [record] = json_log.of("atrium.test")
    assert (record["request_id"], record["tenant"], record["actor"]) == (None, None, None)


def test_secrets_are_redacted_in_the_message_extras_and_traceback(json_log):
    """The platform's redaction covers the message, the extra fields (a path with a key in
    its query string, a secret-named field) and the traceback."""
    key = "atr_abcdef123456_S3cretS3cretS3cret"
    try:
        raise ValueError(f"refused {key}")
    except ValueError:
        logging.getLogger("atrium.test").exception(
            "Authorization: Bearer %s", "tok-very-secret",
            extra={"path": f"/api/v1/me/?k={key}", "password": "hunter22",
                   "headers": "{'HTTP_AUTHORIZATION': 'Basic dXNlcjpwYXNz'}"})
    [record] = json_log.of("atrium.test")
    output = json_log.text()
    for secret in ("S3cretS3cret", "tok-very-secret", "hunter22", "dXNlcjpwYXNz"):
        assert secret not in output
    assert record["message"] == f"Authorization: {MASK}"
    assert record["path"] == f"/api/v1/me/?k=atr_abcdef123456_{MASK}"
    assert record["password"] == MASK
    assert "ValueError: refused atr_abcdef123456_" in record["exc_info"]


@pytest.mark.django_db
def test_a_request_writes_one_access_record_with_its_context(json_log, client_a, tenant_a,
                                                             admin_a):
    """The access record carries the incoming request id, the tenant and actor, the method,
    path, status and duration; the response answers the same id."""
    response = client_a.get(ME_URL, HTTP_X_REQUEST_ID="req-incoming-7")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-incoming-7"
    [record] = json_log.of("atrium.request")
    assert record["request_id"] == "req-incoming-7"
    assert record["tenant"] == str(tenant_a.pk)
    assert record["actor"] == str(admin_a.pk)
    assert (record["method"], record["path"], record["status"]) == ("GET", ME_URL, 200)
    assert record["query"] is None
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] > 0
    assert record["level"] == "INFO"


@pytest.mark.django_db
def test_every_record_of_a_request_carries_the_generated_request_id(json_log, client_a):
    """Without an incoming id the generated one (the response's) is on every record."""
    response = client_a.get("/no-such-page/")
    assert response.status_code == 404
    records = [record for record in json_log.records() if record["request_id"]]
    assert {record["request_id"] for record in records} == {response["X-Request-ID"]}
    assert {"atrium.request", "django.request"} <= {record["logger"] for record in records}


@pytest.mark.django_db
def test_records_of_two_tenants_requests_carry_their_own_tenant(json_log, client_a, tenant_a,
                                                                tenant_b, admin_b):
    client_b = Client()
    client_b.force_login(admin_b)
    assert client_a.get(ME_URL).status_code == 200
    assert client_b.get(ME_URL).status_code == 200
    assert client_a.get(ME_URL).status_code == 200
    tenants = [record["tenant"] for record in json_log.of("atrium.request")]
    assert tenants == [str(tenant_a.pk), str(tenant_b.pk), str(tenant_a.pk)]


@pytest.mark.django_db
def test_an_api_key_request_is_logged_with_its_principal_and_no_secret(json_log, tenant_a):
    """The key's tenant and user, entered inside the view, are on the access record; the
    key in the Authorization header and in the query string is not in the output."""
    alice = make_user(tenant_a, "alice")
    with tenant_context(tenant_a):
        _, plaintext = issue_api_key(user=alice, name="ci", scopes=["user:view"])
    prefix = "_".join(plaintext.split("_")[:2]) + "_"  # atr_<prefix>_: not secret
    secret = plaintext[len(prefix):]
    response = Client().get(f"{ME_URL}?api_key={plaintext}&q={plaintext}&page=2",
                            HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 200, response.content
    logging.getLogger("atrium.test").info("request headers %s",
                                          {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"})
    assert secret not in json_log.text()
    [record] = json_log.of("atrium.request")
    assert record["tenant"] == str(tenant_a.pk)
    assert record["actor"] == str(alice.pk)
    assert record["query"] == f"api_key={MASK}&q={prefix}{MASK}&page=2"


def test_redacted_query_masks_secret_names_and_keys():
    assert redacted_query("token=abc&next=%2Fhome&key=atr_abc_0123456789") == (
        f"token={MASK}&next=/home&key=atr_abc_{MASK}")


def test_the_text_line_shows_the_request_id_tenant_and_actor():
    """Development's text line carries the context too, a dash for each missing part."""
    stream = io.StringIO()
    logger = logging.getLogger("atrium.test.text")
    with console_writing_to(stream, TextFormatter()):
        tenant_id = uuid.uuid4()
        with request_context(scope=TenantScope(tenant_id=tenant_id), request_id="req-text-3"):
            logger.warning("inside")
        logger.warning("outside")
    inside, outside = stream.getvalue().splitlines()
    assert f" WARNING atrium.test.text [req-text-3 {tenant_id} -] inside" in inside
    assert outside.endswith(" WARNING atrium.test.text [- - -] outside")


def test_log_format_json_configures_the_platform_for_json_lines():
    """A process started with LOG_FORMAT=json writes its records as JSON on stderr (the
    settings' LOGGING, not a handler built by the test); a bad value refuses to start."""
    code = ("import django, logging; django.setup(); "
            "logging.getLogger('atrium.test').warning('from a process')")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stderr.strip().splitlines()[-1])
    assert (record["logger"], record["message"]) == ("atrium.test", "from a process")
    env["LOG_FORMAT"] = "yaml"
    done = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "LOG_FORMAT must be 'json' or 'text'" in done.stderr


# ---------------------------------------------------------------------------
# Celery tasks
# ---------------------------------------------------------------------------


def test_a_task_run_through_the_task_base_class_logs_the_senders_request_id(json_log):
    """In process (``apply``, through TenantAwareTask's headers), the task's records carry
    the sender's request id and tenant; without a sender's id, the task id."""
    tenant_id = uuid.uuid4()
    with request_context(scope=TenantScope(tenant_id=tenant_id), request_id="req-sender-5"):
        result = logtasks.log_context.apply(args=["first"])
    assert result.get() == "req-sender-5"
    with tenant_context(tenant_id):
        second = logtasks.log_context.apply(args=["second"])
    assert second.get() == second.id
    first_record, second_record = json_log.of("atrium.test.task")
    assert (first_record["marker"], first_record["request_id"], first_record["tenant"]) == (
        "first", "req-sender-5", str(tenant_id))
    assert (second_record["request_id"], second_record["tenant"]) == (second.id,
                                                                      str(tenant_id))


@pytest.fixture(scope="module")
def json_worker(tmp_path_factory) -> Iterator[dict]:
    """A real worker on Redis (database 15, a queue of its own) writing JSON logs, with the
    test task module included (``--include``)."""
    celery_tests.require_service(celery_tests.REDIS_HOST, celery_tests.REDIS_PORT, "Redis")
    queue = f"atrium-test-logs-{uuid.uuid4().hex}"
    log = tmp_path_factory.mktemp("celery-json-worker") / "worker.log"
    env = {**os.environ, "CELERY_BROKER_URL": celery_tests.REDIS_URL,
           "CELERY_RESULT_BACKEND": celery_tests.REDIS_URL,
           "DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_FORMAT": "json"}
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
        "--concurrency=1", "-Q", queue, "--include", "core.tests.logtasks",
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=INFO",
    ]
    with celery_tests.celery_app_using(celery_tests.REDIS_URL, celery_tests.REDIS_URL):
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output,
                                       stderr=subprocess.STDOUT)
        try:
            celery_tests._wait_until_ready(process, log)
            yield {"queue": queue, "log": log}
        finally:
            celery_tests._stop(process)
            celery_tests._delete_queue(queue)


@pytest.mark.services
def test_a_real_workers_task_records_carry_the_request_id_and_tenant(json_worker):
    """Two tasks sent from two tenants' requests: the worker's JSON record of each carries
    its sender's request id and tenant."""
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    results = []
    for tenant_id, request_id in ((tenant_a, "req-worker-a"), (tenant_b, "req-worker-b")):
        with request_context(scope=TenantScope(tenant_id=tenant_id), request_id=request_id):
            results.append(logtasks.log_context.apply_async(args=[request_id],
                                                            queue=json_worker["queue"]))
    try:
        assert [result.get(timeout=celery_tests.RESULT_TIMEOUT) for result in results] == [
            "req-worker-a", "req-worker-b"]
    finally:
        for result in results:
            result.forget()
    lines = json_worker["log"].read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    by_marker = {record["marker"]: record for record in records
                 if record["logger"] == "atrium.test.task"}
    assert by_marker["req-worker-a"]["request_id"] == "req-worker-a"
    assert by_marker["req-worker-a"]["tenant"] == str(tenant_a)
    assert by_marker["req-worker-b"]["request_id"] == "req-worker-b"
    assert by_marker["req-worker-b"]["tenant"] == str(tenant_b)
