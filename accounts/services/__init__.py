"""Sign-in, lockout and unlock: the one implementation used by the login page, the
authentication backend, the admin and the Celery tasks.

Failed attempts are counted per account (tenant and user) from the login log: N failures
(``LOGIN_LOCKOUT_THRESHOLD``) within M seconds (``LOGIN_LOCKOUT_WINDOW``) lock the account
until ``LOGIN_LOCKOUT_DURATION`` has passed or an administrator unlocks it. Failures before
the last successful sign-in or unlock do not count. Unknown tenant, unknown user and wrong
password are indistinguishable to the caller (same message, password hashed either way).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone, translation

from accounts.choices import UserStatus
from logs.models import SignInRefusal
from accounts.models import User
from core.context import all_tenants, client_ip, platform_statements, tenant_context
from logs.models import LoginLog, LoginStatus
from tenants.models import Tenant


@dataclass(frozen=True)
class Credentials:
    """What a person typed on the login page."""

    tenant_code: str
    username: str
    password: str


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a sign-in attempt: the user, or why it was refused."""

    user: User | None
    refusal: SignInRefusal | None

    @property
    def ok(self) -> bool:
        return self.refusal is None


def find_user(credentials: Credentials) -> tuple[Tenant | None, User | None]:
    """Return the tenant and the live user the credentials name, either may be ``None``."""
    tenant = Tenant.objects.filter(code=credentials.tenant_code.strip().lower()).first()
    if tenant is None:
        return None, None
    with tenant_context(tenant):
        user = (
            User.objects.select_related("tenant")
            .filter(username=User.normalize_username(credentials.username))
            .first()
        )
    return tenant, user


def check_credentials(credentials: Credentials) -> tuple[Tenant | None, User | None, bool]:
    """Return the tenant, the user and whether the password matches.

    The password is hashed even when no user matches, so response time does not reveal
    which usernames exist.
    """
    tenant, user = find_user(credentials)
    if user is None:
        User().set_password(credentials.password)
        return tenant, None, False
    with tenant_context(user.tenant_id):
        return tenant, user, user.check_password(credentials.password)


def sign_in(credentials: Credentials, *, request: HttpRequest | None = None) -> SignInResult:
    """Check the credentials and the account, record the attempt, lock after repeated failure."""
    tenant, user, password_ok = check_credentials(credentials)
    now = timezone.now()
    if user is None or not password_ok:
        refusal = SignInRefusal.BAD_CREDENTIALS
        # Recorded in the tenant typed, when it exists; an attempt naming no tenant is the
        # platform's own record (no tenant may read it).
        with tenant_context(tenant) if tenant is not None else platform_statements():
            _record(credentials, request, tenant=tenant, user=user, refusal=refusal)
            if user is not None:
                _lock_if_over_threshold(user, now)
        return SignInResult(user=None, refusal=refusal)
    with tenant_context(user.tenant_id):
        if user.lock_expired(now):
            unlock_user(user=user)
        refusal = user.sign_in_refusal(now)
        if refusal is not None:
            _record(credentials, request, tenant=tenant, user=user, refusal=refusal)
            return SignInResult(user=None, refusal=refusal)
        user.last_login_at = now
        user.last_login_ip = client_ip(request)
        user.failures_counted_since = now
        user.save(update_fields=["last_login_at", "last_login_ip", "failures_counted_since"])
        _record(credentials, request, tenant=tenant, user=user, refusal=None)
    return SignInResult(user=user, refusal=None)


def _record(
    credentials: Credentials,
    request: HttpRequest | None,
    *,
    tenant: Tenant | None,
    user: User | None,
    refusal: SignInRefusal | None,
    message: str = "",
) -> LoginLog:
    """Append one row to the login log."""
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:500] if request is not None else ""
    if not message and refusal:
        # Stored text, so in the platform's language whatever the browser asked for; pages
        # show the translated ``reason`` (issue 3, item 10).
        with translation.override(settings.LANGUAGE_CODE):
            message = str(refusal.label)
    return LoginLog.objects.create(
        tenant=tenant,
        user=user,
        tenant_code=credentials.tenant_code[:50],
        username=credentials.username[:150],
        ip_address=client_ip(request),
        user_agent=user_agent,
        login_status=LoginStatus.SUCCESS if refusal is None else LoginStatus.FAILED,
        reason=refusal or "",
        error_message=message,
    )


def recent_failures(user: User, now: datetime.datetime) -> int:
    """Return the failed attempts on the user's account that count toward a lock.

    Counted by user, not by the username typed: the log keeps it as typed, and every case
    or Unicode form of it ("Alice", "ALICE") reaches the same account.
    """
    since = now - datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_WINDOW)
    if user.failures_counted_since and user.failures_counted_since > since:
        since = user.failures_counted_since
    with tenant_context(user.tenant_id):
        return LoginLog.objects.filter(
            user=user,
            login_status=LoginStatus.FAILED,
            reason=SignInRefusal.BAD_CREDENTIALS,
            created_at__gte=since,
        ).count()


def _lock_if_over_threshold(user: User, now: datetime.datetime) -> bool:
    """Lock an active account whose recent failures reached the threshold."""
    if user.status != UserStatus.ACTIVE:
        return False
    if recent_failures(user, now) < settings.LOGIN_LOCKOUT_THRESHOLD:
        return False
    locked_until = now + datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_DURATION)
    with tenant_context(user.tenant_id):
        locked = User.objects.filter(pk=user.pk, status=UserStatus.ACTIVE).update(
            status=UserStatus.LOCKED, locked_until=locked_until, updated_at=now
        )
    return bool(locked)


def unlock_user(*, user: User) -> None:
    """Return a locked account to active and restart its failure count.

    Called by an administrator (the admin action records who), by a sign-in after the lock
    time has passed, and by the periodic task that releases expired locks.
    """
    now = timezone.now()
    user.status = UserStatus.ACTIVE
    user.locked_until = None
    user.failures_counted_since = now
    user.save(update_fields=["status", "locked_until", "failures_counted_since"])


def release_expired_locks() -> int:
    """Unlock every account whose lock time has passed, across all tenants."""
    now = timezone.now()
    released = 0
    with all_tenants():
        expired = User.objects.filter(status=UserStatus.LOCKED, locked_until__lte=now)
        for user in expired.select_related("tenant"):
            with tenant_context(user.tenant_id):
                unlock_user(user=user)
            released += 1
    return released
