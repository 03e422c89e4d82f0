"""The HttpRunner importer: the real v3 and v4 testcases, every mapping, hostile files."""

from __future__ import annotations

import builtins
import dataclasses
import io
import json
import os

import pytest

from testing.importers import httprunner
from testing.importers.base import SKIPPED, WARNING, ImportFailed, ImportPlan
from testing.models.scenarios import parse_csv
from testing.tests.importer_checks import corpus, valid

BASIC = ("httprunner", "v3.1.11", "examples", "httpbin", "basic.yml")
VALIDATE = ("httprunner", "v3.1.11", "examples", "httpbin", "validate.yml")
PARAMETERS = ("httprunner", "v4", "examples", "hrp", "parameters_test.yaml")
DEMO = ("httprunner", "v4", "internal", "scaffold", "templates", "testcases")


def _parse(document, filename: str = "case.json") -> ImportPlan:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return httprunner.parse(data, filename)


def _case(*steps, **config) -> dict:
    return {"config": {"name": "case", **config}, "teststeps": list(steps)}


def _get(name="step", **extra) -> dict:
    return {"name": name, "request": {"method": "GET", "url": "/x"}, **extra}


def _messages(plan: ImportPlan, severity: str | None = None) -> list[str]:
    return [p.message for p in plan.problems if severity is None or p.severity == severity]


def _assert_valid(plan: ImportPlan) -> None:
    valid(plan)


@pytest.fixture
def no_files(monkeypatch):
    """Fail the test if the importer opens any file."""
    opened = []

    def refuse(*args, **kwargs):
        opened.append(args[0] if args else kwargs)
        raise AssertionError(f"the importer opened {args[0] if args else kwargs!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    monkeypatch.setattr(os, "open", refuse)
    return opened


@pytest.fixture
def parameters_test() -> bytes:
    """The v4 parameters example, read before ``no_files`` shuts files."""
    return corpus(*PARAMETERS).read_bytes()


def test_v3_basic_testcase():
    """httpbin basic.yml: nine steps, eq/startswith/len_eq validators, params and raw data."""
    plan = httprunner.parse(corpus(*BASIC).read_bytes(), BASIC[-1])
    assert plan.title == "basic test with httpbin"
    assert plan.base_urls == ["https://httpbin.org"]
    assert len(plan.requests) == 9 and plan.problems == []
    first = plan.requests[0]
    assert first.key == "basic test with httpbin/1:headers"
    assert (first.method, first.url) == ("GET", "/headers")
    assert first.assertions == [
        {"type": "status_code", "operator": "eq", "expected_value": 200},
        {"type": "json", "operator": "eq", "expected_value": "httpbin.org",
         "expression": "$.headers.Host"}]
    user_agent = plan.requests[1].assertions[1]
    assert user_agent == {"type": "json", "operator": "startswith",
                          "expected_value": "python-requests",
                          "expression": '$."user-agent"'}
    in_url, in_params = plan.requests[3], plan.requests[4]
    assert in_url.url == "/get" and in_params.url == "/get"
    assert in_url.query == in_params.query == [
        {"name": "a", "value": "1", "enabled": True},
        {"name": "b", "value": "2", "enabled": True}]
    assert plan.requests[3].assertions[1]["expected_value"] == {"a": "1", "b": "2"}
    post = plan.requests[7]
    assert (post.body_type, post.body, post.content_type) == ("raw", "abc", "application/json")
    assert post.headers == []
    assert plan.requests[8].assertions == [
        {"type": "json", "operator": "len_eq", "expected_value": 9, "expression": "$"}]
    (scenario,) = plan.scenarios
    assert scenario.key == scenario.name == "basic test with httpbin"
    assert [s.request for s in scenario.steps] == [r.key for r in plan.requests]
    _assert_valid(plan)


def test_v3_validate_script_is_listed_not_run():
    """validate.yml: the Python of validate_script is a warning per step; the rest imports."""
    plan = httprunner.parse(corpus(*VALIDATE).read_bytes(), VALIDATE[-1])
    assert plan.base_urls == ["http://httpbin.org"]
    assert [len(r.assertions) for r in plan.requests] == [3, 1]
    assert plan.requests[0].assertions[1] == {"type": "json", "operator": "eq",
                                              "expected_value": "1", "expression": "$.args.a"}
    warnings = [(p.where, p.severity) for p in plan.problems]
    assert warnings == [("/teststeps/0/validate_script", WARNING),
                        ("/teststeps/1/validate_script", WARNING)]
    assert "3 lines of Python" in plan.problems[1].message
    _assert_valid(plan)


def test_v4_parameters_inline_list_and_csv_file(parameters_test, no_files):
    """parameters_test.yaml: the inline list is a dataset, the CSV file a warning, unread."""
    plan = httprunner.parse(parameters_test, PARAMETERS[-1])
    (scenario,) = plan.scenarios
    assert scenario.dataset.csv_data == "user_agent\niOS/10.1\niOS/10.2\n"
    assert scenario.variables == {"app_version": "v1", "user_agent": "iOS/10.3",
                                  "file": "examples/hrp/account.csv"}
    (request,) = plan.requests
    assert request.query == [{"name": f"foo{i}", "value": f"{{{{foo{i}}}}}", "enabled": True}
                             for i in (1, 2, 3)]
    assert request.headers == [{"name": "User-Agent", "value": "{{user_agent}},{{app_version}}",
                                "enabled": True}]
    assert request.assertions == [
        {"type": "status_code", "operator": "eq", "expected_value": 200,
         "description": "check status code"},
        {"type": "json", "operator": "ne", "expected_value": "iOS/10.3",
         "expression": "$.args.foo3", "description": "check app version"}]
    assert scenario.steps[0].variables == {"foo1": "{{username}}", "foo2": "{{password}}",
                                           "foo3": "{{user_agent}}"}
    messages = _messages(plan, WARNING)
    csv_warning = next(m for m in messages if "examples/hrp/account.csv" in m)
    assert "upload it as a dataset (columns username, password)" in csv_warning
    assert "user_agent" in csv_warning
    assert any(m.startswith("verify: false") and "TLS" in m for m in messages)
    assert any(m.startswith("parameters_setting") for m in messages)
    assert no_files == []
    _assert_valid(plan)


def test_v4_demo_yaml_and_json_give_the_same_plan():
    """The scaffold's demo as YAML and as JSON: the same requests, steps and variables."""
    from_yaml = httprunner.parse(corpus(*DEMO, "demo_requests.yml").read_bytes(),
                                 "demo_requests.yml")
    from_json = httprunner.parse(corpus(*DEMO, "demo_requests.json").read_bytes(),
                                 "demo_requests.json")

    def comparable(plan: ImportPlan) -> dict:
        data = plan.as_data()
        for request in data["requests"]:  # only the JSON gives each validator a msg
            for assertion in request["assertions"]:
                assertion.pop("description", None)
        return {key: data[key] for key in ("title", "requests", "variables", "scenarios")}

    assert comparable(from_yaml) == comparable(from_json)
    assert from_json.base_urls == ["https://postman-echo.com"]
    assert from_yaml.base_urls == []  # "$base_url/get": HttpRunner read it from .env
    assert any("$base_url" in m for m in _messages(from_yaml))
    assert from_json.requests[0].assertions[0]["description"] == "check status_code"

    get, raw, form = from_json.requests
    assert get.url == "/get"
    assert get.headers == [{"name": "User-Agent", "value": "${get_user_agent()}",
                            "enabled": True}]
    assert get.extractors == [{"name": "foo3", "source": "json",
                               "expression": "$.args.foo2"}]
    assert (raw.body_type, raw.content_type) == ("raw", "text/plain")
    assert raw.body == ("This is expected to be sent back as part of response body: "
                        "{{foo1}}-{{foo2}}-{{foo3}}.")
    assert (form.body, form.content_type) == ("foo1={{foo1}}&foo2={{foo2}}&foo3={{foo3}}",
                                              "application/x-www-form-urlencoded")
    assert form.assertions[1]["expected_value"] == "{{expect_foo1}}"
    steps = from_json.scenarios[0].steps
    assert steps[0].variables == {"foo1": "{{USERNAME}}", "foo2": "bar21",
                                  "sum_v": "${sum_two_int(10000000, 20000000)}"}
    assert [(v.name, v.value, v.secret) for v in from_json.variables] == [
        ("USERNAME", "", False)]
    messages = _messages(from_json, WARNING)
    assert any("get_user_agent()" in m and "global function" in m for m in messages)
    assert any("sum_two_int()" in m and "never evaluated" in m for m in messages)
    assert any("${ENV(USERNAME)}" in m for m in messages)
    assert any(m.startswith("export (foo3)") for m in messages)
    _assert_valid(from_yaml)
    _assert_valid(from_json)


def test_v3_validator_shapes_and_comparator_names():
    """eq lists (with a message), check/comparator/expect, and HttpRunner's alias names."""
    plan = _parse(_case(_get(validate=[
        {"eq": ["status_code", "201"]},
        {"equals": ["headers.\"Content-Type\"", "application/json", "json answer"]},
        {"check": "body.items[0].id", "comparator": "greater_than", "expect": 0},
        {"length_equal": ["body.items", 3]},
        {"count_gt": ["body.items", "2"]},
        {"contains": ["body.name", "ann"]},
        {"type_match": ["body.id", "int"]},
        {"type_match": ["body.tags", "NoneType"]},
        {"regex_match": ["body.code", "^A\\d+$"]},
        {"str_eq": ["cookies.session", "abc"]},
        {"ne": ["body.items.0.name", "$expected"]},
        {"le": ["body.count", 10]},
        {"len_ge": ["body", 1]},
        {"eq": ["body", "plain text"]},
        {"contained_by": ["status_code", [200, 201]]},
    ])))
    assert plan.requests[0].assertions == [
        {"type": "status_code", "operator": "eq", "expected_value": 201},
        {"type": "header", "operator": "eq", "expected_value": "application/json",
         "expression": "Content-Type", "description": "json answer"},
        {"type": "json", "operator": "gt", "expected_value": 0,
         "expression": "$.items[0].id"},
        {"type": "json", "operator": "len_eq", "expected_value": 3, "expression": "$.items"},
        {"type": "json", "operator": "len_gt", "expected_value": 2, "expression": "$.items"},
        {"type": "json", "operator": "contains", "expected_value": "ann",
         "expression": "$.name"},
        {"type": "json", "operator": "type_match", "expected_value": "int",
         "expression": "$.id"},
        {"type": "json", "operator": "type_match", "expected_value": "null",
         "expression": "$.tags"},
        {"type": "json", "operator": "regex_match", "expected_value": "^A\\d+$",
         "expression": "$.code"},
        {"type": "cookie", "operator": "str_eq", "expected_value": "abc",
         "expression": "session"},
        {"type": "json", "operator": "ne", "expected_value": "{{expected}}",
         "expression": "$.items[0].name"},
        {"type": "json", "operator": "le", "expected_value": 10, "expression": "$.count"},
        {"type": "json", "operator": "len_ge", "expected_value": 1, "expression": "$"},
        {"type": "body", "operator": "eq", "expected_value": "plain text"},
        {"type": "status_code", "operator": "contained_by", "expected_value": [200, 201]},
    ]
    assert plan.problems == []
    _assert_valid(plan)


def test_v4_validator_shape():
    """check/assert/expect/msg with v4's names (equal, not_equal, less_than, length_equals)."""
    plan = _parse(_case(_get(validate=[
        {"check": "status_code", "assert": "equal", "expect": 200, "msg": "ok"},
        {"check": "body.a", "assert": "not_equal", "expect": None},
        {"check": "body.n", "assert": "less_than", "expect": 5},
        {"check": "body.list", "assert": "length_equals", "expect": 2},
        {"check": "body.t", "assert": "type_match", "expect": 1.5},
        {"check": "body.s", "assert": "endswith", "expect": "z"},
        {"check": "headers.X-Trace", "assert": "startswith", "expect": "t-"},
    ])))
    assert [(a["type"], a["operator"], a.get("expression"), a["expected_value"])
            for a in plan.requests[0].assertions] == [
        ("status_code", "eq", None, 200), ("json", "ne", "$.a", None),
        ("json", "lt", "$.n", 5), ("json", "len_eq", "$.list", 2),
        ("json", "type_match", "$.t", "float"), ("json", "endswith", "$.s", "z"),
        ("header", "startswith", "X-Trace", "t-")]
    assert plan.requests[0].assertions[0]["description"] == "ok"
    _assert_valid(plan)


def test_unmappable_validators_are_listed_and_left_out():
    """An unknown comparator, a response field the platform lacks, a variable as the check."""
    plan = _parse(_case(_get(validate=[
        {"eq": ["status_code", 200]},
        {"is_huge": ["body.a", 1]},
        {"eq": ["elapsed.total_seconds", 1]},
        {"eq": ["$token", "x"]},
        {"eq": ["LB(.*)RB", "x"]},
        {"startswith": ["status_code", "2"]},
        {"len_eq": ["body.a", "many"]},
        "eq status_code 200",
        {"eq": ["body.a[?x > `1`]", 1]},
        {"contained_by": ["body.a", 5]},
        {"regex_match": ["body.a", 5]},
        {"startswith": ["body.a", 5]},
    ])))
    assert plan.requests[0].assertions == [
        {"type": "status_code", "operator": "eq", "expected_value": 200},
        {"type": "json", "operator": "startswith", "expected_value": "5",
         "expression": "$.a"}]
    messages = _messages(plan, WARNING)
    assert len(messages) == 10
    assert "the comparator 'is_huge' has no equivalent here" in messages[0]
    assert all("not imported" in m for m in messages)
    assert {p.item for p in plan.problems} == {"case/1:step"}


def test_extract_paths():
    """body → JSONPath, headers → header, cookies → cookie, status_code, (.*) → regex."""
    plan = _parse(_case(_get(extract={
        "token": "body.data.token",
        "first": "body.items[0].id",
        "agent": 'body."user-agent"',
        "kind": 'headers."Content-Type"',
        "trace": "headers.X-Trace-Id",
        "sid": "cookies.sessionid",
        "code": "status_code",
        "whole": "body",
        "csrf": 'name="csrf" value="(.*)"',
        "where_": "body.where",
        "bad-name": "body.a",
        "elapsed": "elapsed.total_seconds",
    })))
    assert plan.requests[0].extractors == [
        {"name": "token", "source": "json", "expression": "$.data.token"},
        {"name": "first", "source": "json", "expression": "$.items[0].id"},
        {"name": "agent", "source": "json", "expression": '$."user-agent"'},
        {"name": "kind", "source": "header", "expression": "Content-Type"},
        {"name": "trace", "source": "header", "expression": "X-Trace-Id"},
        {"name": "sid", "source": "cookie", "expression": "sessionid"},
        {"name": "code", "source": "status_code"},
        {"name": "whole", "source": "body"},
        {"name": "csrf", "source": "regex", "expression": 'name="csrf" value="(.*)"'},
        {"name": "where_", "source": "json", "expression": '$."where"'},
    ]
    assert len(_messages(plan, WARNING)) == 2
    _assert_valid(plan)


def test_v2_list_forms_of_extract_and_variables():
    """Lists of one-key mappings (HttpRunner v2) read as mappings."""
    plan = _parse(_case(_get(extract=[{"a": "body.a"}, {"b": "status_code"}],
                             variables=[{"x": 1}, {"y": "$x"}])))
    assert [e["name"] for e in plan.requests[0].extractors] == ["a", "b"]
    assert plan.scenarios[0].steps[0].variables == {"x": 1, "y": "{{x}}"}


def test_request_fields():
    """params, headers (config ones merged), cookies, json, data as form or raw."""
    plan = _parse(_case(
        {"name": "json", "request": {
            "method": "post", "url": "/users?expand=1", "params": {"n": 2, "on": True},
            "headers": {"X-Id": "$id", "user-agent": "mine"},
            "cookies": {"sid": "$sid", "theme": "dark"},
            "json": {"name": "${name}", "tags": ["$tag"], "$key": 1}}},
        {"name": "form", "request": {"method": "PUT", "url": "https://other.example/f",
                                     "data": {"a": 1, "b": "$b"}}},
        {"name": "text", "request": {"method": "PATCH", "url": "/t", "data": "x=$x",
                                     "headers": {"Content-Type": "text/plain"}}},
        {"name": "v4 body", "request": {"method": "POST", "url": "/v",
                                        "body": {"k": "v"}}},
        {"name": "v4 form", "request": {"method": "POST", "url": "/v",
                                        "headers": {"Content-Type":
                                                    "application/x-www-form-urlencoded"},
                                        "body": {"k": "v"}}},
        base_url="https://api.example.com/v1/",
        headers={"User-Agent": "hrp", "Accept": "application/json"},
    ))
    json_step, form, text, body, v4_form = plan.requests
    assert plan.base_urls == ["https://api.example.com/v1", "https://other.example"]
    assert (json_step.method, json_step.url) == ("POST", "/users")
    assert [(q["name"], q["value"]) for q in json_step.query] == [
        ("expand", "1"), ("n", "2"), ("on", "true")]
    assert [(h["name"], h["value"]) for h in json_step.headers] == [
        ("Accept", "application/json"), ("X-Id", "{{id}}"), ("user-agent", "mine"),
        ("Cookie", "sid={{sid}}; theme=dark")]
    assert json_step.body_type == "json"
    assert json_step.body == {"name": "{{name}}", "tags": ["{{tag}}"], "{{key}}": 1}
    assert form.url == "https://other.example/f"
    assert (form.body_type, form.body) == ("form", [
        {"name": "a", "value": "1", "enabled": True},
        {"name": "b", "value": "{{b}}", "enabled": True}])
    assert (text.body_type, text.body, text.content_type) == ("raw", "x={{x}}", "text/plain")
    assert (body.body_type, body.body) == ("json", {"k": "v"})
    assert (v4_form.body_type, v4_form.content_type) == ("form",
                                                         "application/x-www-form-urlencoded")
    assert all(h["name"].lower() != "content-type" for r in plan.requests for h in r.headers)
    _assert_valid(plan)


def test_request_options_without_equivalent_are_listed():
    """files, upload, auth, timeout and the like are warnings; the request still imports."""
    plan = _parse(_case({"name": "s", "request": {
        "method": "POST", "url": "/u", "files": {"f": "/etc/passwd"},
        "auth": ["u", "p"], "timeout": 3, "allow_redirects": False}}))
    assert len(plan.requests) == 1 and plan.requests[0].body_type == "none"
    messages = _messages(plan, WARNING)
    assert len(messages) == 4
    assert any(m.startswith("the request's files is not imported (files are never read")
               for m in messages)
    assert any("Authorization" in m for m in messages)


def test_variable_syntax_is_rewritten():
    """$var, ${var}, $$, ENV, built-ins with an equivalent; other calls are left and listed."""
    plan = _parse(_case(_get(variables={
        "a": "$user",
        "b": "${user}_x",
        "c": "cost: $$5 for $user",
        "d": "${ENV(API_TOKEN)}",
        "e": "${get_timestamp()}",
        "f": "${get_timestamp(10)}",
        "g": "${gen_random_string(8)}",
        "h": "${gen_random_string($n)}",
        "i": "${md5($user)}",
        "j": "${get_current_date()}",
        "k": "${get_current_date(%Y%m%d)}",
        "l": "${sign($user, 3)}",
        "m": "${sign($user)}-${sleep(1)}",
        "n": "${max(1, 2)}",
        "o": ["$x", {"$k": "${v}"}, 3],
        "p": "$1abc and $变量",
        "q": "no references",
    })))
    assert plan.scenarios[0].steps[0].variables == {
        "a": "{{user}}",
        "b": "{{user}}_x",
        "c": "cost: $5 for {{user}}",
        "d": "{{API_TOKEN}}",
        "e": "{{timestamp_ms()}}",
        "f": "{{timestamp()}}",
        "g": "{{random_string(8)}}",
        "h": "{{random_string(n)}}",
        "i": "{{md5(user)}}",
        "j": '{{now("%Y-%m-%d")}}',
        "k": '{{now("%Y%m%d")}}',
        "l": "${sign($user, 3)}",
        "m": "${sign($user)}-${sleep(1)}",
        "n": "${max(1, 2)}",
        "o": ["{{x}}", {"{{k}}": "{{v}}"}, 3],
        "p": "$1abc and $变量",
        "q": "no references",
    }
    assert [(v.name, v.value, v.secret) for v in plan.variables] == [("API_TOKEN", "", True)]
    messages = _messages(plan, WARNING)
    # One warning per function and per name that cannot be rewritten, not one per use.
    assert sum("sign()" in m for m in messages) == 1
    assert any("sleep()" in m for m in messages) and any("max()" in m for m in messages)
    assert any("$1abc" in m for m in messages) and any("$变量" in m for m in messages)
    assert any("${ENV(API_TOKEN)}" in m and "secret variable API_TOKEN" in m
               for m in messages)
    _assert_valid(plan)


def test_rewritten_helpers_are_ones_the_engine_knows():
    """Every helper the rewriting produces exists in testing.engine.functions."""
    from testing.engine import functions

    for produced in ("timestamp_ms", "timestamp", "random_string", "md5", "now"):
        assert produced in functions.FUNCTIONS


def test_base_url_variable_when_defined_stays_a_reference():
    """$base_url defined in the config variables is a variable like any other."""
    plan = _parse(_case({"name": "s", "request": {"method": "GET", "url": "$base_url/x"}},
                        variables={"base_url": "https://api.example.com"}))
    assert plan.requests[0].url == "{{base_url}}/x"
    assert plan.base_urls == ["https://api.example.com"]


def test_inline_parameters_make_every_combination():
    """Inline lists, "a-b" split into columns, combined as HttpRunner combines them."""
    plan = _parse(_case(_get(), parameters={
        "user_agent": ["iOS/10.1", "iOS/10.2"],
        "username-password": [["u1", 111], ["u2", "a,b"]],
        "flag": [True],
    }))
    dataset = plan.scenarios[0].dataset
    assert dataset.name == "case (parameters)"
    header, rows = parse_csv(dataset.csv_data)
    assert header == ["user_agent", "username", "password", "flag"]
    assert rows == [["iOS/10.1", "u1", "111", "true"], ["iOS/10.1", "u2", "a,b", "true"],
                    ["iOS/10.2", "u1", "111", "true"], ["iOS/10.2", "u2", "a,b", "true"]]
    assert plan.problems == []


def test_parameters_that_cannot_be_a_dataset_are_listed():
    """Rows of the wrong width, names that are not identifiers, too many combinations."""
    plan = _parse(_case(_get(), parameters={"a-b": [["only one"]], "c": []}))
    assert plan.scenarios[0].dataset is None
    assert len(_messages(plan, WARNING)) == 2
    plan = _parse(_case(_get(), parameters={"user agent": ["x"]}))
    assert plan.scenarios[0].dataset is None
    assert "not distinct identifiers" in _messages(plan)[0]
    plan = _parse(_case(_get(), parameters={f"p{i}": list(range(10)) for i in range(6)}))
    assert plan.scenarios[0].dataset is None
    assert "1000000 combinations" in _messages(plan)[0]


def test_parameters_from_a_function_or_file_are_warnings(no_files):
    """v3 P(file), v4 parameterize(file), a debugtalk function: named, never run or read."""
    plan = _parse(_case(_get(), parameters={
        "username-password": "${P(account.csv)}",
        "token": "${parameterize(/etc/passwd)}",
        "device": "${get_devices()}",
    }))
    assert plan.scenarios[0].dataset is None
    messages = _messages(plan, WARNING)
    assert "'account.csv', which is not read here" in messages[0]
    assert "'/etc/passwd', which is not read here" in messages[1]
    assert "get_devices(), a debugtalk.py function" in messages[2]
    assert no_files == []


def test_referenced_testcases_and_apis_are_skipped_unread(no_files):
    """testcase: and api: steps name their path in a SKIPPED problem; nothing is opened."""
    plan = _parse(_case(
        {"name": "login", "testcase": "/etc/passwd"},
        {"name": "api", "api": "../../api/get_user.yml", "variables": {"a": 1}},
        _get("kept"),
        {"name": "pause", "think_time": {"time": 2}},
    ))
    assert [r.key for r in plan.requests] == ["case/3:kept"]
    skipped = [(p.where, p.message) for p in plan.problems if p.severity == SKIPPED]
    assert skipped[0][0] == "/teststeps/0/testcase" and "'/etc/passwd'" in skipped[0][1]
    assert skipped[1][0] == "/teststeps/1/api" and "'../../api/get_user.yml'" in skipped[1][1]
    assert skipped[2][0] == "/teststeps/3" and "think_time" in skipped[2][1]
    assert no_files == []


def test_hooks_are_a_warning_each():
    """setup_hooks and teardown_hooks never run: each names the hook and suggests keywords."""
    plan = _parse(_case(_get(setup_hooks=["${setup()}", "${sleep(1)}"],
                             teardown_hooks=["${alter($response)}"]),
                        setup_hooks=["${prepare()}"]))
    hooks = [p for p in plan.problems if "hook" in p.message]
    assert [p.where for p in hooks] == ["/config/setup_hooks/0", "/teststeps/0/setup_hooks/0",
                                        "/teststeps/0/setup_hooks/1",
                                        "/teststeps/0/teardown_hooks/0"]
    assert all("sandbox" in p.message and "keyword" in p.message for p in hooks)
    assert len(plan.requests) == 1


def test_nameless_testcase_takes_the_file_name():
    """Without config.name the file name is the scenario's key and name."""
    plan = _parse({"teststeps": [_get()]}, "smoke.yml")
    assert plan.title == "smoke.yml" and plan.scenarios[0].key == "smoke.yml"
    assert plan.requests[0].key == "smoke.yml/1:step"


BILLION_LAUGHS = b"""
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
config:
  name: laughs
  variables: {x: *i}
teststeps:
- name: s
  request: {method: GET, url: /}
"""


def test_billion_laughs_is_refused_through_loading():
    """Aliases expanding to a billion values are refused before anything walks them."""
    assert httprunner.looks_like(BILLION_LAUGHS, "laughs.yml")
    with pytest.raises(ImportFailed, match="expands to more than"):
        httprunner.parse(BILLION_LAUGHS, "laughs.yml")


def test_python_objects_in_yaml_are_refused():
    """The safe loader builds no Python object."""
    data = b"config: !!python/object/apply:os.system ['true']\nteststeps: []\n"
    with pytest.raises(ImportFailed, match="not valid YAML"):
        httprunner.parse(data, "evil.yml")


@pytest.mark.parametrize(("data", "reason"), [
    (b"- config: {name: x}\n- test: {name: y}\n", "v1/v2 format"),
    (b"config: {name: s}\ntestcases:\n- testcase: a.yml\n", "testsuite"),
    (b"name: x\nrequest: {url: /}\n", "not an HttpRunner testcase"),
    (b"config: {name: x}\nteststeps: {a: 1}\n", "not an HttpRunner testcase"),
    (b"config: [1]\nteststeps: []\n", "config is not a mapping"),
    (b"just text", "not an HttpRunner testcase"),
    (b"config: {name: x\nteststeps: [", "not valid YAML"),
    (b'{"config": {}, "teststeps": [}', "not valid JSON"),
])
def test_files_that_are_not_testcases_are_refused(data, reason):
    """Other shapes are refused naming why (and where, for syntax errors)."""
    with pytest.raises(ImportFailed, match=reason):
        httprunner.parse(data, "x.yml")


def test_steps_that_are_not_requests_are_listed():
    """A step that is not a mapping, lacks a URL or uses another method is skipped."""
    plan = _parse(_case("text", {"name": "nourl", "request": {"method": "GET"}},
                        {"name": "trace", "request": {"method": "TRACE", "url": "/"}},
                        _get("ok")))
    assert [r.key for r in plan.requests] == ["case/4:ok"]
    assert [p.where for p in plan.problems if p.severity == SKIPPED] == [
        "/teststeps/0", "/teststeps/1/request/url", "/teststeps/2/request/method"]


def test_sniff_recognises_testcases_only():
    """looks_like finds teststeps in YAML or JSON, compact or not; not in a HAR or OpenAPI."""
    assert httprunner.looks_like(corpus(*BASIC).read_bytes(), "basic.yml")
    assert httprunner.looks_like(b'{"config":{},"teststeps":[]}', "x.json")
    assert not httprunner.looks_like(b'{"log": {"entries": []}}', "x.har")
    assert not httprunner.looks_like(b"openapi: 3.0.0\npaths: {}\n", "x.yml")
    assert not httprunner.looks_like(b"my-teststeps: []\n", "x.yml")


def test_plan_round_trips_through_json():
    """The stored plan (JSON in the import job) reads back as the same plan."""
    plan = httprunner.parse(corpus(*PARAMETERS).read_bytes(), PARAMETERS[-1])
    stored = json.loads(json.dumps(plan.as_data()))
    assert ImportPlan.from_data(stored) == plan
    assert dataclasses.asdict(plan) == stored


def test_an_invalid_url_is_kept_as_written_and_listed():
    """A URL that does not parse is not split; the step still imports."""
    plan = _parse(_case({"name": "s", "request": {"method": "GET", "url": "http://[oops/x?a=1"}}))
    assert plan.requests[0].url == "http://[oops/x?a=1"
    assert "is invalid" in _messages(plan, WARNING)[0]
