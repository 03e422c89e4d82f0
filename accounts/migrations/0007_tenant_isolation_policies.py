"""The tenant isolation policy of row-level security on this app's tenant-owned tables
(PostgreSQL only; core.rls)."""

from django.db import migrations

from core.rls.operations import TenantIsolationPolicies


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_notifications_move_to_their_app")]

    operations = [
        TenantIsolationPolicies(model_names=['apikey', 'department', 'position', 'user']),
    ]
