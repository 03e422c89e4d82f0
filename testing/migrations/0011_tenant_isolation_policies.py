"""The tenant isolation policy of row-level security on this app's tenant-owned tables
(PostgreSQL only; core.rls)."""

from django.db import migrations

from core.rls.operations import TenantIsolationPolicies


class Migration(migrations.Migration):
    dependencies = [("testing", "0010_step_error_message_id")]

    operations = [
        TenantIsolationPolicies(model_names=['databaseconfig', 'dataset', 'environment', 'execution', 'executionstep', 'globalfunction', 'importjob', 'interface', 'interfacefolder', 'keyword', 'planscenario', 'planschedule', 'project', 'scenario', 'scenariostep', 'stepresult', 'testplan', 'variable']),
    ]
