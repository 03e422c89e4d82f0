"""``POST keywords/{id}/try/`` and ``global-functions/{id}/try/``: testers' code called once
in the real sandbox through the API, with permissions and two tenants."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core import sandbox
from testing.models import GlobalFunction
from testing.tests import factories as f
from tests.api_cases import assert_error, assert_field_errors, make_actor

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]

KEYWORD_CODES = ["keyword:view", "keyword:update"]
FUNCTION_CODES = ["globalfunction:view", "globalfunction:update"]


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def keyword(tenant_a):
    project = f.project(tenant_a, "Shop A")
    return f.keyword(project, "Totals", method_name="total",
                     code="def total(prices, response=None):\n"
                          "    status = response['status'] if response else None\n"
                          "    return {'sum': sum(prices), 'status': status}\n",
                     parameters={"type": "object", "properties": {
                         "prices": {"type": "array"}}, "required": ["prices"]})


def function_of(tenant, code="class Text:\n    def up(self, word):\n        return word.upper()\n"):
    return f.make(GlobalFunction, tenant, class_name="Text", method_name="up", code=code,
                  parameters=[{"name": "word", "type": "str"}])


def try_url(basename, row):
    return reverse(f"api:{basename}-try-code", args=[row.pk])


def test_a_keyword_runs_with_sample_arguments_and_a_sample_response(tenant_a, keyword):
    client = client_of(make_actor(tenant_a, KEYWORD_CODES))
    response = client.post(try_url("testkeyword", keyword),
                           {"arguments": {"prices": [1, 2.5]}, "response": {"status": 201}},
                           format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["value"] == {"sum": 3.5, "status": 201}
    assert body["error"] == "" and body["limit_exceeded"] is False
    assert body["duration_ms"] > 0


def test_arguments_that_do_not_match_the_docs_are_a_400_and_nothing_runs(tenant_a, keyword):
    client = client_of(make_actor(tenant_a, KEYWORD_CODES))
    response = client.post(try_url("testkeyword", keyword), {"arguments": {"prices": "x"}},
                           format="json")
    fields = assert_field_errors(response, ["arguments"])
    assert "prices" in str(fields["arguments"])
    response = client.post(try_url("testkeyword", keyword), {"arguments": [1]}, format="json")
    assert_field_errors(response, ["arguments"])


def test_an_error_of_the_code_is_an_answer_with_the_users_lines(tenant_a):
    function = function_of(tenant_a, "class Text:\n    def up(self, word):\n"
                                     "        return word.nope()\n")
    client = client_of(make_actor(tenant_a, FUNCTION_CODES))
    body = client.post(try_url("testglobalfunction", function), {"arguments": {"word": "a"}},
                       format="json").json()
    assert body["ok"] is False
    assert body["error"] == "AttributeError: 'str' object has no attribute 'nope'"
    assert 'File "<function Text.up>", line 3, in up' in body["traceback"]


def test_trying_needs_the_update_permission(tenant_a, keyword):
    client = client_of(make_actor(tenant_a, ["keyword:view"]))
    response = client.post(try_url("testkeyword", keyword), {"arguments": {"prices": []}},
                           format="json")
    assert_error(response, 403)


def test_another_tenants_code_is_404_and_each_tenant_runs_its_own(tenant_a, tenant_b):
    mine = function_of(tenant_a)
    theirs = function_of(tenant_b, "class Text:\n    def up(self, word):\n"
                                   "        return 'tenant B'\n")
    client_a = client_of(make_actor(tenant_a, FUNCTION_CODES))
    client_b = client_of(make_actor(tenant_b, FUNCTION_CODES))
    assert_error(client_a.post(try_url("testglobalfunction", theirs),
                               {"arguments": {"word": "x"}}, format="json"), 404)
    assert client_a.post(try_url("testglobalfunction", mine), {"arguments": {"word": "x"}},
                         format="json").json()["value"] == "X"
    assert client_b.post(try_url("testglobalfunction", theirs), {"arguments": {"word": "x"}},
                         format="json").json()["value"] == "tenant B"


def test_a_breached_limit_is_an_answer_and_the_next_call_works(tenant_a, settings):
    settings.SANDBOX_CPU_SECONDS = 1
    function = function_of(tenant_a, "class Text:\n    def up(self, word):\n"
                                     "        while True:\n            pass\n")
    client = client_of(make_actor(tenant_a, FUNCTION_CODES))
    body = client.post(try_url("testglobalfunction", function), {"arguments": {"word": "x"}},
                       format="json").json()
    assert body == {**body, "ok": False, "limit_exceeded": True,
                    "error": "exceeded 1 s of CPU time"}
    other = f.make(GlobalFunction, tenant_a, class_name="Other", method_name="one",
                   code="class Other:\n    @staticmethod\n    def one():\n        return 1\n")
    assert client.post(try_url("testglobalfunction", other), {"arguments": {}},
                               format="json").json()["value"] == 1


def test_without_the_barrier_the_answer_is_a_503_naming_it(tenant_a, keyword, settings):
    saved = dict(sandbox._state)
    sandbox._state.update(barrier=None, pool=None)
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    try:
        response = client_of(make_actor(tenant_a, KEYWORD_CODES)).post(
            try_url("testkeyword", keyword), {"arguments": {"prices": []}}, format="json")
    finally:
        sandbox._state.update(saved)
    error = assert_error(response, 503, "sandbox_unavailable")
    assert "bubblewrap (/nonexistent/bwrap) is not installed" in error["message"]
