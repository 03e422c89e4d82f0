# Monthly partitions of operation_logs and audit_logs on MariaDB/MySQL and PostgreSQL
# (logs issue item 3): the tables join the mechanism by declaration.

from django.db import migrations

from logs.operations import PartitionTableByMonth


class Migration(migrations.Migration):

    dependencies = [
        ("logs", "0003_operation_and_audit_logs"),
    ]

    operations = [
        PartitionTableByMonth(model_name="operationlog"),
        PartitionTableByMonth(model_name="auditlog"),
    ]
