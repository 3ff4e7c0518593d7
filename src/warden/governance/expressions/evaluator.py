"""Evaluate an expression tree against an :class:`ExpressionContext`, and check one statically."""

from __future__ import annotations

from typing import Any

from .context import ExpressionContext
from .errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    FunctionNotAllowedError,
    UnknownFunctionError,
)
from .nodes import Call, Index, Literal, Node, Property, walk
from .parser import parse_value
from .registry import FunctionScope, FunctionSpec, registry
from .values import get_property, is_number, type_name

__all__ = ["check", "evaluate", "evaluate_value", "resolve_function"]


def resolve_function(call: Call, scope: FunctionScope) -> FunctionSpec:
    """Find the spec of ``call`` and check it is allowed in ``scope`` with this many arguments.

    Raises :class:`UnknownFunctionError`, :class:`FunctionNotAllowedError` or
    :class:`ExpressionSyntaxError` (wrong number of arguments).
    """
    if call.namespace is not None:
        full = f"{call.namespace}.{call.name}"
        if scope is FunctionScope.POLICY:
            raise FunctionNotAllowedError(full, scope.description, "user-defined functions are not supported")
        raise UnknownFunctionError(full)
    spec = registry.get(call.name)
    if spec is None:
        raise UnknownFunctionError(call.name)
    if scope not in spec.scopes:
        raise FunctionNotAllowedError(call.name, scope.description)
    count = len(call.args)
    if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
        raise ExpressionSyntaxError(f"The template function '{spec.name}' expects {spec.arity_text()}; got {count}")
    if scope is FunctionScope.POLICY and spec.name == "utcNow" and count:
        raise FunctionNotAllowedError("utcNow", scope.description, "utcNow() takes no format argument in policy")
    return spec


def check(node: Node, scope: FunctionScope = FunctionScope.POLICY) -> list[Call]:
    """Statically check every call in ``node`` against ``scope``; return the calls (for further checks).

    Raises the errors of :func:`resolve_function`.
    """
    calls = [n for n in walk(node) if isinstance(n, Call)]
    for call in calls:
        resolve_function(call, scope)
    return calls


def evaluate(node: Node, ctx: ExpressionContext) -> Any:
    """Evaluate ``node``; returns a JSON value. Raises :class:`ExpressionError` subclasses."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call):
        spec = resolve_function(node, ctx.scope)
        args = [_thunk(arg, ctx) for arg in node.args] if spec.lazy else [evaluate(arg, ctx) for arg in node.args]
        try:
            return spec.impl(ctx, args)
        except ExpressionError:
            raise
        except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
            # a function surprised by its input fails the expression, never the caller
            raise ExpressionEvaluationError(f"The template function '{spec.name}' failed: {exc}") from exc
    if isinstance(node, Property):
        return _member(evaluate(node.target, ctx), node.name)
    if isinstance(node, Index):
        return _index(evaluate(node.target, ctx), evaluate(node.index, ctx))
    raise ExpressionEvaluationError(f"Unknown expression node {node!r}")


def evaluate_value(value: Any, ctx: ExpressionContext) -> Any:
    """Evaluate a JSON value: expression strings anywhere inside it are evaluated, the rest kept."""
    if isinstance(value, str):
        node = parse_value(value)
        return node.value if isinstance(node, Literal) else evaluate(node, ctx)
    if isinstance(value, list):
        return [evaluate_value(item, ctx) for item in value]
    if isinstance(value, dict):
        return {key: evaluate_value(item, ctx) for key, item in value.items()}
    return value


def _thunk(node: Node, ctx: ExpressionContext):
    return lambda: evaluate(node, ctx)


def _member(target: Any, name: str) -> Any:
    if isinstance(target, dict):
        found, value = get_property(target, name)
        if found:
            return value
        available = ", ".join(f"'{k}'" for k in target) or "none"
        raise ExpressionEvaluationError(
            f"The language expression property '{name}' doesn't exist, available properties are {available}"
        )
    raise ExpressionEvaluationError(
        f"The language expression property '{name}' can't be evaluated on a value of type {type_name(target)}"
    )


def _index(target: Any, index: Any) -> Any:
    if isinstance(target, list):
        if not is_number(index) or int(index) != index:
            raise ExpressionEvaluationError(f"An array index must be an Integer; got {type_name(index)}")
        position = int(index)
        if not 0 <= position < len(target):
            raise ExpressionEvaluationError(
                f"The language expression array index '{position}' is out of bounds (length {len(target)})"
            )
        return target[position]
    if isinstance(target, dict):
        if not isinstance(index, str):
            raise ExpressionEvaluationError(f"An object can only be indexed by a String; got {type_name(index)}")
        return _member(target, index)
    raise ExpressionEvaluationError(f"A value of type {type_name(target)} can't be indexed")
