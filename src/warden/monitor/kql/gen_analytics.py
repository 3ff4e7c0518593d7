"""User-analytics ``evaluate`` plugins: ``sliding_window_counts``, ``activity_counts_metrics`` and
``active_users_count``.

Both bin the timeline from ``Start`` in steps of the bin/window (records from ``Start`` up to
the bin that holds ``End``) and aggregate ids per bin and dimension (``rolling_percentile``
bins its index from the epoch, as ``bin()`` does):

* sliding_window_counts: for each bin, the count and distinct count of ids over the bins within
  the lookback window ending with it (``Count``, ``Dcount``);
* activity_counts_metrics: for each window, the records (``count``), distinct ids (``dcount``),
  ids first seen in it (``new_dcount``) and ids seen so far (``aggregated_dcount``);
* active_users_count: for each bin, the distinct ids active at one of their appearances in it,
  active meaning seen in at least ``ActivePeriodsCount`` distinct ``Period``-wide periods within
  the lookback window ``(appearance - LookbackWindow, appearance]`` (earlier records count too);
  bins without active ids give no row (Kusto's documented example);
* session_count: per ``bin(timeline, Bin)`` the sessions that start in it, a session starting at
  an id's first record in [Start, End] and at each record that follows the id's previous one by
  ``LookBackWindow`` or more (this reproduces Kusto's documented example exactly); the timeline
  may be a datetime or a number.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .binder import Relation, Scope
from .functions import registry
from .functions.common import UNIX_EPOCH_MICROS
from .gen_sql import and_all, cast, col, fn
from .typed import Typed
from .types import KustoType

__all__ = ["AnalyticsPlugins"]


class AnalyticsPlugins:
    """Mixin of the generator: user-analytics plugins."""

    def _timeline_bins(
        self, call: ast.Call, relation: Relation, scope: Scope, names: list[str]
    ) -> tuple[dict[str, Typed], Typed, Typed, Typed, Typed, list[tuple[str, Typed]]]:
        """The common arguments: (named values, id, timeline, start, end, dimensions)."""
        env = self.row_env(relation, scope)
        if len(call.args) < len(names):
            raise self.binder.semantic(f"{call.name}() expects {', '.join(names)}", call)
        constants = {}
        for node, name in zip(call.args[2 : len(names)], names[2:], strict=True):
            constants[name] = self.constant(node, scope, f"the {name} of {call.name}()")
        ident_value = self.expr(call.args[0], env)
        timeline = self.expr(call.args[1], env)
        if timeline.type is not KustoType.DATETIME:
            raise self.binder.unsupported(f"{call.name}() over a {timeline.type} timeline", call)
        for name, value in constants.items():
            if name in ("Start", "End") and value.type is not KustoType.DATETIME:
                raise self.binder.semantic(f"{call.name}(): {name} must be a datetime", call)
            if name not in ("Start", "End") and value.type is not KustoType.TIMESPAN:
                raise self.binder.unsupported(f"{call.name}() with a {value.type} {name}", call)
        dims = []
        for node in call.args[len(names) :]:
            dims.append(
                (
                    node.name if isinstance(node, ast.NameRef) else self.binder.default_column_name({}),
                    self.expr(node, env),
                )
            )
        return constants, ident_value, timeline, constants["Start"], constants["End"], dims

    def _bin_of(self, timeline: Typed, start: Typed, step: Typed) -> exp.Expression:
        """The start of the ``step``-wide bin (counted from ``start``) holding ``timeline``."""
        width = exp.Literal.number(int(step.literal) // 10)
        origin = self.epoch_us(start.sql)
        offset = exp.Sub(this=self.epoch_us(timeline.sql), expression=origin.copy())
        floored = exp.Mul(
            this=fn("floor", exp.Div(this=exp.Paren(this=offset), expression=width)), expression=width.copy()
        )
        return fn("make_timestamp", cast(exp.Add(this=origin, expression=floored), KustoType.LONG, self.dialect))

    def sliding_window_counts(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        names = ["IdColumn", "TimelineColumn", "Start", "End", "LookbackWindow", "Bin"]
        values, ident_value, timeline, start, end, dims = self._timeline_bins(op.plugin, relation, scope, names)
        step, lookback = values["Bin"], values["LookbackWindow"]
        in_range = and_all(
            [
                exp.GTE(this=timeline.sql, expression=start.sql),
                exp.LT(this=timeline.sql, expression=self.shift(end, step, negate=False).sql),
            ]
        )
        data_items = [("__kql_b", self._bin_of(timeline, start, step)), ("__kql_id", ident_value.sql)]
        data_items += [(f"__kql_d{i}", d.sql) for i, (_, d) in enumerate(dims)]
        data = self.emit(
            exp.select(*self.project_items(data_items))
            .from_(self.relation_table(relation), copy=False)
            .where(in_range, copy=False),
            {},
        )
        # every bin from Start to End, with or without records of its own
        count = (int(end.literal) - int(start.literal)) // int(step.literal) + 1
        index = exp.Explode(this=fn("range", exp.Literal.number(0), exp.Literal.number(max(count, 0))))
        numbers = self.emit(exp.select(exp.alias_(index, "__kql_n")), {})
        offset = Typed(
            exp.Mul(this=col("__kql_n"), expression=exp.Literal.number(int(step.literal))), KustoType.TIMESPAN
        )
        bin_start = self.shift(start, offset, negate=False).sql
        bins_rel = self.emit(
            exp.select(exp.alias_(bin_start, "__kql_t")).from_(self.relation_table(numbers), copy=False), {}
        )
        low = self.shift(Typed(col("__kql_t", "B"), KustoType.DATETIME), lookback, negate=True).sql
        on = and_all(
            [
                exp.GT(this=col("__kql_b", "D"), expression=low),
                exp.LTE(this=col("__kql_b", "D"), expression=col("__kql_t", "B")),
            ]
        )
        timeline_name = op.plugin.args[1].name if isinstance(op.plugin.args[1], ast.NameRef) else "Timestamp"
        items = [(timeline_name, col("__kql_t", "B"))] + [(n, col(f"__kql_d{i}", "D")) for i, (n, _) in enumerate(dims)]
        items += [
            ("Count", exp.Count(this=exp.Star())),
            ("Dcount", exp.Count(this=exp.Distinct(expressions=[col("__kql_id", "D")]))),
        ]
        select = exp.select(*self.project_items(items)).from_(self.relation_table(bins_rel, "B"), copy=False)
        select = select.join(self.relation_table(data, "D"), on=on, join_type="INNER", copy=False)
        select = select.group_by(col("__kql_t", "B"), *[col(f"__kql_d{i}", "D") for i in range(len(dims))], copy=False)
        columns = {
            timeline_name: KustoType.DATETIME,
            **{n: d.type for n, d in dims},
            "Count": KustoType.LONG,
            "Dcount": KustoType.LONG,
        }
        return self.emit(select, columns)

    def activity_counts_metrics(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        names = ["IdColumn", "TimelineColumn", "Start", "End", "Window"]
        values, ident_value, timeline, start, end, dims = self._timeline_bins(op.plugin, relation, scope, names)
        step = values["Window"]
        in_range = and_all(
            [
                exp.GTE(this=timeline.sql, expression=start.sql),
                exp.LT(this=timeline.sql, expression=self.shift(end, step, negate=False).sql),
            ]
        )
        dim_cols = [f"__kql_d{i}" for i in range(len(dims))]
        data_items = [("__kql_b", self._bin_of(timeline, start, step)), ("__kql_id", ident_value.sql)]
        data_items += [(c, d.sql) for c, (_, d) in zip(dim_cols, dims, strict=True)]
        data = self.emit(
            exp.select(*self.project_items(data_items))
            .from_(self.relation_table(relation), copy=False)
            .where(in_range, copy=False),
            {},
        )
        first = exp.select(
            col("__kql_id"), *[col(c) for c in dim_cols], exp.alias_(exp.Min(this=col("__kql_b")), "__kql_f")
        )
        first = first.from_(self.relation_table(data), copy=False).group_by(
            col("__kql_id"), *[col(c) for c in dim_cols], copy=False
        )
        first_rel = self.emit(first, {})
        fresh = exp.select(
            exp.alias_(col("__kql_f"), "__kql_b"),
            *[col(c) for c in dim_cols],
            exp.alias_(exp.Count(this=exp.Star()), "__kql_new"),
        )
        fresh = fresh.from_(self.relation_table(first_rel), copy=False).group_by(
            col("__kql_f"), *[col(c) for c in dim_cols], copy=False
        )
        fresh_rel = self.emit(fresh, {})
        counts = exp.select(
            col("__kql_b"),
            *[col(c) for c in dim_cols],
            exp.alias_(exp.Count(this=exp.Star()), "__kql_count"),
            exp.alias_(exp.Count(this=exp.Distinct(expressions=[col("__kql_id")])), "__kql_dcount"),
        ).from_(self.relation_table(data), copy=False)
        counts_rel = self.emit(counts.group_by(col("__kql_b"), *[col(c) for c in dim_cols], copy=False), {})
        match = [exp.EQ(this=col("__kql_b", "C"), expression=col("__kql_b", "N"))]
        match += [exp.NullSafeEQ(this=col(c, "C"), expression=col(c, "N")) for c in dim_cols]
        new = exp.Coalesce(this=col("__kql_new", "N"), expressions=[exp.Literal.number(0)])
        running = exp.Window(
            this=exp.Sum(this=new.copy()),
            partition_by=[col(c, "C") for c in dim_cols] or None,
            order=exp.Order(expressions=[exp.Ordered(this=col("__kql_b", "C"))]),
        )
        timeline_name = op.plugin.args[1].name if isinstance(op.plugin.args[1], ast.NameRef) else "Timestamp"
        items = [(timeline_name, col("__kql_b", "C"))] + [
            (n, col(c, "C")) for (n, _), c in zip(dims, dim_cols, strict=True)
        ]
        items += [
            ("count", col("__kql_count", "C")),
            ("dcount", col("__kql_dcount", "C")),
            ("new_dcount", cast(new, KustoType.LONG, self.dialect)),
            ("aggregated_dcount", cast(running, KustoType.LONG, self.dialect)),
        ]
        select = exp.select(*self.project_items(items)).from_(self.relation_table(counts_rel, "C"), copy=False)
        select = select.join(self.relation_table(fresh_rel, "N"), on=and_all(match), join_type="LEFT OUTER", copy=False)
        columns = {timeline_name: KustoType.DATETIME, **{n: d.type for n, d in dims}}
        columns.update(
            {
                "count": KustoType.LONG,
                "dcount": KustoType.LONG,
                "new_dcount": KustoType.LONG,
                "aggregated_dcount": KustoType.LONG,
            }
        )
        return self.emit(select, columns)

    def active_users_count(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        call = op.plugin
        names = ["IdColumn", "TimelineColumn", "Start", "End", "LookbackWindow", "Period", "ActivePeriodsCount", "Bin"]
        if len(call.args) < len(names):
            raise self.binder.semantic(f"active_users_count() expects {', '.join(names)}", call)
        # ActivePeriodsCount is a number, not a timespan: check it apart, the rest as the others do.
        threshold = self.constant(call.args[6], scope, "ActivePeriodsCount of active_users_count()")
        if threshold.type not in (KustoType.INT, KustoType.LONG, KustoType.REAL, KustoType.DECIMAL):
            raise self.binder.semantic("active_users_count(): ActivePeriodsCount must be a number", call)
        spans = ast.Call(call.name, args=call.args[:6] + call.args[7:], pos=call.pos)
        kept = [n for n in names if n != "ActivePeriodsCount"]
        values, ident_value, timeline, start, end, dims = self._timeline_bins(spans, relation, scope, kept)
        step, lookback, period = values["Bin"], values["LookbackWindow"], values["Period"]
        dim_cols = [f"__kql_d{i}" for i in range(len(dims))]
        items = [("__kql_id", ident_value.sql), ("__kql_t", timeline.sql)]
        items += [(c, d.sql) for c, (_, d) in zip(dim_cols, dims, strict=True)]
        not_null = and_all([exp.Not(this=exp.Is(this=v.copy(), expression=exp.Null())) for _, v in items[:2]])
        data = self.emit(
            exp.select(*self.project_items(items))
            .from_(self.relation_table(relation), copy=False)
            .where(not_null, copy=False),
            {},
        )
        current = Typed(col("__kql_t", "A"), KustoType.DATETIME)
        in_range = and_all(
            [
                exp.GTE(this=current.sql, expression=start.sql),
                exp.LT(this=current.sql, expression=self.shift(end, step, negate=False).sql),
            ]
        )
        window = [
            exp.EQ(this=col("__kql_id", "B"), expression=col("__kql_id", "A")),
            exp.GT(this=col("__kql_t", "B"), expression=self.shift(current, lookback, negate=True).sql),
            exp.LTE(this=col("__kql_t", "B"), expression=current.sql),
        ]
        window += [exp.NullSafeEQ(this=col(c, "B"), expression=col(c, "A")) for c in dim_cols]
        # Periods are counted from 0001-01-01, Kusto's epoch for bin() (it matters for weeks).
        periods = exp.Count(
            this=exp.Distinct(
                expressions=[
                    exp.IntDiv(
                        this=exp.Add(
                            this=self.epoch_us(col("__kql_t", "B")),
                            expression=exp.Literal.number(UNIX_EPOCH_MICROS),
                        ),
                        expression=exp.Literal.number(int(period.literal) // 10),
                    )
                ]
            )
        )
        appearance_items = [
            ("__kql_id", col("__kql_id", "A")),
            ("__kql_b", self._bin_of(current, start, step)),
        ] + [(c, col(c, "A")) for c in dim_cols]
        active = exp.select(*self.project_items(appearance_items)).from_(self.relation_table(data, "A"), copy=False)
        active = active.join(self.relation_table(data, "B"), on=and_all(window), join_type="INNER", copy=False)
        active = active.where(in_range, copy=False).group_by(
            col("__kql_id", "A"), col("__kql_t", "A"), *[col(c, "A") for c in dim_cols], copy=False
        )
        active = active.having(exp.GTE(this=periods, expression=exp.Literal.number(threshold.literal or 0)), copy=False)
        active_rel = self.emit(active, {})
        timeline_name = call.args[1].name if isinstance(call.args[1], ast.NameRef) else "Timestamp"
        out = [(timeline_name, col("__kql_b"))] + [(n, col(c)) for (n, _), c in zip(dims, dim_cols, strict=True)]
        out.append(("dcount", exp.Count(this=exp.Distinct(expressions=[col("__kql_id")]))))
        select = exp.select(*self.project_items(out)).from_(self.relation_table(active_rel), copy=False)
        select = select.group_by(col("__kql_b"), *[col(c) for c in dim_cols], copy=False)
        columns = {timeline_name: KustoType.DATETIME, **{n: d.type for n, d in dims}, "dcount": KustoType.LONG}
        return self.emit(select, columns)

    def session_count(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        call = op.plugin
        names = ["IdColumn", "TimelineColumn", "Start", "End", "Bin", "LookBackWindow"]
        if len(call.args) < len(names):
            raise self.binder.semantic(f"session_count() expects {', '.join(names)}", call)
        env = self.row_env(relation, scope)
        ident_value = self.expr(call.args[0], env)
        timeline = self.expr(call.args[1], env)
        start, end, step, lookback = (
            self.constant(a, scope, f"the {n} of session_count()")
            for a, n in zip(call.args[2:6], names[2:], strict=True)
        )
        numeric = timeline.type in (KustoType.INT, KustoType.LONG, KustoType.REAL)
        if timeline.type is not KustoType.DATETIME and not numeric:
            raise self.binder.unsupported(f"session_count() over a {timeline.type} timeline", call)
        dims = [
            (d.name if isinstance(d, ast.NameRef) else f"dim{i}", self.expr(d, env))
            for i, d in enumerate(call.args[6:])
        ]
        dim_cols = [f"__kql_d{i}" for i in range(len(dims))]
        bin_function = registry.SCALARS.get("bin")
        if bin_function is None:
            raise self.binder.unsupported("session_count without bin()", call)
        binned = self.invoke(bin_function, [timeline, step], call)
        if numeric:
            position = timeline.sql
            gap = lookback.sql
        else:
            position = self.epoch_us(timeline.sql)
            gap = exp.Literal.number(int(lookback.literal) // 10)
        items = [("__kql_id", ident_value.sql), ("__kql_p", position), ("__kql_b", binned.sql)]
        items += [(c, d.sql) for c, (_, d) in zip(dim_cols, dims, strict=True)]
        keep = and_all(
            [
                exp.Not(this=exp.Is(this=ident_value.sql.copy(), expression=exp.Null())),
                exp.GTE(this=timeline.sql.copy(), expression=start.sql),
                exp.LTE(this=timeline.sql.copy(), expression=end.sql),
            ]
        )
        data = self.emit(
            exp.select(*self.project_items(items))
            .from_(self.relation_table(relation), copy=False)
            .where(keep, copy=False),
            {},
        )
        previous = exp.Window(
            this=exp.Anonymous(this="lag", expressions=[col("__kql_p")]),
            partition_by=[col("__kql_id"), *[col(c) for c in dim_cols]],
            order=exp.Order(expressions=[exp.Ordered(this=col("__kql_p"))]),
        )
        lagged = exp.select(
            col("__kql_p"), col("__kql_b"), *[col(c) for c in dim_cols], exp.alias_(previous, "__kql_prev")
        )
        lagged_rel = self.emit(lagged.from_(self.relation_table(data), copy=False), {})
        starts = exp.or_(
            exp.Is(this=col("__kql_prev"), expression=exp.Null()),
            exp.GTE(this=exp.Sub(this=col("__kql_p"), expression=col("__kql_prev")), expression=gap),
        )
        timeline_name = call.args[1].name if isinstance(call.args[1], ast.NameRef) else "Timeline"
        out = [(timeline_name, col("__kql_b"))] + [(n, col(c)) for (n, _), c in zip(dims, dim_cols, strict=True)]
        out.append(("count_sessions", exp.Count(this=exp.Star())))
        select = exp.select(*self.project_items(out)).from_(self.relation_table(lagged_rel), copy=False)
        select = select.where(starts, copy=False).group_by(col("__kql_b"), *[col(c) for c in dim_cols], copy=False)
        columns = {timeline_name: binned.type, **{n: d.type for n, d in dims}, "count_sessions": KustoType.LONG}
        return self.emit(select, columns)

    def rolling_percentile(self, op: ast.Evaluate, relation: Relation, scope: Scope) -> Relation:
        """``rolling_percentile(value, percentile, index, bin, bins_back [, dims...])``: for each bin of
        the index that has records, the percentile of the values of that bin and the ones before it."""
        call = op.plugin
        if len(call.args) < 5:
            raise self.binder.semantic(
                "rolling_percentile() expects value, percentile, index, bin size, lookback", call
            )
        env = self.row_env(relation, scope)
        value = self.expr(call.args[0], env)
        percent = self.constant(call.args[1], scope, "the percentile")
        index = self.expr(call.args[2], env)
        size = self.constant(call.args[3], scope, "the bin size")
        back = self.constant(call.args[4], scope, "the bins to look back")
        found = registry.AGGREGATES.get("percentile")
        bin_function = registry.SCALARS.get("bin")
        if found is None or bin_function is None:
            raise self.binder.unsupported("rolling_percentile without percentile() and bin()", call)
        dims = [
            (d.name if isinstance(d, ast.NameRef) else f"dim{i}", self.expr(d, env))
            for i, d in enumerate(call.args[5:])
        ]
        dim_cols = [f"__kql_d{i}" for i in range(len(dims))]
        binned = self.invoke(bin_function, [index, size], call)
        data_items = [("__kql_b", binned.sql), ("__kql_v", value.sql)] + [
            (c, d.sql) for c, (_, d) in zip(dim_cols, dims, strict=True)
        ]
        data = self.emit(
            exp.select(*self.project_items(data_items)).from_(self.relation_table(relation), copy=False), {}
        )
        bins = (
            exp.select(col("__kql_b"), *[col(c) for c in dim_cols])
            .distinct(copy=False)
            .from_(self.relation_table(data), copy=False)
        )
        bins_rel = self.emit(bins, {})
        span = Typed(exp.Literal.number(int(size.literal) * int(back.literal)), KustoType.TIMESPAN)
        bin_value = Typed(col("__kql_b", "B"), binned.type)
        if binned.type is KustoType.DATETIME:
            low = self.shift(bin_value, span, negate=True).sql
        else:
            low = exp.Sub(this=bin_value.sql, expression=exp.Literal.number(size.literal * back.literal))
        on = [
            exp.GT(this=col("__kql_b", "D"), expression=low),
            exp.LTE(this=col("__kql_b", "D"), expression=col("__kql_b", "B")),
        ]
        on += [exp.NullSafeEQ(this=col(c, "D"), expression=col(c, "B")) for c in dim_cols]
        aggregate = self.invoke(found, [Typed(col("__kql_v", "D"), value.type), percent], call)
        index_name = call.args[2].name if isinstance(call.args[2], ast.NameRef) else "Index"
        value_name = call.args[0].name if isinstance(call.args[0], ast.NameRef) else "value"
        fragment = str(percent.literal).replace(".", "_")
        result_name = f"rolling_{back.literal}_percentile_{value_name}_{fragment}"
        items = [(index_name, col("__kql_b", "B"))] + [
            (n, col(c, "B")) for (n, _), c in zip(dims, dim_cols, strict=True)
        ]
        items.append((result_name, aggregate.sql))
        select = exp.select(*self.project_items(items)).from_(self.relation_table(bins_rel, "B"), copy=False)
        select = select.join(self.relation_table(data, "D"), on=and_all(on), join_type="INNER", copy=False)
        select = select.group_by(col("__kql_b", "B"), *[col(c, "B") for c in dim_cols], copy=False)
        columns = {index_name: binned.type, **{n: d.type for n, d in dims}, result_name: aggregate.type}
        return self.emit(select, columns)
