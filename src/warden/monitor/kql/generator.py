"""The SQL generator: a bound KQL query -> one sqlglot ``SELECT`` (a chain of CTEs, one per step).

Each tabular operator reads the previous step's CTE and becomes a new CTE; the query's result is
the last one, with its columns listed in order and its row order (``sort``, ``top``, a
``datatable``'s row order) restored by the final ``ORDER BY``. sqlglot then prints the tree for
DuckDB or ClickHouse. The work is split over mixins, one module each: scalar expressions
(``gen_expressions``, ``gen_scalar_ops``, ``gen_lists``, ``gen_calls``, ``gen_windows``,
``gen_dynamic``), pipelines and tabular names (``gen_tables``), row-wise operators
(``gen_operators``), ``summarize`` (``gen_summarize``), ``make-series``/``top-nested``
(``gen_series``), joins, unions and search (``gen_join``), ``mv-expand``/``parse``
(``gen_expand``), ``mv-apply``/``partition`` (``gen_apply``), ``scan`` (``gen_scan``),
``evaluate`` plugins (``gen_plugins``) and sources (``gen_sources``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from . import ast
from .binder import ORDINAL, Binder, Binding, Relation, Scope, sql_names
from .gen_analytics import AnalyticsPlugins
from .gen_apply import ApplyCompiler
from .gen_calls import CallCompiler
from .gen_expand import ExpandCompiler
from .gen_expressions import ExpressionCompiler, RowEnv
from .gen_join import JoinCompiler
from .gen_lists import ListOperators
from .gen_operators import OperatorCompiler
from .gen_plugins import PluginCompiler
from .gen_scan import ScanCompiler
from .gen_series import SeriesCompiler
from .gen_sources import SourceCompiler
from .gen_sql import col, ident, literal, table
from .gen_summarize import SummarizeCompiler
from .gen_tables import TableCompiler
from .gen_windows import WindowCompiler
from .schema import DatabaseSchema
from .typed import Typed
from .types import KustoType
from .values import datetime_to_ticks

__all__ = ["Generator", "Probe"]

#: Runs a SELECT on the data and returns its rows; ``pivot``/``bag_unpack`` use it to learn their
#: output columns. Absent when compiling without data.
Probe = Callable[[str], list[tuple[Any, ...]]]


class Generator(
    TableCompiler,
    OperatorCompiler,
    SummarizeCompiler,
    SeriesCompiler,
    JoinCompiler,
    ExpandCompiler,
    ApplyCompiler,
    ScanCompiler,
    PluginCompiler,
    AnalyticsPlugins,
    SourceCompiler,
    CallCompiler,
    WindowCompiler,
    ListOperators,
    ExpressionCompiler,
):
    """Compiles one query text against one schema, for one dialect."""

    def __init__(
        self,
        text: str,
        schema: DatabaseSchema,
        *,
        dialect: str = "duckdb",
        now: dt.datetime | None = None,
        probe: Probe | None = None,
    ) -> None:
        if dialect not in ("duckdb", "clickhouse"):
            raise ValueError(f"unknown dialect {dialect!r}: expected 'duckdb' or 'clickhouse'")
        self.binder = Binder(text, schema)
        self.dialect = dialect
        self.now_ticks = datetime_to_ticks(now or dt.datetime.now(dt.UTC))
        self.probe = probe
        self.ctes: list[tuple[str, exp.Expression, bool]] = []
        self.visualization: dict[str, Any] | None = None
        self._count = 0
        # The input of a sub-pipeline (mv-apply, partition) and the group-id columns it carries.
        self.implicit: Relation | None = None
        self.active_hidden: tuple[str, ...] = ()
        # partition's legacy form: the key column that toscalar(Column) reads, and its type.
        self.partition_key: tuple[str, KustoType] | None = None
        self.recursive = False  # a CTE refers to itself (scan)
        self.options: dict[str, ast.Expr] = {}  # set statements (query_bin_auto_size...)

    # -------------------------------------------------------------------------- CompileContext

    def now(self) -> exp.Expression:
        return literal(KustoType.DATETIME, self.now_ticks, self.dialect).sql

    # ----------------------------------------------------------------------------------- query

    def compile_query(self, query: ast.Query) -> tuple[exp.Select, Relation]:
        """Return the whole query's SELECT and its result relation (columns and Kusto types)."""
        scope = Scope()
        self.options = {option.name: option.value for option in query.options if option.value is not None}
        for statement in query.statements:
            if isinstance(statement, ast.LetStatement):
                scope = self.bind_let(scope, statement)
            elif isinstance(statement, ast.DeclareQueryParameters):
                scope = scope.child()
                for param in statement.params:
                    if param.default is None:
                        scope.names[param.name] = Binding("unset", expr=param, scope=scope)
                    else:
                        scope.names[param.name] = Binding("expr", expr=param.default, scope=scope.parent)
        result = self.table_of(query.body, scope)
        return self.final_select(result), result

    def bind_let(self, scope: Scope, statement: ast.LetStatement) -> Scope:
        """Return a scope where ``statement``'s name is bound (its value sees the names before it)."""
        value = statement.value
        if isinstance(value, ast.FunctionDef):
            binding = Binding("function", expr=value, scope=scope)
        elif isinstance(value, ast.Pipeline):
            binding = Binding("tabular", expr=value, scope=scope)
        else:
            binding = Binding("expr", expr=value, scope=scope)
        child = scope.child()
        child.names[statement.name] = binding
        if binding.kind == "function":
            binding.scope = child  # a function sees itself, so that a recursive call is reported
        return child

    def final_select(self, relation: Relation) -> exp.Select:
        items = [exp.alias_(relation.ref(name), ident(name)) for name in relation.columns]
        select = exp.select(*items or [exp.Literal.number(1)])
        select = select.from_(self.relation_table(relation), copy=False)
        order = relation.order_by()
        if order:
            select = select.order_by(*order, copy=False)
        if not relation.columns:
            select = select.where(exp.false(), copy=False)
        return self.attach_ctes(select)

    def attach_ctes(self, select: exp.Select, *, copy: bool = False) -> exp.Select:
        """``WITH`` every CTE compiled so far ``select`` (``WITH RECURSIVE`` when scan needs it)."""
        for name, query, materialized in self.ctes:
            query = query.copy() if copy else query
            select = select.with_(ident(name), as_=query, materialized=materialized or None, copy=False)
        if self.recursive and select.args.get("with_") is not None:
            select.args["with_"].set("recursive", True)
        return select

    # ------------------------------------------------------------------------------- relations

    def relation_table(self, relation: Relation, alias: str | None = None) -> exp.Expression:
        if relation.inline is not None:
            return exp.Subquery(this=relation.inline.copy(), alias=exp.TableAlias(this=ident(alias or relation.name)))
        return table(relation.name, alias)

    def emit(
        self,
        select: exp.Expression,
        columns: dict[str, KustoType],
        order: str | tuple[exp.Ordered, ...] | None = None,
        *,
        materialized: bool = False,
        hidden: tuple[str, ...] | None = None,
    ) -> Relation:
        """Add a CTE and return the relation it defines (its hidden columns: those it selects)."""
        self._count += 1
        name = f"__kql_{self._count}"
        self.ctes.append((name, select, materialized))
        if hidden is None:
            hidden = tuple(h for h in self.active_hidden if h in _selected(select)) if self.active_hidden else ()
        return Relation(name, dict(columns), order, materialized, hidden)

    def project_items(self, items: list[tuple[str, exp.Expression]]) -> list[exp.Expression]:
        """SELECT items under the SQL names of a relation whose Kusto columns are the item names."""
        names = sql_names([name for name, _ in items])
        out: list[exp.Expression] = []
        for name, sql in items:
            target = names[name]
            if isinstance(sql, exp.Column) and sql.name == target and not sql.table:
                out.append(sql)
            else:
                out.append(exp.alias_(sql, ident(target)))
        return out

    def select_from(
        self,
        relation: Relation,
        items: list[tuple[str, exp.Expression]],
        *,
        keep_order: bool = True,
        keep_hidden: bool = True,
    ) -> exp.Select:
        """``SELECT items [, ordinal] [, hidden group ids] FROM relation``."""
        projections = self.project_items(items)
        if keep_order and relation.has_ordinal:
            projections.append(col(ORDINAL))
        if keep_hidden:
            projections.extend(col(h) for h in relation.hidden if h not in {name for name, _ in items})
        if not projections:
            projections = [exp.alias_(exp.Literal.number(1), ident("__kql_empty"))]
        return exp.select(*projections).from_(self.relation_table(relation), copy=False)

    @staticmethod
    def passthrough(relation: Relation) -> list[tuple[str, exp.Expression]]:
        return [(name, relation.ref(name)) for name in relation.columns]

    def with_ordinal(self, relation: Relation) -> Relation:
        """The relation with its key order turned into a hidden row-number column."""
        if not isinstance(relation.order, tuple):
            return relation
        number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=relation.order_by()))
        select = self.select_from(relation, [*self.passthrough(relation), (ORDINAL, number)], keep_order=False)
        return self.emit(select, relation.columns, ORDINAL)

    def keep_order(self, relation: Relation, items: list[tuple[str, exp.Expression]]) -> Relation:
        """Prepare ``relation`` for a row-wise step producing ``items``: if its order keys do not
        survive the step unchanged, fix the order in an ordinal column first."""
        if not isinstance(relation.order, tuple):
            return relation
        names = sql_names([name for name, _ in items])
        kept = {
            relation.sql[name]
            for name, sql in items
            if name in relation.columns
            and isinstance(sql, exp.Column)
            and not sql.table
            and sql.name == relation.sql[name] == names[name]
        }
        if relation.key_columns() <= kept:
            return relation
        return self.with_ordinal(relation)

    def apply_hoisted(self, relation: Relation, env: RowEnv) -> Relation:
        """Compute the window expressions the step's expressions hoisted (see ``hoist``), level by level."""
        if not env.hoisted:
            return relation
        current = relation
        carried: list[str] = []
        for level in sorted({level for level, _, _ in env.hoisted}):
            fresh = [(name, sql) for lvl, name, sql in env.hoisted if lvl == level]
            items = self.passthrough(relation) + [(name, col(name)) for name in carried] + fresh
            current = self.emit(self.select_from(current, items), relation.columns, relation.order)
            carried += [name for name, _ in fresh]
        return current

    def row_env(self, relation: Relation, scope: Scope, **extra: Any) -> RowEnv:
        return RowEnv(columns=dict(relation.columns), scope=scope, relation=relation, sql=relation.sql, **extra)

    # ------------------------------------------------------------------------------ constants

    def constant(self, node: ast.Expr, scope: Scope, what: str) -> Typed:
        value = self.expr(node, RowEnv(columns={}, scope=scope))
        if not value.is_constant:
            raise self.binder.semantic(f"{what} must be a constant", node)
        return value

    def constant_count(self, node: ast.Expr, scope: Scope, what: str) -> Typed:
        """A constant whole number (a row count, a limit); a null count means zero."""
        value = self.constant(node, scope, what)
        if value.type not in (KustoType.INT, KustoType.LONG) or isinstance(value.literal, bool):
            raise self.binder.semantic(f"{what} must be a whole number, not {value.type}", node)
        return value


def _selected(select: exp.Expression) -> set[str]:
    """The output column names of a SELECT (of a UNION's first branch)."""
    while isinstance(select, exp.Union):
        select = select.this
    return set(select.named_selects) if isinstance(select, exp.Select) else set()
