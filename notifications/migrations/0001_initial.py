"""Notifications, moved from accounts (accounts 0006): state only, the tables stay.

The soft-delete check keeps the name it was created with until 0002 renames it.
"""

import django.db.models.deletion
import django.utils.timezone
import tenants.ids
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0006_notifications_move_to_their_app'),
        ('rbac', '0003_apiendpoint'),
        ('tenants', '0003_tenant_access_version_dictionary_dictionaryitem_and_more'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                        ('id', models.UUIDField(default=tenants.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                        ('is_deleted', models.BooleanField(default=False, editable=False, verbose_name='deleted')),
                        ('deleted_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='deleted at')),
                        ('alive', models.BooleanField(default=True, editable=False, null=True)),
                        ('type', models.CharField(choices=[('system', 'System'), ('announcement', 'Announcement'), ('reminder', 'Reminder')], default='announcement', max_length=50, verbose_name='type')),
                        ('level', models.CharField(choices=[('info', 'Information'), ('warning', 'Warning'), ('critical', 'Critical')], default='info', max_length=20, verbose_name='level')),
                        ('title', models.CharField(max_length=200, verbose_name='title')),
                        ('content', models.TextField(verbose_name='content')),
                        ('audience', models.CharField(choices=[('tenant', 'Everyone in the tenant'), ('users', 'Chosen users'), ('departments', 'Chosen departments and their sub-departments'), ('roles', 'Holders of chosen roles')], default='tenant', max_length=20, verbose_name='audience')),
                        ('status', models.CharField(choices=[('active', 'Active'), ('archived', 'Archived')], default='active', max_length=20, verbose_name='status')),
                        ('published_at', models.DateTimeField(default=django.utils.timezone.now, help_text='Recipients see the notification from this moment.', verbose_name='published at')),
                        ('expires_at', models.DateTimeField(blank=True, help_text='Recipients no longer see the notification after this moment. Empty: never.', null=True, verbose_name='expires at')),
                        ('created_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                        ('deleted_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='deleted by')),
                        ('sender', models.ForeignKey(blank=True, help_text='Empty: sent by the system.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='sent_notifications', to=settings.AUTH_USER_MODEL, verbose_name='sender')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant', verbose_name='tenant')),
                        ('updated_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='updated by')),
                    ],
                    options={
                        'verbose_name': 'notification',
                        'verbose_name_plural': 'notifications',
                        'db_table': 'notifications',
                        'ordering': ['-published_at', '-id'],
                        'abstract': False,
                    },
                ),
                migrations.CreateModel(
                    name='NotificationDepartment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('department', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.department', verbose_name='department')),
                        ('notification', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='department_targets', to='notifications.notification', verbose_name='notification')),
                    ],
                    options={
                        'verbose_name': 'department addressed',
                        'verbose_name_plural': 'departments addressed',
                        'db_table': 'notification_departments',
                    },
                ),
                migrations.CreateModel(
                    name='NotificationRead',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('read_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='read at')),
                        ('notification', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reads', to='notifications.notification', verbose_name='notification')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'read receipt',
                        'verbose_name_plural': 'read receipts',
                        'db_table': 'notification_reads',
                    },
                ),
                migrations.CreateModel(
                    name='NotificationRole',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('notification', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='role_targets', to='notifications.notification', verbose_name='notification')),
                        ('role', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='rbac.role', verbose_name='role')),
                    ],
                    options={
                        'verbose_name': 'role addressed',
                        'verbose_name_plural': 'roles addressed',
                        'db_table': 'notification_roles',
                    },
                ),
                migrations.CreateModel(
                    name='NotificationUser',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('notification', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='user_targets', to='notifications.notification', verbose_name='notification')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'user addressed',
                        'verbose_name_plural': 'users addressed',
                        'db_table': 'notification_users',
                    },
                ),
                migrations.AddIndex(
                    model_name='notification',
                    index=models.Index(fields=['tenant', 'status', 'published_at'], name='notifications_visible_idx'),
                ),
                migrations.AddIndex(
                    model_name='notification',
                    index=models.Index(fields=['tenant', 'type'], name='notifications_tenant_type_idx'),
                ),
                migrations.AddIndex(
                    model_name='notification',
                    index=models.Index(fields=['tenant', 'created_at'], name='notifications_created_idx'),
                ),
                migrations.AddConstraint(
                    model_name='notification',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('alive', True), ('is_deleted', False)), models.Q(('alive__isnull', True), ('is_deleted', True)), _connector='OR'), name='notifications_notification_alive_ck'),
                ),
                migrations.AddConstraint(
                    model_name='notification',
                    constraint=models.CheckConstraint(condition=models.Q(('expires_at__isnull', True), ('expires_at__gt', models.F('published_at')), _connector='OR'), name='notifications_expiry_after_publication', violation_error_message='The expiry must come after the publication.'),
                ),
                migrations.AddConstraint(
                    model_name='notificationdepartment',
                    constraint=models.UniqueConstraint(fields=('notification', 'department'), name='notification_depts_unique_pair', violation_error_message='This department is already addressed.'),
                ),
                migrations.AddConstraint(
                    model_name='notificationread',
                    constraint=models.UniqueConstraint(fields=('notification', 'user'), name='notification_reads_unique_pair', violation_error_message='This user has already read the notification.'),
                ),
                migrations.AddConstraint(
                    model_name='notificationrole',
                    constraint=models.UniqueConstraint(fields=('notification', 'role'), name='notification_roles_unique_pair', violation_error_message='This role is already addressed.'),
                ),
                migrations.AddConstraint(
                    model_name='notificationuser',
                    constraint=models.UniqueConstraint(fields=('notification', 'user'), name='notification_users_unique_pair', violation_error_message='This user is already addressed.'),
                ),
            ],
            database_operations=[],
        ),
    ]
