"""Testers' code in a run: a project's keyword as a step, a global function in ``{{...}}``.

Both run only in the sandbox (``core.sandbox``), with JSON arguments. A value computed from
a secret (a secret variable, or a value extracted as secret) is passed only to a parameter
its code declares secret; the step fails naming the parameter otherwise, so a helper that
was never meant to see a password cannot print it into a result.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from core import sandbox
from core.sandbox.functions import UserFunction
from testing.engine.messages import message, of_exception


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
        raise UserCodeError(message(gettext_noop(
            "%(what)s would receive a secret value in %(names)s, which it does not declare "
            "secret; declare the parameter secret or pass a value that is not"),
            what=what, names=names))


def run(code: str, entry: str, *, kwargs: dict[str, Any], filename: str, what: str,
        args: list | None = None) -> sandbox.Outcome:
    """Call user code in the sandbox; raise ``UserCodeError`` when it cannot be called."""
    try:
        return sandbox.run(code, entry, args=args or [], kwargs=kwargs, filename=filename)
    except (sandbox.SandboxUnavailable, sandbox.SandboxError) as exc:
        raise UserCodeError(message(gettext_noop("%(what)s: %(error)s"), what=what,
                                    error=of_exception(exc))) from None


def failure(what: str, outcome: sandbox.Outcome) -> UserCodeError:
    """Return the step's error for an outcome that is not ok."""
    said = (message(gettext_noop("%(what)s %(breach)s"), what=what, breach=outcome.message)
            if outcome.breach else
            message(gettext_noop("%(what)s raised: %(error)s"), what=what,
                    error=outcome.message))
    return UserCodeError(said, assertion=outcome.exception == "AssertionError")


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
            raise UserCodeError(message(gettext_noop(
                "%(function)s() takes %(count)d arguments; got %(given)d"),
                function=name, count=len(order), given=len(args)))
        named = dict(zip(order, args))
        clash = sorted(set(named) & set(kwargs))
        if clash:
            raise UserCodeError(message(gettext_noop("%(function)s() got '%(name)s' twice"),
                                        function=name, name=clash[0]))
        unknown = sorted(set(kwargs) - set(order))
        if unknown and function.input_schema.get(
                "additionalProperties") is False:
            raise UserCodeError(message(gettext_noop(
                "%(function)s() has no parameter '%(name)s'"), function=name, name=unknown[0]))
        named.update(kwargs)
        flags = {**dict(zip(order, tainted)), **tainted_kwargs}
        refuse_secrets(f"{name}()", flags, function.secret_parameters)
        outcome = run(function.code, function.entry, kwargs=named, filename=function.filename,
                      what=f"{name}()")
        if not outcome.ok:
            raise failure(f"{name}()", outcome)
        return outcome.value
