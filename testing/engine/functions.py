"""The built-in helpers a template calls as ``{{fn(args)}}``.

Their errors are ``Message``s (testing.engine.messages), shown in the reader's language.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import time
import uuid as uuid_module
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

try:
    from django.utils.translation import gettext_noop

    from testing.engine.messages import message
except ImportError:
    # This module is also offered, stdlib only, to user code in the sandbox (as ``atrium``,
    # testing.services.usercode): there its errors are plain English text.
    def gettext_noop(text: str) -> str:
        return text

    def message(msgid: str, **params: Any) -> str:
        return msgid % params if params else msgid

MAX_RANDOM_LENGTH = 1024

CHARACTER_SETS = {
    "letters_digits": string.ascii_letters + string.digits,
    "letters": string.ascii_letters,
    "digits": string.digits,
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "hex": "0123456789abcdef",
}


class FunctionError(ValueError):
    """A built-in function was unknown or given arguments it cannot use."""


def _text(function: str, value: Any) -> str:
    if value is None:
        raise FunctionError(message(gettext_noop("%(function)s() takes text; got None"),
                                    function=function))
    return value if isinstance(value, str) else str(value)


def _integer(function: str, expected: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _refused(function, expected, value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _refused(function, expected, value)


def _refused(function: str, expected: str, value: Any) -> FunctionError:
    return FunctionError(message(gettext_noop("%(function)s() takes %(expected)s; got "
                                              "%(value)s"),
                                 function=function, expected=expected, value=repr(value)))


def _number(function: str, expected: str, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise FunctionError(f"{function}() takes {expected}; got {value!r}")


def timestamp() -> int:
    """Return the current Unix time in seconds."""
    return int(time.time())


def timestamp_ms() -> int:
    """Return the current Unix time in milliseconds."""
    return int(time.time() * 1000)


def uuid() -> str:
    """Return a random UUID (version 4) as text."""
    return str(uuid_module.uuid4())


def random_string(length: Any = 8, chars: Any = "letters_digits") -> str:
    """Return `length` random characters of `chars`: a set name (digits, hex...) or characters."""
    count = _integer("random_string", message(gettext_noop("an integer length")), length)
    if not 0 <= count <= MAX_RANDOM_LENGTH:
        raise FunctionError(message(gettext_noop(
            "random_string() takes a length from 0 to %(limit)d; got %(count)d"),
            limit=MAX_RANDOM_LENGTH, count=count))
    alphabet = _text("random_string", chars)
    alphabet = CHARACTER_SETS.get(alphabet, alphabet)
    if not alphabet:
        raise FunctionError(message(gettext_noop(
            "random_string() takes at least one character to choose from")))
    return "".join(secrets.choice(alphabet) for _ in range(count))


def random_int(low: Any = 0, high: Any = 1000000) -> int:
    """Return a random integer from `low` to `high`, both included."""
    expected = message(gettext_noop("integers low and high"))
    low = _integer("random_int", expected, low)
    high = _integer("random_int", expected, high)
    if low > high:
        raise FunctionError(message(gettext_noop(
            "random_int() takes low <= high; got %(low)d and %(high)d"), low=low, high=high))
    return low + secrets.randbelow(high - low + 1)


def base64_encode(text: Any) -> str:
    """Return the Base64 encoding of the UTF-8 bytes of `text`."""
    return base64.b64encode(_text("base64_encode", text).encode()).decode("ascii")


def base64_decode(text: Any) -> str:
    """Return the UTF-8 text encoded in Base64 `text`."""
    try:
        raw = base64.b64decode(_text("base64_decode", text), validate=True)
    except (binascii.Error, ValueError):
        raise FunctionError(message(gettext_noop(
            "base64_decode() takes Base64 text; got %(value)s"), value=repr(text))) from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise FunctionError(message(gettext_noop(
            "base64_decode() decoded bytes that are not UTF-8 text"))) from None


def md5(text: Any) -> str:
    """Return the hexadecimal MD5 digest of the UTF-8 bytes of `text`."""
    return hashlib.md5(_text("md5", text).encode()).hexdigest()


def sha1(text: Any) -> str:
    """Return the hexadecimal SHA-1 digest of the UTF-8 bytes of `text`."""
    return hashlib.sha1(_text("sha1", text).encode()).hexdigest()


def sha256(text: Any) -> str:
    """Return the hexadecimal SHA-256 digest of the UTF-8 bytes of `text`."""
    return hashlib.sha256(_text("sha256", text).encode()).hexdigest()


def hmac_sha256(key: Any, message: Any) -> str:
    """Return the hexadecimal HMAC-SHA256 of `message` signed with `key`."""
    key_bytes = _text("hmac_sha256", key).encode()
    message_bytes = _text("hmac_sha256", message).encode()
    return hmac.new(key_bytes, message_bytes, hashlib.sha256).hexdigest()


def now(fmt: Any = "%Y-%m-%dT%H:%M:%S") -> str:
    """Return the current UTC date and time in the strftime format `fmt`."""
    return datetime.now(timezone.utc).strftime(_text("now", fmt))


def date_add(
    days: Any = 0, hours: Any = 0, minutes: Any = 0, seconds: Any = 0, fmt: Any = "%Y-%m-%d"
) -> str:
    """Return the current UTC time plus the given offset in the strftime format `fmt`."""
    expected = message(gettext_noop("numbers for days, hours, minutes and seconds"))
    try:
        offset = timedelta(
            days=_number("date_add", expected, days),
            hours=_number("date_add", expected, hours),
            minutes=_number("date_add", expected, minutes),
            seconds=_number("date_add", expected, seconds),
        )
        moment = datetime.now(timezone.utc) + offset
    except OverflowError:
        raise FunctionError(message(gettext_noop(
            "date_add() offset goes beyond the supported dates"))) from None
    return moment.strftime(_text("date_add", fmt))


def upper(text: Any) -> str:
    """Return `text` in upper case."""
    return _text("upper", text).upper()


def lower(text: Any) -> str:
    """Return `text` in lower case."""
    return _text("lower", text).lower()


def length(value: Any) -> int:
    """Return the number of characters of text, or of items of a list or object."""
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    return len(_text("length", value))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    function.__name__: function
    for function in (
        timestamp,
        timestamp_ms,
        uuid,
        random_string,
        random_int,
        base64_encode,
        base64_decode,
        md5,
        sha1,
        sha256,
        hmac_sha256,
        now,
        date_add,
        upper,
        lower,
        length,
    )
}


def get(name: str) -> Callable[..., Any]:
    """Return the built-in function `name`; raise FunctionError listing them when unknown."""
    try:
        return FUNCTIONS[name]
    except KeyError:
        available = ", ".join(sorted(FUNCTIONS))
        raise FunctionError(message(gettext_noop(
            "unknown function '%(name)s'; available: %(available)s"),
            name=name, available=available)) from None


def call(name: str, args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call the built-in function `name`; raise FunctionError naming it when it cannot."""
    function = get(name)
    try:
        return function(*args, **kwargs)
    except FunctionError:
        raise
    except (TypeError, ValueError) as exc:
        # Python's own argument errors already read "md5() takes 1 positional argument ...".
        said = str(exc)
        if not said.startswith(f"{name}("):
            said = f"{name}(): {said}"
        raise FunctionError(said) from exc
