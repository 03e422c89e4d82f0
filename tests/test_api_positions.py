"""The positions API: /api/v1/positions/."""

from __future__ import annotations

from accounts.models import Position
from conftest import make_user
from tests.api_cases import SoftDeleteAPIViewTestCase


class TestPositionAPI(SoftDeleteAPIViewTestCase):
    basename = "position"
    model = Position

    def make(self, tenant, index):
        return Position.objects.create(tenant=tenant, code=f"pos{index}", name=f"Position {index}")

    def create_data(self, tenant):
        return {"code": "qa", "name": "Quality", "sort_order": 3, "description": "Tests things."}

    def update_data(self, row):
        return {"code": row.code, "name": "Renamed", "sort_order": 7, "status": "inactive"}

    def invalid_payloads(self, tenant):
        return [({"code": "", "name": "x" * 101, "sort_order": "first", "status": "gone"},
                 {"code", "name", "sort_order", "status"})]

    def make_undeletable(self, tenant):
        position = Position.objects.create(tenant=tenant, code="held", name="Held")
        make_user(tenant, "holder", position=position)
        return position
