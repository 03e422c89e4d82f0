"""The tenant packages API: /api/v1/packages/ (platform operators only; never deleted)."""

from __future__ import annotations

from rbac.models import Permission
from tenants.models import TenantPackage
from tests.api_cases import APIViewTestCase, PlatformOnlyCase


class TestTenantPackageAPI(APIViewTestCase, PlatformOnlyCase):
    basename = "package"
    model = TenantPackage
    platform_resource = True

    def make(self, tenant, index):
        package = TenantPackage.objects.create(code=f"pkg{index}", name=f"Package {index}")
        package.permissions.set(Permission.objects.filter(code__in=["user:view", "role:view"]))
        return package

    def create_data(self, tenant):
        return {"code": "basic", "name": "Basic", "max_users": 10,
                "permissions": ["user:view", "user:create"]}

    def update_data(self, row):
        return {"code": row.code, "name": "Renamed", "status": "inactive", "permissions": ["user:view"]}

    def invalid_payloads(self, tenant):
        return [({"code": "", "name": "", "max_users": -1, "permissions": ["no:such"],
                  "menus": ["not-a-uuid"]}, {"code", "name", "max_users", "permissions", "menus"})]
