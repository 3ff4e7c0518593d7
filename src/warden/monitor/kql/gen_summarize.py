"""``summarize``: group keys first, then the aggregates, each named as Kusto names it.

``arg_max``/``arg_min`` (and ``take_any`` of several columns or ``*``) return several columns of
*one* row: they compile to one engine ``arg_max`` over a struct of those columns, unpacked in a
second step, so that a tie cannot mix values from different rows. ``percentiles(x, 50, 95)``
expands into one column per percentile.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from . import ast
from .bind_names import expression_name
from .binder import Relation, Scope, UniqueNames
from .errors import KqlError
from .gen_builtins import FALLBACK_AGGREGATES
from .gen_expressions import RowEnv
from .gen_sql import col, fn, lit_str
from .typed import Typed
from .types import KustoType

__all__ = ["SummarizeCompiler"]

#: Percentile aggregates whose unnamed columns are ``percentile_<column>_<percent>``, one per percentile.
_PERCENTILES = ("percentile", "percentiles", "percentilew", "percentilesw")

_ARG_EXTREMES = {"arg_max": "max", "arg_min": "min", "argmax": "max", "argmin": "min"}
_ANY = {"take_any", "any"}
_LIST_AGGREGATES = {"list", "array_agg", "string_agg", "listagg", "group_concat", "grouparray", "histogram"}


@dataclass
class _Out:
    """One output column of summarize: its stage-1 SQL (the aggregate) and, for struct members, its unpacking."""

    name: str
    type: KustoType
    sql: exp.Expression | None  # None: read from a struct column in stage 2
    struct: str | None = None
    field: int = 0
    value: exp.Expression | None = None  # a struct member's value on the chosen row


class SummarizeCompiler:
    """Mixin of the generator: summarize."""

    def op_summarize(self, op: ast.Summarize, relation: Relation, scope: Scope) -> Relation:
        env = self.row_env(relation, scope)
        names = UniqueNames()
        outputs: list[_Out] = []
        group_by: list[exp.Expression] = []
        by_columns: set[str] = set()
        for named in op.by:
            value = self.expr(named.expr, env)
            if value.type is KustoType.DYNAMIC:
                raise self.binder.semantic("summarize cannot group by a dynamic value", named)
            name = names.add(self.binder.column_name(named, names))
            outputs.append(_Out(name, value.type, value.sql))
            group_by.append(value.sql.copy())
            if isinstance(named.expr, ast.NameRef) and named.expr.name in relation.columns:
                by_columns.add(named.expr.name)
        structs: dict[str, exp.Expression] = {}
        extremes: dict[str, tuple[exp.Expression, str]] = {}
        agg_env = env.but(aggregate=True)
        for named in op.aggregates:
            expr = named.expr
            if isinstance(expr, ast.Call) and (
                expr.name in _ARG_EXTREMES or (expr.name in _ANY and self._any_is_tuple(expr))
            ):
                self._tuple_aggregate(named, expr, relation, agg_env, names, by_columns, outputs, structs, extremes)
            elif isinstance(expr, ast.Call) and expr.name in _PERCENTILES and not named.names:
                self._percentiles(expr, agg_env, names, outputs)
            else:
                value = self.expr(expr, agg_env)
                name = named.names[0] if named.names else expression_name(expr)
                if name is None:
                    name = self.binder.default_column_name(names)
                outputs.append(_Out(names.add(name), value.type, self.ordered_aggregates(value.sql, relation)))
        if len(op.aggregates) == 1 and len(extremes) == 1:
            return self._first_per_group(relation, outputs, group_by, *next(iter(extremes.values())))
        items = [(o.name, o.sql) for o in outputs if o.sql is not None]
        items += list(structs.items())
        select = self.select_from(relation, items, keep_order=False)
        group_by += [col(h) for h in relation.hidden]
        if group_by:
            select = select.group_by(*group_by, copy=False)
        columns = {o.name: o.type for o in outputs}
        staged = self.emit(select, columns)
        if not structs:
            return staged
        unpacked = [
            (o.name, staged.ref(o.name) if o.struct is None else self._member(o.struct, o.field)) for o in outputs
        ]
        return self.emit(self.select_from(staged, unpacked), columns)

    def ordered_aggregates(self, sql: exp.Expression, relation: Relation) -> exp.Expression:
        """Make list-building aggregates follow the input's order (make_list of sorted or datatable rows)."""
        order = relation.order_by()
        if not order:
            return sql

        def visit(node: exp.Expression) -> exp.Expression:
            if node.find(exp.Distinct):  # a set has no order to keep (and DISTINCT refuses ORDER BY)
                return node
            if isinstance(node, exp.ArrayAgg | exp.GroupConcat) and not isinstance(node.this, exp.Order):
                node.set("this", exp.Order(this=node.this, expressions=[o.copy() for o in order]))
            elif isinstance(node, exp.Anonymous) and node.name.lower() in _LIST_AGGREGATES and node.expressions:
                first = node.expressions[0]
                if not isinstance(first, exp.Order):
                    node.expressions[0] = exp.Order(this=first, expressions=[o.copy() for o in order])
                    node.expressions[0].parent = node
            return node

        return sql.transform(visit)

    def _first_per_group(
        self, relation: Relation, outputs: list[_Out], group_by: list[exp.Expression], key: exp.Expression, extreme: str
    ) -> Relation:
        """``summarize arg_max(k, ...) by g``: the row with the largest k of each group, by row numbering
        (much cheaper than aggregating a struct of every column)."""
        order = exp.Ordered(this=key.copy(), desc=extreme == "max", nulls_first=False)
        number = exp.Window(
            this=exp.RowNumber(),
            partition_by=[g.copy() for g in group_by] + [col(h) for h in relation.hidden] or None,
            order=exp.Order(expressions=[order]),
        )
        items = [(o.name, o.sql if o.struct is None else o.value) for o in outputs]
        columns = {o.name: o.type for o in outputs}
        staged = self.emit(self.select_from(relation, [*items, ("__kql_rn", number)], keep_order=False), columns)
        select = self.select_from(staged, self.passthrough(staged), keep_order=False)
        return self.emit(
            select.where(exp.EQ(this=col("__kql_rn"), expression=exp.Literal.number(1)), copy=False), columns
        )

    # ------------------------------------------------------------------------- tuple results

    @staticmethod
    def _any_is_tuple(call: ast.Call) -> bool:
        args = [*call.args, *call.named_args]
        return len(args) > 1 or any(isinstance(a, ast.Star) for a in call.args) or call.name == "take_any"

    def _member(self, struct: str, index: int) -> exp.Expression:
        if self.dialect == "clickhouse":
            return fn("tupleElement", col(struct), exp.Literal.number(index + 1))
        return fn("struct_extract", col(struct), lit_str(f"f{index}"))

    def _pack(self, values: list[exp.Expression]) -> exp.Expression:
        if self.dialect == "clickhouse":
            return fn("tuple", *values)
        return exp.Struct(
            expressions=[exp.PropertyEQ(this=exp.to_identifier(f"f{i}"), expression=v) for i, v in enumerate(values)]
        )

    def _tuple_aggregate(
        self,
        named: ast.NamedExpr,
        call: ast.Call,
        relation: Relation,
        env: RowEnv,
        names: UniqueNames,
        by_columns: set[str],
        outputs: list[_Out],
        structs: dict[str, exp.Expression],
        extremes: dict[str, tuple[exp.Expression, str]],
    ) -> None:
        """arg_max/arg_min/take_any with several outputs: Kusto's column list, one struct aggregate."""
        extreme = _ARG_EXTREMES.get(call.name)
        row_env = env.but(aggregate=False)
        args: list[ast.Expr | ast.NamedArg] = [*call.args, *call.named_args]
        if extreme and not call.args:
            raise self.binder.semantic(f"{call.name}() expects at least one argument", call)
        any_star = any(isinstance(a, ast.Star) for a in args)
        taken: set[str] = set() if extreme else set(by_columns)
        chosen: list[tuple[str, Typed]] = []  # (name, value), in output order
        for i, arg in enumerate(args):
            if isinstance(arg, ast.Star):
                for name, kusto_type in relation.columns.items():
                    if name in taken or (extreme and name in by_columns):
                        continue
                    taken.add(name)
                    chosen.append((name, Typed(relation.ref(name), kusto_type)))
                continue
            target = arg.value if isinstance(arg, ast.NamedArg) else arg
            value = self.expr(target, row_env)
            is_column = isinstance(target, ast.NameRef) and target.name in relation.columns
            if is_column:
                if any_star and i > 0 and (target.name in taken or (extreme and target.name in by_columns)):
                    continue
                taken.add(target.name)
            if isinstance(arg, ast.NamedArg):
                name = arg.name
            else:
                name = expression_name(target)
                if not name:
                    name = (
                        (f"{extreme}_" if i == 0 else f"{extreme}_{expression_name(args[0]) or ''}_arg{i}")
                        if extreme
                        else f"any_arg{i}"
                    )
            chosen.append((name, value))
        if call.name in ("argmax", "argmin"):
            chosen = [(f"{extreme}_{n}", v) for n, v in chosen]
        given = list(named.names)
        struct = f"__kql_tuple_{len(structs) + 1}"
        packed = self._pack([v.sql for _, v in chosen])
        if extreme:
            key = self.expr(args[0] if not isinstance(args[0], ast.NamedArg) else args[0].value, row_env)
            if key.type is KustoType.DYNAMIC:
                key = self.coerce(key, KustoType.REAL)
            engine = ("argMax" if extreme == "max" else "argMin") if self.dialect == "clickhouse" else f"arg_{extreme}"
            structs[struct] = fn(engine, packed, key.sql)
            extremes[struct] = (key.sql, extreme)
        else:
            structs[struct] = fn("any" if self.dialect == "clickhouse" else "any_value", packed)
        for index, (name, value) in enumerate(chosen):
            final = given[index] if index < len(given) else name
            outputs.append(_Out(names.add(final), value.type, None, struct, index, value.sql))

    def _percentiles(self, call: ast.Call, env: RowEnv, names: UniqueNames, outputs: list[_Out]) -> None:
        if len(call.args) < 2:
            raise self.binder.semantic(f"{call.name}() expects a value and at least one percentile", call)
        row_env = env.but(aggregate=False)
        args = [self.expr(arg, row_env) for arg in call.args]
        column = call.args[0].name if isinstance(call.args[0], ast.NameRef) else None
        try:
            from .functions.aggregates import percentile_columns

            if call.name in ("percentilew", "percentilesw"):  # weighted: value, weight, percentiles
                from .functions.weighted_percentiles import weighted_percentile_columns as percentile_columns
        except ImportError:  # the library without multi-column percentiles: one fallback per percentile
            percentile_columns = None
        if percentile_columns is not None:
            try:
                pairs = percentile_columns(self, args, column)
            except KqlError as error:
                raise self.binder.locate(error, call) from None
        else:
            found = FALLBACK_AGGREGATES["percentile"]
            pairs = []
            for percent in args[1:]:
                fragment = str(percent.literal).replace(".", "_") if percent.is_constant else "p"
                pairs.append((f"percentile_{column or ''}_{fragment}", self.invoke(found, [args[0], percent], call)))
        for name, result in pairs:
            outputs.append(_Out(names.add(name), result.type, result.sql))
