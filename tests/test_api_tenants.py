"""The tenants API: /api/v1/tenants/ (platform operators only; tenants are never deleted)."""

from __future__ import annotations

from tenants.models import Tenant
from tests.api_cases import APIViewTestCase, PlatformOnlyCase


class TestTenantAPI(APIViewTestCase, PlatformOnlyCase):
    basename = "tenant"
    model = Tenant
    platform_resource = True

    def make(self, tenant, index):
        return Tenant.objects.create(code=f"tenant{index}", name=f"Tenant {index}")

    def create_data(self, tenant):
        return {"code": "gamma", "name": "Gamma Ltd", "plan": "pro", "user_quota": 20,
                "expires_on": "2030-01-31", "outbound_networks": ["10.20.0.0/16"]}

    def update_data(self, row):
        return {"code": row.code, "name": "Renamed Ltd", "plan": "enterprise", "status": "inactive"}

    def invalid_payloads(self, tenant):
        return [({"code": "Bad Code", "name": "", "plan": "gold", "user_quota": -1,
                  "expires_on": "someday", "package": "not-a-uuid"},
                 {"code", "name", "plan", "user_quota", "expires_on", "package"}),
                ({"code": "delta", "name": "Delta", "outbound_networks": ["10.0.0.0/8", "x"]},
                 {"outbound_networks"}),
                ({"code": "delta", "name": "Delta", "outbound_networks": ["169.254.0.0/16"]},
                 {"outbound_networks"}),
                ({"code": "delta", "name": "Delta", "outbound_networks": "10.0.0.0/8"},
                 {"outbound_networks"})]
