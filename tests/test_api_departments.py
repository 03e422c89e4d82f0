"""The departments API: /api/v1/departments/ (a tree of at most five levels)."""

from __future__ import annotations

from accounts.models import Department
from tests.api_cases import DataScopeCase, SoftDeleteAPIViewTestCase


class TestDepartmentAPI(SoftDeleteAPIViewTestCase, DataScopeCase):
    basename = "department"
    model = Department

    def make(self, tenant, index):
        return Department.objects.create(tenant=tenant, code=f"dept{index}", name=f"Department {index}")

    def create_data(self, tenant):
        parent = Department.objects.for_tenant(tenant).filter(code="top").first()
        if parent is None:
            parent = Department.objects.create(tenant=tenant, code="top", name="Top")
        return {"code": "ops", "name": "Operations", "parent": str(parent.pk)}

    def update_data(self, row):
        return {"code": row.code, "name": "Renamed", "status": "inactive"}

    def invalid_payloads(self, tenant):
        chain = None
        for level in range(5):
            chain = Department.objects.create(
                tenant=tenant, code=f"level{level}", name=f"Level {level}", parent=chain
            )
        return [
            ({"code": "Not Valid!", "name": ""}, {"code", "name"}),
            ({"code": "sixth", "name": "Too deep", "parent": str(chain.pk)}, {"parent"}),
        ]

    def make_undeletable(self, tenant):
        parent = Department.objects.create(tenant=tenant, code="parent", name="Parent")
        Department.objects.create(tenant=tenant, code="kid", name="Kid", parent=parent)
        return parent

    def foreign_references(self, other_org):
        return [({"parent": str(other_org["root"].pk)}, "parent")]

    def in_scope(self, org):
        return [org["child"]]

    def out_of_scope(self, org):
        return [org["root"]]
