"""The soft-delete check of notifications takes the name of its new app."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="notification",
            name="notifications_notification_alive_ck",
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("alive", True), ("is_deleted", False)),
                    models.Q(("alive__isnull", True), ("is_deleted", True)),
                    _connector="OR",
                ),
                name="notifications_notification_alive_ck",
            ),
        ),
    ]
