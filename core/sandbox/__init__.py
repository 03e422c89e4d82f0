"""The one runner of user code: custom keywords, global functions and MCP script tools.

``run(code, entry, args=..., kwargs=...)`` calls the function ``entry`` ("name" or
"Class.method") of ``code`` in a sandbox and returns an ``Outcome``: the JSON value it
returned, or a readable error (the user's own traceback lines only, or the limit it broke:
"exceeded 2 s of CPU time"). It never runs user code in this process.

The barrier (``barrier.py``), the program inside it (``child.py``) and the warm pool
(``pool.py``) are described in their modules. Helper modules offered to user code (the
engine's built-in functions as ``atrium``) are registered by the apps that own them with
``register_module`` before the first call.

Limits come from the ``SANDBOX_*`` settings; ``run`` may lower them per call, never raise
them. When the barrier cannot be set up, ``run`` raises ``SandboxUnavailable`` naming what
is missing, and ``state()`` (``/readyz``) says so.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from core.sandbox import barrier as _barrier
from core.sandbox.pool import Pool, ZygoteGone, config_frame, forget_starter, register_exit

MB = 1024 * 1024


class SandboxError(ValueError):
    """A call that cannot be made: arguments that are not JSON, a malformed entry."""


class SandboxUnavailable(RuntimeError):
    """The operating-system barrier cannot be set up here; the message names what is missing."""


@dataclass(frozen=True)
class Limits:
    """What one call may use. A breach kills the call and becomes its readable error."""

    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_bytes: int = 256 * MB
    processes: int = 32
    file_bytes: int = 8 * MB
    open_files: int = 64
    output_bytes: int = MB

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(cpu_seconds=float(settings.SANDBOX_CPU_SECONDS),
                   wall_seconds=float(settings.SANDBOX_WALL_SECONDS),
                   memory_bytes=int(settings.SANDBOX_MEMORY_MB) * MB,
                   processes=int(settings.SANDBOX_PROCESSES),
                   file_bytes=int(settings.SANDBOX_FILE_MB) * MB,
                   open_files=int(settings.SANDBOX_OPEN_FILES),
                   output_bytes=int(settings.SANDBOX_OUTPUT_KB) * 1024)

    def lowered(self, **changes: Any) -> Limits:
        """Return these limits with some lowered (a value above the ceiling is capped)."""
        values = {name: min(value, getattr(self, name)) for name, value in changes.items()
                  if value is not None}
        return replace(self, **values)

    def as_data(self) -> dict:
        # The kernel counts CPU time in whole seconds (RLIMIT_CPU): 0.5 becomes 1.
        return {"cpu_seconds": max(1, math.ceil(self.cpu_seconds)), "wall_seconds": self.wall_seconds,
                "memory_bytes": self.memory_bytes, "processes": self.processes,
                "file_bytes": self.file_bytes, "open_files": self.open_files,
                "output_bytes": self.output_bytes}


@dataclass
class Outcome:
    """What a call gave: ``value`` when ``ok``, else ``error`` (and the user's traceback)."""

    ok: bool
    value: Any = None
    error: str = ""
    traceback: str = ""
    exception: str = ""
    output: str = ""               # what the code printed, up to the output limit
    breach: bool = False           # a limit was broken (the error says which)
    duration_ms: float = 0.0       # as the platform saw it
    cpu_ms: float = 0.0
    mode: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The error, then the user's traceback lines, as a step or a tool shows it."""
        if self.ok:
            return ""
        return f"{self.error}\n{self.traceback.rstrip()}" if self.traceback else self.error


_modules: dict[str, str] = {}
_lock = threading.Lock()
_state: dict[str, Any] = {"barrier": None, "pool": None, "checked": 0.0}
RECHECK_SECONDS = 60.0  # an unavailable barrier is checked again after this long


def register_module(name: str, source: str) -> None:
    """Offer a module (stdlib-only source) to user code as ``import name``."""
    with _lock:
        if _modules.get(name) != source:
            _modules[name] = source
            _discard_pool()


def _discard_pool() -> None:
    pool = _state["pool"]
    _state["pool"] = None
    if pool is not None:
        pool.close()


def current_barrier() -> _barrier.Barrier:
    """Return how sandboxes start here, detected once per process (again after a failure)."""
    with _lock:
        found = _state["barrier"]
        if found is None or (found.mode == _barrier.UNAVAILABLE
                             and time.monotonic() - _state["checked"] > RECHECK_SECONDS):
            found = _barrier.detect(
                bwrap=settings.SANDBOX_BWRAP, python=settings.SANDBOX_PYTHON or
                _barrier.interpreter(), tmp_bytes=int(settings.SANDBOX_TMP_MB) * MB,
                allow_unprotected=settings.SANDBOX_ALLOW_UNPROTECTED)
            _state["barrier"] = found
            _state["checked"] = time.monotonic()
        return found


def _pool() -> Pool:
    found = current_barrier()
    if found.mode == _barrier.UNAVAILABLE:
        raise SandboxUnavailable(f"User code cannot run: {found.reason}.")
    with _lock:
        pool = _state["pool"]
        if pool is None:
            pool = Pool(found, size=int(settings.SANDBOX_POOL_SIZE),
                        config=config_frame(found, dict(_modules),
                                            _barrier.seccomp_program()))
            _state["pool"] = pool
            register_exit(close)
        return pool


def run(code: str, entry: str, *, args: list | tuple = (), kwargs: dict | None = None,
        filename: str = "<code>", limits: Limits | None = None) -> Outcome:
    """Call ``entry`` of ``code`` in a sandbox with JSON arguments; return the outcome."""
    ceiling = Limits.from_settings()
    limits = ceiling if limits is None else ceiling.lowered(**limits.as_data())
    if not entry or any(not part.isidentifier() for part in entry.split(".")) \
            or entry.count(".") > 1:
        raise SandboxError(f"{entry!r} is not a function name or Class.method")
    request = {"code": code, "entry": entry, "filename": filename,
               "args": list(args), "kwargs": dict(kwargs or {}), "limits": limits.as_data()}
    try:
        json.dumps(request, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SandboxError(f"the arguments are not JSON: {exc}") from None
    pool = _pool()
    started = time.monotonic()
    try:
        answer = pool.call(request)
    except ZygoteGone as exc:
        return Outcome(ok=False, breach=True, error=str(exc), mode=pool.barrier.mode,
                       duration_ms=round((time.monotonic() - started) * 1000, 3))
    return Outcome(
        ok=bool(answer.get("ok")), value=answer.get("value"),
        error=answer.get("error", ""), traceback=answer.get("traceback", ""),
        exception=answer.get("exception", ""), output=answer.get("output", ""),
        breach=bool(answer.get("breach")), cpu_ms=answer.get("cpu_ms", 0.0),
        duration_ms=round((time.monotonic() - started) * 1000, 3), mode=pool.barrier.mode)


def warm() -> None:
    """Start the pool's sandboxes now (a worker calls it when it starts); never raises."""
    try:
        _pool().warm()
    except (SandboxUnavailable, ZygoteGone, OSError):
        pass


def state() -> dict[str, Any]:
    """Return the sandbox's state for ``/readyz`` and the admin: mode, reason, pool."""
    found = current_barrier()
    data: dict[str, Any] = {"mode": found.mode, "ready": found.mode != _barrier.UNAVAILABLE,
                            "protected": found.isolated}
    if found.reason:
        data["reason"] = found.reason
    pool = _state["pool"]
    if pool is not None:
        data["pool"] = pool.state()
    return data


def close() -> None:
    """Stop this process's sandboxes."""
    with _lock:
        _discard_pool()


def _after_fork() -> None:
    forget_starter()
    pool = _state["pool"]
    _state["pool"] = None
    if pool is not None:
        pool.forget()
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
