"""The admin of roles: /admin/rbac/role/ (permissions, menus and departments inline)."""

from __future__ import annotations

from rbac.models import DataScope, Role
from tests.admin_cases import AdminTestCase


class TestRoleAdmin(AdminTestCase):
    model = Role

    def make(self, tenant, index):
        return Role.objects.create(tenant=tenant, code=f"role{index}", name=f"Role {index}",
                                   data_scope=DataScope.SELF)

    def change_data(self, row):
        return {"code": row.code, "name": "Renamed", "description": row.description,
                "status": row.status, "data_scope": row.data_scope,
                "sort_order": str(row.sort_order)}
