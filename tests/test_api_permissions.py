"""The permission catalogue API: /api/v1/permissions/ (read-only; a tenant sees its package)."""

from __future__ import annotations

from rbac.models import Permission
from tests.api_cases import ReadOnlyAPICase


class TestPermissionAPI(ReadOnlyAPICase):
    basename = "permission"
    model = Permission

    def make(self, tenant, index):
        permission = Permission.objects.create(
            code=f"probe:action{index}", name=f"Probe {index}", module="probe", type="operation"
        )
        tenant.package.permissions.add(permission)
        return permission

    def make_out_of_reach(self, home, other):
        # A platform code: no tenant package includes it.
        return Permission.objects.get(code="tenant:view")
