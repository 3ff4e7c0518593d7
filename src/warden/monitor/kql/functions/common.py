"""Building blocks shared by the function modules: SQL templates, literals, argument checks, type rules.

Templates are SQL text in the target dialect with ``$name`` placeholders (``$`` followed by a
letter or digit; JSON paths such as ``'$.a'`` are left alone). A template is parsed once per
dialect and cached; each use copies the tree and substitutes the placeholders with the given
expressions, wrapping compound ones (``a + b``, ``NOT x``...) in parentheses so that precedence
never changes. Every ``Typed`` this library returns is likewise "atomic": a call, a literal, a
column or a parenthesised expression, so the generator may embed it anywhere.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from ..errors import KqlSemanticError, KqlUnsupportedError
from ..typed import NOT_CONSTANT, Typed
from ..types import KustoType, to_sqlglot
from ..values import UNIX_EPOCH_TICKS, encode_dynamic, ticks_to_datetime

K = KustoType
NUMERIC = (K.INT, K.LONG, K.REAL, K.DECIMAL)
INTEGER = (K.INT, K.LONG)
#: Ticks from 0001-01-01 to 1970-01-01 in microseconds (DuckDB epochs count from 1970).
UNIX_EPOCH_MICROS = UNIX_EPOCH_TICKS // 10

_PLACEHOLDER = re.compile(r"\$([A-Za-z0-9]\w*)")
_ATOMIC = (
    exp.Column,
    exp.Literal,
    exp.Paren,
    exp.Null,
    exp.Boolean,
    exp.Identifier,
    exp.Array,
    exp.Struct,
)
_NEVER_NULLABLE = {exp.DataType.Type.ARRAY, exp.DataType.Type.MAP, exp.DataType.Type.STRUCT}
_COMPOUND = (exp.Binary, exp.Unary, exp.Predicate, exp.Connector, exp.Not, exp.Neg, exp.Between, exp.In, exp.Is)


# ------------------------------------------------------------------------------------ templates


@lru_cache(maxsize=4096)
def _parse(template: str, dialect: str) -> exp.Expression:
    # A few templates (xxhash64) are deep; sqlglot's recursive descent needs more stack than the
    # default limit while parsing them (once: the result is cached).
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 6000))
    try:
        return sqlglot.parse_one(_PLACEHOLDER.sub(r"__kqlp_\1", template), dialect=dialect)
    finally:
        sys.setrecursionlimit(limit)


def atom(expression: exp.Expression) -> exp.Expression:
    """``expression`` wrapped in parentheses unless it already binds tighter than any operator."""
    if isinstance(expression, exp.Paren):
        return expression
    if isinstance(expression, _COMPOUND) or not isinstance(expression, (*_ATOMIC, exp.Func)):
        return exp.Paren(this=expression)
    return expression


def to_sql(value: Any) -> exp.Expression:
    """An expression for a template part: a ``Typed``, an expression, or a Python scalar literal."""
    if isinstance(value, Typed):
        return value.sql
    if isinstance(value, exp.Expression):
        return value
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
            return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("DOUBLE"))
        number = exp.Literal.number(value)
        return exp.Paren(this=number) if value < 0 else number
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise TypeError(f"cannot embed {value!r} in SQL")


def sql(dialect: str, template: str, **parts: Any) -> exp.Expression:
    """The template parsed in ``dialect`` with each ``$name`` replaced by ``parts[name]``."""
    tree = _parse(template, dialect)

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name.startswith("__kqlp_"):
            return atom(to_sql(parts[node.name[7:]]).copy())
        plain_cast = isinstance(node, exp.Cast) and not node.to.args.get("nullable")
        if dialect == "clickhouse" and plain_cast and node.to.this not in _NEVER_NULLABLE:
            # A ClickHouse CAST to a plain type fails on NULL: templates' casts are to Nullable(T).
            node.to.set("nullable", True)
        return node

    return tree.transform(substitute)


def call(name: str, *args: Any) -> exp.Expression:
    """A plain function call ``name(args...)`` that sqlglot passes through untouched."""
    return exp.Anonymous(this=name, expressions=[to_sql(a) for a in args])


def typed(expression: exp.Expression, kusto_type: KustoType, literal: Any = NOT_CONSTANT) -> Typed:
    """A ``Typed`` result whose SQL is safe to embed anywhere (see the module docstring)."""
    return Typed(atom(expression), kusto_type, literal)


def cast(value: Any, kusto_type: KustoType, dialect: str = "duckdb", *, safe: bool = False) -> exp.Expression:
    """``CAST(value AS storage type)`` (``TRY_CAST`` with ``safe``)."""
    node = exp.TryCast if safe else exp.Cast
    return node(this=to_sql(value), to=to_sqlglot(kusto_type, dialect))


def null(kusto_type: KustoType, dialect: str = "duckdb") -> Typed:
    """The typed null of ``kusto_type`` (``''`` for string, which is never null)."""
    if kusto_type is K.STRING:
        return Typed(exp.Literal.string(""), K.STRING, "")
    return Typed(cast(exp.Null(), kusto_type, dialect), kusto_type, None)


def string_literal(text: str) -> Typed:
    return Typed(exp.Literal.string(text), K.STRING, text)


def datetime_sql(ticks: int, dialect: str = "duckdb") -> exp.Expression:
    """A TIMESTAMP literal for a tick count (truncated to microseconds)."""
    moment = ticks_to_datetime(ticks)
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return cast(text, K.DATETIME, dialect)


def dynamic_sql(value: Any, dialect: str = "duckdb") -> exp.Expression:
    """A JSON literal for a Python dynamic value (None: a null JSON)."""
    text = encode_dynamic(value) if value is not None else None
    if text is None:
        return cast(exp.Null(), K.DYNAMIC, dialect)
    return cast(text, K.DYNAMIC, dialect)


def literal_typed(value: Any, kusto_type: KustoType, dialect: str = "duckdb") -> Typed:
    """A constant ``Typed`` from a value in the representation of ``values`` (ticks for times)."""
    if value is None:
        return null(kusto_type, dialect)
    match kusto_type:
        case K.DATETIME:
            expression = datetime_sql(value, dialect)
        case K.DYNAMIC:
            expression = dynamic_sql(value, dialect)
        case K.STRING:
            expression = exp.Literal.string(value)
        case K.BOOL:
            expression = exp.Boolean(this=bool(value))
        case K.GUID | K.DECIMAL | K.INT | K.REAL:
            expression = cast(str(value) if kusto_type is K.GUID else value, kusto_type, dialect)
        case _:  # long, timespan: BIGINT even when small (a plain literal would be a 32-bit INTEGER)
            expression = exp.Literal.number(int(value))
            if ticks_fit_int32(int(value)):
                expression = cast(expression, K.LONG, dialect)
    return typed(expression, kusto_type, value)


def ticks_fit_int32(value: int) -> bool:
    return -(2**31) <= value < 2**31


# ------------------------------------------------------------------------------ argument checks


def fail(function: str, message: str) -> KqlSemanticError:
    return KqlSemanticError(f"{function}(): {message}")


def expect(function: str, args: Sequence[Typed], index: int, *allowed: KustoType) -> Typed:
    """Return ``args[index]`` after checking its type is one of ``allowed`` (a null literal passes)."""
    arg = args[index]
    if arg.type not in allowed and not (arg.is_constant and arg.literal is None):
        names = " or ".join(str(t) for t in allowed)
        raise fail(function, f"argument #{index + 1} must be {names}, not {arg.type}")
    return arg


def constant(function: str, args: Sequence[Typed], index: int, *allowed: KustoType) -> Any:
    """The compile-time value of ``args[index]``, which must be a constant of one of ``allowed``."""
    arg = expect(function, args, index, *allowed) if allowed else args[index]
    if not arg.is_constant:
        raise fail(function, f"argument #{index + 1} must be a constant")
    return arg.literal


def constant_string(function: str, args: Sequence[Typed], index: int) -> str:
    value = constant(function, args, index, K.STRING)
    return "" if value is None else str(value)


def duckdb_only(ctx: Any, function: str) -> None:
    """Refuse a function that has no ClickHouse translation yet."""
    if ctx.dialect != "duckdb":
        raise KqlUnsupportedError(f"{function}() is not supported on {ctx.dialect}", construct=function)


# ----------------------------------------------------------------------------------- type rules

_WIDTH = {K.INT: 0, K.LONG: 1, K.DECIMAL: 2, K.REAL: 3}


def is_null_literal(arg: Typed) -> bool:
    return arg.is_constant and arg.literal is None


def widest_numeric(types: Sequence[KustoType]) -> KustoType:
    """int < long < decimal < real, Kusto's promotion order for mixed numbers."""
    return max(types, key=lambda t: _WIDTH[t])


def common_type(function: str, args: Sequence[Typed]) -> KustoType:
    """The one type all ``args`` share (numbers promote; typed nulls adopt the others' type)."""
    types = [a.type for a in args if not is_null_literal(a)] or [a.type for a in args]
    distinct = set(types)
    if len(distinct) == 1:
        return types[0]
    if distinct <= set(NUMERIC):
        return widest_numeric(types)
    names = ", ".join(sorted(str(t) for t in distinct))
    raise fail(function, f"arguments must be of the same type, got {names}")


def coerce(arg: Typed, kusto_type: KustoType, dialect: str = "duckdb") -> exp.Expression:
    """``arg``'s SQL converted to ``kusto_type``'s storage when it differs (numbers, typed nulls)."""
    if arg.type is kusto_type:
        return arg.sql
    if is_null_literal(arg):
        return null(kusto_type, dialect).sql
    return cast(atom(arg.sql), kusto_type, dialect)


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
