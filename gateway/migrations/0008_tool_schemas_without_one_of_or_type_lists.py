"""Rewrite the schemas stored on API tools the way ``gateway.schemas`` now derives them:
``oneOf`` becomes ``anyOf`` (a blank e-mail is valid under both branches of drf-spectacular's
"blank or e-mail", which ``oneOf`` refuses under a validator that checks no formats, the
Python SDK client's), and a ``type`` list with ``"null"`` becomes an ``anyOf`` with
``{"type": "null"}`` (the MCP Inspector's strict mode warns about type lists).

The rewrite is a pure JSON transformation (the OpenAPI document is not read here, so the
migration does not depend on today's code); tools whose schemas do not change are not
saved. Going back leaves the schemas as they are: the rewritten ones accept what the old
ones accepted, and ``refresh`` derives any tool again.
"""

from django.db import migrations

ANNOTATIONS = ("title", "description", "examples", "default", "deprecated", "readOnly",
               "writeOnly")
LITERALS = ("examples", "default", "enum", "const")


def rewrite(schema):
    if isinstance(schema, list):
        return [rewrite(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key in LITERALS:
            result[key] = value
        elif key == "oneOf":
            result["anyOf"] = rewrite(value)
        else:
            result[key] = rewrite(value)
    kind = result.get("type")
    if isinstance(kind, list) and "null" in kind:
        others = [k for k in kind if k != "null"]
        if others:
            outer = {key: result.pop(key) for key in ANNOTATIONS if key in result}
            result["type"] = others[0] if len(others) == 1 else others
            if isinstance(result.get("enum"), list):
                result["enum"] = [item for item in result["enum"] if item is not None]
            result = {"anyOf": [result, {"type": "null"}], **outer}
    return result


def forwards(apps, schema_editor):
    McpTool = apps.get_model("mcp", "McpTool")
    tools = McpTool._base_manager.using(schema_editor.connection.alias)
    for tool in tools.filter(tool_type="api").only("pk", "input_schema", "output_schema"):
        input_schema, output_schema = rewrite(tool.input_schema), rewrite(tool.output_schema)
        if (input_schema, output_schema) != (tool.input_schema, tool.output_schema):
            tools.filter(pk=tool.pk).update(input_schema=input_schema,
                                            output_schema=output_schema)


class Migration(migrations.Migration):
    dependencies = [("mcp", "0007_script_tools")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
