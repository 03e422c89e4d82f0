"""Services of MCP tools: the one path by which the admin, the API and scripts write tools.

* ``create_api_tool`` turns a registered endpoint into a tool of a tenant: name, title,
  description, schemas and annotations from the platform's OpenAPI document
  (``gateway.schemas``), the route and permission code from the registry row.
* ``create_tool``/``update_tool``/``save_tool`` write any tool (``api``, ``external`` or
  ``script``);
  ``prepare_tool`` is their validation, also run by the admin's form before it saves.
* ``refresh_api_tool`` derives an API tool's schemas again after the API changed.
* ``delete_tool``/``restore_tool`` soft-delete and restore, keeping the registry's
  ``is_mcp_tool`` flag true exactly while a live tool uses the endpoint.

Rules (issue 5, items 1-2):

* What an API tool takes from its endpoint (route, method, module, permission code, input
  and output schema, annotations) is not typed by hand: a value sent for it that differs
  from the endpoint's is a field error. An API tool keeps its endpoint and a tool keeps
  its type; make a new tool instead.
* A new API tool needs an endpoint that still exists in the code and is enabled; a tenant's
  tool cannot use a platform-only endpoint (``rbac_platform_actions``), which its users
  could never call.
* Only the platform tenant's tools may be public (offered to every tenant): a tenant's
  tool offered to others would hand them its credentials, and their agents' arguments to
  its target.
* An external tool's ``auth_config`` is write-only: ``UNCHANGED`` keeps the stored value,
  ``None`` removes it, a dict replaces it after ``gateway.outbound.validate_auth_config``
  accepts it for the tool's ``auth_type``. Switching to ``auth_type="none"`` drops it.
  Messages never repeat a secret.
* An external tool's input schema must be a JSON Schema object (draft 2020-12) of
  ``type: object``, as MCP requires; its output schema, when given, too.
* A script tool runs a global function of its own tenant (``script_function``), named when
  it is saved; it is never public (the function is one tenant's), has no endpoint, URL or
  credentials, and names the permission a caller needs. Its schemas are its function's
  (``gateway.scripts``): a snapshot is stored on save, a value sent for them that differs is
  a field error, and ``tools/list`` reads them from the function again every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.context import get_current_tenant_id, get_scope, tenant_context
from gateway import scripts
from gateway.choices import AuthType, ToolType
from gateway.models import McpTool
from rbac.models import ApiEndpoint
from tenants.models import Tenant

# Keep the stored auth_config (the default of every write).
UNCHANGED: Any = type("Unchanged", (), {"__repr__": lambda self: "UNCHANGED"})()

# What an API tool takes from its endpoint and the OpenAPI document.
DERIVED_FIELDS = ("api_path", "api_method", "api_module", "permission_code", "input_schema",
                  "output_schema", "annotations")
ANNOTATION_FLAGS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
SYSTEM_FIELDS = ("created_by", "updated_by", "deleted_by")
# An external tool whose author gave no input schema takes no arguments.
EMPTY_INPUT_SCHEMA = {"type": "object", "properties": {}, "additionalProperties": False}


def _add(errors: dict[str, list], name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _merge(errors: dict[str, list], exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(m for m in messages if m not in errors.get(name, []))
    else:
        errors.setdefault("__all__", []).extend(exc.messages)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def endpoint_problem(endpoint: ApiEndpoint, tenant: Tenant | None) -> str | None:
    """Return why ``endpoint`` cannot back a new tool of ``tenant``, ``None`` if it can."""
    from rbac.catalogue import platform_codes

    if not endpoint.is_active:
        return _("%(endpoint)s no longer exists in the code.") % {"endpoint": endpoint}
    if not endpoint.is_enabled:
        return _("%(endpoint)s is disabled in the endpoint registry.") % {"endpoint": endpoint}
    platform_only = endpoint.permission_code in platform_codes()
    if tenant is not None and not tenant.is_platform and platform_only:
        return _("%(endpoint)s is for platform operators only; a tenant's tool cannot use it.") % {
            "endpoint": endpoint}
    return None


def validate_json_schema(value: Any, *, name: str) -> list[str]:
    """Return the problems of ``value`` as a tool schema: a JSON Schema of ``type: object``."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(value, dict):
        return [_("Enter a JSON object.")]
    problems = []
    if value.get("type") != "object":
        problems.append(_("MCP requires the %(name)s to have \"type\": \"object\".")
                        % {"name": name})
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        location = "/".join(str(part) for part in exc.path) or "(root)"
        problems.append(_("Not a valid JSON Schema at %(location)s: %(message)s")
                        % {"location": location, "message": exc.message})
    return problems


def validate_annotations(value: Any) -> list[str]:
    """Return the problems of MCP tool annotations (the hints are booleans, title text)."""
    if not isinstance(value, dict):
        return [_("Enter a JSON object.")]
    problems = []
    unknown = sorted(set(value) - {"title", *ANNOTATION_FLAGS})
    if unknown:
        problems.append(_("Unknown annotations: %(names)s. MCP defines title, %(flags)s.")
                        % {"names": ", ".join(unknown), "flags": ", ".join(ANNOTATION_FLAGS)})
    wrong = sorted(key for key in ANNOTATION_FLAGS
                   if key in value and not isinstance(value[key], bool))
    if wrong:
        problems.append(_("These annotations must be true or false: %(names)s.")
                        % {"names": ", ".join(wrong)})
    if "title" in value and not isinstance(value["title"], str):
        problems.append(_("The title annotation must be text."))
    return problems


def _permission_problem(code: str, tenant: Tenant | None) -> str | None:
    from rbac.catalogue import platform_codes
    from rbac.models import Permission

    if not code:
        return None  # the model asks for one
    if not Permission.objects.filter(code=code, is_active=True).exists():
        return _("No permission has the code %(code)s.") % {"code": code}
    if tenant is not None and not tenant.is_platform and code in platform_codes():
        return _("%(code)s is a platform permission; a tenant's users never hold it.") % {
            "code": code}
    return None


# ---------------------------------------------------------------------------
# The one validation and save path
# ---------------------------------------------------------------------------


def apply_definition(tool: McpTool, endpoint: ApiEndpoint, *, texts: bool) -> None:
    """Copy what an API tool takes from ``endpoint`` onto ``tool`` (unsaved).

    With ``texts``, an empty name, title or description is filled too.
    Raise ``gateway.schemas.SchemaUnavailable`` when the OpenAPI document lacks the endpoint.
    """
    from gateway.schemas import tool_definition

    definition = tool_definition(endpoint)
    if texts:
        tool.name = tool.name or definition.name
        tool.title = tool.title or definition.title
        tool.description = tool.description or definition.description
    tool.api_path = endpoint.path
    tool.api_method = endpoint.method
    tool.api_module = endpoint.module
    tool.permission_code = endpoint.permission_code
    tool.input_schema = definition.input_schema
    tool.output_schema = definition.output_schema
    tool.annotations = {**definition.annotations, "title": tool.title or definition.title}


def prepare_tool(
    tool: McpTool, *, auth_config: Any = UNCHANGED, sent: Mapping[str, Any] | None = None
) -> None:
    """Make ``tool`` (unsaved, its fields as the caller set them) ready to save, or raise
    ``ValidationError`` with every problem by field.

    ``sent`` holds the values the caller typed, to refuse those an API tool derives.
    """
    errors: dict[str, list] = {}
    sent = dict(sent or {})
    adding = tool._state.adding
    try:
        tool.assign_tenant_from_context()
    except ValidationError as exc:
        _merge(errors, exc)
    tenant = tool.tenant if tool.tenant_id else None

    stored = None
    if not adding:
        stored = (McpTool._base_manager.filter(pk=tool.pk)
                  .values("tool_type", "endpoint_id").first())
    if stored is not None:
        if tool.tool_type != stored["tool_type"]:
            _add(errors, "tool_type", _("A tool keeps its type; make a new tool instead."))
        if tool.tool_type == ToolType.API and tool.endpoint_id != stored["endpoint_id"]:
            _add(errors, "endpoint", _("An API tool keeps its endpoint; make a new tool for "
                                       "another endpoint."))

    if tool.required_scopes is None:
        tool.required_scopes = []  # an emptied form field
    if tool.is_public and tenant is not None and not tenant.is_platform:
        _add(errors, "is_public", _("Only the platform's tools can be offered to every tenant."))

    if tool.tool_type == ToolType.API:
        _prepare_api_tool(tool, tenant, adding, sent, auth_config, errors)
    elif tool.tool_type == ToolType.EXTERNAL:
        _prepare_external_tool(tool, tenant, auth_config, errors)
    elif tool.tool_type == ToolType.SCRIPT:
        _prepare_script_tool(tool, tenant, sent, auth_config, errors)

    clash = None
    if tool.name and tool.tenant_id:
        taken = (McpTool.objects.all_tenants().filter(tenant_id=tool.tenant_id,
                                                      name__iexact=tool.name)
                 .exclude(pk=tool.pk).exists())
        if taken:
            clash = _("The tenant already has a tool named “%(name)s” (names ignore case); "
                      "choose another name.") % {"name": tool.name}
            _add(errors, "name", clash)
    if isinstance(tool.annotations, dict) and tool.title:
        tool.annotations = {**tool.annotations, "title": tool.title}
    # The stamps are the system's, not input (an operator's stamp is of another tenant);
    # the name's clash is reported once, above, in words that name the tool.
    exclude = [*SYSTEM_FIELDS, *(name for name in ("name", "tenant") if name in errors)]
    try:
        tool.full_clean(exclude=exclude)
    except ValidationError as exc:
        _merge(errors, exc)
    if clash:
        errors["name"] = [clash]  # the model's own clean says the same in fewer words
    if errors:
        raise ValidationError(errors)


def _prepare_api_tool(tool, tenant, adding, sent, auth_config, errors) -> None:
    from gateway.schemas import SchemaUnavailable

    for name in ("external_url",):
        if sent.get(name):
            _add(errors, name, _("An API tool calls its endpoint, not a URL."))
    if auth_config is not UNCHANGED and auth_config not in (None, {}):
        _add(errors, "auth_config", _("Only external tools authenticate to their target."))
    tool.auth_config = None
    endpoint = tool.endpoint if tool.endpoint_id else None
    if endpoint is None:
        return  # the model names the missing endpoint
    try:
        apply_definition(tool, endpoint, texts=adding)
    except SchemaUnavailable:
        _add(errors, "endpoint", _("The API's OpenAPI document does not describe %(endpoint)s.")
             % {"endpoint": endpoint})
        return
    if adding:
        problem = endpoint_problem(endpoint, tenant)
        if problem:
            _add(errors, "endpoint", problem)
            return
    for name in DERIVED_FIELDS:
        if name in sent and sent[name] not in (None, "", {}) and sent[name] != getattr(tool, name):
            _add(errors, name, _("An API tool takes this from its endpoint; refresh the tool "
                                 "to derive it again."))


def _prepare_external_tool(tool, tenant, auth_config, errors) -> None:
    from gateway.outbound import validate_auth_config

    if auth_config is not UNCHANGED:
        tool.auth_config = auth_config or None
    if tool.auth_type == AuthType.NONE:
        if auth_config not in (UNCHANGED, None, {}):
            _add(errors, "auth_config", _("A tool without authentication takes no "
                                          "authentication settings; leave them empty."))
        # Switching authentication off forgets the credentials.
        tool.auth_config = None
    else:
        if tool.auth_config is None:
            _add(errors, "auth_config", _("Enter the authentication settings of this type."))
        else:
            try:
                validate_auth_config(tool.auth_type, tool.auth_config)
            except ValidationError as exc:
                _merge(errors, exc)
    problem = _permission_problem(tool.permission_code, tenant)
    if problem:
        _add(errors, "permission_code", problem)
    if tool.input_schema in (None, {}):
        tool.input_schema = dict(EMPTY_INPUT_SCHEMA)
    for message in validate_json_schema(tool.input_schema, name=_("input schema")):
        _add(errors, "input_schema", message)
    if tool.output_schema == {}:
        tool.output_schema = None
    if tool.output_schema is not None:
        for message in validate_json_schema(tool.output_schema, name=_("output schema")):
            _add(errors, "output_schema", message)
    if tool.annotations is None:
        tool.annotations = {}
    for message in validate_annotations(tool.annotations):
        _add(errors, "annotations", message)


def _prepare_script_tool(tool, tenant, sent, auth_config, errors) -> None:
    if auth_config is not UNCHANGED and auth_config not in (None, {}):
        _add(errors, "auth_config", _("Only external tools authenticate to their target."))
    tool.auth_config = None
    problem = _permission_problem(tool.permission_code, tenant)
    if problem:
        _add(errors, "permission_code", problem)
    if tool.annotations is None:
        tool.annotations = {}
    for message in validate_annotations(tool.annotations):
        _add(errors, "annotations", message)
    # The model names a missing or unknown function (McpTool.clean).
    function = scripts.find(tenant.pk, tool.script_function) if tenant is not None else None
    if function is None:
        return
    for name, value in scripts.definition(function).items():
        if name in sent and sent[name] not in (None, "", {}) and sent[name] != value:
            _add(errors, name, _("A script tool takes this from its global function's "
                                 "docs; edit the function instead."))
        setattr(tool, name, value)


def _sync_endpoint_flag(endpoint_id) -> None:
    """Set the registry's ``is_mcp_tool`` to whether a live tool uses the endpoint."""
    if endpoint_id is None:
        return
    used = McpTool.objects.all_tenants().filter(endpoint_id=endpoint_id).exists()
    # update(): a derived flag, not an operator's switch, so no cache to drop.
    ApiEndpoint.objects.filter(pk=endpoint_id).exclude(is_mcp_tool=used).update(is_mcp_tool=used)


@transaction.atomic
def save_tool(
    *, tool: McpTool, auth_config: Any = UNCHANGED, sent: Mapping[str, Any] | None = None
) -> McpTool:
    """Validate (``prepare_tool``) and save ``tool``; return it."""
    # A script that names the tenant needs no scope of its own: the checks read the
    # tenant's rows through its fail-closed managers.
    unscoped = get_scope() is None and tool.tenant_id is not None
    with tenant_context(tool.tenant_id) if unscoped else nullcontext():
        prepare_tool(tool, auth_config=auth_config, sent=sent)
        tool.save()
    # A tool keeps its endpoint (prepare_tool), so only this one's flag can change.
    _sync_endpoint_flag(tool.endpoint_id)
    return tool


def _resolve_tenant(tenant: Tenant | None) -> Tenant | None:
    if tenant is not None:
        return tenant
    tenant_id = get_current_tenant_id()
    return Tenant.objects.get(pk=tenant_id) if tenant_id is not None else None


def create_tool(
    *, tenant: Tenant | None = None, created_by=None, auth_config: Any = UNCHANGED,
    **fields: Any,
) -> McpTool:
    """Create a tool of ``tenant`` (default: the tenant in context) from ``fields``.

    An API tool needs ``endpoint``; what it derives from it is filled in.
    """
    unknown = sorted(set(fields) - {f.name for f in McpTool._meta.get_fields()})
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in unknown})
    tool = McpTool(**fields)
    resolved = _resolve_tenant(tenant)
    if resolved is not None:
        tool.tenant = resolved
    if created_by is not None:
        tool.created_by = created_by
    return save_tool(tool=tool, auth_config=auth_config, sent=fields)


def update_tool(*, tool: McpTool, auth_config: Any = UNCHANGED, **fields: Any) -> McpTool:
    """Change ``fields`` of ``tool`` (and its credentials, see the module docstring)."""
    for name, value in fields.items():
        setattr(tool, name, value)
    return save_tool(tool=tool, auth_config=auth_config, sent=fields)


@transaction.atomic
def create_api_tool(
    *,
    endpoint: ApiEndpoint,
    tenant: Tenant | None = None,
    name: str | None = None,
    is_public: bool = False,
    created_by=None,
) -> McpTool:
    """Make ``endpoint`` a tool of ``tenant`` (default: the tenant in context).

    The name defaults to the operation id; everything else comes from the endpoint and
    the OpenAPI document. Raise ``ValidationError`` for an inactive, disabled or
    platform-only endpoint, a name the tenant already uses, or a public tool outside
    the platform tenant.
    """
    fields = {"tool_type": ToolType.API, "endpoint": endpoint, "is_public": is_public}
    if name:
        fields["name"] = name
    return create_tool(tenant=tenant, created_by=created_by, **fields)


@transaction.atomic
def refresh_api_tool(*, tool: McpTool) -> McpTool:
    """Derive an API tool's route, permission, schemas and annotations again from its
    endpoint (after the API changed); its name, title and description stay."""
    if tool.tool_type != ToolType.API or tool.endpoint_id is None:
        raise ValidationError({"tool_type": _("Only API tools are derived from an endpoint.")})
    return save_tool(tool=tool)


@transaction.atomic
def delete_tool(*, tool: McpTool) -> None:
    """Soft-delete ``tool``; its name is free again, its call log stays."""
    tool.soft_delete()
    _sync_endpoint_flag(tool.endpoint_id)


@transaction.atomic
def restore_tool(*, tool: McpTool) -> McpTool:
    """Bring a soft-deleted tool back; ``ValidationError`` when a live tool took its name."""
    if tool.is_deleted:
        clash = (McpTool.objects.all_tenants().filter(tenant_id=tool.tenant_id,
                                                      name__iexact=tool.name).exists())
        if clash:
            raise ValidationError({"name": _(
                "The tenant already has a live tool named “%(name)s”; rename or delete it "
                "first.") % {"name": tool.name}})
    tool.restore()
    _sync_endpoint_flag(tool.endpoint_id)
    return tool


@transaction.atomic
def set_enabled(*, tool: McpTool, enabled: bool) -> McpTool:
    """Switch ``tool`` on or off for agents; nothing else about it is checked or changed,
    so that a tool can always be switched off."""
    if tool.is_enabled != enabled:
        tool.is_enabled = enabled
        tool.save(update_fields=["is_enabled"])
    return tool
