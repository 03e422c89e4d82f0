"""The MCP tools and their call log (seed 000 sections 3.7, 3.8).

The API endpoint registry that ``api`` tools point at is RBAC's (``rbac.models.ApiEndpoint``):
every API view uses it. The seed's ``mcp_tool_id`` link is the reverse of
``McpTool.endpoint``: one endpoint may back tools of many tenants.

Tools
-----
``McpTool`` is tenant-owned and soft-deleted (seed 000 section 3.7 plus the MCP fields the
seed lacks: title, input and output schema, annotations). Names follow the MCP rules and are
unique per tenant among live rows, compared without case on every backend (MariaDB's
collation would otherwise decide alone). A public tool is offered to every tenant; a
tenant's own tool of the same name shadows it. ``auth_config`` is sealed at rest
(``core.crypto``) and never leaves the server again.

A ``script`` tool runs a global function of its tenant (``script_function``,
"ClassName.method") in the sandbox of user code (``gateway.scripts``). Its input and output
schema come from the function's parameter and return docs when it is listed or called; the
stored ones are a snapshot taken when the tool is saved. A global function belongs to one
tenant, so a script tool is never public.

Call log
--------
``McpToolCallLog`` is one row per ``tools/call`` (seed 000 section 3.8 plus protocol
version, JSON-RPC id, request id and trace id), in the monthly-partitioned log family
(``logs.partitioning``), kept six months.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedJSONField
from gateway.choices import AuthType, CallerType, HttpMethod, ToolType
from logs.models import ActorLog, OperationStatus
from logs.partitioning import MonthlyPartitioning, Retention
from rbac.models import ApiEndpoint, validate_required_scopes  # noqa: F401  (migrations 0001-0005)
from tenants.models import TenantModel, unique_live_per_tenant

# MCP tool names: 1-128 characters of A-Z, a-z, 0-9, '_', '-' and '.' (specification,
# "Tool names").
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}\Z"
tool_name_validator = RegexValidator(
    TOOL_NAME_PATTERN,
    _("Use 1 to 128 letters, digits, '_', '-' and '.', as MCP tool names allow."),
)
# A global function as callers name it: "ClassName.method" (two Python identifiers).
FUNCTION_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*\Z"
function_name_validator = RegexValidator(
    FUNCTION_NAME_PATTERN,
    _("Name a global function as ClassName.method."),
)


def validate_json_object(value) -> None:
    """Refuse anything but a JSON object (a schema or the annotations)."""
    if not isinstance(value, dict):
        raise ValidationError(_("Enter a JSON object."), code="not_object")


class McpTool(TenantModel):
    """A tool offered to AI agents at ``/mcp/``: a registered endpoint, an external API or a
    global function of the tenant."""

    name = models.CharField(_("name"), max_length=128, validators=[tool_name_validator])
    title = models.CharField(_("title"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    tool_type = models.CharField(_("type"), max_length=20, choices=ToolType.choices)
    endpoint = models.ForeignKey(
        ApiEndpoint, verbose_name=_("endpoint"), on_delete=models.PROTECT, null=True,
        blank=True, related_name="tools",
        help_text=_("The registered route an API tool calls."),
    )
    # Seed columns: the route of an API tool (copied from its endpoint), or the HTTP method
    # of an external one.
    api_path = models.CharField(_("API path"), max_length=255, blank=True)
    api_method = models.CharField(
        _("method"), max_length=10, choices=HttpMethod.choices, default=HttpMethod.GET
    )
    api_module = models.CharField(_("module"), max_length=100, blank=True)
    external_url = models.URLField(_("external URL"), max_length=500, blank=True)
    script_function = models.CharField(
        _("global function"), max_length=201, blank=True,
        validators=[function_name_validator],
        help_text=_("The global function a script tool runs, as ClassName.method."),
    )
    auth_type = models.CharField(
        _("authentication"), max_length=20, choices=AuthType.choices, default=AuthType.NONE
    )
    auth_config = EncryptedJSONField(
        _("authentication settings"), null=True, blank=True,
        help_text=_("Stored encrypted; never shown again after saving."),
    )
    permission_code = models.CharField(
        _("permission code"), max_length=100, blank=True,
        help_text=_("The permission a caller needs. API tools take their endpoint's."),
    )
    required_scopes = models.JSONField(
        _("required scopes"), default=list, blank=True, validators=[validate_required_scopes],
        help_text=_("Permission codes an API key must hold to see and call the tool, on top "
                    "of its endpoint's."),
    )
    input_schema = models.JSONField(
        _("input schema"), default=dict, blank=True, validators=[validate_json_object]
    )
    output_schema = models.JSONField(
        _("output schema"), null=True, blank=True, validators=[validate_json_object]
    )
    annotations = models.JSONField(
        _("annotations"), default=dict, blank=True, validators=[validate_json_object]
    )
    timeout = models.PositiveIntegerField(
        _("timeout (seconds)"), default=30,
        validators=[MinValueValidator(1), MaxValueValidator(300)],
        help_text=_("An external tool's HTTP exchange, retries included, an API tool's "
                    "database work or a script tool's run must finish within this time."),
    )
    max_retries = models.PositiveSmallIntegerField(
        _("max retries"), default=3, validators=[MaxValueValidator(10)],
        help_text=_("Retries, with backoff, of idempotent calls that failed to reach the "
                    "target."),
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    is_public = models.BooleanField(
        _("public"), default=False, help_text=_("Offered to every tenant."),
    )
    call_count = models.PositiveBigIntegerField(_("calls"), default=0, editable=False)
    success_count = models.PositiveBigIntegerField(_("successes"), default=0, editable=False)
    failure_count = models.PositiveBigIntegerField(_("failures"), default=0, editable=False)
    total_response_time = models.PositiveBigIntegerField(
        _("total response time (ms)"), default=0, editable=False
    )
    avg_response_time = models.PositiveIntegerField(
        _("average response time (ms)"), default=0, editable=False
    )

    rbac_resource = "mcp_tool"
    rbac_operations = {"call": _("Call MCP tools")}
    # The counters change with every call; the call log is their record.
    audit_ignored_fields = frozenset({
        "call_count", "success_count", "failure_count", "total_response_time",
        "avg_response_time",
    })

    class Meta(TenantModel.Meta):
        db_table = "mcp_tools"
        verbose_name = _("MCP tool")
        verbose_name_plural = _("MCP tools")
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "name",
                name="mcp_tools_unique_name",
                message=_("A tool with this name already exists."),
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "is_enabled"], name="mcp_tools_tenant_enabled_idx"),
            models.Index(fields=["tenant", "api_path", "api_method"], name="mcp_tools_api_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Check the fields each type needs and refuse a name that differs only by case."""
        super().clean()
        errors: dict[str, list] = {}
        if self.tool_type == ToolType.API:
            if self.endpoint_id is None:
                errors.setdefault("endpoint", []).append(
                    _("An API tool calls a registered endpoint; choose one."))
            if self.external_url:
                errors.setdefault("external_url", []).append(
                    _("An API tool calls its endpoint, not a URL."))
        elif self.tool_type == ToolType.EXTERNAL:
            if not self.external_url:
                errors.setdefault("external_url", []).append(
                    _("An external tool needs the URL it calls."))
            if self.endpoint_id is not None:
                errors.setdefault("endpoint", []).append(
                    _("An external tool calls a URL, not a registered endpoint."))
            if not self.permission_code:
                errors.setdefault("permission_code", []).append(
                    _("Name the permission a caller needs."))
        elif self.tool_type == ToolType.SCRIPT:
            self._clean_script(errors)
        if self.script_function and self.tool_type != ToolType.SCRIPT:
            errors.setdefault("script_function", []).append(
                _("Only script tools run a global function."))
        if self.auth_type != AuthType.NONE and self.tool_type != ToolType.EXTERNAL:
            errors.setdefault("auth_type", []).append(
                _("Only external tools authenticate to their target."))
        elif self.tool_type == ToolType.EXTERNAL:
            from gateway.outbound import validate_auth_config

            try:
                validate_auth_config(self.auth_type, self.auth_config)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    errors.setdefault(name, []).extend(messages)
        if self.name and self.tenant_id:
            clash = (
                McpTool.objects.all_tenants()
                .filter(tenant_id=self.tenant_id, name__iexact=self.name)
                .exclude(pk=self.pk)
            )
            if clash.exists():
                errors.setdefault("name", []).append(
                    _("A tool with this name already exists (names ignore case)."))
        if errors:
            raise ValidationError(errors)

    def _clean_script(self, errors: dict[str, list]) -> None:
        """Check a script tool: its tenant's function, no other target, a permission."""
        from gateway.scripts import function_problem

        if not self.script_function:
            errors.setdefault("script_function", []).append(
                _("A script tool runs a global function; name it as ClassName.method."))
        elif self.tenant_id is not None:
            problem = function_problem(self.tenant_id, self.script_function)
            if problem:
                errors.setdefault("script_function", []).append(problem)
        if self.endpoint_id is not None:
            errors.setdefault("endpoint", []).append(
                _("A script tool runs a global function, not a registered endpoint."))
        if self.external_url:
            errors.setdefault("external_url", []).append(
                _("A script tool runs a global function, not a URL."))
        if self.auth_config not in (None, {}):
            errors.setdefault("auth_config", []).append(
                _("Only external tools authenticate to their target."))
        if not self.permission_code:
            errors.setdefault("permission_code", []).append(
                _("Name the permission a caller needs."))
        if self.is_public:
            # A global function is its tenant's: its code, its parameters, its secrets.
            errors.setdefault("is_public", []).append(
                _("A script tool runs a global function of its own tenant and cannot be "
                  "offered to every tenant."))

    @property
    def success_rate(self) -> float | None:
        """Return the share of successful calls, ``None`` before the first call."""
        return self.success_count / self.call_count if self.call_count else None


class McpToolCallLog(ActorLog):
    """One ``tools/call``: who called which tool with what, and how it ended."""

    tool = models.ForeignKey(
        McpTool, verbose_name=_("tool"), on_delete=models.DO_NOTHING, db_constraint=False,
        null=True, blank=True, related_name="+",
    )
    tool_name = models.CharField(_("tool name"), max_length=128)
    caller_id = models.CharField(_("caller id"), max_length=64)
    caller_type = models.CharField(_("caller type"), max_length=20, choices=CallerType.choices)
    protocol_version = models.CharField(_("protocol version"), max_length=20, blank=True)
    jsonrpc_id = models.CharField(_("JSON-RPC id"), max_length=100, blank=True)
    trace_id = models.CharField(_("trace id"), max_length=64, blank=True)
    request_params = models.JSONField(_("arguments"), null=True, blank=True)
    request_headers = models.JSONField(_("request headers"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_data = models.JSONField(_("response"), null=True, blank=True)
    response_time = models.PositiveIntegerField(_("response time (ms)"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=OperationStatus.choices)
    error_message = models.TextField(_("error message"), blank=True)
    # For operators only: never returned to the caller.
    error_stack = models.TextField(_("error stack"), blank=True)
    partitioning = MonthlyPartitioning(column="created_at", retention=Retention(months=6))

    class Meta:
        db_table = "mcp_tool_call_logs"
        verbose_name = _("MCP tool call")
        verbose_name_plural = _("MCP tool calls")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="mcp_calls_tenant_time_idx"),
            models.Index(fields=["tenant", "tool", "created_at"], name="mcp_calls_tool_idx"),
            models.Index(fields=["tenant", "caller_id", "created_at"], name="mcp_calls_caller_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tool_name} {self.status} {self.created_at:%Y-%m-%d %H:%M:%S}"
