"""The engine's step loop against a real HTTP server on loopback (no database, no mocks).

A list sink stands in for the database sink: the engine takes any object with ``record``
and ``control``, which is what lets it run without the ORM.
"""

from __future__ import annotations

import pytest

from core.outbound import Policy, parse_networks
from testing.engine import runner, spec as S
from testing.engine.runner import Checkpoint, run_scenario
from testing.tests.conftest import as_stored_in_english
from testing.tests.http_target import TOKEN

LOOPBACK = Policy(allowed_networks=parse_networks(("127.0.0.0/8",)))



class ListSink:
    """Keeps results in memory; can ask for a pause or terminate before a given step."""

    def __init__(self, stop_before: int | None = None, command: str = runner.PAUSE) -> None:
        self.results: list[runner.StepResult] = []
        self.checkpoints: list[Checkpoint] = []
        self.stop_before = stop_before
        self.command = command

    def record(self, result, checkpoint) -> None:
        self.results.append(result)
        self.checkpoints.append(checkpoint())

    def control(self) -> str:
        if self.stop_before is not None and len(self.results) == self.stop_before:
            return self.command
        return runner.RUN


def http(key, url, *, method="GET", assertions=(), extractors=(), body_type="none", body=None,
         headers=(), retries=0, **request):
    return S.StepSpec(key=key, title=key, action=S.HTTP, retries=retries,
                      request={"method": method, "url": url, "body_type": body_type,
                               "body": body, "headers": list(headers), **request},
                      assertions=list(assertions), extractors=list(extractors))


def scenario(target, steps, **fields) -> S.ScenarioRunSpec:
    settings = S.RunSettings(retry_backoff=0.01, timeout=5)
    return S.ScenarioRunSpec(name="s", steps=steps, base_url=target.url, settings=settings,
                             **fields)


def status_is(code, soft=False):
    return {"type": "status_code", "operator": "eq", "expected_value": code, "soft": soft}


def test_a_token_extracted_at_one_step_authorises_the_next(target):
    steps = [
        http("login", "/login", method="POST", body_type="json",
             body={"username": "tester", "password": "{{password}}"},
             extractors=[{"name": "token", "source": "json", "expression": "$.token"}],
             assertions=[status_is(200)]),
        http("me", "/me", headers=[{"name": "Authorization", "value": "Bearer {{token}}"}],
             assertions=[status_is(200),
                         {"type": "json", "expression": "$.username", "operator": "eq",
                          "expected_value": "tester"}]),
    ]
    sink = ListSink()
    outcome = run_scenario(scenario(target, steps, layers={"environment": {"password": "s3cret"}},
                                    secrets=["password"]), sink, policy=LOOPBACK)
    assert outcome.status == "passed", [r.error for r in sink.results]
    login, me = sink.results
    assert login.request["body"] == {"username": "tester", "password": "••••••"}
    assert as_stored_in_english(login.variables["password"]) == {"value": "••••••",
                                                                 "origin": "environment"}
    assert login.extracted == {"token": TOKEN}
    assert me.variables["token"]["origin"] == "extracted at step 1 (login) `$.token`"
    assert [a["passed"] for a in me.assertions] == [True, True]


def test_an_undefined_variable_fails_the_step_naming_it_and_the_layers(target):
    sink = ListSink()
    outcome = run_scenario(scenario(target, [http("a", "/anything/{{nope}}")]), sink,
                           policy=LOOPBACK)
    assert outcome.status == "failed"
    (result,) = sink.results
    assert result.status == "error"
    assert "undefined variable 'nope'" in result.error
    assert "dataset row" in result.error and "project globals" in result.error


def test_a_hard_failure_stops_the_scenario_and_a_soft_one_does_not(target):
    steps = [http("soft", "/status/404", assertions=[status_is(200, soft=True)]),
             http("hard", "/status/500", assertions=[status_is(200)]),
             http("never", "/json")]
    sink = ListSink()
    outcome = run_scenario(scenario(target, steps), sink, policy=LOOPBACK)
    assert outcome.status == "failed"
    assert [r.key for r in sink.results] == ["soft", "hard"]
    assert sink.results[1].error == "status_code: expected eq 200, got 500"
    assert sink.checkpoints[-1].position == 3  # the rest is skipped, the run has ended


def test_a_refused_address_fails_the_step_and_sends_nothing(target):
    before = target.hits["/json"]
    sink = ListSink()
    outcome = run_scenario(scenario(target, [http("a", "/json")]), sink, policy=Policy())
    assert outcome.status == "failed"
    assert sink.results[0].status == "error"
    assert "does not call" in sink.results[0].error
    assert target.hits["/json"] == before


def test_the_metadata_address_is_refused_even_when_every_network_is_allowed(target):
    everything = Policy(allowed_networks=parse_networks(("0.0.0.0/0",)))
    sink = ListSink()
    run_scenario(scenario(target, [http("a", "http://169.254.169.254/latest/meta-data/")]),
                 sink, policy=everything)
    assert sink.results[0].status == "error"
    assert "does not call" in sink.results[0].error


def test_a_flaky_step_is_retried_and_marked(target):
    sink = ListSink()
    outcome = run_scenario(scenario(target, [http("f", "/flaky/k1/2", retries=3,
                                                  assertions=[status_is(200)])]),
                           sink, policy=LOOPBACK)
    assert outcome.status == "passed"
    assert (sink.results[0].attempts, sink.results[0].flaky) == (3, True)


def test_cookies_are_kept_across_the_steps_of_a_run(target):
    steps = [http("set", "/cookies/set", query=[{"name": "session", "value": "abc"}]),
             http("read", "/cookies", assertions=[
                 {"type": "json", "expression": "$.cookies.session", "operator": "eq",
                  "expected_value": "abc"}])]
    sink = ListSink()
    assert run_scenario(scenario(target, steps), sink, policy=LOOPBACK).status == "passed"


def test_a_paused_run_resumes_at_its_checkpoint_with_its_variables_and_cookies(target):
    steps = [http("set", "/cookies/set", query=[{"name": "session", "value": "xyz"}]),
             http("login", "/login", method="POST", body_type="json",
                  body={"password": "s3cret"},
                  extractors=[{"name": "token", "source": "json", "expression": "token"}]),
             http("me", "/me", headers=[{"name": "Authorization",
                                         "value": "Bearer {{token}}"}],
                  assertions=[status_is(200)]),
             http("cookies", "/cookies", assertions=[
                 {"type": "json", "expression": "$.cookies.session", "operator": "eq",
                  "expected_value": "xyz"}])]
    first = ListSink(stop_before=2)
    paused = run_scenario(scenario(target, steps), first, policy=LOOPBACK)
    assert paused.status == "paused"
    assert [r.key for r in first.results] == ["set", "login"]
    # A new runner (another worker) continues from the stored checkpoint, through JSON.
    import json
    stored = json.loads(json.dumps(first.checkpoints[-1].as_data()))
    second = ListSink()
    done = run_scenario(scenario(target, steps), second, policy=LOOPBACK,
                        checkpoint=Checkpoint.from_data(stored))
    assert done.status == "passed", [r.error for r in second.results]
    assert [r.key for r in second.results] == ["me", "cookies"]


def test_terminate_stops_before_the_next_step(target):
    sink = ListSink(stop_before=1, command=runner.TERMINATE)
    outcome = run_scenario(scenario(target, [http("a", "/json"), http("b", "/json")]), sink,
                           policy=LOOPBACK)
    assert outcome.status == "terminated"
    assert [r.key for r in sink.results] == ["a"]


@pytest.mark.parametrize("url, reason", [
    ("ftp://example.org/x", "not an http or https URL"),
    ("", "no URL"),
    ("http://[::1", "is invalid: Invalid IPv6 URL"),
])
def test_a_malformed_url_fails_its_step_readably(target, url, reason):
    sink = ListSink()
    run_scenario(scenario(target, [http("a", url)]), sink, policy=LOOPBACK)
    assert reason in sink.results[0].error


def test_an_unknown_comparator_and_a_non_json_body_fail_their_step(target):
    steps = [http("a", "/json", assertions=[{"type": "json", "expression": "$.message",
                                              "operator": "sounds_like", "expected_value": 1}])]
    sink = ListSink()
    run_scenario(scenario(target, steps), sink, policy=LOOPBACK)
    assert "unknown comparator 'sounds_like'" in sink.results[0].error
    steps = [http("b", "/html", extractors=[{"name": "x", "source": "json",
                                              "expression": "$.a"}])]
    sink = ListSink()
    run_scenario(scenario(target, steps), sink, policy=LOOPBACK)
    assert "the body is not JSON" in sink.results[0].error


def test_a_broken_step_fails_with_its_problem_and_the_run_ends(target):
    steps = [S.StepSpec(key="x", title="x", action=S.BROKEN,
                        problem="The interface of this step was deleted."),
             http("b", "/json")]
    sink = ListSink()
    outcome = run_scenario(scenario(target, steps), sink, policy=LOOPBACK)
    assert outcome.status == "failed"
    assert [r.error for r in sink.results] == ["The interface of this step was deleted."]


def test_body_kinds_reach_the_server(target):
    steps = [
        http("form", "/anything", method="POST", body_type="form",
             body=[{"name": "a", "value": "{{x}}"}],
             assertions=[{"type": "json", "expression": "$.form.a", "operator": "eq",
                          "expected_value": "1"}]),
        http("raw", "/anything", method="PUT", body_type="raw", body="plain {{x}}",
             content_type="text/plain",
             assertions=[{"type": "json", "expression": "$.data", "operator": "eq",
                          "expected_value": "plain 1"},
                         {"type": "json", "expression": "$.headers.Content-Type",
                          "operator": "eq", "expected_value": "text/plain"}]),
        http("multipart", "/anything", method="POST", body_type="multipart",
             body=[{"name": "field", "value": "v"}],
             assertions=[{"type": "json", "expression": "$.data", "operator": "contains",
                          "expected_value": 'name="field"'}]),
        http("json", "/anything", method="PATCH", body_type="json", body={"n": "{{x}}"},
             assertions=[{"type": "json", "expression": "$.json.n", "operator": "eq",
                          "expected_value": 1}]),
    ]
    sink = ListSink()
    outcome = run_scenario(scenario(target, steps, layers={"scenario": {"x": 1}}), sink,
                           policy=LOOPBACK)
    assert outcome.status == "passed", [(r.key, r.error) for r in sink.results]


def test_redirects_are_followed_and_checked_on_every_hop(target):
    inner = f"{target.url}/json"
    ok = [http("r", "/redirect-to", query=[{"name": "url", "value": inner}],
               assertions=[status_is(200)])]
    sink = ListSink()
    assert run_scenario(scenario(target, ok), sink, policy=LOOPBACK).status == "passed"
    metadata = [http("r", "/redirect-to", query=[
        {"name": "url", "value": "http://169.254.169.254/latest/meta-data/"}])]
    sink = ListSink()
    run_scenario(scenario(target, metadata), sink, policy=LOOPBACK)
    assert "does not call" in sink.results[0].error


def test_a_response_body_is_stored_up_to_the_limit(target):
    spec = scenario(target, [http("big", "/bytes/5000")])
    spec.settings.stored_body_bytes = 1024
    sink = ListSink()
    run_scenario(spec, sink, policy=LOOPBACK)
    response = sink.results[0].response
    assert len(response["body"]) == 1024 and response["body_truncated"] is True


def test_keywords_set_assert_and_extract_on_the_last_response(target):
    steps = [
        http("get", "/json"),
        S.StepSpec(key="x", title="x", action=S.EXTRACT,
                   extractors=[{"name": "count", "source": "json",
                                "expression": "$.data.count"}]),
        S.StepSpec(key="s", title="s", action=S.SET_VARIABLE,
                   params={"name": "double", "value": "{{count}}{{count}}"}),
        S.StepSpec(key="a", title="a", action=S.ASSERT, assertions=[
            {"type": "value", "actual": "{{double}}", "operator": "eq",
             "expected_value": "33"},
            {"type": "json", "expression": "$.data.items", "operator": "len_eq",
             "expected_value": 2}]),
    ]
    sink = ListSink()
    outcome = run_scenario(scenario(target, steps), sink, policy=LOOPBACK)
    assert outcome.status == "passed", [(r.key, r.error) for r in sink.results]


def test_a_value_extracted_as_secret_is_masked_in_the_response_that_brought_it(target):
    steps = [http("login", "/login", method="POST", body_type="json",
                  body={"password": "s3cret"},
                  extractors=[{"name": "token", "source": "json", "expression": "$.token",
                               "secret": True}]),
             http("me", "/me", headers=[{"name": "Authorization",
                                         "value": "Bearer {{token}}"}],
                  assertions=[status_is(200)])]
    sink = ListSink()
    assert run_scenario(scenario(target, steps), sink, policy=LOOPBACK).status == "passed"
    login, me = sink.results
    assert TOKEN not in str(login.response) and "••••••" in login.response["body"]
    assert login.extracted == {"token": "••••••"}
    assert TOKEN not in str(me.request) and me.variables["token"]["value"] == "••••••"
    # The checkpoint keeps the real value (it is sealed at rest), so a resumed run sends it.
    assert sink.checkpoints[0].variables["extracted"]["token"]["value"] == TOKEN


def test_a_json_value_is_not_coerced_but_a_status_from_text_is(target):
    steps = [http("a", "/json", assertions=[
        {"type": "status_code", "operator": "eq", "expected_value": "200"},
        {"type": "json", "expression": "$.data.count", "operator": "eq",
         "expected_value": "3", "soft": True}])]
    sink = ListSink()
    run_scenario(scenario(target, steps), sink, policy=LOOPBACK)
    assert [a["passed"] for a in sink.results[0].assertions] == [True, False]
