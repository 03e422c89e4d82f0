"""The admin of positions: /admin/accounts/position/."""

from __future__ import annotations

from accounts.models import Position
from conftest import make_user
from tests.admin_cases import AdminTestCase, DataScopeAdminCase


class TestPositionAdmin(AdminTestCase, DataScopeAdminCase):
    model = Position

    def make(self, tenant, index):
        return Position.objects.create(tenant=tenant, code=f"pos{index}", name=f"Position {index}")

    def change_data(self, row):
        return {"code": row.code, "name": "Renamed", "sort_order": str(row.sort_order),
                "status": row.status, "description": row.description}

    # A position has no department: the data scope goes through its creator's.
    def in_scope(self, org):
        return [Position.objects.create(code="inside", name="Inside", created_by=org["user"])]

    def out_of_scope(self, org):
        outsider = make_user(org["root"].tenant, "bob", department=org["root"])
        return [Position.objects.create(code="outside", name="Outside", created_by=outsider)]
