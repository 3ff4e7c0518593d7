"""Aggregation functions (``summarize``): ``count``, ``countif``, ``dcount``, ``dcountif``,
``count_distinct(if)``, ``sum(if)``, ``avg(if)``, ``min(if)``, ``max(if)``, ``make_list(_if)``
(``makelist``, ``make_list_with_nulls``), ``make_set(_if)`` (``makeset``), ``make_bag(_if)``,
``percentile``, ``percentiles``, ``percentiles_array``, ``stdev(if)``, ``stdevp``,
``variance(if)``, ``variancep``, ``covariance``/``covariancep``, ``take_any``/``any``,
``take_anyif``/``anyif``, ``arg_max``/``arg_min`` (the two-argument form), ``binary_all_*``.

Each returns the SQL of one aggregate over the group. Kusto's rules kept: nulls are ignored;
``count``, ``countif``, ``dcount``, ``sum``, ``stdev``, ``variance`` (and their ``if`` forms) are
0, and ``make_list``/``make_set`` ``[]`` and ``make_bag`` ``{}``, over no values; ``sum`` of ints is
a long; ``avg`` of numbers is a real but of timespans a timespan and of datetimes a datetime;
``make_set`` of arrays collects their elements; ``percentile`` is the nearest-rank value (an actual
member of the group) with int widened to long and decimal to real.

``dcount``/``dcountif``/``count_distinct`` are exact (``count(DISTINCT x)``): DuckDB's exact distinct
count is fast enough at the benchmark's sizes, and an exact answer is always within Kusto's
HyperLogLog error bounds. ``percentile`` is exact too (``quantile_disc``), where Kusto estimates with
a T-Digest.

Auto names (the ``auto_name`` prefix, followed by the first argument's column name) follow the
Kusto language service's ``Aggregates.cs``: ``count_``, ``countif_``, ``dcount_X``, ``sum_X``,
``avg_X``, ``list_X`` (make_list and its variants), ``set_X``, ``bag_X``, ``stdev_X``,
``variance_X``, ``any_X`` (the deprecated ``any``). ``take_any``/``take_anyif``, ``arg_max`` and
``arg_min`` name their columns after the arguments themselves (``auto_name`` is ``""``).
``percentile(X, 95)`` is ``percentile_X_95``: use :func:`percentile_column_name`. ``percentiles``
yields one column per percentile: use :func:`percentile_columns`, listed in
:data:`MULTI_COLUMN_AGGREGATES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from ..errors import KqlUnsupportedError
from ..typed import Typed
from .common import INTEGER, NUMERIC, K, constant, duckdb_only, expect, fail, literal_typed, sql, typed
from .conversion import to_json_value
from .registry import CompileContext, aggregate

# ------------------------------------------------------------------------------------ helpers


def _filtered(ctx: CompileContext, call: str, predicate: Typed | None, **parts: Any) -> exp.Expression:
    """``call`` (an aggregate template over ``$x``...) restricted to rows where ``predicate`` holds."""
    if predicate is None:
        return sql(ctx.dialect, call, **parts)
    expect_bool(predicate)
    if ctx.dialect == "clickhouse":
        # ClickHouse's -If combinator: sum(x) -> sumIf(x, p).
        name, rest = call.split("(", 1)
        combined = f"{name}If({rest[:-1]}, $pred)"
        return sql(ctx.dialect, combined, pred=predicate, **parts)
    return sql(ctx.dialect, f"{call} FILTER (WHERE $pred)", pred=predicate, **parts)


def expect_bool(predicate: Typed) -> None:
    if predicate.type is not K.BOOL and not (predicate.is_constant and predicate.literal is None):
        raise fail("aggregate", f"the predicate must be bool, not {predicate.type}")


def _zero_default(ctx: CompileContext, expression: exp.Expression, kusto_type: K) -> Typed:
    return typed(sql(ctx.dialect, "COALESCE($v, $z)", v=expression, z=_zero(kusto_type)), kusto_type)


def _zero(kusto_type: K) -> exp.Expression:
    return exp.Literal.number("0.0" if kusto_type is K.REAL else "0")


# ------------------------------------------------------------------------------------ counting


@aggregate("count", auto_name="count_", min_args=0, max_args=1)
def _count(ctx: CompileContext, args: list[Typed]) -> Typed:
    # count(x) counts rows, nulls included (Kusto's engine: count(y) with a null y counts it).
    return typed(sql(ctx.dialect, "CAST(count(*) AS BIGINT)"), K.LONG)


@aggregate("countif", auto_name="countif_", min_args=1, max_args=1)
def _countif(ctx: CompileContext, args: list[Typed]) -> Typed:
    predicate = expect("countif", args, 0, K.BOOL)
    template = "count_if($p)" if ctx.dialect == "duckdb" else "countIf($p)"
    return typed(sql(ctx.dialect, f"CAST(COALESCE({template}, 0) AS BIGINT)", p=predicate), K.LONG)


def _distinct_count(ctx: CompileContext, value: Typed, predicate: Typed | None) -> Typed:
    if value.type is K.DYNAMIC:
        value = Typed(sql(ctx.dialect, "CAST($v AS VARCHAR)", v=value), K.STRING)
    if ctx.dialect == "clickhouse":
        call = "uniqExact($x)"
        return _zero_default(ctx, _filtered(ctx, call, predicate, x=value), K.LONG)
    body = _filtered(ctx, "count(DISTINCT $x)", predicate, x=value)
    return typed(sql(ctx.dialect, "CAST($c AS BIGINT)", c=body), K.LONG)


@aggregate("dcount", auto_name="dcount_", min_args=1, max_args=2)
def _dcount(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _distinct_count(ctx, args[0], None)


@aggregate("dcountif", auto_name="dcountif_", min_args=2, max_args=3)
def _dcountif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _distinct_count(ctx, args[0], expect("dcountif", args, 1, K.BOOL))


@aggregate("count_distinct", auto_name="count_distinct_", min_args=1, max_args=1)
def _count_distinct(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _distinct_count(ctx, args[0], None)


@aggregate("count_distinctif", auto_name="count_distinctif_", min_args=2, max_args=2)
def _count_distinctif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _distinct_count(ctx, args[0], expect("count_distinctif", args, 1, K.BOOL))


# ------------------------------------------------------------------------------------ numbers


def _sum(ctx: CompileContext, name: str, value: Typed, predicate: Typed | None) -> Typed:
    expect(name, [value], 0, *NUMERIC, K.TIMESPAN)
    result = K.LONG if value.type in INTEGER else value.type
    total = _filtered(ctx, "sum($x)", predicate, x=value)
    storage = result.duckdb if ctx.dialect == "duckdb" else result.clickhouse
    return typed(sql(ctx.dialect, f"CAST(COALESCE($t, 0) AS {storage})", t=total), result)


@aggregate("sum", auto_name="sum_", min_args=1, max_args=1)
def _sum_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _sum(ctx, "sum", args[0], None)


@aggregate("sumif", auto_name="sumif_", min_args=2, max_args=2)
def _sumif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _sum(ctx, "sumif", args[0], args[1])


def _avg(ctx: CompileContext, name: str, value: Typed, predicate: Typed | None) -> Typed:
    expect(name, [value], 0, *NUMERIC, K.TIMESPAN, K.DATETIME)
    if value.type is K.DATETIME:
        duckdb_only(ctx, f"{name} of a datetime")
        mean = _filtered(ctx, "avg(epoch_us($x))", predicate, x=value)
        return typed(sql(ctx.dialect, "make_timestamp(CAST($m AS BIGINT))", m=mean), K.DATETIME)
    mean = _filtered(ctx, "avg($x)", predicate, x=value)
    if value.type is K.TIMESPAN:
        return typed(sql(ctx.dialect, "CAST(round($m) AS BIGINT)", m=mean), K.TIMESPAN)
    if value.type is K.DECIMAL:
        return typed(sql(ctx.dialect, "CAST($m AS DECIMAL(38, 18))", m=mean), K.DECIMAL)
    return typed(sql(ctx.dialect, "CAST($m AS DOUBLE)" if ctx.dialect == "duckdb" else "toFloat64($m)", m=mean), K.REAL)


@aggregate("avg", auto_name="avg_", min_args=1, max_args=1)
def _avg_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _avg(ctx, "avg", args[0], None)


@aggregate("avgif", auto_name="avgif_", min_args=2, max_args=2)
def _avgif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _avg(ctx, "avgif", args[0], args[1])


def _extreme(ctx: CompileContext, function: str, value: Typed, predicate: Typed | None) -> Typed:
    body = _filtered(ctx, f"{function}($x)", predicate, x=value)
    if value.type is K.STRING:
        return typed(sql(ctx.dialect, "COALESCE($v, '')", v=body), K.STRING)
    return typed(body, value.type)


@aggregate("min", auto_name="min_", min_args=1, max_args=1)
def _min(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _extreme(ctx, "min", args[0], None)


@aggregate("max", auto_name="max_", min_args=1, max_args=1)
def _max(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _extreme(ctx, "max", args[0], None)


@aggregate("minif", auto_name="minif_", min_args=2, max_args=2)
def _minif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _extreme(ctx, "min", args[0], args[1])


@aggregate("maxif", auto_name="maxif_", min_args=2, max_args=2)
def _maxif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _extreme(ctx, "max", args[0], args[1])


def _statistic(names: str, auto_name: str, duck: str, house: str, with_predicate: bool) -> None:
    count = 2 if with_predicate else 1

    @aggregate(*names.split(), auto_name=auto_name, min_args=count, max_args=count)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        name = names.split()[0]
        value = expect(name, args, 0, *NUMERIC)
        call = f"{duck if ctx.dialect == 'duckdb' else house}(CAST($x AS DOUBLE))"
        if ctx.dialect == "clickhouse":
            call = f"{house}(toFloat64($x))"
        body = _filtered(ctx, call, args[1] if with_predicate else None, x=value)
        return _zero_default(ctx, body, K.REAL)


_statistic("stdev", "stdev_", "stddev_samp", "stddevSamp", False)
_statistic("stdevif", "stdevif_", "stddev_samp", "stddevSamp", True)
_statistic("stdevp", "stdevp_", "stddev_pop", "stddevPop", False)
_statistic("stdevpif", "stdevpif_", "stddev_pop", "stddevPop", True)
_statistic("variance", "variance_", "var_samp", "varSamp", False)
_statistic("varianceif", "varianceif_", "var_samp", "varSamp", True)
_statistic("variancep", "variancep_", "var_pop", "varPop", False)
_statistic("variancepif", "variancepif_", "var_pop", "varPop", True)


def _covariance(names: str, auto_name: str, duck: str, with_predicate: bool) -> None:
    count = 3 if with_predicate else 2

    @aggregate(*names.split(), auto_name=auto_name, min_args=count, max_args=count)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, names.split()[0])
        for i in range(2):
            expect(names.split()[0], args, i, *NUMERIC)
        call = f"{duck}(CAST($x AS DOUBLE), CAST($y AS DOUBLE))"
        body = _filtered(ctx, call, args[2] if with_predicate else None, x=args[0], y=args[1])
        return _zero_default(ctx, body, K.REAL)


_covariance("covariance", "covariance_", "covar_samp", False)
_covariance("covarianceif", "covarianceif_", "covar_samp", True)
_covariance("covariancep", "covariancep_", "covar_pop", False)
_covariance("covariancepif", "covariancepif_", "covar_pop", True)


def _bits(name: str, function: str) -> None:
    @aggregate(name, auto_name="", min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        expect(name, args, 0, *INTEGER)
        return typed(sql(ctx.dialect, f"{function}(CAST($x AS BIGINT))", x=args[0]), K.LONG)


_bits("binary_all_and", "bit_and")
_bits("binary_all_or", "bit_or")
_bits("binary_all_xor", "bit_xor")


# ------------------------------------------------------------------------------ any / arg_max


def _any(ctx: CompileContext, value: Typed, predicate: Typed | None) -> Typed:
    function = "any_value" if ctx.dialect == "duckdb" else "any"
    body = _filtered(ctx, f"{function}($x)", predicate, x=value)
    if value.type is K.STRING:
        return typed(sql(ctx.dialect, "COALESCE($v, '')", v=body), K.STRING)
    return typed(body, value.type)


@aggregate("take_any", auto_name="", min_args=1, max_args=1)
def _take_any(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _any(ctx, args[0], None)


@aggregate("any", auto_name="any_", min_args=1, max_args=1)
def _any_deprecated(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _any(ctx, args[0], None)


@aggregate("take_anyif", auto_name="", min_args=2, max_args=2)
def _take_anyif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _any(ctx, args[0], expect("take_anyif", args, 1, K.BOOL))


@aggregate("anyif", auto_name="anyif_", min_args=2, max_args=2)
def _anyif(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _any(ctx, args[0], expect("anyif", args, 1, K.BOOL))


def arg_extreme(ctx: CompileContext, by: Typed, value: Typed, maximize: bool) -> Typed:
    """The value of ``value`` on the row where ``by`` is largest (smallest); rows with a null ``by``
    are skipped, a null ``value`` on the chosen row is kept. For the generator's ``arg_max(t, *)``."""
    if ctx.dialect == "clickhouse":
        function = "argMax" if maximize else "argMin"
    else:
        function = "arg_max_null" if maximize else "arg_min_null"
    body = sql(ctx.dialect, f"{function}($v, $b)", v=value, b=by)
    if value.type is K.STRING:
        return typed(sql(ctx.dialect, "COALESCE($v, '')", v=body), K.STRING)
    return typed(body, value.type)


def _arg(name: str, maximize: bool) -> None:
    @aggregate(name, name.replace("_", ""), auto_name="", min_args=1, max_args=2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        if len(args) == 1:
            return _extreme(ctx, "max" if maximize else "min", args[0], None)
        return arg_extreme(ctx, args[0], args[1], maximize)


_arg("arg_max", maximize=True)
_arg("arg_min", maximize=False)


# -------------------------------------------------------------------------------- collections

_MAX_LIST = 1_048_576


def _max_size(name: str, args: list[Typed], index: int, default: int = _MAX_LIST) -> int:
    if len(args) <= index:
        return default
    size = constant(name, args, index, *INTEGER)
    if size is None or size < 0:
        raise fail(name, "the maximum size must be a non-negative constant")
    return min(int(size), _MAX_LIST) or default


def _json_list(ctx: CompileContext, items: exp.Expression, limit: int) -> Typed:
    body = "COALESCE(to_json($l), CAST('[]' AS JSON))"
    if limit < _MAX_LIST:
        body = f"COALESCE(to_json(list_slice($l, 1, {limit})), CAST('[]' AS JSON))"
    return typed(sql(ctx.dialect, body, l=items), K.DYNAMIC)


def _not_null(ctx: CompileContext, value: Typed, predicate: Typed | None) -> exp.Expression:
    condition = sql(ctx.dialect, "$x IS NOT NULL", x=value)
    if value.type is K.DYNAMIC:
        condition = sql(ctx.dialect, "COALESCE(json_type($x) <> 'NULL', FALSE)", x=value)
    if predicate is not None:
        expect_bool(predicate)
        condition = sql(ctx.dialect, "$c AND $p", c=condition, p=predicate)
    return condition


def _make_list(ctx: CompileContext, name: str, value: Typed, predicate: Typed | None, limit: int) -> Typed:
    duckdb_only(ctx, name)
    items = sql(
        ctx.dialect, "list($j) FILTER (WHERE $c)", j=to_json_value(ctx, value), c=_not_null(ctx, value, predicate)
    )
    return _json_list(ctx, items, limit)


@aggregate("make_list", auto_name="list_", min_args=1, max_args=2)
def _make_list_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _make_list(ctx, "make_list", args[0], None, _max_size("make_list", args, 1))


@aggregate("makelist", auto_name="list_", min_args=1, max_args=2)
def _makelist(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _make_list(ctx, "makelist", args[0], None, _max_size("makelist", args, 1, 128))


@aggregate("make_list_if", auto_name="list_", min_args=2, max_args=3)
def _make_list_if(ctx: CompileContext, args: list[Typed]) -> Typed:
    predicate = expect("make_list_if", args, 1, K.BOOL)
    return _make_list(ctx, "make_list_if", args[0], predicate, _max_size("make_list_if", args, 2))


@aggregate("make_list_with_nulls", auto_name="list_", min_args=1, max_args=1)
def _make_list_with_nulls(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "make_list_with_nulls")
    value = to_json_value(ctx, args[0])
    items = sql(ctx.dialect, "list(COALESCE($j, CAST('null' AS JSON)))", j=value)
    return _json_list(ctx, items, _MAX_LIST)


def _make_set(ctx: CompileContext, name: str, value: Typed, predicate: Typed | None, limit: int) -> Typed:
    duckdb_only(ctx, name)
    condition = _not_null(ctx, value, predicate)
    if value.type is K.DYNAMIC:
        # A dynamic array contributes its elements.
        elements = sql(
            ctx.dialect,
            "CASE WHEN json_type($x) = 'ARRAY' THEN CAST($x AS JSON[]) ELSE [$x] END",
            x=value,
        )
        items = sql(
            ctx.dialect,
            "list_filter(list_distinct(flatten(list($e) FILTER (WHERE $c))), lambda __e: json_type(__e) <> 'NULL')",
            e=elements,
            c=condition,
        )
    else:
        # list_distinct(list(...)) rather than list(DISTINCT ...): the generator may order list aggregates.
        items = sql(ctx.dialect, "list_distinct(list($j) FILTER (WHERE $c))", j=to_json_value(ctx, value), c=condition)
    return _json_list(ctx, items, limit)


@aggregate("make_set", auto_name="set_", min_args=1, max_args=2)
def _make_set_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _make_set(ctx, "make_set", args[0], None, _max_size("make_set", args, 1))


@aggregate("makeset", auto_name="set_", min_args=1, max_args=2)
def _makeset(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _make_set(ctx, "makeset", args[0], None, _max_size("makeset", args, 1, 128))


@aggregate("make_set_if", auto_name="set_", min_args=2, max_args=3)
def _make_set_if(ctx: CompileContext, args: list[Typed]) -> Typed:
    predicate = expect("make_set_if", args, 1, K.BOOL)
    return _make_set(ctx, "make_set_if", args[0], predicate, _max_size("make_set_if", args, 2))


def _make_bag(ctx: CompileContext, name: str, value: Typed, predicate: Typed | None) -> Typed:
    duckdb_only(ctx, name)
    expect(name, [value], 0, K.DYNAMIC)
    condition = sql(ctx.dialect, "json_type($x) = 'OBJECT'", x=value)
    if predicate is not None:
        expect_bool(predicate)
        condition = sql(ctx.dialect, "$c AND $p", c=condition, p=predicate)
    maps = sql(ctx.dialect, "list(TRY_CAST($x AS MAP(VARCHAR, JSON))) FILTER (WHERE $c)", x=value, c=condition)
    body = (
        "CASE WHEN len(COALESCE($m, [])) = 0 THEN CAST('{}' AS JSON)"
        " ELSE to_json(list_reduce($m, lambda __a, __b: map_concat(__a, __b))) END"
    )
    return typed(sql(ctx.dialect, body, m=maps), K.DYNAMIC)


@aggregate("make_bag", "make_dictionary", auto_name="bag_", min_args=1, max_args=2)
def _make_bag_impl(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _make_bag(ctx, "make_bag", args[0], None)


@aggregate("make_bag_if", auto_name="bag_", min_args=2, max_args=3)
def _make_bag_if(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _make_bag(ctx, "make_bag_if", args[0], expect("make_bag_if", args, 1, K.BOOL))


# -------------------------------------------------------------------------------- percentiles


def percentile_result_type(kusto_type: K) -> K:
    """int percentiles are long, decimal ones real; other types keep theirs."""
    return {K.INT: K.LONG, K.DECIMAL: K.REAL}.get(kusto_type, kusto_type)


def percentile_fragment(percent: float | int) -> str:
    """The name fragment of a percentile (``95`` -> ``95``, ``99.5`` -> ``99_5``)."""
    text = str(int(percent)) if float(percent) == int(percent) else repr(float(percent))
    return re.sub(r"[^0-9A-Za-z_]", "_", text)


def percentile_column_name(column: str, percent: float | int) -> str:
    """``percentile_<column>_<percent>``, the name Kusto gives ``percentile(column, percent)``."""
    return f"percentile_{column}_{percentile_fragment(percent)}"


def _percent(name: str, arg: Typed) -> float:
    value = constant(name, [arg], 0, *NUMERIC)
    if value is None or not 0 <= float(value) <= 100:
        raise fail(name, "a percentile must be a constant from 0 to 100")
    return float(value)


def percentile_of(ctx: CompileContext, value: Typed, percent: float) -> Typed:
    """The nearest-rank ``percent`` percentile of ``value`` over the group."""
    if value.type in {K.STRING, K.DYNAMIC, K.BOOL, K.GUID}:
        raise fail("percentile", f"cannot take a percentile of {value.type}")
    result = percentile_result_type(value.type)
    source = sql(ctx.dialect, "CAST($x AS DOUBLE)", x=value) if value.type is K.DECIMAL else value.sql
    fraction = exp.Literal.number(repr(percent / 100))
    if ctx.dialect == "clickhouse":
        body = sql(ctx.dialect, f"quantileExactLow({fraction.this})($x)", x=source)
    else:
        body = sql(ctx.dialect, "quantile_disc($x, $f)", x=source, f=fraction)
    if result is K.LONG and value.type is K.INT:
        body = sql(ctx.dialect, "CAST($b AS BIGINT)", b=body)
    return typed(body, result)


@aggregate("percentile", auto_name="percentile_", min_args=2, max_args=2)
def _percentile(ctx: CompileContext, args: list[Typed]) -> Typed:
    return percentile_of(ctx, args[0], _percent("percentile", args[1]))


def percentile_columns(ctx: CompileContext, args: list[Typed], column: str | None) -> list[tuple[str, Typed]]:
    """``percentiles(x, p1, p2, ...)`` as ``(column name, aggregate)`` pairs, one per percentile.

    ``column`` is the name of ``x`` when it is a plain column (None otherwise: Kusto then names
    them ``percentile_<p>``... here ``percentile__<p>``).
    """
    if len(args) < 2:
        raise fail("percentiles", "expects a value and at least one percentile")
    percents = _percents("percentiles", args[1:])
    return [(percentile_column_name(column or "", p), percentile_of(ctx, args[0], p)) for p in percents]


def _percents(name: str, args: list[Typed]) -> list[float]:
    if len(args) == 1 and args[0].type is K.DYNAMIC:
        values = constant(name, args, 0, K.DYNAMIC)
        if not isinstance(values, list) or not values:
            raise fail(name, "the percentiles must be a constant non-empty array")
        return [_percent(name, literal_typed(v, K.REAL)) for v in values]
    return [_percent(name, a) for a in args]


@aggregate("percentiles", auto_name="percentile_", min_args=2)
def _percentiles(ctx: CompileContext, args: list[Typed]) -> Typed:
    """A single-percentile ``percentiles(x, p)`` is ``percentile``; several need the generator's
    multi-column support (:data:`MULTI_COLUMN_AGGREGATES`)."""
    if len(args) == 2:
        return _percentile(ctx, args)
    raise KqlUnsupportedError(
        "percentiles() with several percentiles produces several columns: use percentile_columns()",
        construct="percentiles",
    )


@aggregate("percentiles_array", auto_name="percentiles_", min_args=2)
def _percentiles_array(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "percentiles_array")
    percents = _percents("percentiles_array", args[1:])
    values = [to_json_value(ctx, percentile_of(ctx, args[0], p)) for p in percents]
    return typed(exp.Anonymous(this="json_array", expressions=values), K.DYNAMIC)


#: Aggregates whose auto name joins the column names of their first N arguments
#: (``covariance(x, y)`` is ``covariance_x_y``) rather than the first one only.
AUTO_NAME_ARGUMENTS: dict[str, int] = {
    "covariance": 2,
    "covarianceif": 2,
    "covariancep": 2,
    "covariancepif": 2,
}

#: Aggregates that produce several columns: name -> ``f(ctx, args, column name) -> [(name, Typed)]``.
MULTI_COLUMN_AGGREGATES: dict[str, Callable[[CompileContext, list[Typed], str | None], list[tuple[str, Typed]]]] = {
    "percentiles": percentile_columns,
}
