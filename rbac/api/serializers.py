"""Serializers of roles, the permission catalogue and menus."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from accounts.models import Department
from rbac import grants
from rbac.models import DataScope, Menu, Permission, Role
from tenants.api.base import PlatformSerializer


class PermissionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Permission
        fields = ["id", "code", "name", "type", "module", "description", "is_active"]
        read_only_fields = fields


class MenuSerializer(PlatformSerializer):
    class Meta:
        model = Menu
        fields = ["id", "code", "name", "path", "icon", "parent", "permission", "sort_order",
                  "is_visible", "status", "created_at", "updated_at"]


class RoleSerializer(PlatformSerializer):
    permissions = serializers.SlugRelatedField(
        many=True, required=False, slug_field="code",
        queryset=Permission.objects.filter(is_active=True),
        help_text=gettext_lazy("Permission codes, within the tenant's package and your own rights."),
    )
    menus = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Menu.objects.all())
    departments = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Department.objects.all(),
        help_text=gettext_lazy("The departments the data scope \"Chosen departments\" reaches."),
    )

    class Meta:
        model = Role
        fields = ["id", "tenant", "code", "name", "description", "is_system", "status",
                  "data_scope", "sort_order", "permissions", "menus", "departments",
                  "created_at", "updated_at"]
        read_only_fields = ["is_system"]

    def _granter(self) -> grants.Granter:
        return grants.Granter.of(self.context.get("request"))

    def validate_data_scope(self, scope: str) -> str:
        if self.instance is None or scope != self.instance.data_scope:
            grants.check_scope_within_granter(self._granter(), scope)
        return scope

    def validate(self, attrs: dict) -> dict:
        """Refuse a custom data scope without departments: it would reach no rows at all
        (issue 17, item 7). A partial update keeps what the role already has."""
        attrs = super().validate(attrs)
        instance = self.instance
        scope = attrs.get("data_scope", instance.data_scope if instance else DataScope.SELF)
        if scope != DataScope.CUSTOM:
            return attrs
        if "departments" in attrs:
            has_departments = bool(attrs["departments"])
        else:
            has_departments = instance is not None and instance.departments.exists()
        if not has_departments:
            raise serializers.ValidationError(
                {"departments": _("Choose at least one department: the data scope is "
                                  "\"Chosen departments\".")}
            )
        return attrs

    def _save(self, instance, validated_data):
        permissions = validated_data.get("permissions")
        menus = validated_data.get("menus")
        # The id has a default, so a new row is told by its state, not by a missing pk.
        creating = instance._state.adding
        if creating and "tenant" not in validated_data:
            instance.assign_tenant_from_context()
        tenant = validated_data.get("tenant") or instance.tenant
        if permissions is not None:
            held = set() if creating else set(
                instance.permissions.values_list("code", flat=True)
            )
            codes = {p.code for p in permissions}
            grants.check_within_package(tenant, codes)
            grants.check_within_granter(self._granter(), codes - held)
        if menus is not None and not tenant.is_platform:
            allowed = set(tenant.package.menus.values_list("pk", flat=True)) if tenant.package else set()
            over = sorted(menu.code for menu in menus if menu.pk not in allowed)
            if over:
                raise serializers.ValidationError(
                    {"menus": _("The tenant's package does not include the menus: %(menus)s.")
                     % {"menus": ", ".join(over)}}
                )
        return super()._save(instance, validated_data)
