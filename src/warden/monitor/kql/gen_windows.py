"""Functions that need the operator's context: ``row_number``, ``row_cumsum``, ``row_rank_dense``,
``row_rank_min``, ``row_window_session`` (restart conditions included), ``prev``/``next`` over the
input's order, and ``pack_all``/``bag_pack_columns`` over the row's columns.

SQL cannot nest window functions, while KQL can (``row_cumsum(x, name != prev(name))``): an
argument that holds a window is *hoisted* into a hidden column computed by a step before the
current one (``hoist``; the operator then calls the generator's ``apply_hoisted``).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from . import ast
from .gen_expressions import RowEnv
from .gen_sql import col, fn
from .typed import Typed
from .types import KustoType

__all__ = ["WindowCompiler"]


class WindowCompiler:
    """Mixin of the generator: window functions and pack_all."""

    def _window_order(self, env: RowEnv) -> list[exp.Ordered]:
        return env.relation.order_by() if env.relation is not None else []

    def hoist(self, sql: exp.Expression, env: RowEnv) -> exp.Expression:
        """Compute ``sql`` in a step before the current one when it holds a window function (SQL
        cannot nest windows: ``row_cumsum(x, name != prev(name))``); return what reads it."""
        if not any(isinstance(node, exp.Window) for node in sql.walk()):
            return sql
        level = 1 + max(
            (env.hoisted_levels.get(column.name, 0) for column in sql.find_all(exp.Column)),
            default=0,
        )
        name = f"__kql_w{len(env.hoisted) + 1}"
        env.hoisted.append((level, name, sql))
        env.hoisted_levels[name] = level
        return col(name)

    def _window(
        self,
        func: exp.Expression,
        env: RowEnv,
        *,
        frame: bool = False,
        partition: exp.Expression | None = None,
    ) -> exp.Expression:
        order = self._window_order(env)
        window = exp.Window(
            this=func,
            partition_by=[partition] if partition is not None else None,
            order=exp.Order(expressions=order) if order else None,
        )
        if frame:
            window.set(
                "spec",
                exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"),
            )
        return window

    def _restart_group(self, node: ast.Call, index: int, env: RowEnv) -> exp.Expression | None:
        """For ``row_number(start, restart)``-style calls: a run id that changes where ``restart`` holds."""
        if len(node.args) <= index:
            return None
        restart = self._as_bool(self.expr(node.args[index], env))
        if restart.is_constant and restart.literal is False:
            return None
        flag = exp.Case(
            ifs=[exp.If(this=self.hoist(restart.sql, env), true=exp.Literal.number(1))], default=exp.Literal.number(0)
        )
        return self.hoist(self._window(exp.Sum(this=flag), env, frame=True), env)

    def _fn_row_number(self, node: ast.Call, env: RowEnv) -> Typed:
        self._arity(node, 0, 2)
        group = self._restart_group(node, 1, env)
        number: exp.Expression = self._window(exp.RowNumber(), env, partition=group)
        if node.args:
            start = self.expr(node.args[0], env)
            number = exp.Add(
                this=number, expression=exp.Paren(this=exp.Sub(this=start.sql, expression=exp.Literal.number(1)))
            )
        return Typed(number, KustoType.LONG)

    def _fn_row_cumsum(self, node: ast.Call, env: RowEnv) -> Typed:
        self._arity(node, 1, 2)
        group = self._restart_group(node, 1, env)
        term = self.expr(node.args[0], env)
        if term.type is KustoType.DYNAMIC:
            term = self.coerce(term, KustoType.REAL)
        total = self._window(exp.Sum(this=self.hoist(term.sql, env)), env, frame=True, partition=group)
        result = KustoType.LONG if term.type in (KustoType.INT, KustoType.LONG) else term.type
        return Typed(self.cast_to(Typed(total, result), result).sql, result)

    def _fn_row_rank_dense(self, node: ast.Call, env: RowEnv) -> Typed:
        """The rank of the row's term: 1, then + 1 each time the term differs from the previous row's."""
        self._arity(node, 1, 2)
        group = self._restart_group(node, 1, env)
        term = self.hoist(self.expr(node.args[0], env).sql, env)
        previous = self._window(fn("lag", term.copy()), env, partition=group)
        changed = exp.Case(
            ifs=[exp.If(this=exp.NullSafeEQ(this=term.copy(), expression=previous), true=exp.Literal.number(0))],
            default=exp.Literal.number(1),
        )
        first = self._window(exp.RowNumber(), env, partition=group)
        changed = exp.Case(
            ifs=[exp.If(this=exp.EQ(this=first, expression=exp.Literal.number(1)), true=exp.Literal.number(1))],
            default=changed,
        )
        rank = self._window(exp.Sum(this=self.hoist(changed, env)), env, frame=True, partition=group)
        return Typed(self.cast_to(Typed(rank, KustoType.LONG), KustoType.LONG).sql, KustoType.LONG)

    def _fn_row_rank_min(self, node: ast.Call, env: RowEnv) -> Typed:
        """The row number (within the restart group) of the first row holding the row's term value."""
        self._arity(node, 1, 2)
        group = self._restart_group(node, 1, env)
        term = self.hoist(self.expr(node.args[0], env).sql, env)
        window = exp.Window(this=exp.Min(this=self.hoist(self._window(exp.RowNumber(), env, partition=group), env)))
        window.set("partition_by", [p for p in (group, term) if p is not None])
        return Typed(self.cast_to(Typed(window, KustoType.LONG), KustoType.LONG).sql, KustoType.LONG)

    def _lag_lead(self, node: ast.Call, env: RowEnv, kind: str) -> Typed:
        self._arity(node, 1, 3)
        value = self.expr(node.args[0], env)
        args = [self.hoist(value.sql, env)]
        if len(node.args) > 1:
            args.append(self.expr(node.args[1], env).sql)
        if len(node.args) > 2:
            default = self.expr(node.args[2], env)
            if default.type != value.type:
                default = self.coerce(default, value.type)
            args.append(default.sql)
        elif value.type is KustoType.STRING:
            args.extend([exp.Literal.number(1)] if len(args) == 1 else [])
            args.append(exp.Literal.string(""))
        return Typed(self._window(fn(kind, *args), env), value.type)

    def _fn_prev(self, node: ast.Call, env: RowEnv) -> Typed:
        return self._lag_lead(node, env, "lag")

    def _fn_next(self, node: ast.Call, env: RowEnv) -> Typed:
        return self._lag_lead(node, env, "lead")

    def _fn_row_window_session(self, node: ast.Call, env: RowEnv) -> Typed:
        """``row_window_session(t, max_from_first, max_between_neighbors [, restart])``: the start of
        the row's session, a new one starting at the first row, where ``restart`` holds, after a gap
        over ``max_between_neighbors``, and at a value over ``max_from_first`` past the session's
        start. Runs split by the first three rules are islands; the last rule is applied within an
        island by folding the island's values so far (quadratic in the island's length)."""
        self._arity(node, 3, 4)
        value = self.expr(node.args[0], env)
        if value.type is not KustoType.DATETIME:
            raise self.binder.unsupported(f"row_window_session() over a {value.type}", node)
        spans = []
        for arg, what in zip(
            node.args[1:3], ("max distance from the first", "max distance between neighbors"), strict=True
        ):
            span = self.expr(arg, env)
            if span.type is not KustoType.TIMESPAN or not span.is_constant or span.literal is None:
                raise self.binder.semantic(f"row_window_session(): the {what} must be a constant timespan", node)
            spans.append(exp.Literal.number(int(span.literal) // 10))
        group = self._restart_group(node, 3, env)
        stamp = self.hoist(value.sql, env)
        micros = self.epoch_us(stamp)
        previous = self._window(fn("lag", micros.copy()), env, partition=group)
        new = exp.Case(
            ifs=[
                exp.If(
                    this=exp.or_(
                        exp.Is(this=previous.copy(), expression=exp.Null()),
                        exp.GT(this=exp.Sub(this=micros.copy(), expression=previous), expression=spans[1]),
                    ),
                    true=exp.Literal.number(1),
                )
            ],
            default=exp.Literal.number(0),
        )
        island = self.hoist(self._window(exp.Sum(this=self.hoist(new, env)), env, frame=True, partition=group), env)
        partition = island if group is None else exp.Tuple(expressions=[group, island])
        seen = self.hoist(self._window(fn("list", micros.copy()), env, frame=True, partition=partition), env)
        fold = sqlglot.parse_one(
            f"list_reduce(__l, lambda __s, __x: CASE WHEN __x - __s > {spans[0].sql()} THEN __x ELSE __s END)",
            dialect="duckdb",
        )
        fold = fold.transform(lambda n: seen.copy() if isinstance(n, exp.Column) and n.name == "__l" else n)
        return Typed(fn("make_timestamp", fold), KustoType.DATETIME)

    def _fn_pack_all(self, node: ast.Call, env: RowEnv) -> Typed:
        """``pack_all([ignore_null_empty])``: a bag of the row's columns (by name, in order)."""
        self._arity(node, 0, 1)
        skip_empty = False
        if node.args:
            flag = self.expr(node.args[0], env)
            if not flag.is_constant or not isinstance(flag.literal, bool):
                raise self.binder.semantic("pack_all() expects a constant bool", node)
            skip_empty = flag.literal
        from .functions.conversion import to_json_value

        entries = []
        for name, kusto_type in env.columns.items():
            value = to_json_value(self, Typed(col(env.sql.get(name, name), env.table), kusto_type))
            entries.append((name, value))
        if not skip_empty:
            pairs = [part for name, value in entries for part in (exp.Literal.string(name), value)]
            return Typed(fn("json_object", *pairs), KustoType.DYNAMIC)
        structs = exp.Array(
            expressions=[
                exp.Struct(
                    expressions=[
                        exp.PropertyEQ(this=exp.to_identifier("k"), expression=exp.Literal.string(name)),
                        exp.PropertyEQ(this=exp.to_identifier("v"), expression=value),
                    ]
                )
                for name, value in entries
            ]
        )
        entry = exp.column("v", "e")
        kept = exp.And(
            this=exp.Not(this=exp.Is(this=entry, expression=exp.Null())),
            expression=exp.NEQ(
                this=exp.Cast(this=entry.copy(), to=exp.DataType.build("VARCHAR")), expression=exp.Literal.string('""')
            ),
        )
        filtered = fn("list_filter", structs, exp.Lambda(this=kept, expressions=[exp.to_identifier("e")]))
        return Typed(
            exp.Cast(this=fn("to_json", fn("map_from_entries", filtered)), to=exp.DataType.build("JSON")),
            KustoType.DYNAMIC,
        )

    def _fn_bag_pack_columns(self, node: ast.Call, env: RowEnv) -> Typed:
        """``bag_pack_columns(c1, c2, ...)``: a bag of the given columns, each under its own name."""
        if not node.args:
            raise self.binder.semantic("bag_pack_columns() expects at least one column", node)
        from .functions.conversion import to_json_value

        pairs: list[exp.Expression] = []
        for arg in node.args:
            if not isinstance(arg, ast.NameRef):
                raise self.binder.semantic("bag_pack_columns() takes column names", node)
            pairs += [exp.Literal.string(arg.name), to_json_value(self, self.expr(arg, env))]
        return Typed(fn("json_object", *pairs), KustoType.DYNAMIC)

    def _fn_estimate_data_size(self, node: ast.Call, env: RowEnv) -> Typed:
        """``estimate_data_size(*)`` or of columns: the bytes a row's values take (8 per long, real,
        datetime or timespan, 4 per int, 1 per bool, 16 per guid, a string's UTF-8 length)."""
        values: list[Typed] = []
        for arg in node.args:
            if isinstance(arg, ast.Star):
                values += [Typed(col(env.sql.get(n, n), env.table), t) for n, t in env.columns.items()]
            else:
                values.append(self.expr(arg, env.but(in_filter=False)))
        sizes: list[exp.Expression] = []
        for value in values:
            if value.type is KustoType.STRING:
                size: exp.Expression = fn("octet_length", fn("encode", value.sql))
            elif value.type is KustoType.DYNAMIC:
                size = fn("octet_length", fn("encode", exp.Cast(this=value.sql, to=exp.DataType.build("VARCHAR"))))
            else:
                width = {KustoType.INT: 4, KustoType.BOOL: 1, KustoType.GUID: 16, KustoType.DECIMAL: 16}.get(
                    value.type, 8
                )
                size = exp.Case(
                    ifs=[exp.If(this=exp.Is(this=value.sql, expression=exp.Null()), true=exp.Literal.number(0))],
                    default=exp.Literal.number(width),
                )
            sizes.append(exp.Coalesce(this=size, expressions=[exp.Literal.number(0)]))
        total: exp.Expression = exp.Literal.number(0)
        for size in sizes:
            total = exp.Add(this=total, expression=size)
        return Typed(exp.Cast(this=exp.Paren(this=total), to=exp.DataType.build("BIGINT")), KustoType.LONG)
