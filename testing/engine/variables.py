"""The variable pool of a run, the origin of every value, and ``{{...}}`` rendering."""

from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from django.utils.translation import gettext_noop

from core import redaction
from testing.engine import functions
from testing.engine.messages import Message, data_of, message, of_exception
from testing.engine.usercode import UserCodeError

PRECEDENCE = ("dataset", "extracted", "plan", "scenario", "environment", "project")
# Where a value came from, read later in the reader's language: an origin is a ``Message``
# (testing.engine.messages), stored as its English text with ``origin_i18n`` beside it.
LABELS = {
    "dataset": message(gettext_noop("dataset row")),
    "extracted": message(gettext_noop("extracted in this run")),
    "plan": message(gettext_noop("plan overrides")),
    "scenario": message(gettext_noop("scenario variables")),
    "environment": message(gettext_noop("environment")),
    "project": message(gettext_noop("project globals")),
}
MASK = "••••••"
MAX_DEPTH = 10

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FUNCTION_ORIGIN = message(gettext_noop("function"))


class UndefinedVariable(ValueError):
    """A reference names a variable that no layer defines."""

    def __init__(self, name: str, searched: Iterable[str]) -> None:
        self.name = name
        self.searched = tuple(searched)
        super().__init__(message(gettext_noop("undefined variable '%(name)s' (searched: "
                                              "%(searched)s)"),
                                 name=name, searched=list(self.searched)))


class TemplateError(ValueError):
    """A template is malformed, refers to itself, nests too deeply or calls a function wrongly."""


@dataclass
class Binding:
    """The value a name resolves to, the layer holding it and where that value came from."""

    name: str
    value: Any
    layer: str
    origin: str
    secret: bool


def _check_layer(name: str) -> None:
    if name not in PRECEDENCE:
        raise ValueError(f"unknown variable layer '{name}'; layers: {', '.join(PRECEDENCE)}")


class VariablePool:
    """The variables of one run, layered by precedence; only the extracted layer changes."""

    def __init__(
        self,
        layers: dict[str, dict[str, Any]],
        *,
        secrets: Iterable[str] = (),
        labels: dict[str, str] | None = None,
        functions: Any = None,
    ) -> None:
        for name in [*layers, *(labels or {})]:
            _check_layer(name)
        self._layers = {name: copy.deepcopy(dict(layers.get(name) or {})) for name in PRECEDENCE}
        self._labels = {**LABELS, **(labels or {})}
        self._secrets = frozenset(secrets)
        # Extracted values carry their own origin ("step 2 'Log in': $.token") and secret flag.
        self._extracted_origins: dict[str, str] = {}
        self._extracted_secrets: set[str] = set()
        # The tenant's global functions ({{Class.method(args)}}): a usercode.FunctionTable.
        self.functions = functions

    def lookup(self, name: str) -> Binding:
        """Return the binding of `name` in the highest layer defining it."""
        for layer in PRECEDENCE:
            values = self._layers[layer]
            if name in values:
                origin = self._labels[layer]
                if layer == "extracted":
                    origin = self._extracted_origins.get(name, origin)
                return Binding(name, values[name], layer, origin, self.is_secret(name))
        raise UndefinedVariable(name, (self._labels[layer] for layer in PRECEDENCE))

    def layer(self, name: str) -> dict[str, Any]:
        """Return a copy of the values of layer `name`."""
        _check_layer(name)
        return copy.deepcopy(self._layers[name])

    def set_extracted(self, name: str, value: Any, origin: str, *, secret: bool = False) -> None:
        """Store a value the run extracted, with the text telling where it came from."""
        if not NAME_RE.fullmatch(name):
            raise ValueError(
                f"invalid variable name '{name}': use letters, digits and underscores, "
                "not starting with a digit"
            )
        self._layers["extracted"][name] = value
        self._extracted_origins[name] = origin
        if secret:
            self._extracted_secrets.add(name)
        else:
            self._extracted_secrets.discard(name)

    def set_value(self, name: str, value: Any, origin: str) -> None:
        """Store a value set by a step (the set_variable keyword); it is a product of the run."""
        self.set_extracted(name, value, origin)

    def is_secret(self, name: str) -> bool:
        """Return whether values of `name` must be masked."""
        return name in self._secrets or name in self._extracted_secrets

    def secret_values(self) -> list[Any]:
        """Return the values of secret names in every layer, shadowed ones included."""
        return [
            values[name]
            for values in self._layers.values()
            for name in values
            if self.is_secret(name)
        ]

    def snapshot(self) -> dict[str, Any]:
        """Return the state a run changes (the extracted layer) as JSON-serialisable data.

        Values JSON cannot hold (a Decimal or datetime read by a SQL step) become text. The
        snapshot holds secret extracted values in clear: whoever stores it must seal it.
        """
        extracted = {
            name: {
                "value": value,
                **origin_data(self._extracted_origins.get(name, self._labels["extracted"])),
                "secret": name in self._extracted_secrets,
            }
            for name, value in self._layers["extracted"].items()
        }
        return json.loads(json.dumps({"extracted": extracted}, default=str))

    def restore(self, snapshot: dict[str, Any] | None) -> None:
        """Replace the extracted layer with the one a snapshot holds (empty for a new run)."""
        try:
            entries = [
                (name, entry["value"], stored_origin(entry), bool(entry.get("secret")))
                for name, entry in ((snapshot or {}).get("extracted") or {}).items()
            ]
        except (KeyError, TypeError, AttributeError):
            raise ValueError(
                "a variable snapshot is {'extracted': {name: {'value', 'origin', 'secret'}}}"
            ) from None
        self._layers["extracted"] = {}
        self._extracted_origins = {}
        self._extracted_secrets = set()
        for name, value, origin, secret in entries:
            self.set_extracted(name, copy.deepcopy(value), origin, secret=secret)

    def with_layer(self, name: str, values: dict[str, Any]) -> VariablePool:
        """Return a copy sharing nothing mutable, with layer `name` holding `values`."""
        _check_layer(name)
        functions, self.functions = self.functions, None
        try:
            pool = copy.deepcopy(self)
        finally:
            self.functions = functions
        pool.functions = functions
        pool._layers[name] = copy.deepcopy(dict(values))
        if name == "extracted":
            pool._extracted_origins = {}
            pool._extracted_secrets = set()
        return pool


def render(value: Any, pool: VariablePool, used: dict[str, Any] | None = None) -> Any:
    """Return `value` with every ``{{...}}`` reference in its strings replaced.

    Dicts and lists are rendered recursively (dict keys are kept as they are). A string that is
    exactly one reference keeps the type of the value. `used`, when given, receives for each
    variable and function call read: ``{"value": ..., "origin": ...}``, masked when secret.
    """
    return _Renderer(pool, used).render(value, ())[0]


def render_tainted(value: Any, pool: VariablePool, used: dict[str, Any] | None = None
                   ) -> tuple[Any, bool]:
    """Return what ``render`` returns, and whether it was computed from a secret."""
    return _Renderer(pool, used).render(value, ())


def masked(value: Any, pool: VariablePool, extra: Iterable[str] = ()) -> Any:
    """Return `value` with the secret values of the pool (and `extra` strings) replaced by MASK.

    Strings inside dicts and lists are masked too; other values are returned unchanged.
    """
    return mask(value, secrets_to_hide(pool, extra))


def mask(value: Any, hidden: list[str]) -> Any:
    """Return `value` with each string of `hidden` (``secrets_to_hide``) replaced by MASK."""
    return redaction.mask_values(value, hidden, MASK)


def secrets_to_hide(pool: VariablePool, extra: Iterable[str] = ()) -> list[str]:
    """Return the texts `masked` hides: the pool's secret values (and `extra`), longest
    first, those too short to mask left out (``core.redaction.values_to_hide``)."""
    return redaction.values_to_hide([*pool.secret_values(), *extra])


def _as_text(value: Any) -> str:
    """Return how a value reads inside a longer string: JSON for objects, lists and literals."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _parse(text: str) -> list[str | tuple[str, int, int]]:
    """Split `text` into literal strings and references ``(expression, start, end)``."""
    parts: list[str | tuple[str, int, int]] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        # "{{{id}}}" is a literal brace around a reference: the reference opens at the last "{{".
        while text.startswith("{", start + 2):
            start += 1
        end = text.find("}}", start + 2)
        if end == -1:
            raise TemplateError(message(gettext_noop("unterminated '{{' in %(text)s"),
                                        text=repr(text)))
        if start > position:
            parts.append(text[position:start])
        parts.append((text[start + 2 : end].strip(), start, end + 2))
        position = end + 2
    if position < len(text):
        parts.append(text[position:])
    return parts


class _Renderer:
    """One rendering: each variable resolves once, so one request sees one value of it."""

    def __init__(self, pool: VariablePool, used: dict[str, Any] | None) -> None:
        self.pool = pool
        self.used = used
        self.resolved: dict[str, tuple[Any, bool]] = {}

    def render(self, value: Any, stack: tuple[str, ...]) -> tuple[Any, bool]:
        """Return the rendered value and whether it was computed from a secret."""
        if isinstance(value, str):
            return self.render_text(value, stack)
        if isinstance(value, dict):
            tainted = False
            result = {}
            for key, item in value.items():
                result[key], item_tainted = self.render(item, stack)
                tainted = tainted or item_tainted
            return result, tainted
        if isinstance(value, (list, tuple)):
            rendered = [self.render(item, stack) for item in value]
            items = type(value)(item for item, _ in rendered)
            return items, any(tainted for _, tainted in rendered)
        return value, False

    def render_text(self, text: str, stack: tuple[str, ...]) -> tuple[Any, bool]:
        if "{{" not in text:
            return text, False
        parts = _parse(text)
        if len(parts) == 1 and isinstance(parts[0], tuple):
            expression, start, end = parts[0]
            return self.evaluate(expression, text[start:end], stack)
        chunks = []
        tainted = False
        for part in parts:
            if isinstance(part, str):
                chunks.append(part)
                continue
            expression, start, end = part
            value, part_tainted = self.evaluate(expression, text[start:end], stack)
            chunks.append(_as_text(value))
            tainted = tainted or part_tainted
        return "".join(chunks), tainted

    def evaluate(self, expression: str, source: str, stack: tuple[str, ...]) -> tuple[Any, bool]:
        if NAME_RE.fullmatch(expression):
            return self.variable(expression, stack)
        try:
            tree = ast.parse(expression, mode="eval").body
        except (SyntaxError, ValueError, RecursionError):  # ValueError: a NUL character
            tree = None
        if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
            return self.call(tree, source, stack)
        if (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Attribute)
                and isinstance(tree.func.value, ast.Name)):
            return self.call_user(tree, f"{tree.func.value.id}.{tree.func.attr}", source, stack)
        raise TemplateError(message(gettext_noop(
            "malformed reference %(reference)s: expected a variable name or a call of a "
            "function, like {{name}}, {{uuid()}} or {{ClassName.method(x)}}"),
            reference=repr(source)))

    def variable(self, name: str, stack: tuple[str, ...]) -> tuple[Any, bool]:
        if name in stack:
            cycle = " → ".join((*stack[stack.index(name) :], name))
            raise TemplateError(message(gettext_noop("variable '%(name)s' refers to itself "
                                                     "(%(cycle)s)"), name=name, cycle=cycle))
        if len(stack) >= MAX_DEPTH:
            chain = " → ".join((*stack, name))
            raise TemplateError(message(gettext_noop("variables nest more than %(depth)s levels "
                                                     "deep (%(chain)s)"),
                                        depth=MAX_DEPTH, chain=chain))
        if name in self.resolved:
            value, tainted = self.resolved[name]
            return copy.deepcopy(value), tainted
        binding = self.pool.lookup(name)
        if binding.layer == "extracted":
            # Values produced by the run (a response, a query) are data, never templates: a
            # server answering "{{db_password}}" must not get the password sent back.
            value, tainted = copy.deepcopy(binding.value), False
        else:
            value, tainted = self.render(binding.value, (*stack, name))
        tainted = tainted or binding.secret
        self.resolved[name] = (value, tainted)
        self.record(name, value, binding.origin, tainted)
        return copy.deepcopy(value), tainted

    def call(self, node: ast.Call, source: str, stack: tuple[str, ...]) -> tuple[Any, bool]:
        for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
            self.check_argument(argument, source)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise TemplateError(message(gettext_noop(
                    "only literals and variable names may be passed to a function: "
                    "%(argument)s in %(reference)s"),
                    argument=f"'**{ast.unparse(keyword.value)}'", reference=repr(source)))
        name = node.func.id
        try:
            functions.get(name)
        except functions.FunctionError as exc:
            raise TemplateError(in_reference(exc, source)) from exc
        tainted = False
        args = []
        for argument in node.args:
            value, argument_tainted = self.argument(argument, stack)
            args.append(value)
            tainted = tainted or argument_tainted
        kwargs = {}
        for keyword in node.keywords:
            kwargs[keyword.arg], argument_tainted = self.argument(keyword.value, stack)
            tainted = tainted or argument_tainted
        try:
            result = functions.call(name, args, kwargs)
        except functions.FunctionError as exc:
            raise TemplateError(in_reference(exc, source)) from exc
        self.record(ast.unparse(node), result, FUNCTION_ORIGIN, tainted)
        return result, tainted

    def call_user(self, node: ast.Call, name: str, source: str, stack: tuple[str, ...]
                  ) -> tuple[Any, bool]:
        """Call a global function of the tenant in the sandbox (engine.usercode)."""
        table = self.pool.functions
        if table is None or name not in table:
            known = ", ".join(table.names()) if table is not None and table.names() else "none"
            raise TemplateError(message(gettext_noop("unknown global function '%(name)s' in "
                                                     "%(reference)s (this tenant's: %(known)s)"),
                                        name=name, reference=repr(source), known=known))
        for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
            self.check_argument(argument, source)
        if any(keyword.arg is None for keyword in node.keywords):
            raise TemplateError(message(gettext_noop("'**' cannot pass arguments in "
                                                     "%(reference)s"), reference=repr(source)))
        args, tainted = [], []
        for argument in node.args:
            value, argument_tainted = self.argument(argument, stack)
            args.append(value)
            tainted.append(argument_tainted)
        kwargs, tainted_kwargs = {}, {}
        for keyword in node.keywords:
            kwargs[keyword.arg], tainted_kwargs[keyword.arg] = self.argument(keyword.value,
                                                                              stack)
        try:
            result = table.call(name, args, kwargs, tainted, tainted_kwargs)
        except UserCodeError as exc:
            raise TemplateError(in_reference(exc, source)) from exc
        is_tainted = any(tainted) or any(tainted_kwargs.values())
        self.record(ast.unparse(node), result, FUNCTION_ORIGIN, is_tainted)
        return result, is_tainted

    def check_argument(self, node: ast.expr, source: str) -> None:
        literal = (str, int, float, bool, type(None))
        if isinstance(node, ast.Constant) and isinstance(node.value, literal):
            return
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float))
            and not isinstance(node.operand.value, bool)
        ):
            return
        if isinstance(node, ast.Name) and NAME_RE.fullmatch(node.id):
            return
        raise TemplateError(message(gettext_noop(
            "only literals and variable names may be passed to a function: "
            "%(argument)s in %(reference)s"),
            argument=repr(ast.unparse(node)), reference=repr(source)))

    def argument(self, node: ast.expr, stack: tuple[str, ...]) -> tuple[Any, bool]:
        if isinstance(node, ast.Name):
            return self.variable(node.id, stack)
        if isinstance(node, ast.UnaryOp):
            return -node.operand.value, False
        return node.value, False

    def record(self, key: str, value: Any, origin: str, tainted: bool) -> None:
        if self.used is not None:
            self.used[key] = {"value": MASK if tainted else value, **origin_data(origin)}


def origin_data(origin: str) -> dict[str, Any]:
    """Return how an origin is stored: ``origin``, its English text, and ``origin_i18n``,
    its msgid and parameters, when it is a ``Message`` (read with ``stored_origin``)."""
    data = data_of(origin)
    return {"origin": str(origin)} if data is None else {"origin": str(origin),
                                                         "origin_i18n": data}


def stored_origin(entry: dict[str, Any]) -> str:
    """Return the origin ``origin_data`` stored in ``entry``, a ``Message`` again when it
    was one (a snapshot taken before origins had ids gives its English text)."""
    data = entry.get("origin_i18n")
    if isinstance(data, dict) and isinstance(data.get("msgid"), str):
        return Message.from_data(data)
    return entry["origin"]


def in_reference(error: BaseException, source: str) -> Message:
    """Return ``error`` (of a function called in the reference ``source``), naming it."""
    return message(gettext_noop("%(error)s (in %(reference)s)"), error=of_exception(error),
                   reference=repr(source))
