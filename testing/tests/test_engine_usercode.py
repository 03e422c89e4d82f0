"""Testers' code in a run: project keywords as steps and global functions in templates.

The code runs in the real sandbox (core.sandbox, bubblewrap); the HTTP target is the loopback
server of the suite. No database: the engine runs plain data.
"""

from __future__ import annotations

import pytest

from core.sandbox.functions import UserFunction
from testing.engine import spec as S
from testing.engine.runner import run_scenario
from testing.tests.http_target import TOKEN
from testing.tests.test_engine_runner import LOOPBACK, ListSink, http, scenario, status_is

pytestmark = pytest.mark.sandbox

KEYWORDS = '''
def double(number):
    return number * 2

def check_token(response, expected_length):
    assert len(response["json"]["token"]) == expected_length, "the token is too short"
    return True

def token_parts(response):
    token = response["json"]["token"]
    return {"token_head": token[:4], "token_length": len(token)}

def fails():
    value = {"a": 1}
    return value["b"]

def uses_helpers(text):
    import atrium
    return atrium.md5(text)

def prints(text):
    print("seen", text)
    return None

def greets(name, password=""):
    return "hello " + name + " " + password
'''


def keyword_step(key, entry, params=None, *, kind="custom", secret=(), response=False):
    code = S.CodeSpec(name=entry, code=KEYWORDS, entry=entry, filename=f"<keyword {entry}>",
                      keyword_type=kind, secret_parameters=list(secret),
                      takes_response=response)
    return S.StepSpec(key=key, title=key, action=S.CODE, params=params or {}, user_code=code)


def function(name, code, order, *, secret=()):
    return UserFunction(name=name, code=code, entry=name, filename=f"<function {name}>",
                        input_schema={"type": "object", "additionalProperties": False,
                                      "properties": {p: {} for p in order}},
                        secret_parameters=frozenset(secret), parameter_order=tuple(order))


def run(target, steps, **fields):
    sink = ListSink()
    outcome = run_scenario(scenario(target, steps, **fields), sink, policy=LOOPBACK)
    return outcome, sink.results


def test_a_custom_keyword_gets_rendered_parameters_and_its_value_is_shown(target):
    outcome, [result] = run(target, [keyword_step("k", "double", {"number": "{{n}}"})],
                            layers={"scenario": {"n": 21}})
    assert outcome.status == "passed", result.error
    assert result.response["value"] == 42
    assert result.request == {"keyword": "double", "arguments": {"number": 21}}
    assert result.response["duration_ms"] > 0


def test_an_assertion_keyword_reads_the_last_response_and_fails_the_step_on_assert(target):
    login = http("login", "/login", method="POST", body_type="json",
                 body={"username": "tester", "password": "s3cret"}, assertions=[status_is(200)])
    good = keyword_step("good", "check_token", {"expected_length": len(TOKEN)},
                        kind="assertion", response=True)
    bad = keyword_step("bad", "check_token", {"expected_length": 3}, kind="assertion",
                       response=True)
    outcome, results = run(target, [login, good, bad])
    assert [r.status for r in results] == ["passed", "passed", "failed"]
    assert "AssertionError: the token is too short" in results[2].error
    assert 'File "<keyword check_token>", line 6, in check_token' in results[2].error
    assert outcome.status == "failed"


def test_an_extract_keyword_sets_variables_for_the_next_steps(target):
    login = http("login", "/login", method="POST", body_type="json",
                 body={"username": "tester", "password": "s3cret"})
    parts = keyword_step("parts", "token_parts", kind="extract", response=True)
    use = keyword_step("use", "double", {"number": "{{token_length}}"})
    outcome, results = run(target, [login, parts, use])
    assert outcome.status == "passed", [r.error for r in results]
    assert results[1].extracted == {"token_head": TOKEN[:4], "token_length": len(TOKEN)}
    assert results[2].response["value"] == 2 * len(TOKEN)
    assert results[2].variables["token_length"]["origin"].startswith("the keyword token_parts")


def test_a_keyword_that_raises_is_an_error_with_the_users_lines_only(target):
    outcome, [result] = run(target, [keyword_step("k", "fails")])
    assert result.status == "error"
    assert "KeyError: 'b'" in result.error
    assert 'File "<keyword fails>", line 15, in fails' in result.error
    assert "child.py" not in result.error and "/work" not in result.error
    assert outcome.status == "failed"


def test_the_engines_helpers_are_offered_inside_the_sandbox(target):
    import hashlib

    outcome, [result] = run(target, [keyword_step("k", "uses_helpers", {"text": "abc"})])
    assert result.response["value"] == hashlib.md5(b"abc").hexdigest(), result.error


def test_what_a_keyword_prints_is_kept_in_the_result(target):
    outcome, [result] = run(target, [keyword_step("k", "prints", {"text": "x"})])
    assert result.status == "passed", result.error
    assert result.response["output"] == "seen x\n"


def test_a_secret_reaches_only_a_parameter_declared_secret_and_is_masked(target):
    layers = {"environment": {"password": "hunter22"}}
    refused, [result] = run(target, [keyword_step("k", "greets", {"name": "a",
                                                                  "password": "{{password}}"})],
                            layers=layers, secrets=["password"])
    assert result.status == "error"
    assert "'password'" in result.error and "does not declare" in result.error
    assert "hunter22" not in repr(result)
    accepted, [result] = run(target, [keyword_step("k", "greets",
                                                   {"name": "a", "password": "{{password}}"},
                                                   secret=["password"])],
                             layers=layers, secrets=["password"])
    assert result.status == "passed", result.error
    assert result.response["value"] == "hello a ••••••"
    assert result.request["arguments"]["password"] == "••••••"
    assert "hunter22" not in repr(result)


def test_a_global_function_in_a_template_runs_in_the_sandbox(target):
    code = "class Text:\n    def shout(self, word, times=1):\n        return word.upper() * times\n"
    functions = {"Text.shout": function("Text.shout", code, ["word", "times"])}
    step = keyword_step("k", "greets", {"name": "{{Text.shout(who, times=2)}}"})
    outcome, [result] = run(target, [step], functions=functions,
                            layers={"scenario": {"who": "ab"}})
    assert result.status == "passed", result.error
    assert result.response["value"] == "hello ABAB "
    assert result.variables["Text.shout(who, times=2)"]["value"] == "ABAB"


def test_a_global_function_refuses_a_secret_argument_it_does_not_declare(target):
    code = "class T:\n    @staticmethod\n    def echo(value):\n        return value\n"
    functions = {"T.echo": function("T.echo", code, ["value"])}
    step = keyword_step("k", "double", {"number": "{{T.echo(password)}}"})
    outcome, [result] = run(target, [step], functions=functions,
                            layers={"environment": {"password": "hunter22"}},
                            secrets=["password"])
    assert result.status == "error"
    assert "'value'" in result.error and "secret" in result.error
    secret_functions = {"T.echo": function("T.echo", code, ["value"], secret=["value"])}
    outcome, [result] = run(target, [keyword_step("k", "greets",
                                                  {"name": "{{T.echo(password)}}"},
                                                  secret=["name"])],
                            functions=secret_functions,
                            layers={"environment": {"password": "hunter22"}},
                            secrets=["password"])
    assert result.status == "passed", result.error
    assert "hunter22" not in repr(result)


@pytest.mark.parametrize("template, message", [
    ("{{Nope.none()}}", "unknown global function 'Nope.none'"),
    ("{{T.echo(1, 2)}}", "T.echo() takes 1 arguments; got 2"),
    ("{{T.echo(other=1)}}", "T.echo() has no parameter 'other'"),
])
def test_a_global_function_called_wrongly_fails_the_step_naming_it(target, template, message):
    code = "class T:\n    @staticmethod\n    def echo(value):\n        return value\n"
    functions = {"T.echo": function("T.echo", code, ["value"])}
    outcome, [result] = run(target, [keyword_step("k", "double", {"number": template})],
                            functions=functions)
    assert result.status == "error"
    assert message in result.error


def test_a_global_function_that_raises_names_itself_and_its_line(target):
    code = "class T:\n    @staticmethod\n    def boom():\n        return 1 / 0\n"
    functions = {"T.boom": function("T.boom", code, [])}
    outcome, [result] = run(target, [keyword_step("k", "double", {"number": "{{T.boom()}}"})],
                            functions=functions)
    assert result.status == "error"
    assert "T.boom() raised" in result.error and "ZeroDivisionError" in result.error
    assert 'File "<function T.boom>", line 4, in boom' in result.error


def test_a_keyword_over_its_cpu_limit_fails_its_step_and_the_run_goes_on(target, settings):
    settings.SANDBOX_CPU_SECONDS = 0.5
    loop = S.CodeSpec(name="loop", code="def loop():\n    while True:\n        pass\n",
                      entry="loop", filename="<keyword loop>")
    outcome, [result] = run(target, [S.StepSpec(key="loop", title="loop", action=S.CODE,
                                                user_code=loop)])
    assert result.status == "error"
    assert result.error == "the keyword loop exceeded 1 s of CPU time"
    assert outcome.status == "failed"
    outcome, [result] = run(target, [keyword_step("after", "double", {"number": 2})])
    assert result.response["value"] == 4, result.error
