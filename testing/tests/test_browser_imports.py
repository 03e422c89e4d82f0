"""The import pages in a real browser (issue 15, item 1): the demo tester uploads an OpenAPI
document, reads its preview, leaves one operation out, imports the rest and finds them among
the interfaces; then the same in Simplified Chinese, where no English the platform wrote may
remain on the import pages.

The browser, its fixtures and the demo data are those of ``test_browser.py`` (Debian's
Chromium driven by Playwright through ``executable_path``; nothing is downloaded); without
them the tests skip, under ``ATRIUM_REQUIRE_SERVICES`` they fail.
"""

from __future__ import annotations

import json
import re

import pytest
from django.utils import translation

from testing.tests import test_browser
from testing.tests.test_browser import open_page, open_project

pytestmark = test_browser.pytestmark
demo = test_browser.demo
browser = test_browser.browser

BASE_URL = "https://pets.example.com/v1"
FILENAME = "pets.json"
# The document's own words are Chinese, so that what stays English on the page is the
# platform's (or the document's paths, methods and host).
DOCUMENT = {
    "openapi": "3.0.3", "info": {"title": "宠物商店", "version": "1"},
    "servers": [{"url": BASE_URL}],
    "paths": {
        "/pets": {
            "get": {"tags": ["宠物"], "summary": "列出宠物",
                    "responses": {"200": {"description": "成功"}}},
            "post": {"tags": ["宠物"], "summary": "添加宠物",
                     "responses": {"201": {"description": "成功"}}}},
        "/pets/{id}": {
            "delete": {"tags": ["宠物"], "summary": "删除宠物",
                       "parameters": [{"name": "id", "in": "path", "required": True,
                                       "schema": {"type": "integer"}}],
                       "responses": {"204": {"description": "成功"}}}}}}
LEFT_OUT = "request:DELETE /pets/{id}"
# Words that are names, not English: formats, products, the demo's project and the
# document's host, paths and methods (the preview shows where in the file each item is).
NAMES = {"OpenAPI", "Swagger", "Postman", "HAR", "cURL", "HttpRunner", "CSV", "JSON", "YAML",
         "newman", "openapi", "Atrium", "REST", "API", "GET", "POST", "DELETE", "https",
         "pets", "example", "com", "v1", "json", "paths", "get", "post", "delete", "id",
         "URL"}
def payload() -> dict:
    return {"name": FILENAME, "mimeType": "application/json",
            "buffer": json.dumps(DOCUMENT, ensure_ascii=False).encode()}


def upload_and_preview(page, demo) -> None:
    open_project(page, demo)
    page.click("nav.tabs a[href$='/import/']")
    page.set_input_files("#id_file", payload())
    page.click("main form[enctype] button[type=submit]")
    page.wait_for_url(re.compile(r".*/import/[0-9a-f-]{36}/$"))


def import_chosen(page) -> None:
    page.uncheck(f"input[name=item][value='{LEFT_OUT}']")
    page.check(f"input[name=base_url][value='{BASE_URL}']")
    page.click("button[name=action][value=import]")
    page.wait_for_selector("main .card p a[href$='/import/']")   # "import another file"


def english_left(text: str) -> list[str]:
    """Return the English words of ``text`` that are not names."""
    return sorted({word for word in re.findall(r"[A-Za-z][A-Za-z0-9]+", text)
                   if word not in NAMES})


def test_tester_imports_an_openapi_document_through_its_preview(browser, demo):
    page = open_page(browser, demo)
    upload_and_preview(page, demo)
    rows = page.locator("main table.rows tbody tr")
    assert rows.count() == 3
    assert page.is_checked(f"input[name=item][value='{LEFT_OUT}']")
    preview = page.inner_text("main")
    assert "列出宠物" in preview and "New interface." in preview and BASE_URL in preview
    import_chosen(page)
    done = page.inner_text("main")
    assert "Created 2, updated 0, removed 0, left out 1." in done
    assert page.locator("input[name=item]").count() == 0   # imported: nothing to choose
    page.click("nav.tabs a[href$='/interfaces/']")
    page.wait_for_selector("nav[aria-label] .tree")
    interfaces = page.inner_text("main")
    assert "列出宠物" in interfaces and "添加宠物" in interfaces
    assert "删除宠物" not in interfaces
    assert page.script_errors == []


def test_the_import_pages_in_simplified_chinese(browser, demo):
    with translation.override("zh-hans"):
        heading = translation.gettext("Import into this project")
        new_interface = translation.gettext("New interface.")
    page = open_page(browser, demo, "zh-hans")
    open_project(page, demo)
    page.click("nav.tabs a[href$='/import/']")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.inner_text("main h1") == heading
    assert english_left(page.inner_text("main")) == []
    upload_and_preview(page, demo)
    preview = page.inner_text("main")
    assert new_interface in preview
    assert english_left(preview) == []
    import_chosen(page)
    assert english_left(page.inner_text("main")) == []
    page.click("main .card p a[href$='/import/']")
    assert english_left(page.inner_text("main")) == []   # with the recent import
    assert page.script_errors == []


@pytest.fixture
def import_worker(settings, monkeypatch):
    """Large imports (every file here: the threshold is 0 bytes) go to a worker thread
    (``test_browser.thread_worker``) instead of the broker, which reads the file once the
    test sets the returned event: the page is then open and must follow the progress, then
    show the preview, by itself."""
    from testing.services import imports
    from testing.tasks import parse_import

    settings.TESTING_IMPORT_INLINE_BYTES = 0
    yield from test_browser.thread_worker(monkeypatch, parse_import, imports.read_waiting)


def test_a_large_file_shows_its_progress_then_its_preview_in_chinese(import_worker, browser,
                                                                      demo):
    """The page of a file a worker reads shows the stage and percent, in zh-hans, and
    turns into the preview without a reload by the tester."""
    from testing.models.imports import ImportStage

    with translation.override("zh-hans"):
        waiting = str(ImportStage.WAITING.label)
        new_interface = translation.gettext("New interface.")
    page = open_page(browser, demo, "zh-hans")
    open_project(page, demo)
    page.click("nav.tabs a[href$='/import/']")
    page.set_input_files("#id_file", payload())
    page.click("main form[enctype] button[type=submit]")
    page.wait_for_selector("#import-progress progress")
    assert page.inner_text("#import-progress label") == waiting
    assert english_left(page.inner_text("main")) == []
    import_worker.set()
    page.wait_for_selector(f"main td:has-text('{new_interface}')")
    assert page.locator("#import-progress").count() == 0
    assert english_left(page.inner_text("main")) == []
    assert page.script_errors == []
