"""Admin pages of the platform only: tenants, packages, menu edits, API endpoints."""

from __future__ import annotations

from rbac.models import ApiEndpoint, Menu
from tenants.models import Tenant, TenantPackage
from tests.admin_cases import PlatformOnlyAdminCase


class TestTenantAdmin(PlatformOnlyAdminCase):
    model = Tenant

    def make_platform_row(self, home):
        return home


class TestTenantPackageAdmin(PlatformOnlyAdminCase):
    model = TenantPackage

    def make_platform_row(self, home):
        return home.package


class TestMenuAdmin(PlatformOnlyAdminCase):
    """Tenant users see their package's menus; only operators add or edit them."""

    model = Menu
    refused = ("add", "change_post")

    def make_platform_row(self, home):
        menu = Menu.objects.create(code="reports", name="Reports")
        home.package.menus.add(menu)
        return menu


class TestApiEndpointAdmin(PlatformOnlyAdminCase):
    model = ApiEndpoint
    operator_pages = ("changelist", "change")

    def make_platform_row(self, home):
        return ApiEndpoint.objects.create(method="GET", path="/api/v1/reports/", module="reports",
                                          permission_code="report:view")
