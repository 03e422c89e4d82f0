"""Where a tenant's user functions are found, for the layers that may not import their owner.

The testing app owns global functions (seed 001 section 3.17); the MCP gateway calls them as
``script`` tools, and the feature apps do not import each other. The owner registers a
source here when it starts (``register_source``); a caller asks ``find``/``listing`` for the
plain data of a function and runs it with ``core.sandbox.run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class UserFunction:
    """A function of a tenant, as a caller needs it: code, entry, and its parameters."""

    name: str                      # how callers name it: "ClassName.method"
    code: str
    entry: str                     # what the sandbox calls ("ClassName.method")
    filename: str                  # how tracebacks name the code: "<function X.y>"
    description: str = ""
    input_schema: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    secret_parameters: frozenset[str] = frozenset()
    parameter_order: tuple[str, ...] = ()
    returns: dict = field(default_factory=dict)   # the return value's docs ({"type", ...})


class Source(Protocol):
    def find(self, tenant_id: Any, name: str) -> UserFunction | None: ...

    def listing(self, tenant_id: Any) -> list[UserFunction]: ...


_sources: dict[str, Source] = {}


def register_source(kind: str, source: Source) -> None:
    """Make ``source`` answer for functions of ``kind`` (e.g. "global")."""
    _sources[kind] = source


def _source(kind: str) -> Source:
    try:
        return _sources[kind]
    except KeyError:
        raise LookupError(f"no source of {kind!r} functions is registered") from None


def find(tenant_id: Any, name: str, *, kind: str = "global") -> UserFunction | None:
    """Return the tenant's function ``name``, or ``None`` when it has none (or it is deleted)."""
    return _source(kind).find(tenant_id, name)


def listing(tenant_id: Any, *, kind: str = "global") -> list[UserFunction]:
    """Return every live function of the tenant."""
    return _source(kind).listing(tenant_id)

