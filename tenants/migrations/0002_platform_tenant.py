"""Create the platform tenant that holds the platform operators."""

from django.db import migrations

from tenants.ids import uuid7


def create_platform_tenant(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    db = schema_editor.connection.alias
    if not Tenant.objects.using(db).filter(is_platform=True).exists():
        Tenant.objects.using(db).create(
            id=uuid7(),
            code="platform",
            name="Platform",
            plan="enterprise",
            is_platform=True,
            description="Platform operators. Created by migrations; never deleted.",
        )


def remove_platform_tenant(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    Tenant.objects.using(schema_editor.connection.alias).filter(is_platform=True).delete()


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunPython(create_platform_tenant, remove_platform_tenant)]
