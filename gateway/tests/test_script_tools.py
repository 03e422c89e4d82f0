"""Script tools: a tenant's global function as an MCP tool, run in the sandbox (issue 14).

The functions run in the real sandbox (``core.sandbox``, bubblewrap); the global functions
are the testing app's rows, created here through the ORM.
"""

from __future__ import annotations

import json
import re

import anyio
import pytest
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.schema_check import check_datasource
from core import sandbox
from core.context import all_tenants, tenant_context
from core.redaction import MASK
from gateway.models import McpTool, McpToolCallLog
from gateway.services import tools
from gateway.tests.factories import api_tool, endpoint, global_function, key_of, script_tool
from gateway.tests.test_sdk_client import session
from gateway.tests.test_server import call, rpc

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]

BOOM = "class T:\n    @staticmethod\n    def boom(text):\n        return {'n': 1 / 0}\n"
LOOP = "class T:\n    @staticmethod\n    def spin(text):\n        while True:\n            pass\n"
NAP = ("import time\n\nclass T:\n    @staticmethod\n    def nap(text):\n"
       "        time.sleep(4)\n        return 'rested'\n")
LOGIN = (
    "class Auth:\n"
    "    @staticmethod\n"
    "    def login(user, password, fail=False):\n"
    "        if fail:\n"
    "            raise ValueError('wrong password ' + password)\n"
    "        return {'user': user, 'note': 'signed in with ' + password}\n"
)
LOGIN_PARAMETERS = [
    {"name": "user", "type": "str", "description": "Who signs in"},
    {"name": "password", "type": "str", "description": "Their password", "secret": True},
    {"name": "fail", "type": "bool", "default": False},
]
PASSWORD = "hunter2-horse-battery"
SCOPES = ["mcp_tool:call"]


@pytest.fixture
def key_a(admin_a) -> str:
    return key_of(admin_a, SCOPES)


@pytest.fixture
def key_b(admin_b) -> str:
    return key_of(admin_b, SCOPES)


def result_of(client, key, name, arguments=None) -> dict:
    answer = call(client, key, name, arguments)
    assert "result" in answer, answer
    return answer["result"]


def listed(client, key) -> dict[str, dict]:
    return {tool["name"]: tool for tool in rpc(client, key, "tools/list", {})["result"]["tools"]}


def the_log() -> McpToolCallLog:
    with all_tenants():
        return McpToolCallLog.objects.get()


def counters(tool) -> tuple[int, int, int]:
    with all_tenants():
        tool = McpTool.objects.get(pk=tool.pk)
    return tool.call_count, tool.success_count, tool.failure_count


# ---------------------------------------------------------------------------
# The official SDK client
# ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_sdk_client_lists_and_calls_a_script_tool(live_server, admin_a, tenant_a, mode):
    """The function's parameter docs are the input schema, its dict return the output
    schema; the call runs the function and answers with structured content."""
    global_function(
        tenant_a, "Text.stats",
        "class Text:\n    @staticmethod\n    def stats(text, times=1):\n"
        "        return {'upper': text.upper() * times, 'length': len(text)}\n",
        parameters=[{"name": "text", "type": "str", "description": "Any text"},
                    {"name": "times", "type": "int", "default": 1}],
        return_value={"type": "dict", "description": "The text's figures"},
        description="Figures of a text.")
    tool = script_tool(tenant_a, "text_stats", "Text.stats")
    key = key_of(admin_a, SCOPES)

    async def scenario():
        http, client = session(live_server, key, mode)
        async with http, client:
            listing = await client.list_tools()
            result = await client.call_tool("text_stats", {"text": "ab", "times": 2})
            return listing, result

    listing, result = anyio.run(scenario)
    (described,) = listing.tools
    assert described.name == "text_stats" and described.description == "Figures of a text."
    assert described.input_schema == {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "Any text"},
                       "times": {"type": "integer", "default": 1}},
        "required": ["text"], "additionalProperties": False,
    }
    assert described.output_schema == {"type": "object", "description": "The text's figures"}
    assert result.is_error is False
    assert result.structured_content == {"upper": "ABAB", "length": 2}
    assert json.loads(result.content[0].text) == {"upper": "ABAB", "length": 2}
    log = the_log()
    assert (log.tool_id, log.status, log.response_status) == (tool.pk, "success", 200)
    assert log.request_params == {"text": "ab", "times": 2}
    assert log.response_data == {"upper": "ABAB", "length": 2}
    assert log.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert counters(tool) == (1, 1, 0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sdk_client_gets_a_script_error_as_a_result(live_server, admin_a, tenant_a):
    """A function that raises: an error result with the user's own traceback line."""
    global_function(tenant_a, "T.boom", BOOM, return_value={"type": "dict"})
    script_tool(tenant_a, "boom", "T.boom")
    key = key_of(admin_a, SCOPES)

    async def scenario():
        http, client = session(live_server, key, "auto")
        async with http, client:
            return await client.call_tool("boom", {"text": "x"})

    result = anyio.run(scenario)
    assert result.is_error is True
    text = result.content[0].text
    assert 'File "<function T.boom>", line 4, in boom' in text
    assert "ZeroDivisionError: division by zero" in text


# ---------------------------------------------------------------------------
# Tenants
# ---------------------------------------------------------------------------


def test_each_tenant_runs_its_own_function_of_the_same_name(
        client, tenant_a, tenant_b, key_a, key_b):
    """Same class and method in two tenants, different code: each tool runs its tenant's;
    neither tenant lists or calls the other's tool."""
    global_function(tenant_a, "Text.shout")
    global_function(tenant_b, "Text.shout", "class Text:\n    @staticmethod\n"
                    "    def shout(text):\n        return 'beta says ' + text\n")
    script_tool(tenant_a, "shout")
    script_tool(tenant_b, "shout")
    script_tool(tenant_b, "beta_only")

    assert result_of(client, key_a, "shout", {"text": "hi"})["content"][0]["text"] == "HI"
    assert result_of(client, key_b, "shout", {"text": "hi"})["content"][0]["text"] == \
        "beta says hi"
    assert set(listed(client, key_a)) == {"shout"}
    assert set(listed(client, key_b)) == {"shout", "beta_only"}
    unknown = call(client, key_a, "beta_only", {"text": "hi"})
    assert unknown["error"]["code"] == -32602
    with all_tenants():
        logs = {log.tenant_id: log.tool.tenant_id
                for log in McpToolCallLog.objects.select_related("tool")}
    assert logs == {tenant_a.pk: tenant_a.pk, tenant_b.pk: tenant_b.pk}


def test_a_script_tool_names_a_function_of_its_own_tenant(tenant_a, tenant_b):
    """Another tenant's function is unknown to a tenant's tool."""
    global_function(tenant_b, "Text.shout")
    with pytest.raises(ValidationError) as raised:
        script_tool(tenant_a, "shout")
    assert raised.value.message_dict["script_function"] == [
        "The tenant has no global function Text.shout."]


def test_a_tenants_administrator_cannot_try_another_tenants_script_tool(client_a, tenant_b):
    global_function(tenant_b, "Text.shout")
    tool = script_tool(tenant_b)
    assert client_a.post(reverse("admin:mcp_mcptool_try", args=[tool.pk]),
                         {"arguments": '{"text": "x"}'}).status_code == 404
    with all_tenants():
        assert not McpToolCallLog.objects.exists()


# ---------------------------------------------------------------------------
# The function's docs, read at list time
# ---------------------------------------------------------------------------


def test_an_edit_of_the_function_shows_without_saving_the_tool(client, tenant_a, key_a):
    """New parameter docs are the tool's schema at the next tools/list."""
    function = global_function(tenant_a, "Text.shout")
    script_tool(tenant_a)
    assert listed(client, key_a)["shout"]["inputSchema"]["required"] == ["text"]
    with tenant_context(tenant_a):
        function.parameters = [{"name": "words", "type": "list", "description": "Words"}]
        function.code = ("class Text:\n    @staticmethod\n    def shout(words):\n"
                         "        return ' '.join(words).upper()\n")
        function.return_value = {"type": "dict"}
        function.full_clean()
        function.save()
    described = listed(client, key_a)["shout"]
    assert described["inputSchema"]["properties"] == {
        "words": {"type": "array", "description": "Words"}}
    assert described["outputSchema"] == {"type": "object"}
    result = result_of(client, key_a, "shout", {"words": ["a", "b"]})
    # The docs promise a dict; the code returns text: an error, not an invalid result.
    assert result["isError"] is True
    assert "returned str, not the dict its docs promise" in result["content"][0]["text"]


def test_a_tool_whose_function_was_deleted_is_unknown(client, tenant_a, key_a):
    """Not listed, and called it is an unknown tool; a new function of the name revives it."""
    function = global_function(tenant_a, "Text.shout")
    tool = script_tool(tenant_a)
    with tenant_context(tenant_a):
        function.soft_delete()
    assert listed(client, key_a) == {}
    assert call(client, key_a, "shout", {"text": "x"})["error"]["code"] == -32602
    global_function(tenant_a, "Text.shout")
    assert set(listed(client, key_a)) == {"shout"}
    assert result_of(client, key_a, "shout", {"text": "x"})["content"][0]["text"] == "X"
    assert counters(tool) == (1, 1, 0)


def test_tools_list_reads_the_functions_in_one_query(client, tenant_a, key_a):
    """One script tool or four: tools/list costs the same number of queries."""
    for index in range(4):
        global_function(tenant_a, f"Text.shout{index}",
                        "class Text:\n" + "".join(
                            f"    @staticmethod\n    def shout{n}(text):\n        return text\n"
                            for n in range(4)))
    script_tool(tenant_a, "shout0", "Text.shout0")
    rpc(client, key_a, "tools/list", {})  # warm the caches every request may use
    with CaptureQueriesContext(connection) as one:
        assert len(listed(client, key_a)) == 1
    for index in range(1, 4):
        script_tool(tenant_a, f"shout{index}", f"Text.shout{index}")
    rpc(client, key_a, "tools/list", {})
    with CaptureQueriesContext(connection) as four:
        assert len(listed(client, key_a)) == 4
    assert len(four) == len(one)
    functions_read = [q["sql"] for q in four.captured_queries
                      if "testing_global_functions" in q["sql"]]
    assert len(functions_read) == 1


# ---------------------------------------------------------------------------
# Calls: arguments, errors, limits, secrets, log and counters
# ---------------------------------------------------------------------------


def test_invalid_arguments_are_refused_before_anything_runs(client, tenant_a, key_a,
                                                            monkeypatch):
    """Wrong type, a missing or an unknown argument: an error result naming it, logged and
    counted, and the sandbox never asked."""
    global_function(tenant_a, "Text.shout")
    tool = script_tool(tenant_a)

    def no_run(*args, **kwargs):
        raise AssertionError("the sandbox ran")

    monkeypatch.setattr(sandbox, "run", no_run)
    for arguments, named in (({"text": 5}, "text"), ({}, "text"),
                             ({"text": "x", "extra": 1}, "extra")):
        result = result_of(client, key_a, "shout", arguments)
        assert result["isError"] is True
        assert named in result["content"][0]["text"]
    assert counters(tool) == (3, 0, 3)
    with all_tenants():
        assert set(McpToolCallLog.objects.values_list("response_status", flat=True)) == {400}


def test_a_function_that_raises_is_a_readable_tool_error(client, tenant_a, key_a):
    global_function(tenant_a, "T.boom", BOOM)
    tool = script_tool(tenant_a, "boom", "T.boom")
    result = result_of(client, key_a, "boom", {"text": "x"})
    assert result["isError"] is True and "structuredContent" not in result
    text = result["content"][0]["text"]
    assert 'File "<function T.boom>", line 4, in boom' in text
    assert "ZeroDivisionError: division by zero" in text
    assert "core/sandbox" not in text and "child.py" not in text  # the user's lines only
    log = the_log()
    assert (log.status, log.response_status, log.error_message) == ("failed", 500, text)
    assert counters(tool) == (1, 0, 1)


def test_an_endless_loop_breaks_the_cpu_limit_and_the_next_call_works(
        client, tenant_a, key_a, settings):
    settings.SANDBOX_CPU_SECONDS = 0.5
    global_function(tenant_a, "T.spin", LOOP)
    global_function(tenant_a, "Text.shout")
    script_tool(tenant_a, "spin", "T.spin")
    script_tool(tenant_a)
    result = result_of(client, key_a, "spin", {"text": "x"})
    assert result["isError"] is True
    assert re.fullmatch(r"The function T\.spin exceeded [\d.]+ s of CPU time",
                        result["content"][0]["text"])
    for _attempt in range(3):  # more calls than the pool has sandboxes
        assert result_of(client, key_a, "shout", {"text": "ok"})["content"][0]["text"] == "OK"


def test_the_tools_timeout_bounds_the_wall_clock(client, tenant_a, key_a, settings):
    """A tool's timeout below the sandbox's wall-clock limit is the limit of its runs."""
    settings.SANDBOX_WALL_SECONDS = 10
    global_function(tenant_a, "T.nap", NAP)
    script_tool(tenant_a, "nap", "T.nap", timeout=1)
    result = result_of(client, key_a, "nap", {"text": "x"})
    assert result["isError"] is True
    assert result["content"][0]["text"] == "The function T.nap exceeded 1 s of wall-clock time"


def test_a_secret_argument_never_reaches_the_call_log(client, tenant_a, key_a):
    """Masked in the arguments, and wherever the function repeats it: its answer, its error."""
    global_function(tenant_a, "Auth.login", LOGIN, parameters=LOGIN_PARAMETERS,
                    return_value={"type": "dict"})
    script_tool(tenant_a, "login", "Auth.login")
    schema = listed(client, key_a)["login"]["inputSchema"]
    assert schema["properties"]["password"]["writeOnly"] is True
    ok = result_of(client, key_a, "login", {"user": "ann", "password": PASSWORD})
    assert ok["structuredContent"] == {"user": "ann", "note": f"signed in with {PASSWORD}"}
    failed = result_of(client, key_a, "login",
                       {"user": "ann", "password": PASSWORD, "fail": True})
    assert failed["isError"] is True and PASSWORD in failed["content"][0]["text"]
    wrong_type = result_of(client, key_a, "login", {"user": "ann", "password": 123456789})
    assert wrong_type["isError"] is True
    assert "123456789" not in wrong_type["content"][0]["text"]
    assert "password" in wrong_type["content"][0]["text"]
    with all_tenants():
        logs = list(McpToolCallLog.objects.order_by("id"))
    assert [log.request_params["password"] for log in logs] == [MASK] * 3
    assert logs[0].request_params["user"] == "ann"
    assert logs[0].response_data == {"user": "ann", "note": f"signed in with {MASK}"}
    assert "wrong password" in logs[1].error_message
    for log in logs:
        stored = json.dumps([log.request_params, log.response_data, log.error_message])
        assert PASSWORD not in stored and "123456789" not in stored


def test_an_unavailable_sandbox_is_a_tool_error_naming_what_is_missing(
        client, tenant_a, key_a, monkeypatch):
    global_function(tenant_a, "Text.shout")
    tool = script_tool(tenant_a)

    def unavailable(*args, **kwargs):
        raise sandbox.SandboxUnavailable("User code cannot run: bwrap is not installed.")

    monkeypatch.setattr(sandbox, "run", unavailable)
    result = result_of(client, key_a, "shout", {"text": "x"})
    assert result["isError"] is True
    assert result["content"][0]["text"] == "User code cannot run: bwrap is not installed."
    assert the_log().response_status == 503
    assert counters(tool) == (1, 0, 1)


def test_a_script_tool_needs_its_permission(client, tenant_a, admin_a):
    """A key without the tool's permission code neither lists nor calls it."""
    global_function(tenant_a, "Text.shout")
    script_tool(tenant_a, permission_code="user:update")
    narrow = key_of(admin_a, SCOPES)
    wide = key_of(admin_a, [*SCOPES, "user:update"])
    assert listed(client, narrow) == {}
    assert call(client, narrow, "shout", {"text": "x"})["error"]["code"] == -32602
    assert set(listed(client, wide)) == {"shout"}


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def errors_of(tenant, **fields) -> dict[str, list[str]]:
    values = {"name": "shout", "tool_type": "script", "script_function": "Text.shout",
              "permission_code": "mcp_tool:call", **fields}
    with tenant_context(tenant), pytest.raises(ValidationError) as raised:
        tool = McpTool(tenant=tenant, **values)
        tool.full_clean()
    return raised.value.message_dict


def test_the_model_refuses_what_a_script_tool_cannot_have(tenant_a):
    global_function(tenant_a, "Text.shout")
    assert "script_function" in errors_of(tenant_a, script_function="")
    assert errors_of(tenant_a, script_function="shout")["script_function"] == [
        "Name a global function as ClassName.method."]
    assert errors_of(tenant_a, script_function="Text.whisper")["script_function"] == [
        "The tenant has no global function Text.whisper."]
    assert "endpoint" in errors_of(tenant_a, endpoint=endpoint("/api/v1/users/"))
    assert "external_url" in errors_of(tenant_a, external_url="https://api.example.com/")
    assert "auth_type" in errors_of(tenant_a, auth_type="bearer", auth_config={"token": "t"})
    assert "permission_code" in errors_of(tenant_a, permission_code="")
    assert errors_of(tenant_a, is_public=True)["is_public"] == [
        "A script tool runs a global function of its own tenant and cannot be offered to "
        "every tenant."]
    with pytest.raises(ValidationError) as raised:
        api_tool(tenant_a, script_function="Text.shout")
    assert "script_function" in raised.value.message_dict


def test_the_platforms_script_tool_is_not_public_either(platform):
    global_function(platform, "Text.shout")
    with tenant_context(platform), pytest.raises(ValidationError) as raised:
        tools.create_tool(tool_type="script", name="shout", script_function="Text.shout",
                          permission_code="mcp_tool:call", is_public=True)
    assert "is_public" in raised.value.message_dict


def test_the_service_stores_the_functions_schemas_and_refuses_others(tenant_a):
    """A snapshot of the docs is stored; a schema typed for the tool is refused, as are
    credentials and a permission code nobody has."""
    global_function(tenant_a, "Text.shout", return_value={"type": "dict"})
    fields = {"tool_type": "script", "name": "shout", "script_function": "Text.shout",
              "permission_code": "mcp_tool:call"}
    with tenant_context(tenant_a):
        with pytest.raises(ValidationError) as raised:
            tools.create_tool(**{**fields, "input_schema": {"type": "object"},
                                 "permission_code": "no:such"}, auth_config={"token": "t"})
        assert {"input_schema", "permission_code", "auth_config"} <= set(
            raised.value.message_dict)
        tool = tools.create_tool(**fields, annotations={"readOnlyHint": True})
    assert tool.input_schema["properties"] == {
        "text": {"type": "string", "description": "What to shout"}}
    assert tool.output_schema == {"type": "object"}
    assert tool.annotations == {"readOnlyHint": True}
    with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
        tools.update_tool(tool=tool, tool_type="external")
    assert "tool_type" in raised.value.message_dict


# ---------------------------------------------------------------------------
# The admin and the API
# ---------------------------------------------------------------------------


def script_form(**overrides) -> dict:
    data = {
        "name": "shout", "title": "Shout", "description": "", "tool_type": "script",
        "is_enabled": "on", "endpoint": "", "external_url": "", "api_method": "GET",
        "script_function": "Text.shout", "auth_type": "none", "auth_credentials": "",
        "permission_code": "mcp_tool:call", "required_scopes": "[]", "input_schema": "",
        "output_schema": "", "annotations": "", "timeout": "10", "max_retries": "0",
    }
    data.update(overrides)
    return data


def test_the_admin_makes_and_shows_a_script_tool(client_a, tenant_a):
    global_function(tenant_a, "Text.shout", description="Shouts.")
    add = reverse("admin:mcp_mcptool_add")
    assert "script_function" in client_a.get(add).context["adminform"].form.fields
    refused = client_a.post(add, script_form(script_function="Text.whisper"))
    assert "script_function" in refused.context["adminform"].form.errors
    response = client_a.post(add, script_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    with tenant_context(tenant_a):
        tool = McpTool.objects.get()
    assert (tool.tool_type, tool.script_function, tool.timeout) == ("script", "Text.shout", 10)

    page = client_a.get(reverse("admin:mcp_mcptool_change", args=[tool.pk]))
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    assert "script_function" in fields and "input_schema" not in fields
    html = page.content.decode()
    assert "What to shout" in html  # the function's docs, as agents see them
    assert reverse("admin:mcp_mcptool_try", args=[tool.pk]) in html
    changelist = client_a.get(reverse("admin:mcp_mcptool_changelist"))
    assert "Text.shout" in changelist.content.decode()


def test_the_change_page_says_when_the_function_is_gone(client_a, tenant_a):
    function = global_function(tenant_a, "Text.shout")
    tool = script_tool(tenant_a)
    with tenant_context(tenant_a):
        function.soft_delete()
    page = client_a.get(reverse("admin:mcp_mcptool_change", args=[tool.pk]))
    assert page.status_code == 200
    assert "no longer exists; agents do not see this tool" in page.content.decode()
    assert page.context["can_try"] is False


def test_the_try_page_runs_a_script_tool(client_a, admin_a, tenant_a):
    global_function(tenant_a, "Text.shout")
    tool = script_tool(tenant_a)
    url = reverse("admin:mcp_mcptool_try", args=[tool.pk])
    page = client_a.get(url)
    assert page.status_code == 200
    assert json.loads(page.context["form"].initial["arguments"]) == {"text": ""}
    response = client_a.post(url, {"arguments": '{"text": "loud"}'})
    assert response.status_code == 200
    assert response.context["result_text"] == "LOUD"
    log = the_log()
    assert (log.caller_type, log.caller_id, log.status) == ("user", str(admin_a.pk), "success")
    failed = client_a.post(url, {"arguments": '{"text": 3}'})
    assert b"text" in failed.content and failed.context["outcome"].ok is False


def test_an_operator_tries_a_tenants_script_tool_with_its_tenants_function(
        operator_client, tenant_a, platform):
    """The function is the tool's tenant's, not the operator's."""
    global_function(platform, "Text.shout", "class Text:\n    @staticmethod\n"
                    "    def shout(text):\n        return 'platform'\n")
    global_function(tenant_a, "Text.shout")
    tool = script_tool(tenant_a)
    response = operator_client.post(reverse("admin:mcp_mcptool_try", args=[tool.pk]),
                                    {"arguments": '{"text": "a"}'})
    assert response.context["result_text"] == "A"


def test_the_api_makes_a_script_tool(client_a, tenant_a):
    global_function(tenant_a, "Text.shout")
    response = client_a.post("/api/v1/mcp-tools/", {
        "name": "shout", "tool_type": "script", "script_function": "Text.shout",
        "permission_code": "mcp_tool:call"}, content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["script_function"] == "Text.shout"
    assert body["input_schema"]["required"] == ["text"]
    refused = client_a.post("/api/v1/mcp-tools/", {
        "name": "other", "tool_type": "script", "script_function": "Nope.none",
        "permission_code": "mcp_tool:call"}, content_type="application/json")
    assert refused.status_code == 400
    assert "script_function" in json.dumps(refused.json())


# ---------------------------------------------------------------------------
# The migration
# ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_applies_and_reverses():
    """0007 adds the function's column; reversed, the column goes; applied again, it is back,
    and the schema is as ``migrate`` leaves it (on PostgreSQL with row-level security: the
    policies of the tables and partitions that the reversal dropped, enforced again)."""

    def columns() -> set[str]:
        with connection.cursor() as cursor:
            return {column.name for column in
                    connection.introspection.get_table_description(cursor, "mcp_tools")}

    graph = MigrationExecutor(connection).loader.graph
    latest = graph.leaf_nodes("mcp")
    assert ("mcp", "0007_script_tools") in graph.forwards_plan(latest[0])
    assert "script_function" in columns()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("mcp", "0006_apiendpoint_moves_to_rbac")])
        assert "script_function" not in columns()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    assert "script_function" in columns()
    assert [str(drift) for drift in check_datasource(DEFAULT_DB_ALIAS)] == []
