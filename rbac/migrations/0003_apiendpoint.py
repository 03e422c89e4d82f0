"""The API endpoint registry moves from the MCP app to RBAC: state only, the table stays."""

from django.db import migrations, models

import rbac.models


class Migration(migrations.Migration):

    dependencies = [
        ("rbac", "0002_menu_tree_index"),
        ("mcp", "0005_tool_timeout_help"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiEndpoint",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("path", models.CharField(help_text="The route's path template as the OpenAPI schema names it, e.g. /api/v1/users/{id}/.", max_length=255, verbose_name="path")),
                        ("method", models.CharField(choices=[("GET", "GET"), ("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("DELETE", "DELETE")], max_length=10, verbose_name="method")),
                        ("module", models.CharField(blank=True, help_text="The app that serves the route.", max_length=100, verbose_name="module")),
                        ("description", models.TextField(blank=True, verbose_name="description")),
                        ("operation_id", models.CharField(blank=True, max_length=255, verbose_name="operation id")),
                        ("permission_code", models.CharField(help_text='The permission the route needs; "authenticated": any signed-in user.', max_length=100, verbose_name="permission code")),
                        ("required_scopes", models.JSONField(blank=True, default=list, help_text="Permission codes an API key must also hold to call the route.", validators=[rbac.models.validate_required_scopes], verbose_name="required scopes")),
                        ("is_enabled", models.BooleanField(default=True, help_text="A disabled route answers 404 to everybody.", verbose_name="enabled")),
                        ("is_mcp_tool", models.BooleanField(default=False, verbose_name="MCP tool")),
                        ("is_active", models.BooleanField(default=True, help_text="False once the route no longer exists in the code.", verbose_name="active")),
                        ("last_synced_at", models.DateTimeField(blank=True, null=True, verbose_name="last synced at")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                    ],
                    options={
                        "verbose_name": "API endpoint",
                        "verbose_name_plural": "API endpoints",
                        "db_table": "api_endpoints",
                        "ordering": ["path", "method"],
                        "indexes": [models.Index(fields=["module"], name="api_endpoints_module_idx")],
                        "constraints": [models.UniqueConstraint(fields=("path", "method"), name="mcp_apiendpoint_unique_path_method", violation_error_message="This route and method are already registered.")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
