"""Drop the cached tool catalogue whenever a registry row or a tool changes.

(RBAC drops its cached endpoint rules itself: ``rbac.signals``.)
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gateway import policy
from gateway.models import McpTool
from rbac.models import ApiEndpoint
from rbac.registry import endpoints_synced


@receiver([post_save, post_delete], sender=ApiEndpoint)
def endpoint_changed(sender, instance, **kwargs) -> None:
    policy.invalidate(using=kwargs.get("using") or "default")


@receiver(endpoints_synced)
def endpoints_were_synced(sender, using="default", **kwargs) -> None:
    policy.invalidate(using=using)


@receiver([post_save, post_delete], sender=McpTool)
def tool_changed(sender, instance, **kwargs) -> None:
    policy.invalidate(using=kwargs.get("using") or "default")
