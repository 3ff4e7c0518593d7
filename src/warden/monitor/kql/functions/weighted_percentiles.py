"""Weighted percentiles: ``percentilew``, ``percentilesw`` (one column per percentile) and
``percentilesw_array``.

Each value counts as if it were repeated ``weight`` times (Kusto's docs): the ``p`` percentile is
the smallest value whose cumulative weight, values in ascending order, reaches ``p`` % of the
total weight (nearest rank, as ``percentile``). Null values and null or non-positive weights are
skipped. Numbers only; DuckDB only.
"""

from __future__ import annotations

from sqlglot import exp

from ..errors import KqlUnsupportedError
from ..typed import Typed
from .aggregates import _percent, _percents, percentile_column_name, percentile_result_type
from .common import INTEGER, NUMERIC, K, duckdb_only, expect, sql, typed
from .registry import CompileContext, aggregate
from .tdigest import _percentile_sql

_PAIRS = (
    "list_sort(list([CAST($x AS DOUBLE), CAST($w AS DOUBLE)])"
    " FILTER (WHERE $x IS NOT NULL AND $w IS NOT NULL AND $w > 0))"
)


def _checked(name: str, ctx: CompileContext, args: list[Typed]) -> tuple[Typed, Typed]:
    duckdb_only(ctx, name)
    value, weight = args[0], expect(name, args, 1, *INTEGER)
    if value.type not in NUMERIC:
        raise KqlUnsupportedError(f"{name}() of {value.type} values (numbers only)", construct=name)
    return value, weight


def weighted_percentile(ctx: CompileContext, value: Typed, weight: Typed, percent: float) -> Typed:
    """The weighted nearest-rank ``percent`` percentile of ``value`` over the group."""
    result = percentile_result_type(value.type)
    body = f"list_transform([{_PAIRS}], lambda __p: {_percentile_sql(repr(float(percent)))})[1]"
    target = "BIGINT" if result is K.LONG else "DOUBLE"
    return typed(sql(ctx.dialect, f"CAST({body} AS {target})", x=value, w=weight), result)


@aggregate("percentilew", auto_name="percentile_", min_args=3, max_args=3)
def _percentilew(ctx: CompileContext, args: list[Typed]) -> Typed:
    value, weight = _checked("percentilew", ctx, args)
    return weighted_percentile(ctx, value, weight, _percent("percentilew", args[2]))


def weighted_percentile_columns(ctx: CompileContext, args: list[Typed], column: str | None) -> list[tuple[str, Typed]]:
    """``percentilesw(x, w, p1, p2, ...)`` (and ``percentilew``) as ``(column name, aggregate)`` pairs."""
    value, weight = _checked("percentilesw", ctx, args)
    percents = _percents("percentilesw", args[2:])
    return [(percentile_column_name(column or "", p), weighted_percentile(ctx, value, weight, p)) for p in percents]


@aggregate("percentilesw_array", auto_name="percentile_", min_args=3)
def _percentilesw_array(ctx: CompileContext, args: list[Typed]) -> Typed:
    value, weight = _checked("percentilesw_array", ctx, args)
    values = [weighted_percentile(ctx, value, weight, p).sql for p in _percents("percentilesw_array", args[2:])]
    return typed(exp.Anonymous(this="json_array", expressions=values), K.DYNAMIC)
