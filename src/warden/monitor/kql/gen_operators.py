"""Row-wise tabular operators: where, extend, project and its variants, sort, top, take, distinct,
count, serialize, as, render, getschema, invoke."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from . import ast
from .binder import ORDINAL, Binding, Relation, Scope
from .gen_expanded import expanded_columns
from .gen_sql import col
from .types import INGESTION_TIME_COLUMN, KustoType

__all__ = ["OperatorCompiler"]

#: KQL spellings of the operators this engine refuses, for the error message.
_REFUSED = {
    "MvApply": "mv-apply",
    "Fork": "fork",
    "Facet": "facet",
    "Partition": "partition",
    "Scan": "scan",
    "Reduce": "reduce",
    "SampleDistinct": "sample-distinct",
    "Find": "find",
}
#: Operators that cannot yet run per group inside mv-apply/partition.
_NOT_PER_GROUP = {
    "Join": "join",
    "Lookup": "lookup",
    "Union": "union",
    "MakeSeries": "make-series",
    "TopNested": "top-nested",
    "Evaluate": "evaluate",
    "GetSchema": "getschema",
    "Search": "search",
    "MvApply": "mv-apply",
    "Partition": "partition",
    "Serialize": "serialize",
}
_DOTNET = {
    KustoType.BOOL: "System.Boolean",
    KustoType.DATETIME: "System.DateTime",
    KustoType.DYNAMIC: "System.Object",
    KustoType.GUID: "System.Guid",
    KustoType.INT: "System.Int32",
    KustoType.LONG: "System.Int64",
    KustoType.REAL: "System.Double",
    KustoType.STRING: "System.String",
    KustoType.TIMESPAN: "System.TimeSpan",
    KustoType.DECIMAL: "System.Data.SqlTypes.SqlDecimal",
}


class OperatorCompiler:
    """Mixin of the generator: one method per tabular operator (``op_<classname>``)."""

    def operator(self, op: ast.Operator, relation: Relation, scope: Scope) -> Relation:
        kind = type(op).__name__
        if relation.hidden and kind in _NOT_PER_GROUP:
            name = _NOT_PER_GROUP[kind]
            raise self.binder.unsupported(f"the '{name}' operator inside mv-apply or partition", op)
        method = getattr(self, f"op_{kind.lower()}", None)
        if method is None:
            name = _REFUSED.get(kind, kind.lower())
            raise self.binder.unsupported(f"the '{name}' operator", op)
        return method(op, relation, scope)

    # ----------------------------------------------------------------------------------- where

    def op_where(self, op: ast.Where, relation: Relation, scope: Scope) -> Relation:
        env = self.row_env(relation, scope, in_filter=True)
        predicate = self._as_bool(self.expr(op.predicate, env))
        source = self.apply_hoisted(relation, env)
        if source is relation:
            # Same columns in, same out (ordinal and group ids included): no need to list them.
            select = exp.select(exp.Star()).from_(self.relation_table(relation), copy=False)
            select = select.where(predicate.sql, copy=False)
            filtered = self.emit(select, relation.columns, relation.order, hidden=relation.hidden)
            filtered.ingested = relation.ingested  # the star keeps the ingestion-time column
            return filtered
        select = self.select_from(source, self.passthrough(relation)).where(predicate.sql, copy=False)
        return self.emit(select, relation.columns, relation.order)

    # ---------------------------------------------------------------------------- extend/project

    def op_extend(self, op: ast.Extend, relation: Relation, scope: Scope) -> Relation:
        return self._extend(op.columns, relation, scope)

    def _extend(self, named_exprs: tuple[ast.NamedExpr, ...], relation: Relation, scope: Scope) -> Relation:
        env = self.row_env(relation, scope)
        columns = dict(relation.columns)
        items: dict[str, exp.Expression] = {name: relation.ref(name) for name in columns}
        for named in named_exprs:
            expanded = expanded_columns(self, named, env)
            if expanded is not None:
                for name, value in expanded:
                    env.defined[name] = value
                    items[name] = value.sql
                    columns[name] = value.type
                continue
            if len(named.names) > 1:
                raise self.binder.unsupported("assigning several names to one expression", named)
            value = self.expr(named.expr, env)
            name = self.binder.column_name(named, columns)
            env.defined[name] = value
            items[name] = value.sql
            columns[name] = value.type
        item_list = list(items.items())
        relation = self.keep_order(relation, item_list)
        source = self.apply_hoisted(relation, env)
        select = self.select_from(source, item_list)
        carried = source is relation and relation.ingested
        if carried:  # so a later where/extend can still call ingestion_time()
            select = select.select(exp.column(INGESTION_TIME_COLUMN, quoted=True), copy=False)
        extended = self.emit(select, columns, relation.order)
        extended.ingested = carried
        return extended

    def op_project(self, op: ast.Project, relation: Relation, scope: Scope) -> Relation:
        env = self.row_env(relation, scope)
        columns: dict[str, KustoType] = {}
        items: list[tuple[str, exp.Expression]] = []
        for named in op.columns:
            expanded = expanded_columns(self, named, env)
            if expanded is not None:
                for name, value in expanded:
                    if name in columns:
                        raise self.binder.semantic(f"column '{name}' is projected twice", named)
                    env.defined[name] = value
                    items.append((name, value.sql))
                    columns[name] = value.type
                continue
            if len(named.names) > 1:
                raise self.binder.unsupported("assigning several names to one expression", named)
            if not named.names and isinstance(named.expr, ast.NameRef) and "*" in named.expr.name:
                for name in self.binder.match_columns(named.expr.name, list(relation.columns), named):
                    if name not in columns:
                        items.append((name, relation.ref(name)))
                        columns[name] = relation.columns[name]
                continue
            value = self.expr(named.expr, env)
            name = self.binder.column_name(named, columns)
            if name in columns:
                raise self.binder.semantic(f"column '{name}' is projected twice", named)
            env.defined[name] = value
            items.append((name, value.sql))
            columns[name] = value.type
        relation = self.keep_order(relation, items)
        source = self.apply_hoisted(relation, env)
        return self.emit(self.select_from(source, items), columns, relation.order)

    def _keep(self, relation: Relation, names: list[str], renames: dict[str, str] | None = None) -> Relation:
        renames = renames or {}
        items = [(renames.get(name, name), relation.ref(name)) for name in names]
        columns = {renames.get(name, name): relation.columns[name] for name in names}
        relation = self.keep_order(relation, [(n, relation.ref(n)) for n in names if n not in renames])
        return self.emit(self.select_from(relation, items), columns, relation.order)

    def op_projectaway(self, op: ast.ProjectAway, relation: Relation, scope: Scope) -> Relation:
        drop: set[str] = set()
        for pattern in op.columns:
            drop.update(self.binder.match_columns(pattern, list(relation.columns), op))
        return self._keep(relation, [n for n in relation.columns if n not in drop])

    def op_projectkeep(self, op: ast.ProjectKeep, relation: Relation, scope: Scope) -> Relation:
        keep: set[str] = set()
        for pattern in op.columns:
            keep.update(self.binder.match_columns(pattern, list(relation.columns), op))
        return self._keep(relation, [n for n in relation.columns if n in keep])

    def op_projectrename(self, op: ast.ProjectRename, relation: Relation, scope: Scope) -> Relation:
        renames: dict[str, str] = {}
        for rename in op.renames:
            self.binder.column_type(relation.columns, rename.old_name, rename)
            renames[rename.old_name] = rename.new_name
        names = list(relation.columns)
        final = [renames.get(n, n) for n in names]
        if len(set(final)) != len(final):
            # A renamed column replacing an existing one: the existing one goes.
            names = [n for n in names if n in renames or n not in renames.values()]
        return self._keep(relation, names, renames)

    def op_projectreorder(self, op: ast.ProjectReorder, relation: Relation, scope: Scope) -> Relation:
        ordered: list[str] = []
        for item in op.columns:
            matched = [
                n for n in self.binder.match_columns(item.pattern, list(relation.columns), item) if n not in ordered
            ]
            if item.order in ("asc", "granny-asc"):
                matched.sort(key=_granny if item.order == "granny-asc" else None)
            elif item.order in ("desc", "granny-desc"):
                matched.sort(key=_granny if item.order == "granny-desc" else None, reverse=True)
            ordered.extend(matched)
        ordered.extend(n for n in relation.columns if n not in ordered)
        return self._keep(relation, ordered)

    # ------------------------------------------------------------------------------ ordering

    def sort_keys(
        self, keys: tuple[ast.SortKey, ...], relation: Relation, scope: Scope
    ) -> tuple[list[exp.Ordered], list[tuple[str, exp.Expression]]]:
        """The ORDER BY keys of sort/top: plain columns, or hidden ``__kql_key_N`` columns for expressions."""
        env = self.row_env(relation, scope)
        ordered: list[exp.Ordered] = []
        hidden: list[tuple[str, exp.Expression]] = []
        for key in keys:
            value = self.expr(key.expr, env)
            sql = value.sql
            if not (isinstance(sql, exp.Column) and not sql.table and sql.name in relation.sql.values()):
                name = f"__kql_key_{len(hidden) + 1}"
                hidden.append((name, sql))
                sql = col(name)
            ordered.append(exp.Ordered(this=sql, desc=not key.ascending, nulls_first=key.nulls_first))
        return ordered, hidden

    def op_sort(self, op: ast.Sort, relation: Relation, scope: Scope) -> Relation:
        ordered, hidden = self.sort_keys(op.keys, relation, scope)
        if not hidden:
            return Relation(
                relation.name, dict(relation.columns), tuple(ordered), relation.materialized, relation.hidden
            )
        number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=ordered))
        staged = self.emit(
            self.select_from(relation, self.passthrough(relation) + hidden, keep_order=False), relation.columns
        )
        select = self.select_from(staged, [*self.passthrough(relation), (ORDINAL, number)], keep_order=False)
        return self.emit(select, relation.columns, ORDINAL)

    def op_top(self, op: ast.Top, relation: Relation, scope: Scope) -> Relation:
        count = self.constant_count(op.count, scope, "the row count of top")
        ordered, hidden = self.sort_keys(op.keys, relation, scope)
        if relation.hidden:
            staged = self.emit(self.select_from(relation, self.passthrough(relation) + hidden), relation.columns)
            return self.first_rows_per_group(staged, int(count.literal or 0), ordered)
        select = self.select_from(relation, self.passthrough(relation) + hidden, keep_order=False)
        select = select.order_by(*ordered, copy=False).limit(exp.Literal.number(int(count.literal or 0)), copy=False)
        if not hidden:
            return self.emit(select, relation.columns, tuple(o.copy() for o in ordered))
        staged = self.emit(select, relation.columns)
        number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[o.copy() for o in ordered]))
        final = self.select_from(staged, [*self.passthrough(relation), (ORDINAL, number)], keep_order=False)
        return self.emit(final, relation.columns, ORDINAL)

    def op_take(self, op: ast.Take, relation: Relation, scope: Scope) -> Relation:
        count = self.constant_count(op.count, scope, "the row count of take")
        if relation.hidden:
            return self.first_rows_per_group(relation, max(int(count.literal or 0), 0), relation.order_by())
        select = self.select_from(relation, self.passthrough(relation))
        order = relation.order_by()
        if order:
            select = select.order_by(*order, copy=False)
        select = select.limit(exp.Literal.number(max(int(count.literal or 0), 0)), copy=False)
        return self.emit(select, relation.columns, relation.order)

    op_sample = op_take

    def first_rows_per_group(self, relation: Relation, count: int, order: list[exp.Ordered]) -> Relation:
        """take/top inside mv-apply or partition: the first ``count`` rows of each group."""
        number = exp.Window(
            this=exp.RowNumber(),
            partition_by=[col(h) for h in relation.hidden],
            order=exp.Order(expressions=order) if order else None,
        )
        items = [*self.passthrough(relation), (ORDINAL, number)]
        staged = self.emit(self.select_from(relation, items, keep_order=False), relation.columns, ORDINAL)
        select = self.select_from(staged, self.passthrough(staged))
        select = select.where(exp.LTE(this=col(ORDINAL), expression=exp.Literal.number(count)), copy=False)
        return self.emit(select, relation.columns, ORDINAL)

    def op_serialize(self, op: ast.Serialize, relation: Relation, scope: Scope) -> Relation:
        if relation.order is None:
            number = exp.Window(this=exp.RowNumber())
            select = self.select_from(relation, [*self.passthrough(relation), (ORDINAL, number)], keep_order=False)
            relation = self.emit(select, relation.columns, ORDINAL)
        return self._extend(op.columns, relation, scope) if op.columns else relation

    # ---------------------------------------------------------------------------- reshaping

    def op_distinct(self, op: ast.Distinct, relation: Relation, scope: Scope) -> Relation:
        names = list(relation.columns) if op.all_columns else list(op.columns)
        for name in names:
            self.binder.column_type(relation.columns, name, op)
        select = self.select_from(relation, [(n, relation.ref(n)) for n in names], keep_order=False).distinct(
            copy=False
        )
        return self.emit(select, {n: relation.columns[n] for n in names})

    def op_count(self, op: ast.Count, relation: Relation, scope: Scope) -> Relation:
        select = self.select_from(relation, [("Count", exp.Count(this=exp.Star()))], keep_order=False)
        if relation.hidden:
            select = select.group_by(*[col(h) for h in relation.hidden], copy=False)
        return self.emit(select, {"Count": KustoType.LONG})

    def op_as(self, op: ast.As, relation: Relation, scope: Scope) -> Relation:
        scope.names[op.name] = Binding("tabular", value=relation)
        return relation

    def op_render(self, op: ast.Render, relation: Relation, scope: Scope) -> Relation:
        properties: dict[str, Any] = {}
        for prop in op.properties:
            values = []
            for value in prop.values:
                if isinstance(value, ast.Literal):
                    values.append(value.value)
                elif isinstance(value, ast.NameRef):
                    values.append(value.name)
            properties[prop.name] = values[0] if len(values) == 1 else values
        self.visualization = {"visualization": op.chart, **properties}
        return relation

    def op_getschema(self, op: ast.GetSchema, relation: Relation, scope: Scope) -> Relation:
        columns = {
            "ColumnName": KustoType.STRING,
            "ColumnOrdinal": KustoType.INT,
            "DataType": KustoType.STRING,
            "ColumnType": KustoType.STRING,
        }
        rows = [
            [name, index, _DOTNET[kusto_type], str(kusto_type)]
            for index, (name, kusto_type) in enumerate(relation.columns.items())
        ]
        return self.constant_table(columns, rows)

    def op_invoke(self, op: ast.Invoke, relation: Relation, scope: Scope) -> Relation:
        return self.tabular_call(op.call, scope, input_relation=relation)


def _granny(name: str) -> tuple[Any, ...]:
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))
