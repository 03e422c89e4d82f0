"""The admin of users: /admin/accounts/user/."""

from __future__ import annotations

from accounts.models import User
from conftest import make_user
from tests.admin_cases import AdminTestCase, DataScopeAdminCase


class TestUserAdmin(AdminTestCase, DataScopeAdminCase):
    model = User

    def make(self, tenant, index):
        return make_user(tenant, f"user{index}")

    def change_data(self, row):
        return {
            "username": row.username,
            "name": "Renamed",
            "email": row.email,
            "phone": row.phone,
            "department": str(row.department_id or ""),
            "position": str(row.position_id or ""),
            "language": row.language,
            "status": row.status,
        }

    def in_scope(self, org):
        return [org["user"]]

    def out_of_scope(self, org):
        return [make_user(org["root"].tenant, "bob", department=org["root"])]
