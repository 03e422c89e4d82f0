"""The tenant isolation policy of row-level security on the routed report table (PostgreSQL
only; core.rls): it holds tenants' rows like any other tenant-owned table."""

from django.db import migrations

from core.rls.operations import TenantIsolationPolicies


class Migration(migrations.Migration):
    dependencies = [("routed", "0001_initial")]

    operations = [
        TenantIsolationPolicies(model_names=["reportrow"]),
    ]
