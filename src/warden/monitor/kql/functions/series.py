"""Series (numeric array) functions: the element-wise ``series_add``/``subtract``/``multiply``/
``divide``/``pow``, the comparisons ``series_greater``/``greater_equals``/``less``/``less_equals``/
``equals``/``not_equals``, the element-wise math ``series_abs``/``acos``/``asin``/``atan``/
``ceiling``/``cos``/``exp``/``floor``/``log``/``sign``/``sin``/``sqrt``/``tan``, the reductions
``series_sum``/``series_product``/``series_magnitude``/``series_dot_product``/
``series_cosine_similarity``/``series_pearson_correlation``/``series_stats_dynamic``, the gap
fillers ``series_fill_forward``/``series_fill_backward``/``series_fill_const``/``series_fill_linear``,
the filters ``series_fir``/``series_iir`` and the line fit ``series_fit_line``.

Kusto's rules (its docs): a series is a dynamic array; an element that is not a number, or that
is missing because the other array is shorter, yields a null element; a plain number given instead
of an array applies to every element (``series_multiply(10, s)``). Results are arrays of reals
(comparisons: of bools). Anything that is not an array gives null.
"""

from __future__ import annotations

from sqlglot import exp

from ..typed import Typed
from .common import NUMERIC, K, constant, duckdb_only, expect, fail, sql, typed
from .dynamic import json_list
from .registry import EXPANDED, CompileContext, scalar

# A JSON element as a DOUBLE: null unless it is a JSON number.
_NUMBER = "CASE WHEN json_type({e}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST({e} AS DOUBLE) END"


def _numbers(ctx: CompileContext, function: str, arg: Typed, index: int) -> exp.Expression:
    """``DOUBLE[]`` of a dynamic array (non-numbers as NULL); null for a non-array."""
    expect(function, [arg], 0, K.DYNAMIC)
    element = _NUMBER.format(e="__n")
    return sql(ctx.dialect, f"list_transform($l, lambda __n: {element})", l=json_list(ctx, arg))


def _dynamic(ctx: CompileContext, list_sql: exp.Expression) -> Typed:
    return typed(sql(ctx.dialect, "to_json($l)", l=list_sql), K.DYNAMIC)


def _operand(ctx: CompileContext, function: str, args: list[Typed], index: int) -> tuple[exp.Expression, bool]:
    """The SQL of operand ``index`` and whether it is an array (else a number broadcast to all)."""
    arg = args[index]
    if arg.type in NUMERIC:
        return sql(ctx.dialect, "CAST($v AS DOUBLE)", v=arg), False
    if arg.type is not K.DYNAMIC:
        raise fail(function, f"argument #{index + 1} must be a dynamic array or a number, not {arg.type}")
    return _numbers(ctx, function, arg, index), True


def _binary(name: str, operation: str, result: str = "DOUBLE") -> None:
    """Register ``name(s1, s2)``: ``operation`` over ``{a}``/``{b}`` (DOUBLE) element by element."""

    @scalar(name, min_args=2, max_args=2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        (left, left_array), (right, right_array) = (_operand(ctx, name, args, i) for i in range(2))
        if not (left_array or right_array):
            raise fail(name, "at least one argument must be a dynamic array")
        a = "$a[__i + 1]" if left_array else "$a"
        b = "$b[__i + 1]" if right_array else "$b"
        lengths = [f"len({v})" for v, is_array in (("$a", left_array), ("$b", right_array)) if is_array]
        # Arrays of different lengths: the result is as long as the longer, missing elements null.
        longest = lengths[0] if len(lengths) == 1 else f"greatest({lengths[0]}, {lengths[1]})"
        nulls = " OR ".join(f"{v} IS NULL" for v, is_array in (("$a", left_array), ("$b", right_array)) if is_array)
        element = f"CAST({operation.format(a=a, b=b)} AS {result})"
        body = f"CASE WHEN {nulls} THEN NULL ELSE list_transform(range({longest}), lambda __i: {element}) END"
        return _dynamic(ctx, sql(ctx.dialect, body, a=left, b=right))


for _name, _operation in (
    ("series_add", "{a} + {b}"),
    ("series_subtract", "{a} - {b}"),
    ("series_multiply", "{a} * {b}"),
    # Division by zero follows IEEE (inf or NaN), as in Kusto's real arithmetic.
    ("series_divide", "{a} / {b}"),
    ("series_pow", "pow({a}, {b})"),
):
    _binary(_name, _operation)

for _name, _operation in (
    ("series_greater", "{a} > {b}"),
    ("series_greater_equals", "{a} >= {b}"),
    ("series_less", "{a} < {b}"),
    ("series_less_equals", "{a} <= {b}"),
    ("series_equals", "{a} = {b}"),
    ("series_not_equals", "{a} <> {b}"),
):
    _binary(_name, _operation, "BOOLEAN")


def _unary(name: str, operation: str) -> None:
    """Register ``name(s)``: ``operation`` over ``{x}`` (DOUBLE) for every element."""

    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        numbers = _numbers(ctx, name, args[0], 0)
        element = operation.format(x="__x")
        return _dynamic(ctx, sql(ctx.dialect, f"list_transform($l, lambda __x: {element})", l=numbers))


for _name, _operation in (
    ("series_abs", "abs({x})"),
    ("series_acos", "acos({x})"),
    ("series_asin", "asin({x})"),
    ("series_atan", "atan({x})"),
    ("series_ceiling", "ceil({x})"),
    ("series_cos", "cos({x})"),
    ("series_exp", "exp({x})"),
    ("series_floor", "floor({x})"),
    # Kusto's log of a negative number is null and log(0) is -inf (as its scalar log()).
    ("series_log", "CASE WHEN {x} < 0 THEN NULL WHEN {x} = 0 THEN CAST('-Infinity' AS DOUBLE) ELSE ln({x}) END"),
    ("series_sign", "CAST(sign({x}) AS DOUBLE)"),
    ("series_sin", "sin({x})"),
    ("series_sqrt", "CASE WHEN {x} < 0 THEN NULL ELSE sqrt({x}) END"),
    ("series_tan", "tan({x})"),
):
    _unary(_name, _operation)


# -------------------------------------------------------------------------------- reductions


def _reduction(name: str, body: str, arity: int = 1) -> None:
    """Register ``name(s...) -> real`` from ``body`` over the DOUBLE[] lists ``$a`` (and ``$b``)."""

    @scalar(name, min_args=arity, max_args=arity)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        lists = {key: _numbers(ctx, name, args[i], i) for i, key in enumerate("ab"[:arity])}
        nulls = " OR ".join(f"${key} IS NULL" for key in lists)
        return typed(sql(ctx.dialect, f"CASE WHEN {nulls} THEN NULL ELSE {body} END", **lists), K.REAL)


_DOT = "list_sum(list_transform(range(least(len($a), len($b))), lambda __i: $a[__i + 1] * $b[__i + 1]))"
# Sums skip null elements (Kusto ignores non-numeric elements in its series reductions).
_reduction("series_sum", "CAST(COALESCE(list_sum($a), 0) AS DOUBLE)")
_reduction("series_magnitude", "sqrt(COALESCE(list_sum(list_transform($a, lambda __x: __x * __x)), 0))")
_reduction("series_dot_product", f"COALESCE({_DOT}, 0)", arity=2)
_reduction(
    "series_cosine_similarity",
    f"{_DOT} / (sqrt(list_sum(list_transform($a, lambda __x: __x * __x)))"
    " * sqrt(list_sum(list_transform($b, lambda __x: __x * __x))))",
    arity=2,
)

_reduction("series_product", "CAST(COALESCE(list_product(list_filter($a, lambda __x: __x IS NOT NULL)), 1) AS DOUBLE)")
# Pearson's r; a non-number or a length mismatch makes it null (Kusto's docs).
_reduction(
    "series_pearson_correlation",
    "CASE WHEN len($a) <> len($b) OR list_contains(list_transform(list_concat($a, $b), lambda __x: __x IS NULL), true)"
    " THEN NULL ELSE list_transform([{'ma': list_avg($a), 'mb': list_avg($b)}], lambda __m:"
    " list_sum(list_transform(range(len($a)), lambda __i: ($a[__i + 1] - __m.ma) * ($b[__i + 1] - __m.mb)))"
    " / sqrt(list_sum(list_transform($a, lambda __x: (__x - __m.ma) * (__x - __m.ma)))"
    " * list_sum(list_transform($b, lambda __x: (__x - __m.mb) * (__x - __m.mb)))))[1] END",
    arity=2,
)


@scalar("series_stats_dynamic", "series_stats", min_args=1, max_args=2)
def _series_stats_dynamic(ctx: CompileContext, args: list[Typed]) -> Typed:
    """A bag of ``min``, ``min_idx``, ``max``, ``max_idx``, ``avg``, ``stdev``, ``variance`` (sample),
    ``sum`` and ``len`` over the numeric elements (``ignore_nonfinite`` drops NaN and infinities);
    ``series_stats`` expands the first seven into columns."""
    duckdb_only(ctx, "series_stats_dynamic")
    numbers = _numbers(ctx, "series_stats_dynamic", args[0], 0)
    ignore = bool(constant("series_stats_dynamic", args, 1, K.BOOL)) if len(args) > 1 else False
    keep = "__x IS NOT NULL AND isfinite(__x)" if ignore else "__x IS NOT NULL"
    body = (
        f"list_transform([list_filter($l, lambda __x: {keep})], lambda __v: json_object("
        "'min', list_min(__v), 'min_idx', list_position($l, list_min(__v)) - 1,"
        " 'max', list_max(__v), 'max_idx', list_position($l, list_max(__v)) - 1,"
        " 'avg', list_avg(__v), 'stdev', list_stddev_samp(__v), 'variance', list_var_samp(__v),"
        " 'sum', CAST(list_sum(__v) AS DOUBLE), 'len', len(__v)))[1]"
    )
    return typed(sql(ctx.dialect, f"CASE WHEN $l IS NULL THEN NULL ELSE {body} END", l=numbers), K.DYNAMIC)


# ------------------------------------------------------------------------------------ filling


def _fill(name: str, backward: bool) -> None:
    @scalar(name, min_args=1, max_args=2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        """Nulls replaced by the nearest earlier (forward) or later (backward) non-null element;
        nulls with none stay null. ``missing_value_placeholder`` other than null is refused."""
        duckdb_only(ctx, name)
        if len(args) > 1 and not (args[1].is_constant and args[1].literal is None):
            raise fail(name, "only null is supported as the missing value placeholder")
        expect(name, args, 0, K.DYNAMIC)
        items = json_list(ctx, args[0])
        missing = "COALESCE(json_type({e}) = 'NULL', TRUE)"
        if backward:
            seek = f"list_filter(list_slice($l, __i, len($l)), lambda __e: NOT {missing.format(e='__e')})[1]"
        else:
            seek = f"list_filter(list_reverse(list_slice($l, 1, __i)), lambda __e: NOT {missing.format(e='__e')})[1]"
        element = f"CASE WHEN {missing.format(e='$l[__i]')} THEN {seek} ELSE $l[__i] END"
        body = f"to_json(list_transform(range(1, len($l) + 1), lambda __i: {element}))"
        return typed(sql(ctx.dialect, f"CASE WHEN $l IS NULL THEN NULL ELSE {body} END", l=items), K.DYNAMIC)


_fill("series_fill_forward", backward=False)
_fill("series_fill_backward", backward=True)


@scalar("series_fill_const", min_args=1, max_args=3)
def _series_fill_const(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Null elements replaced by ``constant_value`` (default 0)."""
    duckdb_only(ctx, "series_fill_const")
    expect("series_fill_const", args, 0, K.DYNAMIC)
    if len(args) > 2 and not (args[2].is_constant and args[2].literal is None):
        raise fail("series_fill_const", "only null is supported as the missing value placeholder")
    value = sql(ctx.dialect, "to_json($v)", v=args[1]) if len(args) > 1 else sql(ctx.dialect, "to_json(0)")
    element = "CASE WHEN COALESCE(json_type(__e) = 'NULL', TRUE) THEN $v ELSE __e END"
    body = f"CASE WHEN $l IS NULL THEN NULL ELSE to_json(list_transform($l, lambda __e: {element})) END"
    return typed(sql(ctx.dialect, body, l=json_list(ctx, args[0]), v=value), K.DYNAMIC)


@scalar("series_fill_linear", min_args=1, max_args=4)
def _series_fill_linear(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Nulls replaced by linear interpolation between the nearest numbers on each side; at the
    edges (``fill_edges``, default true) by the nearest number, else kept; an array of nulls only
    is filled with ``constant_value`` (default 0; null keeps it). An array of whole numbers gets
    whole numbers (interpolated values truncated), as Kusto's docs show."""
    name = "series_fill_linear"
    duckdb_only(ctx, name)
    if len(args) > 1 and not (args[1].is_constant and args[1].literal is None):
        raise fail(name, "only null is supported as the missing value placeholder")
    numbers = _numbers(ctx, name, args[0], 0)
    edges: object = expect(name, args, 2, K.BOOL) if len(args) > 2 else True
    fill = sql(ctx.dialect, "CAST($c AS DOUBLE)", c=expect(name, args, 3, *NUMERIC)) if len(args) > 3 else 0.0
    known = "list_filter(range(1, len($l) + 1), lambda __k: $l[__k] IS NOT NULL)"
    before = "list_max(list_filter(__known, lambda __k: __k <= __i))"
    after = "list_min(list_filter(__known, lambda __k: __k >= __i))"
    interpolate = (
        "CASE WHEN $l[__i] IS NOT NULL THEN $l[__i]"
        " WHEN __b.p IS NOT NULL AND __b.q IS NOT NULL"
        " THEN $l[__b.p] + ($l[__b.q] - $l[__b.p]) * (__i - __b.p) / (__b.q - __b.p)"
        " WHEN $e IS NOT FALSE THEN COALESCE($l[__b.p], $l[__b.q]) END"
    )
    element = f"list_transform([{{'p': {before}, 'q': {after}}}], lambda __b: {interpolate})[1]"
    whole = (
        "list_bool_and(list_transform(json_list, lambda __e: json_type(__e) IN ('BIGINT', 'UBIGINT', 'NULL')))"
    ).replace("json_list", "$j")
    filled = (
        f"list_transform([{known}], lambda __known: CASE WHEN len(__known) = 0"
        " THEN list_transform($l, lambda __x: $c)"
        f" ELSE list_transform(range(1, len($l) + 1), lambda __i: {element}) END)[1]"
    )
    body = (
        f"CASE WHEN $l IS NULL THEN NULL WHEN {whole} THEN to_json(list_transform({filled},"
        f" lambda __v: CAST(trunc(__v) AS BIGINT))) ELSE to_json({filled}) END"
    )
    items = json_list(ctx, args[0])
    return typed(sql(ctx.dialect, body, l=numbers, j=items, e=edges, c=fill), K.DYNAMIC)


@scalar("series_fir", min_args=2, max_args=4)
def _series_fir(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The finite impulse response filter ``y[i] = sum_k f[k] * x[i - k]`` (elements outside the
    series count as 0); ``normalize`` (default true) divides by the sum of the coefficients (null
    when that sum is 0); ``center`` (default false) shifts the window by ``(len(f) - 1) // 2`` so it
    is symmetric around the point. Non-numeric elements count as 0."""
    duckdb_only(ctx, "series_fir")
    x, f = (_numbers(ctx, "series_fir", args[i], i) for i in range(2))
    normalize: object = expect("series_fir", args, 2, K.BOOL) if len(args) > 2 else True
    center: object = expect("series_fir", args, 3, K.BOOL) if len(args) > 3 else False
    shift = "(CASE WHEN $c THEN (len($f) - 1) // 2 ELSE 0 END)"
    at = f"__i + {shift} - __k"  # the 0-based position of the input element
    term = f"COALESCE($f[__k + 1], 0) * COALESCE(CASE WHEN {at} BETWEEN 0 AND len($x) - 1 THEN $x[{at} + 1] END, 0)"
    total = f"list_sum(list_transform(range(len($f)), lambda __k: {term}))"
    scale = "CASE WHEN $n THEN list_sum(list_transform($f, lambda __v: COALESCE(__v, 0))) ELSE 1 END"
    body = (
        "CASE WHEN $x IS NULL OR $f IS NULL OR len($f) = 0 OR (" + scale + ") = 0 THEN NULL"
        f" ELSE list_transform(range(len($x)), lambda __i: CAST({total} AS DOUBLE) / ({scale})) END"
    )
    return _dynamic(ctx, sql(ctx.dialect, body, x=x, f=f, n=normalize, c=center))


@scalar("series_iir", min_args=3, max_args=3)
def _series_iir(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The infinite impulse response filter: ``y[i] = (sum_k b[k]*x[i-k] - sum_{k>=1} a[k]*y[i-k]) / a[0]``
    (missing earlier elements count as 0), as Kusto's ``series_iir(x, numerators, denominators)``."""
    duckdb_only(ctx, "series_iir")
    x, b, a = (_numbers(ctx, "series_iir", args[i], i) for i in range(3))
    # The output so far is the reduce state (a list); each step appends y[i].
    feed = "list_sum(list_transform(range(least(len($b), __i + 1)), lambda __k: $b[__k + 1] * $x[__i - __k + 1]))"
    back = (
        "COALESCE(list_sum(list_transform(range(1, least(len($a), __i + 1)),"
        " lambda __k: $a[__k + 1] * __y[__i - __k + 1])), 0)"
    )
    step = f"list_append(__y, ({feed} - {back}) / $a[1])"
    body = f"list_reduce(range(len($x)), lambda __y, __i: {step}, CAST([] AS DOUBLE[]))"
    guarded = f"CASE WHEN $x IS NULL OR $a IS NULL OR $b IS NULL THEN NULL ELSE {body} END"
    return _dynamic(ctx, sql(ctx.dialect, guarded, x=x, b=b, a=a))


EXPANDED["series_stats"] = (
    ("min", "real"),
    ("min_idx", "long"),
    ("max", "real"),
    ("max_idx", "long"),
    ("avg", "real"),
    ("stdev", "real"),
    ("variance", "real"),
)


@scalar("series_fit_line_dynamic", "series_fit_line", min_args=1, max_args=1)
def _series_fit_line(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The least-squares line through the series over x = 1, 2, ... n: a bag of ``slope``,
    ``interception``, ``rsquare``, ``variance`` (of the series, n - 1), ``rvariance`` (of the
    residuals, n - 1) and ``line_fit`` (the line's values); ``series_fit_line`` expands it into
    columns. Non-numeric elements count as missing points."""
    duckdb_only(ctx, "series_fit_line")
    numbers = _numbers(ctx, "series_fit_line", args[0], 0)
    points = "list_filter(list_transform($l, lambda __y, __i: {'x': __i, 'y': __y}), lambda __p: __p.y IS NOT NULL)"
    means = (
        "{'p': __v, 'mx': list_avg(list_transform(__v, lambda __p: __p.x)),"
        " 'my': list_avg(list_transform(__v, lambda __p: __p.y))}"
    )
    sums = (
        "{'m': __m, 'sxy': list_sum(list_transform(__m.p, lambda __p: (__p.x - __m.mx) * (__p.y - __m.my))),"
        " 'sxx': list_sum(list_transform(__m.p, lambda __p: (__p.x - __m.mx) * (__p.x - __m.mx))),"
        " 'tot': list_sum(list_transform(__m.p, lambda __p: (__p.y - __m.my) * (__p.y - __m.my)))}"
    )
    line = "{'s': __s, 'slope': __s.sxy / __s.sxx, 'icpt': __s.m.my - __s.sxy / __s.sxx * __s.m.mx}"
    error = "(__p.y - __f.icpt - __f.slope * __p.x)"
    residual = f"list_sum(list_transform(__f.s.m.p, lambda __p: {error} * {error}))"
    bag = (
        "json_object('slope', __f.slope, 'interception', __f.icpt,"
        f" 'rsquare', 1 - {residual} / __f.s.tot, 'variance', __f.s.tot / (len(__f.s.m.p) - 1),"
        f" 'rvariance', {residual} / (len(__f.s.m.p) - 1),"
        " 'line_fit', list_transform(range(1, len($l) + 1), lambda __x: __f.icpt + __f.slope * __x))"
    )
    body = (
        f"list_transform([{points}], lambda __v: list_transform([{means}], lambda __m: list_transform([{sums}],"
        f" lambda __s: list_transform([{line}], lambda __f: {bag})[1])[1])[1])[1]"
    )
    return typed(
        sql(ctx.dialect, f"CASE WHEN $l IS NULL OR len($l) = 0 THEN NULL ELSE {body} END", l=numbers), K.DYNAMIC
    )


EXPANDED["series_fit_line"] = (
    ("rsquare", "real"),
    ("slope", "real"),
    ("variance", "real"),
    ("rvariance", "real"),
    ("interception", "real"),
    ("line_fit", "dynamic"),
)
