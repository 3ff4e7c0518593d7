"""mv-apply and partition: a sub-pipeline applied to each row's expansion, or to each partition.

Both compile the sub-pipeline once, over all groups at the same time: every step carries a hidden
group-id column (``Relation.hidden``), aggregations group by it, and ``take``/``top`` keep their
rows per group. mv-apply numbers the input rows, expands them (as ``mv-expand``), runs the
sub-pipeline, and joins each result row back to its input row: the input's columns, with the
sub-pipeline's value where it has a column of the same name, then the sub-pipeline's other
columns. A row whose sub-pipeline returns nothing is dropped. partition's legacy form, a sub-query
with its own source, runs that source once per key value (see ``_partition_with_source``).
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .binder import ORDINAL, Relation, Scope
from .gen_sql import col
from .types import KustoType

__all__ = ["ApplyCompiler"]

_ROW = "__kql_row"
_PART = "__kql_part"


class ApplyCompiler:
    """Mixin of the generator: mv-apply, partition."""

    def _sub_pipeline(self, pipeline: ast.Pipeline, source: Relation, scope: Scope, hidden: str) -> Relation:
        if not isinstance(pipeline.source, ast.ImplicitSource):
            raise self.binder.unsupported("a partition sub-query over another table", pipeline)
        saved = self.implicit, self.active_hidden
        self.implicit, self.active_hidden = source, (*self.active_hidden, hidden)
        try:
            return self.table_of(pipeline, scope)
        finally:
            self.implicit, self.active_hidden = saved

    def op_mvapply(self, op: ast.MvApply, relation: Relation, scope: Scope) -> Relation:
        relation = self.with_ordinal(relation)
        order = relation.order_by()
        number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order) if order else None)
        saved = self.active_hidden
        self.active_hidden = (*saved, _ROW)
        try:
            base = self.emit(
                self.select_from(relation, [*self.passthrough(relation), (_ROW, number)]),
                relation.columns,
                relation.order,
                hidden=(_ROW,),
            )
            expand = ast.MvExpand(op.columns, with_itemindex=op.with_itemindex, limit=op.limit, pos=op.pos)
            expanded = self.op_mvexpand(expand, base, scope)
        finally:
            self.active_hidden = saved
        result = self._sub_pipeline(op.subquery, expanded, scope, _ROW)
        items: list[tuple[str, exp.Expression]] = []
        columns = {}
        for name, kusto_type in relation.columns.items():
            if name in result.columns:
                items.append((name, result.ref(name, "S")))
                columns[name] = result.columns[name]
            else:
                items.append((name, base.ref(name, "O")))
                columns[name] = kusto_type
        for name, kusto_type in result.columns.items():
            if name not in columns:
                items.append((name, result.ref(name, "S")))
                columns[name] = kusto_type
        keys = [exp.Ordered(this=col(_ROW, "O"))]
        if result.has_ordinal:
            keys.append(exp.Ordered(this=col(ORDINAL, "S")))
        items.append((ORDINAL, exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=keys))))
        select = exp.select(*self.project_items(items)).from_(self.relation_table(result, "S"), copy=False)
        on = exp.EQ(this=col(_ROW, "S"), expression=col(_ROW, "O"))
        select = select.join(self.relation_table(base, "O"), on=on, join_type="INNER", copy=False)
        return self.emit(select, columns, ORDINAL, hidden=relation.hidden)

    def op_partition(self, op: ast.Partition, relation: Relation, scope: Scope) -> Relation:
        key = self.binder.column_type(relation.columns, op.column, op)
        if not isinstance(op.subquery.source, ast.ImplicitSource):
            return self._partition_with_source(op, relation, scope, key)
        saved = self.active_hidden
        self.active_hidden = (*saved, _PART)
        try:
            base = self.emit(
                self.select_from(relation, [*self.passthrough(relation), (_PART, relation.ref(op.column))]),
                relation.columns,
                relation.order,
                hidden=(_PART,),
            )
        finally:
            self.active_hidden = saved
        result = self._sub_pipeline(op.subquery, base, scope, _PART)
        select = self.select_from(result, self.passthrough(result), keep_hidden=False)
        return self.emit(select, result.columns, result.order if result.has_ordinal else None, hidden=())

    def _partition_with_source(self, op: ast.Partition, relation: Relation, scope: Scope, key: KustoType) -> Relation:
        """``partition by Column { Source | ... toscalar(Column) ... }`` (the legacy form): the
        sub-query runs once per distinct value of ``Column``, which it reads as ``toscalar(Column)``.

        The runs are compiled as one: the sub-query's source is crossed with the distinct values,
        carried as the hidden group id, and ``toscalar(Column)`` reads that id.
        """
        keys = self.emit(
            exp.select(exp.alias_(relation.ref(op.column), _PART))
            .distinct(copy=False)
            .from_(self.relation_table(relation), copy=False),
            {},
        )
        source = self.table_of(op.subquery.source, scope)
        saved = self.active_hidden, self.partition_key
        self.active_hidden = (*saved[0], _PART)
        try:
            select = self.select_from(source, [*self.passthrough(source), (_PART, col(_PART, "K"))])
            select = select.join(self.relation_table(keys, "K"), join_type="CROSS", copy=False)
            base = self.emit(select, source.columns, source.order, hidden=(_PART,))
        finally:
            self.active_hidden = saved[0]
        self.partition_key = (op.column, key)
        try:
            rest = ast.Pipeline(source=ast.ImplicitSource(pos=op.pos), operators=op.subquery.operators, pos=op.pos)
            result = self._sub_pipeline(rest, base, scope, _PART)
        finally:
            self.partition_key = saved[1]
        select = self.select_from(result, self.passthrough(result), keep_hidden=False)
        return self.emit(select, result.columns, result.order if result.has_ordinal else None, hidden=())
