"""Form fields for lists of codes typed one per line: API keys' scopes and allowed
addresses, and the required scopes of API endpoints and MCP tools."""

from __future__ import annotations

import json
import re

from django import forms
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models.api_keys import validate_scopes


class CodeListField(forms.Field):
    """A list of short codes typed one per line (or separated by commas or spaces)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if value in self.empty_values:
            return []
        if isinstance(value, (list, tuple)):
            return [str(item).strip() for item in value if str(item).strip()]
        return [item for item in re.split(r"[\s,]+", str(value)) if item]


class ScopeListField(CodeListField):
    """Permission codes (``resource:action``) one per line, checked as API keys' scopes are.

    Stored as a JSON list; a raw JSON textarea asked operators for brackets and quotes
    where an API key's form asks for one code per line (issue 17, item 7).
    """

    default_validators = [validate_scopes]

    def to_python(self, value) -> list[str]:
        # A JSON list, as the field used to be typed (and as the API takes it), still reads.
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return super().to_python([str(item) for item in parsed])
        return super().to_python(value)


def scope_list_formfield(db_field, **kwargs) -> ScopeListField:
    """Return the form field of a ``required_scopes`` model field (a JSON list), one code
    per line, with the model field's label and help."""
    return ScopeListField(
        label=capfirst(db_field.verbose_name),
        required=False,
        help_text=format_lazy("{} {}", db_field.help_text, _("One per line, e.g. user:view.")),
        **kwargs,
    )
