"""join, lookup, union and search.

join: every kind. The default, ``innerunique``, keeps one left row per key before an inner join
(the first in order when the left side is ordered). The output has the left columns, then the
right ones; a right column whose name is taken gets the first free numeric suffix (``Key1``,
``Value1``), so ``join on Key`` shows both ``Key`` and ``Key1`` as Kusto does. ``leftsemi``/
``leftanti`` keep only left columns, ``rightsemi``/``rightanti`` only right ones. ``lookup`` drops
the right side's key columns. ``union`` aligns columns by name; the same name with different
types becomes ``name_type`` columns, as Kusto names them.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .binder import ORDINAL, Relation, Scope, UniqueNames
from .gen_expressions import RowEnv
from .gen_sql import and_all, col, lit_str, literal, or_all
from .typed import Typed
from .types import KustoType

__all__ = ["JoinCompiler"]

_KINDS = {
    "inner",
    "innerunique",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftsemi",
    "leftanti",
    "leftantisemi",
    "rightsemi",
    "rightanti",
    "rightantisemi",
}


class JoinCompiler:
    """Mixin of the generator: join, lookup, union, search."""

    def join_conditions(
        self, on: tuple[ast.Expr, ...], left: Relation, right: Relation, scope: Scope, node: ast.Node
    ) -> tuple[list[exp.Expression], list[str], list[str]]:
        """The equality conditions (over aliases L and R) and the left and right key column names."""
        if not on:
            raise self.binder.semantic("a join needs 'on' conditions", node)
        left_env = RowEnv(columns=dict(left.columns), scope=scope, table="L", sql=left.sql)
        right_env = RowEnv(columns=dict(right.columns), scope=scope, table="R", sql=right.sql)
        conditions: list[exp.Expression] = []
        left_keys: list[str] = []
        right_keys: list[str] = []
        for condition in on:
            if isinstance(condition, ast.NameRef):
                a = self.expr(condition, left_env)
                b = self.expr(condition, right_env)
                left_keys.append(condition.name)
                right_keys.append(condition.name)
            elif isinstance(condition, ast.BinaryOp) and condition.op == "==":
                sides = {"left": left_env, "right": right_env}
                env = RowEnv(columns={}, scope=scope, sides=sides)
                first, second = condition.left, condition.right
                if isinstance(first, ast.JoinSideRef) and first.side == "right":
                    first, second = second, first
                a = self.expr(first, env)
                b = self.expr(second, env)
                if isinstance(first, ast.JoinSideRef):
                    left_keys.append(first.name)
                if isinstance(second, ast.JoinSideRef):
                    right_keys.append(second.name)
            else:
                raise self.binder.unsupported("join conditions other than equalities", condition)
            a, b = self._unify(a, b)
            conditions.append(exp.EQ(this=a.sql, expression=b.sql))
        return conditions, left_keys, right_keys

    def op_join(self, op: ast.Join, left: Relation, scope: Scope) -> Relation:
        kind = (op.kind or "innerunique").lower()
        if kind not in _KINDS:
            raise self.binder.semantic(f"unknown join kind '{op.kind}'", op)
        right = self.table_of(op.right, scope)
        conditions, left_keys, _ = self.join_conditions(op.on, left, right, scope, op)
        on = and_all(conditions)
        if kind in ("leftsemi", "leftanti", "leftantisemi", "rightsemi", "rightanti", "rightantisemi"):
            keep, other = (left, right) if kind.startswith("left") else (right, left)
            keep_alias, other_alias = ("L", "R") if kind.startswith("left") else ("R", "L")
            probe = (
                exp.select(exp.Literal.number(1))
                .from_(self.relation_table(other, other_alias), copy=False)
                .where(on, copy=False)
            )
            test: exp.Expression = exp.Exists(this=probe)
            if "anti" in kind:
                test = exp.Not(this=test)
            items = self.project_items([(n, keep.ref(n, keep_alias)) for n in keep.columns])
            select = exp.select(*items).from_(self.relation_table(keep, keep_alias), copy=False).where(test, copy=False)
            return self.emit(select, keep.columns)
        if kind == "innerunique":
            left = self.dedupe(left, left_keys)
            kind = "inner"
        names = UniqueNames(list(left.columns))
        columns = dict(left.columns)
        pairs = [(n, left.ref(n, "L")) for n in left.columns]
        for name, kusto_type in right.columns.items():
            new = names.add(name)
            columns[new] = kusto_type
            pairs.append((new, right.ref(name, "R")))
        items = self.project_items(pairs)
        side = {"inner": None, "leftouter": "LEFT", "rightouter": "RIGHT", "fullouter": "FULL"}[kind]
        select = exp.select(*items).from_(self.relation_table(left, "L"), copy=False)
        select = select.join(
            self.relation_table(right, "R"), on=on, join_type=f"{side} OUTER" if side else "INNER", copy=False
        )
        return self.emit(select, columns)

    def dedupe(self, relation: Relation, keys: list[str]) -> Relation:
        """One row per key combination (the first in the relation's order, if it has one)."""
        order = relation.order_by()
        number = exp.Window(
            this=exp.RowNumber(),
            partition_by=[relation.ref(k) for k in keys],
            order=exp.Order(expressions=order) if order else None,
        )
        staged = self.emit(
            self.select_from(relation, [*self.passthrough(relation), ("__kql_rn", number)], keep_order=False),
            relation.columns,
        )
        select = self.select_from(staged, self.passthrough(staged), keep_order=False)
        select = select.where(exp.EQ(this=col("__kql_rn"), expression=exp.Literal.number(1)), copy=False)
        return self.emit(select, relation.columns)

    def op_lookup(self, op: ast.Lookup, left: Relation, scope: Scope) -> Relation:
        kind = (op.kind or "leftouter").lower()
        if kind not in ("leftouter", "inner"):
            raise self.binder.semantic(f"unknown lookup kind '{op.kind}'", op)
        right = self.table_of(op.right, scope)
        conditions, _, right_keys = self.join_conditions(op.on, left, right, scope, op)
        names = UniqueNames(list(left.columns))
        columns = dict(left.columns)
        pairs = [(n, left.ref(n, "L")) for n in left.columns]
        for name, kusto_type in right.columns.items():
            if name in right_keys:
                continue
            new = names.add(name)
            columns[new] = kusto_type
            pairs.append((new, right.ref(name, "R")))
        if left.has_ordinal:
            pairs.append((ORDINAL, col(ORDINAL, "L")))
        items = self.project_items(pairs)
        select = exp.select(*items).from_(self.relation_table(left, "L"), copy=False)
        select = select.join(
            self.relation_table(right, "R"),
            on=and_all(conditions),
            join_type="LEFT OUTER" if kind == "leftouter" else "INNER",
            copy=False,
        )
        return self.emit(select, columns, ORDINAL if left.has_ordinal else None)

    # ---------------------------------------------------------------------------------- union

    def union_tables(self, patterns: list[str], node: ast.Node, scope: Scope) -> Relation:
        union = ast.Union(
            tuple(ast.Pipeline(ast.TableRef(p, pos=node.pos), pos=node.pos) for p in patterns), pos=node.pos
        )
        return self.op_union(union, None, scope)

    def op_union(self, op: ast.Union, relation: Relation | None, scope: Scope) -> Relation:
        branches: list[tuple[str, Relation]] = []
        if relation is not None:
            branches.append(("union_arg0", relation))
        for index, pipeline in enumerate(op.tables):
            source = pipeline.source
            if not pipeline.operators and isinstance(source, ast.TableRef) and "*" in source.name:
                for name in self.binder.expand_tables(source.name, scope, source, self.tabular_lets(scope)):
                    branches.append((name, self.table_ref(name, source, scope)))
                continue
            label = source.name if isinstance(source, ast.TableRef) and not pipeline.operators else None
            try:
                branches.append((label or f"union_arg{index}", self.table_of(pipeline, scope)))
            except Exception:
                if op.isfuzzy:
                    continue
                raise
        if not branches:
            raise self.binder.semantic("union has no tables to read", op)
        return self.union_relations(branches, (op.kind or "outer").lower(), op.withsource)

    def union_relations(self, branches: list[tuple[str, Relation]], kind: str, withsource: str | None) -> Relation:
        types: dict[str, set[KustoType]] = {}
        for _, relation in branches:
            for name, kusto_type in relation.columns.items():
                types.setdefault(name, set()).add(kusto_type)
        if kind == "inner":
            common = set.intersection(*(set(r.columns) for _, r in branches))
            types = {n: t for n, t in types.items() if n in common}
        # output name -> (source name, type)
        outputs: dict[str, tuple[str, KustoType]] = {}
        if withsource:
            outputs[withsource] = ("", KustoType.STRING)
        for _, relation in branches:
            for name, kusto_type in relation.columns.items():
                if name not in types:
                    continue
                out = name if len(types[name]) == 1 else f"{name}_{kusto_type}"
                outputs.setdefault(out, (name, kusto_type))
        selects: list[exp.Expression] = []
        for label, relation in branches:
            pairs: list[tuple[str, exp.Expression]] = []
            for out, (source, kusto_type) in outputs.items():
                if withsource and out == withsource and source == "":
                    pairs.append((out, lit_str(label)))
                elif relation.columns.get(source) == kusto_type:
                    pairs.append((out, relation.ref(source)))
                else:
                    empty = "" if kusto_type is KustoType.STRING else None
                    pairs.append((out, literal(kusto_type, empty, self.dialect).sql))
            selects.append(exp.select(*self.project_items(pairs)).from_(self.relation_table(relation), copy=False))
        query = selects[0]
        for select in selects[1:]:
            query = exp.union(query, select, distinct=False)
        return self.emit(query, {n: t for n, (_, t) in outputs.items()})

    # --------------------------------------------------------------------------------- search

    def op_search(self, op: ast.Search, relation: Relation | None, scope: Scope) -> Relation:
        sensitive = (op.kind or "").lower() == "case_sensitive"
        branches: list[tuple[str, Relation]] = []
        if relation is not None:
            branches.append(("", relation))
        else:
            names = op.tables or tuple(self.binder.schema)
            if not names:
                raise self.binder.semantic("search has no tables to read", op)
            for pattern in names:
                for name in self.binder.expand_tables(pattern, scope, op):
                    branches.append((name, self.table_ref(name, op, scope)))
        filtered: list[tuple[str, Relation]] = []
        for label, branch in branches:
            env = self.row_env(branch, scope, in_filter=True)
            predicate = self.search_predicate(op.predicate, env, sensitive)
            select = self.select_from(branch, self.passthrough(branch)).where(predicate.sql, copy=False)
            filtered.append((label, self.emit(select, branch.columns)))
        if relation is not None:
            return filtered[0][1]
        return self.union_relations(filtered, "outer", "$table")

    def search_predicate(self, node: ast.Expr, env: RowEnv, sensitive: bool) -> Typed:
        """A search predicate: a bare string term, or ``* op value``, matches any column."""
        if isinstance(node, ast.BinaryOp) and node.op in ("and", "or"):
            left = self.search_predicate(node.left, env, sensitive)
            right = self.search_predicate(node.right, env, sensitive)
            cls = exp.And if node.op == "and" else exp.Or
            return Typed(cls(this=exp.Paren(this=left.sql), expression=exp.Paren(this=right.sql)), KustoType.BOOL)
        if isinstance(node, ast.Call) and node.name == "not" and len(node.args) == 1:
            inner = self.search_predicate(node.args[0], env.but(in_filter=False), sensitive)
            return Typed(exp.Not(this=exp.Paren(this=inner.sql)), KustoType.BOOL)
        if isinstance(node, ast.Literal) and node.type is KustoType.STRING:
            term = str(node.value)
            op = "has"
            if term.startswith("*") and term.endswith("*") and len(term) > 1:
                op, term = "contains", term.strip("*")
            elif term.endswith("*"):
                op, term = "hasprefix", term.rstrip("*")
            elif term.startswith("*"):
                op, term = "hassuffix", term.lstrip("*")
            return self._any_column(
                op + ("_cs" if sensitive else ""), literal(KustoType.STRING, term, self.dialect), env
            )
        if isinstance(node, ast.Star):  # search *: every row
            return Typed(exp.true(), KustoType.BOOL)
        if isinstance(node, ast.BinaryOp) and isinstance(node.left, ast.Star):
            return self._any_column(node.op, self.expr(node.right, env), env)
        return self._as_bool(self.expr(node, env))

    def _any_column(self, op: str, value: Typed, env: RowEnv) -> Typed:
        tests = []
        for name, kusto_type in env.columns.items():
            column = Typed(col(env.sql.get(name, name)), kusto_type)
            tests.append(self.string_op(op, column, value).sql)
        if not tests:
            return Typed(exp.false(), KustoType.BOOL)
        return Typed(exp.Paren(this=or_all(tests)), KustoType.BOOL)
