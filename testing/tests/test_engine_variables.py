"""The variable pool, ``{{...}}`` rendering and the built-in functions (no database)."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.utils.translation import gettext_noop

from testing.engine import functions
from testing.engine.functions import FUNCTIONS, FunctionError
from testing.engine.messages import Message, message
from testing.engine.variables import (
    LABELS,
    MASK,
    PRECEDENCE,
    TemplateError,
    UndefinedVariable,
    VariablePool,
    masked,
    render,
)
from testing.tests.conftest import as_stored_in_english

ALL_LABELS = (
    "dataset row, extracted in this run, plan overrides, scenario variables, environment, "
    "project globals"
)


def pool_of(**values) -> VariablePool:
    return VariablePool({"scenario": values})


# Precedence and origins


@pytest.mark.parametrize("winner", PRECEDENCE)
def test_each_layer_wins_when_the_higher_layers_lack_the_name(winner):
    """A name resolves from the highest layer defining it."""
    below = PRECEDENCE[PRECEDENCE.index(winner) :]
    pool = VariablePool({layer: {"host": f"from {layer}"} for layer in below})

    binding = pool.lookup("host")

    assert binding.value == f"from {winner}"
    assert binding.layer == winner
    assert binding.origin == LABELS[winner]


def test_used_records_value_and_origin_of_every_variable_read():
    """Rendering records each variable read with the label of the layer it came from."""
    pool = VariablePool(
        {"project": {"host": "shop.test"}, "environment": {"port": 8080}},
        labels={"environment": "environment 'Local'"},
    )
    used: dict = {}

    assert render("http://{{host}}:{{ port }}/", pool, used) == "http://shop.test:8080/"
    assert used == {
        # The platform's labels are messages, stored with their msgid; a label the caller
        # gives as plain text is stored as it is.
        "host": {"value": "shop.test", "origin": "project globals",
                 "origin_i18n": {"msgid": "project globals", "params": {}}},
        "port": {"value": 8080, "origin": "environment 'Local'"},
    }


def test_extracted_value_carries_the_origin_given():
    """An extracted value names the step and the expression it came from."""
    pool = pool_of(token="scenario token")
    pool.set_extracted("token", "abc", "step 2 'Log in': $.data.token")
    used: dict = {}

    render("{{token}}", pool, used)

    assert pool.lookup("token").layer == "extracted"
    assert used["token"] == {"value": "abc", "origin": "step 2 'Log in': $.data.token"}


def test_set_value_goes_to_the_extracted_layer():
    """A value set by a step is a product of the run, above plan and scenario values."""
    pool = VariablePool({"plan": {"mode": "plan"}})

    pool.set_value("mode", "set", "set at step 3")

    binding = pool.lookup("mode")
    assert (binding.value, binding.layer, binding.origin) == ("set", "extracted", "set at step 3")


def test_undefined_variable_names_it_and_the_layers_searched():
    """An undefined variable fails naming it and every layer searched, highest first."""
    pool = VariablePool({}, labels={"environment": "environment 'Local'"})

    with pytest.raises(UndefinedVariable) as caught:
        render({"auth": "Bearer {{token}}"}, pool)

    assert caught.value.name == "token"
    assert caught.value.searched[4] == "environment 'Local'"
    assert str(caught.value) == (
        "undefined variable 'token' (searched: dataset row, extracted in this run, "
        "plan overrides, scenario variables, environment 'Local', project globals)"
    )


def test_unknown_layers_are_refused():
    """A layer name outside the precedence is a programming error."""
    with pytest.raises(ValueError, match="unknown variable layer 'global'"):
        VariablePool({"global": {}})
    with pytest.raises(ValueError, match="unknown variable layer 'row'"):
        VariablePool({}, labels={"row": "row"})


def test_undefined_message_lists_the_default_labels():
    """Without overrides the layers searched read as the default labels."""
    with pytest.raises(UndefinedVariable, match=re.escape(f"(searched: {ALL_LABELS})")):
        VariablePool({}).lookup("missing")


# Rendering


@pytest.mark.parametrize(
    "value",
    [3, 2.5, True, None, {"id": 1, "tags": ["a"]}, ["x", 2]],
)
def test_a_whole_string_reference_keeps_the_type(value):
    """A string that is exactly one reference is replaced by the value itself."""
    assert render("{{value}}", pool_of(value=value)) == value
    assert render("{{ value }}", pool_of(value=value)) == value


@pytest.mark.parametrize(
    "value, text",
    [
        (3, "n=3;"),
        (2.5, "n=2.5;"),
        ({"id": 1, "name": "é"}, 'n={"id": 1, "name": "é"};'),
        ([1, "a"], 'n=[1, "a"];'),
        (None, "n=null;"),
        (True, "n=true;"),
        (False, "n=false;"),
        ("text", "n=text;"),
    ],
)
def test_inside_a_longer_string_the_value_reads_as_text(value, text):
    """Objects, lists and literals read as JSON inside text; numbers and strings as they are."""
    assert render("n={{value}};", pool_of(value=value)) == text


def test_dicts_and_lists_are_rendered_recursively_keeping_keys():
    """Values of nested dicts and lists are rendered; keys and non-strings stay as they are."""
    pool = pool_of(id=7, name="Ann")
    body = {"{{id}}": ["{{id}}", {"who": "{{name}}!", "n": 1}], "flag": None}

    assert render(body, pool) == {"{{id}}": [7, {"who": "Ann!", "n": 1}], "flag": None}


def test_braces_around_a_reference_stay_literal():
    """A JSON text with a reference inside braces renders the reference only."""
    assert render('{"id": {{id}}}', pool_of(id=7)) == '{"id": 7}'
    assert render("{{{id}}}", pool_of(id=7)) == "{7}"


def test_references_inside_variable_values_are_resolved():
    """A variable whose value holds references is rendered before use."""
    pool = VariablePool(
        {
            "project": {"base_url": "https://{{host}}", "host": "shop.test"},
            "scenario": {"user": "e2e_{{random_string(8)}}", "payload": {"url": "{{api}}"}},
            "environment": {"api": "{{base_url}}/v1"},
        }
    )
    used: dict = {}

    result = render({"url": "{{api}}/users", "name": "{{user}}", "p": "{{payload}}"}, pool, used)

    assert result["url"] == "https://shop.test/v1/users"
    assert re.fullmatch(r"e2e_[A-Za-z0-9]{8}", result["name"])
    assert result["p"] == {"url": "https://shop.test/v1"}
    assert as_stored_in_english(used["base_url"]) == {"value": "https://shop.test",
                                                      "origin": "project globals"}
    assert used["host"]["origin"] == "project globals"


def test_a_variable_resolves_once_per_rendering():
    """Two references to a variable in one request see the same value."""
    pool = pool_of(user="e2e_{{random_string(8)}}")

    result = render({"create": "{{user}}", "check": "name={{user}}"}, pool)

    assert result["check"] == f"name={result['create']}"


def test_a_cycle_is_reported_with_its_path():
    """A variable reaching itself through others fails with the path of the cycle."""
    pool = pool_of(start="{{a}}", a="x{{b}}", b="{{a}}")

    with pytest.raises(TemplateError) as caught:
        render("{{start}}", pool)

    assert str(caught.value) == "variable 'a' refers to itself (a → b → a)"


def test_nesting_deeper_than_ten_levels_is_refused():
    """A chain of more than ten variables fails instead of recursing without end."""
    chain = {f"v{index}": f"{{{{v{index + 1}}}}}" for index in range(1, 10)}
    chain["v10"] = "end"

    assert render("{{v1}}", pool_of(**chain)) == "end"
    with pytest.raises(TemplateError, match=re.escape("more than 10 levels deep (v0 → v1 →")):
        render("{{v0}}", pool_of(v0="{{v1}}", **chain))


def test_extracted_values_are_not_rendered():
    """A value produced by the run is data: a server cannot make it read another variable."""
    pool = VariablePool({"environment": {"db_password": "hunter22"}}, secrets=["db_password"])
    pool.set_extracted("echo", "{{db_password}}", "step 1: $.echo")

    assert render("{{echo}}", pool) == "{{db_password}}"


@pytest.mark.parametrize(
    "template",
    ["{{name", "a {{b}} {{", "{{}}", "{{ two words }}", "{{a.b}}", "{{1abc}}", "{{a b}}"],
)
def test_malformed_references_name_the_text(template):
    """A reference that is not a name or a function call fails naming the text."""
    with pytest.raises(TemplateError, match=r"unterminated|malformed reference"):
        render(template, pool_of(a=1, b=2, name="n"))


def test_lone_closing_braces_are_text():
    """Only an opening ``{{`` starts a reference."""
    assert render("a }} b", pool_of()) == "a }} b"


# Function calls


def test_function_arguments_may_be_literals_and_variables():
    """Arguments are literals or variable names, positional or by keyword."""
    pool = pool_of(secret_key="k", body="payload", low=5)
    used: dict = {}

    assert render("{{hmac_sha256(secret_key, message=body)}}", pool, used) == (
        "53e1cedd550e0e693ce03bafe5ae424d9f292717018d586aaade877481dc824c"
    )
    assert render("{{random_int(low, 5)}}", pool) == 5
    assert render("{{random_int(-3, -3)}}", pool) == -3
    assert render("{{ upper('a') }}-{{lower(\"B\")}}", pool) == "A-b"
    assert as_stored_in_english(used["secret_key"]) == {"value": "k",
                                                        "origin": "scenario variables"}
    assert used["hmac_sha256(secret_key, message=body)"]["origin"] == "function"


def test_function_results_keep_their_type_and_are_recorded():
    """A whole-string call keeps the result's type; `used` holds the call and its result."""
    used: dict = {}

    result = render("{{random_int(1, 1)}}", pool_of(), used)

    assert result == 1
    assert used == {"random_int(1, 1)": {"value": 1, "origin": "function",
                                         "origin_i18n": {"msgid": "function", "params": {}}}}


@pytest.mark.parametrize(
    "template",
    [
        "{{__import__('os')}}",
        "{{a.b()}}",
        "{{f(x+1)}}",
        "{{upper(a.b)}}",
        "{{upper(a[0])}}",
        "{{upper((lambda: 1)())}}",
        "{{length([1, 2])}}",
        "{{upper(upper('a'))}}",
        "{{upper(**a)}}",
        "{{upper(*a)}}",
        "{{upper(b'x')}}",
        "{{upper(-a)}}",
        "{{(lambda: 1)()}}",
        "{{upper('a').lower()}}",
    ],
)
def test_only_literals_and_names_are_accepted(template):
    """Nothing but a built-in called with literals and variable names is evaluated."""
    with pytest.raises(TemplateError):
        render(template, pool_of(a="x", x=1))


def test_refusals_read_clearly():
    """The refusal says what is allowed and shows the offending text."""
    with pytest.raises(TemplateError) as caught:
        render("{{upper(x+1)}}", pool_of(x=1))
    assert str(caught.value) == (
        "only literals and variable names may be passed to a function: 'x + 1' in '{{upper(x+1)}}'"
    )

    with pytest.raises(TemplateError, match="unknown function '__import__'; available: base64_"):
        render("{{__import__('os')}}", pool_of())


def test_function_errors_become_template_errors_naming_the_function():
    """A function given unusable arguments fails the rendering with its readable message."""
    with pytest.raises(TemplateError) as caught:
        render("{{random_int('x')}}", pool_of())
    assert str(caught.value) == (
        "random_int() takes integers low and high; got 'x' (in \"{{random_int('x')}}\")"
    )
    assert isinstance(caught.value.__cause__, FunctionError)


# Built-in functions


def test_every_function_has_a_one_line_docstring():
    """Testers see each function with its docstring."""
    assert set(FUNCTIONS) == {
        "timestamp", "timestamp_ms", "uuid", "random_string", "random_int", "base64_encode",
        "base64_decode", "md5", "sha1", "sha256", "hmac_sha256", "now", "date_add", "upper",
        "lower", "length",
    }
    for function in FUNCTIONS.values():
        assert function.__doc__ and "\n" not in function.__doc__.strip()


def test_hashes_and_encodings_are_exact():
    """Digests are hexadecimal over UTF-8 bytes; Base64 round-trips UTF-8 text."""
    assert functions.call("md5", ["hello"], {}) == "5d41402abc4b2a76b9719d911017c592"
    assert functions.call("sha1", ["hello"], {}) == "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    assert functions.call("sha256", ["hello"], {}) == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )
    assert functions.call("hmac_sha256", ["key", "The quick brown fox jumps over the lazy dog"],
                          {}) == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert functions.call("base64_encode", ["héllo"], {}) == "aMOpbGxv"
    assert functions.call("base64_decode", ["aMOpbGxv"], {}) == "héllo"
    assert functions.call("md5", [123], {}) == functions.md5("123")


def test_text_functions():
    """upper, lower and length work on text; length counts items of lists and objects."""
    assert functions.call("upper", ["abc"], {}) == "ABC"
    assert functions.call("lower", ["ABC"], {}) == "abc"
    assert functions.call("length", ["abcd"], {}) == 4
    assert functions.call("length", [[1, 2, 3]], {}) == 3
    assert functions.call("length", [{"a": 1}], {}) == 1
    assert functions.call("length", [12345], {}) == 5


def test_random_functions_have_the_right_shape():
    """Random values come in the length, characters and range asked."""
    assert re.fullmatch(r"[A-Za-z0-9]{8}", functions.call("random_string", [], {}))
    assert re.fullmatch(r"[0-9]{20}", functions.call("random_string", [20, "digits"], {}))
    assert re.fullmatch(r"[ab]{5}", functions.call("random_string", [5], {"chars": "ab"}))
    assert functions.call("random_string", [0], {}) == ""
    assert all(10 <= functions.call("random_int", [10, 12], {}) <= 12 for _ in range(50))
    assert 0 <= functions.call("random_int", [], {}) <= 1000000
    assert functions.call("random_int", ["7", "7"], {}) == 7
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        functions.call("uuid", [], {}),
    )


def test_time_functions_are_utc():
    """Timestamps are Unix time; now and date_add format UTC time."""
    before = int(time.time())
    assert before <= functions.call("timestamp", [], {}) <= before + 2
    assert before * 1000 <= functions.call("timestamp_ms", [], {}) <= (before + 2) * 1000
    now = datetime.now(timezone.utc)
    stamp = datetime.strptime(functions.call("now", [], {}), "%Y-%m-%dT%H:%M:%S")
    assert abs(stamp.replace(tzinfo=timezone.utc) - now) < timedelta(seconds=5)
    assert functions.call("now", ["%Y"], {}) == str(now.year)
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    assert functions.call("date_add", [1], {}) in {
        tomorrow, (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    }
    in_90_minutes = datetime.strptime(
        functions.call("date_add", [], {"hours": 1, "minutes": "30", "fmt": "%Y-%m-%d %H:%M"}),
        "%Y-%m-%d %H:%M",
    ).replace(tzinfo=timezone.utc)
    assert abs(in_90_minutes - (now + timedelta(minutes=90))) < timedelta(minutes=2)


@pytest.mark.parametrize(
    "name, args, kwargs, message",
    [
        ("foo", [], {}, "unknown function 'foo'; available: base64_decode, base64_encode, "),
        ("random_int", ["x"], {}, "random_int() takes integers low and high; got 'x'"),
        ("random_int", [5, 1], {}, "random_int() takes low <= high; got 5 and 1"),
        ("random_string", [5000], {}, "random_string() takes a length from 0 to 1024; got 5000"),
        ("random_string", [True], {}, "random_string() takes an integer length; got True"),
        ("md5", [None], {}, "md5() takes text; got None"),
        ("md5", ["a", "b"], {}, "md5() takes 1 positional argument but 2 were given"),
        ("upper", [], {"txt": "a"}, "upper() got an unexpected keyword argument 'txt'"),
        ("base64_decode", ["%%"], {}, "base64_decode() takes Base64 text; got '%%'"),
        ("base64_decode", [base64.b64encode(b"\xff").decode()], {}, "not UTF-8 text"),
        ("date_add", ["soon"], {}, "date_add() takes numbers for days, hours, minutes"),
        ("date_add", [10**9], {}, "date_add() offset goes beyond the supported dates"),
    ],
)
def test_function_errors_are_readable(name, args, kwargs, message):
    """A function error names the function and what it expected."""
    with pytest.raises(FunctionError) as caught:
        functions.call(name, args, kwargs)
    assert message in str(caught.value)


# Secrets


def test_secret_values_are_masked_in_used():
    """A secret variable, and any value computed from it, is recorded masked."""
    pool = VariablePool(
        {"environment": {"password": "s3cret-pw", "user": "ann", "auth": "Basic {{password}}"}},
        secrets=["password"],
    )
    pool.set_extracted("token", "tok-123456", "step 1: $.token", secret=True)
    used: dict = {}

    result = render(
        {"a": "{{auth}}", "t": "{{token}}", "h": "{{md5(password)}}", "u": "{{user}}"}, pool, used
    )

    assert result["a"] == "Basic s3cret-pw"
    assert result["t"] == "tok-123456"
    assert as_stored_in_english(used["password"]) == {"value": MASK, "origin": "environment"}
    assert used["auth"]["value"] == MASK
    assert used["token"] == {"value": MASK, "origin": "step 1: $.token"}
    assert as_stored_in_english(used["md5(password)"]) == {"value": MASK, "origin": "function"}
    assert used["user"]["value"] == "ann"
    assert pool.is_secret("password") and pool.is_secret("token")
    assert not pool.is_secret("user")


def test_masked_hides_secret_values_in_text_and_structures():
    """Every secret value of four characters or more is replaced in strings, dicts and lists."""
    pool = VariablePool(
        {"environment": {"password": "s3cret-pw", "pin": "123", "user": "ann"}},
        secrets=["password", "pin"],
    )
    pool.set_extracted("token", "tok-123456", "step 1: $.token", secret=True)
    request = {
        "url": "https://x.test/?t=tok-123456",
        "headers": [["Authorization", "Basic s3cret-pw"]],
        "body": {"pin": "123", "user": "ann", "count": 4},
    }

    assert masked(request, pool, extra=["ann-extra", "ann"]) == {
        "url": f"https://x.test/?t={MASK}",
        "headers": [["Authorization", f"Basic {MASK}"]],
        "body": {"pin": "123", "user": "ann", "count": 4},
    }
    assert masked("user ann-extra", pool, extra=["ann-extra"]) == f"user {MASK}"
    assert masked(None, pool) is None


# Snapshot, restore and copies


def test_snapshot_restore_round_trip_through_json():
    """A resumed run continues with the same extracted values, origins and secret flags."""
    pool = pool_of(greeting="hi")
    pool.set_extracted("token", "abc", "step 2: $.token", secret=True)
    pool.set_extracted("rows", [{"id": 1}], "rows of step 3")

    snapshot = json.loads(json.dumps(pool.snapshot()))
    resumed = pool_of(greeting="hi")
    resumed.restore(snapshot)

    assert snapshot == {
        "extracted": {
            "token": {"value": "abc", "origin": "step 2: $.token", "secret": True},
            "rows": {"value": [{"id": 1}], "origin": "rows of step 3", "secret": False},
        }
    }
    assert resumed.lookup("token").origin == "step 2: $.token"
    assert resumed.is_secret("token")
    assert resumed.lookup("rows").value == [{"id": 1}]
    assert "greeting" not in snapshot["extracted"]


def test_an_origin_that_is_a_message_survives_the_snapshot_with_its_id():
    """The engine's origins are messages: the snapshot stores the English text and the
    msgid with its parameters, and a resumed run reads the message back, still translatable;
    a snapshot taken before origins had ids restores its English text."""
    step = message(gettext_noop("step %(number)s (%(title)s)"), number=2, title="Log in")
    origin = message(gettext_noop("extracted at %(step)s %(where)s"), step=step,
                     where="`$.token`")
    pool = pool_of()
    pool.set_extracted("token", "abc", origin)

    snapshot = json.loads(json.dumps(pool.snapshot()))
    resumed = pool_of()
    resumed.restore(snapshot)

    assert snapshot["extracted"]["token"] == {
        "value": "abc", "origin": "extracted at step 2 (Log in) `$.token`", "secret": False,
        "origin_i18n": {"msgid": "extracted at %(step)s %(where)s", "params": {
            "step": {"msgid": "step %(number)s (%(title)s)",
                     "params": {"number": 2, "title": "Log in"}},
            "where": "`$.token`"}}}
    restored = resumed.lookup("token").origin
    assert isinstance(restored, Message) and restored.as_data() == origin.as_data()
    resumed.restore({"extracted": {"token": {"value": "abc", "origin": "step 2: $.token"}}})
    assert resumed.lookup("token").origin == "step 2: $.token"


def test_restore_of_an_empty_snapshot_empties_the_extracted_layer():
    """A new run starts from an empty checkpoint."""
    pool = pool_of()
    pool.set_extracted("token", "abc", "step 1")

    pool.restore({})

    with pytest.raises(UndefinedVariable):
        pool.lookup("token")
    with pytest.raises(ValueError, match="variable snapshot"):
        pool.restore({"extracted": {"token": "abc"}})


def test_with_layer_gives_an_isolated_copy():
    """Each dataset row gets its own pool: changes to one leave the other untouched."""
    row = {"user": "ann", "tags": ["a"]}
    pool = VariablePool({"scenario": {"user": "default", "list": [1]}}, secrets=["user"])
    pool.set_extracted("token", "abc", "step 1")

    copy = pool.with_layer("dataset", row)
    copy.set_extracted("token", "other", "step 1")
    copy.lookup("list").value.append(2)
    row["tags"].append("b")

    assert copy.lookup("user").origin == "dataset row"
    assert copy.lookup("user").value == "ann"
    assert copy.lookup("tags").value == ["a"]
    assert copy.is_secret("user")
    assert pool.lookup("user").value == "default"
    assert pool.lookup("token").value == "abc"
    assert pool.lookup("list").value == [1]
    assert copy.layer("dataset") == {"user": "ann", "tags": ["a"]}
