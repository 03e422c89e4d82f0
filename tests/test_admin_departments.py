"""The admin of departments: /admin/accounts/department/."""

from __future__ import annotations

from accounts.models import Department
from tests.admin_cases import AdminTestCase, DataScopeAdminCase


class TestDepartmentAdmin(AdminTestCase, DataScopeAdminCase):
    model = Department

    def make(self, tenant, index):
        return Department.objects.create(tenant=tenant, code=f"dept{index}", name=f"Department {index}")

    def change_data(self, row):
        return {"code": row.code, "name": "Renamed", "parent": str(row.parent_id or ""),
                "status": row.status}

    def in_scope(self, org):
        return [org["child"]]

    def out_of_scope(self, org):
        return [org["root"]]
