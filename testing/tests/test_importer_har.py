"""The HAR importer: a real Charles recording, browser-like recordings, hostile files."""

from __future__ import annotations

import json

import pytest

from testing.importers import har
from testing.importers.base import SKIPPED, WARNING, ImportFailed, ImportPlan
from testing.tests.importer_checks import corpus, valid

CHARLES = ("har", "httprunner-demo-charles.har")


def _entry(url, method="GET", *, status=200, mime="application/json", headers=(),
           post=None, resource_type=None, query=None, cookies=None, redirect=""):
    request = {"method": method, "url": url, "httpVersion": "HTTP/2",
               "headers": [{"name": n, "value": v} for n, v in headers],
               "queryString": query or [], "cookies": cookies or []}
    if post is not None:
        request["postData"] = post
    entry = {"request": request,
             "response": {"status": status, "content": {"mimeType": mime},
                          "redirectURL": redirect}}
    if resource_type:
        entry["_resourceType"] = resource_type
    return entry


def _har(*entries, pages=None) -> bytes:
    log = {"version": "1.2", "creator": {"name": "test", "version": "1"},
           "entries": list(entries)}
    if pages is not None:
        log["pages"] = pages
    return json.dumps({"log": log}).encode()


def _problems(plan: ImportPlan, severity: str | None = None) -> list[str]:
    return [p.message for p in plan.problems if severity is None or p.severity == severity]


def _assert_valid(plan: ImportPlan) -> None:
    valid(plan)


def test_charles_recording_gives_three_requests_in_one_scenario():
    """The Charles HAR: a GET with a query and two POSTs (JSON, form), replayed in order."""
    path = corpus(*CHARLES)
    data = path.read_bytes()
    assert har.looks_like(data, path.name)
    plan = har.parse(data, path.name)
    assert plan.format == "har"
    assert plan.base_urls == ["https://postman-echo.com"]
    assert [r.key for r in plan.requests] == [
        "GET https://postman-echo.com/get",
        "POST https://postman-echo.com/post",
        "POST https://postman-echo.com/post#2",
    ]
    get, post_json, post_form = plan.requests
    assert get.url == "https://postman-echo.com/get"
    assert get.folder == ["postman-echo.com"]
    assert [(q["name"], q["value"]) for q in get.query] == [("foo1", "HDnY8"), ("foo2", "34.5")]
    assert [(h["name"], h["value"]) for h in get.headers] == [("User-Agent", "HttpRunnerPlus")]
    assert get.body_type == "none"
    assert get.assertions == [{"type": "status_code", "operator": "eq", "expected_value": 200}]

    assert post_json.body_type == "json"
    assert post_json.body == {"foo1": "HDnY8", "foo2": 12.3}
    assert post_json.content_type == "application/json; charset=UTF-8"
    assert post_form.body_type == "form"
    assert [(p["name"], p["value"]) for p in post_form.body] == [("foo1", "HDnY8"),
                                                                 ("foo2", "12.3")]
    for request in (post_json, post_form):
        names = [h["name"].lower() for h in request.headers]
        assert "host" not in names and "content-length" not in names
        assert "accept-encoding" not in names and "content-type" not in names

    (scenario,) = plan.scenarios
    assert [s.request for s in scenario.steps] == [r.key for r in plan.requests]
    _assert_valid(plan)


def test_charles_cookies_become_secret_variables_with_a_warning():
    """Each recorded session cookie is a secret variable; the header refers to it."""
    path = corpus(*CHARLES)
    plan = har.parse(path.read_bytes(), path.name)
    cookies = [h["value"] for r in plan.requests for h in r.headers if h["name"] == "Cookie"]
    assert cookies == ["{{cookie}}", "{{cookie_2}}"]
    assert [(v.name, v.secret) for v in plan.variables] == [("cookie", True),
                                                            ("cookie_2", True)]
    assert plan.variables[0].value.startswith("sails.sid=s%3Az_Lpgl")
    raw = json.dumps([r.__dict__ for r in plan.requests])
    assert "sails.sid" not in raw
    assert _problems(plan, WARNING) == [
        "the Cookie headers of 2 requests hold the recording's session, kept as the secret "
        "variables {{cookie}}, {{cookie_2}}: a session expires; log in in an earlier step and "
        "let the scenario's session carry the cookies instead"]


def test_hundreds_of_static_assets_are_counted_in_one_problem():
    """Static assets are skipped by MIME type, resource type, extension, and counted."""
    entries = [_entry("https://app.example.com/api/items")]
    entries += [_entry(f"https://cdn.example.com/img/{i}.png", mime="image/png")
                for i in range(120)]
    entries += [_entry(f"https://cdn.example.com/js/{i}", mime="application/javascript")
                for i in range(80)]
    entries += [_entry("https://cdn.example.com/f.woff2", mime="")] * 3
    entries += [_entry("https://cdn.example.com/s", mime="text/css; charset=utf-8")] * 2
    entries += [_entry("https://cdn.example.com/v", mime="", resource_type="media")]
    entries += [_entry("data:image/png;base64,AAAA"), _entry("blob:https://x/1")]
    plan = har.parse(_har(*entries), "page.har")
    assert [r.key for r in plan.requests] == ["GET https://app.example.com/api/items"]
    skipped = _problems(plan, SKIPPED)
    assert skipped == ["skipped 208 static assets (images: 120, scripts: 80, fonts: 3, "
                       "inline data (data: and blob: URLs): 2, stylesheets: 2, media: 1)"]
    assert plan.base_urls == ["https://app.example.com"]


def test_a_post_to_a_script_like_path_is_kept():
    """Only GET and HEAD fetch static assets: a POST answered with an image is an API call."""
    plan = har.parse(_har(_entry("https://x.example/upload.png", "POST", mime="image/png",
                                 post={"mimeType": "text/plain", "text": "hi"})), "x.har")
    assert [r.method for r in plan.requests] == ["POST"]
    assert plan.requests[0].body_type == "raw" and plan.requests[0].body == "hi"
    assert plan.requests[0].content_type == "text/plain"


def test_preflights_and_non_http_urls_are_skipped_and_counted():
    """CORS preflights and ws: / extension URLs are each counted in one problem."""
    preflight = ("Access-Control-Request-Method", "POST")
    plan = har.parse(_har(
        _entry("https://api.example.com/a", "OPTIONS", headers=[preflight]),
        _entry("https://api.example.com/b", "OPTIONS", headers=[preflight]),
        _entry("https://api.example.com/a", "OPTIONS"),
        _entry("wss://api.example.com/socket"),
        _entry("chrome-extension://abc/page.json"),
        _entry("https://api.example.com/a", "PROPFIND"),
    ), "x.har")
    assert [r.key for r in plan.requests] == ["OPTIONS https://api.example.com/a"]
    skipped = _problems(plan, SKIPPED)
    assert "skipped 2 CORS preflights (OPTIONS requests the browser sends before the real " \
           "one)" in skipped
    assert "skipped 2 requests that are not HTTP or HTTPS (wss: 1, chrome-extension: 1)" \
           in skipped
    assert any("PROPFIND" in m for m in skipped)


def test_secrets_leave_headers_query_form_and_json():
    """Authorization, API keys, tokens and passwords become secret variables, once a value."""
    token = ("Authorization", "Bearer abc.def.ghi")
    plan = har.parse(_har(
        _entry("https://api.example.com/login?access_token=qqq&page=2", "POST",
               headers=[token, ("X-Api-Key", "k-123"), ("Accept", "application/json")],
               post={"mimeType": "application/json",
                     "text": json.dumps({"user": "ann", "password": "s3cret",
                                         "nested": {"api_token": "t-1", "n": 1}})}),
        _entry("https://api.example.com/me", headers=[token]),
        _entry("https://api.example.com/form", "POST",
               post={"mimeType": "application/x-www-form-urlencoded",
                     "text": "user=ann&client_secret=zzz"}),
    ), "x.har")
    login, me, form = plan.requests
    assert [(h["name"], h["value"]) for h in login.headers] == [
        ("Authorization", "{{authorization}}"), ("X-Api-Key", "{{x_api_key}}"),
        ("Accept", "application/json")]
    assert [(q["name"], q["value"]) for q in login.query] == [
        ("access_token", "{{access_token}}"), ("page", "2")]
    assert login.url == "https://api.example.com/login"
    assert login.body == {"user": "ann", "password": "{{password}}",
                          "nested": {"api_token": "{{api_token}}", "n": 1}}
    assert me.headers == [{"name": "Authorization", "value": "{{authorization}}",
                           "enabled": True}]
    assert form.body == [{"name": "user", "value": "ann", "enabled": True},
                         {"name": "client_secret", "value": "{{client_secret}}",
                          "enabled": True}]
    values = {v.name: v.value for v in plan.variables}
    assert values == {"authorization": "Bearer abc.def.ghi", "x_api_key": "k-123",
                      "access_token": "qqq", "password": "s3cret", "api_token": "t-1",
                      "client_secret": "zzz"}
    assert all(v.secret and v.environment is None for v in plan.variables)
    text = json.dumps(plan.as_data()["requests"])
    for secret in values.values():
        assert secret not in text
    _assert_valid(plan)


def test_pseudo_and_browser_headers_are_dropped_and_cookies_joined():
    """HTTP/2 pseudo-headers, hop-by-hop and Sec-* headers go; split cookies are one again."""
    plan = har.parse(_har(_entry("https://api.example.com/x", headers=[
        (":authority", "api.example.com"), (":method", "GET"), (":path", "/x"),
        ("Host", "api.example.com"), ("Connection", "keep-alive"),
        ("Accept-Encoding", "gzip, br"), ("sec-ch-ua", '"Chromium"'),
        ("Sec-Fetch-Mode", "cors"), ("Referer", "https://app.example.com/"),
        ("cookie", "a=1"), ("cookie", "b=2"), ("Content-Length", "0"),
    ])), "x.har")
    (request,) = plan.requests
    assert [(h["name"], h["value"]) for h in request.headers] == [
        ("Referer", "https://app.example.com/"), ("Cookie", "{{cookie}}")]
    assert plan.variables[0].value == "a=1; b=2"


def test_cookies_list_serves_when_no_cookie_header():
    """Some tools record cookies only in request.cookies: they make the Cookie header."""
    plan = har.parse(_har(_entry("https://api.example.com/x", cookies=[
        {"name": "sid", "value": "v1"}, {"name": "theme", "value": "dark"}])), "x.har")
    assert plan.requests[0].headers == [{"name": "Cookie", "value": "{{cookie}}",
                                         "enabled": True}]
    assert plan.variables[0].value == "sid=v1; theme=dark"


def test_multipart_pairs_drop_the_recorded_boundary():
    """Multipart params become pairs; file fields are listed; no stale boundary is kept."""
    mime = "multipart/form-data; boundary=----x"
    plan = har.parse(_har(_entry("https://api.example.com/up", "POST",
                                 headers=[("Content-Type", mime)],
                                 post={"mimeType": mime, "params": [
                                     {"name": "title", "value": "cat"},
                                     {"name": "file", "fileName": "cat.png",
                                      "contentType": "image/png"}]})), "x.har")
    (request,) = plan.requests
    assert request.body_type == "multipart" and request.content_type == ""
    assert request.body == [{"name": "title", "value": "cat", "enabled": True},
                            {"name": "file", "value": "", "enabled": True}]
    assert request.headers == []
    assert any("file" in m and "not in the recording" in m for m in _problems(plan))
    _assert_valid(plan)


def test_query_comes_from_the_url_and_urlencoded_text_is_decoded_once():
    """The URL's query (decoded once) is authoritative; queryString serves without one."""
    plan = har.parse(_har(
        _entry("https://api.example.com/s?q=a%20b&tag=x&tag=y&empty=",
               query=[{"name": "q", "value": "a%20b"}]),
        _entry("https://api.example.com/t", query=[{"name": "only", "value": "here"}]),
    ), "x.har")
    first, second = plan.requests
    assert [(q["name"], q["value"]) for q in first.query] == [
        ("q", "a b"), ("tag", "x"), ("tag", "y"), ("empty", "")]
    assert [(q["name"], q["value"]) for q in second.query] == [("only", "here")]


def test_bodies_that_are_not_what_they_claim_stay_text():
    """A JSON body that does not parse, or nests too deep, is kept raw with a warning."""
    deep = "[" * 200 + "]" * 200
    plan = har.parse(_har(
        _entry("https://api.example.com/a", "POST",
               post={"mimeType": "application/json", "text": "{not json"}),
        _entry("https://api.example.com/b", "POST",
               post={"mimeType": "application/json", "text": deep}),
        _entry("https://api.example.com/c", "PUT",
               post={"mimeType": "application/xml", "text": "<a/>"}),
    ), "x.har")
    a, b, c = plan.requests
    assert (a.body_type, a.body) == ("raw", "{not json")
    assert (b.body_type, b.body) == ("raw", deep)
    assert (c.body_type, c.body, c.content_type) == ("raw", "<a/>", "application/xml")
    warnings = _problems(plan, WARNING)
    assert any("not JSON" in m or "is not" in m for m in warnings)
    assert any("deeper" in m for m in warnings)


def test_redirects_and_missing_answers_assert_no_status():
    """A followed redirect and a request without an answer are kept without a status check."""
    plan = har.parse(_har(
        _entry("https://api.example.com/old", status=302, redirect="https://api.example.com/new"),
        _entry("https://api.example.com/cached", status=304),
        _entry("https://api.example.com/blocked", status=0),
    ), "x.har")
    old, cached, blocked = plan.requests
    assert old.assertions == [] and blocked.assertions == []
    assert cached.assertions == [{"type": "status_code", "operator": "eq",
                                  "expected_value": 304}]
    warnings = _problems(plan, WARNING)
    assert any("redirect (302 to https://api.example.com/new)" in m for m in warnings)
    assert any("no answer was recorded" in m for m in warnings)


def test_repeats_are_kept_and_hosts_ordered_by_use():
    """Repeated requests get #2, #3; base URLs are distinct hosts, the most used first."""
    plan = har.parse(_har(
        _entry("http://auth.example.com:8080/token", "POST"),
        _entry("https://api.example.com/items?page=1"),
        _entry("https://api.example.com/items?page=2"),
        _entry("https://api.example.com/items?page=3"),
        _entry("http://[::1]:9000/health"),
    ), "x.har")
    assert [r.key for r in plan.requests] == [
        "POST http://auth.example.com:8080/token",
        "GET https://api.example.com/items", "GET https://api.example.com/items#2",
        "GET https://api.example.com/items#3", "GET http://[::1]:9000/health"]
    assert plan.base_urls == ["https://api.example.com", "http://auth.example.com:8080",
                              "http://[::1]:9000"]
    assert [r.folder for r in plan.requests][0] == ["auth.example.com:8080"]
    assert [s.request for s in plan.scenarios[0].steps] == [r.key for r in plan.requests]


def test_page_title_names_the_plan_and_scenario():
    """A browser HAR's first page title names the plan."""
    plan = har.parse(_har(_entry("https://api.example.com/x"),
                          pages=[{"id": "page_1", "title": "Shop – Checkout"}]), "x.har")
    assert plan.title == "Shop – Checkout" and plan.scenarios[0].name == "Shop – Checkout"


@pytest.mark.parametrize("data", [
    b'{"info": {"name": "x", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/"},'
    b' "item": []}',
    b'{"log": {"entries": "nope"}}',
    b'[1, 2, 3]',
    b'{"log": []}',
])
def test_json_that_is_not_a_har_is_refused(data):
    """A JSON document without log.entries is not a HAR."""
    with pytest.raises(ImportFailed, match="not a HAR"):
        har.parse(data, "x.har")


def test_invalid_json_names_line_and_column():
    """A broken HAR names where it breaks."""
    with pytest.raises(ImportFailed) as caught:
        har.parse(b'{"log": {\n "entries": [,]}}', "broken.har")
    assert caught.value.filename == "broken.har"
    assert caught.value.where.startswith("line 2")


def test_deep_nesting_is_refused_before_parsing():
    """A HAR nesting thousands of levels deep is refused, not a RecursionError."""
    data = b'{"log": {"entries": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    with pytest.raises(ImportFailed, match="deeper"):
        har.parse(data, "deep.har")


def test_malformed_entries_are_listed_and_skipped():
    """Entries without a request or URL, or with an invalid URL, are each a problem."""
    plan = har.parse(json.dumps({"log": {"entries": [
        "text", {"request": {"method": "GET"}}, {"request": {"url": "http://[bad"}},
        {"request": {"url": "https://x.example:99999/"}}, _entry("https://ok.example/")]}}
    ).encode(), "x.har")
    assert [r.key for r in plan.requests] == ["GET https://ok.example/"]
    assert [p.where for p in plan.problems if p.severity == SKIPPED] == [
        "/log/entries/0", "/log/entries/1", "/log/entries/2/request/url",
        "/log/entries/3/request/url"]


def test_an_empty_recording_has_no_scenario():
    """Nothing kept, nothing to replay."""
    plan = har.parse(_har(_entry("https://cdn.example/x.png", mime="image/png")), "x.har")
    assert plan.requests == [] and plan.scenarios == []
    assert _problems(plan, SKIPPED) == ["skipped 1 static asset (images: 1)"]


def test_sniff_recognises_har_and_nothing_else():
    """looks_like is cheap and specific."""
    assert har.looks_like(_har(), "anything.json")
    assert har.looks_like(b"\xef\xbb\xbf  " + _har(), "x.har")
    assert not har.looks_like(b"config:\n  name: x\nteststeps: []\n", "x.yml")
    assert not har.looks_like(b'{"openapi": "3.0.0", "paths": {}}', "x.json")
    assert not har.looks_like(b"curl https://x.example/", "x.txt")
    assert not har.looks_like(b"\x89PNG\r\n", "x.har")


def test_mime_type_outranks_the_extension():
    """An API answering JSON at a path that looks like a file is an API call."""
    plan = har.parse(_har(
        _entry("https://api.example.com/avatar/ann.png", mime="application/json"),
        _entry("https://api.example.com/raw/ann.png", mime="application/octet-stream"),
        _entry("https://api.example.com/xhr", mime="", resource_type="xhr"),
    ), "x.har")
    assert [r.url for r in plan.requests] == ["https://api.example.com/avatar/ann.png",
                                              "https://api.example.com/xhr"]
    assert _problems(plan, SKIPPED) == ["skipped 1 static asset (images: 1)"]


def test_sniff_wants_a_log_object():
    """A testcase with a variable called log is not a HAR."""
    testcase = b'{"config": {"variables": {"log": "x", "entries": 1}}, "teststeps": []}'
    assert not har.looks_like(testcase, "x.json")
