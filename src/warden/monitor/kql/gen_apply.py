"""mv-apply and partition: a sub-pipeline applied to each row's expansion, or to each partition.

Both compile the sub-pipeline once, over all groups at the same time: every step carries a hidden
group-id column (``Relation.hidden``), aggregations group by it, and ``take``/``top`` keep their
rows per group. mv-apply numbers the input rows, expands them (as ``mv-expand``), runs the
sub-pipeline, and joins each result row back to its input row: the input's columns, with the
sub-pipeline's value where it has a column of the same name, then the sub-pipeline's other
columns. A row whose sub-pipeline returns nothing is dropped.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .binder import ORDINAL, Relation, Scope
from .gen_sql import col

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
        del key
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
