"""Drop the cached endpoint rules whenever a registry row changes."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gateway.enforcement import invalidate
from gateway.models import ApiEndpoint


@receiver([post_save, post_delete], sender=ApiEndpoint)
def endpoint_changed(sender, instance, **kwargs) -> None:
    invalidate(using=kwargs.get("using") or "default")
