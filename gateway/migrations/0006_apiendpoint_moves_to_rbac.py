"""The API endpoint registry now belongs to RBAC (rbac 0003): tools point at it there.

State only: the table, its rows and the foreign key constraint stay as they are.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("mcp", "0005_tool_timeout_help"),
        ("rbac", "0003_apiendpoint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="mcptool",
                    name="endpoint",
                    field=models.ForeignKey(blank=True, help_text="The registered route an API tool calls.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="tools", to="rbac.apiendpoint", verbose_name="endpoint"),
                ),
                migrations.DeleteModel(name="ApiEndpoint"),
            ],
            database_operations=[],
        ),
    ]
