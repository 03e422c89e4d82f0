"""API keys (issue 3, item 7): issued once, stored hashed, narrowed by scopes, refused with a
JSON 401 when revoked, expired, out of range or when their user is disabled, and scoped to
their user's tenant for exactly one request.

Tests that need a view reading tenant data use this module as the URLconf
(``@pytest.mark.urls(__name__)``): ``/probe/`` counts ``User.objects`` under whatever
scope the request runs with.
"""

from __future__ import annotations

import datetime
import io
import logging
import re

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from rbac.admin import ApiKeyAdmin
from accounts.api.views import MeView
from accounts.services.api_keys import (
    LAST_USED_INTERVAL,
    ApiKeyError,
    issue_api_key,
    narrow_scopes,
    record_use,
    revoke_api_key,
    verify,
)
from accounts.choices import UserStatus
from accounts.models import ApiKey, User
from accounts.models.api_keys import hash_secret, parse_key
from conftest import make_user
from core.context import (
    ALL_TENANTS,
    TenantScope,
    actor_context,
    get_current_actor_id,
    get_scope,
    tenant_context,
)
from core.redaction import RedactSecretsFilter, redact
from tenants.models import Tenant, TenantStatus

pytestmark = pytest.mark.django_db

ME_URL = "/api/v1/me/"
ADMIN_MESSAGE_KEY = re.compile(r"atr_[a-z0-9]{12}_[A-Za-z0-9_-]+")


# ---------------------------------------------------------------------------
# A probe view, mounted only by tests marked with this module as the URLconf
# ---------------------------------------------------------------------------


class ProbeView(APIView):
    """Report the scope, actor and visible user count the request runs with."""

    permission_classes = [AllowAny]

    def get(self, request):
        if request.query_params.get("fail"):
            raise DrfValidationError({"probe": ["Failing on purpose."]})
        scope = get_scope()
        return Response(
            {
                "users": User.objects.count(),
                "all_tenants": scope.all_tenants,
                "tenant": str(scope.tenant_id) if scope.tenant_id else None,
                "actor": str(get_current_actor_id()),
            }
        )


urlpatterns = [
    path("api/v1/", include(("accounts.api.urls", "api"))),
    path("probe/", ProbeView.as_view()),
]


# ---------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------


def bearer(plaintext: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


def stored(api_key: ApiKey) -> ApiKey:
    """Return the key as stored now."""
    return ApiKey.objects.all_tenants(include_deleted=True).get(pk=api_key.pk)


def assert_json_401(response, message: str | None = None) -> dict:
    """Assert a 401 in the platform's error format, with the Bearer challenge."""
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    error = response.json()["error"]
    assert error["status"] == 401
    assert error["code"] in {"authentication_failed", "not_authenticated"}
    if message is not None:
        assert error["message"] == message
    return error


@pytest.fixture
def alice(org_a) -> User:
    return org_a["user"]


@pytest.fixture
def issued(alice):
    """A key of tenant A's alice and its plaintext."""
    return issue_api_key(user=alice, name="ci", scopes=["user:view", "role:view"])


# ---------------------------------------------------------------------------
# Issuing and storage
# ---------------------------------------------------------------------------


def test_issue_returns_the_plaintext_once_and_stores_only_its_hash(issued, alice):
    """The plaintext is atr_<prefix>_<secret>; the row keeps the prefix and an HMAC only."""
    api_key, plaintext = issued
    prefix, secret = parse_key(plaintext)

    assert plaintext == f"atr_{api_key.prefix}_{secret}"
    assert prefix == api_key.prefix and len(prefix) == 12
    assert len(secret) >= 43
    row = ApiKey.objects.all_tenants().filter(pk=api_key.pk).values().get()
    assert row["key_hash"] == hash_secret(secret)
    assert re.fullmatch(r"[0-9a-f]{64}", row["key_hash"])
    assert secret not in repr(row) and plaintext not in repr(row)
    assert row["tenant_id"] == alice.tenant_id
    assert row["scopes"] == ["role:view", "user:view"]
    assert not hasattr(api_key, "plaintext") and secret not in repr(vars(api_key))


def test_the_hash_depends_on_the_server_pepper(issued, settings):
    """A copy of the table is not enough to check a guess: the hash is keyed by SECRET_KEY."""
    api_key, plaintext = issued
    _prefix, secret = parse_key(plaintext)

    assert hash_secret(secret, "another-secret-key") != api_key.key_hash
    settings.SECRET_KEY = "rotated-secret-key"
    with pytest.raises(ApiKeyError) as refused:
        verify(plaintext, "127.0.0.1")
    assert refused.value.reason == ApiKeyError.UNKNOWN
    settings.SECRET_KEY_FALLBACKS = ["development-only-insecure-key-never-use-in-production"]
    assert verify(plaintext, "127.0.0.1") == api_key


def test_issue_refuses_scopes_the_caller_cannot_grant(alice):
    """Only codes in allowed_scopes may be put on a key."""
    with pytest.raises(ValidationError) as refused:
        issue_api_key(user=alice, name="ci", scopes=["user:view", "role:update"],
                      allowed_scopes={"user:view"})

    assert "role:update" in str(refused.value.message_dict["scopes"])
    assert not ApiKey.objects.all_tenants().exists()


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"scopes": ["user"]}, "scopes"),
        ({"scopes": ["User:View"]}, "scopes"),
        ({"scopes": ["*"]}, "scopes"),
        ({"allowed_ips": ["10.0.0.5/8"]}, "allowed_ips"),
        ({"allowed_ips": ["not-an-ip"]}, "allowed_ips"),
        ({"expires_at": datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)}, "expires_at"),
        ({"name": ""}, "name"),
    ],
)
def test_issue_validates_its_input(alice, fields, error_field):
    """Malformed scopes, addresses, a past expiry or no name are field errors."""
    arguments = {"user": alice, "name": "ci", "scopes": ["user:view"], **fields}
    with pytest.raises(ValidationError) as refused:
        issue_api_key(**arguments)

    assert error_field in refused.value.message_dict


def test_allowed_ips_are_normalised(alice):
    """Addresses and networks are stored in canonical form, duplicates dropped."""
    api_key, _ = issue_api_key(
        user=alice, name="ci", scopes=[],
        allowed_ips=["10.1.0.0/16", " 2001:DB8::/32", "192.0.2.7", "10.1.0.0/16"],
    )

    assert stored(api_key).allowed_ips == ["10.1.0.0/16", "2001:db8::/32", "192.0.2.7/32"]


def test_names_are_unique_among_a_users_live_keys(alice, org_a, tenant_a):
    """A user cannot have two live keys of one name; another user can; deleting frees it."""
    first, _ = issue_api_key(user=alice, name="ci", scopes=[])
    with pytest.raises(ValidationError):
        issue_api_key(user=alice, name="ci", scopes=[])
    bob = make_user(tenant_a, "bob")
    issue_api_key(user=bob, name="ci", scopes=[])

    with tenant_context(tenant_a):
        first.delete()
    again, _ = issue_api_key(user=alice, name="ci", scopes=[])
    assert again.pk != first.pk


def test_issue_refuses_a_user_of_another_tenant_than_the_scope(alice, tenant_b):
    """Under tenant B's scope, no key can be issued for tenant A's user."""
    with tenant_context(tenant_b), pytest.raises(ValidationError):
        issue_api_key(user=alice, name="ci", scopes=[])


# ---------------------------------------------------------------------------
# Scopes only shrink
# ---------------------------------------------------------------------------


def test_scopes_can_be_narrowed(issued):
    api_key, plaintext = issued

    narrow_scopes(api_key=api_key, scopes=["user:view"])

    assert stored(api_key).scopes == ["user:view"]
    assert verify(plaintext, None).scopes == ["user:view"]


def test_widening_scopes_is_refused_naming_the_added_codes(issued):
    """Adding a code after creation fails, through the service and through save()."""
    api_key, _ = issued

    with pytest.raises(ValidationError) as refused:
        narrow_scopes(api_key=api_key, scopes=["user:view", "user:delete", "menu:view"])
    message = " ".join(refused.value.message_dict["scopes"])
    assert "menu:view, user:delete" in message

    api_key.scopes = [*api_key.scopes, "user:delete"]
    with pytest.raises(ValidationError):
        api_key.save()
    assert stored(api_key).scopes == ["role:view", "user:view"]


def test_a_key_cannot_move_to_another_user(issued, tenant_a):
    api_key, _ = issued
    api_key.user = make_user(tenant_a, "mallory")

    with pytest.raises(ValidationError) as refused:
        api_key.save()

    assert "user" in refused.value.message_dict


# ---------------------------------------------------------------------------
# verify(): every refusal has its reason
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["", "atr_", "garbage", "atr_short_secretsecretsecretsecret", "xyz_abcdefghijkl_" + "a" * 43,
     "atr_ABCDEFGHIJKL_" + "a" * 43],
)
def test_verify_refuses_malformed_keys(raw):
    with pytest.raises(ApiKeyError) as refused:
        verify(raw, None)

    assert refused.value.reason == ApiKeyError.MALFORMED


def test_verify_refuses_an_unknown_prefix_and_a_wrong_secret_alike(issued):
    api_key, plaintext = issued
    _prefix, secret = parse_key(plaintext)
    wrong_secret = f"atr_{api_key.prefix}_{'x' * len(secret)}"
    unknown_prefix = f"atr_{'0' * 12}_{secret}"

    for raw in (wrong_secret, unknown_prefix):
        with pytest.raises(ApiKeyError) as refused:
            verify(raw, None)
        assert refused.value.reason == ApiKeyError.UNKNOWN


def test_verify_refuses_revoked_expired_and_out_of_range_keys(alice):
    revoked, revoked_plain = issue_api_key(user=alice, name="revoked", scopes=[])
    revoke_api_key(api_key=revoked)
    expired, expired_plain = issue_api_key(
        user=alice, name="expired", scopes=[], expires_at=timezone.now() + datetime.timedelta(1)
    )
    ApiKey.objects.all_tenants().filter(pk=expired.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    fenced, fenced_plain = issue_api_key(user=alice, name="fenced", scopes=[],
                                         allowed_ips=["10.1.0.0/16"])

    for raw, ip, reason in [
        (revoked_plain, "10.1.0.1", ApiKeyError.REVOKED),
        (expired_plain, "10.1.0.1", ApiKeyError.EXPIRED),
        (fenced_plain, "10.2.0.1", ApiKeyError.IP_NOT_ALLOWED),
        (fenced_plain, None, ApiKeyError.IP_NOT_ALLOWED),
    ]:
        with pytest.raises(ApiKeyError) as refused:
            verify(raw, ip)
        assert refused.value.reason == reason
    assert verify(fenced_plain, "10.1.255.254") == fenced
    assert verify(fenced_plain, "::ffff:10.1.0.9") == fenced


def test_revoking_records_who_and_is_idempotent(issued, admin_a):
    api_key, _ = issued

    with actor_context(admin_a.pk):
        revoke_api_key(api_key=api_key)
    first = stored(api_key).revoked_at
    revoke_api_key(api_key=api_key)

    row = stored(api_key)
    assert row.revoked_at == first is not None
    assert row.revoked_by_id == admin_a.pk


def test_deleting_a_key_revokes_it_for_good(issued, tenant_a):
    """A soft-deleted key is revoked; restoring it from the recycle bin does not revive it."""
    api_key, plaintext = issued

    with tenant_context(tenant_a):
        api_key.delete()
        api_key.restore()

    with pytest.raises(ApiKeyError) as refused:
        verify(plaintext, None)
    assert refused.value.reason == ApiKeyError.REVOKED


def test_a_bulk_deleted_key_comes_back_revoked(issued, tenant_a):
    """QuerySet.delete() skips soft_delete(); restoring the row still does not revive it."""
    api_key, plaintext = issued

    with tenant_context(tenant_a):
        ApiKey.objects.filter(pk=api_key.pk).delete()
        with pytest.raises(ApiKeyError):
            verify(plaintext, None)
        ApiKey.objects.deleted().get(pk=api_key.pk).restore()

    assert stored(api_key).revoked_at is not None
    with pytest.raises(ApiKeyError) as refused:
        verify(plaintext, None)
    assert refused.value.reason == ApiKeyError.REVOKED


# ---------------------------------------------------------------------------
# Bearer authentication over HTTP
# ---------------------------------------------------------------------------


def test_bearer_key_authenticates_me(client, issued, alice):
    """/api/v1/me/ answers who the key acts as, its prefix and scopes, never its secret."""
    api_key, plaintext = issued

    response = client.get(reverse("api:me"), **bearer(plaintext))

    assert response.status_code == 200
    assert response.json() == {
        "id": str(alice.pk),
        "username": "alice",
        "tenant": "alpha",
        "api_key": {"prefix": api_key.prefix, "name": "ci", "scopes": ["role:view", "user:view"]},
    }
    body = response.content.decode()
    assert api_key.key_hash not in body
    assert parse_key(plaintext)[1] not in body
    assert response.wsgi_request.tenant_scope == TenantScope(tenant_id=alice.tenant_id)


def test_session_users_still_reach_the_api(client_a, admin_a):
    """Requests without a Bearer header fall through to session authentication."""
    response = client_a.get(ME_URL)

    assert response.status_code == 200
    assert response.json()["api_key"] is None
    assert response.json()["username"] == admin_a.username


def test_no_credentials_is_a_json_401(client):
    assert_json_401(client.get(ME_URL))


def test_other_schemes_are_left_to_other_authenticators(client, issued):
    """A Basic header is not an API key: the request is simply unauthenticated."""
    _, plaintext = issued
    error = assert_json_401(client.get(ME_URL, HTTP_AUTHORIZATION=f"Basic {plaintext}"))
    assert error["code"] == "not_authenticated"


def test_a_wrong_secret_with_a_right_prefix_is_a_json_401(client, issued):
    api_key, plaintext = issued
    _prefix, secret = parse_key(plaintext)
    forged = f"atr_{api_key.prefix}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"

    error = assert_json_401(client.get(ME_URL, **bearer(forged)), "Invalid API key.")
    assert error["code"] == "authentication_failed"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not-a-key", "Bearer atr_abc_def", "Bearer two words", "bearer   "],
)
def test_malformed_bearer_headers_are_a_json_401(client, header):
    response = client.get(ME_URL, HTTP_AUTHORIZATION=header)

    assert_json_401(response)


def test_a_revoked_key_is_a_json_401(client, issued):
    api_key, plaintext = issued
    assert client.get(ME_URL, **bearer(plaintext)).status_code == 200

    revoke_api_key(api_key=api_key)

    assert_json_401(client.get(ME_URL, **bearer(plaintext)), "This API key has been revoked.")


def test_an_expired_key_is_a_json_401(client, alice):
    api_key, plaintext = issue_api_key(
        user=alice, name="ci", scopes=[], expires_at=timezone.now() + datetime.timedelta(hours=1)
    )
    assert client.get(ME_URL, **bearer(plaintext)).status_code == 200

    ApiKey.objects.all_tenants().filter(pk=api_key.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert_json_401(client.get(ME_URL, **bearer(plaintext)), "This API key has expired.")


def test_the_ip_allow_list_is_enforced_on_remote_addr(client, alice):
    _, plaintext = issue_api_key(user=alice, name="ci", scopes=[],
                                 allowed_ips=["203.0.113.0/24", "2001:db8::1"])

    assert client.get(ME_URL, REMOTE_ADDR="203.0.113.77", **bearer(plaintext)).status_code == 200
    assert client.get(ME_URL, REMOTE_ADDR="2001:db8::1", **bearer(plaintext)).status_code == 200
    assert_json_401(
        client.get(ME_URL, REMOTE_ADDR="198.51.100.1", **bearer(plaintext)),
        "This API key may not be used from this address.",
    )


def disable_inactive(user: User) -> None:
    User.objects.all_tenants().filter(pk=user.pk).update(status=UserStatus.INACTIVE)


def disable_locked(user: User) -> None:
    User.objects.all_tenants().filter(pk=user.pk).update(
        status=UserStatus.LOCKED, locked_until=timezone.now() + datetime.timedelta(minutes=30)
    )


def disable_deleted(user: User) -> None:
    with tenant_context(user.tenant_id):
        User.objects.get(pk=user.pk).delete()


def disable_tenant(user: User) -> None:
    Tenant.objects.filter(pk=user.tenant_id).update(status=TenantStatus.INACTIVE)


def disable_tenant_expired(user: User) -> None:
    Tenant.objects.filter(pk=user.tenant_id).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )


@pytest.mark.parametrize(
    "disable",
    [disable_inactive, disable_locked, disable_deleted, disable_tenant, disable_tenant_expired],
)
def test_a_disabled_users_keys_stop_working_at_once(client, issued, alice, disable):
    """Inactive, locked, deleted user or inactive/expired tenant: the next request is a 401."""
    _, plaintext = issued
    assert client.get(ME_URL, **bearer(plaintext)).status_code == 200

    disable(alice)

    assert_json_401(
        client.get(ME_URL, **bearer(plaintext)), "The user of this API key can no longer sign in."
    )


def test_an_invalid_key_is_refused_even_with_a_valid_session(client_a, issued):
    """A Bearer header is authoritative: a bad key is not rescued by the session cookie."""
    _, plaintext = issued
    revoke_api_key(api_key=issued[0])

    assert_json_401(client_a.get(ME_URL, **bearer(plaintext)))


# ---------------------------------------------------------------------------
# Tenant scope of key-authenticated requests
# ---------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_tenant_a_key_sees_only_tenant_a(client, issued, alice, org_b, admin_b):
    """Inside the request the scope is tenant A: User.objects counts A's users only."""
    _, plaintext = issued
    expected = User.objects.all_tenants().filter(tenant_id=alice.tenant_id).count()
    assert User.objects.all_tenants().count() > expected

    response = client.get("/probe/", **bearer(plaintext))

    assert response.status_code == 200
    assert response.json() == {
        "users": expected,
        "all_tenants": False,
        "tenant": str(alice.tenant_id),
        "actor": str(alice.pk),
    }
    me = client.get(reverse("api:me"), **bearer(plaintext)).json()
    assert me["tenant"] == "alpha"


@pytest.mark.urls(__name__)
def test_an_operators_key_sees_all_tenants(client, operator, org_a, org_b):
    """Platform operators' keys get the explicit all-tenants scope, as their sessions do."""
    _, plaintext = issue_api_key(user=operator, name="ops", scopes=[])

    response = client.get("/probe/", **bearer(plaintext))

    assert response.status_code == 200
    assert response.json()["all_tenants"] is True
    assert response.json()["users"] == User.objects.all_tenants().count()
    assert response.wsgi_request.tenant_scope == ALL_TENANTS


@pytest.mark.urls(__name__)
def test_no_scope_leaks_to_the_next_request_in_the_same_thread(client, issued):
    """After a key-authenticated request (even a failing one) the thread has no scope, and
    the next anonymous request fails closed instead of reading tenant A."""
    _, plaintext = issued

    assert client.get("/probe/", **bearer(plaintext)).status_code == 200
    assert get_scope() is None and get_current_actor_id() is None
    assert client.get("/probe/?fail=1", **bearer(plaintext)).status_code == 400
    assert get_scope() is None and get_current_actor_id() is None

    anonymous = client.get("/probe/")
    assert anonymous.status_code == 401
    assert "users" not in anonymous.json()


def test_authentication_refuses_to_run_without_the_tenant_middleware(issued):
    """Without TenantContextMiddleware nothing would reset the scope: fail loudly instead."""
    _, plaintext = issued
    request = APIRequestFactory().get(ME_URL, **bearer(plaintext))

    with pytest.raises(ImproperlyConfigured):
        MeView.as_view()(request)
    assert get_scope() is None


# ---------------------------------------------------------------------------
# last_used_at / last_used_ip
# ---------------------------------------------------------------------------


def api_key_updates(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "api_keys" in q["sql"]]


def test_last_use_is_written_at_most_once_a_minute(client, issued):
    api_key, plaintext = issued

    with CaptureQueriesContext(connection) as first:
        client.get(ME_URL, REMOTE_ADDR="192.0.2.10", **bearer(plaintext))
    with CaptureQueriesContext(connection) as second:
        client.get(ME_URL, REMOTE_ADDR="192.0.2.11", **bearer(plaintext))

    assert len(api_key_updates(first.captured_queries)) == 1
    assert api_key_updates(second.captured_queries) == []
    assert len(second.captured_queries) == 1  # verify: one indexed SELECT, nothing else
    row = stored(api_key)
    assert row.last_used_ip == "192.0.2.10"
    used_at = row.last_used_at

    ApiKey.objects.all_tenants().filter(pk=api_key.pk).update(
        last_used_at=used_at - datetime.timedelta(seconds=LAST_USED_INTERVAL + 1)
    )
    client.get(ME_URL, REMOTE_ADDR="192.0.2.12", **bearer(plaintext))
    assert stored(api_key).last_used_ip == "192.0.2.12"


def test_concurrent_first_uses_write_once(issued):
    """Two requests that both read a stale last_used_at: the conditional UPDATE lets one win."""
    api_key, _ = issued
    racer_a, racer_b = stored(api_key), stored(api_key)

    assert record_use(racer_a, "192.0.2.1") is True
    assert record_use(racer_b, "192.0.2.2") is False
    assert stored(api_key).last_used_ip == "192.0.2.1"


def test_using_a_key_does_not_touch_its_audit_fields(client, issued):
    api_key, plaintext = issued
    before = stored(api_key).updated_at

    client.get(ME_URL, **bearer(plaintext))

    assert stored(api_key).updated_at == before


# ---------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------


def add_data(user: User, **overrides) -> dict:
    data = {
        "user": str(user.pk),
        "name": "deploy",
        "scopes": "user:view\nrole:view",
        "expires_at_0": "",
        "expires_at_1": "",
        "allowed_ips": "",
    }
    data.update(overrides)
    return data


def change_data(api_key: ApiKey, **overrides) -> dict:
    data = {
        "name": api_key.name,
        "scopes": "\n".join(api_key.scopes),
        "expires_at_0": "",
        "expires_at_1": "",
        "allowed_ips": "\n".join(api_key.allowed_ips),
    }
    data.update(overrides)
    return data


def test_admin_add_shows_the_key_once(client_a, alice):
    """The success message carries the plaintext; no later page shows it again."""
    response = client_a.post(reverse("admin:accounts_apikey_add"), add_data(alice), follow=True)

    assert response.status_code == 200
    found = ADMIN_MESSAGE_KEY.findall(response.content.decode())
    assert len(found) == 1
    plaintext = found[0]
    api_key = verify(plaintext, None)
    assert (api_key.user_id, api_key.name, api_key.scopes) == (
        alice.pk, "deploy", ["role:view", "user:view"]
    )
    secret = parse_key(plaintext)[1]
    for url in (
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_apikey_change", args=[api_key.pk]),
        reverse("admin:accounts_apikey_history", args=[api_key.pk]),
    ):
        page = client_a.get(url).content.decode()
        assert secret not in page
        assert api_key.key_hash not in page
        assert api_key.prefix in page or url.endswith("/history/")


def test_admin_add_refuses_bad_input_without_issuing(client_a, alice):
    response = client_a.post(
        reverse("admin:accounts_apikey_add"),
        add_data(alice, scopes="user:view\nnonsense", allowed_ips="10.0.0.300"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"scopes", "allowed_ips"} <= set(errors)
    assert not ApiKey.objects.all_tenants().exists()
    assert not ADMIN_MESSAGE_KEY.search(response.content.decode())


def test_admin_add_refuses_scopes_beyond_the_grantable(client_a, alice, monkeypatch):
    monkeypatch.setattr(ApiKeyAdmin, "grantable_scopes", lambda self, request: {"user:view"})

    response = client_a.post(reverse("admin:accounts_apikey_add"), add_data(alice))

    assert response.status_code == 200
    assert "role:view" in str(response.context["adminform"].form.errors["scopes"])
    assert not ApiKey.objects.all_tenants().exists()


def test_admin_offers_only_the_own_tenants_users(client_a, alice, org_b):
    response = client_a.get(reverse("admin:accounts_apikey_add"))

    field = response.context["adminform"].form.fields["user"]
    with tenant_context(alice.tenant_id):
        choices = set(field.queryset.values_list("pk", flat=True))
    assert alice.pk in choices and org_b["user"].pk not in choices
    response = client_a.post(reverse("admin:accounts_apikey_add"), add_data(org_b["user"]))
    assert "user" in response.context["adminform"].form.errors


def test_staff_without_user_rights_issue_keys_only_for_themselves(client, tenant_a, alice):
    """Issuing a key for someone is acting as them: only editors of users may do it."""
    from rbac.models import Permission, Role, RolePermission
    from rbac.services import assign_roles

    keyholder = make_user(tenant_a, "keyholder", is_staff=True)
    with tenant_context(tenant_a):
        role = Role.objects.create(code="keys", name="Keys")
        RolePermission.objects.bulk_create(
            RolePermission(role=role, permission=permission)
            for permission in Permission.objects.filter(code__startswith="api_key:")
        )
        assign_roles(user=keyholder, roles=[role])
    client.force_login(keyholder)

    response = client.get(reverse("admin:accounts_apikey_add"))
    assert response.status_code == 200
    field = response.context["adminform"].form.fields["user"]
    with tenant_context(tenant_a):
        assert list(field.queryset.values_list("pk", flat=True)) == [keyholder.pk]
    refused = client.post(reverse("admin:accounts_apikey_add"), add_data(alice))
    assert "user" in refused.context["adminform"].form.errors
    beyond = client.post(reverse("admin:accounts_apikey_add"), add_data(keyholder))
    assert "user:view" in str(beyond.context["adminform"].form.errors["scopes"])
    issued = client.post(
        reverse("admin:accounts_apikey_add"), add_data(keyholder, scopes="api_key:view"), follow=True
    )
    assert ADMIN_MESSAGE_KEY.search(issued.content.decode())


def test_an_operator_issues_a_key_in_the_users_tenant(operator_client, alice, org_b):
    """The operator picks a user of any tenant; the key belongs to that user's tenant."""
    page = operator_client.get(reverse("admin:accounts_apikey_add"))
    assert page.status_code == 200
    assert "tenant" not in page.context["adminform"].form.fields

    response = operator_client.post(
        reverse("admin:accounts_apikey_add"), add_data(alice), follow=True
    )

    plaintext = ADMIN_MESSAGE_KEY.findall(response.content.decode())[0]
    api_key = verify(plaintext, None)
    assert api_key.tenant_id == alice.tenant_id
    change = operator_client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk]))
    assert change.status_code == 200
    assert "Alpha Ltd" in change.content.decode()
    assert parse_key(plaintext)[1] not in change.content.decode()


def test_admin_changelist_and_change_page_never_show_the_hash(client_a, issued):
    api_key, plaintext = issued

    for url in (
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_apikey_change", args=[api_key.pk]),
    ):
        response = client_a.get(url)
        content = response.content.decode()
        assert response.status_code == 200
        assert api_key.prefix in content and "ci" in content
        assert api_key.key_hash not in content
        assert parse_key(plaintext)[1] not in content
        assert "key_hash" not in content


def test_admin_change_narrows_but_never_widens_scopes(client_a, issued):
    api_key, _ = issued
    url = reverse("admin:accounts_apikey_change", args=[api_key.pk])

    widened = client_a.post(url, change_data(api_key, scopes="user:view\nrole:view\nuser:delete"))
    assert widened.status_code == 200
    assert "user:delete" in str(widened.context["adminform"].form.errors["scopes"])
    assert stored(api_key).scopes == ["role:view", "user:view"]

    narrowed = client_a.post(url, change_data(api_key, scopes="user:view"))
    assert narrowed.status_code == 302
    assert stored(api_key).scopes == ["user:view"]


def test_admin_revoke_action(client_a, admin_a, issued):
    api_key, plaintext = issued

    response = client_a.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [str(api_key.pk)]},
    )

    assert response.status_code == 302
    row = stored(api_key)
    assert row.revoked_at is not None and row.revoked_by_id == admin_a.pk
    with pytest.raises(ApiKeyError):
        verify(plaintext, None)


def test_admin_of_another_tenant_cannot_see_the_key(client, admin_b, issued):
    api_key, _ = issued
    client.force_login(admin_b)

    response = client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk]))

    assert response.status_code == 302
    changelist = client.get(reverse("admin:accounts_apikey_changelist"))
    assert api_key.prefix not in changelist.content.decode()


# ---------------------------------------------------------------------------
# Redaction in logs
# ---------------------------------------------------------------------------


def make_record(msg, args=(), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.INFO, __file__, 1, msg, args, exc_info)


def test_redaction_masks_keys_and_authorization_values():
    key = "atr_abcdefghijkl_" + "S3cr3t-_" * 5

    assert redact(f"calling with {key} now") == "calling with atr_abcdefghijkl_[REDACTED] now"
    assert redact("Authorization: Bearer abc.def") == "Authorization: [REDACTED]"
    assert (
        redact("{'HTTP_AUTHORIZATION': 'Basic dXNlcjpwYXNz', 'PATH_INFO': '/x'}")
        == "{'HTTP_AUTHORIZATION': [REDACTED], 'PATH_INFO': '/x'}"
    )
    assert redact('{"authorization": "Bearer x"}') == '{"authorization": [REDACTED]}'
    assert redact("nothing secret here") == "nothing secret here"


def test_the_filter_redacts_message_arguments_and_tracebacks():
    key = "atr_abcdefghijkl_" + "z" * 43
    try:
        raise RuntimeError(f"bad key {key}")
    except RuntimeError:
        import sys

        record = make_record("header %s and %r", ("Authorization: Bearer zzz", {"k": key}),
                             sys.exc_info())

    assert RedactSecretsFilter().filter(record) is True
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.format(record)
    handler.emit(record)
    text = output.getvalue()
    assert "z" * 43 not in text and "zzz" not in text
    assert "atr_abcdefghijkl_[REDACTED]" in text and "Authorization: [REDACTED]" in text
    assert "RuntimeError" in text


def test_every_configured_handler_carries_the_filter():
    """Django's own loggers included: their default handlers would print unfiltered."""
    handlers = {
        handler.name: handler
        for name in ("", "django", "django.request", "django.server")
        for logger in [logging.getLogger(name)]
        for handler in logger.handlers
        if handler.name
    }

    assert {"console", "mail_admins", "django.server"} <= set(handlers)
    for handler in handlers.values():
        assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters), handler.name


def test_a_key_logged_through_the_console_handler_comes_out_masked(issued):
    _, plaintext = issued
    console = next(h for h in logging.getLogger().handlers if h.name == "console")
    output = io.StringIO()
    original = console.setStream(output)
    try:
        logging.getLogger("atrium.test").warning("client sent %s", plaintext)
    finally:
        console.setStream(original)

    assert parse_key(plaintext)[1] not in output.getvalue()
    assert f"atr_{issued[0].prefix}_[REDACTED]" in output.getvalue()
