"""API of roles, the permission catalogue (read-only) and menus."""

from __future__ import annotations

from rbac.api.serializers import MenuSerializer, PermissionSerializer, RoleSerializer
from rbac.models import Menu, Permission, Role
from tenants.api.base import (
    PlatformReadOnlyViewSet,
    PlatformViewSet,
    SoftDeleteViewSet,
    is_operator,
)


class RoleViewSet(SoftDeleteViewSet):
    """Roles of the tenant, with their permissions, menus and data scope."""

    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    filterset_fields = ["status", "data_scope", "is_system"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "sort_order"]
    ordering = ["sort_order", "code"]

    def optimise(self, queryset):
        return queryset.prefetch_related("permissions", "menus", "departments")


class PermissionViewSet(PlatformReadOnlyViewSet):
    """The permission catalogue; a tenant's users see what their package includes."""

    queryset = Permission.objects.all()
    serializer_class = PermissionSerializer
    filterset_fields = ["type", "module", "is_active"]
    search_fields = ["code", "name"]
    ordering = ["module", "code"]

    def optimise(self, queryset):
        if is_operator(self.request):
            return queryset
        package = self.request.user.tenant.package
        return queryset.filter(packages=package) if package else queryset.none()


class MenuViewSet(PlatformViewSet):
    """The navigation tree; writes are the platform's (menu:create/update/delete)."""

    queryset = Menu.objects.all()
    serializer_class = MenuSerializer
    filterset_fields = ["status", "is_visible", "parent"]
    search_fields = ["code", "name", "path"]
    ordering = ["tree_id", "lft"]

    def optimise(self, queryset):
        if is_operator(self.request):
            return queryset
        package = self.request.user.tenant.package
        return queryset.filter(packages=package) if package else queryset.none()
