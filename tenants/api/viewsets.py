"""API of tenants and tenant packages: the tenant:* and tenantpackage:* codes, which only
the platform tenant's roles can hold."""

from __future__ import annotations

from config.api.base import PlatformViewSet
from tenants.api.serializers import TenantPackageSerializer, TenantSerializer
from tenants.models import Tenant, TenantPackage


class TenantViewSet(PlatformViewSet):
    """Tenants. They are deactivated, never deleted."""

    queryset = Tenant.objects.all()
    serializer_class = TenantSerializer
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    filterset_fields = ["status", "plan", "package"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "created_at", "expires_on"]
    ordering = ["code"]


class TenantPackageViewSet(PlatformViewSet):
    """Tenant packages: what tenants may use."""

    queryset = TenantPackage.objects.all()
    serializer_class = TenantPackageSerializer
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    filterset_fields = ["status"]
    search_fields = ["code", "name"]
    ordering = ["code"]

    def optimise(self, queryset):
        return queryset.prefetch_related("permissions", "menus")
