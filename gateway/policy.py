"""Which tools a caller may list and call: one policy for both (issue 5, item 4).

A caller sees, and may call, exactly the tools that are

* live and enabled, of a type the gateway offers (``api``, ``external``, ``script``);
* of the caller's own tenant, or public (offered to every tenant by another tenant,
  usually the platform); a tenant's own tool shadows a public tool of the same name;
* for an ``api`` tool: backed by a registry endpoint that is enabled and still in the code;
* for a ``script`` tool: of the caller's own tenant (never public, whatever its flag says),
  running a global function that still exists (``gateway.scripts``; the tool is then
  handed out with the function's current schemas);
* guarded by a permission code the user holds (an ``api`` tool's is its endpoint's, an
  external or script tool's its own), which an API key's scopes include, and which is not a
  platform-only code unless the user is a platform operator: the REST API's own rule
  (``rbac.api.permissions.RbacPermission``);
* and whose required scopes (the endpoint's and the tool's) the API key holds.

``tools/list`` and ``tools/call`` both go through ``visible_tools``/``find_tool``, so a
tool outside the policy is exactly as unknown to the caller as a tool that does not exist.
The order is stable: by name. The candidate tools of a tenant are cached (one cache round
trip per request, see ``_candidates``); every write of a tool or a registry row makes the
cache stale.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from gateway import scripts
from gateway.choices import CallerType, ToolType
from rbac.access import get_access
from rbac.api.permissions import AUTHENTICATED
from rbac.catalogue import platform_codes

OFFERED_TYPES = (ToolType.API, ToolType.EXTERNAL, ToolType.SCRIPT)
CACHE_PREFIX = "mcp:tools"
VERSION_KEY = "mcp:tools:version"
# With the per-process cache of development, another process sees an edit within this
# many seconds; with a shared cache (CACHE_URL=redis://...) every process sees it at once.
CACHE_TIMEOUT = 30  # seconds
# Tenants whose snapshot this process keeps unpickled (``_candidates``); beyond this many,
# the one kept longest ago is dropped.
KEPT_SNAPSHOTS = 256
_kept: OrderedDict[str, tuple[str, list]] = OrderedDict()
_kept_lock = threading.Lock()


@dataclass(frozen=True)
class Caller:
    """Who is calling: a user, through an API key (agents) or signed in (the admin's form)."""

    user: Any
    api_key: Any = None
    ip: str | None = None
    user_agent: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def tenant_id(self):
        return self.user.tenant_id

    @property
    def caller_type(self) -> str:
        return CallerType.API_KEY if self.api_key is not None else CallerType.USER

    @property
    def caller_id(self) -> str:
        """Return the key's public prefix for a key, else the user's id."""
        if self.api_key is not None:
            return str(self.api_key.prefix)
        return str(self.user.pk)

    @property
    def scopes(self) -> frozenset[str] | None:
        """Return the key's scopes, ``None`` when nothing narrows the user's permissions."""
        if self.api_key is None or self.api_key.scopes is None:
            return None
        return frozenset(self.api_key.scopes)


def _query(tenant_id):
    """Return the enabled live tools of ``tenant_id`` and the public ones (one query)."""
    from gateway.models import McpTool

    return (
        McpTool.objects.all_tenants()
        .filter(Q(tenant_id=tenant_id) | Q(is_public=True))
        .filter(is_enabled=True, tool_type__in=OFFERED_TYPES)
        .select_related("endpoint")
        # Never cached: an external tool's credentials are loaded when it is called.
        .defer("auth_config")
    )


def _candidates(caller: Caller) -> list:
    """Return the tools that may concern ``caller``, from the cache when it is current.

    A snapshot serves only when taken at the catalogue's current version, which is read
    from the shared cache on every request: any write of a tool or a registry row moves it
    (``invalidate``), and every process sees the move at once. The process keeps the
    snapshots it has read, unpickled, by tenant (``_kept``), so a request at an unchanged
    version costs one cache round trip for the version and no unpickling of the tenant's
    tools (about 0.1 ms of every ``tools/call``, issue 16, item 6); the first request after
    a move reads the tenant's snapshot from the cache, or builds it. Counters change by
    ``QuerySet.update`` and do not move the version; a snapshot's counters are not read.

    The tools returned are shared by every request of the process that reads the same
    snapshot: they are read, never changed (``find_tool`` hands out a copy).
    """
    tenant_key = f"{CACHE_PREFIX}:{caller.tenant_id}"
    version = cache.get(VERSION_KEY)
    if version is not None:
        kept = _kept.get(tenant_key)
        if kept is not None and kept[0] == version:
            return kept[1]
        snapshot = cache.get(tenant_key)
        if snapshot is not None and snapshot[0] == version:
            _keep(tenant_key, snapshot)
            return snapshot[1]
    tools = list(_query(caller.tenant_id))
    if version is None:
        version = uuid.uuid4().hex
        cache.add(VERSION_KEY, version, CACHE_TIMEOUT)
        version = cache.get(VERSION_KEY, version)
    cache.set(tenant_key, (version, tools), CACHE_TIMEOUT)
    _keep(tenant_key, (version, tools))
    return tools


def _keep(tenant_key: str, snapshot: tuple[str, list]) -> None:
    """Keep ``snapshot`` of a tenant in this process, dropping the least recently kept."""
    with _kept_lock:
        _kept[tenant_key] = snapshot
        _kept.move_to_end(tenant_key)
        while len(_kept) > KEPT_SNAPSHOTS:
            _kept.popitem(last=False)


def invalidate(using: str = "default") -> None:
    """Make every cached snapshot stale, now and again once the transaction commits."""
    cache.delete(VERSION_KEY)
    transaction.on_commit(lambda: cache.delete(VERSION_KEY), using=using)


def permission_code(tool) -> str:
    """Return the code a caller of ``tool`` must hold."""
    if tool.tool_type == ToolType.API and tool.endpoint is not None:
        return tool.endpoint.permission_code
    return tool.permission_code


def required_scopes(tool) -> set[str]:
    """Return the scopes an API key needs for ``tool``: its endpoint's and its own."""
    scopes = set(tool.required_scopes or ())
    if tool.tool_type == ToolType.API and tool.endpoint is not None:
        scopes.update(tool.endpoint.required_scopes or ())
    return scopes


def allows(caller: Caller, tool, access=None, *, any_tenant: bool = False) -> bool:
    """Return whether ``caller`` may see and call ``tool`` (see the module docstring).

    ``any_tenant`` skips the tenant condition: the admin's "try this tool" page for
    platform operators, whose data scope is every tenant.
    """
    if not tool.is_enabled or tool.is_deleted or tool.tool_type not in OFFERED_TYPES:
        return False
    if tool.tenant_id != caller.tenant_id and not any_tenant and (
            not tool.is_public or tool.tool_type == ToolType.SCRIPT):
        return False
    if tool.tool_type == ToolType.API:
        endpoint = tool.endpoint
        if endpoint is None or not endpoint.is_enabled or not endpoint.is_active:
            return False
    code = permission_code(tool)
    if not code:
        return False
    scopes = caller.scopes
    if code != AUTHENTICATED:
        if scopes is not None and code not in scopes:
            return False
        access = access or get_access(caller.user)
        if not access.allows(code):
            return False
        if code in platform_codes() and not caller.user.is_platform_operator:
            return False
    if scopes is not None and not required_scopes(tool) <= scopes:
        return False
    return True


def _resolve(tenant_id, tools) -> dict[str, Any]:
    """Return ``{lowercased name: tool}``: the tool each name means to ``tenant_id``.

    A tenant's own tool of a name shadows every public one, even when the caller may not
    call the own tool: the name then means the tenant's tool, never another tenant's.
    Among public tools of one name, the first by name and tenant id wins.
    """
    chosen: dict[str, Any] = {}
    for tool in sorted(tools, key=lambda t: (t.name.lower(), t.name, str(t.tenant_id))):
        key = tool.name.lower()
        current = chosen.get(key)
        if current is None or (
            tool.tenant_id == tenant_id and current.tenant_id != tenant_id
        ):
            chosen[key] = tool
    return chosen


def public_tools_offered(tenant_id) -> list:
    """Return the public tools (of the platform) that ``tenant_id``'s agents are offered by
    name: enabled, and not shadowed by a tool of the tenant's own, by name. Whether a caller
    may call one still depends on their permissions and key (``allows``)."""
    chosen = _resolve(tenant_id, _query(tenant_id))
    return [chosen[key] for key in sorted(chosen) if chosen[key].tenant_id != tenant_id]


def visible_tools(caller: Caller) -> list:
    """Return the tools ``caller`` may call, in a stable order (by name).

    Script tools come with their function's schemas; one query reads the functions.
    """
    access = get_access(caller.user)
    chosen = _resolve(caller.tenant_id, _candidates(caller))
    return scripts.bind_all(
        [chosen[key] for key in sorted(chosen) if allows(caller, chosen[key], access)])


def find_tool(caller: Caller, name: str):
    """Return the tool named exactly ``name`` that ``caller`` may call, or ``None``."""
    if not isinstance(name, str) or not name or len(name) > 128:
        return None
    key = name.lower()
    tool = _resolve(caller.tenant_id,
                    [t for t in _candidates(caller) if t.name.lower() == key]).get(key)
    if tool is None or tool.name != name or not allows(caller, tool):
        return None
    # A copy: the call may load a deferred field (an external tool's credentials) into it,
    # and the snapshot's tools are shared (``_candidates``).
    tool = scripts.resolved(copy.copy(tool))
    if tool.tool_type == ToolType.SCRIPT and scripts.function_of(tool) is None:
        return None  # its function was deleted: unknown, as in tools/list
    return tool
