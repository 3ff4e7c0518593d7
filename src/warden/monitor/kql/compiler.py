"""The public entry points: ``compile`` (KQL -> SQL text) and ``run`` (KQL over local tables -> rows).

``compile`` parses, binds against the given schema and prints the SQL for DuckDB or ClickHouse;
every identifier is quoted and every literal is a SQL string or number literal printed by
sqlglot (quotes doubled), so neither a column name nor a string value can change the statement.
``run`` loads the tables into a locked-down :class:`~warden.monitor.kql.runtime.Sandbox`,
compiles against the schemas it reports, executes, and encodes the rows as the Log Analytics
query API does, with the column types the binder inferred.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from . import functions
from .ast import Query
from .errors import KqlError
from .generator import Generator
from .parser import parse
from .runtime import KqlResult, QueryEngine, Sandbox, Schema, TableSource, to_result
from .schema import normalize_database

__all__ = ["compile", "compile_query", "result_schema", "run"]

DIALECTS = ("duckdb", "clickhouse")


def _load_functions() -> None:
    """Import the function library (its modules register themselves)."""
    try:
        importlib.import_module(f"{functions.__name__}.all")
    except ModuleNotFoundError:
        for module in pkgutil.iter_modules(functions.__path__):
            importlib.import_module(f"{functions.__name__}.{module.name}")


_load_functions()


def _now(now: dt.datetime | None) -> dt.datetime | None:
    if now is not None and now.tzinfo is None:
        return now.replace(tzinfo=dt.UTC)
    return now


def compile_query(
    text: str,
    schema: Mapping[str, Any] | None,
    *,
    dialect: str = "duckdb",
    now: dt.datetime | None = None,
    probe: Any = None,
    query: Query | None = None,
) -> tuple[str, Generator, list[Any]]:
    """Return (SQL, the generator, the result's Kusto types); errors are always ``KqlError``.

    ``query`` is ``text`` already parsed, if the caller has it.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}: expected one of {', '.join(DIALECTS)}")
    if query is None:
        query = parse(text)
    generator = Generator(text, normalize_database(schema), dialect=dialect, now=_now(now), probe=probe)
    try:
        select, relation = generator.compile_query(query)
        sql = select.sql(dialect=dialect, identify=True)
    except KqlError:
        raise
    except RecursionError:
        raise KqlError("the query is nested too deeply") from None
    except Exception as exc:  # a bug of ours: still a KqlError for the caller
        raise KqlError(f"internal compiler error: {type(exc).__name__}: {exc}") from exc
    return sql, generator, list(relation.columns.values())


def result_schema(text: str, schema: Mapping[str, Any] | None, *, query: Query | None = None) -> dict[str, Any]:
    """Return the columns (name -> KustoType) a query produces over ``schema``, without running it.

    Raises KqlError (``evaluate`` plugins whose columns depend on the data cannot be compiled alone).
    """
    if query is None:
        query = parse(text)
    generator = Generator(text, normalize_database(schema), dialect="duckdb", now=None, probe=None)
    try:
        _, relation = generator.compile_query(query)
    except KqlError:
        raise
    except RecursionError:
        raise KqlError("the query is nested too deeply") from None
    except Exception as exc:  # a bug of ours: still a KqlError for the caller
        raise KqlError(f"internal compiler error: {type(exc).__name__}: {exc}") from exc
    return dict(relation.columns)


def compile(
    text: str,
    schema: Mapping[str, Any] | None = None,
    dialect: str = "duckdb",
    *,
    now: dt.datetime | None = None,
) -> str:
    """Compile a KQL query to SQL for ``dialect`` (``duckdb`` or ``clickhouse``).

    ``schema`` maps each table name to its columns (``{"T": {"x": "long", "s": "string"}}``).
    Raises KqlSyntaxError, KqlSemanticError or KqlUnsupportedError (all KqlError).
    """
    return compile_query(text, schema, dialect=dialect, now=now)[0]


def _execute(
    text: str, query: Query, sandbox: QueryEngine, now: dt.datetime | None, timeout: float | None
) -> tuple[Any, Generator, list[Any]]:
    def probe(sql: str) -> list[tuple[Any, ...]]:
        result = sandbox.execute(sql, timeout=timeout)
        return list(zip(*(column.to_pylist() for column in result.columns), strict=True))

    sql, generator, types = compile_query(text, sandbox.schemas, now=now, probe=probe, query=query)
    return sandbox.execute(sql, timeout=timeout), generator, types


def run(
    text: str,
    tables: Mapping[str, TableSource] | QueryEngine | None = None,
    *,
    now: dt.datetime | None = None,
    schemas: Mapping[str, Schema] | None = None,
    timeout: float | None = None,
) -> KqlResult:
    """Run a KQL query over local tables (CSV, JSON-lines or Parquet paths, or pyarrow Tables).

    ``tables`` may also be an already loaded :class:`Sandbox` (it is used as is and stays open),
    which saves loading the data again for every query, or any other ``QueryEngine`` (a log
    store's live tables). ``now`` fixes ``now()`` and ``ago()``
    (default: the current time); ``schemas`` optionally declares tables' Kusto column types.
    Returns a KqlResult (columns, Kusto types, rows in the Log Analytics encoding, and the
    ``render`` visualization if any). Raises KqlError.
    """
    query = parse(text)  # syntax errors before any data is loaded
    if isinstance(tables, QueryEngine):
        table, generator, types = _execute(text, query, tables, now, timeout)
    else:
        with Sandbox(tables or {}, schemas=schemas) as sandbox:
            table, generator, types = _execute(text, query, sandbox, now, timeout)
    if not types:
        return KqlResult([], [], [], visualization=generator.visualization)
    result = to_result(table, types)
    if generator.visualization is not None:
        result = KqlResult(result.columns, result.types, result.rows, visualization=generator.visualization)
    return result
