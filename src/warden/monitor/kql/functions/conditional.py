"""Conditionals and null tests: ``iff``/``iif``, ``case``, ``coalesce``, ``not``, ``isempty``,
``isnotempty``/``notempty``, ``isnull``, ``isnotnull``/``notnull``.

Kusto's rules: a null condition takes the ``else`` branch; the branches must share a type (numbers
promote, a typed null adopts the other branch's type); ``coalesce`` returns the first non-null
argument, and for strings the first non-empty one (``''`` if none). ``isempty`` is true for null
and ``''`` (a dynamic value is empty when it is null or the empty string; ``[]`` and ``{}`` are
not); ``isnull`` of a string is always false (strings are never null) and of a dynamic value is
true for JSON ``null`` too.
"""

from __future__ import annotations

from sqlglot import exp

from ..typed import Typed
from .common import K, coerce, common_type, expect, fail, literal_typed, sql, typed
from .conversion import dynamic_text_sql
from .registry import CompileContext, scalar


def _branches(ctx: CompileContext, function: str, values: list[Typed]) -> tuple[K, list[exp.Expression]]:
    result = common_type(function, values)
    return result, [coerce(v, result, ctx.dialect) for v in values]


@scalar("iff", "iif", min_args=3, max_args=3)
def _iff(ctx: CompileContext, args: list[Typed]) -> Typed:
    condition = expect("iff", args, 0, K.BOOL)
    result, (then, otherwise) = _branches(ctx, "iff", args[1:])
    if condition.is_constant:
        chosen = args[1] if condition.literal else args[2]
        return typed(coerce(chosen, result, ctx.dialect), result, chosen.literal)
    return typed(sql(ctx.dialect, "CASE WHEN $c THEN $t ELSE $e END", c=condition, t=then, e=otherwise), result)


@scalar("case", min_args=3)
def _case(ctx: CompileContext, args: list[Typed]) -> Typed:
    if len(args) % 2 == 0:
        raise fail("case", "expects pairs of predicate and value followed by an else value")
    predicates = args[0:-1:2]
    for i in range(0, len(args) - 1, 2):
        expect("case", args, i, K.BOOL)
    result, values = _branches(ctx, "case", [*args[1:-1:2], args[-1]])
    ifs = [exp.If(this=p.sql, true=v) for p, v in zip(predicates, values[:-1], strict=True)]
    return typed(exp.Case(ifs=ifs, default=values[-1]), result)


@scalar("coalesce", min_args=2, max_args=64)
def _coalesce(ctx: CompileContext, args: list[Typed]) -> Typed:
    result, values = _branches(ctx, "coalesce", args)
    if result is K.STRING:
        # The first non-empty string, '' when all are empty.
        values = [sql(ctx.dialect, "NULLIF($v, '')", v=v) for v in values] + [exp.Literal.string("")]
    return typed(exp.Coalesce(this=values[0], expressions=values[1:]), result)


@scalar("not", min_args=1, max_args=1)
def _not(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = expect("not", args, 0, K.BOOL)
    if value.is_constant:
        return literal_typed(None if value.literal is None else not value.literal, K.BOOL)
    return typed(exp.Not(this=value.sql), K.BOOL)


def is_empty(ctx: CompileContext, value: Typed) -> exp.Expression:
    """SQL that is true when ``value`` is null or an empty string (never null itself)."""
    if value.type is K.STRING:
        return sql(ctx.dialect, "COALESCE($v, '') = ''", v=value)
    if value.type is K.DYNAMIC and ctx.dialect == "duckdb":
        return sql(ctx.dialect, "COALESCE($t, '') = ''", t=dynamic_text_sql(ctx.dialect, value))
    return is_null(ctx, value)


def is_null(ctx: CompileContext, value: Typed) -> exp.Expression:
    """SQL that is true when ``value`` is null (JSON ``null`` included; never null itself)."""
    if value.type is K.DYNAMIC and ctx.dialect == "duckdb":
        return sql(ctx.dialect, "COALESCE(json_type($v) = 'NULL', TRUE)", v=value)
    return sql(ctx.dialect, "$v IS NULL", v=value)


def _constant_empty(value: Typed) -> bool:
    literal = value.literal
    return literal is None or literal == ""


def _test(name: str, predicate, empty: bool, negate: bool) -> None:
    @scalar(*name.split(), min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        value = args[0]
        if value.is_constant and (empty or value.literal is None or value.type is not K.DYNAMIC):
            answer = _constant_empty(value) if empty else value.literal is None
            return literal_typed(answer != negate, K.BOOL)
        condition = predicate(ctx, value)
        return typed(exp.Not(this=exp.Paren(this=condition)) if negate else condition, K.BOOL)


_test("isempty", is_empty, empty=True, negate=False)
_test("isnotempty notempty", is_empty, empty=True, negate=True)
_test("isnull", is_null, empty=False, negate=False)
_test("isnotnull notnull", is_null, empty=False, negate=True)
