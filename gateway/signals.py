"""Drop the cached endpoint rules and tool catalogue whenever a registry row or tool changes."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gateway import policy
from gateway.enforcement import invalidate
from gateway.models import ApiEndpoint, McpTool


@receiver([post_save, post_delete], sender=ApiEndpoint)
def endpoint_changed(sender, instance, **kwargs) -> None:
    using = kwargs.get("using") or "default"
    invalidate(using=using)
    policy.invalidate(using=using)


@receiver([post_save, post_delete], sender=McpTool)
def tool_changed(sender, instance, **kwargs) -> None:
    policy.invalidate(using=kwargs.get("using") or "default")
