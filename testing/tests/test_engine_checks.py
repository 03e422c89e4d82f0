"""The engine's comparators and extraction: pure Python, no database."""

from __future__ import annotations

import copy
import pickle

import pytest

from testing.engine.checks import (
    ALIASES,
    COMPARATORS,
    MISSING,
    NO_EXPECTED,
    CheckError,
    Outcome,
    canonical,
    compare,
    show,
)
from testing.engine.extract import SOURCES, ExtractError, ResponseData, extract, select

SCHEMA = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "object", "properties": {"id": {"type": "integer"}}}},
}

# (comparator, actual, expected, passes): every comparator passes once and fails once.
CASES = [
    ("eq", 200, 200, True),
    ("eq", 1, 1.0, True),
    ("eq", {"a": [1, 2]}, {"a": [1, 2]}, True),
    ("eq", 200, 404, False),
    ("eq", "200", 200, False),
    ("ne", 200, 404, True),
    ("ne", "ok", "ok", False),
    ("gt", 3, 2, True),
    ("gt", 2, 3, False),
    ("ge", 3, 3.0, True),
    ("ge", "a", "b", False),
    ("lt", "a", "b", True),
    ("lt", 3, 3, False),
    ("le", 3, 3, True),
    ("le", 4, 3, False),
    ("contains", "hello world", "world", True),
    ("contains", [1, 2, 3], 2, True),
    ("contains", {"id": 1}, "id", True),
    ("contains", [1, 2, 3], 4, False),
    ("not_contains", "hello", "bye", True),
    ("not_contains", [1, 2], 2, False),
    ("contained_by", "b", ["a", "b"], True),
    ("contained_by", "lo", "hello", True),
    ("contained_by", "c", ["a", "b"], False),
    ("not_contained_by", "c", ["a", "b"], True),
    ("not_contained_by", "id", {"id": 1}, False),
    ("startswith", "Bearer abc", "Bearer ", True),
    ("startswith", "abc", "b", False),
    ("endswith", "file.json", ".json", True),
    ("endswith", "file.json", ".xml", False),
    ("regex_match", "order-123", r"\d{3}$", True),
    ("regex_match", "order-abc", r"\d+", False),
    ("type_match", 3, "int", True),
    ("type_match", 3.5, "number", True),
    ("type_match", None, "null", True),
    ("type_match", {"a": 1}, "object", True),
    ("type_match", [], "array", True),
    ("type_match", "x", "string", True),
    ("type_match", 1.5, "float", True),
    ("type_match", False, "boolean", True),
    ("type_match", True, "int", False),
    ("type_match", True, "number", False),
    ("type_match", "3", "int", False),
    ("len_eq", [1, 2], 2, True),
    ("len_eq", "abc", 2, False),
    ("len_gt", {"a": 1, "b": 2}, 1, True),
    ("len_gt", [], 0, False),
    ("len_ge", "ab", 2, True),
    ("len_ge", "a", 2, False),
    ("len_lt", [], 1, True),
    ("len_lt", [1], 1, False),
    ("len_le", [1], 1, True),
    ("len_le", [1, 2], 1, False),
    ("is_null", None, None, True),
    ("is_null", 0, None, False),
    ("is_not_null", 0, None, True),
    ("is_not_null", None, None, False),
    ("exists", None, None, True),
    ("exists", MISSING, None, False),
    ("not_exists", MISSING, None, True),
    ("not_exists", "", None, False),
    ("str_eq", 200, "200", True),
    ("str_eq", None, "null", True),
    ("str_eq", True, "true", True),
    ("str_eq", 200, "201", False),
    ("equal_fold", "Straße", "STRASSE", True),
    ("equal_fold", "abc", "abd", False),
    ("json_schema", {"data": {"id": 1}}, SCHEMA, True),
    ("json_schema", {"data": {"id": "1"}}, SCHEMA, False),
]


@pytest.mark.parametrize(("comparator", "actual", "expected", "passes"), CASES)
def test_comparator(comparator, actual, expected, passes):
    """Each comparator gives the documented result."""
    outcome = compare(comparator, actual, expected)
    assert outcome.passed is passes, outcome.message


def test_every_comparator_has_a_passing_and_a_failing_case():
    """The table above covers both results of every comparator."""
    covered = {(case[0], case[3]) for case in CASES}
    assert {(name, passes) for name in COMPARATORS for passes in (True, False)} <= covered


def test_aliases_map_to_canonical_names():
    """The symbols of older stored assertions name canonical comparators."""
    assert set(ALIASES.values()) <= set(COMPARATORS)
    assert canonical("==") == "eq"
    assert canonical("matches") == "regex_match"
    assert canonical("in") == "contained_by"
    assert canonical("len_gt") == "len_gt"
    assert compare(">=", 2, 2).passed
    assert compare("not_in", 3, [1, 2]).passed
    assert NO_EXPECTED <= set(COMPARATORS)


def test_unknown_comparator_names_the_known_ones():
    """An unknown comparator is a definition error that lists the known names."""
    with pytest.raises(CheckError) as error:
        compare("xx", 1, 1)
    assert str(error.value).startswith("unknown comparator 'xx'; known: eq, ne, gt")
    with pytest.raises(CheckError):
        canonical(None)


def test_messages_are_short_and_name_the_comparator():
    """A pass reads as the comparator and value; a failure shows expected and actual."""
    assert compare("eq", 200, 200) == Outcome(True, "eq 200")
    assert compare("eq", 404, 200).message == "expected eq 200, got 404"
    assert compare("eq", "ok", None).message == "expected eq null, got 'ok'"
    assert compare("len_eq", [1], 2).message == "expected len_eq 2, got length 1: [1]"
    assert compare("type_match", "3", "int").message == "expected type_match 'int', got str '3'"
    assert compare("exists", 1).message == "exists"


def test_show_is_json_ish_and_truncated():
    """Values read as JSON literals, strings keep their quotes, long values are cut."""
    assert show(None) == "null"
    assert show(True) == "true"
    assert show({"a": [1, None]}) == '{"a": [1, null]}'
    assert show("abc") == "'abc'"
    assert show(MISSING) == "<missing>"
    long = show("x" * 500)
    assert len(long) == 200
    assert long.endswith("…")


@pytest.mark.parametrize(
    ("comparator", "actual", "expected", "message"),
    [
        ("gt", "abc", 3, "cannot compare str 'abc' with int 3 using gt"),
        ("le", None, 3, "cannot compare null null with int 3 using le"),
        ("contains", 5, "a", "cannot compare int 5 with str 'a' using contains"),
        ("not_contains", 5, "a", "cannot compare int 5 with str 'a' using not_contains"),
        ("contained_by", "a", 5, "cannot compare str 'a' with int 5 using contained_by"),
        ("startswith", 123, "1", "cannot compare int 123 with str '1' using startswith"),
        ("regex_match", 123, r"\d", "cannot compare int 123 with str '\\\\d' using regex_match"),
        ("equal_fold", 1, "1", "cannot compare int 1 with str '1' using equal_fold"),
        ("len_eq", 5, 1, "cannot take the length of int 5 for len_eq"),
    ],
)
def test_type_mismatch_is_a_failed_outcome(comparator, actual, expected, message):
    """A value of the wrong type fails the assertion and says why; it never raises."""
    assert compare(comparator, actual, expected) == Outcome(False, message)


def test_booleans_are_not_numbers():
    """True is not 1, at any depth, and does not order against numbers."""
    assert not compare("eq", True, 1).passed
    assert compare("ne", 1, True).passed
    assert not compare("eq", {"ok": True}, {"ok": 1}).passed
    assert not compare("contains", [1, 2], True).passed
    assert compare("eq", [True], [True]).passed
    assert not compare("gt", True, 0).passed


def test_missing_passes_only_is_null_and_not_exists():
    """Nothing found counts as null; every other comparator fails with "nothing was found"."""
    assert repr(MISSING) == "<missing>"
    assert compare("is_null", MISSING).passed
    assert compare("not_exists", MISSING).passed
    assert compare("is_not_null", MISSING) == Outcome(False, "expected is_not_null, nothing was found")
    assert compare("eq", MISSING, None) == Outcome(False, "expected eq null, nothing was found")
    for comparator in ("ne", "not_contains", "str_eq"):
        outcome = compare(comparator, MISSING, "x")
        assert not outcome.passed
        assert outcome.message.endswith("nothing was found")


def test_missing_is_one_value_through_copy_and_pickle():
    """Copies of a step's results keep ``MISSING`` identical to itself."""
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


def test_json_schema_failure_names_the_path():
    """A schema failure gives the JSON path of the first error and its message."""
    outcome = compare("json_schema", {"data": {"id": "1"}}, SCHEMA)
    assert outcome.message == "json_schema failed at $.data.id: '1' is not of type 'integer'"
    assert compare("json_schema", {"data": {"id": 1}}, SCHEMA) == Outcome(True, "json_schema")


def test_json_schema_checks_formats():
    """Format keywords are asserted, not only annotated."""
    schema = {"type": "string", "format": "email"}
    assert compare("json_schema", "a@example.com", schema).passed
    assert not compare("json_schema", "not an email", schema).passed


@pytest.mark.parametrize(
    ("comparator", "expected", "message"),
    [
        ("json_schema", {"type": "nope"}, "invalid JSON Schema at $.type:"),
        ("json_schema", "string", "json_schema needs a JSON Schema object"),
        ("regex_match", "(", "invalid regular expression '(':"),
        ("regex_match", 5, "regex_match needs a regular expression"),
        ("type_match", "integr", "unknown type 'integr' for type_match; known: int, float"),
        ("len_eq", "2", "len_eq needs an integer length, not '2'"),
    ],
)
def test_bad_definitions_raise(comparator, expected, message):
    """An invalid expected value is a definition error, whatever the actual value."""
    for actual in ("abc", MISSING):
        with pytest.raises(CheckError) as error:
            compare(comparator, actual, expected)
        assert str(error.value).startswith(message)


def response(text: str = '{"data": {"id": 7, "token": "t-1"}}', **changes) -> ResponseData:
    values = {
        "status": 201,
        "headers": [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
        "cookies": {"session": "s-1"},
        "text": text,
        "elapsed_ms": 12.5,
    }
    return ResponseData(**(values | changes))


@pytest.mark.parametrize(
    ("source", "expression", "value"),
    [
        ("json", "$.data.token", "t-1"),
        ("json", "data.id", 7),
        ("json", "$.data.nope", MISSING),
        ("header", "content-type", "application/json"),
        ("header", "SET-COOKIE", "a=1"),
        ("header", "X-Nope", MISSING),
        ("cookie", "session", "s-1"),
        ("cookie", "nope", MISSING),
        ("regex", r'"token": "([^"]+)"', "t-1"),
        ("regex", r"\d+", "7"),
        ("regex", r"(x)?data", MISSING),
        ("regex", "nope", MISSING),
        ("status_code", None, 201),
        ("body", None, '{"data": {"id": 7, "token": "t-1"}}'),
        ("response_time", "ignored", 12.5),
    ],
)
def test_select_reads_each_source(source, expression, value):
    """Every source reads its part of the response, or ``MISSING``."""
    assert select(source, expression, response()) == value


def test_every_source_is_covered():
    """The sources are the ones documented."""
    assert SOURCES == ("json", "header", "cookie", "regex", "status_code", "body", "response_time", "rows")


def test_jsonpath_filters():
    """Filters of jsonpath-ng's extended syntax select items."""
    items = response('{"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}')
    assert select("json", "$.items[?(@.id == 2)].name", items) == "b"
    assert select("json", "items[?(@.id > 5)].name", items) is MISSING
    assert select("json", "[0]", response("[10, 20]")) == 10
    assert select("json", None, response("[10, 20]")) == [10, 20]


def test_json_null_is_found():
    """A JSON null is a value that was found, unlike ``MISSING``."""
    assert select("json", "a", response('{"a": null}')) is None


def test_invalid_jsonpath_gives_the_parser_reason():
    """An invalid JSONPath says where the parser stopped."""
    with pytest.raises(ExtractError) as error:
        select("json", "$.a[", response())
    assert str(error.value) == "invalid JSONPath '$.a[': Parse error near the end of string!"
    with pytest.raises(ExtractError, match="JSONPath .* failed: .*unterminated subpattern"):
        select("json", "$.items[?(@.name =~ '(')]", response('{"items": [{"name": "a"}]}'))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<html>", "the body is not JSON: Expecting value at line 1 column 1"),
        ('{"a": 1', "the body is not JSON: Expecting ',' delimiter at line 1 column 8"),
        ("", "the body is not JSON: it is empty"),
    ],
)
def test_body_not_json(text, message):
    """Reading JSON from a body that is not JSON says so, for the json source only."""
    with pytest.raises(ExtractError) as error:
        select("json", "$.a", response(text))
    assert str(error.value) == message
    assert select("body", None, response(text)) == text


def test_json_is_parsed_once():
    """The parsed body is cached on the response."""
    data = response()
    assert data.json is data.json


def test_invalid_regex_and_unknown_source():
    """A regex that does not compile and an unknown source are extraction errors."""
    with pytest.raises(ExtractError, match=r"invalid regular expression '\(':"):
        select("regex", "(", response())
    with pytest.raises(ExtractError, match="unknown source 'xml'; known: json, header"):
        select("xml", "a", response())
    with pytest.raises(ExtractError, match="the header source needs an expression"):
        select("header", None, response())


def test_rows_source():
    """Database rows are read with the same JSONPath; ``$`` gives all of them."""
    rows = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}]
    data = response(text="", rows=rows)
    assert select("rows", "$[1].name", data) == "Bob"
    assert select("rows", "[0].id", data) == 1
    assert select("rows", "$", data) == rows
    assert select("rows", "$[5].id", data) is MISSING


def test_rows_outside_a_database_step():
    """An HTTP response has no rows to read."""
    with pytest.raises(ExtractError, match="^no database rows here: this is not a database step$"):
        select("rows", "$[0]", response())


def test_extract_records_the_origin():
    """An extracted value says at which step and with which expression it was read."""
    token = extract({"name": "token", "source": "json", "expression": "$.data.token"}, response(), step_label="step 2")
    assert (token.name, token.value, token.found) == ("token", "t-1", True)
    assert token.origin == "extracted at step 2 `$.data.token`"
    status = extract({"name": "status", "source": "status_code", "expression": "x"}, response(), step_label="step 2")
    assert (status.value, status.origin) == (201, "extracted at step 2 (status_code)")
    kind = extract({"name": "kind", "source": "header", "expression": "content-type"}, response(), step_label="step 3")
    assert kind.origin == "extracted at step 3 header `content-type`"


def test_extract_uses_the_default_when_nothing_is_found():
    """A default stands for an absent value, even a default of None."""
    extractor = {"name": "next", "source": "json", "expression": "$.next", "default": None}
    extracted = extract(extractor, response(), step_label="step 4")
    assert (extracted.value, extracted.found) == (None, False)
    assert extracted.origin == "default at step 4: `$.next` found nothing"


def test_extract_without_default_raises_when_nothing_is_found():
    """Nothing found and no default is an error naming the extractor and the expression."""
    with pytest.raises(ExtractError) as error:
        extract({"name": "next", "source": "json", "expression": "$.next"}, response(), step_label="step 4")
    assert str(error.value) == "extractor 'next': json $.next found nothing"


def test_extract_errors_name_the_extractor():
    """An error while reading is raised even with a default, and names the extractor."""
    extractor = {"name": "id", "source": "json", "expression": "$.id", "default": 0}
    with pytest.raises(ExtractError, match="^extractor 'id': the body is not JSON: it is empty$"):
        extract(extractor, response(""), step_label="step 1")
    with pytest.raises(ExtractError, match="an extractor needs a name and a source; 'source' is missing"):
        extract({"name": "id"}, response(), step_label="step 1")
