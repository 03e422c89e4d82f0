"""Serializers of tenants and tenant packages (platform operators only) and dictionaries."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from rbac.catalogue import platform_codes
from rbac.models import Menu, Permission
from tenants.api.base import PlatformSerializer
from tenants.models import Dictionary, DictionaryItem, Tenant, TenantPackage


class TenantSerializer(PlatformSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "code", "name", "status", "plan", "package", "settings", "description",
                  "expires_on", "user_quota", "is_platform", "created_at", "updated_at"]
        read_only_fields = ["is_platform"]


class TenantPackageSerializer(PlatformSerializer):
    permissions = serializers.SlugRelatedField(
        many=True, required=False, slug_field="code",
        queryset=Permission.objects.filter(is_active=True),
        help_text=gettext_lazy("Permission codes the package grants, such as user:view."),
    )
    menus = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Menu.objects.all())

    class Meta:
        model = TenantPackage
        fields = ["id", "code", "name", "description", "status", "max_users", "permissions",
                  "menus", "created_at", "updated_at"]

    def validate_permissions(self, permissions: list[Permission]) -> list[Permission]:
        """Refuse the codes only the platform tenant's roles may hold."""
        over = sorted({p.code for p in permissions} & platform_codes())
        if over:
            raise serializers.ValidationError(
                _("A package cannot include platform permissions: %(codes)s.")
                % {"codes": ", ".join(over)}
            )
        return permissions


class DictionarySerializer(PlatformSerializer):
    class Meta:
        model = Dictionary
        fields = ["id", "tenant", "type", "name", "description", "status",
                  "created_at", "updated_at", "created_by", "updated_by"]


class DictionaryItemSerializer(PlatformSerializer):
    class Meta:
        model = DictionaryItem
        fields = ["id", "tenant", "dictionary", "label", "value", "sort_order", "status",
                  "is_default", "created_at", "updated_at", "created_by", "updated_by"]
