"""Issuing, narrowing, revoking and verifying API keys: the one implementation behind the
admin, the API authentication class and any future page or command.

``verify`` is the per-request path: one indexed query by prefix (key, user and tenant
joined), an HMAC comparison, the refusal checks, and at most one conditional UPDATE per key
per ``LAST_USED_INTERVAL`` seconds for ``last_used_at``/``last_used_ip``. Nothing is cached
between requests, so a revoked key or a disabled user stops working at once.

The secret is compared before any other check, so only a holder of the real key learns
whether it is revoked, expired or refused from their address.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey, User
from accounts.models.api_keys import hash_secret, normalize_ip, parse_key, parse_network
from core.context import get_current_actor_id, get_scope, tenant_context

# Seconds between two writes of last_used_at/last_used_ip for one key.
LAST_USED_INTERVAL = 60

# Fields of the base models that name users of possibly another tenant (an operator's
# edits): not re-validated by these services, which never change them from input.
AUDIT_FIELDS = ("created_by", "updated_by", "deleted_by", "revoked_by")


class ApiKeyError(Exception):
    """Why a presented key was refused: one of ``REASONS``."""

    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    IP_NOT_ALLOWED = "ip_not_allowed"
    USER_DISABLED = "user_disabled"
    REASONS = (MALFORMED, UNKNOWN, REVOKED, EXPIRED, IP_NOT_ALLOWED, USER_DISABLED)

    MESSAGES = {
        MALFORMED: _("Malformed API key."),
        UNKNOWN: _("Invalid API key."),
        REVOKED: _("This API key has been revoked."),
        EXPIRED: _("This API key has expired."),
        IP_NOT_ALLOWED: _("This API key may not be used from this address."),
        USER_DISABLED: _("The user of this API key can no longer sign in."),
    }

    def __init__(self, reason: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"Unknown API key refusal {reason!r}.")
        self.reason = reason
        super().__init__(reason)

    @property
    def message(self) -> str:
        """Return the message shown to the client."""
        return str(self.MESSAGES[self.reason])


def _check_grantable(scopes: Iterable[str], allowed_scopes: set[str] | None) -> None:
    if allowed_scopes is None:
        return
    refused = sorted(set(scopes) - set(allowed_scopes))
    if refused:
        raise ValidationError(
            {
                "scopes": _("You cannot grant these scopes: %(codes)s")
                % {"codes": ", ".join(refused)}
            }
        )


def _check_tenant(tenant_id) -> None:
    """Refuse a key or user of another tenant than the single tenant in scope."""
    scope = get_scope()
    if scope is not None and scope.tenant_id is not None and scope.tenant_id != tenant_id:
        raise ValidationError({"user": _("Choose a user of the same tenant.")})


@transaction.atomic
def save_new_api_key(*, api_key: ApiKey, allowed_scopes: set[str] | None = None) -> str:
    """Validate and save a key built by the caller (the admin's add form); return the
    plaintext, which exists nowhere else afterwards.

    ``allowed_scopes`` are the codes the caller may grant (``None``: any well-formed code).
    """
    user = api_key.user
    _check_tenant(user.tenant_id)
    api_key.tenant_id = user.tenant_id
    _check_grantable(api_key.scopes if isinstance(api_key.scopes, list) else [], allowed_scopes)
    plaintext = api_key.assign_new_secret()
    with tenant_context(user.tenant_id):
        api_key.full_clean(exclude=AUDIT_FIELDS)
        api_key.save()
    return plaintext


def confine_to_parent(
    parent: ApiKey,
    scopes: Iterable[str],
    expires_at: datetime.datetime | None,
    allowed_ips: list[str],
) -> tuple[datetime.datetime | None, list[str]]:
    """Return the expiry and allow-list of a key issued by a request made with ``parent``.

    Scopes only shrink, also across key creation (issue 10): the new key holds no scope
    ``parent`` lacks (``PermissionDenied`` naming them, a 403), expires no later than
    ``parent`` (its expiry when none is given) and is confined to ``parent``'s networks
    (its allow-list when none is given). A later expiry or a wider network is a
    ``ValidationError`` on the field.
    """
    over = sorted(set(scopes) - set(parent.scopes or []))
    if over:
        raise PermissionDenied(
            _("The API key's scopes do not include %(codes)s: a key issued with an API key "
              "can hold only that key's scopes.") % {"codes": ", ".join(over)}
        )
    errors: dict[str, list] = {}
    if parent.expires_at is not None:
        if expires_at is None:
            expires_at = parent.expires_at
        elif expires_at > parent.expires_at:
            errors["expires_at"] = [
                _("A key issued with an API key expires no later than that key (%(when)s).")
                % {"when": parent.expires_at.isoformat()}
            ]
    if parent.allowed_ips:
        if not allowed_ips:
            allowed_ips = list(parent.allowed_ips)
        else:
            networks = [parse_network(entry) for entry in parent.allowed_ips]
            wider = []
            for entry in allowed_ips:
                try:
                    network = parse_network(entry)
                except (ValueError, TypeError, AttributeError):
                    continue  # the model's validation names it
                if not any(
                    network.version == outer.version and network.subnet_of(outer)
                    for outer in networks
                ):
                    wider.append(str(entry))
            if wider:
                errors["allowed_ips"] = [
                    _("A key issued with an API key is confined to that key's networks "
                      "(%(networks)s); these lie outside: %(entries)s")
                    % {"networks": ", ".join(parent.allowed_ips), "entries": ", ".join(wider)}
                ]
    if errors:
        raise ValidationError(errors)
    return expires_at, allowed_ips


def issue_api_key(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime.datetime | None = None,
    allowed_ips: Iterable[str] = (),
    allowed_scopes: set[str] | None = None,
    parent: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``user``; return it with its plaintext, to be shown once.

    ``allowed_scopes`` are the codes the caller may grant (``None``: any well-formed code);
    asking for others is a ``ValidationError`` on ``scopes``. ``parent`` is the API key
    the request that issues this one was made with: see ``confine_to_parent``.
    """
    scopes = list(scopes)
    allowed_ips = list(allowed_ips)
    if parent is not None:
        expires_at, allowed_ips = confine_to_parent(parent, scopes, expires_at, allowed_ips)
    api_key = ApiKey(
        user=user,
        tenant_id=user.tenant_id,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        allowed_ips=allowed_ips,
    )
    plaintext = save_new_api_key(api_key=api_key, allowed_scopes=allowed_scopes)
    return api_key, plaintext


def _lock(api_key: ApiKey) -> ApiKey:
    return (
        ApiKey.objects.all_tenants(include_deleted=True)
        .select_for_update()
        .get(pk=api_key.pk)
    )


@transaction.atomic
def narrow_scopes(*, api_key: ApiKey, scopes: Iterable[str]) -> ApiKey:
    """Replace the key's scopes with a subset of them; widening is a ``ValidationError``."""
    _check_tenant(api_key.tenant_id)
    locked = _lock(api_key)
    locked.scopes = list(scopes)
    with tenant_context(locked.tenant_id):
        locked.full_clean(exclude=AUDIT_FIELDS)
        locked.save(update_fields=["scopes"])
    api_key.scopes = locked.scopes
    api_key.updated_at, api_key.updated_by_id = locked.updated_at, locked.updated_by_id
    return api_key


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    """Revoke the key for good, recording when and by whom (the actor in context).

    Revoking a revoked key changes nothing.
    """
    _check_tenant(api_key.tenant_id)
    locked = _lock(api_key)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.revoked_by_id = get_current_actor_id()
        locked.save(update_fields=["revoked_at", "revoked_by"])
    api_key.revoked_at, api_key.revoked_by_id = locked.revoked_at, locked.revoked_by_id
    return api_key


def verify(raw_key: str, ip: str | None) -> ApiKey:
    """Return the live key ``raw_key`` names, its user and tenant loaded; raise
    ``ApiKeyError`` with the reason it is refused otherwise.

    ``ip`` is the client address (``core.context.client_ip``).
    """
    parsed = parse_key(raw_key)
    if parsed is None:
        raise ApiKeyError(ApiKeyError.MALFORMED)
    prefix, secret = parsed
    # The prefix is unique: no ORDER BY (first() would add one).
    found = list(
        ApiKey.objects.all_tenants(include_deleted=True)
        .select_related("user", "user__tenant")
        .filter(prefix=prefix)
        .order_by()[:1]
    )
    api_key = found[0] if found else None
    if api_key is None:
        hash_secret(secret)  # the same work as for a known prefix
        raise ApiKeyError(ApiKeyError.UNKNOWN)
    if not api_key.check_secret(secret):
        raise ApiKeyError(ApiKeyError.UNKNOWN)
    if api_key.is_revoked:
        raise ApiKeyError(ApiKeyError.REVOKED)
    now = timezone.now()
    if api_key.is_expired(now):
        raise ApiKeyError(ApiKeyError.EXPIRED)
    if not api_key.allows_ip(ip):
        raise ApiKeyError(ApiKeyError.IP_NOT_ALLOWED)
    user = api_key.user
    if user.tenant_id != api_key.tenant_id or user.sign_in_refusal(now) is not None:
        raise ApiKeyError(ApiKeyError.USER_DISABLED)
    record_use(api_key, ip, now=now)
    return api_key


def record_use(api_key: ApiKey, ip: str | None, *, now: datetime.datetime | None = None) -> bool:
    """Record the key's last use, at most once per ``LAST_USED_INTERVAL``; return whether
    this call wrote.

    The UPDATE is conditional on the stored time, so of a burst of concurrent requests
    only one writes; the requests after it skip the query entirely.
    """
    now = now or timezone.now()
    threshold = now - datetime.timedelta(seconds=LAST_USED_INTERVAL)
    if api_key.last_used_at is not None and api_key.last_used_at > threshold:
        return False
    address = normalize_ip(ip)
    written = (
        ApiKey.objects.all_tenants(include_deleted=True)
        .filter(pk=api_key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=threshold))
        .update(last_used_at=now, last_used_ip=str(address) if address else None)
    )
    if written:
        api_key.last_used_at = now
        api_key.last_used_ip = str(address) if address else None
    return bool(written)
