"""Encryption at rest of secrets the platform must use again (an external tool's credentials,
a database password of a test project).

Values are sealed with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under
the keys of ``settings.FIELD_ENCRYPTION_KEYS``: the first key seals, every key opens, so a
key is rotated by putting the new one first and re-saving the rows
(``manage.py reencrypt_secrets``) before the old one is dropped. Without configured keys
one key is derived from ``SECRET_KEY`` with HKDF (development); production refuses to
start without ``FIELD_ENCRYPTION_KEYS`` (``config.settings``).

``EncryptedJSONField`` stores ``enc:v1:<token>`` in a text column and gives Python the
decrypted JSON value. A stored value that no key opens raises ``SecretUnreadable`` rather
than passing ciphertext on as if it were the secret.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:v1:"


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens."""


def derived_key(secret_key: str) -> bytes:
    """Return a Fernet key derived from Django's ``SECRET_KEY`` (development default)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"atrium-field-encryption",
                info=b"fernet-v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    raw = [key.encode() for key in keys] or [derived_key(secret_key)]
    try:
        return MultiFernet([Fernet(key) for key in raw])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must list Fernet keys (32 url-safe base64 bytes each); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    """Return the cipher of the configured keys."""
    return _fernet(tuple(getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) or ()), settings.SECRET_KEY)


def seal(value: Any) -> str:
    """Return ``value`` (any JSON value) encrypted for storage."""
    plain = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return PREFIX + fernet().encrypt(plain).decode("ascii")


def unseal(stored: str) -> Any:
    """Return the JSON value sealed in ``stored``."""
    if not stored.startswith(PREFIX):
        raise SecretUnreadable("The stored value is not an encrypted secret.")
    try:
        plain = fernet().decrypt(stored[len(PREFIX):].encode("ascii"))
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "None of FIELD_ENCRYPTION_KEYS opens this secret; was a key dropped too early?"
        ) from exc
    return json.loads(plain)


def reseal(stored: str) -> str:
    """Return ``stored`` sealed again under the first key (rotation)."""
    return seal(unseal(stored))


class EncryptedJSONField(models.TextField):
    """A JSON value kept encrypted in a text column (see the module docstring).

    Lookups other than ``isnull`` are meaningless on ciphertext and are not offered.
    """

    description = "An encrypted JSON value"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        return unseal(value)

    def to_python(self, value):
        if isinstance(value, str) and value.startswith(PREFIX):
            return unseal(value)
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return seal(value)

    def value_to_string(self, obj):
        # Fixtures and serialisation never carry the secret.
        return None

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)


def encrypted_fields() -> dict[type[models.Model], list[str]]:
    """Return the names of the encrypted fields of every installed model that has any."""
    found: dict[type[models.Model], list[str]] = {}
    for model in apps.get_models():
        names = [field.name for field in model._meta.concrete_fields
                 if isinstance(field, EncryptedJSONField)]
        if names:
            found[model] = names
    return found
