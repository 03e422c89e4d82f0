"""The password hasher of production (issue 17, item 8): Argon2 first, older PBKDF2 hashes
still accepted and upgraded at sign-in, the lockout unchanged.

The tests run with MD5 (tests/settings.py); the tests here that sign in switch to the
production list, read from ``config.settings`` itself.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, identify_hasher
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

import config.settings as production
from accounts import services
from accounts.choices import UserStatus
from accounts.models import User
from conftest import PASSWORD
from logs.models import LoginLog, LoginStatus, SignInRefusal

LOGIN_URL = reverse("accounts:login")
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


@pytest.fixture
def production_hashers():
    """Hash and verify passwords with the production PASSWORD_HASHERS."""
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        yield


@pytest.fixture
def pbkdf2_alice(org_a, production_hashers) -> User:
    """Alice of tenant A with her password stored as a PBKDF2-SHA256 hash (from before Argon2).

    The hash has few iterations so the tests stay fast; the upgrade does not depend on
    them: any hash of another algorithm than the first hasher is upgraded.
    """
    user = org_a["user"]
    encoded = PBKDF2PasswordHasher().encode(PASSWORD, "pbkdf2salt", iterations=1000)
    User.objects.all_tenants().filter(pk=user.pk).update(password=encoded)
    return user


def stored_password(user: User) -> str:
    """Return the password hash in the database for ``user``."""
    return User.objects.all_tenants().get(pk=user.pk).password


def post_login(client, password: str = PASSWORD):
    """POST the login page as Alice of tenant A."""
    return client.post(
        LOGIN_URL, {"tenant_code": "alpha", "username": "alice", "password": password}
    )


def test_production_hashes_with_argon2_and_still_accepts_pbkdf2():
    """Production stores new passwords with Argon2 and still verifies PBKDF2 hashes."""
    hashers = production.PASSWORD_HASHERS
    assert hashers[0] == ARGON2
    assert PBKDF2 in hashers[1:]


def test_tests_hash_with_md5(settings):
    """The tests themselves use the fast MD5 hasher (hashing speed is not under test)."""
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_pbkdf2_password_signs_in_and_is_upgraded_to_argon2(client, pbkdf2_alice):
    """A user whose password is a PBKDF2 hash signs in through the login page, and the
    hash is then Argon2; the same password signs in again against the new hash."""
    assert identify_hasher(stored_password(pbkdf2_alice)).algorithm == "pbkdf2_sha256"

    response = post_login(client)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(pbkdf2_alice.pk)
    upgraded = stored_password(pbkdf2_alice)
    assert identify_hasher(upgraded).algorithm == "argon2"
    assert upgraded.startswith("argon2$argon2id$")

    client.logout()
    assert post_login(client).status_code == 302
    assert stored_password(pbkdf2_alice) == upgraded


def test_a_wrong_password_is_refused_counted_and_not_upgraded(client, pbkdf2_alice, settings):
    """A wrong password against a PBKDF2 hash is refused, logged as a failure that counts
    toward the lockout, and leaves the hash as it was; enough of them lock the account."""
    settings.LOGIN_LOCKOUT_THRESHOLD = 2
    before = stored_password(pbkdf2_alice)

    response = post_login(client, password="Wrong-password-1")

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    assert stored_password(pbkdf2_alice) == before
    last = LoginLog.objects.all_tenants().filter(user=pbkdf2_alice).latest("created_at")
    assert (last.login_status, last.reason) == (LoginStatus.FAILED, SignInRefusal.BAD_CREDENTIALS)
    assert services.recent_failures(pbkdf2_alice, timezone.now()) == 1

    post_login(client, password="Wrong-password-2")

    locked = User.objects.all_tenants().get(pk=pbkdf2_alice.pk)
    assert locked.status == UserStatus.LOCKED
    assert locked.password == before
