"""Admin of the MCP gateway: the endpoint registry, MCP tools and their call log.

Registry
    Everything the code declares is read-only here (a sync would overwrite it); only
    ``is_enabled`` and ``required_scopes`` are operators' to edit. Rows come from the sync,
    so there is no adding or deleting. The action "Make MCP tools of the selected endpoints"
    asks on an intermediate page which tenant gets the tools (the platform tenant by
    default) and whether they are public (platform tools only). The registry's admin is
    for operators only; a tenant's administrator makes an API tool on the tool's add page
    by choosing the endpoint.

Tools
    Tenant-scoped like every tenant-owned admin (list, form, filters, recycle bin). Writes
    go through ``gateway.services.tools`` (``McpToolForm`` validates with ``prepare_tool``), the path
    the API takes too. What an API tool derives from its endpoint is read-only on its page,
    and so are a script tool's schemas, shown as its global function's docs give them now.
    ``auth_config`` is write-only (see ``gateway.forms``). The change page shows the counters and
    charts of the last 30 days of calls (calls, error rate, average and 95th-percentile
    response time), two aggregate queries for three charts (``gateway.selectors.tool_usage``); its
    ``mcp_tool_actions`` template block links the "try this tool" page
    (``gateway.try_tool``), a real call as the signed-in person.

Call log
    Read-only for everybody, scoped like the other logs (``logs.admin``); the error stack
    only for platform operators.
"""

from __future__ import annotations

import json
import uuid

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.context import get_current_tenant_id
from gateway import policy, scripts
from gateway.choices import AuthType, ToolType
from gateway.forms import CLEAR_CREDENTIALS, CREDENTIALS, MakeToolsForm, McpToolForm
from gateway.models import McpTool, McpToolCallLog
from gateway.selectors import tool_usage
from gateway.services import tools
from logs.admin import AppendOnlyLogAdmin
from rbac.forms import scope_list_formfield
from rbac.models import ApiEndpoint
from tenants.admin import OperatorOnlyAdmin, TenantScopedAdmin, is_operator
from tenants.models import Tenant

EDITABLE_FIELDS = ("is_enabled", "required_scopes")


# ---------------------------------------------------------------------------
# The endpoint registry
# ---------------------------------------------------------------------------


@admin.register(ApiEndpoint)
class ApiEndpointAdmin(OperatorOnlyAdmin):
    """The registry's routes, for platform operators."""

    list_display = ["method", "path", "module", "permission_code", "is_enabled", "is_active",
                    "is_mcp_tool", "operation_id"]
    list_display_links = ["path"]
    list_filter = ["is_enabled", "is_active", "method", "module", "is_mcp_tool"]
    search_fields = ["path", "operation_id", "permission_code", "description"]
    ordering = ["path", "method"]
    fieldsets = [
        (_("Route (from the code)"), {"fields": ["method", "path", "module", "operation_id",
                                                 "permission_code", "description"]}),
        (_("Operator's switches"), {"fields": list(EDITABLE_FIELDS)}),
        (_("Record"), {"fields": ["is_mcp_tool", "is_active", "last_synced_at", "created_at",
                                  "updated_at"]}),
    ]
    actions = ["enable_selected", "disable_selected", "make_mcp_tools"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [
            f.name for f in self.model._meta.concrete_fields if f.name not in EDITABLE_FIELDS
        ]

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "required_scopes":
            return scope_list_formfield(db_field)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_make_tools_permission(self, request: HttpRequest) -> bool:
        """Return whether the user may make tools of endpoints (operators with
        ``mcp_tool:create``)."""
        return is_operator(request) and request.user.has_perm("mcp.add_mcptool")

    def _switch(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        changed = 0
        for endpoint in queryset.exclude(is_enabled=enabled):
            endpoint.is_enabled = enabled
            endpoint.save(update_fields=["is_enabled", "updated_at"])
            self.log_change(request, endpoint, [{"changed": {"fields": ["is_enabled"]}}])
            changed += 1
        self.message_user(
            request,
            ngettext("Switched %(count)d endpoint.", "Switched %(count)d endpoints.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Enable selected endpoints"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Enable the selected endpoints."""
        self._switch(request, queryset, True)

    @admin.action(description=_("Disable selected endpoints (they answer 404)"),
                  permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Disable the selected endpoints."""
        self._switch(request, queryset, False)

    @admin.action(description=_("Make MCP tools of the selected endpoints"),
                  permissions=["make_tools"])
    def make_mcp_tools(self, request: HttpRequest, queryset: QuerySet):
        """Ask for the tenant (and whether public), then make one tool per endpoint.

        An endpoint that cannot become a tool (disabled, gone from the code, platform-only
        for a tenant, name taken) is reported by name; the others are made.
        """
        endpoints = list(queryset.order_by("path", "method"))
        if "apply" in request.POST:
            form = MakeToolsForm(request.POST)
            if form.is_valid():
                self._make_tools(request, endpoints, form.cleaned_data["tenant"],
                                 form.cleaned_data["is_public"])
                return None
        else:
            platform = Tenant.objects.filter(is_platform=True).first()
            form = MakeToolsForm(initial={"tenant": platform})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Make MCP tools of %(count)d endpoints") % {"count": len(endpoints)},
            "opts": self.opts,
            "form": form,
            "rows": endpoints,
            "action_name": "make_mcp_tools",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/mcp/apiendpoint/make_tools.html", context)

    def _make_tools(self, request: HttpRequest, endpoints, tenant: Tenant, is_public: bool) -> None:
        made = 0
        for endpoint in endpoints:
            try:
                tool = tools.create_api_tool(endpoint=endpoint, tenant=tenant,
                                             is_public=is_public, created_by=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{endpoint}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.log_addition(request, tool, [{"added": {}}])
                made += 1
        if made:
            self.message_user(
                request,
                ngettext("Made %(count)d tool of %(tenant)s.",
                         "Made %(count)d tools of %(tenant)s.", made)
                % {"count": made, "tenant": tenant},
                messages.SUCCESS,
            )


# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------


def _pretty_json(value) -> str:
    if value in (None, {}, []):
        return "—"
    return format_html("<pre class=\"mcp-json\">{}</pre>",
                       json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False))


@admin.register(McpTool)
class McpToolAdmin(TenantScopedAdmin):
    """MCP tools of the tenant (every tenant for operators)."""

    form = McpToolForm
    change_form_template = "admin/mcp/mcptool/change_form.html"
    change_list_template = "admin/mcp/mcptool/change_list.html"
    list_display = ["name", "title", "tool_type", "target", "is_enabled", "is_public",
                    "call_count", "success_rate_display", "avg_response_time"]
    list_filter = ["tool_type", "is_enabled", "is_public", "auth_type"]
    search_fields = ["name", "title", "description", "api_path", "external_url",
                     "script_function"]
    ordering = ["name"]
    actions = ["restore_selected", "enable_selected", "disable_selected", "refresh_selected"]

    USAGE = ["call_count", "success_count", "failure_count", "success_rate_display",
             "avg_response_time"]
    RECORD = ["created_at", "created_by", "updated_at", "updated_by"]
    API_DERIVED = ["api_method", "api_path", "api_module", "permission_code",
                   "input_schema_display", "output_schema_display", "annotations_display"]

    # -- pages ---------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj=None):
        head = ["name", "title", "description", "tool_type", "is_enabled", "is_public"]
        calls = (_("Calls"), {"fields": ["timeout", "max_retries"]})
        if obj is None:
            fieldsets = [
                (None, {"fields": head}),
                (_("Target"), {
                    "fields": ["endpoint", "external_url", "api_method", "script_function"],
                    "description": _("An API tool calls a registered endpoint, and takes its "
                                     "method, permission, schemas and annotations from it. An "
                                     "external tool calls a URL with a method. A script tool "
                                     "runs a global function of its tenant in the sandbox, "
                                     "and takes its schemas from the function's docs."),
                }),
                (_("Authentication (external tools)"), {"fields": ["auth_type", CREDENTIALS]}),
                (_("Access"), {"fields": ["permission_code", "required_scopes"]}),
                (_("Schemas (external tools)"), {"fields": ["input_schema", "output_schema",
                                                            "annotations"]}),
                calls,
            ]
            if is_operator(request):
                fieldsets.insert(0, (None, {"fields": [self.tenant_field]}))
            return fieldsets
        if is_operator(request):
            head = [self.tenant_field, *head]
        if obj.tool_type == ToolType.API:
            middle = [
                (_("Endpoint"), {"fields": ["endpoint", "api_method", "api_path", "api_module",
                                            "permission_code"]}),
                (_("Access"), {"fields": ["required_scopes"]}),
                (_("Schemas (from the endpoint)"), {"fields": ["input_schema_display",
                                                               "output_schema_display",
                                                               "annotations_display"]}),
            ]
        elif obj.tool_type == ToolType.SCRIPT:
            middle = [
                (_("Global function"), {"fields": ["script_function"]}),
                (_("Access"), {"fields": ["permission_code", "required_scopes"]}),
                (_("Schemas (from the function's docs)"), {
                    "fields": ["input_schema_display", "output_schema_display",
                               "annotations"]}),
            ]
        else:
            credentials = ["auth_type", "stored_credentials"]
            if self.has_change_permission(request, obj):
                credentials += [CREDENTIALS, CLEAR_CREDENTIALS]
            middle = [
                (_("Target"), {"fields": ["external_url", "api_method"]}),
                (_("Authentication"), {"fields": credentials}),
                (_("Access"), {"fields": ["permission_code", "required_scopes"]}),
                (_("Schemas"), {"fields": ["input_schema", "output_schema", "annotations"]}),
            ]
        if self.is_foreign(request, obj):
            # The platform's tool: what it does and takes, not its platform-wide counts.
            return [(None, {"fields": head}), *middle, calls]
        return [
            (None, {"fields": head}),
            *middle,
            calls,
            (_("Usage"), {"fields": self.USAGE}),
            (_("Record"), {"fields": self.RECORD, "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        readonly += ["tool_type", "stored_credentials", *self.USAGE, *self.RECORD]
        if obj.tool_type == ToolType.API:
            readonly += ["endpoint", *self.API_DERIVED]
        elif obj.tool_type == ToolType.SCRIPT:
            readonly += ["input_schema_display", "output_schema_display"]
        return readonly

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "required_scopes":
            return scope_list_formfield(db_field)
        if db_field.name == "external_url":
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "endpoint":
            # Only endpoints a tool can be made of: live, enabled and, for a tenant, not
            # platform-only (the registry is not tenant-owned: this is its scoping).
            from rbac.catalogue import platform_codes

            endpoints = ApiEndpoint.objects.filter(is_active=True, is_enabled=True)
            if not is_operator(request):
                endpoints = endpoints.exclude(permission_code__in=platform_codes())
            kwargs["queryset"] = endpoints.order_by("path", "method")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "endpoint":
            field.label_from_instance = lambda endpoint: (
                f"{endpoint.method} {endpoint.path}"
                + (f" ({endpoint.operation_id})" if endpoint.operation_id else "")
            )
        return field

    def get_urls(self):
        from django.urls import path

        from gateway.try_tool import try_tool_view

        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path("<path:object_id>/try/", self.admin_site.admin_view(
                lambda request, object_id: try_tool_view(self, request, object_id)),
                name="%s_%s_try" % info),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            from gateway.try_tool import allowed

            # A public tool of the platform: this tenant's own calls of it.
            context["usage"] = tool_usage(obj, tenant_id=request.user.tenant_id) \
                if self.is_foreign(request, obj) else tool_usage(obj)
            context["can_try"] = allowed(request.user, obj)
            context["is_public_tool"] = self.is_foreign(request, obj)
        return super().render_change_form(request, context, add=add, change=change,
                                          form_url=form_url, obj=obj)

    # -- the platform's public tools, shown to a tenant read-only ------------------------

    @staticmethod
    def is_foreign(request: HttpRequest, obj) -> bool:
        """Return whether ``obj`` is a public tool of the platform seen by a tenant's person:
        listed, opened and tried, never changed."""
        return (obj is not None and not is_operator(request)
                and obj.tenant_id != request.user.tenant_id)

    def public_tools(self, request: HttpRequest) -> list:
        """Return the platform's public tools the person's tenant is offered (none for an
        operator, whose list holds every tenant's tools)."""
        if is_operator(request):
            return []
        return policy.public_tools_offered(request.user.tenant_id)

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and not self.in_recycle_bin(request):
            obj = next((tool for tool in self.public_tools(request)
                        if str(tool.pk) == str(object_id)), None)
        return obj

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return not self.is_foreign(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return not self.is_foreign(request, obj) and super().has_delete_permission(request, obj)

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        if self.is_foreign(request, self.get_object(request, object_id)):
            raise Http404  # the platform's history is not the tenant's
        return super().history_view(request, object_id, extra_context)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        from gateway.try_tool import allowed

        public = [(tool, allowed(request.user, tool)) for tool in self.public_tools(request)]
        return super().changelist_view(request, {**(extra_context or {}),
                                                 "public_tools": public})

    # -- writes, all through gateway.services.tools --------------------------------------

    def save_model(self, request: HttpRequest, obj: McpTool, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        tools.save_tool(tool=obj, auth_config=form.credentials_change(), sent=form.sent())

    def delete_model(self, request: HttpRequest, obj: McpTool) -> None:
        self._delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self._delete(request, obj)

    def _delete(self, request: HttpRequest, obj: McpTool) -> None:
        try:
            tools.delete_tool(tool=obj)
        except ValidationError as exc:
            self.message_user(request, f"{obj}: {'; '.join(exc.messages)}", messages.ERROR)

    def restore_object(self, request: HttpRequest, obj: McpTool) -> None:
        """Restore through the tool service, which refuses a name a live tool has taken."""
        tools.restore_tool(tool=obj)

    def _switch(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        changed = 0
        for tool in queryset.exclude(is_enabled=enabled):
            tools.set_enabled(tool=tool, enabled=enabled)
            self.log_change(request, tool, [{"changed": {"fields": ["is_enabled"]}}])
            changed += 1
        self.message_user(
            request,
            ngettext("Switched %(count)d tool.", "Switched %(count)d tools.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Enable selected tools"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Offer the selected tools to agents again."""
        self._switch(request, queryset, True)

    @admin.action(description=_("Disable selected tools"), permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Stop offering the selected tools to agents."""
        self._switch(request, queryset, False)

    @admin.action(description=_("Derive the schemas of the selected API tools again"),
                  permissions=["change"])
    def refresh_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Derive the selected API tools' schemas and annotations from the API again."""
        refreshed = 0
        for tool in queryset.filter(tool_type=ToolType.API):
            try:
                tools.refresh_api_tool(tool=tool)
            except ValidationError as exc:
                self.message_user(request, f"{tool}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.log_change(request, tool, [{"changed": {"fields": ["input_schema",
                                                                        "output_schema",
                                                                        "annotations"]}}])
                refreshed += 1
        self.message_user(
            request,
            ngettext("Derived the schemas of %(count)d tool again.",
                     "Derived the schemas of %(count)d tools again.", refreshed)
            % {"count": refreshed},
            messages.SUCCESS if refreshed else messages.WARNING,
        )

    # -- columns -------------------------------------------------------------

    @admin.display(description=_("target"))
    def target(self, obj: McpTool) -> str:
        """Return what the tool calls: its route, or its method and URL."""
        if obj.tool_type == ToolType.API:
            return f"{obj.api_method} {obj.api_path}"
        if obj.tool_type == ToolType.SCRIPT:
            return obj.script_function
        return f"{obj.api_method} {obj.external_url}"

    @admin.display(description=_("success rate"))
    def success_rate_display(self, obj: McpTool) -> str:
        """Return the share of successful calls as a percentage, "—" before any call."""
        rate = obj.success_rate
        return "—" if rate is None else f"{rate * 100:.1f} %"

    @admin.display(description=_("stored credentials"))
    def stored_credentials(self, obj: McpTool) -> str:
        """Say whether credentials are stored, never what they are."""
        if obj.auth_type == AuthType.NONE:
            return gettext("None needed")
        return gettext("Stored (encrypted)") if obj.auth_config is not None else gettext("None stored")

    @staticmethod
    def _described(obj: McpTool) -> McpTool:
        """Return the tool as agents see it: a script tool with its function's schemas now."""
        if obj.tool_type != ToolType.SCRIPT:
            return obj
        described = getattr(obj, "_agents_view", None)
        if described is None:
            described = obj._agents_view = scripts.resolved(obj)
        return described

    @admin.display(description=_("input schema"))
    def input_schema_display(self, obj: McpTool) -> str:
        described = self._described(obj)
        if described.tool_type == ToolType.SCRIPT and scripts.function_of(described) is None:
            return gettext("The global function %(name)s no longer exists; agents do not see "
                           "this tool.") % {"name": obj.script_function}
        return _pretty_json(described.input_schema)

    @admin.display(description=_("output schema"))
    def output_schema_display(self, obj: McpTool) -> str:
        return _pretty_json(self._described(obj).output_schema)

    @admin.display(description=_("annotations"))
    def annotations_display(self, obj: McpTool) -> str:
        return _pretty_json(obj.annotations)


# ---------------------------------------------------------------------------
# The call log
# ---------------------------------------------------------------------------

CALLER_CHOICES_LIMIT = 200


class CallerListFilter(admin.SimpleListFilter):
    """Calls of one caller: a user (signed in) or an API key (by its prefix).

    The choices are the users and keys of the tenant in scope; an operator first picks a
    tenant with the tenant filter.
    """

    title = _("caller")
    parameter_name = "caller_id"

    def _tenant_id(self, request: HttpRequest):
        tenant_id = get_current_tenant_id()
        if tenant_id is None and is_operator(request):
            try:
                tenant_id = uuid.UUID(request.GET.get("tenant__id__exact", ""))
            except ValueError:
                return None
        return tenant_id

    def lookups(self, request: HttpRequest, model_admin):
        from accounts.models import ApiKey, User

        tenant_id = self._tenant_id(request)
        if tenant_id is None:
            return []
        users = (User.objects.all_tenants(include_deleted=True).filter(tenant_id=tenant_id)
                 .order_by("username").values_list("pk", "username")[:CALLER_CHOICES_LIMIT])
        keys = (ApiKey.objects.all_tenants(include_deleted=True).filter(tenant_id=tenant_id)
                .order_by("prefix").values_list("prefix", "name")[:CALLER_CHOICES_LIMIT])
        return [
            *((str(pk), gettext("User %(name)s") % {"name": name}) for pk, name in users),
            *((prefix, gettext("API key %(prefix)s (%(name)s)") % {"prefix": prefix, "name": name})
              for prefix, name in keys),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(caller_id=value) if value else queryset


@admin.register(McpToolCallLog)
class McpToolCallLogAdmin(AppendOnlyLogAdmin):
    """Every tools/call: who called which tool with what, and how it ended."""

    list_display = ["created_at", "tool_name", "caller_type", "username", "status",
                    "response_status", "response_time"]
    list_filter = ["status", "caller_type", "tool", CallerListFilter, "created_at"]
    search_fields = ["tool_name", "username", "caller_id", "request_id", "trace_id",
                     "jsonrpc_id"]
    fields = readonly_fields = [
        "created_at", "tenant", "tool", "tool_name", "caller_type", "caller_id", "user",
        "username", "operator_tenant", "ip_address", "user_agent", "protocol_version",
        "jsonrpc_id", "request_id", "trace_id", "status", "response_status", "response_time",
        "error_message", "error_stack", "request_headers", "exchange",
    ]

    def _hide_stack(self, request: HttpRequest, names) -> list:
        # The stack is the operators' to read (issue 5 item 5), never a tenant's.
        return [name for name in names if is_operator(request) or name != "error_stack"]

    def get_fields(self, request: HttpRequest, obj=None):
        return self._hide_stack(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self._hide_stack(request, super().get_readonly_fields(request, obj))

    @admin.display(description=_("arguments and response"))
    def exchange(self, obj: McpToolCallLog) -> str:
        """Return the arguments and the response side by side."""
        return format_html(
            '<table class="mcp-exchange"><thead><tr><th>{}</th><th>{}</th></tr></thead>'
            '<tbody><tr><td style="vertical-align: top">{}</td>'
            '<td style="vertical-align: top">{}</td></tr></tbody></table>',
            _("arguments"), _("response"),
            _pretty_json(obj.request_params), _pretty_json(obj.response_data),
        )
