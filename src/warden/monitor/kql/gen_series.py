"""make-series and top-nested.

make-series aggregates each group per bin of the axis (``from`` inclusive, ``to`` exclusive,
``step`` wide; without ``from``/``to`` the data's first and last bins), then lays every group's
bins out as dynamic arrays: one per aggregate (``default``, else 0, where a bin has no rows) and
one for the axis (bin starts; datetimes as Kusto writes them in dynamic values). Columns: the
group keys, the aggregates, the axis. ``kind=nonempty`` yields a row of defaults for empty input.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .bind_names import expression_name
from .binder import Relation, Scope, UniqueNames
from .gen_sql import and_all, cast, col, fn, ident, lit_str, literal
from .typed import Typed
from .types import KustoType

__all__ = ["SeriesCompiler"]


class SeriesCompiler:
    """Mixin of the generator: make-series, top-nested."""

    def op_makeseries(self, op: ast.MakeSeries, relation: Relation, scope: Scope) -> Relation:
        if self.dialect == "clickhouse":
            raise self.binder.unsupported("make-series on ClickHouse", op)
        env = self.row_env(relation, scope)
        axis = self.expr(op.axis, env)
        step = self.expr(op.step, env)
        is_time = axis.type is KustoType.DATETIME
        if is_time and step.type is not KustoType.TIMESPAN:
            raise self.binder.semantic("make-series over datetimes needs a timespan step", op.step)
        if not is_time and not axis.type.is_numeric:
            raise self.binder.semantic(f"make-series cannot bin a {axis.type} axis", op.axis)

        def number(value: Typed) -> exp.Expression:  # the axis as a number (microseconds for time)
            if value.type is KustoType.DATETIME:
                return self.epoch_us(value.sql)
            return cast(value.sql, KustoType.REAL, self.dialect)

        width: exp.Expression = (
            exp.Div(this=exp.Paren(this=step.sql), expression=exp.Literal.number(10)) if is_time else number(step)
        )
        width = exp.Paren(this=width)
        table = self.relation_table(relation)
        if op.start is not None:
            start = number(self.expr(op.start, env))
        else:
            low = exp.select(exp.Min(this=number(axis))).from_(table.copy(), copy=False)
            start = exp.Mul(this=fn("floor", exp.Div(this=exp.Subquery(this=low), expression=width)), expression=width)
        start = exp.Paren(this=start)
        index = exp.Cast(
            this=fn(
                "floor", exp.Div(this=exp.Paren(this=exp.Sub(this=number(axis), expression=start)), expression=width)
            ),
            to=exp.DataType.build("BIGINT"),
        )
        if op.end is not None:
            end = number(self.expr(op.end, env))
            count = fn(
                "ceil", exp.Div(this=exp.Paren(this=exp.Sub(this=end, expression=start.copy())), expression=width)
            )
        else:
            high = exp.select(exp.Max(this=number(axis))).from_(table.copy(), copy=False)
            span = exp.Sub(this=exp.Subquery(this=high), expression=start.copy())
            count = exp.Add(
                this=fn("floor", exp.Div(this=exp.Paren(this=span), expression=width)), expression=exp.Literal.number(1)
            )
        count = exp.Cast(this=count, to=exp.DataType.build("BIGINT"))

        # stage 1: one row per group and bin
        names = UniqueNames()
        keys: list[tuple[str, Typed]] = []
        for named in op.by:
            value = self.expr(named.expr, env)
            keys.append((names.add(self.binder.column_name(named, names)), value))
        aggregates: list[tuple[str, Typed, Typed]] = []
        agg_env = env.but(aggregate=True)
        for item in op.aggregates:
            value = self.expr(item.aggregate.expr, agg_env)
            name = item.aggregate.names[0] if item.aggregate.names else expression_name(item.aggregate.expr)
            name = names.add(name or self.binder.default_column_name(names))
            if item.default is not None:
                default = self.constant(item.default, scope, "a make-series default")
            else:
                default = literal(value.type, 0 if value.type.is_numeric else None, self.dialect)
            aggregates.append((name, value, default))
        axis_name = names.add(expression_name(op.axis) or self.binder.default_column_name(names))
        in_range = [exp.GTE(this=number(axis), expression=start.copy())]
        if op.end is not None:
            in_range.append(exp.LT(this=number(axis), expression=end.copy()))
        stage_items = [(f"__kql_k{i}", v.sql) for i, (_, v) in enumerate(keys)]
        stage_items.append(("__kql_bin", index))
        stage_items += [(f"__kql_a{i}", v.sql) for i, (_, v, _) in enumerate(aggregates)]
        grouped = (
            exp.select(*self.project_items(stage_items))
            .from_(table.copy(), copy=False)
            .where(and_all(in_range), copy=False)
        )
        grouped = grouped.group_by(*[v.sql.copy() for _, v in keys], index.copy(), copy=False)
        bins_rel = self.emit(grouped, {})
        groups_items = [(f"__kql_k{i}", col(f"__kql_k{i}")) for i in range(len(keys))]
        if keys:
            groups = (
                exp.select(*self.project_items(groups_items))
                .distinct(copy=False)
                .from_(self.relation_table(bins_rel), copy=False)
            )
        else:
            groups = exp.select(exp.alias_(exp.Literal.number(1), ident("__kql_one")))
            if (op.kind or "").lower() != "nonempty":
                groups = groups.where(
                    exp.Exists(this=exp.select(exp.Literal.number(1)).from_(self.relation_table(bins_rel))), copy=False
                )
        groups_rel = self.emit(groups, {})
        numbers = exp.select(exp.alias_(exp.Explode(this=fn("range", exp.Literal.number(0), count)), ident("__kql_i")))
        numbers_rel = self.emit(numbers, {})

        # stage 2: the arrays, in bin order
        order = [exp.Ordered(this=col("__kql_i", "N"))]
        on = [exp.EQ(this=col("__kql_bin", "A"), expression=col("__kql_i", "N"))]
        on += [
            exp.NullSafeEQ(this=col(f"__kql_k{i}", "A"), expression=col(f"__kql_k{i}", "G")) for i in range(len(keys))
        ]
        items: list[tuple[str, exp.Expression]] = [(name, col(f"__kql_k{i}", "G")) for i, (name, _) in enumerate(keys)]
        columns = {name: value.type for name, value in keys}
        for i, (name, _, default) in enumerate(aggregates):
            filled = exp.Coalesce(this=col(f"__kql_a{i}", "A"), expressions=[default.sql])
            items.append((name, self._json_array(filled, order)))
            columns[name] = KustoType.DYNAMIC
        position = exp.Add(this=start.copy(), expression=exp.Mul(this=col("__kql_i", "N"), expression=width.copy()))
        if is_time:
            stamp = fn("make_timestamp", exp.Cast(this=position, to=exp.DataType.build("BIGINT")))
            value_sql: exp.Expression = exp.DPipe(
                this=fn("strftime", stamp, lit_str("%Y-%m-%dT%H:%M:%S.%f")), expression=lit_str("0Z")
            )
        else:
            value_sql = cast(position, axis.type if axis.type is not KustoType.INT else KustoType.LONG, self.dialect)
        items.append((axis_name, self._json_array(value_sql, order)))
        columns[axis_name] = KustoType.DYNAMIC
        select = exp.select(*self.project_items(items)).from_(self.relation_table(groups_rel, "G"), copy=False)
        select = select.join(self.relation_table(numbers_rel, "N"), join_type="CROSS", copy=False)
        select = select.join(self.relation_table(bins_rel, "A"), on=and_all(on), join_type="LEFT OUTER", copy=False)
        if keys:
            select = select.group_by(*[col(f"__kql_k{i}", "G") for i in range(len(keys))], copy=False)
        else:
            select = select.group_by(col("__kql_one", "G"), copy=False)  # no group, no row
        return self.emit(select, columns)

    def _json_array(self, value: exp.Expression, order: list[exp.Ordered]) -> exp.Expression:
        ordered = exp.Order(this=value, expressions=[o.copy() for o in order])
        return cast(fn("to_json", fn("list", ordered)), KustoType.DYNAMIC, self.dialect)

    # ------------------------------------------------------------------------------ top-nested

    def op_topnested(self, op: ast.TopNested, relation: Relation, scope: Scope) -> Relation:
        """Each level keeps the top N values of its key (by its aggregate) within each parent group;
        ``with others = v`` adds one row aggregating the remaining values under ``v``."""
        env = self.row_env(relation, scope)
        keys = [self.expr(level.key.expr, env) for level in op.levels]
        stage_items = [*self.passthrough(relation)] + [(f"__kql_tk{i}", k.sql) for i, k in enumerate(keys)]
        staged = self.emit(self.select_from(relation, stage_items, keep_order=False), relation.columns)
        agg_env = self.row_env(staged, scope, aggregate=True)
        names = UniqueNames()
        columns: dict[str, KustoType] = {}
        previous: Relation | None = None
        order: list[exp.Ordered] = []
        for i, level in enumerate(op.levels):
            key_name = names.add(self.binder.column_name(level.key, names))
            aggregate = self.expr(level.aggregate.expr, agg_env)
            agg_name = level.aggregate.names[0] if level.aggregate.names else f"aggregated_{key_name}"
            agg_name = names.add(agg_name)
            parents = [f"__kql_tk{j}" for j in range(i)]
            rows = self.relation_table(staged, "S")
            condition = None
            if previous is not None:
                match = [exp.NullSafeEQ(this=col(p, "S"), expression=col(p, "P")) for p in parents]
                probe = (
                    exp.select(exp.Literal.number(1))
                    .from_(self.relation_table(previous, "P"), copy=False)
                    .where(and_all(match), copy=False)
                )
                condition = exp.Exists(this=probe)
            group = [col(p, "S") for p in parents] + [col(f"__kql_tk{i}", "S")]
            pairs = [(p, col(p, "S")) for p in parents] + [(f"__kql_tk{i}", col(f"__kql_tk{i}", "S"))]
            pairs.append((f"__kql_ta{i}", self._qualify(aggregate.sql, "S")))
            grouped = exp.select(*self.project_items(pairs)).from_(rows, copy=False)
            grouped = (grouped.where(condition, copy=False) if condition is not None else grouped).group_by(
                *group, copy=False
            )
            grouped_rel = self.emit(grouped, {})
            rank = exp.Window(
                this=exp.RowNumber(),
                partition_by=[col(p) for p in parents],
                order=exp.Order(expressions=[exp.Ordered(this=col(f"__kql_ta{i}"), desc=not level.ascending)]),
            )
            ranked = exp.select(exp.Star(), exp.alias_(rank, ident("__kql_rank"))).from_(
                self.relation_table(grouped_rel), copy=False
            )
            ranked_rel = self.emit(ranked, {})
            kept = exp.select(*[col(c) for c in [*parents, f"__kql_tk{i}", f"__kql_ta{i}"]]).from_(
                self.relation_table(ranked_rel), copy=False
            )
            if level.count is not None:
                count = self.constant_count(level.count, scope, "the top-nested count")
                kept = kept.where(
                    exp.LTE(this=col("__kql_rank"), expression=exp.Literal.number(int(count.literal or 0))), copy=False
                )
            level_query: exp.Expression = kept
            if level.others is not None and level.count is not None:
                others = self.expr(level.others, env)
                others = self.coerce(others, keys[i].type) if others.type != keys[i].type else others
                outside = [exp.NullSafeEQ(this=col(c, "S"), expression=col(c, "R")) for c in [*parents, f"__kql_tk{i}"]]
                outside.append(
                    exp.GT(this=col("__kql_rank", "R"), expression=exp.Literal.number(int(count.literal or 0)))
                )
                rest = (
                    exp.select(exp.Literal.number(1))
                    .from_(self.relation_table(ranked_rel, "R"), copy=False)
                    .where(and_all(outside), copy=False)
                )
                other_pairs = [(p, col(p, "S")) for p in parents] + [(f"__kql_tk{i}", others.sql)]
                other_pairs.append((f"__kql_ta{i}", self._qualify(aggregate.sql, "S")))
                other_rows = (
                    exp.select(*self.project_items(other_pairs))
                    .from_(rows.copy(), copy=False)
                    .where(exp.Exists(this=rest), copy=False)
                )
                if parents:
                    other_rows = other_rows.group_by(*[col(p, "S") for p in parents], copy=False)
                level_query = exp.union(kept, other_rows, distinct=False)
            level_rel = self.emit(level_query, {})
            if previous is None:
                previous = level_rel
            else:
                carried = [col(c, "P") for c in self._level_columns(i)]
                joined = exp.select(*carried, col(f"__kql_tk{i}", "L"), col(f"__kql_ta{i}", "L"))
                joined = joined.from_(self.relation_table(level_rel, "L"), copy=False)
                match = [exp.NullSafeEQ(this=col(p, "L"), expression=col(p, "P")) for p in parents]
                joined = joined.join(
                    self.relation_table(previous, "P"), on=and_all(match), join_type="INNER", copy=False
                )
                previous = self.emit(joined, {})
            columns[key_name] = keys[i].type
            columns[agg_name] = aggregate.type
            order.append(exp.Ordered(this=col(agg_name), desc=not level.ascending))
            order.append(exp.Ordered(this=col(key_name)))
        items = []
        for i, name in enumerate(columns):
            items.append((name, col(f"__kql_tk{i // 2}" if i % 2 == 0 else f"__kql_ta{i // 2}")))
        select = exp.select(*self.project_items(items)).from_(self.relation_table(previous), copy=False)
        final = self.emit(select, columns)
        return Relation(final.name, final.columns, tuple(self._rename_order(o, final) for o in order))

    @staticmethod
    def _level_columns(level: int) -> list[str]:
        return [name for j in range(level) for name in (f"__kql_tk{j}", f"__kql_ta{j}")]

    @staticmethod
    def _qualify(sql: exp.Expression, table: str) -> exp.Expression:
        def visit(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not node.table:
                node.set("table", ident(table))
            return node

        return sql.copy().transform(visit)

    @staticmethod
    def _rename_order(ordered: exp.Ordered, relation: Relation) -> exp.Ordered:
        name = ordered.this.name
        return exp.Ordered(this=relation.ref(name), desc=ordered.args.get("desc"), nulls_first=False)
