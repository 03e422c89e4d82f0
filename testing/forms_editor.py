"""Forms of the interface editor and the scenario editor (issue 12, item 3).

The JSON fields of an interface (query, headers, a form body, assertions, extractors) and
a scenario's variables are edited as tables: one formset per field, one row form per item.
A row whose text cells are all empty is skipped, so "add a row" and then leaving it blank
changes nothing. Model validation runs once, in the view, over the whole row
(``full_clean``), and ``apply_errors`` puts each message beside the input it concerns, the
JSON path included (``assertions[1]: 'expected_value' is a required property``).

A step's parameters are edited in a form generated from the keyword's parameter docs (a
JSON Schema of an object): each property becomes an input chosen by its type, ``format:
json`` and objects and arrays a JSON textarea.

Values that may be any JSON (an assertion's expected value, a variable's value, an
untyped parameter) are typed as JSON when they parse (``200``, ``true``, ``["a", "b"]``,
``"200"``) and taken as text otherwise (``{{username}}``, ``hello``), so a tester types
what they mean without quoting every string.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _
from mptt.forms import TreeNodeChoiceField

from testing.engine import checks
from testing.models import DatabaseConfig, Interface, InterfaceFolder, Scenario
from testing.models.base import identifier_validator

# ---------------------------------------------------------------------------
# JSON values typed in text inputs
# ---------------------------------------------------------------------------


class Empty:
    """The value of an empty "JSON or text" input: nothing given (unlike a typed ``null``)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY = Empty()


def loose_value(text: str) -> Any:
    """Return ``text`` as the JSON value it spells, or as the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def show_loose(value: Any) -> str:
    """Return the text that ``loose_value`` reads back as ``value`` (``null`` for ``None``)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False)


def strict_json(text: str) -> Any:
    """Return the JSON value of ``text``; raise ``ValidationError`` naming line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _("Not valid JSON: line %(line)d, column %(column)d: %(message)s"),
            code="json", params={"line": exc.lineno, "column": exc.colno, "message": exc.msg},
        ) from None


def pretty_json(value: Any) -> str:
    """Return ``value`` as indented JSON for a textarea (empty for ``None``)."""
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


class LooseValueField(forms.CharField):
    """A text input whose value is JSON when it parses, text otherwise (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        # Bound data is the text as typed; an initial value is given through show_loose().
        if value is None or value is EMPTY:
            return ""
        return value if isinstance(value, str) else show_loose(value)

    def clean(self, value: Any) -> Any:
        """Return the typed value, or ``EMPTY`` when nothing was typed."""
        text = super().clean(value)
        return EMPTY if text in ("", None) else loose_value(text)


class JSONTextField(forms.CharField):
    """A textarea holding one JSON value, refused with the line and column of a mistake."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"rows": 4, "spellcheck": "false", "class": "code"})

    def prepare_value(self, value: Any) -> str:
        return value if isinstance(value, str) else pretty_json(value)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        return None if text in ("", None) else strict_json(text)


# ---------------------------------------------------------------------------
# Tables of rows
# ---------------------------------------------------------------------------


class RowForm(forms.Form):
    """One row of an editable table; ``text_fields`` decide whether the row is blank."""

    text_fields: tuple[str, ...] = ()

    def is_blank(self) -> bool:
        """Return whether every text cell of the row is empty (the row is skipped)."""
        data = getattr(self, "cleaned_data", {}) or {}
        return all(data.get(name) is EMPTY or data.get(name) in (None, "")
                   for name in self.text_fields)

    def to_item(self) -> Any:
        """Return the JSON item of the row."""
        raise NotImplementedError

    @classmethod
    def initial_of(cls, item: Any) -> dict:
        """Return the initial values of a row showing ``item``."""
        raise NotImplementedError


class RowFormSet(forms.BaseFormSet):
    """A table of rows: ``items()`` returns its JSON list, ``rows`` the row of each item."""

    def items(self) -> list:
        """Return the items of the filled, not removed rows, in order."""
        self.rows: list[int] = []
        result = []
        for index, form in enumerate(self.forms):
            if not hasattr(form, "cleaned_data") or form.is_blank():
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            result.append(form.to_item())
            self.rows.append(index)
        return result

    def row_error(self, index: int, message: str) -> None:
        """Put ``message`` on the row of item ``index``, or under the table."""
        rows = getattr(self, "rows", [])
        if 0 <= index < len(rows):
            self.forms[rows[index]].add_error(None, message)
        else:
            self.table_error(message)

    def table_error(self, message: str) -> None:
        """Put ``message`` under the table."""
        self.non_form_errors()  # make sure the list exists
        self._non_form_errors.append(message)

    def has_errors(self) -> bool:
        """Return whether a row or the table shows an error."""
        return bool(self.non_form_errors()) or any(form.errors for form in self.forms)


def row_formset(form: type[RowForm]):
    """Return the formset class of a table of ``form`` rows."""
    return formset_factory(form, formset=RowFormSet, extra=0, can_delete=True, max_num=200,
                           absolute_max=400)


class PairRow(RowForm):
    """A name/value pair: a query parameter, a header, a form field."""

    text_fields = ("name", "value", "description")

    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    value = forms.CharField(label=_("Value"), required=False, strip=False, max_length=65536)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    description = forms.CharField(label=_("Description"), required=False, max_length=500)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("name") and (data.get("value") or data.get("description")):
            self.add_error("name", _("Give the name, or empty the whole row."))
        return data

    def to_item(self) -> dict:
        data = self.cleaned_data
        item = {"name": data["name"], "value": data.get("value") or "",
                "enabled": bool(data.get("enabled"))}
        if data.get("description"):
            item["description"] = data["description"]
        return item

    @classmethod
    def initial_of(cls, item: Any) -> dict:
        item = item if isinstance(item, dict) else {}
        return {"name": item.get("name", ""), "value": item.get("value", ""),
                "enabled": item.get("enabled", True) is not False,
                "description": item.get("description", "")}


ASSERTION_TYPES = [
    ("status_code", _("Status code")),
    ("json", _("JSONPath")),
    ("header", _("Header")),
    ("body", _("Body")),
    ("response_time", _("Response time (ms)")),
    ("cookie", _("Cookie")),
    ("rows", _("Database rows (JSONPath)")),
]
# HttpRunner's names, then the symbols that stand for some of them (still accepted).
OPERATORS = [*((name, name) for name in checks.COMPARATORS),
             *((symbol, f"{symbol} ({name})") for symbol, name in checks.ALIASES.items())]
EXTRACTOR_SOURCES = [
    ("json", _("JSONPath")),
    ("header", _("Header")),
    ("regex", _("Regular expression")),
    ("status_code", _("Status code")),
    ("cookie", _("Cookie")),
    ("body", _("Body")),
]


class AssertionRow(RowForm):
    """One assertion: what to read from the response, how to compare, with what."""

    text_fields = ("expression", "expected_value", "description")

    type = forms.ChoiceField(label=_("Check"), choices=ASSERTION_TYPES, initial="status_code")
    expression = forms.CharField(label=_("Expression"), required=False, max_length=1000,
                                 help_text=_("A JSONPath such as $.data.id, or a header name."))
    operator = forms.ChoiceField(label=_("Operator"), choices=OPERATORS, initial="eq")
    expected_value = LooseValueField(
        label=_("Expected value"),
        help_text=_("JSON (200, true, [\"a\"], \"200\") or text; empty for exists/not_exists."))
    description = forms.CharField(label=_("Description"), required=False, max_length=500)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    soft = forms.BooleanField(label=_("Soft"), required=False, initial=False,
                              help_text=_("A failed soft check is recorded and the scenario "
                                          "goes on; a failed hard check stops it."))

    def to_item(self) -> dict:
        data = self.cleaned_data
        item: dict[str, Any] = {"type": data["type"], "operator": data["operator"]}
        if data.get("soft"):
            item["soft"] = True
        if data.get("expression"):
            item["expression"] = data["expression"]
        if data.get("expected_value", EMPTY) is not EMPTY:
            item["expected_value"] = data["expected_value"]
        if data.get("description"):
            item["description"] = data["description"]
        item["enabled"] = bool(data.get("enabled"))
        return item

    @classmethod
    def initial_of(cls, item: Any) -> dict:
        item = item if isinstance(item, dict) else {}
        return {"type": item.get("type", "status_code"), "expression": item.get("expression", ""),
                "operator": item.get("operator", "eq"),
                "expected_value": show_loose(item["expected_value"])
                if "expected_value" in item else "",
                "description": item.get("description", ""),
                "enabled": item.get("enabled", True) is not False,
                "soft": item.get("soft") is True}


class ExtractorRow(RowForm):
    """One extractor: a value of the response kept in a variable for the following steps."""

    text_fields = ("name", "expression", "default")

    name = forms.CharField(label=_("Variable"), required=False, max_length=100)
    source = forms.ChoiceField(label=_("From"), choices=EXTRACTOR_SOURCES, initial="json")
    expression = forms.CharField(label=_("Expression"), required=False, max_length=1000)
    default = LooseValueField(label=_("Default"),
                              help_text=_("Kept when nothing is found; JSON or text."))
    secret = forms.BooleanField(label=_("Secret"), required=False,
                                help_text=_("Masked in results and reports."))

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("name") and (data.get("expression")
                                     or data.get("default", EMPTY) is not EMPTY):
            self.add_error("name", _("Name the variable that receives the value."))
        return data

    def to_item(self) -> dict:
        data = self.cleaned_data
        item: dict[str, Any] = {"name": data["name"], "source": data["source"]}
        if data.get("expression"):
            item["expression"] = data["expression"]
        if data.get("default", EMPTY) is not EMPTY:
            item["default"] = data["default"]
        if data.get("secret"):
            item["secret"] = True
        return item

    @classmethod
    def initial_of(cls, item: Any) -> dict:
        item = item if isinstance(item, dict) else {}
        return {"name": item.get("name", ""), "source": item.get("source", "json"),
                "expression": item.get("expression", ""),
                "default": show_loose(item["default"]) if "default" in item else "",
                "secret": bool(item.get("secret"))}


class VariableRow(RowForm):
    """One scenario variable: an identifier and its value."""

    text_fields = ("name", "value")

    name = forms.CharField(label=_("Name"), required=False, max_length=100)
    value = LooseValueField(label=_("Value"), help_text=_("JSON (200, true, [1, 2]) or text."))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("name"):
            try:
                identifier_validator(data["name"])
            except ValidationError as exc:
                self.add_error("name", exc)
        elif data.get("value", EMPTY) is not EMPTY:
            self.add_error("name", _("Give the name, or empty the whole row."))
        return data

    def to_item(self) -> tuple[str, Any]:
        data = self.cleaned_data
        value = data.get("value", EMPTY)
        return data["name"], "" if value is EMPTY else value

    @classmethod
    def initial_of(cls, item: Any) -> dict:
        name, value = item
        return {"name": name, "value": show_loose(value)}


PairFormSet = row_formset(PairRow)
AssertionFormSet = row_formset(AssertionRow)
ExtractorFormSet = row_formset(ExtractorRow)
VariableFormSet = row_formset(VariableRow)


def table(formset_class, prefix: str, items: list, data=None):
    """Return a bound (``data``) or initial table of ``items``."""
    if data is not None:
        return formset_class(data, prefix=prefix)
    row = formset_class.form
    return formset_class(prefix=prefix, initial=[row.initial_of(item) for item in items])


def with_extra_row(data, prefix: str):
    """Return a copy of POST ``data`` whose table ``prefix`` has one more (empty) row."""
    data = data.copy()
    key = f"{prefix}-TOTAL_FORMS"
    try:
        data[key] = str(int(data.get(key, "0")) + 1)
    except ValueError:
        data[key] = "1"
    return data


def quiet(*forms_and_tables) -> None:
    """Render bound forms and tables without validating them (a row was only added)."""
    from django.forms.utils import ErrorDict, ErrorList

    for item in forms_and_tables:
        if isinstance(item, forms.BaseFormSet):
            item._errors = []
            item._non_form_errors = ErrorList()
            for form in item.forms:
                form._errors = ErrorDict()
        else:
            item._errors = ErrorDict()


# ---------------------------------------------------------------------------
# Errors of full_clean() beside their inputs
# ---------------------------------------------------------------------------

INDEX = re.compile(r"^\[(\d+)\]")


def apply_errors(exc: ValidationError, form: forms.Form, tables: dict | None = None,
                 *, aliases: dict | None = None, non_field: str | None = None) -> None:
    """Show the errors of a model's ``full_clean`` in ``form`` and its ``tables``.

    A field of the form gets its messages; a JSON field edited as a table gets each
    message on the row its JSON path starts with (``[2].operator: ...``), prefixed with the
    field's name so that the path is complete; anything else is a form error naming its
    field. ``aliases`` maps a model field to the form field that edits it (``body`` to
    ``body_json``); ``non_field`` names the field that errors of the whole row concern
    (a scenario's: the unique name).
    """
    tables = tables or {}
    aliases = aliases or {}
    errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    for field, messages in errors.items():
        target = aliases.get(field, field)
        for message in messages:
            if field in tables:
                match = INDEX.match(message)
                text = f"{field}{message}" if match else f"{field}: {message}"
                if match:
                    tables[field].row_error(int(match.group(1)), text)
                else:
                    tables[field].table_error(text)
            elif target in form.fields:
                form.add_error(target, message)
            elif field == NON_FIELD_ERRORS:
                form.add_error(non_field if non_field in form.fields else None, message)
            else:
                form.add_error(None, f"{field}: {message}")


# ---------------------------------------------------------------------------
# Interfaces
# ---------------------------------------------------------------------------


class EditorModelForm(forms.ModelForm):
    """A model form whose model validation the view runs once over the whole row.

    The row's JSON fields come from tables beside the form, so ``full_clean`` can only
    run once they are set; ``apply_errors`` then shows what it finds.
    """

    def _post_clean(self) -> None:
        """Skip model validation here (see the class docstring)."""


def folder_field(project, **kwargs) -> TreeNodeChoiceField:
    """Return a choice of the project's folders, indented by depth."""
    return TreeNodeChoiceField(
        queryset=InterfaceFolder.objects.filter(project=project).order_by("tree_id", "lft"),
        level_indicator="—", **kwargs)


class InterfaceForm(EditorModelForm):
    """The head of the interface editor: name, folder, method, URL and the body's text."""

    body_json = JSONTextField(label=_("JSON body"))
    body_raw = forms.CharField(label=_("Raw body"), required=False, strip=False,
                               widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false",
                                                            "class": "code"}))

    class Meta:
        model = Interface
        fields = ["name", "folder", "method", "url", "description", "body_type", "content_type"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "url": forms.TextInput(attrs={"class": "code", "spellcheck": "false"})}

    def __init__(self, *args: Any, project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["folder"] = folder_field(project, required=False, label=_("Folder"),
                                             empty_label=_("(no folder)"))
        instance = self.instance
        if not self.is_bound:
            if instance.body_type == "json":
                self.initial["body_json"] = pretty_json(instance.body)
            elif instance.body_type == "raw" and isinstance(instance.body, str):
                self.initial["body_raw"] = instance.body


class FolderForm(forms.ModelForm):
    """Add or rename a folder, or move it under another one."""

    class Meta:
        model = InterfaceFolder
        fields = ["name", "parent"]

    def __init__(self, *args: Any, project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = InterfaceFolder.objects.filter(project=project)
        if self.instance.pk is not None:
            queryset = queryset.exclude(pk=self.instance.pk)
        self.fields["parent"] = TreeNodeChoiceField(
            queryset=queryset.order_by("tree_id", "lft"), required=False, level_indicator="—",
            label=_("Inside"), empty_label=_("(top level)"))

    def _post_clean(self) -> None:
        """Validate the row whole in the view (see ``EditorModelForm``)."""


class MoveInterfaceForm(forms.Form):
    """Move an interface to another folder of its project."""

    folder = forms.ModelChoiceField(queryset=InterfaceFolder.objects.none(), required=False)

    def __init__(self, *args: Any, project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["folder"] = folder_field(project, required=False, label=_("Move to"),
                                             empty_label=_("(no folder)"))


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


class TagsField(forms.CharField):
    """Tags typed as one line, separated by commas."""

    def prepare_value(self, value: Any) -> str:
        return ", ".join(value) if isinstance(value, list) else (value or "")

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        tags = []
        for tag in (part.strip() for part in text.split(",")):
            if tag and tag not in tags:
                tags.append(tag)
        return tags


class NewScenarioForm(EditorModelForm):
    """Create a scenario: its name, priority and description; steps come after."""

    class Meta:
        model = Scenario
        fields = ["name", "priority", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class ScenarioForm(EditorModelForm):
    """A scenario's settings: name, priority, tags, and the SQL before and after the steps."""

    tags = TagsField(label=_("Tags"), required=False,
                     help_text=_("Separated by commas, e.g. smoke, accounts."))

    class Meta:
        model = Scenario
        fields = ["name", "priority", "tags", "description", "database_config", "pre_sql",
                  "post_sql"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "pre_sql": forms.Textarea(attrs={"rows": 4, "class": "code",
                                                    "spellcheck": "false"}),
                   "post_sql": forms.Textarea(attrs={"rows": 4, "class": "code",
                                                     "spellcheck": "false"})}

    def __init__(self, *args: Any, project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["database_config"]
        field.queryset = DatabaseConfig.objects.filter(project=project)
        field.empty_label = _("(none)")


def variables_table(scenario: Scenario, data=None) -> RowFormSet:
    """Return the table of the scenario's variables, by name.

    By name because PostgreSQL's ``jsonb`` keeps no key order: the table reads the same on
    every database.
    """
    variables = scenario.variables if isinstance(scenario.variables, dict) else {}
    items = sorted(variables.items())
    return table(VariableFormSet, "variables", items, data)


def variables_of(formset: RowFormSet) -> dict | None:
    """Return the variables of the table as a dict, or ``None`` after naming a duplicate."""
    result: dict[str, Any] = {}
    for index, (name, value) in enumerate(formset.items()):
        if name in result:
            formset.row_error(index, _("variables.%(name)s: the name appears twice.")
                              % {"name": name})
            return None
        result[name] = value
    return result


class AddStepForm(forms.Form):
    """Choose what a new step runs: an interface, a keyword, or an inline request."""

    source = forms.ChoiceField(label=_("Add a step"))

    def __init__(self, *args: Any, project, interfaces, keywords, builtins, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = step_sources(interfaces, keywords, builtins)


def step_sources(interfaces, keywords, builtins) -> list:
    """Return the grouped choices of what a step may run."""
    groups = []
    if interfaces:
        groups.append((_("Interfaces"), [(f"interface:{i.pk}", str(i)) for i in interfaces]))
    if builtins:
        groups.append((_("Built-in keywords"),
                       [(f"builtin:{k.code}", f"{k.name} ({k.get_type_display()})")
                        for k in builtins]))
    if keywords:
        groups.append((_("Project keywords"),
                       [(f"keyword:{k.pk}", f"{k.name} ({k.get_type_display()})")
                        for k in keywords]))
    groups.append((_("Other"), [("request:", _("Inline request (method and URL here)"))]))
    return groups


# Labels of the properties of the shipped step schemas (interface_step.json, request.json),
# whose properties carry no title of their own.
PROPERTY_LABELS = {
    "assertions": _("Assertions"),
    "extractors": _("Extractors"),
    "variables": _("Variables of this step"),
    "method": _("Method"),
    "url": _("URL"),
    "query": _("Query parameters"),
    "headers": _("Headers"),
    "body_type": _("Body type"),
    "body": _("Body"),
    "content_type": _("Content type"),
}
PARAM_PREFIX = "p_"


class EnumField(forms.ChoiceField):
    """A choice among a schema's ``enum`` values, which may be of any JSON type."""

    def __init__(self, values: list, **kwargs: Any) -> None:
        self.values = {show_loose(value) if not isinstance(value, str) else value: value
                       for value in values}
        choices = [(key, key) for key in self.values]
        if not kwargs.get("required", True):
            choices.insert(0, ("", "—"))
        super().__init__(choices=choices, **kwargs)

    def prepare_value(self, value: Any) -> str:
        if value is None:
            return ""
        return value if isinstance(value, str) else show_loose(value)

    def clean(self, value: Any) -> Any:
        key = super().clean(value)
        return EMPTY if key == "" else self.values.get(key, key)


def resolve_property(prop: dict) -> dict:
    """Return ``prop`` with a ``$ref`` to a shipped schema replaced by that schema's type."""
    from testing.schemas import load

    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.endswith(".json") and "/" not in ref:
        shipped = load(ref.removesuffix(".json"))
        return {**{k: v for k, v in prop.items() if k != "$ref"}, "type": shipped.get("type")}
    return prop


def parameter_field(name: str, prop: dict, required: bool) -> forms.Field:
    """Return the input of one parameter, chosen by its JSON Schema type and format."""
    prop = resolve_property(prop if isinstance(prop, dict) else {})
    kind = prop.get("type")
    kind = kind if isinstance(kind, str) else None
    fmt = prop.get("format")
    common = {"label": prop.get("title") or PROPERTY_LABELS.get(name, name),
              "help_text": prop.get("description", ""), "required": required}
    if isinstance(prop.get("enum"), list):
        return EnumField(prop["enum"], **common)
    if fmt == "json" or kind in ("object", "array"):
        return JSONTextField(**common)
    if kind == "string":
        widget = (forms.Textarea(attrs={"rows": 4, "class": "code", "spellcheck": "false"})
                  if fmt in ("multiline", "sql", "code") else forms.TextInput)
        return forms.CharField(widget=widget, strip=False, max_length=prop.get("maxLength"),
                               **common)
    if kind == "integer":
        return forms.IntegerField(min_value=prop.get("minimum"), max_value=prop.get("maximum"),
                                  **common)
    if kind == "number":
        return forms.FloatField(min_value=prop.get("minimum"), max_value=prop.get("maximum"),
                                **common)
    if kind == "boolean":
        if required:
            return forms.TypedChoiceField(choices=[("true", _("Yes")), ("false", _("No"))],
                                          coerce=lambda v: v == "true", **common)
        return forms.NullBooleanField(widget=forms.NullBooleanSelect, **common)
    return LooseValueField(**common)


def initial_text(field: forms.Field, value: Any) -> Any:
    """Return what the input of ``field`` shows for the stored ``value``."""
    if isinstance(field, JSONTextField):
        return pretty_json(value)
    if isinstance(field, LooseValueField):
        return show_loose(value)
    if isinstance(field, EnumField):
        return value if isinstance(value, str) else show_loose(value)
    if isinstance(field, forms.TypedChoiceField) and isinstance(value, bool):
        return "true" if value else "false"
    return value


class StepForm(forms.Form):
    """A step's description, its enabled flag and its parameters.

    The parameters' inputs are generated from ``schema`` (the keyword's parameter docs, or
    the shipped schema of an interface or inline-request step). Parameters the schema does
    not describe, where it allows them, are kept in one JSON textarea, never dropped.
    """

    description = forms.CharField(label=_("Description"), required=False, max_length=500,
                                  help_text=_("Shown in the list of steps instead of what "
                                              "the step runs."))
    is_enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    retries = forms.IntegerField(
        label=_("Retries"), required=False, initial=0, min_value=0, max_value=5,
        help_text=_("Run a failed step again up to this many times (0-5), waiting longer each "
                    "time; a step that passes on a retry is marked flaky."))

    def __init__(self, *args: Any, schema: dict, parameters: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = schema if isinstance(schema, dict) else {}
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = set(schema.get("required") or [])
        parameters = parameters if isinstance(parameters, dict) else {}
        self.parameter_names = list(properties)
        for name, prop in properties.items():
            field = parameter_field(name, prop, name in required)
            self.fields[PARAM_PREFIX + name] = field
            if name in parameters:
                self.initial[PARAM_PREFIX + name] = initial_text(field, parameters[name])
        self.allows_other = schema.get("additionalProperties", True) is not False
        other = {k: v for k, v in parameters.items() if k not in properties}
        if self.allows_other or other:
            self.fields["other_parameters"] = JSONTextField(
                label=_("Other parameters (JSON object)"),
                help_text=_("Parameters the keyword's docs do not describe."))
            if other:
                self.initial["other_parameters"] = pretty_json(other)

    def parameter_fields(self) -> list:
        """Return the bound fields of the parameters, in the schema's order."""
        names = [PARAM_PREFIX + name for name in self.parameter_names]
        if "other_parameters" in self.fields:
            names.append("other_parameters")
        return [self[name] for name in names]

    def clean_other_parameters(self) -> dict:
        value = self.cleaned_data.get("other_parameters")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValidationError(_("Give a JSON object, e.g. {\"name\": \"value\"}."))
        if not self.allows_other:
            raise ValidationError(_("This keyword takes only the parameters above; empty "
                                    "this box."))
        return value

    def parameters(self) -> dict:
        """Return the parameters object of the cleaned form (empty inputs left out)."""
        data = self.cleaned_data
        result = dict(data.get("other_parameters") or {})
        for name in self.parameter_names:
            key = PARAM_PREFIX + name
            value = data.get(key, EMPTY)
            if value is EMPTY:
                continue
            if value is None or value == "":
                # Empty inputs give nothing; only a "JSON or text" input can say null.
                if not isinstance(self.fields[key], LooseValueField) or value == "":
                    continue
            result[name] = value
        return result

    def apply_parameter_errors(self, messages: list[str]) -> None:
        """Show the schema's messages about ``parameters`` beside the inputs they name."""
        for message in messages:
            match = (re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(?=[.\[:])", message)
                     or re.match(r"^'([A-Za-z_][A-Za-z0-9_]*)' is a required property", message))
            field = PARAM_PREFIX + match.group(1) if match else None
            text = f"parameters.{message}" if match and not message.startswith("'") else (
                f"parameters: {message}")
            if field in self.fields:
                self.add_error(field, text)
            else:
                self.add_error(None, text)
