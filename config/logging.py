"""Logging helpers: the filter that keeps secrets out of log output.

``RedactSecretsFilter`` sits on every handler in ``LOGGING`` (config/settings.py). It masks
API keys (``atr_<prefix>_<secret>`` keeps its prefix, which is not secret and tells keys
apart) and the value of any ``Authorization`` header, in the message, its arguments, the
formatted traceback and the stack information.
"""

from __future__ import annotations

import logging
import re

MASK = "[REDACTED]"

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
      | [^\r\n,;}\]]+              # a bare value, to the end of the field
    )
    """
)


def redact(text: str) -> str:
    """Return ``text`` with API keys and Authorization header values masked."""
    if not text:
        return text
    text = AUTHORIZATION_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)
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
