"""API testing."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_builtins(sender, using="default", **kwargs) -> None:
    """Write the built-in keywords after ``migrate`` (as the permission catalogue is)."""
    from django.db import connections, router

    from testing.keywords import sync_builtin_keywords
    from testing.models import BuiltinKeyword

    if not router.allow_migrate_model(using, BuiltinKeyword):
        return
    # ``migrate testing zero`` and partial plans leave no table to write to.
    if BuiltinKeyword._meta.db_table not in connections[using].introspection.table_names():
        return
    sync_builtin_keywords(using=using)


class TestingConfig(AppConfig):
    """Own the API test domain of seed 001 (projects, interfaces, environments, keywords,
    scenarios, datasets, plans) and, with the next issues, its runs and reports."""

    name = "testing"
    verbose_name = _("API testing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(sync_builtins, sender=self, dispatch_uid="testing.sync_builtins")
        from testing.services import usercode

        usercode.register()
