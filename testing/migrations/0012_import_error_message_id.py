from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("testing", "0011_tenant_isolation_policies"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="error_i18n",
            field=models.JSONField(blank=True, editable=False, null=True,
                                   verbose_name="error message id"),
        ),
    ]
