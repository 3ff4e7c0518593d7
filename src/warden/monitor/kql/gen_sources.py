"""Sources of a pipeline: table names, ``datatable``, ``print``, ``range``, ``materialize``, and the
refusals (``externaldata``, ``cluster()``/``database()``, ``find``)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from . import ast
from .binder import ORDINAL, Relation, Scope
from .gen_expressions import RowEnv
from .gen_sql import col, fn, ident, literal
from .typed import Typed
from .types import KustoType

__all__ = ["SourceCompiler"]


class SourceCompiler:
    """Mixin of the generator: ``source()`` and one method per source kind."""

    def source(self, node: ast.Source, scope: Scope) -> Relation:
        if isinstance(node, ast.TableRef):
            if "*" in node.name:
                return self.union_tables([node.name], node, scope)
            return self.table_ref(node.name, node, scope)
        if isinstance(node, ast.Pipeline):
            return self.table_of(node, scope)
        if isinstance(node, ast.Datatable):
            return self.source_datatable(node, scope)
        if isinstance(node, ast.Print):
            return self.source_print(node, scope)
        if isinstance(node, ast.Range):
            return self.source_range(node, scope)
        if isinstance(node, ast.Materialize):
            inner = self.table_of(node.query, scope)
            select = self.select_from(inner, self.passthrough(inner))
            return self.emit(select, inner.columns, inner.order if inner.has_ordinal else None, materialized=True)
        if isinstance(node, ast.TabularCall):
            return self.tabular_call(node.call, scope)
        if isinstance(node, ast.Union):
            return self.op_union(node, None, scope)
        if isinstance(node, ast.Search):
            return self.op_search(node, None, scope)
        if isinstance(node, ast.Evaluate):
            return self.op_evaluate(node, None, scope)
        if isinstance(node, ast.ExternalData):
            raise self.binder.unsupported("externaldata", node, "a query cannot read files or URLs")
        if isinstance(node, ast.QualifiedTableRef):
            scoped = _scoped_key(node)
            if scoped is not None and scoped in self.binder.schema:
                return self.table_ref(scoped, node, scope)
            scopes = ".".join(f"{c.name}()" for c in node.scopes)
            raise self.binder.unsupported(f"{scopes} references", node, "a query reads only the tables it is given")
        if isinstance(node, ast.Find):
            raise self.binder.unsupported("the 'find' operator", node)
        if isinstance(node, ast.ImplicitSource):
            if self.implicit is not None:
                return self.implicit
            raise self.binder.unsupported("sub-queries over an implicit input (mv-apply, fork, facet, partition)", node)
        raise self.binder.unsupported(type(node).__name__, node)

    # ------------------------------------------------------------------------------ constants

    def rows_relation(self, columns: dict[str, KustoType], rows: list[list[Typed]]) -> Relation:
        """A relation of rows of compiled values, in order (a balanced UNION ALL of one-row SELECTs)."""
        if not rows:
            pairs = [(n, literal(t, None, self.dialect).sql) for n, t in columns.items()]
            pairs.append((ORDINAL, exp.Literal.number(0)))
            return self.emit(exp.select(*self.project_items(pairs)).where(exp.false(), copy=False), columns, ORDINAL)
        selects: list[exp.Expression] = []
        for index, row in enumerate(rows):
            pairs = [(n, v.sql) for n, v in zip(columns, row, strict=True)]
            pairs.append((ORDINAL, exp.Literal.number(index)))
            selects.append(exp.select(*self.project_items(pairs)))
        while len(selects) > 1:
            paired = [exp.union(a, b, distinct=False) for a, b in zip(selects[::2], selects[1::2], strict=False)]
            if len(selects) % 2:
                paired.append(selects[-1])
            selects = paired
        return self.emit(selects[0], columns, ORDINAL)

    def constant_table(self, columns: dict[str, KustoType], rows: list[list[object]]) -> Relation:
        typed = [[literal(t, v, self.dialect) for t, v in zip(columns.values(), row, strict=True)] for row in rows]
        return self.rows_relation(columns, typed)

    def source_datatable(self, node: ast.Datatable, scope: Scope) -> Relation:
        columns: dict[str, KustoType] = {}
        for decl in node.columns:
            if decl.name in columns:
                raise self.binder.semantic(f"column '{decl.name}' is declared twice", decl)
            columns[decl.name] = KustoType(decl.type)
        width = len(columns)
        if width == 0 or len(node.values) % width:
            raise self.binder.semantic("datatable values do not fill whole rows", node)
        env = RowEnv(columns={}, scope=scope)
        rows: list[list[Typed]] = []
        types = list(columns.values())
        for start in range(0, len(node.values), width):
            row = []
            for kusto_type, value_node in zip(types, node.values[start : start + width], strict=True):
                value = self.expr(value_node, env)
                row.append(self.datatable_value(value, kusto_type, value_node))
            rows.append(row)
        return self.rows_relation(columns, rows)

    def datatable_value(self, value: Typed, kusto_type: KustoType, node: ast.Node) -> Typed:
        if value.type == kusto_type:
            return value
        if value.is_constant and value.literal is None:
            return literal(kusto_type, None, self.dialect)
        if kusto_type is KustoType.DYNAMIC:
            if value.is_constant:
                literal_value = value.literal
                if value.type in (KustoType.DATETIME, KustoType.TIMESPAN):
                    return Typed(fn("to_json", value.sql), KustoType.DYNAMIC)
                return literal(KustoType.DYNAMIC, literal_value, self.dialect)
            return Typed(exp.Cast(this=fn("to_json", value.sql), to=exp.DataType.build("JSON")), KustoType.DYNAMIC)
        if value.type.is_numeric and kusto_type.is_numeric:
            return self.coerce(value, kusto_type)
        if kusto_type is KustoType.STRING:
            return self.to_string(value)
        return self.coerce(value, kusto_type)

    # ---------------------------------------------------------------------------------- print

    def source_print(self, node: ast.Print, scope: Scope) -> Relation:
        env = RowEnv(columns={}, scope=scope)
        columns: dict[str, KustoType] = {}
        row: list[Typed] = []
        for index, named in enumerate(node.columns):
            if len(named.names) > 1:
                raise self.binder.unsupported("assigning several names to one expression", named)
            value = self.expr(named.expr, env)
            name = named.names[0] if named.names else f"print_{index}"
            if name in columns:
                raise self.binder.semantic(f"column '{name}' is printed twice", named)
            env.defined[name] = value
            columns[name] = value.type
            row.append(value)
        return self.rows_relation(columns, [row])

    # ---------------------------------------------------------------------------------- range

    def source_range(self, node: ast.Range, scope: Scope) -> Relation:
        env = RowEnv(columns={}, scope=scope)
        start, end, step = (self.expr(part, env) for part in (node.start, node.end, node.step))
        index = Typed(col("__kql_i"), KustoType.LONG)
        if start.type is KustoType.DATETIME:
            if step.type is not KustoType.TIMESPAN:
                raise self.binder.semantic("range over datetimes needs a timespan step", node.step)
            span = Typed(exp.Sub(this=self.epoch_us(end.sql), expression=self.epoch_us(start.sql)), KustoType.LONG)
            micros = exp.Paren(this=exp.Div(this=step.sql, expression=exp.Literal.number(10)))
            count = exp.Div(this=exp.Paren(this=span.sql), expression=micros)
            offset = Typed(exp.Mul(this=index.sql, expression=exp.Paren(this=step.sql.copy())), KustoType.TIMESPAN)
            value = self.shift(start, offset, negate=False)
        else:
            kind = KustoType.TIMESPAN if start.type is KustoType.TIMESPAN else None
            if kind is None:
                kind = KustoType.REAL if KustoType.REAL in (start.type, end.type, step.type) else KustoType.LONG
                if KustoType.DECIMAL in (start.type, end.type, step.type) and kind is not KustoType.REAL:
                    kind = KustoType.REAL
            low, high, by = (self.coerce(v, kind) if v.type.is_numeric else v for v in (start, end, step))
            count = exp.Div(this=exp.Paren(this=exp.Sub(this=high.sql, expression=low.sql)), expression=by.sql)
            value = Typed(
                exp.Add(this=low.sql.copy(), expression=exp.Mul(this=index.sql, expression=by.sql.copy())), kind
            )
            value = self.coerce(value, kind) if kind is not KustoType.REAL else value
        total = exp.Add(this=fn("floor", count), expression=exp.Literal.number(1))
        inner = self._row_numbers(exp.Cast(this=total, to=exp.DataType.build("BIGINT")))
        self._count += 0
        staged = self.emit(inner, {"__kql_i": KustoType.LONG})
        select = exp.select(*self.project_items([(node.column, value.sql), (ORDINAL, col("__kql_i"))]))
        return self.emit(select.from_(self.relation_table(staged), copy=False), {node.column: value.type}, ORDINAL)

    def _row_numbers(self, total: exp.Expression) -> exp.Select:
        """``SELECT 0 .. total-1 AS __kql_i`` from the engine's row generator: a table function
        streams its rows (and a long query over them can be interrupted), where unnesting one
        huge array would build it whole first."""
        if self.dialect == "clickhouse":
            count = exp.func("greatest", exp.Literal.number(0), total, dialect="clickhouse")
            source = sqlglot.parse_one("numbers(0)", dialect="clickhouse", into=exp.Table)
            source.this.set("expressions", [fn("toUInt64", fn("assumeNotNull", count))])
            return exp.select(exp.alias_(col("number"), ident("__kql_i"))).from_(source)
        series = exp.GenerateSeries(start=exp.Literal.number(0), end=total, is_end_exclusive=True)
        return exp.select(exp.alias_(col("range"), ident("__kql_i"))).from_(exp.Table(this=series))


def scoped_table_key(scope: str, target: str, table: str) -> str:
    """The schema key standing for ``scope("target").table`` (e.g. ``workspace("w").T``).

    A caller that serves several workspaces (the log query API) puts their tables in the schema
    under these keys; the target matches case-insensitively, as Azure's workspace names do.
    """
    return f"{scope.lower()}('{target.lower()}').{table}"


def _scoped_key(node: ast.QualifiedTableRef) -> str | None:
    if len(node.scopes) != 1 or node.scopes[0].name not in ("workspace", "app"):
        return None
    call = node.scopes[0]
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Literal) or not isinstance(call.args[0].value, str):
        return None
    return scoped_table_key(call.name, call.args[0].value, node.table)
