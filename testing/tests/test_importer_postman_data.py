"""Postman data files (``newman run -d``) read as newman reads them into the dataset of the
imported scenario (issue 15, item 1): the corpus's CSVs written for newman's lenient reader,
JSON arrays of objects, and the files refused. No database."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from testing import importers
from testing.importers import datafile, postman
from testing.importers.base import SKIPPED, WARNING, DataFile, ImportFailed
from testing.models.scenarios import parse_csv
from testing.tests.importer_checks import corpus, valid

COMMA = ("postman", "newman-comma-test-csv.postman_collection.json")
COMMA_DATA = ("csv", "newman-comma-test.postman_data.csv")
BOM = ("postman", "newman-csv-with-bom.postman_collection.json")
BOM_DATA = ("csv", "newman-csv-with-bom.postman_data.csv")


def with_data(collection: tuple[str, ...], data: tuple[str, ...]):
    path, rows = corpus(*collection), corpus(*data)
    plan = postman.parse(path.read_bytes(), path.name,
                         data_file=DataFile(rows.read_bytes(), rows.name))
    assert valid(plan)
    return plan


def collection(url: str = "https://api.example.com/users?name={{name}}") -> bytes:
    return json.dumps({
        "info": {"name": "Users", "schema": "https://schema.getpostman.com/json/collection/"
                                            "v2.1.0/collection.json"},
        "item": [{"name": "find", "request": {"method": "GET", "url": url}}]}).encode()


def rows_of(text: str | bytes, name: str = "data.csv") -> tuple[list[str], list[list[str]]]:
    content = text.encode() if isinstance(text, str) else text
    plan = postman.parse(collection(), "users.postman_collection.json",
                         data_file=DataFile(content, name))
    return parse_csv(plan.scenarios[0].dataset.csv_data)


def refusal(text: str | bytes, name: str = "data.csv") -> ImportFailed:
    content = text.encode() if isinstance(text, str) else text
    with pytest.raises(ImportFailed) as caught:
        postman.parse(collection(), "users.postman_collection.json",
                      data_file=DataFile(content, name))
    assert caught.value.filename == name
    return caught.value


def test_the_comma_test_csv_reads_as_newman_reads_it():
    """Every expectation of the collection's script holds for the dataset's row: quoted
    commas, doubled quotes, quoted numbers kept as text, an empty value, trimmed spaces,
    quotes inside an unquoted value."""
    plan = with_data(COMMA, COMMA_DATA)
    dataset = plan.scenarios[0].dataset
    assert dataset.name == "newman-comma-test.postman_data.csv"
    header, [row] = parse_csv(dataset.csv_data)
    values = dict(zip(header, row))
    assert values == {
        "nameWithComma": "Abhijit, Kane", "nameWithDoubleQuotes": 'Abhijit "KDOS" Kane',
        "numberWithQuotes": "00123", "numberWithoutQuotes": "7890",
        "negativeNumberWithoutQuotes": "-7890", "nullValue": "",
        "longNumber": "89111702272002019559", "spaceAfterComma": "foo",
        "spaceBeforeComma": "bar", "nameWithUnescapedQuotes": 'Abhijit "KDOS" Kane'}


def test_checks_of_the_data_row_stay_listed_as_unmapped_script_lines():
    """The assertions schema checks responses, not variables: ``pm.expect(data.x)`` lines
    are listed, one by one, never dropped."""
    plan = with_data(COMMA, COMMA_DATA)
    lines = [p.message for p in plan.problems if p.message.startswith("script line")]
    assert len(lines) == 10 and "pm.expect(data.numberWithoutQuotes).to.eql(7890);" in \
        lines[3]


def test_the_csv_with_a_bom_and_a_short_row():
    """The byte-order mark is dropped and header names trimmed; the missing third column is
    empty in the dataset and named in a warning (newman leaves it undefined)."""
    plan = with_data(BOM, BOM_DATA)
    header, rows = parse_csv(plan.scenarios[0].dataset.csv_data)
    assert header == ["c1", "c2", "c3"] and rows == [["123", 'foo "bar" baz', ""]]
    [missing] = [p for p in plan.problems if "missing" in p.message]
    assert missing.severity == WARNING
    assert "column c3 is missing from 1 row(s) (row 1)" in missing.message


def test_the_preview_sees_the_dataset_rows():
    plan = with_data(BOM, BOM_DATA)
    assert plan.scenarios[0].dataset.csv_data == 'c1,c2,c3\n123,"foo ""bar"" baz",\n'


def test_quoted_newlines_backslash_quotes_and_crlf():
    header, rows = rows_of('a,b\r\n"one\r\ntwo","say \\"hi\\""\r\n  x  ,\r\n')
    assert header == ["a", "b"]
    assert rows == [["one\r\ntwo", 'say "hi"'], ["x", ""]]


def test_an_unquoted_number_newman_would_rewrite_is_kept_with_a_warning():
    plan = postman.parse(collection(), "u.postman_collection.json",
                         data_file=DataFile(b"code,n\n00123,7\n", "data.csv"))
    assert parse_csv(plan.scenarios[0].dataset.csv_data)[1] == [["00123", "7"]]
    [warning] = [p for p in plan.problems if "number" in p.message]
    assert warning.where == "line 2" and "as the number 123" in warning.message


def test_a_json_data_file_of_objects():
    """Strings as they are, numbers and booleans as their JSON text, a missing key or null
    empty with a warning, an object as its JSON text with a warning."""
    data = json.dumps([{"name": "ann", "age": 31, "admin": True},
                       {"name": "bob", "age": None, "tags": {"a": 1}}]).encode()
    plan = postman.parse(collection(), "u.postman_collection.json",
                         data_file=DataFile(data, "users.json"))
    header, rows = parse_csv(plan.scenarios[0].dataset.csv_data)
    assert header == ["name", "age", "admin", "tags"]
    assert rows == [["ann", "31", "true", ""], ["bob", "", "", '{"a": 1}']]
    messages = [p.message for p in plan.problems]
    assert any("column age is missing from 1 row(s) (row 2)" in m for m in messages)
    assert any("column tags is missing from 1 row(s) (row 1)" in m for m in messages)
    assert any("JSON object" in m for m in messages)


def test_a_column_that_is_not_a_variable_name_is_renamed_with_its_references():
    plan = postman.parse(collection("https://api.example.com/{{user id}}"),
                         "u.postman_collection.json",
                         data_file=DataFile(b"user id\n7\n", "data.csv"))
    assert plan.requests[0].url == "https://api.example.com/{{user_id}}"
    assert parse_csv(plan.scenarios[0].dataset.csv_data) == (["user_id"], [["7"]])
    assert any("'user id' is imported as 'user_id'" in p.message for p in plan.problems)


def test_an_empty_row_of_a_one_column_file_is_listed_as_skipped():
    plan = postman.parse(collection(), "u.postman_collection.json",
                         data_file=DataFile(b'name\nann\n""\n', "data.csv"))
    assert [p.where for p in plan.problems if p.severity == SKIPPED] == ["row 2"]


@pytest.mark.parametrize(("content", "name", "reason"), [
    (b"GIF89a\x01\x00\x01\x00", "data.csv", "NUL character"),
    (b"\xff\xfe\x00a", "data.csv", "not text"),
    (b"a,b\n1,2,3\n", "data.csv", "line 2: the row has 3 values where the header names 2"),
    (b'a,b\n"1,2\n', "data.csv", "line 2: a quote opened here is never closed"),
    (b'a,b\n"1"x,2\n', "data.csv", "text after a closing quote"),
    (b"a,a\n1,2\n", "data.csv", "the column a appears twice"),
    (b"a,,b\n1,2,3\n", "data.csv", "a column of the header has no name"),
    (b"a,b\n", "data.csv", "no rows"),
    (b"  \n", "data.csv", "empty"),
    (b'{"a": 1}', "data.json", "an array of objects"),
    (b"[1, 2]", "data.json", "/0: an iteration that is not an object"),
    (b"[{\"a\": 1},", "data.json", "neither CSV nor valid JSON"),
])
def test_bad_data_files_are_refused_naming_the_file_and_why(content, name, reason):
    assert reason in str(refusal(content, name))


@override_settings(TESTING_DATASET_MAX_BYTES=1024)
def test_a_data_file_too_large_for_a_dataset_is_refused():
    assert "at most 1024" in str(refusal(b"a\n" + b"x\n" * 1000))


@override_settings(TESTING_DATASET_MAX_ROWS=2)
def test_a_data_file_with_too_many_rows_is_refused():
    assert "3 rows; at most 2" in str(refusal(b"a\n1\n2\n3\n"))


def test_a_data_file_goes_with_a_postman_collection_only():
    path = corpus("httprunner", "v3.1.11", "examples", "httpbin", "basic.yml")
    with pytest.raises(ImportFailed, match="a data file goes with a Postman collection"):
        importers.parse(path.read_bytes(), path.name,
                        data_file=DataFile(b"a\n1\n", "data.csv"))


def test_a_collection_without_requests_is_refused_with_a_data_file():
    empty = json.dumps({"info": {"name": "Empty"}, "item": []}).encode()
    with pytest.raises(ImportFailed, match="holds no request to run with the data"):
        postman.parse(empty, "e.postman_collection.json",
                      data_file=DataFile(b"a\n1\n", "data.csv"))


def test_canonical_csv_round_trips_awkward_values():
    rows = datafile.DataRows(columns=["a", "b"], rows=[
        {"a": 'x,"y"\nz', "b": " padded "}, {"a": ""}])
    assert parse_csv(datafile.canonical_csv(rows)) == (
        ["a", "b"], [['x,"y"\nz', " padded "], ["", ""]])


def test_a_reference_nothing_defines_is_listed():
    """newman sends an undefined ``{{name}}`` as written; here the step would fail naming
    it, so the preview lists it. Data columns and the collection's variables define names."""
    plan = postman.parse(collection("https://api.example.com/{{name}}/{{token}}"),
                         "u.postman_collection.json",
                         data_file=DataFile(b"name\nann\n", "data.csv"))
    [listed] = [p for p in plan.problems if "defined by no variable" in p.message]
    assert listed.message.startswith("{{token}} is defined by no variable of the collection "
                                     "nor column of the data file")
    assert listed.item == "GET find"
