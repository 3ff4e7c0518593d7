"""The list operators: ``in``, ``!in``, ``in~``, ``!in~``, ``has_any``, ``has_all``.

The right side is constants (dynamic arrays flattened), a tabular expression (its first column),
or a dynamic array computed at run time (unnested per row). ``in`` is case-sensitive, ``in~``
compares lower-cased text; a negated form is true where the value is null.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from . import ast
from .binder import Relation
from .gen_expressions import RowEnv
from .gen_scalar_ops import like_escape, re2_escape
from .gen_sql import and_all, fn, ident, lit_str, literal, or_all
from .typed import Typed
from .types import KustoType

__all__ = ["ListOperators"]

_TERM = r"[^\pL\pN]"


class ListOperators:
    """Mixin of the generator: list operators."""

    # -------------------------------------------------------------------------------- in, has_any

    def in_values(self, node: ast.In, env: RowEnv) -> list[Typed] | Relation:
        """The right side of a list operator: constants/expressions, or a relation whose first column is the list."""
        if node.subquery is not None:
            return self.table_of(node.subquery, env.scope)
        if len(node.values) == 1:
            relation = self.maybe_table(node.values[0], env)
            if relation is not None:
                return relation
        values: list[Typed] = []
        for item in node.values:
            value = self.expr(item, env.but(in_filter=False))
            if value.type is KustoType.DYNAMIC and value.is_constant:
                items = value.literal if isinstance(value.literal, list) else [value.literal]
                values.extend(self._json_literal(v) for v in items if v is not None)
            elif value.type is KustoType.DYNAMIC and len(node.values) == 1:
                return self._array_rows(value)
            elif value.type is KustoType.DYNAMIC:
                raise self.binder.unsupported("a list operator over several non-constant dynamic arrays", item)
            else:
                values.append(value)
        return values

    def _array_rows(self, array: Typed) -> Relation:
        """A dynamic array computed at run time, as a one-column relation of its elements (as text)."""
        elements = fn("json_extract_string", array.sql, lit_str("$[*]"))
        inline = exp.select(exp.alias_(exp.Explode(this=elements), ident("v")))
        return Relation("__kql_list", {"v": KustoType.STRING}, inline=inline)

    def _json_literal(self, value: Any) -> Typed:
        if isinstance(value, bool):
            return literal(KustoType.BOOL, value, self.dialect)
        if isinstance(value, int):
            return literal(KustoType.LONG, value, self.dialect)
        if isinstance(value, float):
            return literal(KustoType.REAL, value, self.dialect)
        if isinstance(value, str):
            return literal(KustoType.STRING, value, self.dialect)
        return literal(KustoType.DYNAMIC, value, self.dialect)

    def in_op(self, node: ast.In, env: RowEnv) -> Typed:
        left = self.expr(node.expr, env.but(in_filter=False))
        values = self.in_values(node, env)
        op = node.op
        if op in {"has_any", "has_all"}:
            return self._has_list(op, self.to_string(left), values)
        negated = op.startswith("!")
        insensitive = op.endswith("~")
        if isinstance(values, Relation):
            first = next(iter(values.columns))
            item = Typed(values.ref(first), values.columns[first])
            if left.type is KustoType.DYNAMIC:
                left = self.coerce(left, item.type)
            if insensitive or (left.type is KustoType.STRING and item.type is not KustoType.STRING):
                left, item = self.to_string(left), self.to_string(item)
            if insensitive:
                left, item = Typed(self.lower(left.sql), left.type), Typed(self.lower(item.sql), item.type)
            query = exp.select(item.sql).from_(self.relation_table(values), copy=False)
            sql: exp.Expression = exp.In(this=left.sql, query=exp.Subquery(this=query))
        else:
            if not values:
                return literal(KustoType.BOOL, negated, self.dialect)
            if left.type is KustoType.DYNAMIC:
                left = self.coerce(left, values[0].type)
            if insensitive or left.type is KustoType.STRING:
                left = self.to_string(left)
                values = [self.to_string(v) for v in values]
            if insensitive:
                left = Typed(self.lower(left.sql), left.type)
                values = [
                    literal(KustoType.STRING, v.literal.lower(), self.dialect)
                    if v.is_constant and isinstance(v.literal, str)
                    else Typed(self.lower(v.sql), v.type)
                    for v in values
                ]
            elif left.type.is_numeric:
                values = [self.coerce(v, left.type) if v.type.is_numeric else v for v in values]
            sql = exp.In(this=left.sql, expressions=[v.sql for v in values])
        if negated:
            sql = exp.Not(this=exp.Paren(this=sql))
        if left.type is not KustoType.STRING or isinstance(values, Relation):
            sql = exp.Coalesce(this=sql, expressions=[exp.Boolean(this=negated)])
        return Typed(sql, KustoType.BOOL)

    def _has_list(self, op: str, left: Typed, values: list[Typed] | Relation) -> Typed:
        if isinstance(values, Relation):
            first = next(iter(values.columns))
            term = self.to_string(Typed(values.ref(first, "__kql_terms"), values.columns[first]))
            test = self._string_positive("has", left, term)
            query = (
                exp.select(exp.Literal.number(1))
                .from_(self.relation_table(values, "__kql_terms"), copy=False)
                .where(test, copy=False)
            )
            if op == "has_any":
                return Typed(exp.Exists(this=query), KustoType.BOOL)
            count = exp.select(exp.Count(this=exp.Star())).from_(self.relation_table(values, "__kql_terms"), copy=False)
            matched = exp.select(exp.Count(this=exp.Star())).from_(
                self.relation_table(values, "__kql_terms"), copy=False
            )
            matched = matched.where(test.copy(), copy=False)
            return Typed(exp.EQ(this=exp.Subquery(this=matched), expression=exp.Subquery(this=count)), KustoType.BOOL)
        terms = [self.to_string(v) for v in values]
        if not terms:
            return literal(KustoType.BOOL, op == "has_all", self.dialect)
        constant = [t.literal for t in terms if t.is_constant and isinstance(t.literal, str)]
        if op == "has_all" or len(constant) != len(terms) or any(not c for c in constant):
            parts = [self._string_positive("has", left, t) for t in terms]
            return Typed(exp.Paren(this=(and_all if op == "has_all" else or_all)(parts)), KustoType.BOOL)
        prefilter = or_all(
            [
                self.like(left.sql, f"%{like_escape(c)}%", case_sensitive=False, escaped=like_escape(c) != c)
                for c in constant
            ]
        )
        alternation = "|".join(re2_escape(c) for c in constant)
        regex = exp.RegexpLike(
            this=left.sql.copy(), expression=lit_str(f"(?i)(?:^|{_TERM})(?:{alternation})(?:$|{_TERM})")
        )
        return Typed(exp.And(this=exp.Paren(this=prefilter), expression=regex), KustoType.BOOL)
