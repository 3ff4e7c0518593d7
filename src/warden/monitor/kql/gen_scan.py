"""scan: sequence matching over ordered rows, as a recursive CTE that carries the steps' state.

Kusto's logic (docs, "Matching logic"): each record is evaluated against the steps from the last
to the first. For step k: *check 1* -- if step k-1 has an active sequence and the record meets
k's condition (read against k-1's state), k-1's state is promoted to k (k-1 becomes empty) and
the record, extended by k's assignments, joins it; otherwise *check 2* -- if step k has an active
sequence (or k is the first step) and the record meets the condition (read against k's state),
the record replaces k's own values in that state; at the first step with no active sequence this
starts a new sequence (the match id increases). Every matching step outputs the extended record
unless it is ``output=none``.

The state of step k holds, for each step j <= k, the values ``s_j.x`` read by the conditions and
assignments (columns of the record that matched j, and the declared variables). One recursive
step consumes one input row: its state columns, which steps matched, and their outputs; the
result unnests those outputs in order (row, then step from last to first). Declared variables a
step does not assign take their default.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .binder import Relation, Scope
from .gen_expressions import RowEnv
from .gen_sql import and_all, col, ident, literal, or_all
from .typed import Typed
from .types import KustoType

__all__ = ["ScanCompiler"]

_I = "__kql_i"
_CNT = "__kql_cnt"


class ScanCompiler:
    """Mixin of the generator: scan."""

    def op_scan(self, op: ast.Scan, relation: Relation, scope: Scope) -> Relation:
        if self.dialect == "clickhouse":
            raise self.binder.unsupported("scan on ClickHouse", op)
        steps = list(op.steps)
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise self.binder.semantic("scan step names must be unique", op)
        for step in steps:
            if (step.output or "all").lower() not in ("all", "none"):
                raise self.binder.unsupported(f"scan output={step.output}", step)
        env0 = RowEnv(columns={}, scope=scope)
        declared: dict[str, Typed] = {}
        for param in op.declarations:
            kusto_type = KustoType(param.type)
            value = (
                self.expr(param.default, env0) if param.default is not None else literal(kusto_type, None, self.dialect)
            )
            declared[param.name] = value if value.type == kusto_type else self.coerce(value, kusto_type)
        # The fields of each step that expressions read (s_j.f): declared variables always.
        fields: dict[str, dict[str, KustoType]] = {name: {v: t.type for v, t in declared.items()} for name in names}
        for step in steps:
            for node in _walk([step.condition, *(a.expr for a in step.assignments)]):
                if not (isinstance(node, ast.MemberAccess) and isinstance(node.target, ast.NameRef)):
                    continue
                if node.target.name in fields and node.member not in fields[node.target.name]:
                    kusto_type = relation.columns.get(node.member)
                    if kusto_type is None:
                        raise self.binder.semantic(f"unknown column '{node.member}' of step '{node.target.name}'", node)
                    fields[node.target.name][node.member] = kusto_type
        n = len(steps)

        def x(k: int, j: int, f: str) -> str:  # state k's copy of step j's field f
            return f"__kql_x{k}_{j}_{f}"

        # input rows, numbered in order
        order = relation.order_by()
        groups = list(relation.hidden)  # inside partition/mv-apply: one scan per group
        number = exp.Window(
            this=exp.RowNumber(),
            partition_by=[col(h) for h in groups] or None,
            order=exp.Order(expressions=order) if order else None,
        )
        rows = self.emit(
            self.select_from(relation, [*self.passthrough(relation), (_I, number)], keep_order=False), relation.columns
        )

        def state_env(k: int | None, source: str, fresh: set[int]) -> RowEnv:
            """Expressions of a step: the record's columns (R) and step values from state k of ``source``."""
            env = RowEnv(columns=dict(relation.columns), scope=scope, table="R", sql=relation.sql)
            env.steps = {}
            for j, name in enumerate(names, start=1):
                values = {}
                for f, kusto_type in fields[name].items():
                    if k is not None and j <= k and j not in fresh:
                        values[f] = Typed(col(x(k, j, f), source), kusto_type)
                    elif f in declared and (j in fresh or k is None or j <= (k or 0)):
                        values[f] = declared[f]
                    else:
                        values[f] = literal(kusto_type, None, self.dialect)
                env.steps[name] = values
            return env

        # stage 1 of the recursive step: conditions and assigned values in each context
        l1: list[tuple[str, exp.Expression]] = [(_I, col(_I, "R"))] + [(h, col(h, "P")) for h in groups]
        state_columns = [_CNT] + [c for k in range(1, n + 1) for c in self._state_names(k, names, fields, x)]
        l1 += [(c, col(c, "P")) for c in state_columns]
        for f in sorted({f for fs in fields.values() for f in fs if f not in declared}):
            l1.append((f"__kql_r_{f}", relation.ref(f, "R")))

        def assigned(step: ast.ScanStep, env: RowEnv) -> dict[str, exp.Expression]:
            values = {}
            for item in step.assignments:
                target = item.names[0] if item.names else None
                if target not in declared:
                    raise self.binder.semantic(f"scan assigns '{target}', which is not declared", item)
                env.defined.update({v: env.steps[step.name][v] for v in declared})
                value = self.expr(item.expr, env)
                kind = declared[target].type
                values[target] = (value if value.type == kind else self.coerce(value, kind)).sql
            return values

        for k, step in enumerate(steps, start=1):
            contexts = []
            if k > 1:
                contexts.append(("1", state_env(k - 1, "P", {k})))  # check 1: promoted from k-1
            contexts.append(("2", state_env(k, "P", set())))  # check 2: own state
            if k == 1:
                contexts.append(("3", state_env(None, "P", {1})))  # a new sequence
            for tag, env in contexts:
                env.defined.update({v: env.steps[step.name][v] for v in declared})
                condition = self._as_bool(self.expr(step.condition, env)).sql
                l1.append((f"__kql_c{tag}_{k}", exp.Coalesce(this=condition, expressions=[exp.false()])))
                values = assigned(step, env)
                for v in declared:
                    l1.append((f"__kql_v{tag}_{k}_{v}", values.get(v, declared[v].sql.copy())))
        join = and_all(
            [exp.EQ(this=col(_I, "R"), expression=exp.Add(this=col(_I, "P"), expression=exp.Literal.number(1)))]
            + [exp.EQ(this=col(h, "R"), expression=col(h, "P")) for h in groups]
        )

        # stage 2: which checks fire (from the last step to the first)
        fire: dict[str, exp.Expression] = {}
        for k in range(n, 0, -1):
            promote = and_all([col(f"__kql_a{k - 1}"), col(f"__kql_c1_{k}")]) if k > 1 else exp.false()
            fire[f"p{k}"] = promote
            cleared = fire.get(f"p{k + 1}", exp.false())
            active = and_all([col(f"__kql_a{k}"), exp.Not(this=exp.Paren(this=cleared.copy()))])
            if k == 1:
                extend = and_all([exp.Not(this=exp.Paren(this=promote.copy())), active, col("__kql_c2_1")])
                start = and_all(
                    [
                        exp.Not(this=exp.Paren(this=promote.copy())),
                        exp.Not(this=exp.Paren(this=active.copy())),
                        col("__kql_c3_1"),
                    ]
                )
                fire["q1"], fire["n1"] = extend, start
            else:
                fire[f"q{k}"] = and_all([exp.Not(this=exp.Paren(this=promote.copy())), active, col(f"__kql_c2_{k}")])
        l2 = [(c, col(c)) for c, _ in l1] + [(f"__kql_f_{key}", exp.Paren(this=sql)) for key, sql in fire.items()]

        # stage 3: the new state and the outputs
        def f(key: str) -> exp.Expression:
            return col(f"__kql_f_{key}") if key in fire else exp.false()

        l3: list[tuple[str, exp.Expression]] = [(_I, col(_I))] + [(h, col(h)) for h in groups]
        l3.append(
            (
                _CNT,
                exp.Add(
                    this=col(_CNT),
                    expression=exp.Case(
                        ifs=[exp.If(this=f("n1"), true=exp.Literal.number(1))], default=exp.Literal.number(0)
                    ),
                ),
            )
        )
        for k in range(1, n + 1):
            matched = or_all([f(f"p{k}"), f(f"q{k}")] + ([f("n1")] if k == 1 else []))
            cleared = f(f"p{k + 1}")
            l3.append(
                (f"__kql_a{k}", exp.Or(this=matched, expression=and_all([col(f"__kql_a{k}"), exp.Not(this=cleared)])))
            )
            match_id = exp.Case(
                ifs=[
                    exp.If(this=f(f"p{k}"), true=col(f"__kql_m{k - 1}") if k > 1 else exp.Null()),
                    exp.If(this=f(f"q{k}"), true=col(f"__kql_m{k}")),
                ]
                + ([exp.If(this=f("n1"), true=col(_CNT))] if k == 1 else [])
                + [exp.If(this=cleared.copy(), true=exp.Null())],
                default=col(f"__kql_m{k}"),
            )
            l3.append((f"__kql_m{k}", match_id))
            l3.append(
                (f"__kql_e{k}", matched.copy() if (steps[k - 1].output or "all").lower() == "all" else exp.false())
            )
            for j in range(1, k + 1):
                for field in fields[names[j - 1]]:
                    name = x(k, j, field)
                    if j == k:  # the record's own values at this step
                        if field in declared:
                            ifs = [exp.If(this=f(f"p{k}"), true=col(f"__kql_v1_{k}_{field}"))] if k > 1 else []
                            ifs.append(exp.If(this=f(f"q{k}"), true=col(f"__kql_v2_{k}_{field}")))
                            if k == 1:
                                ifs.append(exp.If(this=f("n1"), true=col(f"__kql_v3_1_{field}")))
                        else:
                            ifs = [exp.If(this=matched.copy(), true=col(f"__kql_r_{field}"))]
                    else:  # an earlier step's values: promoted from k-1, or kept
                        ifs = [exp.If(this=f(f"p{k}"), true=col(x(k - 1, j, field)))]
                    ifs.append(
                        exp.If(this=cleared.copy(), true=literal(fields[names[j - 1]][field], None, self.dialect).sql)
                    )
                    l3.append((name, exp.Case(ifs=ifs, default=col(name))))

        # the recursive CTE
        initial: list[tuple[str, exp.Expression]] = [(_I, exp.Literal.number(0))] + [(h, col(h)) for h in groups]
        initial.append((_CNT, exp.Literal.number(0)))
        for k in range(1, n + 1):
            initial.append((f"__kql_a{k}", exp.false()))
            initial.append((f"__kql_m{k}", exp.Cast(this=exp.Null(), to=exp.DataType.build("BIGINT"))))
            initial.append((f"__kql_e{k}", exp.false()))
            for j in range(1, k + 1):
                for field, kusto_type in fields[names[j - 1]].items():
                    initial.append((x(k, j, field), literal(kusto_type, None, self.dialect).sql))
        self._count += 1
        cte = f"__kql_scan{self._count}"
        stage1 = exp.select(*self.project_items(l1)).from_(
            exp.Table(this=ident(cte), alias=exp.TableAlias(this=ident("P"))), copy=False
        )
        stage1 = stage1.join(self.relation_table(rows, "R"), on=join, join_type="INNER", copy=False)
        stage2 = exp.select(*self.project_items(l2)).from_(
            exp.Subquery(this=stage1, alias=exp.TableAlias(this=ident("S1"))), copy=False
        )
        stage3 = exp.select(*self.project_items(l3)).from_(
            exp.Subquery(this=stage2, alias=exp.TableAlias(this=ident("S2"))), copy=False
        )
        seed = exp.select(*self.project_items(initial))
        if groups:
            seed = seed.from_(self.relation_table(rows), copy=False).distinct(copy=False)
        self.ctes.append((cte, exp.union(seed, stage3, distinct=False), False))
        self.recursive = True

        # the outputs: one row per matching step, steps from last to first
        match_column = op.match_id
        outputs = []
        for k in range(n, 0, -1):
            items = [(name, relation.ref(name, "R")) for name in relation.columns] + [(h, col(h, "R")) for h in groups]
            items += [(v, col(x(k, k, v), "Q")) for v in declared]
            if match_column:
                items.append((match_column, col(f"__kql_m{k}", "Q")))
            items.append(
                (
                    "__kql_order",
                    exp.Add(
                        this=exp.Mul(this=col(_I, "Q"), expression=exp.Literal.number(n + 1)),
                        expression=exp.Literal.number(n - k),
                    ),
                )
            )
            select = exp.select(*self.project_items(items)).from_(
                exp.Table(this=ident(cte), alias=exp.TableAlias(this=ident("Q"))), copy=False
            )
            on = and_all([exp.EQ(this=col(c, "R"), expression=col(c, "Q")) for c in [_I, *groups]])
            select = select.join(self.relation_table(rows, "R"), on=on, join_type="INNER", copy=False)
            outputs.append(select.where(col(f"__kql_e{k}", "Q"), copy=False))
        query: exp.Expression = outputs[0]
        for select in outputs[1:]:
            query = exp.union(query, select, distinct=False)
        columns = dict(relation.columns)
        columns.update({v: t.type for v, t in declared.items()})
        if match_column:
            columns[match_column] = KustoType.LONG
        staged = self.emit(query, {**columns, "__kql_order": KustoType.LONG})
        ordered = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=col("__kql_order"))]))
        select = self.select_from(
            staged, [*((c, staged.ref(c)) for c in columns), ("__kql_ord", ordered)], keep_order=False
        )
        return self.emit(select, columns, "__kql_ord")

    @staticmethod
    def _state_names(k: int, names: list[str], fields: dict[str, dict[str, KustoType]], x) -> list[str]:
        result = [f"__kql_a{k}", f"__kql_m{k}", f"__kql_e{k}"]
        for j in range(1, k + 1):
            result += [x(k, j, f) for f in fields[names[j - 1]]]
        return result


def _walk(nodes: list[object]):
    stack = list(nodes)
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, name) for name in item.__dataclass_fields__ if name != "pos")
