"""Notifications move to their own app (notifications 0001): state only, the tables stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_user_language'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='notificationdepartment',
                    name='notification',
                ),
                migrations.RemoveField(
                    model_name='notificationread',
                    name='notification',
                ),
                migrations.RemoveField(
                    model_name='notificationuser',
                    name='notification',
                ),
                migrations.RemoveField(
                    model_name='notificationrole',
                    name='notification',
                ),
                migrations.RemoveField(
                    model_name='notificationdepartment',
                    name='department',
                ),
                migrations.RemoveField(
                    model_name='notificationread',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='notificationrole',
                    name='role',
                ),
                migrations.RemoveField(
                    model_name='notificationuser',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='Notification',
                ),
                migrations.DeleteModel(
                    name='NotificationDepartment',
                ),
                migrations.DeleteModel(
                    name='NotificationRead',
                ),
                migrations.DeleteModel(
                    name='NotificationRole',
                ),
                migrations.DeleteModel(
                    name='NotificationUser',
                ),
            ],
            database_operations=[],
        ),
    ]
