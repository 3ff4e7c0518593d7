"""The column names KQL infers for unnamed expressions (``extend``, ``project``, ``summarize``...).

Kusto names an expression after what it reads: a column reference keeps the column's name,
``d.a.b`` becomes ``d_a_b``, ``d["k"]`` ``d_k``; a function call follows the function's naming
rule: ``bin(T, 1h)`` and ``tostring(x)`` take their first argument's name, ``strlen(x)`` is
``strlen_x``, aggregates prefix it (``avg_x``, ``count_``, ``set_x`` for ``make_set``); every
other expression gets ``Column1``, ``Column2``... (or ``print_0``... in ``print``).
The rules below are facts about Kusto's behaviour, one entry per function.
"""

from __future__ import annotations

from . import ast

__all__ = ["FIRST_ARGUMENT", "PREFIXED", "expression_name", "function_name", "names_read"]

#: Functions named after their first argument (``bin(TimeGenerated, 1h)`` -> ``TimeGenerated``).
FIRST_ARGUMENT = frozenset(
    """
    abs acos asin atan atan2 bin bin_at bin_auto binary_all_and binary_all_or binary_all_xor binary_and
    binary_not binary_or binary_shift_left binary_shift_right binary_xor bitset_count_ones ceiling
    cos erf erfc exp exp10 exp2 floor format_bytes format_datetime format_timespan gamma log log10
    log2 loggamma parse_csv parse_json parse_xml parsejson passthrough pow rand round
    series_fill_backward series_fill_const series_fill_forward series_fill_linear series_fir
    series_iir series_outliers sin split sqrt startofday take_anyif tan tobool toboolean todatetime
    todecimal todouble todynamic toguid tohex toint tolong toobject toreal tostring totime
    totimespan
    """.split()  # noqa: SIM905 - a word list reads better than a column of strings
)

#: Functions named ``prefix_`` + their first argument's name (``avg(x)`` -> ``avg_x``, ``count()`` -> ``count_``).
PREFIXED: dict[str, str] = {
    "any": "any",
    "anyif": "anyif",
    "avg": "avg",
    "avgif": "avgif",
    "buildschema": "schema",
    "cnt": "cnt",
    "count": "count",
    "count_distinct": "count_distinct",
    "count_distinctif": "count_distinctif",
    "countif": "countif",
    "covariance": "covariance",
    "covarianceif": "covarianceif",
    "covariancep": "covariancep",
    "covariancepif": "covariancepif",
    "dcount": "dcount",
    "dcount_hll": "dcount_hll",
    "dcountif": "dcountif",
    "gettype": "type",
    "hll": "hll",
    "hll_if": "hll_if",
    "hll_merge": "hll_merge",
    "make_bag": "bag",
    "make_bag_if": "bag",
    "make_dictionary": "dictionary",
    "make_list": "list",
    "make_list_if": "list",
    "make_list_with_nulls": "list",
    "make_set": "set",
    "make_set_if": "set",
    "makelist": "list",
    "makeset": "set",
    "max": "max",
    "maxif": "maxif",
    "merge_tdigest": "merge_tdigests",
    "min": "min",
    "minif": "minif",
    "percentile_tdigest": "percentile_tdigest",
    "percentilesw_array": "percentile",
    "percentiles_array_tdigest": "percentile_tdigest",
    "repeat": "repeat",
    "stdev": "stdev",
    "stdevif": "stdevif",
    "stdevp": "stdevp",
    "string_size": "string_size",
    "strlen": "strlen",
    "sum": "sum",
    "sumif": "sumif",
    "tdigest": "tdigest",
    "tdigest_merge": "merge_tdigests",
    "treepath": "tree",
    "variance": "variance",
    "varianceif": "varianceif",
    "variancep": "variancep",
    "variancepif": "variancepif",
}

#: Functions named after their argument only when they have exactly one.
ONLY_ARGUMENT = frozenset({"make_datetime", "make_timespan"})


#: Two-argument aggregates Kusto names after both arguments (``covariance(x, y)`` -> ``covariance_x_y``).
BOTH_ARGUMENTS = frozenset({"covariance", "covarianceif", "covariancep", "covariancepif"})


def function_name(call: ast.Call) -> str | None:
    """The inferred column name of a call, or None when KQL falls back to ``ColumnN``."""
    name = call.name
    if name in BOTH_ARGUMENTS and len(call.args) >= 2:
        return f"{name}_{expression_name(call.args[0]) or ''}_{expression_name(call.args[1]) or ''}"
    if name in FIRST_ARGUMENT:
        return expression_name(call.args[0]) if call.args else None
    if name in PREFIXED:
        inner = expression_name(call.args[0]) if call.args else ""
        return f"{PREFIXED[name]}_{inner or ''}"
    if name in ONLY_ARGUMENT and len(call.args) == 1:
        return expression_name(call.args[0])
    return None


def expression_name(expr: ast.Expr) -> str | None:
    """The inferred column name of an expression, or None when KQL falls back to ``ColumnN``."""
    if isinstance(expr, ast.NameRef):
        return expr.name
    if isinstance(expr, ast.JoinSideRef):
        return expr.name
    if isinstance(expr, ast.MemberAccess):
        left = expression_name(expr.target)
        return f"{left}_{expr.member}" if left else expr.member
    if isinstance(expr, ast.Index):
        index = expr.index
        right = None
        if isinstance(index, ast.Literal) and index.type in ("string", "long", "int") and index.value is not None:
            right = str(index.value)
        left = expression_name(expr.target)
        if left:
            return f"{left}_{right or ''}"
        return right
    if isinstance(expr, ast.Call):
        return function_name(expr)
    return None


def names_read(node: object) -> set[str]:
    """The bare names a scalar expression reads (``$left``/``$right`` and sub-queries excluded)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.NameRef):
            found.add(item.name)
        elif isinstance(item, ast.Pipeline | ast.ToScalar | ast.Subquery):
            continue
        elif isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, ast.Node):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__ if f != "pos")
    return found
