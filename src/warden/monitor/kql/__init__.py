"""Warden's KQL (Kusto Query Language) engine: parse, bind, and generate SQL for DuckDB/ClickHouse.

A pure library: it imports only the standard library, sqlglot, duckdb, pyarrow and itself.
"""

from . import ast
from .errors import KqlError, KqlSemanticError, KqlSyntaxError, KqlUnsupportedError
from .parser import parse

__all__ = ["KqlError", "KqlSemanticError", "KqlSyntaxError", "KqlUnsupportedError", "ast", "parse"]
