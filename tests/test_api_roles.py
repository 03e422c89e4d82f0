"""The roles API: /api/v1/roles/ (grant rules: tests/test_api_grants.py)."""

from __future__ import annotations

from rbac.models import Role
from tests.api_cases import SoftDeleteAPIViewTestCase


class TestRoleAPI(SoftDeleteAPIViewTestCase):
    basename = "role"
    model = Role

    def make(self, tenant, index):
        return Role.objects.create(tenant=tenant, code=f"role{index}", name=f"Role {index}")

    def create_data(self, tenant):
        # The actor holds exactly role:create, so that is all it may grant.
        return {"code": "auditor", "name": "Auditor", "data_scope": "dept",
                "permissions": ["role:create"]}

    def update_data(self, row):
        return {"code": row.code, "name": "Renamed", "data_scope": row.data_scope,
                "permissions": [], "status": "inactive"}

    def invalid_payloads(self, tenant):
        return [({"code": "Bad Code", "name": "", "data_scope": "everything",
                  "permissions": ["no:such"]}, {"code", "name", "data_scope", "permissions"})]

    def make_undeletable(self, tenant):
        return Role.objects.create(tenant=tenant, code="system", name="System", is_system=True)

    def foreign_references(self, other_org):
        return [({"departments": [str(other_org["child"].pk)]}, "departments")]
