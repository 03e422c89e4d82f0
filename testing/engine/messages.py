"""Messages written now and read later, in the reader's language (issue 17, item 4).

The engine writes its assertion and step messages while a run runs, and the importers
their problems while a file is parsed, often in a worker that has no reader: the language
is known only when the message is shown. So a message is kept as its English msgid and
named parameters (``as_data``), beside the finished English text, and ``render`` translates
it when it is shown. Files for machines (JUnit XML, Allure results) keep the English text.

A ``Message`` is the English text itself (a ``str``), so code that joins, logs or compares
messages reads them as before; it also remembers its msgid and parameters. Every msgid is
marked with ``gettext_noop`` where it is written, so ``makemessages`` finds it. Parameters
are values (names, expressions, JSON texts), never translated; a message may be a
parameter of another ("step 2: expected 200, got 404"), and is then translated too, and a
list parameter reads as its items joined by commas ("images: 3, fonts: 1").
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

MSGID, PARAMS = "msgid", "params"


class Message(str):
    """The English text of a message that remembers its msgid and named parameters."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any] | None = None) -> Message:
        params = dict(params or {})
        english = {name: ", ".join(map(str, value)) if isinstance(value, (list, tuple))
                   else value for name, value in params.items()}
        self = super().__new__(cls, _interpolate(msgid, english))
        self.msgid = msgid
        self.params = params
        return self

    @classmethod
    def from_data(cls, data: dict) -> Message:
        """Return the message ``as_data`` gave (its English text rebuilt)."""
        params = data.get(PARAMS) or {}
        return cls(data[MSGID], {name: cls.from_data(value) if _is_message_data(value)
                                 else value for name, value in params.items()})

    def __reduce__(self):
        # Pickled (a Celery result, a cached plan) as what it is, not as a plain str.
        return (Message, (self.msgid, self.params))

    def as_data(self) -> dict:
        """Return the msgid and parameters as JSON data, nested messages included."""
        return {MSGID: self.msgid, PARAMS: {name: _value_data(value)
                                            for name, value in self.params.items()}}


def message(msgid: str, **params: Any) -> Message:
    """Return the message ``msgid`` (marked with ``gettext_noop`` by the caller) with its
    parameters, given by name."""
    return Message(msgid, params)


def data_of(text: Any) -> dict | None:
    """Return the stored form of ``text`` when it is a ``Message``, else None."""
    return text.as_data() if isinstance(text, Message) else None


def of_exception(error: BaseException) -> str:
    """Return an exception's message, a ``Message`` when it was raised with one."""
    given = getattr(error, "message", None)
    if isinstance(given, str) and given:
        return given
    if len(error.args) == 1 and isinstance(error.args[0], Message):
        return error.args[0]
    return str(error)


def render(data: Any, fallback: str = "") -> str:
    """Return the stored message ``data`` in the active language.

    ``fallback`` (the stored English text) is returned for a row stored before messages had
    an id, or for data that does not read as a message; a translation that does not fit its
    parameters falls back to the English msgid rather than failing the page.
    """
    if not _is_message_data(data):
        return fallback
    params = data.get(PARAMS) or {}
    values = {name: _rendered(value) for name, value in params.items()}
    try:
        return _interpolate(gettext(data[MSGID]), values)
    except (KeyError, TypeError, ValueError):
        try:
            return _interpolate(data[MSGID], values)
        except (KeyError, TypeError, ValueError):
            return fallback


def _rendered(value: Any) -> Any:
    if _is_message_data(value):
        return render(value, "")
    if isinstance(value, list):
        return ", ".join(str(_rendered(item)) for item in value)
    return value


def _interpolate(text: str, params: dict[str, Any]) -> str:
    # A message without parameters is its msgid as written: a "%" in it is literal.
    return text % params if params else text


def _is_message_data(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get(MSGID), str)
            and isinstance(data.get(PARAMS, {}), dict))


def _value_data(value: Any) -> Any:
    if isinstance(value, Message):
        return value.as_data()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_value_data(item) for item in value]
    return str(value)
