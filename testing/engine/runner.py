"""The step loop of one scenario run: steps, retries, checkpoints, pause and terminate.

``run_scenario(spec, sink, ...)`` runs the steps of ``spec`` from ``checkpoint.position``
(0 for a new run). After every step it hands the sink the step's result and a way to take
the checkpoint (the next position, the variables extracted so far, the cookies, the last
response), which the sink takes when it stores a batch, so a paused run resumes exactly
there and a run whose worker died continues on another worker without running a stored
step again. Between steps it asks the sink what to do (run, pause,
terminate), so a terminate takes effect within one step.

Nothing raises out of it for a problem of the test: a bad URL, an undefined variable, an
unknown comparator, a SQL error or a refused address fails its step with a readable message.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from collections.abc import Callable
from typing import Any, Protocol

from django.utils.translation import gettext_noop

from core.outbound import OutboundError, Policy, Session
from testing.engine import checks, extract, spec as S, sql, usercode, variables
from testing.engine.messages import Message, data_of, message, of_exception
from testing.engine.variables import VariablePool

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
RUN, PAUSE, TERMINATE = "run", "pause", "terminate"
# Assertion types and the response part each reads.
# A status, a response time and a length are numbers: an expected value given as text (a
# CSV cell, "{{code}}" of a text variable) that reads as a number is compared as one.
NUMERIC_SOURCES = frozenset({"status_code", "response_time"})
LENGTH_COMPARATORS = frozenset({"len_eq", "len_gt", "len_ge", "len_lt", "len_le"})
ASSERTION_SOURCES = {"status_code": "status_code", "json": "json", "header": "header",
                     "body": "body", "response_time": "response_time", "rows": "rows",
                     "cookie": "cookie", "regex": "regex"}


@dataclass
class StepResult:
    """What one step did, ready to store (secrets masked)."""

    position: int
    key: str
    title: str
    action: str
    status: str = PASSED
    attempts: int = 1
    flaky: bool = False
    request: dict | None = None
    response: dict | None = None
    variables: dict = field(default_factory=dict)
    extracted: dict = field(default_factory=dict)
    assertions: list[dict] = field(default_factory=list)
    error: str = ""
    # The error's msgid and parameters (``messages.Message.as_data``), to show it in the
    # reader's language; None when the error has no message id.
    error_i18n: dict | None = None
    started_at: float = 0.0           # epoch seconds
    duration_ms: float = 0.0


@dataclass
class Checkpoint:
    """Where a scenario run stands after a step: enough to continue it anywhere."""

    position: int = 0
    variables: dict = field(default_factory=dict)
    cookies: list[dict] = field(default_factory=list)
    last_response: dict | None = None
    passed: int = 0
    failed: int = 0

    def as_data(self) -> dict:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict | None) -> Checkpoint:
        return cls(**data) if data else cls()


@dataclass
class RunOutcome:
    """How a scenario run ended: passed, failed, error, paused or terminated."""

    status: str
    error: str = ""
    checkpoint: Checkpoint | None = None


class Sink(Protocol):
    """Where results go, and where control comes from."""

    def record(self, result: StepResult, checkpoint: Callable[[], Checkpoint]) -> None:
        """Keep ``result``; ``checkpoint()`` gives where the run stands after it (call it
        when storing: it is the state after the latest step recorded)."""

    def control(self) -> str: ...


class StepFailed(Exception):
    """A step that cannot complete, with the readable reason."""


def _response_data(answer) -> extract.ResponseData:
    return extract.ResponseData(status=answer.status, headers=answer.headers, cookies={},
                                text=answer.text(), elapsed_ms=answer.elapsed_ms)


def _stored_response(data: extract.ResponseData, limit: int, truncated: bool) -> dict:
    body = data.text
    cut = len(body.encode("utf-8")) > limit
    if cut:
        body = body.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return {"status": data.status, "headers": [list(pair) for pair in data.headers],
            "body": body, "body_truncated": cut or truncated,
            "elapsed_ms": round(data.elapsed_ms, 2), "rows": data.rows}


def _as_number(value: Any) -> Any:
    """Return ``value`` as an int or float when it is text that reads as one exactly."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return value
    return number if number == number and abs(number) != float("inf") else value


class ScenarioRunner:
    """Runs one ``ScenarioRunSpec``; one instance per scenario run."""

    def __init__(self, spec: S.ScenarioRunSpec, sink: Sink, *, policy: Policy,
                 checkpoint: Checkpoint | None = None, sleep=time.sleep) -> None:
        self.spec = spec
        self.sink = sink
        self.policy = policy
        self.sleep = sleep
        self.checkpoint = checkpoint or Checkpoint()
        self.position = self.checkpoint.position
        self.passed = self.checkpoint.passed
        self.failed = self.checkpoint.failed
        self.pool = VariablePool(spec.layers, secrets=spec.secrets, labels=spec.labels,
                                 functions=usercode.FunctionTable(spec.functions))
        self.pool.restore(self.checkpoint.variables)
        self.session = Session(policy, what="test run", verify=spec.settings.verify_tls)
        self.session.restore_cookies(self.checkpoint.cookies)
        self.databases = sql.Connections(spec.databases, policy, spec.settings.timeout)
        self.last: extract.ResponseData | None = None
        if self.checkpoint.last_response:
            stored = self.checkpoint.last_response
            self.last = extract.ResponseData(
                status=stored["status"], headers=[tuple(p) for p in stored["headers"]],
                cookies={}, text=stored["body"], elapsed_ms=stored["elapsed_ms"],
                rows=stored.get("rows"))

    # The loop

    def run(self) -> RunOutcome:
        try:
            return self._run()
        finally:
            self.session.close()
            self.databases.close()

    def _steps(self) -> list[S.StepSpec]:
        steps = list(self.spec.steps)
        if self.spec.pre_sql.strip():
            steps.insert(0, S.StepSpec(key="pre_sql",
                                       title=message(gettext_noop("SQL before the steps")),
                                       action=S.SQL, params={"database": self.spec.database,
                                                             "sql": self.spec.pre_sql,
                                                             "writes": True}))
        return steps

    def _run(self) -> RunOutcome:
        steps = self._steps()
        outcome_status = FAILED if self.checkpoint.failed else PASSED
        error = ""
        while self.position < len(steps):
            command = self.sink.control()
            if command == PAUSE:
                return RunOutcome("paused", checkpoint=self.current_checkpoint())
            if command == TERMINATE:
                return RunOutcome("terminated",
                                  error=message(gettext_noop("Terminated on request.")),
                                  checkpoint=self.current_checkpoint())
            step = steps[self.position]
            result = self._run_with_retries(step, self.position)
            stop = result.status in (FAILED, ERROR) and not self._soft_only(result)
            self.position += 1
            if result.status == PASSED:
                self.passed += 1
            else:
                self.failed += 1
                outcome_status = FAILED
                error = error or self._step_error(result)
            if stop:
                # The steps after a hard failure are skipped: the run ends here.
                self.position = len(steps)
            self.sink.record(result, self.current_checkpoint)
        post = self._post_sql()
        if post is not None and post.status != PASSED:
            outcome_status = FAILED
            error = error or self._step_error(post)
        return RunOutcome(outcome_status, error=error, checkpoint=self.current_checkpoint())

    @staticmethod
    def _step_error(result: StepResult) -> str:
        """Return the run's error for its failed step ``result``: "title: error"."""
        error = Message.from_data(result.error_i18n) if result.error_i18n else result.error
        return message(gettext_noop("%(step)s: %(error)s"), step=result.title, error=error)

    def current_checkpoint(self) -> Checkpoint:
        """Return where the run stands now."""
        return Checkpoint(
            position=self.position, variables=self.pool.snapshot(),
            cookies=self.session.saved_cookies(),
            last_response=(_stored_response(self.last, self.spec.settings.stored_body_bytes,
                                            False) if self.last else None),
            passed=self.passed, failed=self.failed)

    def _post_sql(self) -> StepResult | None:
        if not self.spec.post_sql.strip():
            return None
        step = S.StepSpec(key="post_sql", title=message(gettext_noop("SQL after the steps")),
                          action=S.SQL,
                          params={"database": self.spec.database, "sql": self.spec.post_sql,
                                  "writes": True})
        result = self._run_with_retries(step, self.position)
        self.sink.record(result, self.current_checkpoint)
        return result

    @staticmethod
    def _soft_only(result: StepResult) -> bool:
        """Return whether every failure of the step is a soft assertion's."""
        if result.status == ERROR or result.error and not result.assertions:
            return False
        failed = [a for a in result.assertions if not a["passed"]]
        return bool(failed) and all(a.get("soft") for a in failed)

    def _run_with_retries(self, step: S.StepSpec, position: int) -> StepResult:
        attempts = 0
        while True:
            attempts += 1
            result = self._run_step(step, position)
            result.attempts = attempts
            if result.status == PASSED or attempts > step.retries:
                result.flaky = result.status == PASSED and attempts > 1
                return result
            self.sleep(self.spec.settings.retry_backoff * 2 ** (attempts - 1))

    def _run_step(self, step: S.StepSpec, position: int) -> StepResult:
        result = StepResult(position=position, key=step.key, title=step.title,
                            action=step.action, started_at=time.time())
        started = time.monotonic()
        pool = self.pool
        if step.variables:
            # A step's own variables act at the scenario's level, under the plan's overrides.
            pool = pool.with_layer("scenario", {**pool.layer("scenario"), **step.variables})
        try:
            self._perform(step, pool, result)
        except usercode.UserCodeError as exc:
            # A keyword that raised AssertionError failed a check; any other error is an error.
            result.status = FAILED if exc.assertion else ERROR
            result.error = of_exception(exc)
        except (StepFailed, variables.UndefinedVariable, variables.TemplateError,
                checks.CheckError, extract.ExtractError, sql.SqlError, OutboundError) as exc:
            result.status = ERROR
            result.error = of_exception(exc)
        except Exception as exc:  # noqa: BLE001 (a driver's error: the step fails, the run goes on)
            result.status = ERROR
            result.error = sql.reason(exc, S.DatabaseSpec("", "", "", 0, "", ""))
        if step.variables and pool is not self.pool:
            self.pool.restore(pool.snapshot())
        if result.status == PASSED and any(not a["passed"] for a in result.assertions):
            result.status = FAILED
            failed = [a for a in result.assertions if not a["passed"]]
            result.error = failed[0]["message"]
        result.error_i18n = data_of(result.error)
        result.duration_ms = round((time.monotonic() - started) * 1000, 2)
        # Masked once the step is done, so that a value it extracted as secret is hidden in
        # the response that brought it too.
        hidden = variables.secrets_to_hide(self.pool)
        if hidden:
            for name in ("request", "response", "variables", "extracted", "assertions",
                         "error", "error_i18n"):
                setattr(result, name, variables.mask(getattr(result, name), hidden))
        return result

    # Step actions

    def _perform(self, step: S.StepSpec, pool: VariablePool, result: StepResult) -> None:
        used: dict = {}
        result.variables = used
        if step.action == S.BROKEN:
            raise StepFailed(step.problem)
        if step.action == S.HTTP:
            self.last = self._http(step, pool, used, result)
        elif step.action == S.SQL:
            self.last = self._sql(step, pool, used, result)
        elif step.action == S.SET_VARIABLE:
            name = step.params["name"]
            value = variables.render(step.params.get("value"), pool, used)
            origin = message(gettext_noop("set at %(step)s"),
                             step=self.step_label(step, result.position))
            pool.set_value(name, value, origin)
            result.extracted = {name: self._mask_value(name, value, pool)}
            return
        elif step.action == S.CODE:
            self._code(step, pool, used, result)
            return
        elif step.action == S.WAIT:
            seconds = min(float(step.params.get("seconds", 0)), self.spec.settings.max_wait)
            self.sleep(seconds)
            return
        elif step.action not in (S.ASSERT, S.EXTRACT):
            raise StepFailed(message(gettext_noop("unknown step action %(action)s"),
                                     action=repr(step.action)))
        self._extract(step, pool, result)
        self._assert(step, pool, used, result)

    def step_label(self, step: S.StepSpec, position: int) -> Message:
        return message(gettext_noop("step %(number)s (%(title)s)"), number=position + 1,
                       title=step.title)

    def _http(self, step: S.StepSpec, pool: VariablePool, used: dict,
              result: StepResult) -> extract.ResponseData:
        request = variables.render(step.request, pool, used)
        method = str(request.get("method") or "GET").upper()
        url = self._url(str(request.get("url") or ""))
        params = [(p["name"], str(p["value"])) for p in request.get("query") or []
                  if p.get("enabled", True)]
        headers = [(p["name"], str(p["value"])) for p in request.get("headers") or []
                   if p.get("enabled", True)]
        kwargs: dict[str, Any] = {}
        body_type = request.get("body_type") or "none"
        body = request.get("body")
        content_type = request.get("content_type") or ""
        if body_type == "json":
            kwargs["content"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            content_type = content_type or "application/json"
        elif body_type == "form":
            kwargs["data"] = {p["name"]: str(p["value"]) for p in body or []
                              if p.get("enabled", True)}
        elif body_type == "multipart":
            kwargs["files"] = [(p["name"], (None, str(p["value"]))) for p in body or []
                               if p.get("enabled", True)]
        elif body_type == "raw":
            kwargs["content"] = str(body or "").encode("utf-8")
        if content_type and not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", content_type))
        timeout = float(request.get("timeout") or self.spec.settings.timeout)
        result.request = ({"method": method, "url": url, "query": params,
                                       "headers": headers, "body_type": body_type,
                                       "body": body})
        answer = self.session.send(method, url, headers=headers, params=params or None,
                                   timeout=timeout, **kwargs)
        data = _response_data(answer)
        data.cookies = self.session.cookies
        result.response = (_stored_response(
            data, self.spec.settings.stored_body_bytes, answer.truncated))
        return data

    def _url(self, url: str) -> str:
        if not url:
            raise StepFailed(message(gettext_noop("the request has no URL")))
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as exc:
            raise StepFailed(message(gettext_noop("the URL %(url)s is invalid: %(reason)s"),
                                     url=repr(url), reason=str(exc))) from None
        if parts.scheme:
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise StepFailed(message(gettext_noop("the URL %(url)s is not an http or https "
                                                      "URL"), url=repr(url)))
            return url
        if not self.spec.base_url:
            raise StepFailed(message(gettext_noop("the URL %(url)s is relative and the "
                                                  "environment has no base URL"), url=repr(url)))
        return self.spec.base_url.rstrip("/") + "/" + url.lstrip("/")

    def _sql(self, step: S.StepSpec, pool: VariablePool, used: dict,
             result: StepResult) -> extract.ResponseData:
        name = str(variables.render(step.params.get("database") or self.spec.database, pool,
                                    used) or "")
        text = str(step.params.get("sql") or "")
        if not text.strip():
            raise StepFailed(message(gettext_noop("the step has no SQL")))
        writes = bool(step.params.get("writes"))
        db, connection = self.databases.get(name)

        def value_of(reference: str) -> Any:
            return variables.render(reference, pool, used)

        texts = sql.split(text)
        if not writes and len(texts) > 1:
            raise StepFailed(message(gettext_noop(
                "a step that does not write runs one statement; this one has %(count)s (say "
                "that it writes, or split it)"), count=len(texts)))
        statements = [sql.bind(statement, value_of) for statement in texts]
        result.request = ({"database": name, "sql": text,
                                       "params": [p for _s, ps in statements for p in ps],
                                       "writes": writes})
        started = time.monotonic()
        try:
            rows, count, truncated = sql.execute(
                connection, db.db_type, statements, writes=writes,
                timeout=self.spec.settings.statement_timeout,
                max_rows=self.spec.settings.max_rows)
        except Exception as exc:  # noqa: BLE001 (each driver has its own errors)
            raise sql.SqlError(sql.reason(exc, db)) from None
        elapsed = (time.monotonic() - started) * 1000
        data = extract.ResponseData(status=0, headers=[], cookies={}, text="",
                                    elapsed_ms=elapsed, rows=rows)
        target = step.params.get("variable")
        if target:
            origin = message(gettext_noop("rows of %(step)s"),
                             step=self.step_label(step, result.position))
            pool.set_extracted(target, rows, origin)
            result.extracted = {target: self._mask_value(target, rows, pool)}
        result.response = ({"status": 0, "headers": [], "body": "",
                                        "body_truncated": False, "rows": rows,
                                        "rows_truncated": truncated, "row_count": count,
                                        "elapsed_ms": round(elapsed, 2)})
        return data

    def _code(self, step: S.StepSpec, pool: VariablePool, used: dict,
              result: StepResult) -> None:
        """Call a project's keyword in the sandbox with the step's rendered parameters.

        An assertion keyword fails the step by raising AssertionError or returning False;
        an extract keyword returns an object whose entries become variables; any keyword's
        return value is shown in the result.
        """
        code = step.user_code
        if code is None:
            raise StepFailed(message(gettext_noop("the step names no keyword code")))
        what = message(gettext_noop("the keyword %(name)s"), name=code.name)
        arguments, tainted = {}, {}
        for name, value in (step.params or {}).items():
            arguments[name], tainted[name] = variables.render_tainted(value, pool, used)
        if code.takes_response:
            response = None
            if self.last is not None:
                try:
                    body = self.last.json
                except extract.ExtractError:
                    body = None
                # Rows may hold decimals and dates: they reach the code as text, as in results.
                response = json.loads(json.dumps(
                    {"status": self.last.status, "headers": dict(self.last.headers),
                     "text": self.last.text, "json": body,
                     "elapsed_ms": round(self.last.elapsed_ms, 2), "rows": self.last.rows},
                    default=str))
                if "response" not in code.secret_parameters:
                    # The service may have echoed a secret: it reaches the keyword masked.
                    response = variables.masked(response, pool)
            arguments["response"] = response
        usercode.refuse_secrets(what, tainted, set(code.secret_parameters))
        result.request = {"keyword": code.name, "arguments": {
            name: variables.MASK if tainted.get(name) else value
            for name, value in arguments.items() if name != "response"}}
        outcome = usercode.run(code.code, code.entry, kwargs=arguments,
                               filename=code.filename, what=what)
        result.response = {"value": outcome.value if outcome.ok else None,
                           "output": outcome.output, "duration_ms": outcome.duration_ms,
                           "cpu_ms": outcome.cpu_ms}
        if not outcome.ok:
            raise usercode.failure(what, outcome)
        value = outcome.value
        if code.keyword_type == "assertion" and value is False:
            raise usercode.UserCodeError(message(gettext_noop("%(what)s returned False"),
                                                 what=what), assertion=True)
        if code.keyword_type == "extract":
            if not isinstance(value, dict):
                raise usercode.UserCodeError(message(gettext_noop(
                    "%(what)s is an extract keyword: it returns an object of variable names "
                    "and values, not %(type)s"), what=what, type=type(value).__name__))
            label = message(gettext_noop("%(what)s at %(step)s"), what=what,
                            step=self.step_label(step, result.position))
            for name, found in value.items():
                try:
                    pool.set_extracted(name, found, label)
                except ValueError as exc:
                    raise usercode.UserCodeError(message(gettext_noop(
                        "%(what)s returned %(error)s"), what=what,
                        error=of_exception(exc))) from None
                result.extracted[name] = self._mask_value(name, found, pool)

    def _extract(self, step: S.StepSpec, pool: VariablePool, result: StepResult) -> None:
        if not step.extractors:
            return
        if self.last is None:
            raise StepFailed(message(gettext_noop("there is no response to extract from yet")))
        label = self.step_label(step, result.position)
        for extractor in step.extractors:
            found = extract.extract(extractor, self.last, step_label=label)
            secret = bool(extractor.get("secret"))
            pool.set_extracted(found.name, found.value, found.origin, secret=secret)
            result.extracted[found.name] = self._mask_value(found.name, found.value, pool)

    def _assert(self, step: S.StepSpec, pool: VariablePool, used: dict,
                result: StepResult) -> None:
        for assertion in step.assertions:
            if assertion.get("enabled") is False:
                continue
            comparator = checks.canonical(assertion["operator"])
            kind = assertion.get("type", "json")
            expression = assertion.get("expression")
            if kind == "value":  # assert_equal: compare a rendered value
                actual = variables.render(assertion.get("actual"), pool, used)
            else:
                if self.last is None:
                    raise StepFailed(message(gettext_noop("there is no response to check yet")))
                source = ASSERTION_SOURCES.get(kind)
                if source is None:
                    raise StepFailed(message(gettext_noop("unknown assertion type %(type)s"),
                                             type=repr(kind)))
                if kind == "body" and expression:
                    source = "regex"
                actual = extract.select(source, expression, self.last)
            expected = (None if comparator in checks.NO_EXPECTED
                        else variables.render(assertion.get("expected_value"), pool, used))
            if kind in NUMERIC_SOURCES or comparator in LENGTH_COMPARATORS:
                expected = _as_number(expected)
            outcome = checks.compare(comparator, actual, expected)
            where = f"{kind} {expression}" if expression else kind
            said = message(gettext_noop("%(where)s: %(outcome)s"), where=where,
                           outcome=outcome.message)
            result.assertions.append(({
                "type": kind, "expression": expression or "", "operator": comparator,
                "expected": expected, "actual": None if actual is checks.MISSING else actual,
                "found": actual is not checks.MISSING, "passed": outcome.passed,
                "soft": bool(assertion.get("soft")),
                "message": said, "message_i18n": said.as_data(),
            }))

    # Masking

    @staticmethod
    def _mask_value(name: str, value: Any, pool: VariablePool) -> Any:
        return variables.MASK if pool.is_secret(name) else value


def run_scenario(spec: S.ScenarioRunSpec, sink: Sink, *, policy: Policy,
                 checkpoint: Checkpoint | None = None, sleep=time.sleep) -> RunOutcome:
    """Run ``spec`` from ``checkpoint`` and report every step to ``sink``."""
    return ScenarioRunner(spec, sink, policy=policy, checkpoint=checkpoint, sleep=sleep).run()
