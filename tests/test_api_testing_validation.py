"""Bad input to the testing API: every JSON field checked against its schema with the JSON
path in the message, code with its line and column, CSV with its line, sizes with their
limit; always a 400 naming the field, never a 500 and never a value silently dropped."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.context import tenant_context
from testing.models import Interface
from tests import test_api_testing_factories as f
from tests.api_cases import assert_field_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def tester(tenant_a):
    """A client of a tenant A user holding every code of the testing app."""
    return f.signed_in_tester(tenant_a)


@pytest.fixture
def shop(tenant_a):
    """Tenant A's project with a scenario, an interface and a keyword to point steps at."""
    with tenant_context(tenant_a):
        return {"project": f.project(tenant_a), "scenario": f.scenario(tenant_a),
                "interface": f.interface(tenant_a), "keyword": f.keyword(tenant_a),
                "plan": f.plan(tenant_a)}


def refused(response, field: str, *fragments: str) -> list[str]:
    """Assert a 400 on ``field`` whose messages contain every fragment; return them."""
    messages = assert_field_errors(response, {field})[field]
    text = " | ".join(messages)
    for fragment in fragments:
        assert fragment in text, (fragment, messages)
    return messages


# (field, value, fragments the message must hold: the JSON path first)
INTERFACE_CASES = [
    ("assertions", [{"type": "status_code", "operator": "equals", "expected_value": 200}],
     ("[0].operator", "'equals' is not one of")),
    ("assertions", [{"type": "status_code", "operator": "==", "expected_value": 200},
                    {"type": "json", "operator": "=="}],
     ("[1]", "'expression' is a required property")),
    ("assertions", [{"type": "status_code", "operator": ">", "expected_value": "many"}],
     ("[0].expected_value",)),
    ("assertions", [{"type": "body", "operator": "contains", "expected_value": "x",
                     "colour": "red"}], ("[0]", "'colour' was unexpected")),
    ("assertions", {"type": "status_code"}, ("is not of type 'array'",)),
    ("extractors", [{"name": "1st", "source": "json", "expression": "$.id"}],
     ("[0].name", "does not match")),
    ("extractors", [{"name": "token", "source": "header"}],
     ("[0]", "'expression' is a required property")),
    ("extractors", [{"name": "token", "source": "smoke signals", "expression": "x"}],
     ("[0].source",)),
    ("query", [{"name": "", "value": "x"}], ("[0].name", "should be non-empty")),
    ("query", [{"name": "page", "value": 2}], ("[0].value", "is not of type 'string'")),
    ("query", "page=2", ("is not of type 'array'",)),
    ("headers", [{"name": "Accept", "value": "*/*"}, {"name": "X"}],
     ("[1]", "'value' is a required property")),
    ("headers", [{"name": "X", "value": "y", "secret": True}], ("[0]", "'secret' was unexpected")),
]


@pytest.mark.parametrize(("field", "value", "fragments"), INTERFACE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(INTERFACE_CASES)])
def test_interface_json_fields(tester, shop, field, value, fragments):
    """Each JSON field of an interface is checked against its schema; the message names the
    JSON path, on create and on update."""
    data = {"project": str(shop["project"].pk), "name": "Bad", "url": "/x", field: value}
    refused(tester.post(f.url("testinterface"), data, format="json"), field, *fragments)
    detail = f.url("testinterface", "detail", shop["interface"].pk)
    refused(tester.patch(detail, {field: value}, format="json"), field, *fragments)


BODY_CASES = [
    ("none", "text", ("carries no body value",)),
    ("json", None, ()),  # null is a JSON body: accepted below
    ("form", [{"name": "a"}], ("[0]", "'value' is a required property")),
    ("form", {"a": "b"}, ("is not of type 'array'",)),
    ("multipart", [{"name": "file", "value": 1}], ("[0].value",)),
    ("raw", {"xml": True}, ("A raw body is text",)),
]


@pytest.mark.parametrize(("body_type", "body", "fragments"),
                         [case for case in BODY_CASES if case[2]],
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BODY_CASES) if c[2]])
def test_interface_body_per_body_type(tester, shop, body_type, body, fragments):
    """The body is checked against what its body type needs."""
    data = {"project": str(shop["project"].pk), "name": "Bad", "url": "/x",
            "body_type": body_type, "body": body}
    refused(tester.post(f.url("testinterface"), data, format="json"), "body", *fragments)


def test_interface_bodies_that_fit_are_kept_as_sent(tester, shop):
    """Each body type keeps a valid body exactly as sent."""
    for body_type, body in (("none", None), ("json", [1, {"a": None}]), ("raw", "  <x/>\n"),
                            ("form", [{"name": "a", "value": "{{v}}"}]),
                            ("multipart", [{"name": "f", "value": "x", "enabled": False}])):
        data = {"project": str(shop["project"].pk), "name": body_type, "url": "/x",
                "body_type": body_type, "body": body}
        response = tester.post(f.url("testinterface"), data, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["body"] == body
        assert Interface.objects.all_tenants().get(pk=response.json()["id"]).body == body


@override_settings(TESTING_BODY_MAX_BYTES=1024)
def test_an_oversized_body_names_the_limit(tester, shop):
    """A body over ``TESTING_BODY_MAX_BYTES`` is refused with the limit named."""
    data = {"project": str(shop["project"].pk), "name": "Big", "url": "/x",
            "body_type": "raw", "body": "x" * 2000}
    refused(tester.post(f.url("testinterface"), data, format="json"), "body", "2000", "1024")


SCENARIO_CASES = [
    ("tags", ["smoke", "a,b"], ("[1]", "does not match")),
    ("tags", ["smoke", "smoke"], ("non-unique",)),
    ("tags", "smoke", ("is not of type 'array'",)),
    ("variables", {"user": "alice", "1st": 1}, ("'1st' does not match",)),
    ("variables", ["user"], ("is not of type 'object'",)),
]


@pytest.mark.parametrize(("field", "value", "fragments"), SCENARIO_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SCENARIO_CASES)])
def test_scenario_json_fields(tester, shop, field, value, fragments):
    """A scenario's tags and variables are checked against their schemas."""
    data = {"project": str(shop["project"].pk), "name": "Bad", field: value}
    refused(tester.post(f.url("testscenario"), data, format="json"), field, *fragments)


def test_plan_overrides_are_variables(tester, shop):
    """A plan entry's overrides follow the variables schema."""
    data = {"plan": str(shop["plan"].pk), "scenario": str(shop["scenario"].pk),
            "variables": {"ok": 1, "not ok": 2}}
    refused(tester.post(f.url("testplanscenario"), data, format="json"), "variables",
            "'not ok' does not match")


STEP_CASES = [
    # kind, what the step names, parameters, fragments
    ("request", {}, {"method": "FETCH", "url": "/x"}, ("method:", "'FETCH' is not one of")),
    ("request", {}, {"method": "GET"}, ("'url' is a required property",)),
    ("request", {}, {"method": "GET", "url": "/x", "assertions": [{"type": "json"}]},
     ("assertions[0]",)),
    ("interface", {"interface": True}, {"extractors": [{"name": "x y", "source": "body"}]},
     ("extractors[0].name",)),
    ("interface", {"interface": True}, {"retries": 3}, ("'retries' was unexpected",)),
    # Against the parameter docs of the keyword the step calls (built-in or the project's).
    ("keyword", {"builtin_keyword": "assert_status"}, {"expected": "ok"},
     ("expected:", "is not of type 'integer'")),
    ("keyword", {"builtin_keyword": "assert_status"}, {}, ("'expected' is a required property",)),
    ("keyword", {"builtin_keyword": "assert_status"}, {"expected": 200, "extra": 1},
     ("'extra' was unexpected",)),
    ("keyword", {"builtin_keyword": "wait"}, {"seconds": 301}, ("seconds:",)),
    ("keyword", {"keyword": True}, {"count": 2}, ("'name' is a required property",)),
    ("keyword", {"keyword": True}, {"name": "x", "count": "two"},
     ("count:", "is not of type 'integer'")),
]


@pytest.mark.parametrize(("kind", "names", "parameters", "fragments"), STEP_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(STEP_CASES)])
def test_step_parameters(tester, shop, kind, names, parameters, fragments):
    """A step's parameters are checked against its kind's schema, or against the parameter
    docs of the keyword it calls."""
    data = {"scenario": str(shop["scenario"].pk), "kind": kind, "parameters": parameters}
    if names.get("interface"):
        data["interface"] = str(shop["interface"].pk)
    if names.get("keyword"):
        data["keyword"] = str(shop["keyword"].pk)
    if "builtin_keyword" in names:
        data["builtin_keyword"] = f.builtin(names["builtin_keyword"]).pk
    refused(tester.post(f.url("testscenariostep"), data, format="json"), "parameters", *fragments)


def test_a_step_names_what_its_kind_needs(tester, shop):
    """A keyword step names one keyword; an interface step an interface; nothing else."""
    base = {"scenario": str(shop["scenario"].pk), "parameters": {}}
    refused(tester.post(f.url("testscenariostep"), {**base, "kind": "keyword"}, format="json"),
            "keyword")
    both = {**base, "kind": "keyword", "keyword": str(shop["keyword"].pk),
            "builtin_keyword": f.builtin().pk}
    refused(tester.post(f.url("testscenariostep"), both, format="json"), "keyword")
    refused(tester.post(f.url("testscenariostep"), {**base, "kind": "interface"},
                        format="json"), "interface")
    astray = {**base, "kind": "request", "parameters": {"method": "GET", "url": "/"},
              "interface": str(shop["interface"].pk)}
    refused(tester.post(f.url("testscenariostep"), astray, format="json"), "interface")


PARAMETER_DOCS_CASES = [
    ({"type": "array"}, ("type:", "'object' was expected")),
    ({"type": "object", "properties": {"1st": {"type": "string"}}}, ("does not match",)),
    ({"type": "object", "properties": {"a": {"type": "text"}}}, ("properties.a.type",)),
    ({"type": "object", "required": "a"}, ("required:",)),
    ({"properties": {}}, ("'type' is a required property",)),
]


@pytest.mark.parametrize(("docs", "fragments"), PARAMETER_DOCS_CASES,
                         ids=[str(i) for i in range(len(PARAMETER_DOCS_CASES))])
def test_keyword_parameter_docs(tester, shop, docs, fragments):
    """A keyword's parameter docs must be a JSON Schema of an object a form can be made from."""
    data = {"project": str(shop["project"].pk), "name": "Bad", "method_name": "run",
            "code": f.KEYWORD_CODE, "parameters": docs}
    refused(tester.post(f.url("testkeyword"), data, format="json"), "parameters", *fragments)


def test_function_docs(tester):
    """A global function's parameter and return docs follow their schema, paths included."""
    data = {"class_name": "Text", "method_name": "upper", "code": f.FUNCTION_CODE,
            "parameters": [{"name": "value", "type": "str"}, {"name": "n"}],
            "return_value": {"type": "weird"}}
    response = tester.post(f.url("testglobalfunction"), data, format="json")
    refused(response, "parameters", "[1]", "'type' is a required property")
    refused(response, "return_value", "type", "'weird' is not one of")


CODE_CASES = [
    ("def run(name:\n    return name\n", ("Line 1, column",)),
    ("def run(name):\n    return name\n  x = 1\n", ("Line 3, column",)),
    ("def run(name):\n\treturn name\n        return 2\n", ("Line 3",)),
]


@pytest.mark.parametrize(("code", "fragments"), CODE_CASES,
                         ids=[str(i) for i in range(len(CODE_CASES))])
def test_code_syntax_errors_name_line_and_column(tester, shop, code, fragments):
    """Code that does not compile is refused with its line and column; it is never run."""
    keyword = {"project": str(shop["project"].pk), "name": "Bad", "method_name": "run",
               "code": code}
    refused(tester.post(f.url("testkeyword"), keyword, format="json"), "code", *fragments)
    function = {"class_name": "Text", "method_name": "run", "code": f"class Text:\n    {code}"}
    response = tester.post(f.url("testglobalfunction"), function, format="json")
    refused(response, "code", "Line ", "column ")


def test_code_that_would_do_harm_is_stored_not_run(tester, shop, tmp_path):
    """Valid code is only compiled: saving a keyword that writes a file writes nothing."""
    marker = tmp_path / "ran"
    code = (f"open({str(marker)!r}, 'w').write('x')\n"
            "def run():\n    return 1\n")
    data = {"project": str(shop["project"].pk), "name": "Harmless here", "method_name": "run",
            "code": code}
    response = tester.post(f.url("testkeyword"), data, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["code"] == code
    assert not marker.exists()


def test_code_must_define_what_is_called(tester, shop):
    """A keyword's code defines ``method_name``; a function's its class and method."""
    keyword = {"project": str(shop["project"].pk), "name": "Bad", "method_name": "go",
               "code": f.KEYWORD_CODE}
    refused(tester.post(f.url("testkeyword"), keyword, format="json"), "method_name", "go")
    function = {"class_name": "Text", "method_name": "lower", "code": f.FUNCTION_CODE}
    refused(tester.post(f.url("testglobalfunction"), function, format="json"), "code",
            "Text", "lower")


@override_settings(TESTING_CODE_MAX_BYTES=1024)
def test_oversized_code_names_the_limit(tester, shop):
    """Code over ``TESTING_CODE_MAX_BYTES`` is refused with the limit named."""
    code = "def run():\n    return 1\n" + "# padding\n" * 200
    data = {"project": str(shop["project"].pk), "name": "Big", "method_name": "run",
            "code": code}
    refused(tester.post(f.url("testkeyword"), data, format="json"), "code", "1024")


CSV_CASES = [
    ("user,password\nalice,a1\nbob\n", ("Line 3", "1 columns where the header has 2")),
    ("user,password\n\nalice,a1\nbob,b2,extra\n", ("Line 4", "3 columns")),
    ("user name,password\nalice,a1\n", ("Line 1", "'user name'", "not an identifier")),
    ("user,user\nalice,a1\n", ("Line 1", "appears twice")),
    ('user,note\nalice,"unclosed\n', ("Line",)),
    ("\n\n", ("empty",)),
    ("", ("blank",)),
    ("user\x00,password\n", ("Null characters",)),
]


@pytest.mark.parametrize(("csv_data", "fragments"), CSV_CASES,
                         ids=[str(i) for i in range(len(CSV_CASES))])
def test_dataset_csv_errors_name_the_line(tester, shop, csv_data, fragments):
    """A dataset that is not usable CSV is refused with the line at fault."""
    data = {"project": str(shop["project"].pk), "name": "Bad", "csv_data": csv_data}
    refused(tester.post(f.url("testdataset"), data, format="json"), "csv_data", *fragments)


@override_settings(TESTING_DATASET_MAX_BYTES=1024, TESTING_DATASET_MAX_ROWS=3)
def test_dataset_limits_are_named(tester, shop):
    """Too many bytes or rows: refused with the limit named."""
    base = {"project": str(shop["project"].pk), "name": "Big"}
    rows = "n\n" + "".join(f"{i}\n" for i in range(4))
    refused(tester.post(f.url("testdataset"), {**base, "csv_data": rows}, format="json"),
            "csv_data", "Line 5", "More than 3 rows")
    big = "n\n" + "x" * 1100 + "\n"
    refused(tester.post(f.url("testdataset"), {**base, "csv_data": big}, format="json"),
            "csv_data", "1024")


@pytest.mark.parametrize(("basename", "field", "value"), [
    ("testinterface", "method", "FETCH"),
    ("testinterface", "sort_order", "first"),
    ("testinterface", "folder", "not-a-uuid"),
    ("testscenariostep", "scenario", 12),
    ("testvariable", "value", {"a": 1}),
    ("testdatabaseconfig", "port", "3306a"),
    ("testdatabaseconfig", "password", ["x"]),
])
def test_wrong_types_are_field_errors(tester, shop, basename, field, value):
    """A value of the wrong type is a 400 on its field, never a 500."""
    assert_field_errors(tester.post(f.url(basename), {field: value}, format="json"), {field})
