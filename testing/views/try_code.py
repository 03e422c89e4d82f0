"""The "try it" panels of a keyword's and a global function's pages (issue 14): sample
arguments in, one call of the saved code in the sandbox, and out the value or the readable
error, what the code printed and the time it took.

The views (``testing.views.keywords``) need the ``update`` code of the row: running code is
more than reading it, and the people who may change the code are the ones who test it.
Nothing is stored; the operation log records the POST (the middleware does), with the
sample values masked, since a sample may be a real token.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core import sandbox
from testing.choices import KeywordType
from testing.forms_try import TryForm
from testing.models import GlobalFunction, Keyword
from testing.services import usercode

# The fields of the try form that the operation log masks (``log_masked_fields``).
MASKED_FIELDS = ("try-arguments", "try-response")

# An empty value of each JSON Schema type: what the tester replaces.
PLACEHOLDERS: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False,
                                "array": [], "object": {}, "null": None}

# What a keyword's ``response`` holds in a step (testing.engine.runner): the last response.
SAMPLE_RESPONSE = {"status": 200, "headers": {"Content-Type": "application/json"},
                   "text": '{"id": 1}', "json": {"id": 1}, "elapsed_ms": 12.5, "rows": None}


def pretty(value: Any) -> str:
    """Return ``value`` as indented JSON, non-ASCII text kept as it is."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def placeholder(schema: Any) -> Any:
    """Return a sample value for one parameter's JSON Schema: its default, else its first
    example or choice, else an empty value of its type (``None`` when untyped)."""
    if not isinstance(schema, dict):
        return None
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    for listed in ("examples", "enum"):
        if isinstance(schema.get(listed), list) and schema[listed]:
            return copy.deepcopy(schema[listed][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((name for name in kind if name != "null"), "null")
    return copy.deepcopy(PLACEHOLDERS.get(kind)) if isinstance(kind, str) else None


def sample_arguments(schema: Any, *, leave_out: str = "") -> dict:
    """Return sample arguments for an object's JSON Schema, one per property."""
    properties = (schema.get("properties") if isinstance(schema, dict) else None) or {}
    return {name: placeholder(docs) for name, docs in properties.items() if name != leave_out}


@dataclass
class Panel:
    """What the panel shows: the form, then (after a POST) the outcome or why none."""

    action: str
    form: TryForm
    outcome: sandbox.Outcome | None = None
    unavailable: str = ""
    status: int = 200
    note: str = ""

    @property
    def value_json(self) -> str:
        """The returned value as indented JSON (empty when the call failed)."""
        ok = self.outcome is not None and self.outcome.ok
        return pretty(self.outcome.value) if ok else ""

    @property
    def announcement(self) -> str:
        """What the live region says once a call has answered."""
        if self.unavailable:
            return _("The code could not run: the sandbox is not available.")
        if self.outcome is None:
            return _("The arguments were not accepted.") if self.form.errors else ""
        if self.outcome.ok:
            return _("The code returned a value in %(ms)s ms.") % {
                "ms": round(self.outcome.duration_ms)}
        return _("The code failed: %(error)s") % {"error": self.outcome.error}


def keyword_panel(keyword: Keyword, action: str, data: Any = None) -> Panel:
    """Return the panel of a keyword, bound to ``data`` when it was posted."""
    takes = usercode.takes_response(keyword.code, keyword.method_name)
    initial = {"arguments": pretty(sample_arguments(
        keyword.parameters, leave_out=usercode.RESPONSE_PARAMETER if takes else ""))}
    if takes:
        initial["response"] = pretty(SAMPLE_RESPONSE)
    form = TryForm(data, takes_response=takes, initial=initial)
    return Panel(action=action, form=form)


def function_panel(function: GlobalFunction, action: str, data: Any = None) -> Panel:
    """Return the panel of a global function, bound to ``data`` when it was posted."""
    schema = usercode.function_schema(
        function.parameters if isinstance(function.parameters, list) else [])
    form = TryForm(data, initial={"arguments": pretty(sample_arguments(schema))})
    return Panel(action=action, form=form)


def keyword_note(keyword: Keyword, outcome: sandbox.Outcome) -> str:
    """Return what a step would make of the value a keyword returned (its type's rules)."""
    if not outcome.ok:
        return ""
    if keyword.type == KeywordType.ASSERTION and outcome.value is False:
        return _("In a step, this fails the step: an assertion keyword that returns false "
                 "fails its check.")
    if keyword.type == KeywordType.EXTRACT and not isinstance(outcome.value, dict):
        return _("In a step, this fails the step: an extract keyword must return an object "
                 "whose entries become variables.")
    return ""


def run(panel: Panel, call: Callable[[dict, Any], sandbox.Outcome]) -> Panel:
    """Validate the posted form and make the call; record the outcome or the problem.

    Bad arguments (not JSON, not an object, not matching the parameter docs) are field
    errors and nothing runs (400). A sandbox that cannot start is a message naming what is
    missing (503). A call that ran answers 200, whether the code returned or failed.
    """
    form = panel.form
    if not form.is_valid():
        panel.status = 400
        return panel
    try:
        panel.outcome = call(form.cleaned_data["arguments"], form.cleaned_data.get("response"))
    except ValidationError as exc:
        form.add_error(None, exc)
        panel.status = 400
    except sandbox.SandboxUnavailable as exc:
        panel.unavailable = str(exc)
        panel.status = 503
    except sandbox.SandboxError as exc:
        form.add_error(None, _("The code cannot be called: %(reason)s") % {"reason": exc})
        panel.status = 400
    return panel


def try_keyword(keyword: Keyword, panel: Panel) -> Panel:
    """Run the keyword's saved code with the panel's sample arguments and response."""
    run(panel, lambda arguments, response: usercode.try_keyword(
        keyword, arguments, response=response))
    if panel.outcome is not None:
        panel.note = keyword_note(keyword, panel.outcome)
    return panel


def try_function(function: GlobalFunction, panel: Panel) -> Panel:
    """Run the global function's saved code with the panel's sample arguments."""
    return run(panel, lambda arguments, _response: usercode.try_function(function, arguments))
