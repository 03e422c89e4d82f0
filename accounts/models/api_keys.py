"""API keys: how scripts and AI agents authenticate (issue 3, item 7).

A key is ``atr_<prefix>_<secret>``. The prefix (12 lowercase letters and digits) is stored
in clear: it finds the row and lets people tell their keys apart. The secret
(``secrets.token_urlsafe(32)``, 256 bits) is shown once when the key is issued and stored
only as ``key_hash``: HMAC-SHA256 of the secret under a pepper derived from
``SECRET_KEY``. A random 256-bit secret needs no slow password hash (nothing to brute-force
from a dictionary), so verifying costs microseconds; the pepper means a copy of the table
alone does not let anyone check guesses. Rotating ``SECRET_KEY`` keeps old keys working as
long as the old value is listed in ``SECRET_KEY_FALLBACKS``.

A key acts as its user, narrowed by its scopes (permission codes such as ``user:view``;
an empty list grants nothing). Scopes can only shrink after creation. A key stops working
when it is revoked, soft-deleted, expired, used from an address outside ``allowed_ips``, or
when its user can no longer sign in (``User.sign_in_refusal``).

Names are unique among a user's live (not soft-deleted) keys; a revoked key keeps its name
until it is deleted, so the list still tells which key was revoked.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
import string
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models.users import User
from core.context import get_current_actor_id
from tenants.models import TenantModel, unique_live_per_tenant

KEY_PREFIX = "atr"
PREFIX_LENGTH = 12
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits
KEY_PATTERN = re.compile(
    rf"^{KEY_PREFIX}_(?P<prefix>[a-z0-9]{{{PREFIX_LENGTH}}})_(?P<secret>[A-Za-z0-9_-]{{20,128}})\Z"
)
SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]*:[a-z][a-z0-9_.-]*\Z")
SCOPE_MAX_LENGTH = 100
PEPPER_PURPOSE = b"atrium.accounts.ApiKey.pepper"

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _pepper(secret_key: str) -> bytes:
    """Return the pepper derived from one value of ``SECRET_KEY``."""
    return hmac.new(secret_key.encode(), PEPPER_PURPOSE, hashlib.sha256).digest()


def hash_secret(secret: str, secret_key: str | None = None) -> str:
    """Return the hex HMAC-SHA256 of a key's secret under the server's pepper."""
    pepper = _pepper(secret_key if secret_key is not None else settings.SECRET_KEY)
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def parse_key(raw_key: str) -> tuple[str, str] | None:
    """Return ``(prefix, secret)`` of a well-formed key, or ``None``."""
    match = KEY_PATTERN.match(raw_key or "")
    if match is None:
        return None
    return match["prefix"], match["secret"]


def parse_network(value: str) -> IpNetwork:
    """Return the network an allow-list entry names (an address is a one-address network).

    Raise ``ValueError`` for anything else, including a network written with host bits
    set ("10.0.0.5/8"), which is more likely a typo than a wish.
    """
    return ipaddress.ip_network(value.strip(), strict=True)


def normalize_ip(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return the address ``ip`` names (IPv4-mapped IPv6 as IPv4), or ``None``."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def validate_scopes(value: Any) -> None:
    """Refuse anything but a list of ``resource:action`` permission codes."""
    if not isinstance(value, list):
        raise ValidationError(_("Give the scopes as a list of permission codes."), code="invalid")
    bad = [
        str(code)
        for code in value
        if not isinstance(code, str)
        or len(code) > SCOPE_MAX_LENGTH
        or not SCOPE_PATTERN.match(code)
    ]
    if bad:
        raise ValidationError(
            _("Scopes are permission codes written resource:action (e.g. user:view): %(codes)s")
            % {"codes": ", ".join(bad)},
            code="invalid_scope",
        )


def validate_allowed_ips(value: Any) -> None:
    """Refuse anything but a list of IP addresses and CIDR networks."""
    if not isinstance(value, list):
        raise ValidationError(
            _("Give the allowed addresses as a list of IPs or CIDR networks."), code="invalid"
        )
    bad = []
    for entry in value:
        try:
            parse_network(entry)
        except (ValueError, TypeError, AttributeError):
            bad.append(str(entry))
    if bad:
        raise ValidationError(
            _("Not an IP address or CIDR network (e.g. 203.0.113.0/24): %(entries)s")
            % {"entries": ", ".join(bad)},
            code="invalid_ip",
        )


class ApiKey(TenantModel):
    """A named API key of one user, shown once, stored hashed, narrowed by scopes."""

    user = models.ForeignKey(
        User,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"),
        max_length=PREFIX_LENGTH,
        unique=True,
        editable=False,
        help_text=_("The visible start of the key; tells keys apart."),
    )
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    scopes = models.JSONField(
        _("scopes"),
        default=list,
        blank=True,
        validators=[validate_scopes],
        help_text=_("Permission codes the key may use (e.g. user:view). Empty: none."),
    )
    expires_at = models.DateTimeField(
        _("expires at"), null=True, blank=True, help_text=_("Empty: never expires.")
    )
    allowed_ips = models.JSONField(
        _("allowed IPs"),
        default=list,
        blank=True,
        validators=[validate_allowed_ips],
        help_text=_("IP addresses or CIDR networks the key may be used from. Empty: any."),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        User,
        verbose_name=_("revoked by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(
        _("last used IP"), null=True, blank=True, editable=False
    )

    # The prefix is random and looked up before the tenant is known: unique platform-wide.
    globally_unique_fields = ("prefix",)
    rbac_resource = "api_key"
    rbac_owner_path = "user"  # a "only own records" data scope reaches one's own keys

    class Meta(TenantModel.Meta):
        db_table = "api_keys"
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        constraints = [
            *TenantModel.Meta.constraints,
            unique_live_per_tenant(
                "user",
                "name",
                name="api_keys_unique_user_name",
                message=_("This user already has an API key with this name."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, refusing to widen the scopes or move the key to another user."""
        update_fields = kwargs.get("update_fields")
        if not self._state.adding and (
            update_fields is None or {"scopes", "user", "user_id"} & set(update_fields)
        ):
            with transaction.atomic():
                self.check_narrowing(lock=True)
                super().save(*args, **kwargs)
            return
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Normalise scopes and allow-list, and refuse widening the scopes of a saved key."""
        super().clean()
        if isinstance(self.scopes, list) and all(isinstance(s, str) for s in self.scopes):
            self.scopes = sorted(set(self.scopes))
        if isinstance(self.allowed_ips, list):
            try:
                self.allowed_ips = list(
                    dict.fromkeys(str(parse_network(entry)) for entry in self.allowed_ips)
                )
            except (ValueError, TypeError, AttributeError):
                pass  # validate_allowed_ips has reported it
        if self._state.adding and self.expires_at is not None and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": _("Choose an expiry in the future.")})
        self.check_narrowing()

    def check_narrowing(self, *, lock: bool = False) -> None:
        """Raise ``ValidationError`` when the scopes would grow or the user would change.

        Compared with the row as stored (locked when ``lock``), not with what was loaded,
        so two concurrent edits cannot together widen a key.
        """
        if self._state.adding or self.pk is None:
            return
        stored = type(self)._base_manager.filter(pk=self.pk)
        if lock:
            stored = stored.select_for_update()
        row = stored.values("scopes", "user_id").first()
        if row is None:
            return
        errors: dict[str, list] = {}
        if row["user_id"] != self.user_id:
            errors["user"] = [_("An API key cannot be moved to another user.")]
        current = set(row["scopes"] or [])
        wanted = self.scopes if isinstance(self.scopes, list) else []
        added = sorted({str(code) for code in wanted} - current)
        if added:
            errors["scopes"] = [
                ValidationError(
                    _("Scopes can only be narrowed after creation; these would be added: "
                      "%(codes)s")
                    % {"codes": ", ".join(added)},
                    code="scope_widening",
                )
            ]
        if errors:
            raise ValidationError(errors)

    def assign_new_secret(self) -> str:
        """Give an unsaved key a fresh prefix and secret; return the plaintext key.

        The plaintext is returned once and never stored: only its hash is kept.
        """
        if not self._state.adding:
            raise ValueError("Only a new API key gets a secret; issue another key instead.")
        self.prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        secret = secrets.token_urlsafe(SECRET_BYTES)
        self.key_hash = hash_secret(secret)
        return f"{KEY_PREFIX}_{self.prefix}_{secret}"

    def check_secret(self, secret: str) -> bool:
        """Return whether ``secret`` is this key's (also under ``SECRET_KEY_FALLBACKS``)."""
        for secret_key in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
            if hmac.compare_digest(hash_secret(secret, secret_key), self.key_hash):
                return True
        return False

    @property
    def is_revoked(self) -> bool:
        """Return whether the key was revoked or deleted."""
        return self.revoked_at is not None or self.is_deleted

    def is_expired(self, now=None) -> bool:
        """Return whether the key's expiry has passed."""
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def allows_ip(self, ip: str | None) -> bool:
        """Return whether the key may be used from ``ip`` (any address when no allow-list)."""
        if not self.allowed_ips:
            return True
        address = normalize_ip(ip)
        if address is None:
            return False
        for entry in self.allowed_ips:
            try:
                if address in parse_network(entry):
                    return True
            except (ValueError, TypeError, AttributeError):
                continue
        return False

    def has_scope(self, code: str) -> bool:
        """Return whether the key's scopes include the permission ``code``."""
        return code in (self.scopes or ())

    def _revoke_unless_revoked(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.revoked_by_id = get_current_actor_id()
            self.save(update_fields=["revoked_at", "revoked_by"])

    @transaction.atomic
    def soft_delete(self) -> None:
        """Revoke the key, then soft-delete it: a deleted key never works again."""
        self._revoke_unless_revoked()
        super().soft_delete()

    @transaction.atomic
    def restore(self) -> None:
        """Bring the key back into the list, revoked (also when bulk-deleted unrevoked)."""
        was_deleted = self.is_deleted
        super().restore()
        if was_deleted:
            self._revoke_unless_revoked()
