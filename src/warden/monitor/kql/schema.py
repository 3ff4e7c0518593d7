"""Table schemas the binder resolves names against: ``{table: {column: KustoType}}``, columns in order.

A schema is what :func:`warden.monitor.kql.compile` is given (``{"T": {"x": "long"}}``, type names
may be any Kusto alias) and what a :class:`~warden.monitor.kql.runtime.Sandbox` reports for the
tables it loaded. Table and column names are case-sensitive, as in Kusto.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import KqlSemanticError
from .runtime import normalize_schema
from .types import KustoType

__all__ = ["DatabaseSchema", "TableSchema", "match_names", "normalize_database"]

#: One table's columns, in order.
TableSchema = dict[str, KustoType]
#: Every table a query may read.
DatabaseSchema = dict[str, TableSchema]


def normalize_database(schema: Mapping[str, Any] | None) -> DatabaseSchema:
    """Return a schema with every table's columns normalized to ``KustoType`` (order kept).

    Each table may be given as ``{col: type}``, ``[(col, type)]`` or ``[{"name", "type"}]``.
    Raises KqlSemanticError for an unknown type name or a repeated column.
    """
    result: DatabaseSchema = {}
    for table, columns in (schema or {}).items():
        if not isinstance(table, str) or not table:
            raise KqlSemanticError(f"invalid table name {table!r}")
        result[table] = normalize_schema(columns)
    return result


def match_names(pattern: str, names: list[str]) -> list[str]:
    """Return the names (in their order) matched by a KQL name pattern (``*`` wildcards, case-sensitive)."""
    if "*" not in pattern:
        return [name for name in names if name == pattern]
    regex = re.compile("".join(".*" if ch == "*" else re.escape(ch) for ch in pattern), re.DOTALL)
    return [name for name in names if regex.fullmatch(name)]
