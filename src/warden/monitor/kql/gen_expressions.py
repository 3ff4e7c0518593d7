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
from .gen_scalar_ops import ARITHMETIC, COMPARISONS, STRING_OPERATORS, ScalarOps
from .gen_sql import cast, col, literal
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

    # ---------------------------------------------------------------------------------- toscalar

    def toscalar(self, query: ast.Pipeline, env: RowEnv) -> Typed:
        key = self.partition_key
        source = query.source
        if key is not None and not query.operators and isinstance(source, ast.TableRef) and source.name == key[0]:
            # partition by Column { Source | ... toscalar(Column) }: this run's key value.
            return Typed(exp.column("__kql_part"), key[1])
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
