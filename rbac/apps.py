"""Role-based access control."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_catalogue(sender, using="default", **kwargs) -> None:
    """Regenerate the permission catalogue after ``migrate`` (once, on the rbac app)."""
    from django.db import connections, router

    from rbac.catalogue import sync_permissions
    from rbac.models import Permission

    if not router.allow_migrate_model(using, Permission):
        return
    # ``migrate rbac zero`` and partial plans leave no table to write to.
    if Permission._meta.db_table not in connections[using].introspection.table_names():
        return
    sync_permissions(using=using)


def sync_registry(sender, using="default", **kwargs) -> None:
    """Record the API's routes in the endpoint registry after ``migrate`` (once, on rbac).

    A route that declares no permission code fails ``migrate`` here, as it fails
    ``manage.py sync_endpoints``: every route states what it needs (issue 3, item 8).
    """
    from django.db import connections, router

    from rbac.models import ApiEndpoint
    from rbac.registry import sync_endpoints

    if not router.allow_migrate_model(using, ApiEndpoint):
        return
    # ``migrate rbac zero`` and partial plans leave no table to write to.
    if ApiEndpoint._meta.db_table not in connections[using].introspection.table_names():
        return
    sync_endpoints(using=using)


class RbacConfig(AppConfig):
    """Own roles, the generated permission catalogue, menus (a tree), data scopes, the one
    permission decision (``rbac.access``) used by the admin, the API, the pages and the MCP
    tools, and the API endpoint registry with its per-route switches."""

    name = "rbac"
    verbose_name = _("Access control")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rbac import signals  # noqa: F401  (connects the invalidation receivers)

        post_migrate.connect(sync_catalogue, sender=self, dispatch_uid="rbac.sync_catalogue")
        post_migrate.connect(sync_registry, sender=self, dispatch_uid="rbac.sync_registry")
