"""``evaluate`` plugins: ``bag_unpack``, ``pivot``, ``ipv4_lookup``/``ipv6_lookup``, ``schema_merge``,
``rows_near`` and ``dcount_intersect``.

Both produce columns named after the data (a bag's keys, a column's distinct values), so unless
an output schema is given they need to look at the data first: the generator's ``probe`` runs a
small query over the steps compiled so far (``run()`` provides it; ``compile()`` alone cannot,
and says so).
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from . import ast
from .bind_names import expression_name
from .binder import Relation, Scope, UniqueNames
from .functions import registry
from .gen_dynamic import as_json, dynamic_access
from .gen_expressions import RowEnv
from .gen_sql import col, fn, ident, lit_str
from .typed import Typed
from .types import KustoType

__all__ = ["PluginCompiler"]

_JSON_TYPES = {
    "BIGINT": KustoType.LONG,
    "UBIGINT": KustoType.LONG,
    "DOUBLE": KustoType.REAL,
    "VARCHAR": KustoType.STRING,
}
_JSON_TYPES |= {"BOOLEAN": KustoType.BOOL}


class PluginCompiler:
    """Mixin of the generator: evaluate."""

    def op_evaluate(self, op: ast.Evaluate, relation: Relation | None, scope: Scope) -> Relation:
        name = op.plugin.name
        if relation is None:
            raise self.binder.unsupported(f"the '{name}' plugin as a source", op)
        if name == "bag_unpack":
            return self.bag_unpack(op, relation, scope)
        if name == "pivot":
            return self.pivot(op, relation, scope)
        if name in ("ipv4_lookup", "ipv6_lookup"):
            return self.ip_lookup(op, relation, scope)
        if name == "schema_merge":
            return self.schema_merge(op, relation, scope)
        if name == "rows_near":
            return self.rows_near(op, relation, scope)
        if name == "dcount_intersect":
            return self.dcount_intersect(op, relation, scope)
        if name == "rolling_percentile":
            return self.rolling_percentile(op, relation, scope)
        if name == "sliding_window_counts":
            return self.sliding_window_counts(op, relation, scope)
        if name == "session_count":
            return self.session_count(op, relation, scope)
        if name == "active_users_count":
            return self.active_users_count(op, relation, scope)
        if name in ("activity_counts_metrics", "activity-counts-metrics"):
            return self.activity_counts_metrics(op, relation, scope)
        raise self.binder.unsupported(f"the '{name}' plugin", op)

    def probe_rows(self, select: exp.Select, node: ast.Node) -> list[tuple[Any, ...]]:
        if self.probe is None:
            raise self.binder.unsupported(
                "a plugin whose columns depend on the data (without an output schema) outside run()", node
            )
        query = self.attach_ctes(select, copy=True)
        return self.probe(query.sql(dialect=self.dialect, identify=True))

    # ------------------------------------------------------------------------------ bag_unpack

    def bag_unpack(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        call = op.plugin
        env = self.row_env(relation, scope)
        if not call.args:
            raise self.binder.semantic("bag_unpack() expects a dynamic column", call)
        bag = self.expr(call.args[0], env)
        named = {n.name: n.value for n in call.named_args}
        prefix_node = call.args[1] if len(call.args) > 1 else named.get("OutputColumnPrefix")
        conflict_node = call.args[2] if len(call.args) > 2 else named.get("columnsConflict")
        ignored_node = call.args[3] if len(call.args) > 3 else named.get("ignoredProperties")
        prefix = str(self.constant(prefix_node, scope, "the column prefix").literal or "") if prefix_node else ""
        conflict = str(self.constant(conflict_node, scope, "columnsConflict").literal) if conflict_node else "error"
        ignored = set(self.constant(ignored_node, scope, "ignoredProperties").literal or []) if ignored_node else set()
        source = call.args[0].name if isinstance(call.args[0], ast.NameRef) else None
        kept = {n: t for n, t in relation.columns.items() if n != source}
        json = as_json(bag, self.dialect)
        if op.output_schema is not None:
            keys = [(d.name, KustoType(d.type)) for d in op.output_schema.columns if d.name not in kept]
            keys = [(k.removeprefix(prefix), t) for k, t in keys]
        else:
            keys = self._bag_keys(json, relation, op)
        keys = [(k, t) for k, t in keys if k not in ignored]
        columns: dict[str, KustoType] = {}
        items: list[tuple[str, exp.Expression]] = []
        new_names = {prefix + k for k, _ in keys}
        for name, kusto_type in kept.items():
            if name in new_names:
                if conflict == "error":
                    raise self.binder.semantic(f"bag_unpack: column '{name}' already exists", op)
                if conflict == "replace_source":
                    continue
            items.append((name, relation.ref(name)))
            columns[name] = kusto_type
        for key, kusto_type in keys:
            name = prefix + key
            if name in columns:
                continue
            value = dynamic_access(Typed(json, KustoType.DYNAMIC), key, self.dialect)
            if kusto_type is not KustoType.DYNAMIC:
                value = self.coerce(value, kusto_type)
            items.append((name, value.sql))
            columns[name] = kusto_type
        relation = self.keep_order(relation, items)
        return self.emit(self.select_from(relation, items), columns, relation.order)

    def _bag_keys(self, json: exp.Expression, relation: Relation, node: ast.Node) -> list[tuple[str, KustoType]]:
        pairs = exp.select(
            exp.alias_(exp.Explode(this=fn("json_keys", json.copy())), ident("k")),
            exp.alias_(exp.Explode(this=fn("json_extract", json.copy(), lit_str("$.*"))), ident("v")),
        ).from_(self.relation_table(relation), copy=False)
        pairs = pairs.where(exp.EQ(this=fn("json_type", json.copy()), expression=lit_str("OBJECT")), copy=False)
        query = exp.select(col("k"), fn("list", exp.Distinct(expressions=[fn("json_type", col("v"))])))
        query = query.from_(exp.Subquery(this=pairs, alias=exp.TableAlias(this=ident("p"))), copy=False).group_by(
            col("k"), copy=False
        )
        result = []
        for key, kinds in sorted(self.probe_rows(query, node), key=lambda row: row[0]):
            found = {_JSON_TYPES.get(k) for k in kinds if k != "NULL"}
            if found == {KustoType.LONG, KustoType.REAL}:
                found = {KustoType.REAL}
            result.append((key, found.pop() if len(found) == 1 and None not in found else KustoType.DYNAMIC))
        return result

    # --------------------------------------------------------------------------- ipv4/6_lookup

    def ip_lookup(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        """``ipv4_lookup``/``ipv6_lookup(Table, source_ip, range_column [, extra keys...] [,
        return_unmatched])``: each row joined with the lookup rows whose IP range (CIDR) holds its
        address (``ipv4_is_in_range``/``ipv6_is_in_range``)."""
        call = op.plugin
        family = call.name[:4]
        args = list(call.args)
        named = {n.name: n.value for n in call.named_args}
        keep_unmatched = False
        if args and isinstance(args[-1], ast.Literal) and args[-1].type is KustoType.BOOL:
            keep_unmatched = bool(args.pop().value)
        if "return_unmatched" in named:
            keep_unmatched = bool(self.constant(named["return_unmatched"], scope, "return_unmatched").literal)
        if len(args) < 3:
            raise self.binder.semantic(
                f"{call.name}() expects a table, the source IP column and the range column", call
            )
        lookup = self.table_of(args[0], scope)
        found = registry.SCALARS.get(f"{family}_is_in_range")
        if found is None:
            raise self.binder.unsupported(f"{call.name} without {family}_is_in_range()", call)
        left_env = RowEnv(columns=dict(relation.columns), scope=scope, table="L", sql=relation.sql)
        right_env = RowEnv(columns=dict(lookup.columns), scope=scope, table="R", sql=lookup.sql)
        address = self.to_string(self.expr(args[1], left_env))
        network = self.to_string(self.expr(args[2], right_env))
        conditions = [self.invoke(found, [address, network], call).sql]
        for extra in args[3:]:
            a, b = self._unify(self.expr(extra, left_env), self.expr(extra, right_env))
            conditions.append(exp.EQ(this=a.sql, expression=b.sql))
        names = UniqueNames(list(relation.columns))
        pairs = [(n, relation.ref(n, "L")) for n in relation.columns]
        columns = dict(relation.columns)
        for name, kusto_type in lookup.columns.items():
            new = names.add(name)
            columns[new] = kusto_type
            pairs.append((new, lookup.ref(name, "R")))
        if family == "ipv6":
            # Kusto's engine puts ipv6_lookup's lookup columns first (ipv4_lookup's last).
            count = len(relation.columns)
            pairs = pairs[count:] + pairs[:count]
            columns = {name: columns[name] for name, _ in pairs}
        select = exp.select(*self.project_items(pairs)).from_(self.relation_table(relation, "L"), copy=False)
        on = conditions[0] if len(conditions) == 1 else exp.and_(*conditions)
        select = select.join(
            self.relation_table(lookup, "R"), on=on, join_type="LEFT OUTER" if keep_unmatched else "INNER", copy=False
        )
        return self.emit(select, columns)

    # ---------------------------------------------------------------------------------- pivot

    def pivot(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        call = op.plugin
        if not call.args:
            raise self.binder.semantic("pivot() expects the pivot column", call)
        env = self.row_env(relation, scope)
        key = self.to_string(self.expr(call.args[0], env))
        aggregate = call.args[1] if len(call.args) > 1 else ast.Call("count", pos=call.pos)
        groups = call.args[2:]
        probe = exp.select(key.sql.copy()).distinct(copy=False).from_(self.relation_table(relation), copy=False)
        values = sorted(str(row[0]) for row in self.probe_rows(probe, op))
        names = UniqueNames()
        columns: dict[str, KustoType] = {}
        items: list[tuple[str, exp.Expression]] = []
        group_by: list[exp.Expression] = []
        for group in groups:
            value = self.expr(group, env)
            name = names.add(expression_name(group) or self.binder.default_column_name(names))
            items.append((name, value.sql))
            columns[name] = value.type
            group_by.append(value.sql.copy())
        agg_env = env.but(aggregate=True)
        for text in values:
            value = self.expr(aggregate, agg_env)
            condition = exp.EQ(this=key.sql.copy(), expression=lit_str(text))
            filtered = value.sql.transform(
                lambda node, c=condition: (
                    exp.Filter(this=node, expression=exp.Where(this=c.copy()))
                    if isinstance(node, exp.AggFunc)
                    or (isinstance(node, exp.Anonymous) and node.name.lower() in _AGGREGATES)
                    else node
                )
            )
            name = names.add(text or "Column")
            items.append((name, filtered))
            columns[name] = value.type
        select = self.select_from(relation, items, keep_order=False)
        if group_by:
            select = select.group_by(*group_by, copy=False)
        return self.emit(select, columns)

    # --------------------------------------------------------------------------- schema_merge

    def schema_merge(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        """``schema_merge([PreserveOrder])`` over ``getschema`` rows: one row per column name.

        A column keeps its type when all schemas agree (``dynamic`` otherwise) and is placed by the
        latest ordinal it had (ties by the earliest, then by name), numbered from 0. With
        PreserveOrder (the default) a column whose ordinal differs between schemas is reported as
        Kusto reports it: ordinal -1 and the type ``ERROR(columns are out of order)``.
        """
        call = op.plugin
        named = {n.name.lower(): n.value for n in call.named_args}
        preserve: Any = True
        if call.args or named:
            node = call.args[0] if call.args else named.get("preserveorder")
            if node is None or len(call.args) + len(named) > 1:
                raise self.binder.semantic("schema_merge() takes one argument, PreserveOrder", call)
            value = self.constant(node, scope, "PreserveOrder")
            if value.type is not KustoType.BOOL:
                raise self.binder.semantic("schema_merge(): PreserveOrder must be a bool", call)
            preserve = bool(value.literal) if value.literal is not None else True
        wanted = {"ColumnName": KustoType.STRING, "ColumnOrdinal": None, "DataType": KustoType.STRING}
        wanted["ColumnType"] = KustoType.STRING
        for name in wanted:
            if name not in relation.columns:
                raise self.binder.semantic(f"schema_merge() needs getschema's columns (no '{name}')", call)
        ref = {name: relation.ref(name).sql(dialect=self.dialect) for name in wanted}
        grouped = sqlglot.parse_one(
            f"SELECT {ref['ColumnName']} AS n, max({ref['ColumnOrdinal']}) AS hi, min({ref['ColumnOrdinal']}) AS lo,"
            f" {'TRUE' if preserve else 'FALSE'} AND count(DISTINCT {ref['ColumnOrdinal']}) > 1 AS bad,"
            f" CASE WHEN count(DISTINCT {ref['ColumnType']}) = 1 THEN any_value({ref['DataType']})"
            " ELSE 'System.Object' END AS dt,"
            f" CASE WHEN count(DISTINCT {ref['ColumnType']}) = 1 THEN any_value({ref['ColumnType']})"
            " ELSE 'dynamic' END AS ct",
            dialect=self.dialect,
        )
        grouped = grouped.from_(self.relation_table(relation), copy=False).group_by(
            sqlglot.parse_one(ref["ColumnName"], dialect=self.dialect), copy=False
        )
        merged = self.emit(grouped, {"n": KustoType.STRING})
        error = "ERROR(columns are out of order)"
        items = [
            ("ColumnName", "n"),
            (
                "ColumnOrdinal",
                "CASE WHEN bad THEN -1 ELSE row_number() OVER (PARTITION BY bad ORDER BY hi, lo, n) - 1 END",
            ),
            ("DataType", f"CASE WHEN bad THEN 'ERROR(unknown CSL type:{error})' ELSE dt END"),
            ("ColumnType", f"CASE WHEN bad THEN '{error}' ELSE ct END"),
        ]
        select = exp.select(
            *self.project_items([(name, sqlglot.parse_one(text, dialect=self.dialect)) for name, text in items])
        ).from_(self.relation_table(merged), copy=False)
        columns = {
            "ColumnName": KustoType.STRING,
            "ColumnOrdinal": KustoType.LONG,
            "DataType": KustoType.STRING,
            "ColumnType": KustoType.STRING,
        }
        return self.emit(select, columns)

    # ------------------------------------------------------------------------------ rows_near

    def rows_near(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        """``rows_near(Condition, NumRows [, RowsAfter])``: the rows (in the input's order) within
        ``NumRows`` rows before, or ``RowsAfter`` (default ``NumRows``) rows after, a row where the
        condition holds, the condition's rows included."""
        call = op.plugin
        if len(call.args) not in (2, 3):
            raise self.binder.semantic("rows_near() expects a condition, NumRows and optionally RowsAfter", call)
        counts = [self.constant_count(a, scope, "the row count of rows_near()") for a in call.args[1:]]
        before = max(int(counts[0].literal or 0), 0)
        after = max(int(counts[-1].literal or 0), 0)
        relation = self.with_ordinal(relation)
        order = relation.order_by()
        if not order:
            raise self.binder.semantic("rows_near() needs ordered input (sort or serialize first)", call)
        env = self.row_env(relation, scope)
        condition = self.expr(call.args[0], env)
        flag = exp.Case(ifs=[exp.If(this=condition.sql, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        # A row is kept when a true condition lies within RowsAfter rows before it or NumRows after it.
        near = exp.Window(
            this=exp.Max(this=flag),
            order=exp.Order(expressions=order),
            spec=exp.WindowSpec(
                kind="ROWS",
                start=exp.Literal.number(after),
                start_side="PRECEDING",
                end=exp.Literal.number(before),
                end_side="FOLLOWING",
            ),
        )
        marked = self.emit(
            self.select_from(relation, [*self.passthrough(relation), ("__kql_near", near)]),
            {**relation.columns, "__kql_near": KustoType.LONG},
            relation.order,
        )
        select = self.select_from(marked, self.passthrough(relation)).where(
            exp.EQ(this=col("__kql_near"), expression=exp.Literal.number(1)), copy=False
        )
        return self.emit(select, relation.columns, relation.order)

    # ----------------------------------------------------------------------- dcount_intersect

    def dcount_intersect(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        """``dcount_intersect(hll_1, hll_2, ...)``: per row, ``s0`` the distinct count of the first
        ``hll()`` set, ``s1`` of its intersection with the second, and so on (the sets are the
        exact intermediates of this engine's ``hll``)."""
        call = op.plugin
        if len(call.args) < 2:
            raise self.binder.semantic("dcount_intersect() expects at least two hll() values", call)
        env = self.row_env(relation, scope)
        sets = [
            exp.Coalesce(
                this=exp.TryCast(this=self.expr(a, env).sql, to=exp.DataType.build("JSON[]", dialect="duckdb")),
                expressions=[sqlglot.parse_one("CAST([] AS JSON[])", dialect="duckdb")],
            )
            for a in call.args
        ]
        items: list[tuple[str, exp.Expression]] = []
        running = sets[0]
        for i, current in enumerate(sets):
            if i:
                running = exp.Anonymous(this="list_intersect", expressions=[running.copy(), current])
            count = exp.Anonymous(
                this="len", expressions=[exp.Anonymous(this="list_distinct", expressions=[running.copy()])]
            )
            items.append((f"s{i}", exp.Cast(this=count, to=exp.DataType.build("BIGINT"))))
        select = self.select_from(relation, items, keep_order=False)
        return self.emit(select, {name: KustoType.LONG for name, _ in items})


_AGGREGATES = {"count_if", "any_value", "list", "arg_max", "arg_min", "approx_count_distinct", "quantile_disc"}
