"""Why a file cannot be imported reads in the reader's language (issue 17, item 4): the job a
worker could not read keeps its error's msgid and parameters (``ImportJob.error_i18n``), and
the import page and the API (``error_localized``) show it in Chinese for a zh-hans reader and
in English for an English one; ``error`` stays English; a job stored before errors had ids
shows its text; a file the request refuses at once is refused in the reader's language too;
another tenant sees nothing of the job.

The zh-hans catalogue gets the translations below for the test's duration (``chinese``):
the messages are new, and ``locale/`` is filled in by the lead.
"""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import translation

from core.context import tenant_context
from testing import importers
from testing.models import ImportJob
from testing.services import imports
from testing.tests.test_message_i18n import IMPORT_CODES, reader
from testing.tests.conftest import zh_hans_catalogue_with
from testing.tests.test_pages_imports import document

pytestmark = pytest.mark.django_db

INLINE = 256   # bytes: the files below are larger, so a worker reads them
FILE_REASON = "%(filename)s: %(reason)s"
FILE_WHERE_REASON = "%(filename)s, %(where)s: %(reason)s"
TOO_DEEP = "the JSON nests deeper than %(depth)d levels"
EXPANDS = "the document expands to more than %(count)d values (aliases of aliases)"
NOT_UTF8 = "the file is not UTF-8 text (is it a binary file?)"
BYTE = "byte %(number)d"
STOPPED = ("The worker stopped while reading the file, %(count)d times (is it too large for "
           "the worker's memory?).")
ZH = {
    FILE_REASON: "%(filename)s：%(reason)s",
    FILE_WHERE_REASON: "%(filename)s，%(where)s：%(reason)s",
    TOO_DEEP: "JSON 嵌套超过 %(depth)d 层",
    NOT_UTF8: "文件不是 UTF-8 文本（是二进制文件吗？）",
    BYTE: "第 %(number)d 字节",
    STOPPED: "后台任务在读取该文件时已停止 %(count)d 次（文件是否超出了后台任务的内存？）。",
}
ENGLISH_DEEP = "deep.json: the JSON nests deeper than 64 levels"
CHINESE_DEEP = "deep.json：JSON 嵌套超过 64 层"
ENGLISH_BINARY = "x.bin, byte 0: the file is not UTF-8 text (is it a binary file?)"
CHINESE_BINARY = "x.bin，第 0 字节：文件不是 UTF-8 文本（是二进制文件吗？）"


@pytest.fixture
def chinese():
    """Give the zh-hans catalogue the translations of ``ZH`` for the test, then restore it."""
    with zh_hans_catalogue_with(ZH):
        yield


@pytest.fixture
def failed_job(settings, project_a):
    """A job of tenant A a worker could not read: its JSON nests too deep."""
    settings.TESTING_IMPORT_INLINE_BYTES = INLINE
    with tenant_context(project_a.tenant):
        job = imports.upload(project_a, b"[" * 70 + b" " * INLINE, "deep.json", "openapi")
        assert imports.read_waiting(job.pk) == "failed"
        job.refresh_from_db()
    return job


def test_the_failed_job_keeps_its_english_error_and_its_message_id(failed_job, chinese):
    assert failed_job.error == ENGLISH_DEEP
    assert failed_job.error_i18n == {"msgid": FILE_REASON, "params": {
        "filename": "deep.json", "reason": {"msgid": TOO_DEEP, "params": {"depth": 64}}}}
    with translation.override("zh-hans"):
        assert failed_job.error_text() == CHINESE_DEEP
    with translation.override("en"):
        assert failed_job.error_text() == ENGLISH_DEEP


def test_the_page_and_the_api_say_why_in_the_readers_language(
        failed_job, tenant_a, tenant_b, chinese):
    page = reverse("testing:import-preview", args=[failed_job.project_id, failed_job.pk])
    api = f"/api/v1/testing/imports/{failed_job.pk}/"
    chinese_reader = reader(tenant_a, IMPORT_CODES, "zh-hans")
    shown = chinese_reader.get(page).content.decode()
    assert CHINESE_DEEP in shown and ENGLISH_DEEP not in shown
    english_reader = reader(tenant_a, IMPORT_CODES, "en")
    shown = english_reader.get(page).content.decode()
    assert ENGLISH_DEEP in shown and CHINESE_DEEP not in shown
    client = reader(tenant_a, IMPORT_CODES)
    for language, expected in (("zh-hans", CHINESE_DEEP), ("en", ENGLISH_DEEP)):
        body = client.get(api, HTTP_ACCEPT_LANGUAGE=language).json()
        assert body["error"] == ENGLISH_DEEP and body["error_localized"] == expected
        (listed,) = client.get("/api/v1/testing/imports/",
                               HTTP_ACCEPT_LANGUAGE=language).json()["results"]
        assert listed["error_localized"] == expected

    other = reader(tenant_b, IMPORT_CODES, "zh-hans")
    assert other.get(page).status_code == 404
    assert other.get(api).status_code == 404
    assert other.get("/api/v1/testing/imports/").json()["results"] == []


def test_a_job_that_failed_before_errors_had_ids_shows_its_text(failed_job, tenant_a, chinese):
    with tenant_context(tenant_a):
        ImportJob.objects.filter(pk=failed_job.pk).update(error_i18n=None)
    chinese_reader = reader(tenant_a, IMPORT_CODES, "zh-hans")
    page = reverse("testing:import-preview", args=[failed_job.project_id, failed_job.pk])
    assert ENGLISH_DEEP in chinese_reader.get(page).content.decode()
    body = chinese_reader.get(f"/api/v1/testing/imports/{failed_job.pk}/").json()
    assert body["error_localized"] == ENGLISH_DEEP


def test_a_worker_that_keeps_dying_says_so_in_the_readers_language(
        settings, project_a, chinese):
    settings.TESTING_IMPORT_INLINE_BYTES = INLINE
    with tenant_context(project_a.tenant):
        job = imports.upload(project_a, document() + b" " * INLINE, "big.json")
        ImportJob.objects.filter(pk=job.pk).update(attempts=imports.MAX_ATTEMPTS)
        imports.read_waiting(job.pk)
        job.refresh_from_db()
    assert job.error == STOPPED % {"count": imports.MAX_ATTEMPTS}
    with translation.override("zh-hans"):
        assert job.error_text() == ZH[STOPPED] % {"count": imports.MAX_ATTEMPTS}


def test_a_file_refused_at_once_is_refused_in_the_readers_language(
        project_a, tenant_a, chinese):
    """The request refuses a binary file itself: the form and the API answer in the
    reader's language, and no job is kept."""
    def binary():
        file = io.BytesIO(b"\xff" * 100)
        file.name = "x.bin"
        return file

    address = reverse("testing:import", args=[project_a.pk])
    client = reader(tenant_a, IMPORT_CODES)
    for language, expected, unexpected in (("zh-hans", CHINESE_BINARY, ENGLISH_BINARY),
                                           ("en", ENGLISH_BINARY, CHINESE_BINARY)):
        response = reader(tenant_a, IMPORT_CODES, language).post(
            address, {"file": binary(), "format": "openapi"})
        assert response.status_code == 400
        shown = response.content.decode()
        assert expected in shown and unexpected not in shown
        response = client.post("/api/v1/testing/imports/",
                               {"file": binary(), "project": str(project_a.pk),
                                "format": "openapi"}, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 400
        shown = response.content.decode()
        assert expected in shown and unexpected not in shown
    with tenant_context(tenant_a):
        assert not ImportJob.objects.exists()
    with pytest.raises(importers.ImportFailed) as refused:
        importers.parse(b"\xff", "x.bin", "openapi")
    assert str(refused.value) == ENGLISH_BINARY


@pytest.mark.parametrize("document, english, chinese_text", [
    ("[" * 70 + "]" * 70, "deep.yaml, line 1: the YAML nests deeper than 64 levels",
     "deep.yaml，第 1 行：YAML 嵌套超过 64 层"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(7)),
     "deep.yaml, line 8: the document expands to more than 2000000 values (aliases of aliases)",
     "deep.yaml，第 8 行：文档展开后超过 2000000 个值（别名的别名）"),
])
def test_a_yaml_document_too_large_is_refused_in_the_readers_language(document, english,
                                                                      chinese_text):
    """The capped loader's own refusals (depth, aliases of aliases) are messages too."""
    from testing.importers.loading import MAX_DEPTH, MAX_NODES, load_yaml

    assert (MAX_DEPTH, MAX_NODES) == (64, 2_000_000)
    with pytest.raises(importers.ImportFailed) as refused:
        load_yaml(document.encode(), "deep.yaml")
    assert str(refused.value) == english
    with zh_hans_catalogue_with({"%(filename)s, %(where)s: %(reason)s":
                                 "%(filename)s，%(where)s：%(reason)s",
                                 EXPANDS: "文档展开后超过 %(count)d 个值（别名的别名）"}):
        with translation.override("zh-hans"):
            assert refused.value.text() == chinese_text


# The engine's own errors: database steps, functions, user code, termination


STEP = "%(step)s: %(error)s"
IN_REFERENCE = "%(error)s (in %(reference)s)"
UNKNOWN_FUNCTION = "unknown function '%(name)s'; available: %(available)s"
BEFORE = "SQL before the steps"
NO_DATABASE = "the project has no enabled database named %(name)s (known: %(known)s)"
TERMINATED = "Terminated on request."
SECRET = ("%(what)s would receive a secret value in %(names)s, which it does not declare "
          "secret; declare the parameter secret or pass a value that is not")
KEYWORD = "the keyword %(name)s"
ENGINE_ZH = {
    STEP: "%(step)s：%(error)s",
    IN_REFERENCE: "%(error)s（位于 %(reference)s）",
    UNKNOWN_FUNCTION: "未知函数 '%(name)s'；可用的函数：%(available)s",
    BEFORE: "步骤前 SQL",
    NO_DATABASE: "项目没有名为 %(name)s 的已启用数据库（已有：%(known)s）",
    TERMINATED: "已按请求终止。",
    SECRET: "%(what)s 会在 %(names)s 中收到密文值，但它未声明为密文；请将该参数声明为密文，"
            "或传入非密文的值",
    KEYWORD: "关键字 %(name)s",
}
ZH.update(ENGINE_ZH)
RUN_CODES = ["project:view", "execution:view", "execution:create", "executionstep:view",
             "stepresult:view"]


def engine_scenario(target, steps, **fields):
    from testing.engine import spec as S

    return S.ScenarioRunSpec(name="s", steps=steps, base_url=target.url,
                             settings=S.RunSettings(retry_backoff=0.01, timeout=5), **fields)


def in_both_languages(said) -> tuple[str, str]:
    from testing.engine.messages import render

    data = said.as_data()
    with translation.override("zh-hans"):
        chinese_text = render(data)
    with translation.override("en"):
        english_text = render(data)
    return chinese_text, english_text


def test_sql_before_the_steps_without_a_database_fails_in_the_readers_language(
        target, chinese):
    """The step's title and the database error are messages: the run's error reads
    "步骤前 SQL：项目没有…" for a Chinese reader, as stored in English otherwise."""
    from testing.engine.runner import run_scenario
    from testing.tests.test_engine_runner import LOOPBACK, ListSink

    sink = ListSink()
    outcome = run_scenario(engine_scenario(target, [], pre_sql="SELECT 1"), sink,
                           policy=LOOPBACK)
    (step,) = sink.results
    english = "SQL before the steps: the project has no enabled database named '' (known: none)"
    assert outcome.error == english and step.error_i18n["msgid"] == NO_DATABASE
    chinese_text, english_text = in_both_languages(outcome.error)
    assert chinese_text == "步骤前 SQL：项目没有名为 '' 的已启用数据库（已有：none）"
    assert english_text == english


def test_terminate_says_so_in_the_readers_language(target, chinese):
    from testing.engine import runner
    from testing.tests.test_engine_runner import LOOPBACK, ListSink, http

    sink = ListSink(stop_before=1, command=runner.TERMINATE)
    outcome = runner.run_scenario(engine_scenario(target, [http("a", "/json"),
                                                           http("b", "/json")]),
                                  sink, policy=LOOPBACK)
    assert outcome.status == "terminated" and outcome.error == TERMINATED
    assert in_both_languages(outcome.error) == ("已按请求终止。", TERMINATED)


def test_a_keyword_refused_a_secret_says_so_in_the_readers_language(chinese):
    from django.utils.translation import gettext_noop

    from testing.engine import usercode
    from testing.engine.messages import message, of_exception

    what = message(gettext_noop(KEYWORD), name="Sign")
    with pytest.raises(usercode.UserCodeError) as refused:
        usercode.refuse_secrets(what, {"key": True}, set())
    said = of_exception(refused.value)
    assert in_both_languages(said) == (
        "关键字 Sign 会在 'key' 中收到密文值，但它未声明为密文；请将该参数声明为密文，"
        "或传入非密文的值", str(refused.value))
    assert str(refused.value).startswith("the keyword Sign would receive a secret value in 'key'")


@pytest.mark.usefixtures("runs_in_process")
def test_an_unknown_function_reads_in_the_readers_language_on_the_page_and_the_api(
        django_capture_on_commit_callbacks, tenant_a, tenant_b, target, chinese):
    """A step calling a function that does not exist: the step page and the API show the
    error in Chinese to a zh-hans reader, in English to an English one; tenant B sees
    nothing of it."""
    from testing.models import StepResult
    from testing.services import runs
    from testing.tests import factories as f
    from testing.tests.page_cases import as_tenant

    project = f.project(tenant_a, "Shop A")
    environment = f.environment(project, "Local", base_url=target.url)
    scenario = f.scenario(project, "Calls")
    f.request_step(scenario, "/anything/{{nope()}}")
    with as_tenant(tenant_a), django_capture_on_commit_callbacks(execute=True):
        execution = runs.start_scenario(scenario, environment=environment)
    with as_tenant(tenant_a):
        (result,) = StepResult.objects.filter(execution=execution)
    assert result.error.startswith("unknown function 'nope'; available: base64_decode")
    assert result.error.endswith(" (in '{{nope()}}')")
    chinese_error = "未知函数 'nope'；可用的函数：base64_decode"
    page = reverse("testing:run-result", args=[project.pk, execution.pk, result.pk])
    shown = reader(tenant_a, RUN_CODES, "zh-hans").get(page).content.decode()
    assert "未知函数 &#x27;nope&#x27;；可用的函数：base64_decode" in shown
    assert "（位于 &#x27;{{nope()}}&#x27;）" in shown
    assert "unknown function" not in shown
    shown = reader(tenant_a, RUN_CODES, "en").get(page).content.decode()
    assert "unknown function &#x27;nope&#x27;" in shown and "未知函数" not in shown
    api = reader(tenant_a, RUN_CODES)
    for language, start in (("zh-hans", chinese_error), ("en", "unknown function 'nope'")):
        (step,) = api.get(reverse("api:teststepresult-list"), {"execution": str(execution.pk)},
                          HTTP_ACCEPT_LANGUAGE=language).json()["results"]
        assert step["error"] == result.error and step["error_localized"].startswith(start)
    other = reader(tenant_b, RUN_CODES, "zh-hans")
    assert other.get(page).status_code == 404
    assert other.get(reverse("api:teststepresult-list"),
                     {"execution": str(execution.pk)}).json().get("results", []) == []
