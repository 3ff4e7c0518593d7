"""Distinct-count intermediates: the aggregates ``hll``, ``hll_if``, ``hll_merge`` and the scalars
``hll_merge`` and ``dcount_hll``.

Kusto's ``hll`` is a HyperLogLog sketch whose binary form it documents as unstable; only its
siblings read it. Here the intermediate is exact: the dynamic array of the distinct values (as
``make_set`` stores them), so ``dcount_hll`` gives exact distinct counts, which lie within the
error Kusto allows its estimate. Its size grows with the number of distinct values. The optional
accuracy argument is accepted and ignored. DuckDB only.
"""

from __future__ import annotations

from ..typed import Typed
from .aggregates import _not_null
from .common import INTEGER, K, duckdb_only, expect, sql, typed
from .conversion import to_json_value
from .registry import CompileContext, aggregate, scalar

_SET = "COALESCE(TRY_CAST($h AS JSON[]), CAST([] AS JSON[]))"


def _hll(ctx: CompileContext, name: str, value: Typed, predicate: Typed | None) -> Typed:
    duckdb_only(ctx, name)
    items = sql(
        ctx.dialect,
        "list(DISTINCT $j) FILTER (WHERE $c)",
        j=to_json_value(ctx, value),
        c=_not_null(ctx, value, predicate),
    )
    return typed(sql(ctx.dialect, "COALESCE(to_json($l), CAST('[]' AS JSON))", l=items), K.DYNAMIC)


@aggregate("hll", auto_name="hll_", min_args=1, max_args=2)
def _hll_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    if len(args) > 1:
        expect("hll", args, 1, *INTEGER)
    return _hll(ctx, "hll", args[0], None)


@aggregate("hll_if", auto_name="hll_if_", min_args=2, max_args=3)
def _hll_if(ctx: CompileContext, args: list[Typed]) -> Typed:
    predicate = expect("hll_if", args, 1, K.BOOL)
    if len(args) > 2:
        expect("hll_if", args, 2, *INTEGER)
    return _hll(ctx, "hll_if", args[0], predicate)


@aggregate("hll_merge", auto_name="hll_merge_", min_args=1, max_args=1)
def _hll_merge_aggregate(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The union of the group's intermediates."""
    duckdb_only(ctx, "hll_merge")
    sketch = expect("hll_merge", args, 0, K.DYNAMIC)
    body = f"to_json(COALESCE(list_distinct(flatten(list({_SET}))), CAST([] AS JSON[])))"
    return typed(sql(ctx.dialect, body, h=sketch), K.DYNAMIC)


@scalar("hll_merge", min_args=2, max_args=64)
def _hll_merge(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The union of the given intermediates."""
    duckdb_only(ctx, "hll_merge")
    parts = {f"h{i}": expect("hll_merge", args, i, K.DYNAMIC) for i in range(len(args))}
    sets = ", ".join(_SET.replace("$h", f"$h{i}") for i in range(len(args)))
    return typed(sql(ctx.dialect, f"to_json(list_distinct(flatten([{sets}])))", **parts), K.DYNAMIC)


@scalar("dcount_hll", min_args=1, max_args=1)
def _dcount_hll(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The distinct count an intermediate holds (long; 0 for null)."""
    duckdb_only(ctx, "dcount_hll")
    sketch = expect("dcount_hll", args, 0, K.DYNAMIC)
    return typed(sql(ctx.dialect, f"CAST(len({_SET}) AS BIGINT)", h=sketch), K.LONG)
