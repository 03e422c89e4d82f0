"""The form of the "try it" panels: sample arguments (a JSON object) and, for a keyword that
takes the last response, a sample response (any JSON value, optional).

The form reads JSON only; whether the arguments match the parameter docs is decided by the
service (``testing.services.usercode``), whose ``ValidationError`` the view adds to this
form, so what the tester typed stays in the fields either way.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from testing.forms import json_area


def _refuse_constant(name: str) -> Any:
    """Refuse ``NaN`` and ``Infinity``, which ``json`` reads but JSON does not have."""
    raise ValueError(name)


def parse_json(text: str) -> Any:
    """Return the JSON value of ``text``; raise ``ValidationError`` saying where it breaks."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _("This is not valid JSON: %(reason)s (line %(line)s, column %(column)s)."),
            code="json", params={"reason": exc.msg, "line": exc.lineno, "column": exc.colno},
        ) from None
    except ValueError as exc:
        raise ValidationError(_("JSON has no %(value)s; enter a number or null."),
                              code="json", params={"value": str(exc)}) from None


class TryForm(forms.Form):
    """Sample arguments (and a sample response) for one call of a tester's code."""

    arguments = forms.CharField(
        label=_("Arguments"), strip=False, widget=json_area(8),
        help_text=_("A JSON object: each parameter by name. Prefilled from the parameter "
                    "docs (the defaults, or an empty value of each type)."))
    response = forms.CharField(
        label=_("Sample response"), required=False, strip=False, widget=json_area(8),
        help_text=_('What the keyword receives as "response" in a step: the last response '
                    "as status, headers, text, json, elapsed_ms and rows. Leave empty for "
                    "none (a step before any request)."))

    def __init__(self, *args: Any, takes_response: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "try")
        super().__init__(*args, **kwargs)
        if not takes_response:
            del self.fields["response"]

    def clean_arguments(self) -> dict:
        """Return the arguments as a dict; refuse text that is not a JSON object."""
        value = parse_json(self.cleaned_data["arguments"])
        if not isinstance(value, dict):
            raise ValidationError(_("Enter the arguments as a JSON object, such as "
                                    '{"name": "value"}.'), code="object")
        return value

    def clean_response(self) -> Any:
        """Return the sample response's JSON value, or ``None`` when left empty."""
        text = self.cleaned_data.get("response") or ""
        return parse_json(text) if text.strip() else None

    def full_clean(self) -> None:
        """Validate, then point each invalid input at its errors (as the other forms do)."""
        super().full_clean()
        self.describe_errors()

    def add_error(self, field: str | None, error: Any) -> None:
        """Add an error (also the service's, after validation) and point the input at it."""
        super().add_error(field, error)
        self.describe_errors()

    def describe_errors(self) -> None:
        """Link each invalid input to its error and help text; focus the first one."""
        if self._errors is None:
            return
        invalid = [name for name in self.fields if name in self._errors]
        for name in self.fields:
            self.fields[name].widget.attrs.pop("autofocus", None)
        for index, name in enumerate(invalid):
            bound = self[name]
            attrs = self.fields[name].widget.attrs
            if index == 0:
                attrs["autofocus"] = True
            described = [f"{bound.auto_id}_error"]
            if self.fields[name].help_text:
                described.append(f"{bound.auto_id}_helptext")
            attrs["aria-describedby"] = " ".join(described)
