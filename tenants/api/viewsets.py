"""API of tenants (the tenant:* codes, which only the platform tenant's roles can hold) and
of a tenant's dictionaries. Tenant packages, which grant permissions and menus, are RBAC's
(``rbac.api.packages``)."""

from __future__ import annotations

from tenants.api.base import PlatformViewSet, SoftDeleteViewSet
from tenants.api.serializers import (
    DictionaryItemSerializer,
    DictionarySerializer,
    TenantSerializer,
)
from tenants.models import Dictionary, DictionaryItem, Tenant


class TenantViewSet(PlatformViewSet):
    """Tenants. They are deactivated, never deleted."""

    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    filterset_fields = ["status", "plan", "package"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "created_at", "expires_on"]
    ordering = ["code"]


class DictionaryViewSet(SoftDeleteViewSet):
    """The tenant's dictionaries (seed 000 section 3.11)."""

    queryset = Dictionary.objects.all()
    serializer_class = DictionarySerializer
    filterset_fields = ["status", "type"]
    search_fields = ["type", "name"]
    ordering_fields = ["type", "name", "created_at"]
    ordering = ["type"]


class DictionaryItemViewSet(SoftDeleteViewSet):
    """Items of the tenant's dictionaries (seed 000 section 3.12)."""

    queryset = DictionaryItem.objects.all()
    serializer_class = DictionaryItemSerializer
    filterset_fields = ["dictionary", "status", "is_default"]
    search_fields = ["label", "value"]
    ordering_fields = ["sort_order", "label", "value"]
    ordering = ["dictionary", "sort_order", "value"]
