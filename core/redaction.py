"""Redaction: the one list of what is secret, and the masking every output applies.

* **By name**: a field or key whose name contains one of ``SECRET_NAMES`` (passwords, key
  hashes, secrets, tokens, credentials, API keys, auth settings) is masked whole
  (``is_secret_name``); models add names with ``audit_secret_fields``.
* **By pattern**, in any text: an API key (``atr_<prefix>_<secret>`` keeps its prefix,
  which is not secret and tells keys apart), the value of any ``Authorization`` header and
  the password of a URL (``redact``).
* ``jsonable`` turns any value into JSON with both applied: the audit trail, the operation
  log, the MCP call log and the test engine's results use it.
* **By value**: where the secret values themselves are known (a test run's secret
  variables, an MCP call's secret arguments), ``values_to_hide`` lists the ones worth
  looking for and ``mask_values`` replaces them in every string of a structure.
* ``RedactSecretsFilter`` sits on every handler in ``LOGGING`` (config/settings.py): the
  message, its arguments, the formatted traceback and the stack information.
"""

from __future__ import annotations

import datetime
import decimal
import logging
import re
import uuid
from typing import Any, Iterable

MASK = "[REDACTED]"

# What names a secret: a field, a JSON key or a form field containing one of these.
SECRET_NAMES = ("password", "key_hash", "secret", "token", "credential", "api_key",
                "auth_config", "authorization")
SECRET_NAME_RE = re.compile("|".join(SECRET_NAMES), re.I)
# Words whose presence in a text means it may hold a secret (names or patterns above).
SECRET_WORDS = (*SECRET_NAMES, "atr_", "authorization")

# An Atrium API key: the prefix stays, the secret goes. Matches any prefix length so a
# malformed key someone pasted is masked too.
API_KEY_RE = re.compile(r"\b(atr_[A-Za-z0-9]{1,32}_)[A-Za-z0-9_\-]{8,}")
# "Authorization: Bearer x", "'HTTP_AUTHORIZATION': 'Basic x'", "authorization=x": the
# header value, up to the end of the quoted string or line.
AUTHORIZATION_RE = re.compile(
    r"""(?ix)
    (\b(?:http_)?(?:proxy[_-])?authorization\b["']?\s*[:=]\s*)
    (?:
        "(?:[^"\\\r\n]|\\.)*"       # a double-quoted value
      | '(?:[^'\\\r\n]|\\.)*'       # a single-quoted value
      | (?!\s*\[REDACTED\](?:[\r\n,;}\]]|$))[^\r\n,;}\]]+  # a bare value, to the end of the field (not one
                                   # already masked: redacting twice changes nothing)
    )
    """
)


# A known secret value shorter than this is not looked for: masking every "true" or "1234"
# of a body would reveal more than it hides.
MIN_VALUE_LENGTH = 4


def values_to_hide(candidates: Iterable[Any]) -> list[str]:
    """Return the texts of the secret values among ``candidates`` worth masking: strings
    and numbers of at least MIN_VALUE_LENGTH characters, longest first (so that a secret
    containing another is masked whole)."""
    return sorted(
        {str(candidate) for candidate in candidates
         if isinstance(candidate, (str, int, float)) and not isinstance(candidate, bool)
         and len(str(candidate)) >= MIN_VALUE_LENGTH},
        key=len, reverse=True)


def mask_values(value: Any, hidden: list[str], mask: str = MASK) -> Any:
    """Return ``value`` with each text of ``hidden`` (``values_to_hide``) replaced by
    ``mask`` in its strings, inside dicts, lists and tuples too."""
    if not hidden:
        return value
    if isinstance(value, str):
        for secret in hidden:
            value = value.replace(secret, mask)
        return value
    if isinstance(value, dict):
        return {key: mask_values(item, hidden, mask) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_values(item, hidden, mask) for item in value)
    return value


def is_secret_name(name: Any) -> bool:
    """Return whether a field or key called ``name`` holds a secret."""
    return isinstance(name, str) and bool(SECRET_NAME_RE.search(name))


def might_hold_secret(text: str) -> bool:
    """Return whether ``text`` mentions anything ``jsonable`` would mask (a quick test)."""
    lowered = text.lower()
    return any(word in lowered for word in SECRET_WORDS)


def jsonable(value: Any) -> Any:
    """Return ``value`` as something ``json.dumps`` accepts, secrets masked.

    Keys named like a secret have their values masked, and so has the ``value`` of a mapping
    marked ``is_secret``; every string is ``redact``-ed.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        # A record that declares itself secret (a test variable: {"value": ..., "is_secret":
        # true}) has its value masked too, whatever the value's name.
        declared = value.get("is_secret") in (True, "true", "on", "1", 1)
        return {
            str(key): MASK if is_secret_name(key) or (declared and key == "value")
            else jsonable(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(item) for item in items]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, memoryview | bytes):
        return f"<{len(value)} bytes>"
    if hasattr(value, "name") and hasattr(value, "url"):  # a FieldFile
        return value.name or None
    return redact(str(value))


# The password part of a URL's user info ("scheme://user:password@host").
URL_PASSWORD_RE = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def redact(text: str) -> str:
    """Return ``text`` with API keys, Authorization header values and URL passwords masked."""
    if not text:
        return text
    text = AUTHORIZATION_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = URL_PASSWORD_RE.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    return API_KEY_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)


class RedactSecretsFilter(logging.Filter):
    """Mask API keys and Authorization header values in every record; never drop one."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - let the handler report a broken record as usual
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
