"""JSON from outside the platform, parsed with a cap on nesting depth.

Python's parser recurses once per level: a 2 KB body of nested arrays reaches the
interpreter's recursion limit in the parser or in whatever walks the result afterwards
(validation, copying, serialising), and the request fails with a ``RecursionError`` (a 500).
``loads`` measures the depth before parsing, at C speed: the strings are cut out with one
regular expression, every byte but the brackets is dropped, and the running depth is summed
by ``itertools.accumulate``. A document deeper than the cap is refused with ``TooDeep``
before the parser sees it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

# A JSON string: quotes around anything but a quote or backslash, or an escape.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeep(ValueError):
    """The document nests arrays and objects deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(f"JSON nested deeper than {max_depth} levels.")


def depth(data: bytes) -> int:
    """Return how deeply ``data`` nests arrays and objects (0 for a scalar)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def loads(data: bytes | str, *, max_depth: int, **options: Any) -> Any:
    """Parse ``data``; raise ``TooDeep`` beyond ``max_depth`` levels, ``ValueError`` if
    malformed (``UnicodeDecodeError`` included). ``options`` go to ``json.loads``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if depth(raw) > max_depth:
        raise TooDeep(max_depth)
    return json.loads(data, **options)
