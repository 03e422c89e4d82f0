"""Read-only admin of the login, operation and audit logs."""

from __future__ import annotations

import json
import re

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from logs.audit import NOISE_FIELDS
from logs.middleware import SAFE_METHODS
from logs.models import AuditLog, LoginLog, OperationLog
from tenants.admin import is_operator
from tenants.scoping import restrict


def module_label(module: str) -> str:
    """Return a log's module in the reader's language: an app's name (``accounts``), or a
    model's plural name (``user``, an admin page's), else as stored."""
    try:
        return str(apps.get_app_config(module).verbose_name)
    except LookupError:
        pass
    for model in apps.get_models():
        if model._meta.model_name == module:
            return str(model._meta.verbose_name_plural)
    return module


# What a logged operation did, by the last word of its code: an admin page's ``change``, an
# API action's ``users.create``, a page's URL name (``plan-run``: the page's namespace is the
# log's module). Several words before one: "partial_update" before "update".
OPERATION_ACTIONS = {
    "partial_update": _("Update"), "test_connection": _("Test"), "try_code": _("Try"),
    "export_document": _("Export"), "import_scenario": _("Import"),
    "add": _("Add"), "change": _("Change"), "delete": _("Delete"), "create": _("Create"),
    "update": _("Update"), "destroy": _("Delete"), "restore": _("Restore"), "list": _("List"),
    "retrieve": _("View"), "changelist": _("List"), "history": _("History"),
    "new": _("Add"), "edit": _("Change"), "run": _("Run"), "test": _("Test"), "try": _("Try"),
    "move": _("Move"), "pause": _("Pause"), "resume": _("Resume"), "terminate": _("Stop"),
    "toggle": _("Turn on or off"), "duplicate": _("Duplicate"), "preview": _("Preview"),
    "apply": _("Apply"), "export": _("Export"), "revoke": _("Revoke"),
}
# Whole codes: the platform's own work, and pages whose URL name says what they do in a way
# no action above does (``module:code`` where the code alone could mean something else).
OPERATIONS = {
    "login": _("Sign in"), "logout": _("Sign out"),
    "password_change": _("Change password"), "user_password_change": _("Change password"),
    "maintain_partitions": _("Maintain log partitions"),
    "notifications:read": _("Mark a notification as read"),
    "notifications:read-all": _("Mark all notifications as read"),
    "notifications:inbox.read": _("Mark a notification as read"),
    "notifications:inbox.read_all": _("Mark all notifications as read"),
    "logs:usage-rollup": _("Roll up usage"),
    "testing:steps-order": _("Reorder scenario steps"),
    "testing:scenariostep.reorder_steps": _("Reorder scenario steps"),
    "testing:import": _("Import"),
}
# A page's word for a model whose name it does not spell out (``plan`` for a test plan).
PAGE_RESOURCES = {
    "testing": {
        "plan": "testing.testplan", "plan-entry": "testing.planscenario",
        "plan-schedule": "testing.planschedule", "database": "testing.databaseconfig",
        "folder": "testing.interfacefolder", "function": "testing.globalfunction",
        "step": "testing.scenariostep", "run": "testing.execution",
        "import": "testing.importjob",
    },
}
NAME_FORMAT = _("%(action)s %(resource)s")


def _model_named(name: str, module: str = ""):
    """Return the model whose name is ``name`` (or its plural, or a page's word for it in
    ``module``; the API's testing routes add ``test``), ``None`` when none is."""
    for candidate in (name, name.removesuffix("s"), name.removeprefix("test")):
        if candidate in PAGE_RESOURCES.get(module, {}):
            return apps.get_model(PAGE_RESOURCES[module][candidate])
        for model in apps.get_models():
            if model._meta.model_name == candidate.replace("-", "").replace("_", ""):
                return model
    return None


def _readable(code: str) -> str:
    """Return a code no label covers as words: ``plan-detail`` reads ``Plan detail``."""
    words = re.split(r"[-_.\s]+", code.rsplit(":", 1)[-1].strip("-_. "))
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:]


def operation_label(module: str, operation: str, method: str = "") -> str:
    """Return a logged operation in the reader's language: ``Change user`` for an admin
    page's ``change`` of module ``user``, ``Create user`` for the API's ``user.create``,
    ``Run test plan`` for the page ``testing:plan-run``; a code that names no known action
    reads as its words (``Plan detail``), never as the raw code.

    A page named after its resource alone changes it on a write (``plan``: ``Change test
    plan``) and is viewed on a read (``method``); a list page's write creates one.
    """
    namespace, _colon, operation = operation.rpartition(":")
    module = module or namespace
    for code in (f"{module}:{operation}", operation):
        if code in OPERATIONS:
            return str(OPERATIONS[code])
    for action, label in OPERATION_ACTIONS.items():
        for separator in (".", "-", "_", ""):
            if separator and not operation.endswith(separator + action):
                continue
            if not separator and operation != action:
                continue
            thing = operation[:-len(action) - len(separator)] if separator else module
            model = _model_named(thing, module) or _model_named(module)
            if model is None:
                return str(label)
            return str(NAME_FORMAT) % {"action": label,
                                       "resource": model._meta.verbose_name}
    model = _model_named(operation, module) if operation else None
    if model is not None:
        meta = model._meta
        many = operation.endswith("s") and not meta.model_name.endswith("s")
        if method.upper() in SAFE_METHODS:
            action, resource = ("list", meta.verbose_name_plural) if many else ("retrieve", meta.verbose_name)
        else:
            action, resource = ("create" if many else "change"), meta.verbose_name
        return str(NAME_FORMAT) % {"action": OPERATION_ACTIONS[action], "resource": resource}
    return _readable(operation)


def entity_label(entity_type: str) -> str:
    """Return an audit row's entity type (``accounts.user``) as the model's name."""
    model = entity_model(entity_type)
    return str(model._meta.verbose_name) if model is not None else entity_type


def entity_model(entity_type: str):
    """Return the model an audit row's entity type (``accounts.user``) names, else ``None``."""
    try:
        return apps.get_model(entity_type)
    except (LookupError, ValueError):
        return None


# Columns a row keeps for itself, not values anybody set (issue 17, item 7): the live-row
# flag of soft deletes and the stamps of every save (``logs.audit.NOISE_FIELDS``), and
# django-mptt's tree columns. The stored values keep them; the log pages leave them out.
MPTT_COLUMNS = ("lft", "rght", "tree_id", "level")


def bookkeeping_columns(model, values: dict) -> frozenset[str]:
    """Return the names in ``values`` a log page leaves out for a row of ``model``.

    A model's own tree columns come from its django-mptt options. Without a model, the
    default tree column names count only when ``lft``, ``rght`` and ``tree_id`` are all
    there: ``level`` alone is a real field elsewhere (a notification's).
    """
    mptt = getattr(model, "_mptt_meta", None)
    if mptt is not None:
        tree = {mptt.left_attr, mptt.right_attr, mptt.tree_id_attr, mptt.level_attr}
    elif model is None and {"lft", "rght", "tree_id"} <= values.keys():
        tree = set(MPTT_COLUMNS)
    else:
        tree = set()
    return frozenset(name for name in values if name in NOISE_FIELDS or name in tree)


def field_label(model, name: str) -> str:
    """Return a logged column (``department_id``, ``roles``) as its field's verbose name,
    or the column name when ``model`` is unknown or has no such field."""
    if model is not None:
        for field in model._meta.get_fields():
            if name in (getattr(field, "attname", None), field.name) and hasattr(field, "verbose_name"):
                return capfirst(field.verbose_name)
    return name


def _visible(model, values: dict) -> dict:
    """Return ``values`` without the bookkeeping columns; a summary of several changes
    (``accounts.user:5:update``) loses them inside each change."""
    hidden = bookkeeping_columns(model, values)
    shown = {}
    for name, value in values.items():
        if name in hidden:
            continue
        label = name.split(":", 1)[0] if model is None and ":" in name else ""
        if label and isinstance(value, dict):
            inner = entity_model(label)
            value = {key: item for key, item in value.items()
                     if key not in bookkeeping_columns(inner, value)}
        shown[name] = value
    return shown


class AppendOnlyLogAdmin(admin.ModelAdmin):
    """Read-only admin of a log table: scoped by tenant and data scope (issue 4, item 2).

    Nobody adds, edits or deletes rows here: a POST to the change or delete page is a 403.
    """

    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_list_display(self, request: HttpRequest):
        list_display = list(super().get_list_display(request))
        if is_operator(request):
            list_display.insert(1, "tenant")
        return list_display

    def get_list_filter(self, request: HttpRequest):
        list_filter = list(super().get_list_filter(request))
        if is_operator(request):
            list_filter.insert(0, "tenant")
        return list_filter

    def get_queryset(self, request: HttpRequest):
        # The tenant's rows (the fail-closed manager), narrowed by the data scope (rbac).
        return restrict(super().get_queryset(request), request.user).select_related("tenant", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changed_model(self, obj):
        """Return the model whose row ``obj`` logs changes of, ``None`` when it is unknown."""
        return None

    @admin.display(description=_("changes"))
    def changes(self, obj) -> str:
        """Return the old and new values side by side, one row per field, named as the
        model names them; bookkeeping columns (``bookkeeping_columns``) left out."""
        model = self.changed_model(obj)
        old = _visible(model, obj.old_value) if isinstance(obj.old_value, dict) else {}
        new = _visible(model, obj.new_value) if isinstance(obj.new_value, dict) else {}
        if not old and not new:
            return "-"
        names = list(dict.fromkeys([*old, *new]))
        rows = format_html_join(
            "",
            '<tr><th title="{}">{}</th><td><pre>{}</pre></td><td><pre>{}</pre></td></tr>',
            ((name, field_label(model, name), _pretty(old.get(name)), _pretty(new.get(name)))
             for name in names),
        )
        return format_html(
            '<table class="audit-diff"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("field"), _("old value"), _("new value"), rows,
        )


def _pretty(value) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


@admin.register(LoginLog)
class LoginLogAdmin(AppendOnlyLogAdmin):
    """Sign-in attempts. Log rows are append-only: nobody adds, edits or deletes them here."""

    list_display = ["created_at", "tenant_code", "username", "login_status", "reason", "ip_address"]
    list_filter = ["login_status", "reason"]
    search_fields = ["username", "ip_address"]
    readonly_fields = [
        "created_at", "tenant", "user", "tenant_code", "username", "ip_address",
        "user_agent", "login_status", "reason", "error_message",
    ]


class NamedValuesFilter(admin.SimpleListFilter):
    """Narrow a log to one stored code of ``parameter_name``, the codes named as words.

    The choices are the codes of the rows the reader may see (the admin's scoped queryset):
    another tenant's never show up here.
    """

    @staticmethod
    def label(code: str) -> str:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin):
        column = self.parameter_name
        codes = (model_admin.get_queryset(request).order_by(column)
                 .values_list(column, flat=True).distinct())
        return [(code, self.label(code)) for code in codes if code]

    def queryset(self, request: HttpRequest, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.parameter_name: self.value()})


class ModuleFilter(NamedValuesFilter):
    """The operation log's modules, as ``module_label`` names them."""

    title = _("module")
    parameter_name = "module"
    label = staticmethod(module_label)


class EntityTypeFilter(NamedValuesFilter):
    """The audit log's entity types, as ``entity_label`` names them."""

    title = _("entity type")
    parameter_name = "entity_type"
    label = staticmethod(entity_label)


@admin.register(OperationLog)
class OperationLogAdmin(AppendOnlyLogAdmin):
    """Write requests: who did what, how it ended and what it changed."""

    list_display = [
        "created_at", "username", "module_shown", "operation_shown", "business_type",
        "method", "response_status", "status", "execute_time",
    ]
    list_filter = ["status", ModuleFilter, "business_type", "method"]
    search_fields = ["username", "uri", "request_id", "business_id"]
    # The module and operation read as words here as in the list; the codes stay stored.
    fields = readonly_fields = [
        "created_at", "tenant", "user", "username", "operator_tenant", "request_id",
        "module_shown", "operation_shown", "business_type", "business_id", "method", "uri",
        "ip_address", "user_agent", "request_params", "response_status", "status",
        "execute_time", "error_message", "changes",
    ]

    @admin.display(description=_("module"), ordering="module")
    def module_shown(self, obj: OperationLog) -> str:
        return module_label(obj.module)

    @admin.display(description=_("operation"), ordering="operation")
    def operation_shown(self, obj: OperationLog) -> str:
        return operation_label(obj.module, obj.operation, obj.method)


@admin.register(AuditLog)
class AuditLogAdmin(AppendOnlyLogAdmin):
    """Changes of single rows with their field-level old and new values."""

    list_display = ["created_at", "username", "action", "entity_shown", "entity_id", "source"]

    @admin.display(description=_("entity type"), ordering="entity_type")
    def entity_shown(self, obj: AuditLog) -> str:
        return entity_label(obj.entity_type)
    list_filter = ["action", EntityTypeFilter, "source"]
    search_fields = ["username", "entity_id", "request_id"]
    fields = readonly_fields = [
        "created_at", "tenant", "user", "username", "operator_tenant", "request_id", "source",
        "entity_shown", "entity_id", "action", "ip_address", "user_agent", "changes",
    ]

    def changed_model(self, obj: AuditLog):
        return entity_model(obj.entity_type)
