"""The tenant isolation policy of row-level security on this app's tenant-owned tables
(PostgreSQL only; core.rls)."""

from django.db import migrations

from core.rls.operations import TenantIsolationPolicies


class Migration(migrations.Migration):
    dependencies = [("tenants", "0006_association_verbose_names")]

    operations = [
        TenantIsolationPolicies(model_names=['dictionary', 'dictionaryitem']),
    ]
