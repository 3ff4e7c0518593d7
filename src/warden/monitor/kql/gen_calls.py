"""Function calls: user-defined let functions (inlined), the functions that need the operator's
context (``row_number``, ``prev``, ``next``, ``row_cumsum``, ``ago``, ``now``, ``column_ifexists``),
then the function library's scalars and aggregates (``functions.registry``)."""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .binder import Binding, Relation
from .errors import KqlError
from .functions import registry
from .gen_builtins import FALLBACK_AGGREGATES, FALLBACK_SCALARS
from .gen_expressions import RowEnv
from .gen_sql import fn, literal
from .typed import Typed
from .types import INGESTION_TIME_COLUMN, KustoType

__all__ = ["CallCompiler"]

WINDOW_FUNCTIONS = {"row_number", "prev", "next", "row_cumsum", "row_rank_dense", "row_rank_min", "row_window_session"}


class CallCompiler:
    """Mixin of the generator: compiles :class:`ast.Call` nodes in scalar position."""

    def call(self, node: ast.Call, env: RowEnv) -> Typed:
        name = node.name
        binding = env.scope.lookup(name)
        if binding is not None and binding.kind == "function":
            return self.call_user_scalar(binding, node, env)
        special = getattr(self, f"_fn_{name}", None)
        if special is not None and name in _SPECIAL:
            return special(node, env)
        if env.aggregate and (name in registry.AGGREGATES or name in FALLBACK_AGGREGATES):
            return self.aggregate_call(node, env)
        found = registry.SCALARS.get(name) or FALLBACK_SCALARS.get(name)
        if found is None:
            if name in registry.AGGREGATES or name in FALLBACK_AGGREGATES:
                raise self.binder.semantic(f"aggregation function '{name}' is only allowed in summarize", node)
            raise self.binder.unsupported(f"the function '{name}'", node, "unknown or not implemented")
        args = self.call_args(node, env.but(in_filter=False, aggregate=env.aggregate))
        return self.invoke(found, args, node)

    def call_args(self, node: ast.Call, env: RowEnv) -> list[Typed]:
        args = []
        for arg in [*node.args, *(named.value for named in node.named_args)]:
            if isinstance(arg, ast.Star):
                raise self.binder.semantic(f"'*' is not a valid argument of '{node.name}'", arg)
            args.append(self.expr(arg, env))
        return args

    def invoke(
        self, function: registry.ScalarFunction | registry.AggregateFunction, args: list[Typed], node: ast.Node
    ) -> Typed:
        try:
            registry.check_arity(function.name, len(args), function.min_args, function.max_args)
            return function.impl(self, args)
        except KqlError as error:
            raise self.binder.locate(error, node) from None

    def aggregate_call(self, node: ast.Call, env: RowEnv) -> Typed:
        found = registry.AGGREGATES.get(node.name) or FALLBACK_AGGREGATES[node.name]
        args = self.call_args(node, env.but(aggregate=False, in_filter=False))
        return self.invoke(found, args, node)

    # ------------------------------------------------------------------------ user functions

    def bind_arguments(self, binding: Binding, node: ast.Call, env: RowEnv, extra: list | None = None) -> object:
        """A child scope of the function's definition with its parameters bound to the call's arguments."""
        fdef: ast.FunctionDef = binding.expr
        scope = binding.scope.child()
        positional = list(extra or []) + list(node.args)
        named = {n.name: n.value for n in node.named_args}
        if len(positional) + len(named) > len(fdef.params):
            given = len(positional) + len(named)
            raise self.binder.semantic(
                f"function '{node.name}' expects {len(fdef.params)} arguments, got {given}", node
            )
        # Named arguments bind by name; positional ones fill the remaining parameters in order.
        remaining = iter(positional)
        for param in fdef.params:
            arg = named.get(param.name) if param.name in named else next(remaining, None)
            if isinstance(param.type, ast.TabularType):
                if arg is None:
                    raise self.binder.semantic(f"missing tabular argument '{param.name}' of '{node.name}'", node)
                relation = arg if isinstance(arg, Relation) else self.table_of(arg, env.scope)
                scope.names[param.name] = Binding("tabular", value=relation, param=True)
                continue
            if arg is None:
                if param.default is None:
                    raise self.binder.semantic(f"missing argument '{param.name}' of '{node.name}'", node)
                value = self.expr(param.default, RowEnv(columns={}, scope=binding.scope))
            elif isinstance(arg, Relation):
                raise self.binder.semantic(f"argument '{param.name}' of '{node.name}' must be a scalar", node)
            else:
                value = self.expr(arg, env.but(in_filter=False))
            declared = KustoType(param.type)
            convertible = (value.type.is_numeric and declared.is_numeric) or value.type is KustoType.DYNAMIC
            if param.type is not KustoType.DYNAMIC and value.type != param.type and convertible:
                value = self.coerce(value, KustoType(param.type))
            scope.names[param.name] = Binding("scalar", value=value, param=True)
        for statement in fdef.body.statements:
            scope = self.bind_let(scope, statement)
        return scope

    def call_user_scalar(self, binding: Binding, node: ast.Call, env: RowEnv) -> Typed:
        fdef: ast.FunctionDef = binding.expr
        if isinstance(fdef.body.result, ast.Pipeline):
            raise self.binder.semantic(f"'{node.name}' is a tabular function; it cannot be used as a scalar", node)
        if binding.busy:
            raise self.binder.semantic(f"function '{node.name}' calls itself", node)
        binding.busy = True
        try:
            scope = self.bind_arguments(binding, node, env)
            return self.expr(fdef.body.result, env.but(scope=scope))
        finally:
            binding.busy = False

    # ----------------------------------------------------------------------- context functions

    def _fn_not(self, node: ast.Call, env: RowEnv) -> Typed:
        self._arity(node, 1, 1)
        value = self._as_bool(self.expr(node.args[0], env.but(in_filter=False)))
        return Typed(exp.Not(this=exp.Paren(this=value.sql)), KustoType.BOOL)

    def _fn_now(self, node: ast.Call, env: RowEnv) -> Typed:
        self._arity(node, 0, 1)
        now = literal(KustoType.DATETIME, self.now_ticks, self.dialect)
        if node.args:
            return self.shift(now, self.expr(node.args[0], env), negate=False)
        return now

    def _fn_ingestion_time(self, node: ast.Call, env: RowEnv) -> Typed:
        """The stored time each row was ingested: the log stores keep it in a column no schema lists
        (``INGESTION_TIME_COLUMN``), carried from a stored table through ``where`` and ``extend``."""
        self._arity(node, 0, 0)
        relation = env.relation
        if relation is None or not relation.ingested:
            raise self.binder.unsupported(
                "ingestion_time() here",
                node,
                "call it after a table and its where/extend steps, e.g. T | where X | extend t = ingestion_time()",
            )
        return Typed(exp.column(INGESTION_TIME_COLUMN, table=env.table, quoted=True), KustoType.DATETIME)

    def _fn_ago(self, node: ast.Call, env: RowEnv) -> Typed:
        self._arity(node, 1, 1)
        span = self.expr(node.args[0], env.but(in_filter=False))
        if span.type is not KustoType.TIMESPAN:
            raise self.binder.semantic(f"ago() expects a timespan, got {span.type}", node)
        return self.shift(literal(KustoType.DATETIME, self.now_ticks, self.dialect), span, negate=True)

    def _fn_column_ifexists(self, node: ast.Call, env: RowEnv) -> Typed:
        self._arity(node, 2, 2)
        name = self.expr(node.args[0], env)
        if not name.is_constant or not isinstance(name.literal, str):
            raise self.binder.semantic("column_ifexists() expects a constant column name", node)
        if name.literal in env.defined or name.literal in env.columns:
            return self.name(ast.NameRef(name.literal, pos=node.pos), env)
        return self.expr(node.args[1], env)

    _fn_columnifexists = _fn_column_ifexists

    def _fn_bin_auto(self, node: ast.Call, env: RowEnv) -> Typed:
        """``bin_auto(x)``: ``bin_at(x, size, at)`` with the ``query_bin_auto_size``/``_at`` options."""
        self._arity(node, 1, 1)
        size = self.options.get("query_bin_auto_size")
        if size is None:
            raise self.binder.semantic("bin_auto() needs 'set query_bin_auto_size = ...'", node)
        at = self.options.get("query_bin_auto_at")
        found = registry.SCALARS.get("bin_at") if at is not None else registry.SCALARS.get("bin")
        if found is None:
            raise self.binder.unsupported("bin_auto() without bin_at()", node)
        value = self.expr(node.args[0], env.but(in_filter=False))
        empty = RowEnv(columns={}, scope=env.scope)
        args = [value, self.expr(size, empty)] + ([self.expr(at, empty)] if at is not None else [])
        return self.invoke(found, args, node)

    def _fn_column_names_of(self, node: ast.Call, env: RowEnv) -> Typed:
        """``column_names_of(T)``: the column names of a tabular expression, a dynamic array."""
        self._arity(node, 1, 1)
        relation = self.maybe_table(node.args[0], env)
        if relation is None:
            raise self.binder.semantic("column_names_of() expects a tabular expression", node)
        return literal(KustoType.DYNAMIC, list(relation.columns), self.dialect)

    def _fn_assert(self, node: ast.Call, env: RowEnv) -> Typed:
        """``assert(condition, message)``: true, or the query fails with ``message``."""
        self._arity(node, 2, 2)
        condition = self._as_bool(self.expr(node.args[0], env.but(in_filter=False)))
        message = self.expr(node.args[1], env.but(in_filter=False))
        if not (message.is_constant and isinstance(message.literal, str)):
            raise self.binder.semantic("assert() expects a constant message", node)
        if condition.is_constant:
            if condition.literal is False:
                raise self.binder.semantic(f"assertion failed: {message.literal}", node)
            return literal(KustoType.BOOL, True, self.dialect)
        failure = fn("error", exp.Literal.string(f"assertion failed: {message.literal}"))
        return Typed(exp.Case(ifs=[exp.If(this=condition.sql, true=exp.true())], default=failure), KustoType.BOOL)

    def _arity(self, node: ast.Call, low: int, high: int) -> None:
        given = len(node.args) + len(node.named_args)
        if not low <= given <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise self.binder.semantic(f"function '{node.name}' expects {expected} arguments, got {given}", node)


_SPECIAL = {
    "not",
    "now",
    "ingestion_time",
    "ago",
    "column_ifexists",
    "columnifexists",
    "row_number",
    "row_cumsum",
    "row_rank_dense",
    "row_rank_min",
    "row_window_session",
    "prev",
    "next",
    "pack_all",
    "bag_pack_columns",
    "estimate_data_size",
    "bin_auto",
    "column_names_of",
    "assert",
}
