# Monthly partitions of login_logs on MariaDB/MySQL and PostgreSQL (logs issue items 3-4).

from django.db import migrations

from logs.operations import PartitionTableByMonth


class Migration(migrations.Migration):

    dependencies = [
        ("logs", "0001_initial"),
    ]

    operations = [
        PartitionTableByMonth(model_name="loginlog"),
    ]
