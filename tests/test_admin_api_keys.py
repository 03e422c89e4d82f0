"""The admin of API keys: /admin/accounts/apikey/."""

from __future__ import annotations

from accounts.services.api_keys import issue_api_key
from accounts.models import ApiKey
from conftest import make_user
from tests.admin_cases import AdminTestCase, DataScopeAdminCase


def key_of(user, name: str) -> ApiKey:
    api_key, _plaintext = issue_api_key(user=user, name=name, scopes=[])
    return api_key


class TestApiKeyAdmin(AdminTestCase, DataScopeAdminCase):
    model = ApiKey

    def make(self, tenant, index):
        return key_of(make_user(tenant, f"holder{index}"), f"Key {index}")

    def change_data(self, row):
        return {"name": "Renamed", "scopes": "", "allowed_ips": "",
                "expires_at_0": "", "expires_at_1": ""}

    # A key's data scope is its user's department (rbac_owner_path = "user").
    def in_scope(self, org):
        return [key_of(org["user"], "Inside")]

    def out_of_scope(self, org):
        return [key_of(make_user(org["root"].tenant, "bob", department=org["root"]), "Outside")]
