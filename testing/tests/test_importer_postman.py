"""The Postman importer (issue 15, item 1): the real collections of Newman's repository in
``../shared/corpus/postman/`` (v2.0 and v2.1, hostile URL encodings, CSV-driven scripts), and
small collections written here for each mapping and each refusal. No database."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote_plus

import httpx2
import pytest
from django.test import override_settings

from testing.engine.variables import VariablePool, render
from testing.importers import postman
from testing.importers.base import SKIPPED, WARNING, ImportFailed, ImportPlan
from testing.tests import importer_checks
from testing.tests.importer_checks import valid

V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
V20 = "https://schema.getpostman.com/json/collection/v2.0.0/collection.json"


def corpus(name: str) -> bytes:
    return importer_checks.corpus("postman", name).read_bytes()


def collection(*items, schema=V21, **extra) -> bytes:
    document = {"info": {"name": "Shop", "_postman_id": "c-1", "schema": schema},
                "item": list(items), **extra}
    return json.dumps(document).encode()


def request_item(name="Get pet", method="GET", url="https://api.example.com/pets/1", **extra):
    return {"name": name, "request": {"method": method, "url": url, **extra.pop("request", {})},
            **extra}


def script(*lines, listen="test"):
    return {"listen": listen, "script": {"type": "text/javascript", "exec": list(lines)}}


def parsed(data: bytes, filename: str = "shop.postman_collection.json") -> ImportPlan:
    plan = postman.parse(data, filename)
    assert valid(plan)
    # Whatever the importer produces survives the JSON the import job keeps.
    assert ImportPlan.from_data(json.loads(json.dumps(plan.as_data()))) == plan
    return plan


def messages(plan: ImportPlan) -> list[str]:
    return [problem.message for problem in plan.problems]


def wire_url(url: str, query: list[dict]) -> str:
    """Return the URL the engine's client sends for ``url`` and the enabled ``query``."""
    params = [(p["name"], p["value"]) for p in query if p.get("enabled", True)]
    return str(httpx2.Client().build_request("GET", url, params=params or None).url)


# The real collections


def test_the_v2_0_sample_collection_becomes_three_requests_and_a_scenario():
    """Newman's v2.0 sample: URLs as strings, a text and a JSON body, chai tests mapped."""
    plan = parsed(corpus("newman-sample-collection-v2.0.json"))
    assert plan.format == "postman" and plan.title == "Sample Postman Collection"
    assert plan.base_urls == ["https://postman-echo.com"]
    get, text, data = plan.requests
    assert (get.method, get.url) == ("GET", "https://postman-echo.com/get")
    assert get.query == [{"name": "source", "value": "newman-sample-github-collection",
                          "enabled": True}]
    raw = "https://postman-echo.com/get?source=newman-sample-github-collection"
    assert wire_url(get.url, get.query) == raw
    assert [(a["type"], a.get("expression"), a["operator"], a["expected_value"])
            for a in get.assertions] == [
        ("status_code", None, "eq", 200),
        ("json", "$.args.source", "eq", "newman-sample-github-collection")]
    assert get.assertions[0]["description"] == "expect response be 200"
    assert all(a["soft"] for a in get.assertions)   # Newman goes on after a failed test
    assert (text.body_type, text.body) == (
        "raw", "Duis posuere augue vel cursus pharetra. In luctus a ex nec pretium...")
    assert text.headers == [{"name": "Content-Type", "value": "text/plain", "enabled": True}]
    assert (data.body_type, data.body) == (
        "json", {"text": "Duis posuere augue vel cursus pharetra. In luctus a ex nec pretium..."})
    assert get.key == "GET A simple GET request" and get.where == "/item/0"
    [scenario] = plan.scenarios
    assert scenario.name == "Sample Postman Collection"
    assert [step.request for step in scenario.steps] == [r.key for r in plan.requests]
    assert plan.problems == []


def test_the_comma_test_collection_lists_its_script_line_by_line():
    """Its pre-request script asserts on the CSV row (``data.x``), which is not a response:
    each of its ten assertions is listed with its pointer; the framing lines are not."""
    plan = parsed(corpus("newman-comma-test-csv.postman_collection.json"))
    [request] = plan.requests
    assert request.url == "http://postman-echo.com/get"
    assert request.body_type == "json" and request.body["longNumber"] == "{{longNumber}}"
    assert request.content_type == ""   # the collection's own Content-Type header says it
    assert plan.scenarios[0].key == "ac876a75-22ac-40cf-8abe-27ad079b6a5d"
    assert plan.scenarios[0].dataset is None   # a data file is attached later, never read
    lines = [p for p in plan.problems if p.message.startswith("script line not imported")]
    assert [p.where for p in lines] == [f"/item/0/event/1/script/exec/{n}"
                                        for n in range(1, 11)]
    assert lines[0].message == ("script line not imported: "
                                "pm.expect(data.nameWithComma).to.eql('Abhijit, Kane');")
    assert all(p.severity == WARNING and p.item == request.key for p in lines)
    assert any("no scheme" in m for m in messages(plan))
    assert request.assertions == [] and request.extractors == []


def test_the_csv_with_bom_collection_has_a_request_given_as_a_url():
    plan = parsed(corpus("newman-csv-with-bom.postman_collection.json"))
    [request] = plan.requests
    assert (request.method, request.url, request.name) == (
        "GET", "http://postman-echo.com/get", "postman-echo.com/get")
    listed = [p.where for p in plan.problems if "script line" in p.message]
    assert listed == [f"/item/0/event/0/script/exec/{n}" for n in (1, 2, 3)]


def whatwg_raw_urls() -> dict[str, str]:
    document = json.loads(corpus("newman-whatwg-url.postman_collection.json"))
    return {f"GET {folder['name']} / {item['name']}": item["request"]["url"]["raw"]
            for folder in document["item"] for item in folder["item"]}


def test_the_whatwg_url_collection_keeps_every_url_as_written():
    """26 requests with hostile URLs in 4 folders: each URL is sent as written, byte for
    byte, except three that cannot be sent as they are (each with a warning)."""
    plan = parsed(corpus("newman-whatwg-url.postman_collection.json"))
    raw = whatwg_raw_urls()
    assert len(plan.requests) == 26 == len(raw)
    assert sorted({tuple(r.folder) for r in plan.requests}) == [
        ("Disabled Encoding",), ("Encoding",), ("On Redirect",), ("Parsing",)]
    changed = {
        # Blank raw URL: rebuilt from the URL object, as Postman's Url.toString() does.
        "GET Parsing / \\\\ in path": "https://httpbin.org//get",
        # The platform refuses credentials in a URL: they move into basic auth.
        "GET Parsing / multiple : and @ in auth": "https://postman-echo.com/get",
        # No scheme: Postman sends http://.
        "GET Encoding / IP shorthands": "http://127.1:4041",
    }
    for request in plan.requests:
        written = request.url
        if any(p.get("enabled", True) for p in request.query):
            written += "?" + "&".join(f"{quote_plus(p['name'], safe='')}="
                                      f"{quote_plus(p['value'], safe='')}"
                                      for p in request.query if p.get("enabled", True))
        assert written == changed.get(request.key, raw[request.key]), request.key
    by_key = {r.key: r for r in plan.requests}
    for key in ("GET Parsing / multiple &&&", "GET Parsing / params with & and #",
                "GET Disabled Encoding / query encoding", "GET Encoding / path encoding",
                "GET Parsing / newlines", "GET Parsing / // in protocol"):
        assert by_key[key].url == raw[key] and by_key[key].query == []
    # The one query that moves into pairs puts the same bytes on the wire.
    moved = by_key["GET Encoding / query pre-encoded"]
    assert moved.query == [{"name": "q", "value": "🍪", "enabled": True}]
    assert wire_url(moved.url, moved.query) == wire_url(raw[moved.key], [])
    disabled = by_key["GET Parsing / disabled query param"]
    assert disabled.query == [{"name": "foo", "value": "", "enabled": False}]
    assert disabled.url == "https://postman-echo.com/get"


def test_the_whatwg_url_collection_maps_its_scripts_and_says_what_it_cannot():
    plan = parsed(corpus("newman-whatwg-url.postman_collection.json"))
    by_key = {r.key: r for r in plan.requests}
    # The collection's test script runs for every request; it is a skipped test: disabled.
    for request in plan.requests:
        assert request.assertions[0] == {
            "type": "status_code", "operator": "eq", "expected_value": 200,
            "description": 'Status code is 200 for "${pm.info.requestName}"', "soft": True,
            "enabled": False}
    assert by_key["GET Parsing / newlines"].assertions[1] == {
        "type": "json", "expression": "$.url", "operator": "eq",
        "expected_value": "https://postman-echo.com/get?foo=%0Abar%0A",
        "description": "Request URL", "soft": True}
    assert by_key["GET Encoding / path pre-encoded"].assertions[1] == {
        "type": "body", "operator": "contains", "expected_value": "GET /foo/%2a/%F0%9F%8D%AA",
        "description": "Request Payload", "soft": True}
    # const {url, headers: {authorization}} = pm.response.json(): both names are paths.
    auth = by_key["GET Parsing / multiple : and @ in auth"]
    assert [a.get("expression") for a in auth.assertions] == [None, "$.url"]
    assert auth.headers == [{"name": "Authorization",
                             "value": "Basic {{base64_encode(basic_credentials)}}",
                             "enabled": True}]
    [credentials] = plan.variables
    assert (credentials.name, credentials.value, credentials.secret) == (
        "basic_credentials", "us@r:p@ssword", True)
    # A literal pm.variables.set in a pre-request script is a step variable; names that are
    # not identifiers are listed, and so are the references to them.
    steps = {step.request: step for step in plan.scenarios[0].steps}
    assert steps["GET Parsing / nested variables"].variables == {"one": "1"}
    listed = {(p.where, p.message) for p in plan.problems}
    assert ("/item/0/item/0/event/0/script/exec/1",
            'script line not imported: pm.variables.set("host.1", "postman-echo.com");') in listed
    assert ("/item/0/item/1", "{{host.name}} is not a variable name the platform reads "
                              "(letters, digits and _): it will not resolve") in listed
    loop = [p.where for p in plan.problems if p.item == "GET Encoding / path encoding"
            and p.message.startswith("script line")]
    assert loop == [f"/item/1/item/1/event/0/script/exec/{n}" for n in (0, 1, 2, 4, 5, 6, 7, 10,
                                                                         16)]
    assert any(p.where == "/item/3/item/0/protocolProfileBehavior/disableUrlEncoding"
               for p in plan.problems)
    assert any("control character" in m for m in messages(plan))   # the newlines request


# Requests, bodies, headers


def test_folders_give_the_folder_path_and_the_key():
    plan = parsed(collection(
        {"name": "Pets", "item": [{"name": "Admin", "item": [request_item("Delete", "DELETE")]},
                                  request_item("Get"), request_item("Get")]},
        request_item("Ping", id="9d1f-ping")))
    assert [(r.key, r.folder) for r in plan.requests] == [
        ("DELETE Pets / Admin / Delete", ["Pets", "Admin"]), ("GET Pets / Get", ["Pets"]),
        ("GET Pets / Get (2)", ["Pets"]), ("9d1f-ping", [])]
    assert [r.where for r in plan.requests] == ["/item/0/item/0/item/0", "/item/0/item/1",
                                                "/item/0/item/2", "/item/1"]
    assert [s.request for s in plan.scenarios[0].steps] == [r.key for r in plan.requests]


def test_the_url_object_gives_query_pairs_and_disabled_ones():
    url = {"raw": "https://api.example.com/pets?limit=10&q={{term}}",
           "query": [{"key": "limit", "value": "10"}, {"key": "q", "value": "{{term}}"},
                     {"key": "debug", "value": "1", "disabled": True, "description": "noisy"}]}
    [request] = parsed(collection(request_item(url=url))).requests
    assert request.url == "https://api.example.com/pets"
    assert request.query == [
        {"name": "limit", "value": "10", "enabled": True},
        {"name": "q", "value": "{{term}}", "enabled": True},
        {"name": "debug", "value": "1", "enabled": False, "description": "noisy"}]


def test_a_query_that_pairs_would_change_stays_in_the_url_with_its_disabled_pairs_listed():
    url = {"raw": "https://api.example.com/pets?fields=a,b&q=%2a",
           "query": [{"key": "fields", "value": "a,b"}, {"key": "q", "value": "%2a"},
                     {"key": "debug", "value": "1", "disabled": True}]}
    plan = parsed(collection(request_item(url=url)))
    [request] = plan.requests
    assert request.url == "https://api.example.com/pets?fields=a,b&q=%2a"
    assert request.query == []
    assert any("disabled query parameters (debug)" in m for m in messages(plan))


def test_path_variables_and_dynamic_variables_are_rewritten():
    url = {"raw": "{{base_url}}/pets/:petId/toys/:toy?r={{$randomInt}}",
           "variable": [{"key": "petId", "value": "7"}, {"key": "toy", "value": ""}]}
    plan = parsed(collection(request_item(url=url, request={
        "header": [{"key": "X-Request-Id", "value": "{{$guid}}"},
                   {"key": "X-Name", "value": "{{$randomFirstName}}"}]})))
    [request] = plan.requests
    assert request.url == "{{base_url}}/pets/7/toys/{{toy}}"
    assert request.query == [{"name": "r", "value": "{{random_int(0, 1000)}}", "enabled": True}]
    assert request.headers[0]["value"] == "{{uuid()}}"
    assert any("path variable :toy has no value" in m for m in messages(plan))
    assert any("{{$randomFirstName}} is a Postman dynamic variable" in m
               for m in messages(plan))
    assert plan.base_urls == []   # a variable host is left alone


def test_headers_keep_their_disabled_state_and_description():
    [request] = parsed(collection(request_item(request={"header": [
        {"key": "Accept", "value": "application/json"},
        {"key": "X-Debug", "value": "1", "disabled": True, "description": "off"},
        {"key": "", "value": "lost"}]}))).requests
    assert request.headers == [
        {"name": "Accept", "value": "application/json", "enabled": True},
        {"name": "X-Debug", "value": "1", "enabled": False, "description": "off"}]


@pytest.mark.parametrize(("body", "headers", "expected"), [
    ({"mode": "raw", "raw": '{"a": 1}', "options": {"raw": {"language": "json"}}}, [],
     ("json", {"a": 1}, "application/json")),
    ({"mode": "raw", "raw": '{"id": {{id}}}', "options": {"raw": {"language": "json"}}}, [],
     ("raw", '{"id": {{id}}}', "application/json")),
    ({"mode": "raw", "raw": "[1, 2]"}, [{"key": "Content-Type",
                                         "value": "application/vnd.api+json"}],
     ("json", [1, 2], "")),
    ({"mode": "raw", "raw": "<a/>", "options": {"raw": {"language": "xml"}}}, [],
     ("raw", "<a/>", "application/xml")),
    ({"mode": "raw", "raw": "hello"}, [], ("raw", "hello", "text/plain")),
    ({"mode": "urlencoded", "urlencoded": [{"key": "a", "value": "1"},
                                           {"key": "b", "value": "2", "disabled": True}]}, [],
     ("form", [{"name": "a", "value": "1", "enabled": True},
               {"name": "b", "value": "2", "enabled": False}], "")),
])
def test_bodies(body, headers, expected):
    [request] = parsed(collection(request_item(method="POST", request={
        "body": body, "header": headers}))).requests
    assert (request.body_type, request.body, request.content_type) == expected


def test_a_form_data_file_part_is_listed_and_left_out():
    plan = parsed(collection(request_item(method="POST", request={
        "header": [{"key": "Content-Type", "value": "multipart/form-data; boundary=x"}],
        "body": {"mode": "formdata", "formdata": [
            {"key": "name", "value": "Rex", "type": "text"},
            {"key": "photo", "src": "/home/me/rex.png", "type": "file"}]}})))
    [request] = plan.requests
    assert request.body_type == "multipart"
    assert request.body == [{"name": "name", "value": "Rex", "enabled": True}]
    assert request.headers == []   # its boundary would not be the platform's
    photo = next(p for p in plan.problems if "photo" in p.message)
    assert photo.where == "/item/0/request/body/formdata/1" and photo.severity == WARNING


def test_a_graphql_body_is_the_json_text_postman_sends():
    plan = parsed(collection(request_item(method="POST", request={"body": {
        "mode": "graphql", "graphql": {"query": "{ pets { id } }",
                                       "variables": '{"first": 2}'}}})))
    [request] = plan.requests
    assert request.body_type == "raw" and request.content_type == "application/json"
    assert json.loads(request.body) == {"query": "{ pets { id } }", "variables": {"first": 2}}
    assert any("GraphQL" in m for m in messages(plan))


def test_a_get_body_is_dropped_unless_body_pruning_is_off():
    body = {"mode": "raw", "raw": "x"}
    plan = parsed(collection(request_item(request={"body": body}),
                             request_item("Kept", request={"body": body},
                                          protocolProfileBehavior={"disableBodyPruning": True})))
    dropped, kept = plan.requests
    assert dropped.body_type == "none" and kept.body == "x"
    assert any("Postman sends no body with GET" in m for m in messages(plan))


def test_protocol_settings_that_change_behaviour_are_listed():
    plan = parsed(collection(request_item(protocolProfileBehavior={
        "followRedirects": False, "strictSSL": False, "disableBodyPruning": True})))
    assert sorted(p.where for p in plan.problems) == [
        "/item/0/protocolProfileBehavior/followRedirects",
        "/item/0/protocolProfileBehavior/strictSSL"]


# Variables


def test_collection_variables_become_project_globals():
    plan = parsed(collection(
        request_item(url="{{base-url}}/pets", request={
            "header": [{"key": "X-Key", "value": "{{api.key}}"}]}),
        variable=[{"key": "base-url", "value": "https://api.example.com"},
                  {"key": "api.key", "value": "k-1", "type": "secret"},
                  {"key": "limit", "value": 10},
                  {"key": "old", "value": "x", "disabled": True}]))
    assert [(v.name, v.value, v.secret, v.environment) for v in plan.variables] == [
        ("base_url", "https://api.example.com", False, None), ("api_key", "k-1", True, None),
        ("limit", 10, False, None)]
    [request] = plan.requests
    assert request.url == "{{base_url}}/pets"
    assert request.headers[0]["value"] == "{{api_key}}"
    renamed = [p for p in plan.problems if "is imported as" in p.message]
    assert [p.where for p in renamed] == ["/variable/0", "/variable/1"]
    assert any(p.severity == SKIPPED and p.where == "/variable/3" for p in plan.problems)


def test_folder_variables_are_flattened_and_a_differing_value_rides_on_the_steps():
    plan = parsed(collection(
        request_item("Top"),
        {"name": "Staging", "variable": [{"key": "host", "value": "staging.example.com"},
                                         {"key": "region", "value": "eu"}],
         "item": [request_item("Inner")]},
        variable=[{"key": "host", "value": "api.example.com"}]))
    assert [(v.name, v.value) for v in plan.variables] == [("host", "api.example.com"),
                                                           ("region", "eu")]
    top, inner = plan.scenarios[0].steps
    assert top.variables == {}
    assert inner.variables == {"host": "staging.example.com"}
    flattened = [p for p in plan.problems if "imported as a project global" in p.message]
    assert [p.where for p in flattened] == ["/item/1/variable/0", "/item/1/variable/1"]


# Auth


def test_bearer_auth_is_inherited_and_its_token_moves_into_a_secret_variable():
    plan = parsed(collection(
        request_item("Inherits"),
        {"name": "Public", "auth": {"type": "noauth"}, "item": [request_item("Open")]},
        request_item("Own", request={"auth": {"type": "bearer", "bearer": [
            {"key": "token", "value": "other-token"}]}}),
        auth={"type": "bearer", "bearer": [{"key": "token", "value": "t0ken", "type": "string"}]}))
    inherits, open_, own = plan.requests
    assert inherits.headers == [{"name": "Authorization", "value": "Bearer {{bearer_token}}",
                                 "enabled": True}]
    assert open_.headers == []
    assert own.headers[0]["value"] == "Bearer {{bearer_token_2}}"
    assert [(v.name, v.value, v.secret) for v in plan.variables] == [
        ("bearer_token", "t0ken", True), ("bearer_token_2", "other-token", True)]


def test_a_token_that_is_a_variable_stays_one_and_that_variable_becomes_secret():
    plan = parsed(collection(request_item(), auth={"type": "bearer", "bearer": [
        {"key": "token", "value": "{{token}}"}]}, variable=[{"key": "token", "value": "abc"}]))
    assert plan.requests[0].headers[0]["value"] == "Bearer {{token}}"
    assert [(v.name, v.secret) for v in plan.variables] == [("token", True)]


def test_basic_auth_of_v2_0_and_v2_1_builds_the_header_from_a_secret_user_and_password():
    """The header is ``Basic {{base64_encode(name)}}``: the platform encodes the secret
    "user:password" when it sends, so the password can be edited (or be a variable)."""
    v21 = parsed(collection(request_item(request={"auth": {"type": "basic", "basic": [
        {"key": "username", "value": "ann"}, {"key": "password", "value": "{{pw}}"}]}})))
    v20 = parsed(collection(request_item(request={"auth": {"type": "basic", "basic": {
        "username": "ann", "password": "{{pw}}", "saveHelperData": True}}}), schema=V20))
    for plan in (v21, v20):
        assert plan.requests[0].headers == [{
            "name": "Authorization", "value": "Basic {{base64_encode(basic_credentials)}}",
            "enabled": True}]
        [variable] = plan.variables
        assert (variable.name, variable.value, variable.secret) == (
            "basic_credentials", "ann:{{pw}}", True)
    # What the engine sends: the references of the secret resolved, then encoded.
    pool = VariablePool({"project": {"basic_credentials": "ann:{{pw}}", "pw": "secret"}},
                        secrets=["basic_credentials"])
    assert render(v21.requests[0].headers[0]["value"], pool) == "Basic YW5uOnNlY3JldA=="


def test_api_key_auth_goes_to_a_header_or_to_the_query():
    header = {"type": "apikey", "apikey": [{"key": "key", "value": "X-Api-Key"},
                                           {"key": "value", "value": "k1"}]}
    query = {"type": "apikey", "apikey": [{"key": "key", "value": "api_key"},
                                          {"key": "value", "value": "k2"},
                                          {"key": "in", "value": "query"}]}
    plan = parsed(collection(
        request_item("H", request={"auth": header}),
        request_item("Q", request={"auth": query}),
        request_item("QU", url="https://api.example.com/p?a=%2a", request={"auth": query})))
    h, q, qu = plan.requests
    assert h.headers == [{"name": "X-Api-Key", "value": "{{x_api_key}}", "enabled": True}]
    assert q.query == [{"name": "api_key", "value": "{{api_key}}", "enabled": True}]
    assert qu.url == "https://api.example.com/p?a=%2a&api_key={{api_key}}"
    assert [(v.name, v.value) for v in plan.variables] == [("x_api_key", "k1"), ("api_key", "k2")]


def test_an_oauth2_access_token_is_sent_as_a_bearer_and_other_auth_is_listed():
    plan = parsed(collection(
        request_item("O", request={"auth": {"type": "oauth2", "oauth2": [
            {"key": "accessToken", "value": "at-1"}, {"key": "addTokenTo", "value": "header"}]}}),
        request_item("D", request={"auth": {"type": "digest", "digest": [
            {"key": "username", "value": "u"}]}}),
        request_item("Mine", request={"header": [{"key": "Authorization", "value": "x"}],
                                      "auth": {"type": "bearer", "bearer": [
                                          {"key": "token", "value": "t"}]}})))
    oauth, digest, mine = plan.requests
    assert oauth.headers[0]["value"] == "Bearer {{oauth2_access_token}}"
    assert digest.headers == [] and mine.headers == [
        {"name": "Authorization", "value": "x", "enabled": True}]
    listed = {p.where: p.message for p in plan.problems}
    assert "not renewed" in listed["/item/0/request/auth"]
    assert listed["/item/1/request/auth"].startswith("digest auth is not imported")
    assert "has its own Authorization header" in listed["/item/2/request/auth"]


# Scripts


RESPONSE_SCRIPT = [
    "var jsonData = pm.response.json();",
    "pm.test('Status code is 200', function () {",
    "    pm.response.to.have.status(200);",
    "});",
    "pm.test('code', () => { pm.expect(pm.response.code).to.eql(201); });",
    "pm.expect(jsonData.x).to.eql('v');",
    "pm.expect(pm.response.json().a.b).to.equal(3);",
    "pm.response.to.have.header('X-Trace');",
    "pm.expect(pm.response.text()).to.include('hello');",
    "pm.expect(pm.response.responseTime).to.be.below(500);",
    "pm.environment.set('token', jsonData.token);",
    "pm.collectionVariables.set('pet_id', jsonData.data[0].id);",
    "pm.globals.set('next', pm.response.headers.get('Location'));",
    "const body = JSON.parse(responseBody);",
    "pm.expect(body['first-name']).to.be.a('string');",
]


def test_the_common_script_patterns_map_to_assertions_and_extractors():
    plan = parsed(collection(request_item(event=[script(*RESPONSE_SCRIPT)])))
    [request] = plan.requests
    assert [(a["type"], a.get("expression"), a["operator"], a.get("expected_value"),
             a.get("description")) for a in request.assertions] == [
        ("status_code", None, "eq", 200, "Status code is 200"),
        ("status_code", None, "eq", 201, "code"),
        ("json", "$.x", "eq", "v", None),
        ("json", "$.a.b", "eq", 3, None),
        ("header", "X-Trace", "exists", None, None),
        ("body", None, "contains", "hello", None),
        ("response_time", None, "lt", 500, None),
        ("json", "$['first-name']", "type_match", "str", None)]
    assert request.extractors == [
        {"name": "token", "source": "json", "expression": "$.token", "secret": True},
        {"name": "pet_id", "source": "json", "expression": "$.data[0].id"},
        {"name": "next", "source": "header", "expression": "Location"}]
    assert plan.problems == []


@pytest.mark.parametrize(("line", "expected"), [
    ("pm.expect(pm.response.code).to.be.oneOf([200, 201])",
     ("status_code", None, "contained_by", [200, 201])),
    ("pm.expect(jsonData.items).to.have.lengthOf(3)", ("json", "$.items", "len_eq", 3)),
    ("pm.expect(jsonData.items.length).to.be.above(1)", ("json", "$.items", "len_gt", 1)),
    ("pm.expect(jsonData.gone).to.not.exist", ("json", "$.gone", "not_exists", None)),
    ("pm.expect(jsonData.maybe).to.be.null", ("json", "$.maybe", "is_null", None)),
    ("pm.expect(jsonData.ok).to.be.true", ("json", "$.ok", "eq", True)),
    ("pm.expect(jsonData.list).to.be.empty", ("json", "$.list", "len_eq", 0)),
    ("pm.expect(jsonData.n).to.not.equal(5)", ("json", "$.n", "ne", 5)),
    ("pm.expect(jsonData.n).to.be.at.least(2)", ("json", "$.n", "ge", 2)),
    ("pm.expect(jsonData.mail).to.match(/@example\\.com$/i)",
     ("json", "$.mail", "regex_match", "(?i)@example\\.com$")),
    ("pm.expect(jsonData).to.have.property('id')", ("json", "$.id", "exists", None)),
    ("pm.expect(jsonData).to.have.property('kind', 'pet')", ("json", "$.kind", "eq", "pet")),
    ("pm.expect(jsonData.user).to.eql({name: 'Ann', roles: ['a', \"b\"],})",
     ("json", "$.user", "eq", {"name": "Ann", "roles": ["a", "b"]})),
    ("pm.expect(jsonData.name).to.eql(pm.environment.get('name'))",
     ("json", "$.name", "eq", "{{name}}")),
    ("pm.expect(jsonData.name).to.eql(data.name)", ("json", "$.name", "eq", "{{name}}")),
    ("pm.response.to.be.ok", ("status_code", None, "eq", 200)),
    ("pm.response.to.be.notFound", ("status_code", None, "eq", 404)),
    ("pm.response.to.not.be.error", ("status_code", None, "lt", 400)),
    ("pm.response.to.be.json", ("json", "$", "exists", None)),
    ("pm.response.to.have.header('Content-Type', 'application/json')",
     ("header", "Content-Type", "eq", "application/json")),
    ("pm.expect(pm.cookies.get('sid')).to.exist", ("cookie", "sid", "exists", None)),
    ('tests["Status code is 200"] = responseCode.code === 200;',
     ("status_code", None, "eq", 200)),
    ('tests["Has string"] = responseBody.has("abc");', ("body", None, "contains", "abc")),
    ('tests["Fast"] = responseTime < 200;', ("response_time", None, "lt", 200)),
])
def test_more_chai_patterns(line, expected):
    plan = parsed(collection(request_item(event=[script("var jsonData = pm.response.json();",
                                                        line)])))
    [assertion] = plan.requests[0].assertions
    assert (assertion["type"], assertion.get("expression"), assertion["operator"],
            assertion.get("expected_value")) == expected
    assert plan.problems == []


def test_chains_over_several_lines_and_objects_over_several_lines_are_one_statement():
    plan = parsed(collection(request_item(event=[script(
        "pm.expect(pm.response.json().args).to.have.property('source')",
        "  .and.equal('x');",
        "pm.expect(pm.response.json().user).to.eql({",
        "    name: 'Ann'",
        "});",
        "var schema = {",
        "  \"type\": \"object\", \"required\": [\"id\"]",
        "};",
        "pm.test('schema', function () {",
        "  pm.response.to.have.jsonSchema(schema);",
        "});")])))
    assert [(a.get("expression"), a["operator"], a["expected_value"])
            for a in plan.requests[0].assertions] == [
        ("$.args.source", "eq", "x"), ("$.user", "eq", {"name": "Ann"}),
        ("$", "json_schema", {"type": "object", "required": ["id"]})]
    assert plan.problems == []


def test_every_line_not_mapped_is_listed_with_its_pointer_and_text():
    """Conditional code is never mapped (its assertions would not hold every time); comments
    and the lines that only frame tests are not listed."""
    plan = parsed(collection(request_item(event=[script(
        "// check the answer",
        "/* several",
        "   lines */",
        "var jsonData = pm.response.json();",
        "console.log(jsonData);",
        "if (jsonData.kind === 'cat') {",
        "    pm.expect(jsonData.lives).to.eql(9);",
        "}",
        "pm.test('when', function () {",
        "    pm.expect(jsonData.when).to.eql(new Date().toISOString());",
        "    pm.expect(jsonData.id).to.eql(1);",
        "});",
        "pm.environment.set('stamp', Date.now());",
        "pm.environment.set('kept', 'a literal, in a test script');",
        "",
    )])))
    [request] = plan.requests
    assert [a["expression"] for a in request.assertions] == ["$.id"]
    assert [(p.where, p.message.removeprefix("script line not imported: "))
            for p in plan.problems] == [
        ("/item/0/event/0/script/exec/4", "console.log(jsonData);"),
        ("/item/0/event/0/script/exec/5", "if (jsonData.kind === 'cat') {"),
        ("/item/0/event/0/script/exec/6", "pm.expect(jsonData.lives).to.eql(9);"),
        ("/item/0/event/0/script/exec/9",
         "pm.expect(jsonData.when).to.eql(new Date().toISOString());"),
        ("/item/0/event/0/script/exec/12", "pm.environment.set('stamp', Date.now());"),
        ("/item/0/event/0/script/exec/13",
         "pm.environment.set('kept', 'a literal, in a test script');")]
    assert all(p.severity == WARNING and p.item == request.key for p in plan.problems)


def test_a_skipped_test_gives_disabled_assertions():
    plan = parsed(collection(request_item(event=[script(
        "pm.test.skip('later', function () {", "  pm.response.to.have.status(201);", "});")])))
    assert plan.requests[0].assertions == [{"type": "status_code", "operator": "eq",
                                            "expected_value": 201, "description": "later",
                                            "soft": True, "enabled": False}]


def test_collection_and_folder_scripts_apply_to_every_request_below_them():
    plan = parsed(collection(
        request_item("Top", event=[script("pm.response.to.have.status(200);")]),
        {"name": "Pets", "event": [script("pm.expect(pm.response.responseTime).to.be.below(900)"),
                                   script("pm.variables.set('kind', 'dog');",
                                          "pm.environment.set('n', 3)", "doThings();",
                                          listen="prerequest")],
         "item": [request_item("Inner")]},
        event=[script("pm.response.to.have.header('X-Trace');", "weird();")]))
    top, inner = plan.requests
    assert [a["type"] for a in top.assertions] == ["header", "status_code"]
    assert [a["type"] for a in inner.assertions] == ["header", "response_time"]
    assert plan.scenarios[0].steps[1].variables == {"kind": "dog", "n": 3}
    assert plan.scenarios[0].steps[0].variables == {}
    listed = {p.where: p.item for p in plan.problems}
    # Listed once, where they are written, as belonging to the collection's scenario.
    assert listed == {"/event/0/script/exec/1": "c-1", "/item/1/event/1/script/exec/2": "c-1"}


def test_a_script_given_as_one_text_is_read_line_by_line():
    plan = parsed(collection(request_item(event=[{"listen": "test", "script": {
        "exec": "pm.response.to.have.status(200);\nfoo();"}}])))
    assert plan.requests[0].assertions[0]["expected_value"] == 200
    assert [p.where for p in plan.problems] == ["/item/0/event/0/script/exec (line 2)"]


def test_javascript_is_never_run():
    plan = parsed(collection(request_item(event=[script(
        "require('child_process').execSync('touch /tmp/pwned');",
        "pm.expect(eval('1+1')).to.eql(2);")])))
    assert plan.requests[0].assertions == []
    assert len(plan.problems) == 2
    assert not Path("/tmp/pwned").exists()


# What is refused or skipped


@pytest.mark.parametrize(("document", "where", "reason"), [
    ({"openapi": "3.0.0"}, "", 'no "info" object'),
    ({"info": {"name": "x"}, "requests": []}, "/item", '"item" is not a list'),
    ({"name": "x", "requests": [], "order": []}, "", "collection v1"),
    ({"info": {"name": "x", "schema": V21}, "item": {}}, "/item", "not a list"),
    ({"info": {"name": "x", "schema": "https://schema.getpostman.com/json/collection/v3.0.0/"},
      "item": []}, "/info/schema", "unknown collection schema"),
])
def test_a_file_that_is_not_a_collection_is_refused(document, where, reason):
    with pytest.raises(ImportFailed) as caught:
        postman.parse(json.dumps(document).encode(), "c.json")
    assert caught.value.where == where and reason in caught.value.reason
    assert str(caught.value).startswith("c.json")


def test_a_file_that_is_not_json_is_refused_naming_the_line():
    with pytest.raises(ImportFailed) as caught:
        postman.parse(b'{"info": {}, \n "item": [,]}', "c.json")
    assert caught.value.where.startswith("line 2")


def test_one_bad_item_is_skipped_naming_its_pointer():
    plan = parsed(collection(
        request_item("Good"), {"name": "Odd"}, 42, request_item("Trace", "TRACE"),
        request_item("No URL", url="")))
    assert [r.name for r in plan.requests] == ["Good"]
    skipped = [(p.where, p.severity) for p in plan.problems]
    assert skipped == [("/item/1", SKIPPED), ("/item/2", SKIPPED),
                       ("/item/3/request/method", SKIPPED), ("/item/4/request/url", SKIPPED)]
    assert "neither a folder" in plan.problems[0].message


@override_settings(TESTING_BODY_MAX_BYTES=1024)
def test_a_body_larger_than_an_interface_holds_is_skipped():
    plan = parsed(collection(request_item("Big", "POST", request={
        "body": {"mode": "raw", "raw": "x" * 2000}}), request_item("Small")))
    assert [r.name for r in plan.requests] == ["Small"]
    assert (plan.problems[0].where, plan.problems[0].severity) == ("/item/0/request/body",
                                                                  SKIPPED)


def test_a_collection_without_a_schema_is_read_as_v2_1_with_a_warning():
    plan = parsed(json.dumps({"info": {"name": "x"}, "item": [request_item()]}).encode())
    assert len(plan.requests) == 1 and plan.problems[0].where == "/info/schema"


def test_looks_like():
    assert postman.looks_like(collection(), "any.json")
    assert postman.looks_like(b"\xef\xbb\xbf {}", "x.postman_collection.json")
    assert not postman.looks_like(b'{"openapi": "3.0.0", "info": {}}', "api.json")
    assert not postman.looks_like(b'{"log": {"entries": []}}', "x.har")
    assert not postman.looks_like(b"curl https://x", "x.txt")
