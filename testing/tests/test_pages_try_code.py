"""The "try it" panels of a keyword's and a global function's pages (issue 14, item 4).

The code runs in the real sandbox (``core.sandbox``, bubblewrap); only the test that the
sandbox is unavailable changes its settings, and puts its state back.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from core import sandbox
from testing.models import GlobalFunction, Keyword, Project
from testing.tests.page_cases import (
    assert_accessible_forms,
    assert_all_missing,
    assert_all_refused,
    codes,
    everything_logged,
    make,
    sign_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]

KEYWORD = '''def total(prices, tax=0.0):
    print("adding", len(prices), "prices")
    return {"total": round(sum(prices) * (1 + tax), 2), "count": len(prices)}
'''
KEYWORD_DOCS = {"type": "object", "required": ["prices"], "properties": {
    "prices": {"type": "array", "items": {"type": "number"}},
    "tax": {"type": "number", "default": 0.0}}}
RAISES = '''def check(value):
    limit = 10
    if value > limit:
        raise ValueError("too big: " + str(value))
    return True
'''
RESPONSE = '''def status_is(response, expected):
    assert response is not None, "there is no response"
    assert response["status"] == expected, "got " + str(response["status"])
    return response["json"]["id"]
'''
LOOP = "def spin():\n    while True:\n        pass\n"
FUNCTION = '''class Text:
    @staticmethod
    def pad(value, width=8, fill="*"):
        return value.rjust(width, fill)
'''


def keyword(tenant, project, code=KEYWORD, method="total", name="Total", docs=None,
            **fields) -> Keyword:
    return make(Keyword, tenant, project=project, name=name, method_name=method, code=code,
                parameters=KEYWORD_DOCS if docs is None else docs, **fields)


def function(tenant, code=FUNCTION, parameters=None) -> GlobalFunction:
    if parameters is None:
        parameters = [{"name": "value", "type": "str"},
                      {"name": "width", "type": "int", "default": 8},
                      {"name": "fill", "type": "str", "default": "*"}]
    return make(GlobalFunction, tenant, class_name="Text", method_name="pad", code=code,
                parameters=parameters)


def try_url(row) -> str:
    if isinstance(row, Keyword):
        return reverse("testing:keyword-try", args=[row.project_id, row.pk])
    return reverse("testing:function-try", args=[row.pk])


def edit_url(row) -> str:
    if isinstance(row, Keyword):
        return reverse("testing:keyword-edit", args=[row.project_id, row.pk])
    return reverse("testing:function-edit", args=[row.pk])


def attempt(client, row, arguments, response=None, *, htmx=False):
    """Post the try form of ``row``; ``arguments`` (and ``response``) as typed (text)."""
    data = {"try-arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}
    if response is not None:
        data["try-response"] = response if isinstance(response, str) else json.dumps(response)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(try_url(row), data, headers=headers)


def panel(answer):
    return answer.context["try_panel"]


def typed(answer, name="arguments") -> str:
    """Return what the page's try field holds (the tester's input, kept)."""
    return panel(answer).form[name].value()


@pytest.fixture
def no_calls(monkeypatch):
    """Fail the test if anything reaches the sandbox."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("the sandbox was called")

    monkeypatch.setattr(sandbox, "run", refuse)
    return calls


def test_the_keyword_page_prefills_the_arguments_from_the_parameter_docs(client, tenant_a,
                                                                          project_a):
    """Defaults where the docs give one, else an empty value of the type."""
    row = keyword(tenant_a, project_a)
    sign_in(client, tenant_a)
    page = client.get(edit_url(row))
    assert page.status_code == 200
    assert json.loads(panel(page).form["arguments"].value()) == {"prices": [], "tax": 0.0}
    assert "response" not in panel(page).form.fields
    html = page.content.decode()
    assert 'id="try-panel"' in html and f'hx-post="{try_url(row)}"' in html
    assert "js/testing-try.js" in html and "vendor/htmx/htmx.min.js" in html
    assert_accessible_forms(html)


def test_a_keyword_returns_a_value_with_its_output_and_time(client, tenant_a, project_a):
    row = keyword(tenant_a, project_a)
    sign_in(client, tenant_a)
    answer = attempt(client, row, {"prices": [10, 5.5], "tax": 0.1})
    assert answer.status_code == 200
    outcome = panel(answer).outcome
    assert outcome.ok and outcome.value == {"total": 17.05, "count": 2}
    assert outcome.output == "adding 2 prices\n"
    assert outcome.duration_ms > 0 and outcome.cpu_ms > 0
    html = answer.content.decode()
    assert "&quot;total&quot;: 17.05" in html  # pretty JSON, escaped
    assert 'id="try-duration"' in html and 'id="try-cpu"' in html
    assert "adding 2 prices" in html
    # The full page (no JavaScript): the edit form is there too, still saving to the edit
    # address (not to the try address the page now has), and the input is kept.
    assert 'name="code"' in html and json.loads(typed(answer))["tax"] == 0.1
    assert f'<form method="post" action="{edit_url(row)}">' in html


def test_htmx_gets_the_panel_alone_with_an_announcement(client, tenant_a, project_a):
    row = keyword(tenant_a, project_a)
    sign_in(client, tenant_a)
    answer = attempt(client, row, {"prices": [1]}, htmx=True)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert html.lstrip().startswith("<div id=\"live-status\"")  # swapped out of band
    assert 'id="try-panel"' in html and 'name="code"' not in html
    assert "The code returned a value" in html and 'id="try-value"' in html


def test_a_keyword_that_raises_shows_its_own_traceback_lines(client, tenant_a, project_a):
    row = keyword(tenant_a, project_a, code=RAISES, method="check", name="Check",
                  docs={"type": "object", "properties": {"value": {"type": "integer"}}})
    sign_in(client, tenant_a)
    answer = attempt(client, row, {"value": 11})
    assert answer.status_code == 200
    outcome = panel(answer).outcome
    assert not outcome.ok and outcome.exception == "ValueError"
    message = outcome.message
    assert 'File "<keyword Check>", line 4, in check' in message
    assert 'raise ValueError("too big: " + str(value))' in message
    assert "ValueError: too big: 11" in message
    # Only the user's frames: nothing of the platform or the sandbox's own program.
    assert "child.py" not in message and "site-packages" not in message
    assert "/work/" not in message and "core/sandbox" not in message
    html = answer.content.decode()
    assert "Raised an error" in html and "too big: 11" in html and 'id="try-error"' in html


def test_a_keyword_taking_the_response_gets_the_sample_response(client, tenant_a, project_a):
    row = keyword(tenant_a, project_a, code=RESPONSE, method="status_is", name="Status",
                  type="assertion",
                  docs={"type": "object", "properties": {"expected": {"type": "integer"}}})
    sign_in(client, tenant_a)
    page = client.get(edit_url(row))
    form = panel(page).form
    assert json.loads(form["arguments"].value()) == {"expected": 0}
    sample = json.loads(form["response"].value())
    assert sample["status"] == 200 and "json" in sample  # the shape a step passes
    assert 'id="id_try-response"' in page.content.decode()

    response = {"status": 201, "headers": {}, "text": "", "json": {"id": 7}}
    ok = attempt(client, row, {"expected": 201}, response)
    assert ok.status_code == 200 and panel(ok).outcome.value == 7
    wrong = attempt(client, row, {"expected": 200}, response)
    assert not panel(wrong).outcome.ok
    assert panel(wrong).outcome.error == "AssertionError: got 201"
    # Left empty: no response, as for a step before any request.
    none = attempt(client, row, {"expected": 200}, "")
    assert panel(none).outcome.error == "AssertionError: there is no response"
    bad = attempt(client, row, {"expected": 200}, "{oops")
    assert bad.status_code == 400 and panel(bad).form.errors["response"]
    assert typed(bad, "response") == "{oops"


def test_an_assertion_keyword_returning_false_says_the_step_would_fail(client, tenant_a,
                                                                      project_a):
    row = keyword(tenant_a, project_a, code="def no(value):\n    return False\n",
                  method="no", name="No", type="assertion", docs={"type": "object"})
    sign_in(client, tenant_a)
    answer = attempt(client, row, {"value": 1})
    assert panel(answer).outcome.value is False
    assert "an assertion keyword that returns false fails its check" in answer.content.decode()


def test_a_global_function_with_defaults(client, tenant_a):
    row = function(tenant_a)
    sign_in(client, tenant_a)
    page = client.get(edit_url(row))
    assert page.status_code == 200
    assert json.loads(typed(page)) == {"value": "", "width": 8, "fill": "*"}
    assert "response" not in panel(page).form.fields
    assert_accessible_forms(page.content.decode())
    answer = attempt(client, row, {"value": "ab"})
    assert answer.status_code == 200 and panel(answer).outcome.value == "******ab"
    assert f'<form method="post" action="{edit_url(row)}">' in answer.content.decode()
    answer = attempt(client, row, {"value": "ab", "width": 4, "fill": "-"}, htmx=True)
    assert answer.status_code == 200 and panel(answer).outcome.value == "--ab"


@pytest.mark.parametrize("typed_text, message", [
    ('{"prices": [1, 2', "not valid JSON"),
    ('[1, 2]', "JSON object"),
    ('{"prices": NaN}', "JSON has no NaN"),
    ('{"prices": "cheap"}', "prices"),                # not an array
    ('{"tax": 0.2}', "'prices' is a required property"),
])
def test_bad_arguments_are_field_errors_nothing_runs_and_the_input_is_kept(
        client, tenant_a, project_a, no_calls, typed_text, message):
    row = keyword(tenant_a, project_a)
    sign_in(client, tenant_a)
    for htmx in (False, True):
        answer = attempt(client, row, typed_text, htmx=htmx)
        assert answer.status_code == 400
        errors = panel(answer).form.errors["arguments"]
        assert any(message in error for error in errors), errors
        assert typed(answer) == typed_text  # exactly as typed
        html = answer.content.decode()
        assert 'aria-invalid="true"' in html and 'id="id_try-arguments_error"' in html
        assert panel(answer).outcome is None
    assert no_calls == []


def test_a_global_functions_arguments_are_checked_against_its_parameters(client, tenant_a,
                                                                        no_calls):
    row = function(tenant_a)
    sign_in(client, tenant_a)
    unknown = attempt(client, row, {"value": "x", "colour": "red"})
    assert unknown.status_code == 400
    assert any("colour" in error for error in panel(unknown).form.errors["arguments"])
    wrong_type = attempt(client, row, {"value": "x", "width": "wide"})
    assert wrong_type.status_code == 400
    assert typed(wrong_type) == '{"value": "x", "width": "wide"}'
    assert no_calls == []


def test_trying_needs_the_update_code(client, tenant_a, project_a):
    """Running code is changing what it does: only those who may edit the code may run it."""
    row = keyword(tenant_a, project_a)
    fn = function(tenant_a)
    sign_in(client, tenant_a, codes((Project, "view"), (Keyword, "view"),
                                    (GlobalFunction, "view")))
    assert_all_refused(client, [try_url(row), try_url(fn)])
    # With the update code of one, the other is still refused.
    other = Client()
    sign_in(other, tenant_a, codes((Project, "view"), (Keyword, "view"), (Keyword, "update")))
    assert attempt(other, row, {"prices": [1]}).status_code == 200
    assert attempt(other, fn, {"value": "x"}).status_code == 403


def test_trying_is_a_post_with_a_csrf_token(client, tenant_a, project_a, no_calls):
    row = keyword(tenant_a, project_a)
    fn = function(tenant_a)
    guarded = Client(enforce_csrf_checks=True)
    sign_in(guarded, tenant_a)
    for target in (row, fn):
        assert attempt(guarded, target, {"value": "x"}).status_code == 403
        # A GET runs nothing: it goes to the page with the panel.
        page = guarded.get(try_url(target))
        assert page.status_code == 302 and page.url == edit_url(target) + "#try-panel"
    assert no_calls == []


def test_another_tenants_keyword_and_function_are_404(client, tenant_a, tenant_b, project_a,
                                                      no_calls):
    row = keyword(tenant_a, project_a)
    fn = function(tenant_a)
    sign_in(client, tenant_b)
    assert_all_missing(client, [try_url(row), try_url(fn)])
    assert attempt(client, row, {"prices": [1]}).status_code == 404
    assert attempt(client, fn, {"value": "x"}).status_code == 404
    assert no_calls == []


def test_two_tenants_functions_of_the_same_name_each_run_their_own_code(tenant_a, tenant_b):
    mine = function(tenant_a, code=FUNCTION.replace("value.rjust", '"A:" + value.rjust'))
    theirs = function(tenant_b, code=FUNCTION.replace("value.rjust", '"B:" + value.rjust'))
    client_a, client_b = Client(), Client()
    sign_in(client_a, tenant_a)
    sign_in(client_b, tenant_b)
    assert panel(attempt(client_a, mine, {"value": "x", "width": 2})).outcome.value == "A:*x"
    assert panel(attempt(client_b, theirs, {"value": "x", "width": 2})).outcome.value == "B:*x"
    assert attempt(client_a, theirs, {"value": "x"}).status_code == 404


def test_an_endless_loop_stops_at_the_cpu_limit_and_the_next_try_works(client, tenant_a,
                                                                        project_a, settings):
    settings.SANDBOX_CPU_SECONDS = 1  # the sandbox counts CPU time in whole seconds
    spin = keyword(tenant_a, project_a, code=LOOP, method="spin", name="Spin",
                   docs={"type": "object"})
    sign_in(client, tenant_a)
    answer = attempt(client, spin, {})
    assert answer.status_code == 200
    outcome = panel(answer).outcome
    assert not outcome.ok and outcome.breach
    assert "exceeded 1 s of CPU time" in outcome.error
    assert "Stopped at a limit" in answer.content.decode()
    again = attempt(client, keyword(tenant_a, project_a), {"prices": [2, 3]})
    assert panel(again).outcome.ok and panel(again).outcome.value["total"] == 5


@pytest.fixture
def sandbox_unavailable(settings):
    """Point the sandbox at a bubblewrap that does not exist; restore its state after."""
    saved = dict(sandbox._state)
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    settings.SANDBOX_ALLOW_UNPROTECTED = False
    sandbox._state["barrier"] = None  # detected again on the next call, with the setting
    yield
    sandbox._state.update(saved)


def test_an_unavailable_sandbox_is_a_clear_message_not_a_500(client, tenant_a, project_a,
                                                            sandbox_unavailable):
    row = keyword(tenant_a, project_a)
    fn = function(tenant_a)
    sign_in(client, tenant_a)
    for target, arguments in ((row, {"prices": [1]}), (fn, {"value": "x"})):
        for htmx in (False, True):
            answer = attempt(client, target, arguments, htmx=htmx)
            assert answer.status_code == 503
            html = answer.content.decode()
            assert "the sandbox is not available" in html
            assert "bubblewrap (/nonexistent/bwrap) is not installed" in html
            assert panel(answer).outcome is None
            assert json.loads(typed(answer)) == arguments  # the input is kept


def test_the_operation_log_keeps_no_sample_values(client, tenant_a, project_a):
    """A try is logged like every POST, but what was typed may be a real token."""
    row = function(tenant_a, parameters=[{"name": "value", "type": "str", "secret": True}])
    sign_in(client, tenant_a)
    assert attempt(client, row, {"value": "tok-4d1f9e"}).status_code == 200
    assert "tok-4d1f9e" not in everything_logged()
