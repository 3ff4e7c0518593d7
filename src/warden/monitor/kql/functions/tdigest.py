"""Digests: the aggregates ``tdigest``, ``tdigest_merge``/``merge_tdigest`` and the scalars
``merge_tdigest``, ``percentile_tdigest``, ``percentiles_array_tdigest``, ``rank_tdigest``,
``percentrank_tdigest``.

Kusto's digest is an opaque t-digest that only these functions read. Here a digest is the exact
distribution instead: a dynamic array of ``[value, weight]`` pairs (``tdigest(x)`` collapses equal
values into one pair through DuckDB's ``histogram``; weighted pairs are kept as given). Percentiles
read from it are therefore exact nearest-rank percentiles (the smallest value whose cumulative
weight reaches ``p`` % of the total, as ``percentile``), which lie within the error Kusto allows
its approximation. Unlike a t-digest its size grows with the number of distinct values. Numbers
only (int, long, real, decimal); DuckDB only.
"""

from __future__ import annotations

from sqlglot import exp

from ..errors import KqlUnsupportedError
from ..typed import Typed
from .common import NUMERIC, K, duckdb_only, expect, fail, sql, typed
from .conversion import convert
from .registry import CompileContext, aggregate, scalar
from .strings import _type_literal

_PAIRS = "COALESCE(TRY_CAST($d AS DOUBLE[][]), CAST([] AS DOUBLE[][]))"


def _value(name: str, ctx: CompileContext, arg: Typed) -> exp.Expression:
    duckdb_only(ctx, name)
    if arg.type not in NUMERIC:
        raise KqlUnsupportedError(f"{name}() of {arg.type} values (numbers only)", construct=name)
    return sql(ctx.dialect, "CAST($x AS DOUBLE)", x=arg)


@aggregate("tdigest", auto_name="tdigest_", min_args=1, max_args=2)
def _tdigest(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The digest of the group's values (optionally weighted); null for no values."""
    value = _value("tdigest", ctx, args[0])
    if len(args) == 1:
        body = "to_json(list_transform(map_entries(histogram($x)), lambda __e: [__e.key, CAST(__e.value AS DOUBLE)]))"
        return typed(sql(ctx.dialect, body, x=value), K.DYNAMIC)
    weight = _value("tdigest", ctx, expect("tdigest", args, 1, *NUMERIC))
    body = "to_json(list([$x, $w]) FILTER (WHERE $x IS NOT NULL AND $w IS NOT NULL AND $w > 0))"
    return typed(sql(ctx.dialect, body, x=value, w=weight), K.DYNAMIC)


@aggregate("tdigest_merge", "merge_tdigest", auto_name="tdigest_merge_", min_args=1, max_args=1)
def _tdigest_merge(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The digest of all the group's digests together."""
    duckdb_only(ctx, "tdigest_merge")
    digest = expect("tdigest_merge", args, 0, K.DYNAMIC)
    body = f"to_json(flatten(list({_PAIRS}) FILTER (WHERE $d IS NOT NULL)))"
    return typed(sql(ctx.dialect, body, d=digest), K.DYNAMIC)


@scalar("merge_tdigest", "tdigest_merge", min_args=1, max_args=64)
def _merge_tdigest(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The digest of the given digests together (null ones are skipped)."""
    duckdb_only(ctx, "merge_tdigest")
    parts = {f"d{i}": expect("merge_tdigest", args, i, K.DYNAMIC) for i in range(len(args))}
    lists = ", ".join(_PAIRS.replace("$d", f"$d{i}") for i in range(len(args)))
    return typed(sql(ctx.dialect, f"to_json(flatten([{lists}]))", **parts), K.DYNAMIC)


def _percentile_sql(percent: str) -> str:
    """SQL: the nearest-rank ``percent`` percentile of the pairs ``__p`` (sorted), null when empty."""
    cumulative = "list_sum(list_transform(list_slice(__p, 1, {i}), lambda __e: __e[2]))"
    target = f"({percent}) / 100.0 * list_sum(list_transform(__p, lambda __e: __e[2]))"
    middle = "((__r.lo + __r.hi) // 2)"
    step = (
        f"CASE WHEN __r.lo >= __r.hi THEN __r WHEN {cumulative.format(i=middle)} >= {target}"
        f" THEN {{'lo': __r.lo, 'hi': {middle}}} ELSE {{'lo': {middle} + 1, 'hi': __r.hi}} END"
    )
    # 64 halvings find the index in any list.
    search = f"list_reduce(range(64), lambda __r, __i: {step}, {{'lo': 1, 'hi': len(__p)}})"
    return f"CASE WHEN len(__p) = 0 THEN NULL ELSE __p[{search}.lo][1] END"


def _sorted_pairs(body: str) -> str:
    return f"list_transform([list_sort({_PAIRS})], lambda __p: {body})[1]"


def _percent(name: str, args: list[Typed], index: int) -> Typed:
    return expect(name, args, index, *NUMERIC)


@scalar("percentile_tdigest", min_args=2, max_args=3)
def _percentile_tdigest(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The ``p`` percentile of a digest: dynamic, or of the type named by ``typeof(...)``."""
    duckdb_only(ctx, "percentile_tdigest")
    digest = expect("percentile_tdigest", args, 0, K.DYNAMIC)
    percent = _percent("percentile_tdigest", args, 1)
    value = sql(ctx.dialect, _sorted_pairs(_percentile_sql("$q")), d=digest, q=percent)
    if len(args) < 3:
        return typed(sql(ctx.dialect, "to_json($v)", v=value), K.DYNAMIC)
    target = _type_literal("percentile_tdigest", args[2])
    if target not in NUMERIC:
        raise fail("percentile_tdigest", f"the result type must be numeric, not {target}")
    return convert(ctx, typed(value, K.REAL), target)


@scalar("percentiles_array_tdigest", min_args=2, max_args=64)
def _percentiles_array_tdigest(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The percentiles of a digest as a dynamic array (percentiles given one by one or as an array)."""
    duckdb_only(ctx, "percentiles_array_tdigest")
    digest = expect("percentiles_array_tdigest", args, 0, K.DYNAMIC)
    if len(args) == 2 and args[1].type is K.DYNAMIC:
        percents = sql(ctx.dialect, "CAST($a AS DOUBLE[])", a=args[1])
    else:
        items = [
            sql(ctx.dialect, "CAST($v AS DOUBLE)", v=_percent("percentiles_array_tdigest", args, i))
            for i in range(1, len(args))
        ]
        percents = exp.Array(expressions=items)
    body = _sorted_pairs(f"to_json(list_transform($a, lambda __q: {_percentile_sql('__q')}))")
    return typed(sql(ctx.dialect, body, d=digest, a=percents), K.DYNAMIC)


@scalar("rank_tdigest", min_args=2, max_args=2)
def _rank_tdigest(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The total weight of the digest's values at most ``value`` (real); null for a null value."""
    duckdb_only(ctx, "rank_tdigest")
    digest = expect("rank_tdigest", args, 0, K.DYNAMIC)
    value = _value("rank_tdigest", ctx, args[1])
    body = (
        f"CASE WHEN $v IS NULL THEN NULL ELSE COALESCE(list_sum(list_transform(list_filter({_PAIRS},"
        " lambda __e: __e[1] <= $v), lambda __e: __e[2])), 0) END"
    )
    return typed(sql(ctx.dialect, body, d=digest, v=value), K.REAL)


@scalar("percentrank_tdigest", min_args=2, max_args=2)
def _percentrank_tdigest(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The percentage of the digest's total weight at values at most ``value`` (real); null for an
    empty digest or a null value."""
    duckdb_only(ctx, "percentrank_tdigest")
    digest = expect("percentrank_tdigest", args, 0, K.DYNAMIC)
    value = _value("percentrank_tdigest", ctx, args[1])
    weight = "list_sum(list_transform({pairs}, lambda __e: __e[2]))"
    below = weight.format(pairs=f"list_filter({_PAIRS}, lambda __e: __e[1] <= $v)")
    total = weight.format(pairs=_PAIRS)
    body = f"CASE WHEN $v IS NULL OR COALESCE({total}, 0) = 0 THEN NULL ELSE 100.0 * COALESCE({below}, 0) / {total} END"
    return typed(sql(ctx.dialect, body, d=digest, v=value), K.REAL)
