"""Serializers of tenants (platform operators only) and dictionaries (packages: ``rbac.api.packages``)."""


from tenants.api.base import PlatformSerializer
from tenants.models import Dictionary, DictionaryItem, Tenant


class TenantSerializer(PlatformSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "code", "name", "status", "plan", "package", "settings", "description",
                  "expires_on", "user_quota", "outbound_networks", "is_platform", "created_at",
                  "updated_at"]
        read_only_fields = ["is_platform"]


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
