"""Warden's KQL (Kusto Query Language) engine: parse, bind, and generate SQL for DuckDB/ClickHouse.

A pure library: it imports only the standard library, sqlglot, duckdb, pyarrow, s2geometry and h3
(the geo_* functions) and itself.
"""

from . import ast
from .compiler import compile, run
from .errors import KqlError, KqlSemanticError, KqlSyntaxError, KqlUnsupportedError
from .parser import parse
from .runtime import KqlResult

__all__ = [
    "KqlError",
    "KqlResult",
    "KqlSemanticError",
    "KqlSyntaxError",
    "KqlUnsupportedError",
    "ast",
    "compile",
    "parse",
    "run",
]
