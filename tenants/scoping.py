"""The data scope of a user, as a hook the layers above fill in.

Every list of tenant-owned rows (the API's base viewsets, the tenant-scoped admin, the log
readers) is narrowed to the rows its user reaches. What a user reaches is RBAC's decision
(``rbac.access.restrict``: roles' data scopes over departments and owners), a layer above
the tenancy core. The function is named by the ``DATA_SCOPE_RESTRICT`` setting, wired at the
top (config/settings.py), so that the base classes here need no import of it.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models import QuerySet
from django.utils.module_loading import import_string


@lru_cache(maxsize=1)
def _restrictor():
    path = getattr(settings, "DATA_SCOPE_RESTRICT", None)
    if not path:
        raise ImproperlyConfigured(
            "DATA_SCOPE_RESTRICT must name the function narrowing a queryset to a user's "
            "data scope (rbac.access.restrict)."
        )
    return import_string(path)


def restrict(queryset: QuerySet, user) -> QuerySet:
    """Return ``queryset`` limited to the rows ``user``'s data scope reaches."""
    return _restrictor()(queryset, user)


def _forget(setting: str, **kwargs) -> None:
    if setting == "DATA_SCOPE_RESTRICT":
        _restrictor.cache_clear()


setting_changed.connect(_forget)
