"""Tabular names: what a table reference, a let-bound tabular value or a tabular function call
compiles to, and the pipeline loop itself (``table_of``)."""

from __future__ import annotations

from typing import Any

from . import ast
from .bind_names import names_read
from .binder import Binding, Relation, Scope
from .gen_expressions import RowEnv

__all__ = ["TableCompiler"]


class TableCompiler:
    """Mixin of the generator: tabular names and pipelines."""

    # ------------------------------------------------------------------------------ tabular names

    def table_of(self, node: Any, scope: Scope) -> Relation:
        """Compile anything that denotes a table: a pipeline, a source, a name, a tabular call."""
        if isinstance(node, Relation):
            return node
        if isinstance(node, ast.Subquery):
            node = node.query
        if isinstance(node, ast.Pipeline):
            relation = self.source(node.source, scope)
            operators = list(node.operators)
            while operators:
                operator = operators.pop(0)
                if self._filter_first(operator, operators, relation):
                    # Kusto filters the left side of an innerunique join before it keeps one row
                    # per key, when the filter reads only left columns: do the same.
                    operators.insert(1, operator)
                    operator = operators.pop(0)
                try:
                    relation = self.operator(operator, relation, scope)
                except RecursionError:
                    raise self.binder.semantic("the query is nested too deeply", operator) from None
            return relation
        if isinstance(node, ast.NameRef):
            return self.table_ref(node.name, node, scope)
        if isinstance(node, ast.Call):
            return self.tabular_call(node, scope)
        if isinstance(node, ast.Source):
            return self.source(node, scope)
        raise self.binder.semantic("expected a tabular expression", node if isinstance(node, ast.Node) else None)

    @staticmethod
    def _filter_first(operator: ast.Operator, rest: list[ast.Operator], left: Relation) -> bool:
        if not (isinstance(operator, ast.Join) and (operator.kind or "innerunique").lower() == "innerunique"):
            return False
        if not rest or not isinstance(rest[0], ast.Where):
            return False
        names = names_read(rest[0].predicate)
        return bool(names) and names <= set(left.columns)

    def maybe_table(self, node: ast.Expr, env: RowEnv) -> Relation | None:
        """The relation an argument denotes if it is tabular (``in (T)``, ``in (f())``), else None."""
        if isinstance(node, ast.Subquery):
            return self.table_of(node.query, env.scope)
        if isinstance(node, ast.NameRef) and node.name not in env.columns and node.name not in env.defined:
            binding = env.scope.lookup(node.name)
            if binding is None:
                return self.table_ref(node.name, node, env.scope) if node.name in self.binder.schema else None
            if binding.kind == "tabular" or (binding.kind == "expr" and self._expr_is_tabular(binding)):
                return self.table_ref(node.name, node, env.scope)
        if isinstance(node, ast.Call):
            binding = env.scope.lookup(node.name)
            if (
                binding is not None
                and binding.kind == "function"
                and isinstance(binding.expr.body.result, ast.Pipeline)
            ):
                return self.tabular_call(node, env.scope)
        return None

    def tabular_lets(self, scope: Scope) -> list[str]:
        """The let names in scope that denote tables (tabular values, views, tabular parameterless functions)."""
        names = []
        for name in scope.all_names():
            binding = scope.lookup(name)
            if binding is None or binding.param:
                continue
            if binding.kind == "tabular" or (binding.kind == "expr" and self._expr_is_tabular(binding)):
                names.append(name)
            elif binding.kind == "function":
                fdef = binding.expr
                callable_bare = all(p.default is not None for p in fdef.params)
                if callable_bare and (isinstance(fdef.body.result, ast.Pipeline) or self._result_is_tabular(fdef)):
                    names.append(name)
        return names

    def _expr_is_tabular(self, binding: Binding) -> bool:
        expr = binding.expr
        if isinstance(binding.value, Relation):
            return True
        if isinstance(expr, ast.NameRef):
            inner = binding.scope.lookup(expr.name) if binding.scope else None
            if inner is None:
                return expr.name in self.binder.schema
            return inner.kind == "tabular" or (inner.kind == "expr" and self._expr_is_tabular(inner))
        if isinstance(expr, ast.Call) and binding.scope is not None:
            inner = binding.scope.lookup(expr.name)
            return inner is not None and inner.kind == "function" and isinstance(inner.expr.body.result, ast.Pipeline)
        return False

    def table_ref(self, name: str, node: ast.Node, scope: Scope) -> Relation:
        binding = scope.lookup(name)
        if binding is None:
            columns = self.binder.table_schema(name, node)
            return Relation(name, columns, ingested=name in self.binder.ingested)
        if binding.kind in ("tabular", "expr"):
            if isinstance(binding.value, Relation):
                return binding.value
            if binding.kind == "expr" and not self._expr_is_tabular(binding):
                raise self.binder.semantic(f"'{name}' is a scalar, not a tabular value", node)
            if binding.busy:
                raise self.binder.semantic(f"'{name}' refers to itself", node)
            binding.busy = True
            try:
                binding.value = self.table_of(binding.expr, binding.scope)
            finally:
                binding.busy = False
            return binding.value
        if binding.kind == "function":
            fdef: ast.FunctionDef = binding.expr
            if fdef.params and not all(p.default is not None for p in fdef.params):
                raise self.binder.semantic(f"'{name}' is a function: call it with arguments", node)
            return self.tabular_call(ast.Call(name, pos=node.pos), scope)
        raise self.binder.semantic(f"'{name}' is a scalar, not a tabular value", node)

    def tabular_call(self, node: ast.Call, scope: Scope, input_relation: Relation | None = None) -> Relation:
        binding = scope.lookup(node.name)
        if binding is None or binding.kind != "function":
            if node.name == "table" and node.args and isinstance(node.args[0], ast.Literal):
                return self.table_ref(str(node.args[0].value), node, scope)
            if node.name in ("database", "cluster", "workspace", "app"):
                raise self.binder.unsupported(f"{node.name}() references", node, "a query reads only the given tables")
            raise self.binder.semantic(f"unknown tabular function '{node.name}'", node)
        fdef: ast.FunctionDef = binding.expr
        if not isinstance(fdef.body.result, ast.Pipeline) and not self._result_is_tabular(fdef):
            raise self.binder.semantic(f"'{node.name}' is a scalar function, not a tabular one", node)
        if binding.busy:
            raise self.binder.semantic(f"function '{node.name}' calls itself", node)
        binding.busy = True
        try:
            env = RowEnv(columns={}, scope=scope)
            inner = self.bind_arguments(binding, node, env, [input_relation] if input_relation is not None else None)
            return self.table_of(fdef.body.result, inner)
        finally:
            binding.busy = False

    @staticmethod
    def _result_is_tabular(fdef: ast.FunctionDef) -> bool:
        result = fdef.body.result
        return isinstance(result, ast.NameRef | ast.Call | ast.Subquery)
