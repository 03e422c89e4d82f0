"""The forms of the tester pages: projects, environments and variables, databases,
keywords, global functions, datasets and plans (the interface and scenario editors keep
theirs in ``forms_editor.py``).

Each is a model form over a row whose tenant and project the view sets before binding, so
that the model's own validation (identifier names, JSON Schemas, code compiled but never
run, CSV limits, live uniqueness) answers every bad input as a field error.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from testing.models import (
    DatabaseConfig,
    Dataset,
    Environment,
    GlobalFunction,
    Keyword,
    PlanScenario,
    Project,
    Scenario,
    TestPlan,
    Variable,
)
from testing.models.environments import VALUE_MAX_LENGTH
from testing.models.keywords import empty_parameters
from testing.models.projects import available_database_types


class RowForm(forms.ModelForm):
    """A model form that validates the row's ownership fields as well as its own.

    A model form leaves out of validation every field it does not edit, and Django skips a
    unique constraint naming any of them: ``(tenant, project, name, alive)`` would then
    fail as an IntegrityError (a 500) instead of a form error. The fields listed in
    ``owner_fields`` are set by the view and validated with the rest.
    """

    owner_fields: tuple[str, ...] = ("tenant", "project", "alive")

    def _get_validation_exclusions(self):
        return super()._get_validation_exclusions() - set(self.owner_fields)

    def full_clean(self) -> None:
        """Validate, then point each invalid input at its error message (screen readers)
        and put the focus on the first one."""
        super().full_clean()
        first = next((name for name in self.fields if name in self.errors), None)
        if first is not None:
            self.fields[first].widget.attrs["autofocus"] = True
        for name in self.errors:
            if name not in self.fields:
                continue
            bound = self[name]
            described = [f"{bound.auto_id}_error"]
            if self.fields[name].help_text:
                described.append(f"{bound.auto_id}_helptext")
            self.fields[name].widget.attrs["aria-describedby"] = " ".join(described)


def code_area(rows: int = 18) -> forms.Textarea:
    """Return the textarea of a code editor: monospace, no spell check, no wrapping."""
    return forms.Textarea(attrs={"rows": rows, "class": "code", "spellcheck": "false",
                                 "wrap": "off", "autocapitalize": "off",
                                 "autocomplete": "off"})


def json_area(rows: int = 6) -> forms.Textarea:
    """Return the textarea of a JSON value."""
    return forms.Textarea(attrs={"rows": rows, "class": "code", "spellcheck": "false"})


class ProjectForm(RowForm):
    """A project's name, description and how long its runs' details are kept."""

    owner_fields = ("tenant", "alive")

    class Meta:
        model = Project
        fields = ["name", "description", "report_retention_days"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class EnvironmentForm(RowForm):
    """An environment's name, base URL and description."""

    class Meta:
        model = Environment
        fields = ["name", "base_url", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "base_url": forms.URLInput(attrs={"placeholder": "https://staging.example.com"})}


class VariableForm(RowForm):
    """A variable of an environment, or a project global when no environment is chosen.

    The value of a secret variable is write-only: its input is never filled, leaving it
    empty keeps the sealed value. A secret value is typed into ``secret_value`` (a name the
    operation log masks, like every field named after a secret), never into ``value``.
    """

    owner_fields = ("tenant", "project", "alive", "scope_key")

    secret_value = forms.CharField(
        label=_("Secret value"), required=False, strip=False, max_length=VALUE_MAX_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Fill this instead of the value to keep it sealed: it is never shown "
                    "again, and masked in every result and log."))
    seal = forms.BooleanField(
        label=_("Make the current value secret"), required=False,
        help_text=_("Seal the value above; from then on it is write-only."))

    field_order = ["name", "environment", "value", "secret_value", "seal", "description"]

    class Meta:
        model = Variable
        fields = ["name", "environment", "value", "description"]
        widgets = {"value": forms.TextInput(attrs={"spellcheck": "false"}),
                   "description": forms.TextInput()}

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        environment = self.fields["environment"]
        environment.queryset = Environment.objects.filter(project=project)
        environment.empty_label = _("Global: shared by every environment")
        environment.required = False
        if self.instance.is_secret:
            del self.fields["value"]
            del self.fields["seal"]
            self.fields["secret_value"].help_text = _(
                "Sealed and never shown. Leave empty to keep the current value; type a new "
                "one to replace it.")
        elif self.instance._state.adding:
            del self.fields["seal"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("secret_value") and cleaned.get("value"):
            self.add_error("secret_value", _("Fill either the value or the secret value, "
                                             "not both."))
        return cleaned

    def save(self, commit: bool = True) -> Variable:
        """Save, sealing the value when it was typed as secret (or sealed on request)."""
        variable = self.instance
        secret = self.cleaned_data.get("secret_value")
        if secret:
            variable.is_secret = True
            variable.set_value(secret)
        elif self.cleaned_data.get("seal"):
            variable.make_secret()
        elif not variable.is_secret:
            variable.set_value(self.cleaned_data.get("value", ""))
        return super().save(commit)


class WriteOnlyPasswordMixin:
    """A database's password as a write-only field: left empty, the stored one is kept;
    ``clear_password`` removes it. Shared by the tester page and the admin, which name the
    input differently (``password_field``); either name is masked in the operation log.
    """

    password_field = "password"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get(self.password_field) and cleaned.get("clear_password"):
            self.add_error("clear_password", _("Type a new password or remove the stored "
                                               "one, not both."))
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        data = getattr(self, "cleaned_data", {})
        if data.get(self.password_field) and not data.get("clear_password"):
            self.instance.password = data[self.password_field]
        elif data.get("clear_password") and not data.get(self.password_field):
            self.instance.password = None


def write_only_password_input(**kwargs) -> forms.CharField:
    """Return the input of a write-only password (rendered empty, never the stored one)."""
    return forms.CharField(
        required=False, strip=False, max_length=1024,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        **kwargs)


class DatabaseConfigForm(WriteOnlyPasswordMixin, RowForm):
    """A database the project's steps may query; the password is write-only."""

    password = write_only_password_input(label=_("Password"),
                                         help_text=_("Sealed at rest and never shown again."))
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)

    field_order = ["name", "variable_name", "db_type", "host", "port", "initial_database",
                   "username", "password", "clear_password", "is_enabled"]

    class Meta:
        model = DatabaseConfig
        fields = ["name", "variable_name", "db_type", "host", "port", "initial_database",
                  "username", "is_enabled"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        available = set(available_database_types())
        db_type = self.fields["db_type"]
        db_type.choices = [(value, label) for value, label in db_type.choices
                           if value in available or value == self.instance.db_type]
        if self.instance._state.adding:
            del self.fields["clear_password"]
        elif self.instance.password:
            self.fields["password"].help_text = _(
                "A password is stored (never shown). Leave empty to keep it; type a new one "
                "to replace it.")


class CodeForm(RowForm):
    """A form with a ``code`` field: a syntax error also shows the line it is on."""

    def syntax_excerpt(self) -> dict | None:
        """Return the line of the code's syntax error and where in it, or ``None``.

        The code is compiled again (parsed, never run) only when the field has an error.
        """
        code = self.data.get(self.add_prefix("code")) if self.is_bound else None
        if not code or "code" not in self.errors:
            return None
        try:
            compile(code, "<code>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            if not exc.lineno or exc.text is None:
                return None
            text = exc.text.rstrip("\n")
            column = max(1, min(exc.offset or 1, len(text) + 1))
            return {"line": exc.lineno, "column": column, "text": text,
                    "caret": " " * (column - 1) + "^"}
        except ValueError:
            return None
        return None


class KeywordForm(CodeForm):
    """A project keyword: its code is compiled on save (never run), errors with line and
    column."""

    class Meta:
        model = Keyword
        fields = ["name", "type", "method_name", "description", "code", "parameters",
                  "is_enabled"]
        widgets = {"code": code_area(), "parameters": json_area(8),
                   "description": forms.Textarea(attrs={"rows": 2})}

    def clean_parameters(self):
        value = self.cleaned_data.get("parameters")
        return empty_parameters() if value in (None, "") else value


class GlobalFunctionForm(CodeForm):
    """A global function of the tenant: a class with a method, compiled on save."""

    owner_fields = ("tenant", "alive")

    class Meta:
        model = GlobalFunction
        fields = ["class_name", "method_name", "description", "code", "parameters",
                  "return_value"]
        widgets = {"code": code_area(), "parameters": json_area(6),
                   "return_value": json_area(3),
                   "description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "parameters": _('A list such as [{"name": "length", "type": "int"}].'),
            "return_value": _('Such as {"type": "str", "description": "..."}; may be empty.'),
        }

    def clean_parameters(self):
        value = self.cleaned_data.get("parameters")
        return [] if value in (None, "") else value

    def clean_return_value(self):
        value = self.cleaned_data.get("return_value")
        return {} if value in (None, "") else value


class DatasetForm(RowForm):
    """A dataset: CSV pasted into the text area, or uploaded as a file (not both)."""

    csv_file = forms.FileField(
        label=_("Or upload a CSV file"), required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
        help_text=_("UTF-8 text; it replaces what the text area holds."))

    class Meta:
        model = Dataset
        fields = ["name", "scenario", "csv_data"]
        widgets = {"csv_data": forms.Textarea(attrs={"rows": 12, "class": "code",
                                                     "spellcheck": "false", "wrap": "off"})}

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.uploaded_text: str | None = None  # the uploaded file's text, once read
        self.fields["scenario"].queryset = Scenario.objects.filter(project=project)
        self.fields["scenario"].empty_label = _("Any scenario of the project")
        self.fields["csv_data"].required = False
        self.fields["csv_data"].strip = False  # spaces in a cell are data

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("csv_file")
        pasted = cleaned.get("csv_data") or ""
        if upload:
            if pasted.strip() and _lines(pasted) != _lines(self.instance.csv_data or ""):
                self.add_error("csv_file", _("Upload a file or paste the data, not both."))
                return cleaned
            text = self._read(upload)
            if text is not None:
                cleaned["csv_data"] = self.uploaded_text = text
        elif not pasted.strip():
            self.add_error("csv_data", _("Paste the CSV (a header row, then the rows) or "
                                         "upload a file."))
        return cleaned

    def _read(self, upload) -> str | None:
        """Return the uploaded file as text, or add an error naming the limit or the line."""
        limit = settings.TESTING_DATASET_MAX_BYTES
        if upload.size > limit:
            self.add_error("csv_file", _("The file is %(size)d bytes; at most %(limit)d are "
                                         "accepted.") % {"size": upload.size, "limit": limit})
            return None
        data = upload.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            self.add_error("csv_file", _("Line %(line)d: the file is not UTF-8 text; save it "
                                         "as UTF-8 and upload it again.") % {"line": line})
            return None


def _lines(text: str) -> str:
    """Return ``text`` as browsers' text areas may send it back: CRLF as LF, stripped."""
    return text.replace("\r\n", "\n").strip()


class PlanNoticesMixin:
    """A plan's announcements: who is notified when a run ends, and the webhook, whose
    secret is write-only (left empty, the stored one is kept; ``clear_webhook_secret``
    removes it). Users and roles are those of the plan's tenant only."""

    def limit_notices(self, tenant_id) -> None:
        if "notify_on" in self.fields:
            # A form posted without it (an older page, a script) keeps announcing nothing.
            self.fields["notify_on"].required = False
        from accounts.choices import UserStatus
        from accounts.models import User
        from rbac.models import Role

        if "notify_users" in self.fields:
            self.fields["notify_users"].queryset = User.objects.all_tenants().filter(
                tenant_id=tenant_id, status=UserStatus.ACTIVE).order_by("username")
        if "notify_roles" in self.fields:
            self.fields["notify_roles"].queryset = Role.objects.all_tenants().filter(
                tenant_id=tenant_id).order_by("name")

    def clean(self):
        cleaned = super().clean()
        if "notify_on" in self.fields and not cleaned.get("notify_on"):
            cleaned["notify_on"] = self.instance.notify_on or TestPlan._meta.get_field(
                "notify_on").default
        if cleaned.get("webhook_secret_value") and cleaned.get("clear_webhook_secret"):
            self.add_error("clear_webhook_secret", _("Type a new secret or remove the stored "
                                                     "one, not both."))
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        data = getattr(self, "cleaned_data", {})
        if data.get("webhook_secret_value") and not data.get("clear_webhook_secret"):
            self.instance.webhook_secret = data["webhook_secret_value"]
        elif data.get("clear_webhook_secret"):
            self.instance.webhook_secret = None


NOTICE_FIELDS = ["notify_on", "notify_users", "notify_roles", "webhook_url"]


def https_formfield(db_field: models.Field, **kwargs) -> forms.Field | None:
    """Return the form field of a model field; a URL without a scheme means https."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class TestPlanForm(PlanNoticesMixin, RowForm):
    """A plan's name, description, run mode, default environment and announcements."""

    __test__ = False

    webhook_secret_value = write_only_password_input(
        label=_("Webhook secret"),
        help_text=_("Signs each webhook (X-Atrium-Signature). Sealed at rest and never shown "
                    "again; leave empty to keep the stored one."))
    clear_webhook_secret = forms.BooleanField(label=_("Remove the stored webhook secret"),
                                              required=False)

    class Meta:
        model = TestPlan
        fields = ["name", "description", "run_mode", "environment", "stop_on_failure",
                  *NOTICE_FIELDS]
        formfield_callback = https_formfield
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "notify_users": forms.SelectMultiple(attrs={"size": 6}),
                   "notify_roles": forms.SelectMultiple(attrs={"size": 4})}

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.filter(project=project)
        self.fields["environment"].empty_label = _("None: each scenario names its own")
        self.limit_notices(project.tenant_id)


class PlanScenarioForm(RowForm):
    """One scenario of a plan with its dataset, environment and variable overrides."""

    owner_fields = ("tenant", "plan", "alive")

    class Meta:
        model = PlanScenario
        fields = ["scenario", "dataset", "environment", "variables"]
        widgets = {"variables": json_area(3)}
        help_texts = {"variables": _('Override variables for this scenario, e.g. '
                                     '{"user_id": 42}. Empty: none.')}

    def __init__(self, *args, plan: TestPlan, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        scenarios = Scenario.objects.filter(project_id=plan.project_id)
        taken = plan.entries.exclude(pk=self.instance.pk).values("scenario_id")
        self.fields["scenario"].queryset = scenarios.exclude(pk__in=taken)
        self.fields["dataset"].queryset = Dataset.objects.filter(project_id=plan.project_id)
        self.fields["dataset"].empty_label = _("No dataset: run once")
        self.fields["environment"].queryset = Environment.objects.filter(
            project_id=plan.project_id)
        self.fields["environment"].empty_label = _("The plan's default")

    def clean_variables(self):
        value = self.cleaned_data.get("variables")
        return {} if value in (None, "") else value


class StartRunForm(forms.Form):
    """What a run needs besides its target: the environment and, for a scenario, a dataset.

    The choices are the project's own environments and, for a scenario, the datasets of that
    scenario or of any scenario of the project: an id from elsewhere is a field error.
    """

    environment = forms.ModelChoiceField(queryset=Environment.objects.none(), required=False,
                                         label=_("Environment"))
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(), required=False, label=_("Dataset"),
        empty_label=_("No dataset: run once"),
        help_text=_("With a dataset the scenario runs once per row."))

    def __init__(self, *args, project, scenario: Scenario | None = None,
                 environment_label: str = "", **kwargs) -> None:
        kwargs.setdefault("auto_id", "run-%s")
        super().__init__(*args, **kwargs)
        environments = Environment.objects.filter(project=project).order_by("name")
        field = self.fields["environment"]
        field.queryset = environments
        field.empty_label = environment_label or _("None: the steps' URLs are absolute")
        if scenario is None:
            del self.fields["dataset"]
        else:
            self.fields["dataset"].queryset = Dataset.objects.filter(
                Q(scenario__isnull=True) | Q(scenario=scenario), project=project).order_by("name")

    def full_clean(self) -> None:
        """Validate, then point each invalid field at its error (screen readers) and put
        the focus on the first one, as ``testing.forms.RowForm`` does."""
        super().full_clean()
        invalid = [name for name in self.fields if name in self.errors]
        for name in invalid:
            attrs = self.fields[name].widget.attrs
            attrs["aria-describedby"] = f"{self[name].auto_id}_error"
            if self.fields[name].help_text:
                attrs["aria-describedby"] += f" {self[name].auto_id}_helptext"
        if invalid:
            self.fields[invalid[0]].widget.attrs["autofocus"] = True
