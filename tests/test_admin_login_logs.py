"""The admin of the login log: /admin/logs/loginlog/ (read-only)."""

from __future__ import annotations

from conftest import make_user
from logs.models import LoginLog, LoginStatus
from tests.admin_cases import DataScopeAdminCase, ReadOnlyAdminTestCase


def log_of(tenant, username: str, user=None) -> LoginLog:
    return LoginLog.objects.create(
        tenant=tenant, user=user, tenant_code=tenant.code, username=username,
        ip_address="192.0.2.1", login_status=LoginStatus.SUCCESS,
    )


class TestLoginLogAdmin(ReadOnlyAdminTestCase, DataScopeAdminCase):
    model = LoginLog
    expected_change = {"username": "Renamed"}
    scope_actions = ("view",)  # log rows have no update code

    def make(self, tenant, index):
        return log_of(tenant, f"user{index}")

    def change_data(self, row):
        return {"username": "Renamed"}

    # A log row's data scope is its user's department (rbac_owner_path = "user").
    def in_scope(self, org):
        return [log_of(org["user"].tenant, "alice", org["user"])]

    def out_of_scope(self, org):
        bob = make_user(org["root"].tenant, "bob", department=org["root"])
        return [log_of(bob.tenant, "bob", bob)]
