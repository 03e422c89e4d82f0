"""The admin of dictionaries: /admin/tenants/dictionary/ (items inline; items have no
admin page of their own)."""

from __future__ import annotations

from tenants.models import Dictionary
from tests.admin_cases import AdminTestCase


class TestDictionaryAdmin(AdminTestCase):
    model = Dictionary

    def make(self, tenant, index):
        return Dictionary.objects.create(tenant=tenant, type=f"dict{index}", name=f"Dictionary {index}")

    def change_data(self, row):
        return {"type": row.type, "name": "Renamed", "status": row.status,
                "description": row.description}
