"""Testers' code in a run: a project's keyword as a step, a global function in ``{{...}}``.

Both run only in the sandbox (``core.sandbox``), with JSON arguments. A value computed from
a secret (a secret variable, or a value extracted as secret) is passed only to a parameter
its code declares secret; the step fails naming the parameter otherwise, so a helper that
was never meant to see a password cannot print it into a result.
"""

from __future__ import annotations

from typing import Any

from core import sandbox
from core.sandbox.functions import UserFunction


class UserCodeError(ValueError):
    """User code could not be called, or it raised: the message is what the step shows."""

    def __init__(self, message: str, *, assertion: bool = False) -> None:
        super().__init__(message)
        self.assertion = assertion  # it raised AssertionError: the step failed a check


def refuse_secrets(what: str, tainted: dict[str, bool], declared: set[str] | frozenset[str]
                   ) -> None:
    """Raise when a secret value would reach a parameter not declared secret."""
    leaking = sorted(name for name, is_tainted in tainted.items()
                     if is_tainted and name not in declared)
    if leaking:
        names = ", ".join(f"'{name}'" for name in leaking)
        raise UserCodeError(
            f"{what} would receive a secret value in {names}, which it does not declare "
            "secret; declare the parameter secret or pass a value that is not")


def run(code: str, entry: str, *, kwargs: dict[str, Any], filename: str, what: str,
        args: list | None = None) -> sandbox.Outcome:
    """Call user code in the sandbox; raise ``UserCodeError`` when it cannot be called."""
    try:
        return sandbox.run(code, entry, args=args or [], kwargs=kwargs, filename=filename)
    except (sandbox.SandboxUnavailable, sandbox.SandboxError) as exc:
        raise UserCodeError(f"{what}: {exc}") from None


def failure(what: str, outcome: sandbox.Outcome) -> UserCodeError:
    """Return the step's error for an outcome that is not ok."""
    return UserCodeError(f"{what} {outcome.message}" if outcome.breach
                         else f"{what} raised: {outcome.message}",
                         assertion=outcome.exception == "AssertionError")


class FunctionTable:
    """The tenant's global functions, as ``{{Class.method(args)}}`` calls them."""

    def __init__(self, functions: dict[str, UserFunction]) -> None:
        self.functions = functions

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def names(self) -> list[str]:
        return sorted(self.functions)

    def call(self, name: str, args: list, kwargs: dict, tainted: list[bool],
             tainted_kwargs: dict[str, bool]) -> Any:
        function = self.functions[name]
        order = function.parameter_order
        if len(args) > len(order):
            raise UserCodeError(f"{name}() takes {len(order)} arguments; got {len(args)}")
        named = dict(zip(order, args))
        clash = sorted(set(named) & set(kwargs))
        if clash:
            raise UserCodeError(f"{name}() got '{clash[0]}' twice")
        unknown = sorted(set(kwargs) - set(order))
        if unknown and function.input_schema.get(
                "additionalProperties") is False:
            raise UserCodeError(f"{name}() has no parameter '{unknown[0]}'")
        named.update(kwargs)
        flags = {**dict(zip(order, tainted)), **tainted_kwargs}
        refuse_secrets(f"{name}()", flags, function.secret_parameters)
        outcome = run(function.code, function.entry, kwargs=named, filename=function.filename,
                      what=f"{name}()")
        if not outcome.ok:
            raise failure(f"{name}()", outcome)
        return outcome.value
