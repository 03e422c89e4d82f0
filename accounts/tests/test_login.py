"""The login page, the sign-in service, the lockout and the ways out of a lock."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts import services
from accounts.choices import UserStatus
from logs.models import SignInRefusal
from accounts.models import User
from conftest import PASSWORD, make_user
from core.context import tenant_context
from logs.models import LoginLog, LoginStatus

LOGIN_URL = reverse("accounts:login")
HOME_URL = "/"
OTHER_PASSWORD = "Battery-staple-7"


# --------------------------------------------------------------------------- helpers


def post_login(client, tenant_code="alpha", username="alice", password=PASSWORD, **extra):
    """POST the login form and return the response."""
    data = {"tenant_code": tenant_code, "username": username, "password": password, **extra}
    return client.post(LOGIN_URL, data)


def login_logs():
    """Return every login log row, oldest first (the log is read across tenants here)."""
    return list(LoginLog.objects.all_tenants().order_by("created_at", "id"))


def reload(user: User) -> User:
    """Return a fresh copy of ``user`` from the database."""
    return User.objects.all_tenants(include_deleted=True).select_related("tenant").get(pk=user.pk)


def set_fields(user: User, **fields) -> None:
    """Update columns of ``user`` in the database, bypassing the model's save()."""
    User.objects.all_tenants(include_deleted=True).filter(pk=user.pk).update(**fields)


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def error_of(response) -> str:
    """Return the error message the login page shows, checking it is in the HTML."""
    error = response.context["error"]
    assert error
    assert escape(error) in response.content.decode()
    return error


@pytest.fixture
def alice(org_a) -> User:
    return org_a["user"]


@pytest.fixture
def lockout(settings):
    """A lockout policy with a small threshold: 3 failures in 15 minutes lock for 30."""
    settings.LOGIN_LOCKOUT_THRESHOLD = 3
    settings.LOGIN_LOCKOUT_WINDOW = 15 * 60
    settings.LOGIN_LOCKOUT_DURATION = 30 * 60
    return settings


# --------------------------------------------------------------------------- the page


def test_login_page_renders_the_three_fields(client, db):
    """The login page asks for tenant code, username and password."""
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("tenant_code", "username", "password"):
        assert f'name="{name}"' in html
    assert 'type="password"' in html


def test_successful_login_redirects_home_and_opens_a_session(client, alice):
    """Right tenant code, username and password sign the user in and go to the home page."""
    response = post_login(client)
    assert response.status_code == 302
    assert response.url == "/"
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_home_page_shows_the_tenant_name(client, alice):
    """The home page of a signed-in user names their tenant."""
    post_login(client)
    response = client.get(HOME_URL)
    assert response.status_code == 200
    assert "Alpha Ltd" in response.content.decode()


def test_home_page_requires_sign_in(client, db):
    """An anonymous visitor of the home page is sent to the login page."""
    response = client.get(HOME_URL)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


def test_logout_ends_the_session(client, alice):
    """Logging out (POST) ends the session; the home page asks for sign-in again."""
    post_login(client)
    assert is_signed_in(client)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == LOGIN_URL
    assert not is_signed_in(client)
    assert client.get(HOME_URL).url.startswith(LOGIN_URL)


# --------------------------------------------------------------------------- refusals


def test_unknown_tenant_unknown_user_and_wrong_password_look_the_same(client, alice):
    """Unknown tenant, unknown user and wrong password give the same 400 and message."""
    responses = [
        post_login(client, tenant_code="nosuchtenant"),
        post_login(client, username="nobody"),
        post_login(client, password="Wrong-password-1"),
    ]
    assert [r.status_code for r in responses] == [400, 400, 400]
    messages = [error_of(r) for r in responses]
    assert messages[0] == messages[1] == messages[2]
    assert "incorrect" in messages[0]
    assert not is_signed_in(client)


@pytest.mark.parametrize(
    ("tenant_code", "username", "password", "logs_tenant", "logs_user"),
    [
        ("nosuchtenant", "alice", PASSWORD, False, False),
        ("alpha", "nobody", PASSWORD, True, False),
        ("alpha", "alice", "Wrong-password-1", True, True),
    ],
    ids=["unknown-tenant", "unknown-user", "wrong-password"],
)
def test_each_failed_attempt_writes_one_login_log_row(
    client, alice, tenant_code, username, password, logs_tenant, logs_user
):
    """Every failed attempt writes exactly one failed row, with what was typed and the IP."""
    response = post_login(client, tenant_code, username, password)
    assert response.status_code == 400
    [row] = login_logs()
    assert row.login_status == LoginStatus.FAILED
    assert row.reason == SignInRefusal.BAD_CREDENTIALS
    assert row.tenant_code == tenant_code
    assert row.username == username
    assert row.ip_address == "127.0.0.1"
    assert row.tenant_id == (alice.tenant_id if logs_tenant else None)
    assert row.user_id == (alice.pk if logs_user else None)


def test_success_writes_a_success_row_and_records_the_sign_in(client, alice):
    """A successful sign-in writes one success row and stamps last_login_at and the IP."""
    before = timezone.now()
    response = client.post(
        LOGIN_URL,
        {"tenant_code": "alpha", "username": "alice", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    [row] = login_logs()
    assert row.login_status == LoginStatus.SUCCESS
    assert row.reason == ""
    assert (row.tenant_code, row.username) == ("alpha", "alice")
    assert row.tenant_id == alice.tenant_id
    assert row.user_id == alice.pk
    assert row.ip_address == "203.0.113.7"
    alice = reload(alice)
    assert alice.last_login_at is not None and alice.last_login_at >= before
    assert alice.last_login_ip == "203.0.113.7"


def test_a_failed_attempt_does_not_record_a_sign_in(client, alice):
    """A wrong password leaves last_login_at and last_login_ip untouched."""
    post_login(client, password="Wrong-password-1")
    alice = reload(alice)
    assert alice.last_login_at is None
    assert alice.last_login_ip is None


# --------------------------------------------------------------------------- lockout


def test_repeated_wrong_passwords_lock_the_account(client, alice, lockout):
    """Reaching the threshold of wrong passwords locks the account for the lock duration."""
    for _ in range(2):
        post_login(client, password="Wrong-password-1")
    assert reload(alice).status == UserStatus.ACTIVE
    before = timezone.now()
    post_login(client, password="Wrong-password-1")
    alice = reload(alice)
    assert alice.status == UserStatus.LOCKED
    assert alice.locked_until is not None
    expected = before + datetime.timedelta(seconds=lockout.LOGIN_LOCKOUT_DURATION)
    assert abs((alice.locked_until - expected).total_seconds()) < 60


def test_a_locked_user_cannot_sign_in_even_with_the_right_password(client, alice, lockout):
    """A locked user is refused with the locked message, and the attempt is logged."""
    for _ in range(3):
        post_login(client, password="Wrong-password-1")
    bad_credentials_message = post_login(client, password="Wrong-password-1").context["error"]
    response = post_login(client)
    assert response.status_code == 400
    message = error_of(response)
    assert "locked" in message
    assert message != bad_credentials_message
    assert not is_signed_in(client)
    last = login_logs()[-1]
    assert (last.login_status, last.reason) == (LoginStatus.FAILED, SignInRefusal.LOCKED)
    assert reload(alice).status == UserStatus.LOCKED


def test_failures_in_another_tenant_do_not_count(client, org_a, org_b, lockout):
    """Failures of the same username in another tenant do not count toward a lock."""
    for _ in range(2):
        post_login(client, tenant_code="beta", password="Wrong-password-1")
    for _ in range(2):
        post_login(client, tenant_code="alpha", password="Wrong-password-1")
    assert reload(org_a["user"]).status == UserStatus.ACTIVE
    assert reload(org_b["user"]).status == UserStatus.ACTIVE
    # One more in beta reaches beta's threshold only.
    post_login(client, tenant_code="beta", password="Wrong-password-1")
    assert reload(org_b["user"]).status == UserStatus.LOCKED
    assert reload(org_a["user"]).status == UserStatus.ACTIVE


@pytest.mark.parametrize(
    ("age", "locks"),
    [(datetime.timedelta(minutes=5), True), (datetime.timedelta(minutes=16), False)],
    ids=["inside-window", "outside-window"],
)
def test_only_failures_inside_the_window_count(client, alice, lockout, age, locks):
    """Failures older than the lockout window do not count; recent ones do."""
    old = [
        LoginLog.objects.create(
            tenant=alice.tenant,
            user=alice,
            tenant_code="alpha",
            username="alice",
            login_status=LoginStatus.FAILED,
            reason=SignInRefusal.BAD_CREDENTIALS,
        )
        for _ in range(2)
    ]
    LoginLog.objects.all_tenants().filter(pk__in=[row.pk for row in old]).update(
        created_at=timezone.now() - age
    )
    post_login(client, password="Wrong-password-1")
    expected = UserStatus.LOCKED if locks else UserStatus.ACTIVE
    assert reload(alice).status == expected


def test_a_success_resets_the_failure_count(client, alice, lockout):
    """Failures before a successful sign-in no longer count toward a lock."""
    for _ in range(2):
        post_login(client, password="Wrong-password-1")
    assert post_login(client).status_code == 302
    client.post(reverse("accounts:logout"))
    success = login_logs()[-1]
    alice = reload(alice)
    assert alice.failures_counted_since is not None
    assert alice.failures_counted_since >= success.created_at - datetime.timedelta(seconds=1)
    for _ in range(2):
        post_login(client, password="Wrong-password-1")
    assert reload(alice).status == UserStatus.ACTIVE
    post_login(client, password="Wrong-password-1")
    assert reload(alice).status == UserStatus.LOCKED


def test_failures_count_whatever_the_case_of_the_username(client, alice, lockout):
    """Varying the case or Unicode form of the username typed does not escape the lockout."""
    for username in ("Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"):
        post_login(client, username=username, password="Wrong-password-1")
    assert reload(alice).status == UserStatus.LOCKED


# --------------------------------------------------------------------------- lock expiry


def test_an_expired_lock_lets_the_user_sign_in_again(client, alice):
    """A user whose lock time has passed signs in again and becomes active."""
    set_fields(
        alice,
        status=UserStatus.LOCKED,
        locked_until=timezone.now() - datetime.timedelta(minutes=1),
    )
    response = post_login(client)
    assert response.status_code == 302
    assert is_signed_in(client)
    alice = reload(alice)
    assert alice.status == UserStatus.ACTIVE
    assert alice.locked_until is None


def test_an_unexpired_lock_still_refuses(client, alice):
    """A user whose lock time has not passed is still refused."""
    set_fields(
        alice,
        status=UserStatus.LOCKED,
        locked_until=timezone.now() + datetime.timedelta(minutes=5),
    )
    assert post_login(client).status_code == 400
    assert reload(alice).status == UserStatus.LOCKED


def test_release_expired_locks_unlocks_expired_ones_across_tenants(org_a, org_b, tenant_a):
    """release_expired_locks() unlocks every expired lock of every tenant and no other."""
    past = timezone.now() - datetime.timedelta(minutes=1)
    future = timezone.now() + datetime.timedelta(minutes=30)
    bob = make_user(tenant_a, "bob")
    set_fields(org_a["user"], status=UserStatus.LOCKED, locked_until=past)
    set_fields(org_b["user"], status=UserStatus.LOCKED, locked_until=past)
    set_fields(bob, status=UserStatus.LOCKED, locked_until=future)

    assert services.release_expired_locks() == 2

    for user in (org_a["user"], org_b["user"]):
        user = reload(user)
        assert user.status == UserStatus.ACTIVE
        assert user.locked_until is None
        assert user.failures_counted_since is not None
    bob = reload(bob)
    assert bob.status == UserStatus.LOCKED
    assert bob.locked_until == future


# --------------------------------------------------------------------------- unlocking


def lock(user: User) -> None:
    set_fields(
        user,
        status=UserStatus.LOCKED,
        locked_until=timezone.now() + datetime.timedelta(minutes=30),
    )


def test_admin_action_unlocks_and_records_who(client, admin_a, alice):
    """The admin action unlocks a user and records the change under the administrator."""
    lock(alice)
    client.force_login(admin_a)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "unlock_selected", "_selected_action": [str(alice.pk)]},
    )
    assert response.status_code == 302
    alice = reload(alice)
    assert alice.status == UserStatus.ACTIVE
    assert alice.locked_until is None
    entry = LogEntry.objects.get(object_id=str(alice.pk))
    assert entry.user_id == admin_a.pk
    assert entry.action_flag == CHANGE
    history = client.get(reverse("admin:accounts_user_history", args=[alice.pk]))
    text = history.content.decode()
    assert "Unlocked the account." in text and "No fields changed" not in text
    assert admin_a.username in text  # who unlocked


def test_admin_action_cannot_unlock_another_tenants_user(client, admin_a, org_b):
    """A tenant administrator cannot unlock a user of another tenant."""
    beta_alice = org_b["user"]
    lock(beta_alice)
    client.force_login(admin_a)
    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "unlock_selected", "_selected_action": [str(beta_alice.pk)]},
    )
    assert reload(beta_alice).status == UserStatus.LOCKED
    assert not LogEntry.objects.filter(object_id=str(beta_alice.pk)).exists()


def test_unlock_user_command_unlocks(org_a, org_b):
    """unlock_user --tenant CODE USERNAME unlocks that tenant's user only."""
    lock(org_a["user"])
    lock(org_b["user"])
    call_command("unlock_user", "alice", tenant="alpha")
    assert reload(org_a["user"]).status == UserStatus.ACTIVE
    assert reload(org_b["user"]).status == UserStatus.LOCKED


def test_unlock_user_command_refuses_an_unknown_tenant(org_a):
    """unlock_user with an unknown tenant code fails with CommandError."""
    lock(org_a["user"])
    with pytest.raises(CommandError):
        call_command("unlock_user", "alice", tenant="nosuchtenant")
    assert reload(org_a["user"]).status == UserStatus.LOCKED


def test_unlock_user_command_refuses_an_unknown_user(org_a):
    """unlock_user names the problem when the tenant has no such user."""
    with pytest.raises(CommandError, match="no user"):
        call_command("unlock_user", "nobody", tenant="alpha")


# --------------------------------------------------------------------------- unusable accounts


def make_inactive(alice):
    set_fields(alice, status=UserStatus.INACTIVE)


def make_deleted(alice):
    with tenant_context(alice.tenant_id):
        alice.soft_delete()


def make_tenant_inactive(alice):
    type(alice.tenant).objects.filter(pk=alice.tenant_id).update(status="inactive")


def make_tenant_expired(alice):
    type(alice.tenant).objects.filter(pk=alice.tenant_id).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1)
    )


@pytest.mark.parametrize(
    ("make_unusable", "reason"),
    [
        (make_inactive, SignInRefusal.INACTIVE),
        # A soft-deleted user is no longer looked up at all (its username may already
        # belong to a new user), so the attempt is indistinguishable from an unknown user.
        (make_deleted, SignInRefusal.BAD_CREDENTIALS),
        (make_tenant_inactive, SignInRefusal.TENANT_INACTIVE),
        (make_tenant_expired, SignInRefusal.TENANT_EXPIRED),
    ],
    ids=["inactive-user", "deleted-user", "inactive-tenant", "expired-tenant"],
)
def test_unusable_accounts_cannot_sign_in(client, alice, make_unusable, reason):
    """An inactive or deleted user, or a user of an inactive or expired tenant, is refused."""
    make_unusable(alice)
    response = post_login(client)
    assert response.status_code == 400
    assert error_of(response)
    assert not is_signed_in(client)
    [row] = login_logs()
    assert row.login_status == LoginStatus.FAILED
    assert row.reason == reason
    assert (row.tenant_code, row.username) == ("alpha", "alice")


def test_a_tenant_that_expires_today_still_works(client, alice):
    """A tenant whose expiry date is today may still sign in (it expires after the date)."""
    type(alice.tenant).objects.filter(pk=alice.tenant_id).update(expires_on=timezone.localdate())
    assert post_login(client).status_code == 302


@pytest.mark.parametrize(
    "make_unusable",
    [make_inactive, make_deleted, make_tenant_inactive, make_tenant_expired],
    ids=["inactive-user", "deleted-user", "inactive-tenant", "expired-tenant"],
)
def test_an_open_session_stops_working_at_once(client, alice, make_unusable):
    """A session ends on the next request once the user can no longer sign in."""
    client.force_login(alice)
    assert client.get(HOME_URL).status_code == 200
    make_unusable(alice)
    response = client.get(HOME_URL)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)
    assert not is_signed_in(client)


def test_restoring_a_deleted_user_does_not_revive_their_session(client, alice):
    """A session ended by deleting the user stays ended when the user is restored."""
    client.force_login(alice)
    assert client.get(HOME_URL).status_code == 200
    make_deleted(alice)
    assert client.get(HOME_URL).status_code == 302
    with tenant_context(alice.tenant_id):
        reload(alice).restore()
    response = client.get(HOME_URL)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


def test_an_open_session_stops_when_the_user_is_locked(client, alice):
    """Locking a user ends their open session too."""
    client.force_login(alice)
    lock(alice)
    response = client.get(HOME_URL)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


# --------------------------------------------------------------------------- tenants and names


def test_same_username_in_two_tenants_is_two_accounts(client, org_a, org_b):
    """Each tenant's alice has her own password; beta's password does not open alpha."""
    beta_alice = org_b["user"]
    with tenant_context(beta_alice.tenant_id):
        beta_alice.set_password(OTHER_PASSWORD)
        beta_alice.save()

    response = post_login(client, tenant_code="alpha", password=OTHER_PASSWORD)
    assert response.status_code == 400
    assert not is_signed_in(client)

    response = post_login(client, tenant_code="beta", password=OTHER_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(beta_alice.pk)
    assert "Beta Ltd" in client.get(HOME_URL).content.decode()


def test_tenant_code_and_username_are_case_insensitive(client, alice):
    """ALPHA / ALICE signs alice of alpha in."""
    response = post_login(client, tenant_code="ALPHA", username="ALICE")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_the_password_is_case_sensitive(client, alice):
    """The password, unlike the names, must match exactly."""
    assert post_login(client, password=PASSWORD.upper()).status_code == 400


# --------------------------------------------------------------------------- next


def test_a_safe_next_is_followed(client, alice):
    """A local ``next`` URL is where a successful sign-in goes."""
    target = reverse("admin:index")
    response = post_login(client, next=target)
    assert response.status_code == 302
    assert response.url == target


def test_a_next_from_the_query_string_is_followed(client, alice):
    """A local ``next`` in the query string is followed too."""
    response = client.post(
        f"{LOGIN_URL}?next=/admin/",
        {"tenant_code": "alpha", "username": "alice", "password": PASSWORD},
    )
    assert response.url == "/admin/"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "http://evil.example/x"]
)
def test_an_external_next_is_ignored(client, alice, target):
    """An external ``next`` URL is ignored: the user goes home instead."""
    response = post_login(client, next=target)
    assert response.status_code == 302
    assert response.url == "/"


def test_the_login_page_does_not_echo_an_external_next(client, db):
    """The login page does not carry an external ``next`` into its form."""
    response = client.get(LOGIN_URL, {"next": "https://evil.example/"})
    assert "evil.example" not in response.content.decode()
