"""Scalar expressions: AST -> :class:`Typed` (sqlglot + Kusto type), with names resolved by the binder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from . import ast
from .binder import Binding, Relation, Scope
from .errors import KqlError
from .gen_dynamic import dynamic_access
from .gen_scalar_ops import ARITHMETIC, COMPARISONS, STRING_OPERATORS, ScalarOps, like_escape, re2_escape
from .gen_sql import and_all, cast, col, fn, ident, lit_str, literal, or_all
from .typed import Typed
from .types import KustoType

__all__ = ["ExpressionCompiler", "RowEnv"]

_TERM = r"[^\pL\pN]"


@dataclass
class RowEnv:
    """What a scalar expression can see: the current row's columns and the names in scope.

    ``defined`` holds columns computed earlier in the same operator (inlined where used);
    ``table`` qualifies column references; ``sides`` are the ``$left``/``$right`` rows of a join
    condition; ``aggregate`` allows aggregation functions; ``relation`` is the input (its order
    drives ``row_number``/``prev``/``next``); ``in_filter`` marks the and/or spine of a ``where``
    predicate, where null and false are the same.
    """

    columns: dict[str, KustoType]
    scope: Scope
    table: str | None = None
    defined: dict[str, Typed] = field(default_factory=dict)
    aggregate: bool = False
    sides: dict[str, RowEnv] | None = None
    relation: Relation | None = None
    in_filter: bool = False
    sql: dict[str, str] = field(default_factory=dict)
    # Window expressions computed in steps before the current one: (level, column, SQL).
    hoisted: list[tuple[int, str, exp.Expression]] = field(default_factory=list)
    hoisted_levels: dict[str, int] = field(default_factory=dict)
    # scan: the values ``step.field`` reads in the current step's context.
    steps: dict[str, dict[str, Typed]] | None = None

    def but(self, **changes: Any) -> RowEnv:
        return dataclasses.replace(self, **changes)


class ExpressionCompiler(ScalarOps):
    """Mixin of the generator: compiles scalar AST nodes."""

    def expr(self, node: ast.Expr, env: RowEnv) -> Typed:
        try:
            return self._expr(node, env)
        except KqlError as error:
            raise self.binder.locate(error, node) from None

    def _expr(self, node: ast.Expr, env: RowEnv) -> Typed:
        if isinstance(node, ast.Literal):
            return literal(node.type, node.value, self.dialect)
        if isinstance(node, ast.NameRef):
            return self.name(node, env)
        if isinstance(node, ast.BinaryOp):
            return self.binary(node, env)
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.MemberAccess) and env.steps and isinstance(node.target, ast.NameRef):
            values = env.steps.get(node.target.name)
            if values is not None and node.target.name not in env.columns:
                if node.member not in values:
                    raise self.binder.semantic(f"step '{node.target.name}' has no value '{node.member}'", node)
                return self._copy(values[node.member])
        if isinstance(node, ast.MemberAccess):
            return dynamic_access(self.expr(node.target, env.but(in_filter=False)), node.member, self.dialect)
        if isinstance(node, ast.Index):
            return self.index(node, env.but(in_filter=False))
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand, env.but(in_filter=False))
            if node.op == "-":
                if operand.type is KustoType.DYNAMIC:
                    operand = self.coerce(operand, KustoType.REAL)
                value = -operand.literal if operand.is_constant and operand.literal is not None else None
                if value is not None:
                    return literal(operand.type, value, self.dialect)
                return Typed(exp.Neg(this=exp.Paren(this=operand.sql)), operand.type)
            return operand
        if isinstance(node, ast.Between):
            return self.between(node, env.but(in_filter=False))
        if isinstance(node, ast.In):
            return self.in_op(node, env)
        if isinstance(node, ast.JoinSideRef):
            if not env.sides or node.side not in env.sides:
                raise self.binder.semantic(f"${node.side} can only be used in a join or lookup condition", node)
            return self.name(ast.NameRef(node.name, pos=node.pos), env.sides[node.side])
        if isinstance(node, ast.ToScalar):
            return self.toscalar(node.query, env)
        if isinstance(node, ast.TypeOf):
            # A type, not a value: functions such as extract(..., typeof(long)) read its literal.
            return Typed(exp.Null(), KustoType.STRING, node.type)
        if isinstance(node, ast.Star):
            raise self.binder.semantic("'*' is not allowed here", node)
        if isinstance(node, ast.Subquery):
            raise self.binder.semantic("a tabular expression is not allowed here", node)
        raise self.binder.unsupported(type(node).__name__, node)

    # ---------------------------------------------------------------------------------- names

    def name(self, node: ast.NameRef, env: RowEnv) -> Typed:
        name = node.name
        binding = env.scope.lookup(name)
        if binding is not None and binding.param and binding.kind == "scalar":
            return self._copy(binding.value)
        if name in env.defined:
            return self._copy(env.defined[name])
        if name in env.columns:
            return Typed(col(env.sql.get(name, name), env.table), env.columns[name])
        if binding is not None:
            return self.scalar_binding(binding, node)
        raise self.binder.semantic(f"unknown column or name '{name}'", node)

    @staticmethod
    def _copy(value: Typed) -> Typed:
        return Typed(value.sql.copy(), value.type, value.literal)

    def scalar_binding(self, binding: Binding, node: ast.Node) -> Typed:
        if binding.kind == "scalar":
            return self._copy(binding.value)
        if binding.kind == "expr":
            if binding.value is None:
                if binding.busy:
                    raise self.binder.semantic("a let statement refers to itself", node)
                binding.busy = True
                try:
                    binding.value = self.expr(binding.expr, RowEnv(columns={}, scope=binding.scope))
                finally:
                    binding.busy = False
            return self._copy(binding.value)
        if binding.kind == "unset":
            raise self.binder.semantic(f"query parameter '{getattr(node, 'name', '')}' has no value", node)
        what = "a function" if binding.kind == "function" else "a tabular value"
        raise self.binder.semantic(f"'{getattr(node, 'name', '')}' is {what}, not a scalar", node)

    def index(self, node: ast.Index, env: RowEnv) -> Typed:
        target = self.expr(node.target, env)
        index = self.expr(node.index, env)
        if index.is_constant and isinstance(index.literal, str | int) and not isinstance(index.literal, bool):
            return dynamic_access(target, index.literal, self.dialect)
        if index.type is KustoType.DYNAMIC:
            index = self.coerce(index, KustoType.STRING)
        return dynamic_access(target, index, self.dialect)

    # ------------------------------------------------------------------------------ operators

    def binary(self, node: ast.BinaryOp, env: RowEnv) -> Typed:
        op = node.op
        if op in {"and", "or"}:
            left = self._as_bool(self.expr(node.left, env))
            right = self._as_bool(self.expr(node.right, env))
            cls = exp.And if op == "and" else exp.Or
            return Typed(cls(this=exp.Paren(this=left.sql), expression=exp.Paren(this=right.sql)), KustoType.BOOL)
        inner = env.but(in_filter=False)
        left = self.expr(node.left, inner)
        right = self.expr(node.right, inner)
        if op in ARITHMETIC:
            return self.arithmetic(op, left, right, node)
        if op in COMPARISONS:
            return self.compare("!=" if op == "<>" else op, left, right, in_filter=env.in_filter)
        if op in STRING_OPERATORS or (op.startswith("!") and op[1:] in STRING_OPERATORS | {"~"}):
            return self.string_op(op, left, right)
        raise self.binder.unsupported(f"the operator '{op}'", node)

    def _as_bool(self, value: Typed) -> Typed:
        if value.type is KustoType.BOOL:
            return value
        if value.type is KustoType.DYNAMIC:
            return self.coerce(value, KustoType.BOOL)
        if value.type.is_numeric:
            return Typed(exp.NEQ(this=value.sql, expression=exp.Literal.number(0)), KustoType.BOOL)
        raise KqlError(f"expected a bool expression, got {value.type}")

    def between(self, node: ast.Between, env: RowEnv) -> Typed:
        value = self.expr(node.expr, env)
        low = self.expr(node.low, env)
        high = self.expr(node.high, env)
        if value.type is KustoType.DATETIME and high.type is KustoType.TIMESPAN:
            high = self.shift(low, high, negate=False)
        if value.type is KustoType.DYNAMIC:
            value = self.coerce(value, low.type if low.type is not KustoType.DYNAMIC else KustoType.REAL)
        for bound in (low, high):
            if not self._comparable(value, bound):
                raise self.binder.semantic(f"between cannot compare {value.type} with {bound.type}", node)
        value, low = self._unify(value, low)
        value, high = self._unify(value, high)
        sql: exp.Expression = exp.Between(this=value.sql, low=low.sql, high=high.sql)
        if node.negated:
            sql = exp.Not(this=exp.Paren(this=sql))
        return Typed(sql, KustoType.BOOL)

    @staticmethod
    def _comparable(a: Typed, b: Typed) -> bool:
        if a.type == b.type or KustoType.DYNAMIC in (a.type, b.type):
            return True
        if (a.is_constant and a.literal is None) or (b.is_constant and b.literal is None):
            return True
        return a.type.is_numeric and b.type.is_numeric

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

    # ---------------------------------------------------------------------------------- toscalar

    def toscalar(self, query: ast.Pipeline, env: RowEnv) -> Typed:
        relation = self.table_of(query, env.scope)
        if not relation.columns:
            raise self.binder.semantic("toscalar() needs a tabular expression with at least one column", query)
        first, kusto_type = next(iter(relation.columns.items()))
        select = exp.select(relation.ref(first)).from_(self.relation_table(relation), copy=False).limit(1, copy=False)
        order = relation.order_by()
        if order:
            select = select.order_by(*order, copy=False)
        return Typed(exp.Subquery(this=select), kusto_type)

    def cast_to(self, value: Typed, kusto_type: KustoType) -> Typed:
        return Typed(cast(value.sql, kusto_type, self.dialect), kusto_type)
