"""The official MCP SDK client against a live server: both negotiation modes.

``live_server`` is Django's threaded WSGI server on the test database, so the data below is
committed (``transactional_db``) and the client speaks real HTTP to ``/mcp/``.
"""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from accounts.models import User
from core.context import all_tenants, tenant_context
from gateway.models import McpToolCallLog
from gateway.tests.factories import api_tool, key_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def session(live_server, key: str, mode: str):
    """Return an SDK client of ``/mcp/`` authenticated with ``key``, negotiating by ``mode``."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    transport = streamable_http_client(f"{live_server.url}/mcp/", http_client=http)
    return http, Client(transport, mode=mode, cache=None)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_sdk_client_lists_and_calls_tools(live_server, admin_a, tenant_a, org_a, mode):
    """The SDK lists the caller's tools and calls one; the call is logged with its version."""
    api_tool(tenant_a, output_schema={"type": "object"})
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, mode)
        async with http, client:
            listing = await client.list_tools()
            result = await client.call_tool("users_list", {"search": "alice"})
            return listing, result

    listing, result = anyio.run(scenario)
    assert [tool.name for tool in listing.tools] == ["users_list"]
    assert result.is_error is False
    assert [row["username"] for row in result.structured_content["results"]] == ["alice"]
    with all_tenants():
        log = McpToolCallLog.objects.get()
    assert log.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_sdk_client_sees_an_unknown_tool_as_an_error(live_server, admin_a, tenant_b, mode):
    """Another tenant's tool is unknown to the SDK client: a JSON-RPC invalid-params error."""
    api_tool(tenant_b, "beta_tool")
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, mode)
        async with http, client:
            with pytest.raises(MCPError) as raised:
                await client.call_tool("beta_tool", {})
            return raised.value

    error = anyio.run(scenario)
    assert error.code == -32602


def test_the_sdk_client_gets_argument_errors_as_results(live_server, admin_a, tenant_a):
    """Arguments outside the schema come back as an error result naming the field."""
    api_tool(tenant_a)
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, "auto")
        async with http, client:
            return await client.call_tool("users_list", {"page_size": 0})

    result = anyio.run(scenario)
    assert result.is_error is True
    assert "page_size" in result.content[0].text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_sdk_client_accepts_the_derived_schemas_of_the_demo_tools(
        live_server, admin_a, tenant_a, platform, mode):
    """The demo's public tools, with the schemas derived from the OpenAPI document: users
    with a blank e-mail (every demo user) satisfy ``users_list``'s output schema under the
    SDK's validator, which checks no formats."""
    from config.management.commands.seed_demo import DEMO_TOOLS
    from gateway.services.tools import create_api_tool
    from rbac.models import ApiEndpoint

    with tenant_context(platform):
        for name, path in DEMO_TOOLS:
            create_api_tool(endpoint=ApiEndpoint.objects.get(path=path, method="GET"),
                            tenant=platform, name=name, is_public=True)
    with tenant_context(tenant_a):
        User.objects.filter(pk=admin_a.pk).update(email="")
    key = key_of(admin_a, scopes=("user:view", "department:view"))

    async def scenario():
        http, client = session(live_server, key, mode)
        async with http, client:
            listing = await client.list_tools()
            results = {tool.name: await client.call_tool(tool.name, {})
                       for tool in listing.tools}
            return listing, results

    listing, results = anyio.run(scenario)
    assert {tool.name for tool in listing.tools} == {name for name, _path in DEMO_TOOLS}
    for name, result in results.items():
        assert result.is_error is False, (name, result.content)
    assert "" in [row["email"] for row in results["users_list"].structured_content["results"]]


def test_an_auto_client_sharing_no_modern_version_falls_back_to_initialize(
        live_server, admin_a, tenant_a, monkeypatch):
    """An ``auto`` client whose only modern version the server does not speak gets -32022
    naming the handshake versions too, so it falls back to ``initialize`` (the SDK's
    intent) instead of giving up."""
    import mcp.client._probe as probe

    monkeypatch.setattr(probe, "LATEST_MODERN_VERSION", "2099-01-01")
    monkeypatch.setattr(probe, "MODERN_PROTOCOL_VERSIONS", ("2099-01-01",))
    api_tool(tenant_a, output_schema={"type": "object"})
    key = key_of(admin_a)

    async def scenario():
        http, client = session(live_server, key, "auto")
        async with http, client:
            return await client.call_tool("users_list", {})

    assert anyio.run(scenario).is_error is False
    with all_tenants():
        assert McpToolCallLog.objects.get().protocol_version == "2025-11-25"
