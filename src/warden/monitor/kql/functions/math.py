"""Numeric functions: ``round``, ``abs``, ``ceiling``, ``sign``, logarithms and exponentials, ``pow``,
``sqrt``, trigonometry, ``isnan``/``isinf``/``isfinite``, ``pi``, ``min_of``/``max_of``, ``rand``,
``new_guid``, ``tohex``, the ``binary_*`` bit functions, and ``bin``/``floor``/``bin_at`` for
numbers, timespans and datetimes.

Kusto's results where SQL differs: ``log``/``log2``/``log10`` and ``sqrt`` of a negative number
are null (not NaN or an error); ``log(0)`` is ``-inf``; ``sign`` is a real; ``round`` and
``ceiling`` keep the argument's type; ``bin`` of a datetime rounds down to a multiple of the bin
size counted from 0001-01-01 (Kusto's tick epoch, which matters for bins such as ``7d``);
``bin`` with a null, zero or negative bin size is null; ``min_of``/``max_of`` ignore nulls.
"""

from __future__ import annotations

import math

from sqlglot import exp

from ..typed import Typed
from ..values import TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_SECOND
from .common import (
    INTEGER,
    NUMERIC,
    UNIX_EPOCH_MICROS,
    K,
    cast,
    coerce,
    common_type,
    duckdb_only,
    expect,
    fail,
    is_null_literal,
    null,
    sql,
    typed,
    widest_numeric,
)
from .registry import CompileContext, scalar


def _real(ctx: CompileContext, arg: Typed) -> exp.Expression:
    return coerce(arg, K.REAL, ctx.dialect)


def _unary_real(name: str, duck: str, house: str, guard: str | None = None) -> None:
    """Register ``name(x) -> real`` from SQL templates over ``$v`` (DuckDB and ClickHouse); ``guard``
    is a condition on ``$v`` under which the result is null."""

    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        expect(name, args, 0, *NUMERIC)
        body = duck if ctx.dialect == "duckdb" else house
        if guard:
            body = f"CASE WHEN {guard} THEN NULL ELSE {body} END"
        return typed(sql(ctx.dialect, body, v=_real(ctx, args[0])), K.REAL)


for _name, _duck, _house, _guard in (
    ("log", "ln($v)", "log($v)", "$v < 0"),
    ("log2", "log2($v)", "log2($v)", "$v < 0"),
    ("log10", "log10($v)", "log10($v)", "$v < 0"),
    ("sqrt", "sqrt($v)", "sqrt($v)", "$v < 0"),
    ("exp", "exp($v)", "exp($v)", None),
    ("exp2", "pow(2.0, $v)", "exp2($v)", None),
    ("exp10", "pow(10.0, $v)", "exp10($v)", None),
    ("sin", "sin($v)", "sin($v)", None),
    ("cos", "cos($v)", "cos($v)", None),
    ("tan", "tan($v)", "tan($v)", None),
    ("asin", "asin($v)", "asin($v)", None),
    ("acos", "acos($v)", "acos($v)", None),
    ("atan", "atan($v)", "atan($v)", None),
    ("cot", "cot($v)", "1 / tan($v)", None),
    ("degrees", "degrees($v)", "degrees($v)", None),
    ("radians", "radians($v)", "radians($v)", None),
    ("gamma", "gamma($v)", "tgamma($v)", None),
    ("loggamma", "lgamma($v)", "lgamma($v)", None),
):
    _unary_real(_name, _duck, _house, _guard)


@scalar("atan2", min_args=2, max_args=2)
def _atan2(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("atan2", args, 0, *NUMERIC)
    expect("atan2", args, 1, *NUMERIC)
    return typed(sql(ctx.dialect, "atan2($y, $x)", y=_real(ctx, args[0]), x=_real(ctx, args[1])), K.REAL)


@scalar("pow", min_args=2, max_args=2)
def _pow(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("pow", args, 0, *NUMERIC)
    expect("pow", args, 1, *NUMERIC)
    return typed(sql(ctx.dialect, "pow($b, $e)", b=_real(ctx, args[0]), e=_real(ctx, args[1])), K.REAL)


@scalar("pi", min_args=0, max_args=0)
def _pi(ctx: CompileContext, args: list[Typed]) -> Typed:
    return typed(exp.Literal.number(repr(math.pi)), K.REAL, math.pi)


@scalar("isnan", min_args=1, max_args=1)
def _isnan(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("isnan", args, 0, *NUMERIC)
    if args[0].type is not K.REAL:
        return typed(sql(ctx.dialect, "CASE WHEN $v IS NULL THEN NULL ELSE FALSE END", v=args[0]), K.BOOL)
    return typed(sql(ctx.dialect, "isnan($v)" if ctx.dialect == "duckdb" else "isNaN($v)", v=args[0]), K.BOOL)


@scalar("isinf", min_args=1, max_args=1)
def _isinf(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("isinf", args, 0, *NUMERIC)
    if args[0].type is not K.REAL:
        return typed(sql(ctx.dialect, "CASE WHEN $v IS NULL THEN NULL ELSE FALSE END", v=args[0]), K.BOOL)
    return typed(sql(ctx.dialect, "isinf($v)" if ctx.dialect == "duckdb" else "isInfinite($v)", v=args[0]), K.BOOL)


@scalar("isfinite", min_args=1, max_args=1)
def _isfinite(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("isfinite", args, 0, *NUMERIC)
    if args[0].type is not K.REAL:
        return typed(sql(ctx.dialect, "CASE WHEN $v IS NULL THEN NULL ELSE TRUE END", v=args[0]), K.BOOL)
    return typed(sql(ctx.dialect, "isfinite($v)" if ctx.dialect == "duckdb" else "isFinite($v)", v=args[0]), K.BOOL)


@scalar("abs", min_args=1, max_args=1)
def _abs(ctx: CompileContext, args: list[Typed]) -> Typed:
    arg = expect("abs", args, 0, *NUMERIC, K.TIMESPAN)
    result = K.LONG if arg.type in INTEGER else arg.type
    return typed(sql(ctx.dialect, "abs($v)", v=coerce(arg, result, ctx.dialect)), result)


@scalar("sign", min_args=1, max_args=1)
def _sign(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("sign", args, 0, *NUMERIC)
    return typed(cast(sql(ctx.dialect, "sign($v)", v=args[0]), K.REAL, ctx.dialect), K.REAL)


@scalar("ceiling", min_args=1, max_args=1)
def _ceiling(ctx: CompileContext, args: list[Typed]) -> Typed:
    arg = expect("ceiling", args, 0, *NUMERIC)
    if arg.type in INTEGER:
        return arg
    return typed(sql(ctx.dialect, "ceil($v)", v=arg), arg.type)


@scalar("round", min_args=1, max_args=2)
def _round(ctx: CompileContext, args: list[Typed]) -> Typed:
    arg = expect("round", args, 0, *NUMERIC)
    precision = args[1] if len(args) > 1 else None
    if precision is not None:
        expect("round", args, 1, *INTEGER)
    if arg.type in INTEGER:
        if precision is None:
            return arg
        # Integers only change with a negative precision; round half away from zero.
        result = sql(
            ctx.dialect,
            "CASE WHEN $p >= 0 THEN $v ELSE CAST(round(CAST($v AS DOUBLE), CAST($p AS INTEGER)) AS BIGINT) END",
            v=coerce(arg, K.LONG),
            p=precision,
        )
        return typed(result, K.LONG)
    if precision is None:
        return typed(sql(ctx.dialect, "round($v)", v=arg), arg.type)
    # .NET scales first: round(2.15, 1) is round(21.5) / 10 = 2.2, where round(2.15, 1) on the
    # binary value 2.1499999... gives 2.1.
    result = sql(
        ctx.dialect,
        "CASE WHEN $p >= 0 THEN round($v * pow(10, $p)) / pow(10, $p) ELSE round($v / pow(10, -$p)) * pow(10, -$p) END",
        v=coerce(arg, K.REAL),
        p=precision,
    )
    return typed(cast(result, arg.type, ctx.dialect), arg.type)


def _extreme(name: str, function: str) -> None:
    @scalar(name, min_args=2, max_args=64)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        result = common_type(name, args)
        values = [coerce(a, result, ctx.dialect) for a in args if not is_null_literal(a)]
        if not values:
            return null(result, ctx.dialect)
        if len(values) == 1:
            return typed(values[0], result)
        if ctx.dialect == "clickhouse":
            # ClickHouse's least/greatest return NULL for any NULL argument: pair them up so that a
            # null loses (least(coalesce(m, v), coalesce(v, m))).
            folded = values[0]
            for value in values[1:]:
                folded = sql(ctx.dialect, f"{function}(coalesce($m, $v), coalesce($v, $m))", m=folded, v=value)
            return typed(folded, result)
        return typed(exp.Anonymous(this=function, expressions=values), result)


_extreme("min_of", "least")
_extreme("max_of", "greatest")


@scalar("rand", min_args=0, max_args=1)
def _rand(ctx: CompileContext, args: list[Typed]) -> Typed:
    function = "random()" if ctx.dialect == "duckdb" else "randCanonical()"
    if not args:
        return typed(sql(ctx.dialect, function), K.REAL)
    expect("rand", args, 0, *INTEGER)
    return typed(sql(ctx.dialect, f"floor({function} * $n)", n=args[0]), K.REAL)


@scalar("new_guid", min_args=0, max_args=0)
def _new_guid(ctx: CompileContext, args: list[Typed]) -> Typed:
    return typed(sql(ctx.dialect, "uuid()" if ctx.dialect == "duckdb" else "generateUUIDv4()"), K.GUID)


@scalar("tohex", min_args=1, max_args=2)
def _tohex(ctx: CompileContext, args: list[Typed]) -> Typed:
    arg = expect("tohex", args, 0, *INTEGER)
    duckdb_only(ctx, "tohex")
    # DuckDB's hex() of a negative INTEGER is 64-bit; Kusto's is the 32-bit two's complement.
    text = "lower(hex($v))"
    if arg.type is K.INT:
        text = "CASE WHEN $v < 0 THEN lower(hex(CAST($v AS BIGINT) & 4294967295)) ELSE lower(hex($v)) END"
    result = sql(ctx.dialect, text, v=arg)
    if len(args) > 1:
        expect("tohex", args, 1, *INTEGER)
        result = sql(
            ctx.dialect, "lpad($h, CAST(greatest(length($h), least($n, 16)) AS INTEGER), '0')", h=result, n=args[1]
        )
    return typed(exp.Coalesce(this=result, expressions=[exp.Literal.string("")]), K.STRING)


def _binary(name: str, operator: str, house: str, arity: int = 2) -> None:
    @scalar(name, min_args=arity, max_args=arity)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        for i in range(arity):
            expect(name, args, i, *INTEGER)
        values = {f"v{i}": coerce(a, K.LONG) for i, a in enumerate(args)}
        return typed(sql(ctx.dialect, operator if ctx.dialect == "duckdb" else house, **values), K.LONG)


_binary("binary_and", "$v0 & $v1", "bitAnd($v0, $v1)")
_binary("binary_or", "$v0 | $v1", "bitOr($v0, $v1)")
_binary("binary_xor", "xor($v0, $v1)", "bitXor($v0, $v1)")
_binary("binary_not", "~$v0", "bitNot($v0)", 1)
# Shifts take the count modulo 64 and a left shift wraps, as .NET's (DuckDB's << raises on overflow:
# shift the low bits that stay, then restore the sign from the bit that lands on bit 63).
_binary(
    "binary_shift_left",
    "CASE WHEN $v1 & 63 = 0 THEN $v0 ELSE (($v0 & ((CAST(1 AS BIGINT) << (63 - ($v1 & 63))) - 1)) << ($v1 & 63))"
    " + (CASE WHEN (($v0 >> (63 - ($v1 & 63))) & 1) = 1 THEN -9223372036854775807 - 1 ELSE 0 END) END",
    "bitShiftLeft($v0, bitAnd($v1, 63))",
)
_binary("binary_shift_right", "$v0 >> ($v1 & 63)", "bitShiftRight($v0, bitAnd($v1, 63))")


# --------------------------------------------------------------------------------------- bin


_TRUNC_UNITS = {TICKS_PER_SECOND: "second", TICKS_PER_MINUTE: "minute", TICKS_PER_HOUR: "hour", TICKS_PER_DAY: "day"}


def floor_multiple(ctx: CompileContext, value: exp.Expression, size: exp.Expression) -> exp.Expression:
    """``value`` rounded down to a multiple of ``size`` with integer arithmetic (exact, floor for
    negative values); null when ``size`` is not positive."""
    return sql(
        ctx.dialect,
        "CASE WHEN $s > 0 THEN $v - ((($v % $s) + $s) % $s) END",
        v=value,
        s=size,
    )


def bin_datetime(ctx: CompileContext, value: Typed, ticks: Typed, origin_micros: exp.Expression | None = None) -> Typed:
    """``bin(datetime, timespan)``: the multiple of the span since 0001-01-01 (or ``origin``) below."""
    if ctx.dialect == "clickhouse":
        if origin_micros is not None:
            duckdb_only(ctx, "bin_at of a datetime")
        micros = sql(ctx.dialect, "intDiv($t, 10)", t=ticks)
        offset = sql(ctx.dialect, f"toUnixTimestamp64Micro($v) + {UNIX_EPOCH_MICROS}", v=value)
        floored = floor_multiple(ctx, offset, micros)
        return typed(
            sql(ctx.dialect, f"fromUnixTimestamp64Micro($f - {UNIX_EPOCH_MICROS}, 'UTC')", f=floored), K.DATETIME
        )
    if origin_micros is None and ticks.is_constant and ticks.literal in _TRUNC_UNITS:
        unit = _TRUNC_UNITS[ticks.literal]
        return typed(sql(ctx.dialect, f"date_trunc('{unit}', $v)", v=value), K.DATETIME)
    origin = origin_micros if origin_micros is not None else exp.Literal.number(-UNIX_EPOCH_MICROS)
    if ticks.is_constant and ticks.literal is not None and ticks.literal % 10 == 0:
        micros: exp.Expression = exp.Literal.number(ticks.literal // 10)
    else:
        micros = sql(ctx.dialect, "$t // 10", t=ticks)
    offset = sql(ctx.dialect, "epoch_us($v) - $o", v=value, o=origin)
    floored = floor_multiple(ctx, offset, micros)
    return typed(sql(ctx.dialect, "make_timestamp($f + $o)", f=floored, o=origin), K.DATETIME)


def _bin(ctx: CompileContext, args: list[Typed], name: str) -> Typed:
    value, size = args
    if is_null_literal(value) or is_null_literal(size):
        kind = value.type if not is_null_literal(value) else size.type
        return null(K.DATETIME if kind is K.DATETIME else kind, ctx.dialect)
    if value.type is K.DATETIME:
        expect(name, args, 1, K.TIMESPAN, *NUMERIC)
        if size.type is not K.TIMESPAN:
            raise fail(name, "the bin size of a datetime must be a timespan")
        return bin_datetime(ctx, value, size)
    if value.type is K.TIMESPAN:
        expect(name, args, 1, K.TIMESPAN)
        return typed(floor_multiple(ctx, value.sql, size.sql), K.TIMESPAN)
    expect(name, args, 0, *NUMERIC)
    expect(name, args, 1, *NUMERIC)
    result = widest_numeric([value.type, size.type])
    if result in INTEGER:
        result = K.LONG
        return typed(floor_multiple(ctx, coerce(value, K.LONG), coerce(size, K.LONG)), K.LONG)
    floored = sql(
        ctx.dialect,
        "CASE WHEN $s > 0 THEN floor($v / $s) * $s END",
        v=coerce(value, result),
        s=coerce(size, result),
    )
    return typed(cast(floored, result, ctx.dialect) if result is K.DECIMAL else floored, result)


@scalar("bin", "floor", min_args=2, max_args=2)
def _bin_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _bin(ctx, args, "bin")


@scalar("bin_at", min_args=3, max_args=3)
def _bin_at(ctx: CompileContext, args: list[Typed]) -> Typed:
    value, size, fixed = args
    if value.type is K.DATETIME:
        expect("bin_at", args, 1, K.TIMESPAN)
        expect("bin_at", args, 2, K.DATETIME)
        duckdb_only(ctx, "bin_at")
        return bin_datetime(ctx, value, size, sql(ctx.dialect, "epoch_us($f)", f=fixed))
    if value.type is K.TIMESPAN:
        expect("bin_at", args, 1, K.TIMESPAN)
        expect("bin_at", args, 2, K.TIMESPAN)
        shifted = sql(ctx.dialect, "$v - $f", v=value, f=fixed)
        return typed(sql(ctx.dialect, "$b + $f", b=floor_multiple(ctx, shifted, size.sql), f=fixed), K.TIMESPAN)
    for i in range(3):
        expect("bin_at", args, i, *NUMERIC)
    result = widest_numeric([a.type for a in args])
    if result in INTEGER:
        values = {k: coerce(a, K.LONG) for k, a in zip("vsf", args, strict=True)}
        shifted = sql(ctx.dialect, "$v - $f", v=values["v"], f=values["f"])
        return typed(sql(ctx.dialect, "$b + $f", b=floor_multiple(ctx, shifted, values["s"]), f=values["f"]), K.LONG)
    v, s, f = (coerce(a, result) for a in args)
    return typed(sql(ctx.dialect, "CASE WHEN $s > 0 THEN floor(($v - $f) / $s) * $s + $f END", v=v, s=s, f=f), result)


@scalar("around", min_args=3, max_args=3)
def _around(ctx: CompileContext, args: list[Typed]) -> Typed:
    """``value`` lies within ``delta`` of ``center`` (inclusive)."""
    value, center, delta = args
    if value.type is K.DATETIME:
        expect("around", args, 1, K.DATETIME)
        expect("around", args, 2, K.TIMESPAN)
        duckdb_only(ctx, "around")
        body = (
            "$v BETWEEN $c - to_microseconds(CAST($d / 10 AS BIGINT)) AND $c + to_microseconds(CAST($d / 10 AS BIGINT))"
        )
        return typed(sql(ctx.dialect, body, v=value, c=center, d=delta), K.BOOL)
    for i in range(3):
        expect("around", args, i, *NUMERIC, K.TIMESPAN)
    return typed(sql(ctx.dialect, "$v BETWEEN $c - $d AND $c + $d", v=value, c=center, d=delta), K.BOOL)
