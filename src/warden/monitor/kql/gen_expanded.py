"""Scalars that ``extend``/``project`` expand into several columns (``registry.EXPANDED``).

``extend series_stats(x)`` adds ``series_stats_x_min``, ``series_stats_x_min_idx``...; ``extend
(a, b, ...) = series_fit_line(y)`` names them in order. The function returns a dynamic bag; each
column reads one key of it, converted to its type.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from . import ast
from .bind_names import expression_name
from .functions import registry
from .typed import Typed
from .types import KustoType


def expanded_columns(gen: Any, named: ast.NamedExpr, env: Any) -> list[tuple[str, Typed]] | None:
    """The (name, value) columns of ``named`` when it calls an expanded scalar; None otherwise.

    Raises KqlSemanticError when the number of names given does not match the columns.
    """
    call = named.expr
    if not isinstance(call, ast.Call) or call.name not in registry.EXPANDED:
        return None
    parts = registry.EXPANDED[call.name]
    if named.names and len(named.names) != len(parts):
        raise gen.binder.semantic(f"{call.name}() produces {len(parts)} columns, {len(named.names)} names given", named)
    bag = gen.expr(call, env)
    argument = expression_name(call.args[0]) if call.args else None
    columns = []
    for i, (suffix, type_name) in enumerate(parts):
        kusto_type = KustoType(type_name)
        name = named.names[i] if named.names else f"{call.name}_{argument or ''}_{suffix}"
        value = exp.JSONExtract(this=bag.sql.copy(), expression=exp.Literal.string(f"$.{suffix}"))
        if kusto_type is KustoType.DYNAMIC:
            columns.append((name, Typed(value, kusto_type)))
        else:
            sql_type = "DOUBLE" if kusto_type is KustoType.REAL else "BIGINT"
            columns.append((name, Typed(exp.Cast(this=value, to=exp.DataType.build(sql_type)), kusto_type)))
    return columns
