"""The tenant isolation policy of row-level security on this app's tenant-owned tables
(PostgreSQL only; core.rls)."""

from django.db import migrations

from core.rls.operations import TenantIsolationPolicies


class Migration(migrations.Migration):
    dependencies = [("mcp", "0008_tool_schemas_without_one_of_or_type_lists")]

    operations = [
        TenantIsolationPolicies(model_names=['mcptool', 'mcptoolcalllog']),
    ]
