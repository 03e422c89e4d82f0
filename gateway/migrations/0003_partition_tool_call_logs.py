"""Monthly partitions of the MCP tool call log (logs.partitioning, issue 5 item 1)."""

from django.db import migrations

from logs.operations import PartitionTableByMonth


class Migration(migrations.Migration):

    dependencies = [
        ("mcp", "0002_tools_and_call_logs"),
    ]

    operations = [
        PartitionTableByMonth(model_name="mcptoolcalllog"),
    ]
