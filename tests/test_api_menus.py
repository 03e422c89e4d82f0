"""The menus API: /api/v1/menus/ (tenants read their package's menus; operators write)."""

from __future__ import annotations

from rbac.models import Menu
from tests.api_cases import DeletableAPIViewTestCase, PlatformOnlyCase


class TestMenuAPI(DeletableAPIViewTestCase, PlatformOnlyCase):
    basename = "menu"
    model = Menu
    platform_actions = frozenset({"create", "update", "delete"})

    def make(self, tenant, index):
        menu = Menu.objects.create(code=f"menu{index}", name=f"Menu {index}", path=f"/m{index}/")
        tenant.package.menus.add(menu)
        return menu

    def make_out_of_reach(self, home, other):
        # Not in the tenant's package.
        return Menu.objects.create(code="hidden", name="Hidden", path="/hidden/")

    def create_data(self, tenant):
        return {"code": "reports", "name": "Reports", "path": "/reports/", "icon": "chart",
                "sort_order": 2}

    def update_data(self, row):
        return {"code": row.code, "name": "Renamed", "path": "/renamed/", "is_visible": False}

    def invalid_payloads(self, tenant):
        return [({"code": "Bad Code", "name": "", "parent": "not-a-uuid", "status": "gone"},
                 {"code", "name", "parent", "status"})]
