"""Special functions of statistics: ``erf``, ``erfc``, ``beta_pdf``, ``beta_cdf``, ``beta_inv``, and
``welch_test``.

DuckDB has neither an error function nor an incomplete beta function, so both are computed in SQL
with fixed-length ``list_reduce`` loops (no data-dependent iteration count, so every row costs the
same): ``erf`` by its series ``2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (2n+1)!!`` below |x| = 2
(positive terms: no cancellation) and ``erfc`` by its continued fraction from 2 on (so that
``erfc(3)`` keeps full relative precision); the regularized incomplete beta function by the
continued fraction of Numerical Recipes (modified Lentz), with the symmetry
``I_x(a, b) = 1 - I_(1-x)(b, a)`` where it converges faster; ``beta_inv`` by bisection of the CDF.

Kusto's documented domain rules: a null argument gives null; ``beta_cdf``/``beta_pdf`` of x outside
[0, 1] and any beta function with alpha or beta outside (0, 10000] give NaN; ``beta_inv`` of a
probability outside [0, 1] gives null.
"""

from __future__ import annotations

from sqlglot import exp

from ..typed import Typed
from .common import NUMERIC, K, coerce, duckdb_only, expect, sql, typed
from .registry import CompileContext, scalar

_SQRT_PI = "1.7724538509055159"

# erf(x) for |x| < 2 (x is __x): 60 positive terms reach double precision there.
_ERF_SERIES = (
    f"2 / {_SQRT_PI} * exp(-__x * __x) * list_reduce(range(1, 60), lambda __s, __n:"
    " {'t': __s.t * 2 * __x * __x / (2 * __n + 1), 's': __s.s + __s.t * 2 * __x * __x / (2 * __n + 1)},"
    " {'t': __x, 's': __x}).s"
)
# erfc(x) for x >= 2 (x is __a): the continued fraction x + (1/2)/(x + 1/(x + (3/2)/(x + ...))).
_ERFC_FRACTION = (
    f"exp(-__a * __a) / ({_SQRT_PI} * list_reduce(range(200, 0, -1), lambda __f, __k: __a + (__k / 2) / __f, __a))"
)


def _bind(value: str, name: str, body: str) -> str:
    """SQL evaluating ``body`` with ``name`` bound to ``value`` (evaluated once)."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def _erfc_of(x: str) -> str:
    """SQL of erfc(``x``), ``x`` an atomic DOUBLE expression."""
    large = _bind(f"abs({x})", "__a", _ERFC_FRACTION)
    small = _bind(x, "__x", f"1 - {_ERF_SERIES}")
    return f"CASE WHEN {x} >= 2 THEN {large} WHEN {x} <= -2 THEN 2 - {large} ELSE {small} END"


def _erf_of(x: str) -> str:
    large = _bind(f"abs({x})", "__a", _ERFC_FRACTION)
    small = _bind(x, "__x", _ERF_SERIES)
    return f"CASE WHEN {x} >= 2 THEN 1 - {large} WHEN {x} <= -2 THEN {large} - 1 ELSE {small} END"


def _real_args(ctx: CompileContext, name: str, args: list[Typed]) -> dict[str, exp.Expression]:
    duckdb_only(ctx, name)
    for i in range(len(args)):
        expect(name, args, i, *NUMERIC)
    return {f"v{i}": coerce(arg, K.REAL, ctx.dialect) for i, arg in enumerate(args)}


@scalar("erf", min_args=1, max_args=1)
def _erf(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The error function of a number, as a real (null for null)."""
    parts = _real_args(ctx, "erf", args)
    return typed(sql(ctx.dialect, _bind("$v0", "__v", _erf_of("__v")), **parts), K.REAL)


@scalar("erfc", min_args=1, max_args=1)
def _erfc(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The complementary error function ``1 - erf(x)``, computed without cancellation for large x."""
    parts = _real_args(ctx, "erfc", args)
    return typed(sql(ctx.dialect, _bind("$v0", "__v", _erfc_of("__v")), **parts), K.REAL)


# ------------------------------------------------------------------------------------ beta

_LOG_BETA = "(lgamma({a}) + lgamma({b}) - lgamma({a} + {b}))"
_BAD_SHAPE = "({a} <= 0 OR {a} > 10000 OR {b} <= 0 OR {b} > 10000)"
_NAN = "CAST('NaN' AS DOUBLE)"
_TINY = "1e-300"


def _fraction(x: str, a: str, b: str) -> str:
    """SQL of the continued fraction ``betacf(a, b, x)`` (Numerical Recipes 6.4) by modified Lentz.

    Half-step ``i`` applies, for ``m = (i + 1) // 2``, the even coefficient
    ``m(b-m)x / ((a+2m-1)(a+2m))`` (odd ``i``) or the odd one ``-(a+m)(a+b+m)x / ((a+2m)(a+2m+1))``;
    the state holds Lentz's ``c``, ``d`` and the value ``h``. 600 half-steps (300 terms) converge
    for shapes up to Kusto's limit of 10000 (the count needed grows as the square root of the shape).
    """
    m = "((__i + 1) // 2)"
    even = f"({m} * ({b} - {m}) * {x} / (({a} + 2 * {m} - 1) * ({a} + 2 * {m})))"
    odd = f"(-({a} + {m}) * ({a} + {b} + {m}) * {x} / (({a} + 2 * {m}) * ({a} + 2 * {m} + 1)))"
    coefficient = f"(CASE WHEN __i % 2 = 1 THEN {even} ELSE {odd} END)"
    # A denominator of exactly zero becomes tiny (Lentz's guard) so the fraction carries on.
    d = f"(1 + {coefficient} * __s.d)"
    d = f"(1 / CASE WHEN abs({d}) < {_TINY} THEN {_TINY} ELSE {d} END)"
    c = f"(1 + {coefficient} / __s.c)"
    c = f"(CASE WHEN abs({c}) < {_TINY} THEN {_TINY} ELSE {c} END)"
    step = f"{{'c': {c}, 'd': {d}, 'h': __s.h * {c} * {d}}}"
    first_d = f"(1 - ({a} + {b}) * {x} / ({a} + 1))"
    first_d = f"1 / (CASE WHEN abs({first_d}) < {_TINY} THEN {_TINY} ELSE {first_d} END)"
    start = f"{{'c': CAST(1 AS DOUBLE), 'd': {first_d}, 'h': {first_d}}}"
    return f"list_reduce(range(1, 601), lambda __s, __i: {step}, {start}).h"


def _regularized(x: str, a: str, b: str) -> str:
    """SQL of the regularized incomplete beta function I_x(a, b) for x in [0, 1], a, b > 0."""
    front = f"exp({a} * ln({x}) + {b} * ln(1 - {x}) - {_LOG_BETA.format(a=a, b=b)})"
    direct = f"{front} * {_fraction(x, a, b)} / {a}"
    mirrored = f"1 - {front} * {_fraction(f'(1 - {x})', b, a)} / {b}"
    return (
        f"CASE WHEN {x} = 0 THEN CAST(0 AS DOUBLE) WHEN {x} = 1 THEN CAST(1 AS DOUBLE)"
        f" WHEN {x} < ({a} + 1) / ({a} + {b} + 2) THEN {direct} ELSE {mirrored} END"
    )


def _beta(name: str, build) -> None:
    @scalar(name, min_args=3, max_args=3)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        parts = _real_args(ctx, name, args)
        body = _bind("{'x': $v0, 'a': $v1, 'b': $v2}", "__p", build("__p.x", "__p.a", "__p.b"))
        nulls = "$v0 IS NULL OR $v1 IS NULL OR $v2 IS NULL"
        return typed(sql(ctx.dialect, f"CASE WHEN {nulls} THEN NULL ELSE {body} END", **parts), K.REAL)


def _pdf(x: str, a: str, b: str) -> str:
    density = f"exp(({a} - 1) * ln({x}) + ({b} - 1) * ln(1 - {x}) - {_LOG_BETA.format(a=a, b=b)})"
    # At the ends the density is 0, or infinite when the exponent is negative, or 1/B(a,b) when it is 0.
    edge = (
        f"CASE WHEN ({x} = 0 AND {a} < 1) OR ({x} = 1 AND {b} < 1) THEN CAST('Infinity' AS DOUBLE)"
        f" WHEN ({x} = 0 AND {a} = 1) OR ({x} = 1 AND {b} = 1) THEN exp(-{_LOG_BETA.format(a=a, b=b)})"
        " ELSE CAST(0 AS DOUBLE) END"
    )
    return (
        f"CASE WHEN {x} < 0 OR {x} > 1 OR {_BAD_SHAPE.format(a=a, b=b)} THEN {_NAN}"
        f" WHEN {x} = 0 OR {x} = 1 THEN {edge} ELSE {density} END"
    )


def _cdf(x: str, a: str, b: str) -> str:
    return f"CASE WHEN {x} < 0 OR {x} > 1 OR {_BAD_SHAPE.format(a=a, b=b)} THEN {_NAN} ELSE {_regularized(x, a, b)} END"


def _inv(p: str, a: str, b: str) -> str:
    # Three rounds of a 256-point grid narrow the root to 2^-24 (a grid's CDFs are computed as one
    # vector, far cheaper in DuckDB than 24 sequential bisections), then two Newton steps
    # x - (I_x(a, b) - p) / pdf(x) reach double precision.
    def grid(lo: str, width: str) -> str:
        points = f"list_transform(range(1, 257), lambda __k: {lo} + __k * {width})"
        below = _regularized("__g", a, b)
        count = f"len(list_filter({points}, lambda __g: {below} < {p}))"
        return f"{lo} + {count} * {width}"

    x = "CAST(0 AS DOUBLE)"
    for width in ("0.00390625", "0.0000152587890625", "0.000000059604644775390625"):
        x = _bind(x, "__lo", grid("__lo", width))
    x = f"({x} + 0.0000000298023223876953125)"
    density = f"exp(({a} - 1) * ln(__y) + ({b} - 1) * ln(1 - __y) - {_LOG_BETA.format(a=a, b=b)})"
    newton = f"least(1.0, greatest(0.0, __y - ({_regularized('__y', a, b)} - {p}) / {density}))"
    for _ in range(2):
        x = _bind(x, "__y", newton)
    return (
        f"CASE WHEN {p} < 0 OR {p} > 1 THEN NULL WHEN {_BAD_SHAPE.format(a=a, b=b)} THEN {_NAN}"
        f" WHEN {p} = 0 THEN CAST(0 AS DOUBLE) WHEN {p} = 1 THEN CAST(1 AS DOUBLE) ELSE {x} END"
    )


_beta("beta_pdf", _pdf)
_beta("beta_cdf", _cdf)
_beta("beta_inv", _inv)


@scalar("welch_test", min_args=6, max_args=6)
def _welch_test(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The two-sided p-value of Welch's t-test from two samples' means, variances and counts.

    ``t = (m1 - m2) / sqrt(v1/c1 + v2/c2)`` with the Welch-Satterthwaite degrees of freedom ``df``;
    the p-value is ``I_(df/(df+t^2))(df/2, 1/2)``, the Student t tail on both sides. Null for null
    input, NaN when a count is below 2 or both variances are 0.
    """
    parts = _real_args(ctx, "welch_test", args)
    se = "(__w.v1 / __w.c1 + __w.v2 / __w.c2)"
    df = f"({se} * {se} / ((__w.v1 / __w.c1) * (__w.v1 / __w.c1) / (__w.c1 - 1)"
    df += " + (__w.v2 / __w.c2) * (__w.v2 / __w.c2) / (__w.c2 - 1)))"
    t2 = f"((__w.m1 - __w.m2) * (__w.m1 - __w.m2) / {se})"
    p_value = _bind(
        f"{{'df': {df}, 't2': {t2}}}", "__u", _regularized("(__u.df / (__u.df + __u.t2))", "(__u.df / 2)", "0.5")
    )
    inputs = "{'m1': $v0, 'v1': $v1, 'c1': $v2, 'm2': $v3, 'v2': $v4, 'c2': $v5}"
    guarded = f"CASE WHEN __w.c1 < 2 OR __w.c2 < 2 OR {se} <= 0 THEN {_NAN} ELSE {p_value} END"
    nulls = " OR ".join(f"$v{i} IS NULL" for i in range(6))
    body = f"CASE WHEN {nulls} THEN NULL ELSE {_bind(inputs, '__w', guarded)} END"
    return typed(sql(ctx.dialect, body, **parts), K.REAL)
