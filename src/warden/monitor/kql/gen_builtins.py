"""A few core functions the generator falls back on when the function library does not define them.

The library (``functions/``) takes precedence: a name it registers is never looked up here. These
keep the operators usable (and testable) on their own: counting, the common aggregates, ``bin``,
the emptiness tests and the basic conversions.
"""

from __future__ import annotations

from sqlglot import exp

from .functions.registry import AggregateFunction, CompileContext, ScalarFunction
from .gen_sql import cast, fn, lit_str
from .typed import Typed
from .types import KustoType

__all__ = ["FALLBACK_AGGREGATES", "FALLBACK_SCALARS"]

FALLBACK_SCALARS: dict[str, ScalarFunction] = {}
FALLBACK_AGGREGATES: dict[str, AggregateFunction] = {}


def _scalar(*names: str, low: int, high: int | None):
    def register(impl):
        for name in names:
            FALLBACK_SCALARS[name] = ScalarFunction(name, impl, low, high)
        return impl

    return register


def _aggregate(*names: str, low: int, high: int | None):
    def register(impl):
        for name in names:
            FALLBACK_AGGREGATES[name] = AggregateFunction(name, impl, low, high, f"{name}_")
        return impl

    return register


def _is_empty(value: Typed) -> exp.Expression:
    if value.type is KustoType.STRING:
        return exp.EQ(this=value.sql, expression=lit_str(""))
    return exp.Is(this=value.sql, expression=exp.Null())


@_scalar("isempty", low=1, high=1)
def _isempty(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(_is_empty(args[0]), KustoType.BOOL)


@_scalar("isnotempty", "notempty", low=1, high=1)
def _isnotempty(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Not(this=exp.Paren(this=_is_empty(args[0]))), KustoType.BOOL)


@_scalar("isnull", low=1, high=1)
def _isnull(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Is(this=args[0].sql, expression=exp.Null()), KustoType.BOOL)


@_scalar("isnotnull", low=1, high=1)
def _isnotnull(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Not(this=exp.Is(this=args[0].sql, expression=exp.Null())), KustoType.BOOL)


@_scalar("tostring", low=1, high=1)
def _tostring(ctx: CompileContext, args: list[Typed]) -> Typed:
    return ctx.to_string(args[0])  # type: ignore[attr-defined]


def _convert(target: KustoType):
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        return (
            ctx.coerce(args[0], target)
            if args[0].type is KustoType.DYNAMIC
            else Typed(  # type: ignore[attr-defined]
                cast(args[0].sql, target, ctx.dialect, safe=True), target
            )
        )

    return impl


for _name, _target in (("tolong", KustoType.LONG), ("toint", KustoType.INT), ("todouble", KustoType.REAL)):
    FALLBACK_SCALARS[_name] = ScalarFunction(_name, _convert(_target), 1, 1)
FALLBACK_SCALARS["toreal"] = ScalarFunction("toreal", _convert(KustoType.REAL), 1, 1)


@_scalar("iff", "iif", low=3, high=3)
def _iff(ctx: CompileContext, args: list[Typed]) -> Typed:
    cond, then, other = args
    if then.type != other.type and other.is_constant and other.literal is None:
        other = Typed(cast(exp.Null(), then.type, ctx.dialect), then.type)
    return Typed(exp.If(this=cond.sql, true=then.sql, false=other.sql), then.type)


@_scalar("strlen", low=1, high=1)
def _strlen(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(cast(exp.Length(this=args[0].sql), KustoType.LONG, ctx.dialect), KustoType.LONG)


@_scalar("bin", "floor", low=2, high=2)
def _bin(ctx: CompileContext, args: list[Typed]) -> Typed:
    value, size = args
    if value.type is KustoType.DATETIME:
        step = size.literal // 10 if size.is_constant and size.literal else None
        if step is None:
            raise ValueError("bin() of a datetime needs a constant timespan")
        micros = fn("epoch_us", value.sql)
        floored = exp.Mul(
            this=fn("floor", exp.Div(this=micros, expression=exp.Literal.number(step))),
            expression=exp.Literal.number(step),
        )
        return Typed(fn("make_timestamp", cast(floored, KustoType.LONG, ctx.dialect)), KustoType.DATETIME)
    result = value.type if value.type is not KustoType.INT else KustoType.LONG
    floored = exp.Mul(this=fn("floor", exp.Div(this=value.sql, expression=size.sql)), expression=size.sql.copy())
    return Typed(cast(floored, result, ctx.dialect), result)


@_aggregate("count", low=0, high=1)
def _count(ctx: CompileContext, args: list[Typed]) -> Typed:
    # Kusto's count(expr) counts rows, null values of expr included.
    return Typed(exp.Count(this=exp.Star()), KustoType.LONG)


@_aggregate("percentile", low=2, high=2)
def _percentile(ctx: CompileContext, args: list[Typed]) -> Typed:
    # Nearest-rank percentile: a value of the input, as Kusto's (approximate) percentile returns.
    value, percent = args
    fraction = exp.Div(this=cast(percent.sql, KustoType.REAL, ctx.dialect), expression=exp.Literal.number(100))
    result = KustoType.LONG if value.type is KustoType.INT else value.type
    return Typed(cast(fn("quantile_disc", value.sql, fraction), result, ctx.dialect), result)


@_aggregate("countif", low=1, high=1)
def _countif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(fn("count_if", args[0].sql), KustoType.LONG)


@_aggregate("dcount", low=1, high=2)
def _dcount(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Count(this=exp.Distinct(expressions=[args[0].sql])), KustoType.LONG)


@_aggregate("sum", low=1, high=1)
def _sum(ctx: CompileContext, args: list[Typed]) -> Typed:
    result = KustoType.LONG if args[0].type in (KustoType.INT, KustoType.LONG) else args[0].type
    return Typed(cast(exp.Sum(this=args[0].sql), result, ctx.dialect), result)


@_aggregate("avg", low=1, high=1)
def _avg(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Avg(this=args[0].sql), KustoType.REAL)


@_aggregate("min", low=1, high=1)
def _min(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Min(this=args[0].sql), args[0].type)


@_aggregate("max", low=1, high=1)
def _max(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(exp.Max(this=args[0].sql), args[0].type)


@_aggregate("take_any", "any", low=1, high=1)
def _any(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(fn("any_value", args[0].sql), args[0].type)


@_aggregate("make_list", "makelist", low=1, high=2)
def _make_list(ctx: CompileContext, args: list[Typed]) -> Typed:
    return Typed(cast(fn("to_json", fn("list", args[0].sql)), KustoType.DYNAMIC, ctx.dialect), KustoType.DYNAMIC)


@_aggregate("make_set", "makeset", low=1, high=2)
def _make_set(ctx: CompileContext, args: list[Typed]) -> Typed:
    distinct = fn("list", exp.Distinct(expressions=[args[0].sql]))
    return Typed(cast(fn("to_json", distinct), KustoType.DYNAMIC, ctx.dialect), KustoType.DYNAMIC)
