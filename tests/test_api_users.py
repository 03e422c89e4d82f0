"""The users API: /api/v1/users/."""

from __future__ import annotations

from accounts.models import Department, User
from conftest import PASSWORD, make_user
from rbac.models import Role
from tests.api_cases import DataScopeCase, SoftDeleteAPIViewTestCase


class TestUserAPI(SoftDeleteAPIViewTestCase, DataScopeCase):
    basename = "user"
    model = User
    secret_fields = ("password",)

    def make(self, tenant, index):
        return make_user(tenant, f"user{index}", name=f"User {index}")

    def create_data(self, tenant):
        department = Department.objects.for_tenant(tenant).filter(code="sales").first()
        if department is None:
            department = Department.objects.create(tenant=tenant, code="sales", name="Sales")
        return {"username": "bob", "password": PASSWORD, "name": "Bob",
                "email": "bob@example.com", "department": str(department.pk)}

    def update_data(self, row):
        return {"username": row.username, "name": "Renamed", "email": "renamed@example.com",
                "phone": "+1 555 0100", "status": "inactive"}

    def invalid_payloads(self, tenant):
        return [
            ({"username": "has spaces", "password": "x", "email": "not-an-email"},
             {"username", "password", "email"}),
            ({"username": "", "phone": "call me", "status": "retired"}, {"username", "phone", "status"}),
            ({"username": "carol", "password": PASSWORD, "department": "not-a-uuid"}, {"department"}),
        ]

    def foreign_references(self, other_org):
        return [
            ({"department": str(other_org["child"].pk)}, "department"),
            ({"position": str(other_org["position"].pk)}, "position"),
            ({"roles": [str(Role.objects.create(code="foreign", name="Foreign").pk)]}, "roles"),
        ]

    def in_scope(self, org):
        return [org["user"]]

    def out_of_scope(self, org):
        return [make_user(org["user"].tenant, "rooted", department=org["root"]),
                make_user(org["user"].tenant, "homeless")]
