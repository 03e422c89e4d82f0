"""The tenant isolation policy of row-level security on this app's tenant-owned tables
(PostgreSQL only; core.rls)."""

from django.db import migrations

from core.rls.operations import TenantIsolationPolicies


class Migration(migrations.Migration):
    dependencies = [("logs", "0006_tenant_time_indexes_end_with_id")]

    operations = [
        TenantIsolationPolicies(model_names=['auditlog', 'loginlog', 'operationlog', 'usagedaily']),
    ]
