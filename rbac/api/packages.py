"""API of tenant packages: the permissions and menus each tenant's roles may grant (the
tenantpackage:* codes, which only the platform tenant's roles can hold)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from rbac.catalogue import platform_codes
from rbac.models import Menu, Permission
from tenants.api.base import PlatformSerializer, PlatformViewSet
from tenants.models import TenantPackage


class TenantPackageSerializer(PlatformSerializer):
    permissions = serializers.SlugRelatedField(
        many=True, required=False, slug_field="code",
        queryset=Permission.objects.filter(is_active=True),
        help_text=gettext_lazy("Permission codes the package grants, such as user:view."),
    )
    menus = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Menu.objects.all())

    class Meta:
        model = TenantPackage
        fields = ["id", "code", "name", "description", "status", "max_users",
                  "max_concurrent_runs", "permissions", "menus", "created_at", "updated_at"]

    def validate_permissions(self, permissions: list[Permission]) -> list[Permission]:
        """Refuse the codes only the platform tenant's roles may hold."""
        over = sorted({p.code for p in permissions} & platform_codes())
        if over:
            raise serializers.ValidationError(
                _("A package cannot include platform permissions: %(codes)s.")
                % {"codes": ", ".join(over)}
            )
        return permissions


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
