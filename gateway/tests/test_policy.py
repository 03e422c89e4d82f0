"""One policy for tools/list and tools/call: they agree for every combination.

Combinations of: the user holds the endpoint's permission, the key's scopes include it,
the registry endpoint is enabled, the tool is enabled, the tool is the tenant's own or a
public one of the platform. A tool is listed exactly when it can be called.
"""

from __future__ import annotations

import itertools
import json

import pytest

from gateway import policy
from gateway.tests.factories import api_tool, endpoint, key_of
from tests.api_cases import make_actor

pytestmark = pytest.mark.django_db

COMBINATIONS = list(itertools.product([True, False], repeat=5))


def rpc(client, key, method, params):
    response = client.post(
        "/mcp/", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_ACCEPT="application/json, text/event-stream", HTTP_MCP_PROTOCOL_VERSION="2025-11-25",
    )
    return response.json()


@pytest.mark.parametrize(
    "holds_permission,key_has_scope,endpoint_enabled,tool_enabled,public", COMBINATIONS
)
def test_list_and_call_agree(client, tenant_a, platform, holds_permission, key_has_scope,
                             endpoint_enabled, tool_enabled, public):
    owner = platform if public else tenant_a
    api_tool(owner, "people", is_public=public, is_enabled=tool_enabled,
             schema={"type": "object"})
    if not endpoint_enabled:
        row = endpoint("/api/v1/users/")
        row.is_enabled = False
        row.save()
    user = make_actor(tenant_a, ["user:view"] if holds_permission else ["role:view"])
    key = key_of(user, ["user:view"] if key_has_scope else ["role:view"])

    listed = [tool["name"] for tool in rpc(client, key, "tools/list", {})["result"]["tools"]]
    answer = rpc(client, key, "tools/call", {"name": "people", "arguments": {}})
    callable_ = "result" in answer and answer["result"]["isError"] is False

    expected = holds_permission and key_has_scope and endpoint_enabled and tool_enabled
    assert (listed == ["people"]) is expected
    assert callable_ is expected
    if not expected:
        assert answer["error"]["code"] == -32602


def test_required_scopes_of_the_endpoint_and_tool_narrow_keys(client, tenant_a):
    """A key must also hold the endpoint's and the tool's required scopes."""
    api_tool(tenant_a, "people", schema={"type": "object"}, required_scopes=["role:view"])
    user = make_actor(tenant_a, ["user:view", "role:view"])
    narrow, wide = key_of(user, ["user:view"]), key_of(user, ["user:view", "role:view"])
    assert rpc(client, narrow, "tools/list", {})["result"]["tools"] == []
    assert [t["name"] for t in rpc(client, wide, "tools/list", {})["result"]["tools"]] == ["people"]
    row = endpoint("/api/v1/users/")
    row.required_scopes = ["department:view"]
    row.save()
    assert rpc(client, wide, "tools/list", {})["result"]["tools"] == []


def test_a_tenants_own_tool_shadows_a_public_one(tenant_a, platform, admin_a):
    """The name means the tenant's own tool; once that is disabled, the public one again."""
    public = api_tool(platform, "people", is_public=True, schema={"type": "object"})
    own = api_tool(tenant_a, "people", schema={"type": "object"})
    caller = policy.Caller(user=admin_a)
    assert [tool.pk for tool in policy.visible_tools(caller)] == [own.pk]
    assert policy.find_tool(caller, "people").pk == own.pk
    own.is_enabled = False
    own.save()
    assert [tool.pk for tool in policy.visible_tools(caller)] == [public.pk]
    assert policy.find_tool(caller, "people").pk == public.pk


def test_names_are_exact_but_unique_without_case(tenant_a, admin_a):
    """A call names the tool exactly; a second name differing only by case is refused."""
    from django.core.exceptions import ValidationError

    api_tool(tenant_a, "People", schema={"type": "object"})
    caller = policy.Caller(user=admin_a)
    assert policy.find_tool(caller, "people") is None
    assert policy.find_tool(caller, "People") is not None
    with pytest.raises(ValidationError):
        api_tool(tenant_a, "people", schema={"type": "object"})


@pytest.mark.parametrize("name", ["", "a" * 129, "has space", "slash/name", "ümlaut"])
def test_tool_names_follow_the_mcp_rules(tenant_a, name):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        api_tool(tenant_a, name, schema={"type": "object"})


def test_a_kept_snapshot_serves_its_own_tenant_at_the_current_version_only(
        tenant_a, tenant_b, admin_a, admin_b):
    """The process keeps each tenant's snapshot apart and drops it once the catalogue moves."""
    own_a = api_tool(tenant_a, "people", schema={"type": "object"})
    own_b = api_tool(tenant_b, "people", schema={"type": "object"})
    caller_a, caller_b = policy.Caller(user=admin_a), policy.Caller(user=admin_b)
    for _ in range(2):  # the second round is served from the kept snapshots
        assert policy.find_tool(caller_a, "people").pk == own_a.pk
        assert policy.find_tool(caller_b, "people").pk == own_b.pk
    assert policy._candidates(caller_a) is policy._candidates(caller_a)
    own_b.is_enabled = False
    own_b.save()
    assert policy.find_tool(caller_b, "people") is None
    assert policy.find_tool(caller_a, "people").pk == own_a.pk
    assert [tool.pk for tool in policy.visible_tools(caller_b)] == []


def test_find_tool_hands_out_a_copy_of_the_kept_tool(tenant_a, admin_a):
    """What a call loads into its tool (the deferred credentials) stays out of the snapshot."""
    api_tool(tenant_a, "people", schema={"type": "object"})
    caller = policy.Caller(user=admin_a)
    found = policy.find_tool(caller, "people")
    kept = policy._candidates(caller)
    assert len(kept) == 1 and found is not kept[0] and found.pk == kept[0].pk
    assert "auth_config" not in kept[0].__dict__
    found.auth_config  # noqa: B018 (loads the deferred field)
    assert "auth_config" in found.__dict__ and "auth_config" not in kept[0].__dict__


def test_the_process_keeps_a_bounded_number_of_snapshots(tenant_a, tenant_b, admin_a, admin_b,
                                                         monkeypatch):
    monkeypatch.setattr(policy, "KEPT_SNAPSHOTS", 1)
    monkeypatch.setattr(policy, "_kept", type(policy._kept)())
    policy.visible_tools(policy.Caller(user=admin_a))
    policy.visible_tools(policy.Caller(user=admin_b))
    assert list(policy._kept) == [f"{policy.CACHE_PREFIX}:{tenant_b.pk}"]
