"""Scopes only shrink (issue 10, item 1): a request made with an API key grants at most
what the key holds, whether it issues another key, writes a role's permissions or gives a
user roles, and a key issued with a key expires no later and stays in the same networks.

Every request here goes through the real Bearer authentication of the REST API; the MCP
gateway's in-process calls carry the key the same way (``request.auth``), tested at the end.
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services.api_keys import issue_api_key
from accounts.models import ApiKey
from core.context import tenant_context
from rbac.models import DataScope, Permission, Role, UserRole
from tests.api_cases import assert_error, assert_field_errors

pytestmark = pytest.mark.django_db

KEYS = reverse("api:apikey-list")
USERS = reverse("api:user-list")
ROLES = reverse("api:role-list")
WIDE = ["user:view", "user:delete", "role:update", "role:create", "api_key:create"]


def key_client(user, scopes, **fields) -> tuple[APIClient, ApiKey]:
    """Return a client authenticated by a new key of ``user`` with ``scopes``."""
    api_key, plaintext = issue_api_key(user=user, name=f"k{ApiKey.objects.all_tenants().count()}",
                                       scopes=scopes, **fields)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return api, api_key


def test_the_reported_escalation_is_refused_naming_the_scopes(admin_a):
    """A key scoped to key management cannot mint a key that reads users (the report)."""
    api, _ = key_client(admin_a, ["api_key:create", "api_key:view"])
    assert_error(api.get(USERS), 403)
    before = ApiKey.objects.all_tenants().count()
    response = api.post(KEYS, {"name": "escalated", "scopes": WIDE}, format="json")
    error = assert_error(response, 403, "permission_denied")
    for code in ("user:view", "user:delete", "role:update", "role:create"):
        assert code in error["message"]
    assert "api_key:create" not in error["message"]  # the key holds that one
    assert ApiKey.objects.all_tenants().count() == before


def test_a_key_issues_keys_within_its_own_scopes(admin_a):
    """Within the calling key's scopes a key may issue a narrower key, which works."""
    api, _ = key_client(admin_a, ["api_key:create", "user:view"])
    response = api.post(KEYS, {"name": "reader", "scopes": ["user:view"]}, format="json")
    assert response.status_code == 201, response.content
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['key']}")
    assert reader.get(USERS).status_code == 200


def test_a_superusers_key_is_narrowed_too(operator):
    """A superuser holds every code, but a key of theirs grants only its own scopes."""
    api, _ = key_client(operator, ["api_key:create"])
    response = api.post(KEYS, {"name": "wide", "scopes": ["tenant:view"]}, format="json")
    assert "tenant:view" in assert_error(response, 403)["message"]


def test_a_key_made_by_a_key_inherits_its_expiry_and_never_outlives_it(admin_a):
    """No expiry given: the parent's; a later one: 400 on expires_at; an earlier one: kept."""
    parent_expiry = timezone.now() + datetime.timedelta(days=7)
    api, _ = key_client(admin_a, ["api_key:create", "user:view"], expires_at=parent_expiry)

    response = api.post(KEYS, {"name": "inherits", "scopes": ["user:view"]}, format="json")
    assert response.status_code == 201, response.content
    assert ApiKey.objects.all_tenants().get(pk=response.json()["id"]).expires_at == parent_expiry

    later = (parent_expiry + datetime.timedelta(days=1)).isoformat()
    response = api.post(KEYS, {"name": "later", "scopes": ["user:view"], "expires_at": later},
                        format="json")
    assert_field_errors(response, {"expires_at"})
    assert not ApiKey.objects.all_tenants().filter(name="later").exists()

    earlier = timezone.now() + datetime.timedelta(days=1)
    response = api.post(KEYS, {"name": "earlier", "scopes": ["user:view"],
                               "expires_at": earlier.isoformat()}, format="json")
    assert response.status_code == 201, response.content
    assert ApiKey.objects.all_tenants().get(pk=response.json()["id"]).expires_at == earlier


def test_a_key_made_by_a_key_stays_in_its_networks(admin_a):
    """No allow-list given: the parent's; a network outside it: 400; a subnet: kept."""
    api, _ = key_client(admin_a, ["api_key:create", "user:view"], allowed_ips=["127.0.0.0/8"])

    response = api.post(KEYS, {"name": "inherits", "scopes": ["user:view"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["allowed_ips"] == ["127.0.0.0/8"]

    for outside in (["0.0.0.0/0"], ["10.0.0.0/8"], ["127.0.0.0/8", "::1"]):
        response = api.post(KEYS, {"name": "wider", "scopes": ["user:view"],
                                   "allowed_ips": outside}, format="json")
        assert_field_errors(response, {"allowed_ips"})
    assert not ApiKey.objects.all_tenants().filter(name="wider").exists()

    response = api.post(KEYS, {"name": "subnet", "scopes": ["user:view"],
                               "allowed_ips": ["127.0.0.1"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["allowed_ips"] == ["127.0.0.1/32"]


def test_a_session_user_still_issues_keys_up_to_their_own_rights(client_a):
    """Without a key the rule is the user's own permissions, as before."""
    response = client_a.post(KEYS, {"name": "mine", "scopes": ["user:view", "role:update"]},
                             content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["expires_at"] is None and response.json()["allowed_ips"] == []


def role_with(tenant, code: str, codes) -> Role:
    with tenant_context(tenant):
        role = Role.objects.create(code=code, name=code.title(), data_scope=DataScope.ALL)
        role.permissions.set(Permission.objects.filter(code__in=codes))
    return role


def test_a_key_grants_a_role_no_code_beyond_its_scopes(admin_a, tenant_a):
    """Creating or editing a role with a key: added codes must be within the key's scopes."""
    api, _ = key_client(admin_a, ["role:create", "role:update", "role:view", "user:view"])
    response = api.post(ROLES, {"code": "wide", "name": "Wide",
                                "permissions": ["user:view", "user:delete"]}, format="json")
    assert "user:delete" in assert_error(response, 403)["message"]
    assert not Role.objects.all_tenants().filter(tenant=tenant_a, code="wide").exists()

    role = role_with(tenant_a, "reader", ["user:view"])
    url = reverse("api:role-detail", args=[role.pk])
    response = api.patch(url, {"permissions": ["user:view", "role:delete"]}, format="json")
    assert "role:delete" in assert_error(response, 403)["message"]
    assert set(role.permissions.values_list("code", flat=True)) == {"user:view"}

    response = api.patch(url, {"permissions": ["user:view", "role:view"]}, format="json")
    assert response.status_code == 200, response.content


def test_a_key_gives_users_no_role_beyond_its_scopes(admin_a, tenant_a, org_a):
    """Giving a user a role with a key: the role's codes must be within the key's scopes."""
    api, _ = key_client(admin_a, ["user:update", "user:view"])
    strong = role_with(tenant_a, "strong", ["user:view", "user:delete"])
    url = reverse("api:user-detail", args=[org_a["user"].pk])
    response = api.patch(url, {"roles": [str(strong.pk)]}, format="json")
    assert "user:delete" in assert_error(response, 403)["message"]
    assert not UserRole.objects.filter(user=org_a["user"], role=strong).exists()

    weak = role_with(tenant_a, "weak", ["user:view"])
    response = api.patch(url, {"roles": [str(weak.pk)]}, format="json")
    assert response.status_code == 200, response.content


def test_an_mcp_tool_call_carries_the_key_into_grants(client, admin_a, tenant_a):
    """An agent calling an ``api`` tool over POST /api-keys/ is held to its key's scopes."""
    from gateway.tests.factories import api_tool
    from gateway.tests.test_server import call

    api_tool(tenant_a, "keys_create", path="/api/v1/api-keys/", method="POST",
             schema={"type": "object", "properties": {"body": {"type": "object"}}})
    _, plaintext = issue_api_key(user=admin_a, name="agent", scopes=["api_key:create"])
    answer = call(client, plaintext, "keys_create",
                  {"body": {"name": "minted", "scopes": ["user:view"]}})
    result = answer["result"]
    assert result["isError"] is True, result
    assert "user:view" in result["content"][0]["text"]
    assert not ApiKey.objects.all_tenants().filter(name="minted").exists()

    answer = call(client, plaintext, "keys_create", {"body": {"name": "same", "scopes": []}})
    assert answer["result"]["isError"] is False, answer
    assert ApiKey.objects.all_tenants().filter(name="same").exists()


def test_another_tenants_key_cannot_be_narrowed_or_revoked(admin_a, admin_b):
    """A key's management stays in its tenant: another tenant's key is 404."""
    api, _ = key_client(admin_a, ["api_key:update", "api_key:view"])
    other, _ = issue_api_key(user=admin_b, name="b", scopes=["user:view"])
    url = reverse("api:apikey-detail", args=[other.pk])
    assert_error(api.patch(url, {"scopes": []}, format="json"), 404)
    assert_error(api.post(reverse("api:apikey-revoke", args=[other.pk])), 404)
    assert ApiKey.objects.all_tenants().get(pk=other.pk).scopes == ["user:view"]
