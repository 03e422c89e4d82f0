"""Admin of the test domain for operators (issue 12, item 4): every model of ``testing``.

Scoping
    Every admin stands on ``TenantScopedAdmin``: a tenant administrator's change lists,
    change forms, foreign-key choices and autocompletes hold their tenant's rows only (the
    managers), narrowed to their data scope (``tenants.scoping.restrict``, applied here to
    the choices too). Inside a project, the choices of a row's other references (a step's
    interface, a scenario's database, a plan entry's dataset...) are further narrowed to
    the row's project: on a change page to the row's own project, which is read-only once
    the row exists; on an add page to the project chosen (or named by ``?project=``). The
    models' ``clean`` refuses another project's rows whatever the form offered.

Inlines
    Steps in a scenario, variables in an environment, scenarios in a plan. A new inline row
    takes its parent's tenant (and project) before validation, so that the tenant and
    project checks and the live-row uniqueness run against them (an operator's scope names
    no tenant). A new step or plan entry left without a position goes after the last one.

Secrets
    A database configuration's password and a secret variable's value are write-only:
    typed in a password input that renders nothing, never in a change list, a read-only
    page or the admin history (which names changed fields, never their values). The form
    fields are named ``new_password`` and ``new_secret_value``, so the operation log masks
    what is posted by its name (``core.redaction.is_secret_name``). A password left empty
    keeps the stored one; a secret variable's value is sealed through ``Variable.set_value``.

Built-in keywords are the platform's code: read-only. The "Test connection" action calls
``testing.services.databases.check_connection``, the service the pages and the API call.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from mptt.admin import DraggableMPTTAdmin

from tenants.admin import TenantModelForm, TenantScopedAdmin, is_operator
from tenants.models import TenantScopedModel
from tenants.scoping import restrict
from testing.choices import ConnectionStatus
from testing.forms import PlanNoticesMixin, WriteOnlyPasswordMixin, write_only_password_input
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    Dataset,
    DatasetError,
    Environment,
    Execution,
    ExecutionStep,
    GlobalFunction,
    Interface,
    InterfaceFolder,
    Keyword,
    PlanScenario,
    PlanSchedule,
    Project,
    Scenario,
    ScenarioStep,
    StepResult,
    TestPlan,
    Variable,
)
from testing.models.environments import VALUE_MAX_LENGTH
from testing.services import databases, runs

RECORD = ["created_at", "created_by", "updated_at", "updated_by"]
# Each connection may take TESTING_DB_CONNECT_TIMEOUT seconds: a request testing hundreds
# of databases one after another would outlive any proxy's timeout.
MAX_CONNECTION_TESTS = 10
PREVIEW_ROWS = 10
# The project of a parent named but not found (another tenant's, deleted): no row has it.
NO_PROJECT = uuid.UUID(int=0)
SHOWN_VALUE_LENGTH = 80


def as_uuid(value: Any) -> uuid.UUID | None:
    """Return ``value`` (a primary key, a row, posted text) as a UUID, or ``None``."""
    value = getattr(value, "pk", value)
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def code_widget(rows: int = 16) -> forms.Textarea:
    """Return a textarea for code and data: monospace, no spell checking."""
    return forms.Textarea(attrs={"rows": rows, "cols": 100, "spellcheck": "false",
                                 "class": "vLargeTextField",
                                 "style": "font-family: monospace"})


def pretty_json(value: Any) -> str:
    """Return ``value`` as indented JSON in a ``<pre>``, "—" when empty."""
    if value in (None, {}, []):
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


# ---------------------------------------------------------------------------
# Shared bases
# ---------------------------------------------------------------------------


class ScopedChoicesMixin:
    """Foreign-key choices (admins and inlines) within the user's data scope.

    The managers already hold the tenant's rows only; the data scope narrows them as it
    narrows the change lists. Built-in keywords are offered while active.
    """

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """Return the form field of a foreign key, its choices scoped."""
        related = db_field.related_model
        if "queryset" not in kwargs:
            if related is BuiltinKeyword:
                kwargs["queryset"] = BuiltinKeyword.objects.filter(is_active=True)
            elif issubclass(related, TenantScopedModel):
                queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
                if queryset is None:
                    queryset = related._default_manager.all()
                kwargs["queryset"] = restrict(queryset, request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProjectChoicesForm(TenantModelForm):
    """A model form whose ``project_fields`` offer rows of one project only.

    The project is the row's own once it exists (read-only then), else the one chosen in
    the form or named by the add page's ``?project=``. For a row that lives under another
    one (a step under its scenario, an entry under its plan), ``project_parent`` names that
    parent, whose project it is.
    """

    project_fields: tuple[str, ...] = ()
    # (form field, model) of the parent row whose project the row is in.
    project_parent: tuple[str, type] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_to_project(self.chosen_project_id())

    def chosen_project_id(self) -> uuid.UUID | None:
        """Return the project whose rows the choices offer, ``None`` when not known yet."""
        if self.project_parent is not None:
            name, model = self.project_parent
            if name in self.fields:
                parent_id = as_uuid(self[name].value())
                if parent_id is None:
                    return None
                found = model._default_manager.filter(pk=parent_id).values_list(
                    "project_id", flat=True).first()
                return NO_PROJECT if found is None else found
            parent = getattr(self.instance, name, None) if getattr(
                self.instance, f"{name}_id", None) else None
            return getattr(parent, "project_id", None)
        if "project" in self.fields:
            return as_uuid(self["project"].value())
        return getattr(self.instance, "project_id", None)

    def limit_to_project(self, project_id: uuid.UUID | None) -> None:
        """Offer only rows of ``project_id`` in ``project_fields`` (all when ``None``)."""
        if project_id is None:
            return
        for name in self.project_fields:
            field = self.fields.get(name)
            if field is not None and hasattr(field, "queryset"):
                field.queryset = field.queryset.filter(project_id=project_id)


class InlineRowForm(ProjectChoicesForm):
    """A row of an inline: its formset narrows the choices to the parent's project."""

    def chosen_project_id(self) -> uuid.UUID | None:
        return None


class TenantRowFormSet(forms.BaseInlineFormSet):
    """Inline rows that belong to their parent's tenant and project.

    A new row takes the parent's tenant (and the parent's project, for rows that have a
    project column) as soon as it is built, before validation. Choices narrow to the
    parent's project. A row left without a position goes after the last one.
    """

    position_field: str | None = None

    def parent_project_id(self) -> uuid.UUID | None:
        """Return the project of the parent row, once known."""
        return getattr(self.instance, "project_id", None)

    def add_fields(self, form, index) -> None:
        """Add the row's fields; give a new row the parent's tenant and project."""
        super().add_fields(form, index)
        if form.instance._state.adding:
            form.instance.tenant_id = self.instance.tenant_id
            if hasattr(form.instance, "project_id"):
                form.instance.project_id = self.parent_project_id()
        if isinstance(form, ProjectChoicesForm):
            form.limit_to_project(self.parent_project_id())
        name = self.position_field
        if name and name in form.fields and form.instance._state.adding:
            field = form.fields[name]
            field.required = False
            field.initial = None
            field.help_text = _("Empty: after the last one.")
            form.initial.pop(name, None)

    def get_unique_error_message(self, unique_check) -> str:
        """Return the constraint's own message for values repeated in the post.

        Django's message lists the constraint's fields, internal ``tenant`` and ``alive``
        columns included.
        """
        for constraint in self.model._meta.constraints:
            if tuple(getattr(constraint, "fields", ())) == tuple(unique_check):
                return constraint.get_violation_error_message()
        return super().get_unique_error_message(unique_check)

    def save_new(self, form, commit: bool = True):
        """Save a new row, placing it after the last one when no position was given."""
        name = self.position_field
        if name and getattr(form.instance, name) is None:
            siblings = self.model._default_manager.filter(**{self.fk.name: self.instance})
            last = siblings.aggregate(last=Max(name))["last"] or 0
            setattr(form.instance, name, last + 10)
        return super().save_new(form, commit=commit)


class RecordMixin:
    """The audit columns, read-only in a collapsed "Record" section of change pages."""

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + [name for name in RECORD if name not in readonly]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        record = [self.tenant_field, *RECORD] if is_operator(request) else RECORD
        return [*fieldsets, (_("Record"), {"fields": record, "classes": ["collapse"]})]


class ApiTestingAdmin(RecordMixin, ScopedChoicesMixin, TenantScopedAdmin):
    """Base of the tenant-owned admins of the test domain."""


class ProjectOwnedAdmin(ApiTestingAdmin):
    """Base of the admins of rows inside a project: the project is chosen once, with an
    autocomplete, then read-only; the change list filters by project."""

    form = ProjectChoicesForm
    autocomplete_fields = ["project"]
    list_select_related = ["project"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.insert(0, "project")
        return readonly


class RunEnvironmentForm(forms.Form):
    """The environment the selected scenarios or interfaces run in (one project's)."""

    environment = forms.ModelChoiceField(
        queryset=Environment.objects.none(), required=False, label=_("Environment"),
        empty_label=_("None: the steps' URLs are absolute"))

    def __init__(self, *args, project_id, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.filter(
            project_id=project_id).order_by("name")


class RunSelectedMixin:
    """The "Run" action of scenarios and interfaces: pick an environment, start one run each.

    The selection must lie in one project (an environment is a project's); each run goes
    to the workers through ``testing.services.runs``, as from the pages and the API.
    """

    run_starter = "start_scenario"

    def has_run_permission(self, request: HttpRequest) -> bool:
        """Return whether the user may start runs (``execution:create``)."""
        return request.user.has_perm("execution:create")

    @admin.action(description=_("Run the selected %(verbose_name_plural)s"), permissions=["run"])
    def run_selected(self, request: HttpRequest, queryset: QuerySet):
        rows = list(queryset.order_by("name")[:MAX_CONNECTION_TESTS + 1])
        if len(rows) > MAX_CONNECTION_TESTS:
            self.message_user(request, gettext("Run at most %(count)d at a time.")
                              % {"count": MAX_CONNECTION_TESTS}, messages.WARNING)
            return None
        projects = {row.project_id for row in rows}
        if len(projects) != 1:
            self.message_user(request, gettext("Select rows of one project: the environment "
                                               "they run in is a project's."),
                              messages.WARNING)
            return None
        form = RunEnvironmentForm(request.POST if "apply" in request.POST else None,
                                  project_id=projects.pop())
        if form.is_bound and form.is_valid():
            start = getattr(runs, self.run_starter)
            for row in rows:
                try:
                    execution = start(row, environment=form.cleaned_data["environment"])
                except runs.RunRefused as exc:
                    self.message_user(request, f"{row}: {exc}", messages.WARNING)
                    continue
                self.message_user(request, format_html(
                    '{}: <a href="{}">{}</a>', str(row),
                    reverse("admin:testing_execution_change", args=[execution.pk]),
                    gettext("run started")), messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Run %(count)d %(what)s") % {
                "count": len(rows), "what": self.opts.verbose_name_plural},
            "opts": self.opts, "form": form, "rows": rows, "action_name": "run_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/testing/run_selected.html", context)


def project_filter():
    """Return the change list's filter by project: only projects the list holds rows of."""
    return ("project", admin.RelatedOnlyFieldListFilter)


# ---------------------------------------------------------------------------
# Projects and databases
# ---------------------------------------------------------------------------


@admin.register(Project)
class ProjectAdmin(ApiTestingAdmin):
    """The tenant's test projects (everything else of the domain lives in one)."""

    list_display = ["name", "short_description", "created_by", "updated_at"]
    list_select_related = ["created_by"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    fieldsets = [(None, {"fields": ["name", "description", "report_retention_days"]})]

    @admin.display(description=_("description"))
    def short_description(self, obj: Project) -> str:
        """Return the first line of the description, shortened."""
        line = (obj.description or "").strip().splitlines()[:1]
        text = line[0] if line else ""
        return text if len(text) <= SHOWN_VALUE_LENGTH else text[:SHOWN_VALUE_LENGTH - 1] + "…"


class DatabaseConfigForm(WriteOnlyPasswordMixin, ProjectChoicesForm):
    """A project's database; the password is write-only (see the module docstring)."""

    password_field = "new_password"
    new_password = write_only_password_input(
        label=_("password"),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the stored "
                    "password."),
    )
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)

    class Meta:
        model = DatabaseConfig
        exclude = ["password"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial.pop("password", None)


@admin.register(DatabaseConfig)
class DatabaseConfigAdmin(ProjectOwnedAdmin):
    """Databases the projects' steps and SQL query, with a "Test connection" action."""

    form = DatabaseConfigForm
    list_display = ["name", "variable_name", "project", "db_type", "address", "is_enabled",
                    "connection_status", "last_tested_at"]
    list_filter = [project_filter(), "db_type", "is_enabled", "connection_status"]
    search_fields = ["name", "variable_name", "host", "initial_database", "username"]
    ordering = ["name"]
    readonly_fields = ["stored_password", "connection_status", "status_message",
                       "last_tested_at"]
    fieldsets = [
        (None, {"fields": ["project", "name", "variable_name", "db_type", "is_enabled"]}),
        (_("Connection"), {"fields": ["host", "port", "initial_database", "username",
                                      "stored_password", "new_password", "clear_password"]}),
        (_("Last test"), {"fields": ["connection_status", "status_message", "last_tested_at"]}),
    ]
    actions = ["restore_selected", "test_connection"]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        """Return the sections; the password inputs only to whoever may write it."""
        writable = (self.has_add_permission(request) if obj is None
                    else self.has_change_permission(request, obj))
        hidden = set()
        if not writable:
            hidden |= {"new_password", "clear_password"}
        if obj is None:  # nothing stored or tested yet
            hidden |= {"stored_password", "clear_password", "connection_status",
                       "status_message", "last_tested_at"}
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = [field for field in options["fields"] if field not in hidden]
            if fields:
                fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    @admin.display(description=_("address"))
    def address(self, obj: DatabaseConfig) -> str:
        """Return host:port."""
        return f"{obj.host}:{obj.port}"

    @admin.display(description=_("stored password"))
    def stored_password(self, obj: DatabaseConfig) -> str:
        """Say whether a password is stored, never what it is."""
        return gettext("Stored (encrypted)") if obj.password else gettext("None stored")

    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Connect to each selected database once and report how it went."""
        configs = list(queryset.order_by("name")[:MAX_CONNECTION_TESTS + 1])
        if len(configs) > MAX_CONNECTION_TESTS:
            self.message_user(
                request,
                gettext("Test at most %(count)d databases at a time.")
                % {"count": MAX_CONNECTION_TESTS},
                messages.WARNING,
            )
            return
        for config in configs:
            databases.check_connection(config)
            connected = config.connection_status == ConnectionStatus.CONNECTED
            self.message_user(
                request,
                gettext("%(name)s: %(status)s. %(message)s")
                % {"name": config, "status": config.get_connection_status_display(),
                   "message": config.status_message},
                messages.SUCCESS if connected else messages.ERROR,
            )


# ---------------------------------------------------------------------------
# The interface tree
# ---------------------------------------------------------------------------


class InterfaceFolderForm(ProjectChoicesForm):
    """A folder: its parent among the folders of its project."""

    project_fields = ("parent",)

    class Meta:
        model = InterfaceFolder
        fields = "__all__"


@admin.register(InterfaceFolder)
class InterfaceFolderAdmin(ProjectOwnedAdmin, DraggableMPTTAdmin):
    """The interface folders of each project, as a tree that moves by drag and drop."""

    form = InterfaceFolderForm
    list_display = ["tree_actions", "indented_title", "project", "sort_order"]
    list_display_links = ["indented_title"]
    list_filter = [project_filter()]
    search_fields = ["name"]
    mptt_level_indent = 20
    fieldsets = [(None, {"fields": ["project", "parent", "name", "sort_order"]})]

    def get_ordering(self, request: HttpRequest):
        return ["tree_id", "lft"]

    def get_actions(self, request: HttpRequest):
        # django-mptt's delete_selected_tree ignores soft_delete_blockers (accounts.admin).
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = self.get_action("delete_selected")
        return actions


class InterfaceForm(ProjectChoicesForm):
    """An interface: its folder among the folders of its project."""

    project_fields = ("folder",)

    class Meta:
        model = Interface
        fields = "__all__"


@admin.register(Interface)
class InterfaceAdmin(RunSelectedMixin, ProjectOwnedAdmin):
    """The requests of each project's API, with their assertions and extractors."""

    actions = ["restore_selected", "run_selected"]
    run_starter = "start_interface"

    form = InterfaceForm
    list_display = ["name", "method", "url", "project", "folder", "body_type", "sort_order",
                    "updated_at"]
    list_select_related = ["project", "folder"]
    list_filter = [project_filter(), "method", "body_type"]
    search_fields = ["name", "url", "description"]
    ordering = ["sort_order", "name"]
    fieldsets = [
        (None, {"fields": ["project", "folder", "name", "description", "sort_order"]}),
        (_("Request"), {"fields": ["method", "url", "query", "headers", "body_type", "body",
                                   "content_type"]}),
        (_("Checks"), {"fields": ["assertions", "extractors"]}),
    ]


# ---------------------------------------------------------------------------
# Environments and variables
# ---------------------------------------------------------------------------


def same_text(typed: str, stored: str) -> bool:
    """Return whether ``typed`` is ``stored`` as a form posts it back (stripped, CRLF)."""
    return typed.replace("\r\n", "\n").strip() == stored.replace("\r\n", "\n").strip()


class SecretValueForm(ProjectChoicesForm):
    """A variable whose secret value is write-only (see the module docstring).

    With "secret" checked, the value sealed is the one typed in "new secret value"; left
    empty, the stored secret stays (or, for a variable becoming secret, its current value
    is sealed). The plain "value" field is shown and logged in clear, so a secret typed
    there is refused. Unchecking "secret" discards the sealed value.
    """

    new_secret_value = forms.CharField(
        label=_("new secret value"), required=False, strip=False, max_length=VALUE_MAX_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("For a secret variable: sealed at rest and never shown again. Leave empty "
                    "to keep the stored secret."),
    )

    project_fields = ("environment",)

    class Meta:
        model = Variable
        fields = ["project", "environment", "name", "value", "is_secret", "description"]
        widgets = {"value": forms.Textarea(attrs={"rows": 1, "cols": 40})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.stored_secret = instance.is_secret and not instance._state.adding
        self.stored_plain = "" if instance.is_secret else (instance.value or "")
        if self.stored_secret:
            self.initial["value"] = ""
        if "value" in self.fields:
            self.fields["value"].help_text = _(
                "Shown in clear. A secret variable's value goes in “new secret value”.")

    def _get_validation_exclusions(self) -> set[str]:
        # The project (from the parent, in an inline) and the scope key are set on the row:
        # the uniqueness of names is checked against them.
        exclude = super()._get_validation_exclusions()
        exclude.discard("scope_key")
        if self.instance.project_id is not None and "project" not in self._errors:
            exclude.discard("project")
        return exclude

    def clean(self):
        cleaned = super().clean()
        typed = cleaned.get("value") or ""
        if cleaned.get("is_secret"):
            if typed and not same_text(typed, self.stored_plain):
                self.add_error("value", _("Type a secret variable's value in “new secret "
                                          "value”: this field is shown and logged in clear."))
        elif cleaned.get("new_secret_value"):
            self.add_error("new_secret_value", _("Check “secret” to store a secret value, or "
                                                 "type a plain value in “value”."))
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        data = getattr(self, "cleaned_data", {})
        variable = self.instance
        if not data.get("is_secret"):
            variable.set_value(data.get("value") or "")
        elif data.get("new_secret_value"):
            variable.set_value(data["new_secret_value"])
        elif self.stored_secret:
            variable.value = ""  # the sealed value stays as loaded
        else:
            variable.set_value(self.stored_plain)


class VariableInlineForm(InlineRowForm, SecretValueForm):
    """A variable on its environment's page."""

    class Meta(SecretValueForm.Meta):
        fields = ["name", "value", "is_secret", "description"]


class VariableFormSet(TenantRowFormSet):
    """The variables of an environment: they take its tenant and project."""


def writable_fields(fields: list[str], writable: bool, *, secret_inputs: tuple[str, ...],
                    shown: dict[str, str]) -> list[str]:
    """Return ``fields`` for a page the user may or may not write.

    A read-only page shows no secret inputs, and ``shown`` replaces a field with the
    read-only display of its masked value.
    """
    if writable:
        return fields
    return [shown.get(name, name) for name in fields if name not in secret_inputs]


class VariableInline(ScopedChoicesMixin, admin.TabularInline):
    """The variables of an environment, on its page."""

    model = Variable
    fk_name = "environment"
    form = VariableInlineForm
    formset = VariableFormSet
    fields = ["name", "value", "is_secret", "new_secret_value", "description"]
    extra = 0

    def get_fields(self, request: HttpRequest, obj=None):
        writable = self.has_change_permission(request, obj) or self.has_add_permission(
            request, obj)
        return writable_fields(list(super().get_fields(request, obj)), writable,
                               secret_inputs=("new_secret_value",),
                               shown={"value": "shown_value"})

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [*super().get_readonly_fields(request, obj), "shown_value"]

    @admin.display(description=_("value"))
    def shown_value(self, obj: Variable) -> str:
        """Return the value as every page shows it: masked when secret."""
        return obj.shown_value


@admin.register(Environment)
class EnvironmentAdmin(ProjectOwnedAdmin):
    """Where each project's requests go, with the environment's variables."""

    list_display = ["name", "project", "base_url", "variable_count", "updated_at"]
    list_filter = [project_filter()]
    search_fields = ["name", "base_url", "description"]
    ordering = ["name"]
    fieldsets = [(None, {"fields": ["project", "name", "base_url", "description"]})]
    inlines = [VariableInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return the scoped environments, counting their live variables."""
        return super().get_queryset(request).annotate(
            live_variable_count=Count("variables", filter=Q(variables__is_deleted=False)))

    @admin.display(description=_("variables"), ordering="live_variable_count")
    def variable_count(self, obj: Environment) -> int:
        """Return how many live variables the environment has."""
        return obj.live_variable_count


class GlobalScopeFilter(admin.SimpleListFilter):
    """Variables of an environment, or the project's globals."""

    title = _("scope")
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [("global", _("Project globals")), ("environment", _("Of an environment"))]

    def queryset(self, request, queryset):
        if self.value() == "global":
            return queryset.filter(environment__isnull=True)
        if self.value() == "environment":
            return queryset.filter(environment__isnull=False)
        return queryset


@admin.register(Variable)
class VariableAdmin(ProjectOwnedAdmin):
    """Every variable: the projects' globals and those of environments (secrets masked)."""

    form = SecretValueForm
    list_display = ["name", "project", "scope", "value_shown", "is_secret", "updated_at"]
    list_select_related = ["project", "environment"]
    list_filter = [project_filter(), GlobalScopeFilter, "is_secret"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    fieldsets = [(None, {"fields": ["project", "environment", "name", "value", "is_secret",
                                    "new_secret_value", "description"]})]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        """Return the sections; a read-only page shows the masked value, no secret input."""
        writable = (self.has_add_permission(request) if obj is None
                    else self.has_change_permission(request, obj))
        return [
            (name, {**options, "fields": writable_fields(
                list(options["fields"]), writable, secret_inputs=("new_secret_value",),
                shown={"value": "value_shown"})})
            for name, options in super().get_fieldsets(request, obj)
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [*super().get_readonly_fields(request, obj), "value_shown"]

    @admin.display(description=_("scope"), ordering="environment__name")
    def scope(self, obj: Variable) -> str:
        """Return the environment, or say the variable is a project global."""
        return str(obj.environment) if obj.environment_id else gettext("Project global")

    @admin.display(description=_("value"))
    def value_shown(self, obj: Variable) -> str:
        """Return the value as every page shows it: masked when secret, shortened."""
        value = obj.shown_value
        if len(value) > SHOWN_VALUE_LENGTH:
            return value[:SHOWN_VALUE_LENGTH - 1] + "…"
        return value


# ---------------------------------------------------------------------------
# Keywords and global functions
# ---------------------------------------------------------------------------


@admin.register(BuiltinKeyword)
class BuiltinKeywordAdmin(admin.ModelAdmin):
    """The platform's built-in keywords, offered to every tenant: read-only (they are
    written from the code by a sync after ``migrate``)."""

    list_display = ["name", "code", "type", "method_name", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["name", "code", "method_name", "description"]
    ordering = ["type", "name"]
    fields = readonly_fields = ["code", "name", "type", "method_name", "description",
                                "parameter_docs", "is_active"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("parameter docs"))
    def parameter_docs(self, obj: BuiltinKeyword) -> str:
        """Return the parameter docs as indented JSON."""
        return pretty_json(obj.parameters)


class CodeForm(ProjectChoicesForm):
    """A model form whose ``code`` is edited in a monospace textarea."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "code" in self.fields:
            self.fields["code"].widget = code_widget()


@admin.register(Keyword)
class KeywordAdmin(ProjectOwnedAdmin):
    """Keywords the testers wrote, per project (stored and syntax-checked, never run here)."""

    form = CodeForm
    list_display = ["name", "type", "method_name", "project", "is_enabled", "updated_at"]
    list_filter = [project_filter(), "type", "is_enabled"]
    search_fields = ["name", "method_name", "description"]
    ordering = ["type", "name"]
    fieldsets = [
        (None, {"fields": ["project", "type", "name", "method_name", "is_enabled",
                           "description"]}),
        (_("Code"), {"fields": ["code", "parameters"]}),
    ]


@admin.register(GlobalFunction)
class GlobalFunctionAdmin(ApiTestingAdmin):
    """The tenant's global functions (stored and syntax-checked, never run here)."""

    form = CodeForm
    list_display = ["__str__", "description", "updated_at"]
    search_fields = ["class_name", "method_name", "description"]
    ordering = ["class_name", "method_name"]
    fieldsets = [
        (None, {"fields": ["class_name", "method_name", "description"]}),
        (_("Code"), {"fields": ["code", "parameters", "return_value"]}),
    ]


# ---------------------------------------------------------------------------
# Scenarios, steps and datasets
# ---------------------------------------------------------------------------

STEP_FIELDS = ["sort_order", "is_enabled", "kind", "description", "interface", "keyword",
               "builtin_keyword", "parameters", "retries"]


class RetriesMixin(forms.ModelForm):
    """A step's retries: left out of a post (a step written before retries existed, a
    script), it is the model's default, 0; a value outside 0-5 is a field error."""

    retries = forms.IntegerField(label=_("retries"), required=False, min_value=0, max_value=5,
                                 help_text=ScenarioStep._meta.get_field("retries").help_text)

    def clean_retries(self) -> int:
        value = self.cleaned_data.get("retries")
        return 0 if value is None else value


class ScenarioStepInlineForm(RetriesMixin, InlineRowForm):
    """A step on its scenario's page."""

    project_fields = ("interface", "keyword")

    class Meta:
        model = ScenarioStep
        fields = STEP_FIELDS
        widgets = {"parameters": forms.Textarea(attrs={"rows": 2, "cols": 40}),
                   "description": forms.TextInput(attrs={"size": 30})}


class ScenarioStepFormSet(TenantRowFormSet):
    """The steps of a scenario: the scenario's interfaces and keywords only, in order."""

    position_field = "sort_order"


class ScenarioStepInline(ScopedChoicesMixin, admin.TabularInline):
    """The steps of a scenario, in order, on its page."""

    model = ScenarioStep
    form = ScenarioStepInlineForm
    formset = ScenarioStepFormSet
    fields = STEP_FIELDS
    extra = 0


class ScenarioForm(ProjectChoicesForm):
    """A scenario: its database among those of its project."""

    project_fields = ("database_config",)

    class Meta:
        model = Scenario
        fields = "__all__"


@admin.register(Scenario)
class ScenarioAdmin(RunSelectedMixin, ProjectOwnedAdmin):
    """Each project's scenarios with their steps; SQL before and after."""

    actions = ["restore_selected", "run_selected"]

    form = ScenarioForm
    list_display = ["name", "project", "priority", "step_count", "database_config",
                    "updated_at"]
    list_select_related = ["project", "database_config"]
    list_filter = [project_filter(), "priority"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    fieldsets = [
        (None, {"fields": ["project", "name", "description", "priority", "tags",
                           "variables"]}),
        (_("SQL"), {"fields": ["database_config", "pre_sql", "post_sql"]}),
    ]
    inlines = [ScenarioStepInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return the scoped scenarios, counting their live steps."""
        return super().get_queryset(request).annotate(
            live_step_count=Count("steps", filter=Q(steps__is_deleted=False)))

    @admin.display(description=_("steps"), ordering="live_step_count")
    def step_count(self, obj: Scenario) -> int:
        """Return how many live steps the scenario has."""
        return obj.live_step_count


class ScenarioStepForm(RetriesMixin, ProjectChoicesForm):
    """A step on its own page: interfaces and keywords of its scenario's project."""

    project_fields = ("interface", "keyword")
    project_parent = ("scenario", Scenario)

    class Meta:
        model = ScenarioStep
        fields = "__all__"


@admin.register(ScenarioStep)
class ScenarioStepAdmin(ApiTestingAdmin):
    """Every scenario step, to search across scenarios and restore deleted ones (steps
    are edited on their scenario's page)."""

    form = ScenarioStepForm
    list_display = ["title", "scenario", "kind", "is_enabled", "sort_order", "updated_at"]
    list_select_related = ["scenario", "interface", "keyword", "builtin_keyword"]
    list_filter = [("scenario__project", admin.RelatedOnlyFieldListFilter), "kind",
                   "is_enabled"]
    search_fields = ["description", "scenario__name", "interface__name", "keyword__name"]
    ordering = ["scenario__name", "sort_order"]
    autocomplete_fields = ["scenario"]
    fieldsets = [(None, {"fields": ["scenario", *STEP_FIELDS]})]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.insert(0, "scenario")
        return readonly

    def save_model(self, request: HttpRequest, obj: ScenarioStep, form, change: bool) -> None:
        if obj.sort_order is None:
            last = obj.scenario.steps.aggregate(last=Max("sort_order"))["last"] or 0
            obj.sort_order = last + 10
        super().save_model(request, obj, form, change)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "sort_order" in form.base_fields:
            form.base_fields["sort_order"].required = False
            form.base_fields["sort_order"].help_text = _("Empty: after the last step.")
        return form

    @admin.display(description=_("step"))
    def title(self, obj: ScenarioStep) -> str:
        """Return what the step runs, in a few words."""
        return obj.title


class DatasetForm(ProjectChoicesForm):
    """A dataset: its scenario among those of its project."""

    project_fields = ("scenario",)

    class Meta:
        model = Dataset
        fields = "__all__"
        widgets = {"csv_data": code_widget(12)}


@admin.register(Dataset)
class DatasetAdmin(ProjectOwnedAdmin):
    """Each project's datasets (CSV), with a preview of the first rows."""

    form = DatasetForm
    list_display = ["name", "project", "scenario", "updated_at"]
    list_select_related = ["project", "scenario"]
    list_filter = [project_filter()]
    search_fields = ["name", "scenario__name"]
    ordering = ["name"]
    readonly_fields = ["preview"]
    fieldsets = [(None, {"fields": ["project", "scenario", "name", "csv_data"]}),
                 (_("Preview"), {"fields": ["preview"]})]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [entry for entry in fieldsets if "preview" not in entry[1]["fields"]]
        return fieldsets

    @admin.display(description=_("first rows"))
    def preview(self, obj: Dataset) -> str:
        """Return the header and the first rows as a table, or why the CSV is unusable."""
        try:
            header, rows, total = obj.preview(PREVIEW_ROWS)
        except DatasetError as exc:
            return str(exc)
        head = format_html_join("", "<th>{}</th>", ((name,) for name in header))
        body = format_html_join(
            "", "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows))
        return format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table><p>{}</p>",
            head, body, gettext("%(shown)d of %(total)d rows.")
            % {"shown": len(rows), "total": total})


# ---------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------

ENTRY_FIELDS = ["sort_order", "scenario", "dataset", "environment", "variables"]


class PlanScenarioInlineForm(InlineRowForm):
    """A scenario of a plan, on the plan's page."""

    project_fields = ("scenario", "dataset", "environment")

    class Meta:
        model = PlanScenario
        fields = ENTRY_FIELDS
        widgets = {"variables": forms.Textarea(attrs={"rows": 2, "cols": 40})}


class PlanScenarioFormSet(TenantRowFormSet):
    """The scenarios of a plan: the plan's project's only, in order."""

    position_field = "sort_order"


class PlanScenarioInline(ScopedChoicesMixin, admin.TabularInline):
    """The scenarios of a plan, in order, with their dataset, environment and overrides."""

    model = PlanScenario
    form = PlanScenarioInlineForm
    formset = PlanScenarioFormSet
    fields = ENTRY_FIELDS
    extra = 0


class TestPlanForm(PlanNoticesMixin, ProjectChoicesForm):
    """A plan: its default environment among those of its project; who hears when a run
    ends among the users and roles of its tenant; the webhook secret write-only."""

    project_fields = ("environment",)
    webhook_secret_value = write_only_password_input(
        label=_("Webhook secret"), help_text=_("Sealed at rest and never shown again; leave "
                                               "empty to keep the stored one."))
    clear_webhook_secret = forms.BooleanField(label=_("Remove the stored webhook secret"),
                                              required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        tenant_id = self.instance.tenant_id if self.instance.pk else None
        if tenant_id is None:
            # A new plan's tenant is its project's, chosen on this very form: its people
            # are chosen once it is saved.
            for name in ("notify_users", "notify_roles"):
                self.fields.pop(name, None)
        else:
            self.limit_notices(tenant_id)

    class Meta:
        model = TestPlan
        fields = "__all__"


@admin.register(TestPlan)
class TestPlanAdmin(ProjectOwnedAdmin):
    """Each project's test plans with their scenarios."""

    form = TestPlanForm
    list_display = ["name", "project", "run_mode", "environment", "scenario_count",
                    "updated_at"]
    list_select_related = ["project", "environment"]
    list_filter = [project_filter(), "run_mode"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    fieldsets = [(None, {"fields": ["project", "name", "description", "run_mode",
                                    "environment", "stop_on_failure"]}),
                 (_("When a run ends"), {"fields": ["notify_on", "notify_users", "notify_roles",
                                                    "webhook_url", "webhook_secret_value",
                                                    "clear_webhook_secret"]})]
    inlines = [PlanScenarioInline]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # the people are chosen once the plan (and its tenant) exists
            return [(name, {**options, "fields": [f for f in options["fields"]
                                                  if f not in ("notify_users",
                                                               "notify_roles")]})
                    for name, options in fieldsets]
        return fieldsets
    actions = ["restore_selected", "run_selected"]

    def has_run_permission(self, request: HttpRequest) -> bool:
        """Return whether the user may start runs (``execution:create``)."""
        return request.user.has_perm("execution:create")

    @admin.action(description=_("Run the selected plans"), permissions=["run"])
    def run_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Start a run of each plan (its own environments); the workers run them."""
        for plan in queryset.order_by("name")[:MAX_CONNECTION_TESTS]:
            try:
                execution = runs.start_plan(plan)
            except runs.RunRefused as exc:
                self.message_user(request, f"{plan.name}: {exc}", messages.WARNING)
                continue
            self.message_user(request, format_html(
                '{}: <a href="{}">{}</a>', plan.name,
                reverse("admin:testing_execution_change", args=[execution.pk]),
                gettext("run started")), messages.SUCCESS)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return the scoped plans, counting their live scenarios."""
        return super().get_queryset(request).annotate(
            live_entry_count=Count("entries", filter=Q(entries__is_deleted=False)))

    @admin.display(description=_("scenarios"), ordering="live_entry_count")
    def scenario_count(self, obj: TestPlan) -> int:
        """Return how many live scenarios the plan has."""
        return obj.live_entry_count


class PlanScenarioForm(ProjectChoicesForm):
    """A plan entry on its own page: rows of its plan's project."""

    project_fields = ("scenario", "dataset", "environment")
    project_parent = ("plan", TestPlan)

    class Meta:
        model = PlanScenario
        fields = "__all__"


@admin.register(PlanScenario)
class PlanScenarioAdmin(ApiTestingAdmin):
    """Every scenario of every plan, to search across plans and restore deleted ones
    (entries are edited on their plan's page)."""

    form = PlanScenarioForm
    list_display = ["__str__", "plan", "scenario", "dataset", "environment", "sort_order"]
    list_select_related = ["plan", "scenario", "dataset", "environment"]
    list_filter = [("plan__project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["plan__name", "scenario__name"]
    ordering = ["plan__name", "sort_order"]
    autocomplete_fields = ["plan"]
    fieldsets = [(None, {"fields": ["plan", *ENTRY_FIELDS]})]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.insert(0, "plan")
        return readonly

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "sort_order" in form.base_fields:
            form.base_fields["sort_order"].required = False
            form.base_fields["sort_order"].help_text = _("Empty: after the last scenario.")
        return form

    def save_model(self, request: HttpRequest, obj: PlanScenario, form, change: bool) -> None:
        if obj.sort_order is None:
            last = obj.plan.entries.aggregate(last=Max("sort_order"))["last"] or 0
            obj.sort_order = last + 10
        super().save_model(request, obj, form, change)


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


class ExecutionStepInline(admin.TabularInline):
    """The scenario runs of an execution, read-only."""

    model = ExecutionStep
    fields = readonly_fields = ["sort_order", "name", "row_number", "status", "steps_total",
                                "steps_passed", "steps_failed", "attempts", "started_at",
                                "completed_at", "error"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Execution)
class ExecutionAdmin(ProjectOwnedAdmin):
    """Runs of plans, scenarios and interfaces: read, paused, resumed, terminated.

    A run is a record: never edited here. Plans are started from the plan change list
    ("Run the selected plans"); the pages, the API and ``run_plan`` start any run.
    """

    list_display = ["name", "project", "kind", "status", "pass_rate_shown", "scenarios_total",
                    "steps_passed", "steps_failed", "created_by", "started_at", "completed_at"]
    list_select_related = ["project", "created_by"]
    list_filter = [project_filter(), "status", "kind"]
    search_fields = ["name", "error"]
    ordering = ["-created_at"]
    actions = ["pause_selected", "resume_selected", "terminate_selected"]
    fieldsets = [(None, {"fields": [
        "project", "kind", "name", "plan", "schedule", "scenario", "interface", "environment",
        "dataset", "status", "requested", "parallel", "stop_on_failure", "started_at",
        "completed_at", "scenarios_total", "scenarios_passed", "scenarios_failed",
        "steps_passed", "steps_failed", "error", "allure_report_path",
        "details_pruned_at"]})]
    inlines = [ExecutionStepInline]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]] + RECORD

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_control_permission(self, request: HttpRequest) -> bool:
        """Return whether the user may pause, resume and terminate (``execution:control``)."""
        return request.user.has_perm("execution:control")

    @admin.display(description=_("pass rate"))
    def pass_rate_shown(self, obj: Execution) -> str:
        rate = obj.pass_rate
        return "—" if rate is None else f"{rate:.0%}"

    def _control(self, request: HttpRequest, queryset: QuerySet, change, done: str) -> None:
        changed = 0
        for execution in queryset:
            try:
                change(execution)
                changed += 1
            except runs.RunRefused as exc:
                self.message_user(request, f"{execution.name}: {exc}", messages.WARNING)
        if changed:
            self.message_user(request, done % {"count": changed}, messages.SUCCESS)

    @admin.action(description=_("Pause the selected runs"), permissions=["control"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._control(request, queryset, runs.pause, gettext("%(count)d runs asked to pause."))

    @admin.action(description=_("Resume the selected runs"), permissions=["control"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._control(request, queryset, runs.resume, gettext("%(count)d runs resumed."))

    @admin.action(description=_("Terminate the selected runs"), permissions=["control"])
    def terminate_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._control(request, queryset, runs.terminate,
                      gettext("%(count)d runs asked to terminate."))


class RecordOfRunAdmin(ApiTestingAdmin):
    """A record the engine wrote: shown whole, read-only, never added, changed or removed
    on its own (it goes with its execution)."""

    def get_fieldsets(self, request: HttpRequest, obj=None):
        return [(None, {"fields": self.fields})]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ExecutionStep)
class ExecutionStepAdmin(RecordOfRunAdmin):
    """Scenario runs, read-only, with their step results."""

    list_display = ["name", "execution", "row_number", "status", "steps_passed",
                    "steps_failed", "attempts", "started_at"]
    list_select_related = ["execution"]
    list_filter = ["status"]
    search_fields = ["name", "error"]
    ordering = ["-started_at"]
    fields = ["execution", "name", "scenario", "interface", "environment", "dataset",
              "row_number", "row_values", "status", "steps_total", "steps_passed",
              "steps_failed", "attempts", "worker", "heartbeat_at", "started_at",
              "completed_at", "error"]



@admin.register(StepResult)
class StepResultAdmin(RecordOfRunAdmin):
    """Step results, read-only; secrets in them were masked by the engine."""

    list_display = ["title", "scenario_run", "position", "status", "attempts", "flaky",
                    "duration_ms", "started_at"]
    list_select_related = ["scenario_run"]
    list_filter = ["status", "flaky", "action"]
    search_fields = ["title", "error"]
    ordering = ["-started_at"]
    fields = ["execution", "scenario_run", "position", "title", "action", "status",
              "attempts", "flaky", "request", "response", "variables", "extracted",
              "assertions", "error", "started_at", "duration_ms"]


# ---------------------------------------------------------------------------
# Schedules of plans (issue 15, item 4)
# ---------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    """Enabled schedules past due by more than two minutes: Celery beat is not firing."""

    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin):
        return [("yes", _("Overdue")), ("no", _("On time"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet):
        from django.utils import timezone

        from testing.models.schedules import OVERDUE_AFTER

        late = Q(is_enabled=True, next_due_at__lt=timezone.now() - OVERDUE_AFTER)
        if self.value() == "yes":
            return queryset.filter(late)
        if self.value() == "no":
            return queryset.exclude(late)
        return queryset


class PlanScheduleForm(ProjectChoicesForm):
    """A schedule: its plan and environment among those of its project."""

    project_fields = ("plan", "environment")

    class Meta:
        model = PlanSchedule
        fields = "__all__"


@admin.register(PlanSchedule)
class PlanScheduleAdmin(ProjectOwnedAdmin):
    """Every schedule with when it is due, when it fired and what it missed, so that one
    that never fires shows (overdue) instead of sitting idle."""

    form = PlanScheduleForm
    list_display = ["plan", "project", "cron", "timezone", "is_enabled", "next_due_at",
                    "last_fired_at", "overdue", "missed_count", "last_error"]
    list_select_related = ["project", "plan"]
    list_filter = [OverdueFilter, "is_enabled", project_filter()]
    search_fields = ["cron", "plan__name", "last_error"]
    ordering = ["next_due_at"]
    fieldsets = [
        (None, {"fields": ["project", "plan", "cron", "timezone", "environment",
                           "is_enabled"]}),
        (_("What it did"), {"fields": ["next_due_at", "last_fired_at", "last_execution",
                                       "missed_count", "last_missed_at", "last_error"]}),
    ]
    readonly_fields = ["next_due_at", "last_fired_at", "last_execution", "missed_count",
                       "last_missed_at", "last_error"]

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, obj: PlanSchedule) -> bool:
        """Return whether the schedule is enabled and past due by more than two minutes."""
        return obj.is_overdue()

