"""The scale-out log store: workspaces as ClickHouse databases, queried with KQL compiled for ClickHouse.

Layout: workspace ``{customerId}`` is the database ``ws_{customerId without dashes}``; each Log
Analytics table is a ``MergeTree`` table ordered by ``TimeGenerated`` where it has one. Column types
are ``KustoType.clickhouse``; the Kusto type of each column (which the storage type cannot tell:
a timespan is an ``Int64`` of ticks, a dynamic is JSON text in a ``String``) is the column's
``COMMENT``. That is this store's catalogue: a comment changes in the same DDL statement as its
column, whereas a separate catalogue table could disagree with the tables after a crash between
two statements (ClickHouse has no multi-statement transactions). The schema is read from
``system.columns`` on every operation, so several API processes see each other's new columns.

Appends convert the Arrow batch to the storage types with the same SQL the DuckDB store uses
(``convert_sql``, in an in-memory DuckDB, so both stores accept and reject exactly the same
values), then insert it as one Arrow block. **Durable** here means: the insert is synchronous
(``async_insert = 0``), a block is inserted atomically (all rows or none; one append is one block
while it stays under ``min_insert_block_size_rows``/``_bytes``, about a million rows or 256 MB),
tables are created with ``fsync_after_insert = 1, fsync_part_directory = 1`` (the part is on disk
before the insert is acknowledged), and for replicated tables the operator adds
``insert_settings={"insert_quorum": "auto"}`` (or a replica count) so an acknowledged block is on
a quorum of replicas. chDB, the embedded engine the tests run this SQL on, is for tests only.

Queries: the KQL is compiled with ``dialect="clickhouse"`` against the workspace schema, the SQL
is parsed back (sqlglot) and every table reference the compiler emitted is replaced by a
subquery over the workspace database(s): ``SELECT ... FROM "ws_x"."T" WHERE <timespan and
resource limits>``, a ``UNION ALL`` over several workspaces, or one workspace's table for
``workspace("x").T``. Nothing is created per query, so concurrent queries cannot see each other's
limits. Before rewriting, every table reference must be one of the query's own CTEs or a table of
the schema, so a query cannot read another database, a ``system`` table or a table function such
as ``file()``, ``url()`` or ``s3()`` (the compiler never emits them; this is the second lock). The
statement runs with ``SETTINGS readonly = 2`` (no writes) and ``max_execution_time`` for the
timeout.

Deletes (retention and purges) are ``ALTER TABLE ... DELETE`` mutations with
``mutations_sync = 2``: the rows are physically rewritten away on every replica before the call
returns, as a GDPR purge requires (a lightweight ``DELETE FROM`` only masks them until a merge).
The count they return is taken just before the mutation.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from warden.monitor.kql import parse
from warden.monitor.kql.compiler import compile_query
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.gen_sources import scoped_table_key
from warden.monitor.kql.runtime import KqlResult, convert_sql, quote_identifier, timespan_text_macro, to_result
from warden.monitor.kql.types import KustoType, lookup_type

from . import LogStoreError, PurgeFilter, TableSchema, TimeRange
from .clickhouse_executors import ClickHouseExecutor, ClickHouseExecutorError, quote_name, settings_clause
from .clickhouse_sql import Limits, TableSource, datetime_text, purge_condition, rewrite_query

__all__ = ["ClickHouseLogStore"]

_WORKSPACE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# DateTime64's range; DuckDB timestamps outside it would wrap around in ClickHouse, so they become null.
_FIRST, _LAST = "TIMESTAMP '1900-01-01 00:00:00'", "TIMESTAMP '2299-12-31 23:59:59.999999'"


def _database(workspace: str) -> str:
    """Return the database of a workspace id; raises LogStoreError for anything but a lower-case GUID."""
    if not _WORKSPACE_ID.match(workspace):
        raise LogStoreError(f"invalid workspace id {workspace!r}")
    return "ws_" + workspace.replace("-", "")


class ClickHouseLogStore:
    """``LogStore`` over ClickHouse databases, one per workspace, through a :class:`ClickHouseExecutor`.

    ``fsync`` sets the tables' ``fsync_after_insert``/``fsync_part_directory`` (off only for
    throwaway data); ``insert_settings`` are added to every insert (e.g. ``insert_quorum``).
    """

    def __init__(
        self, executor: ClickHouseExecutor, *, fsync: bool = True, insert_settings: Mapping[str, Any] | None = None
    ) -> None:
        self._executor = executor
        self._fsync = fsync
        self._insert_settings = {"async_insert": 0, **(insert_settings or {})}
        self._schema_lock = threading.Lock()
        # Arrow-to-storage conversions run in DuckDB, with the DuckDB store's own SQL (convert_sql).
        self._converter = duckdb.connect(config={"enable_external_access": False, "autoload_known_extensions": False})
        self._converter.execute("SET python_enable_replacements = false")
        self._converter.execute("SET TimeZone = 'UTC'")
        # A persistent (not TEMP) macro: each conversion runs on its own cursor, a connection of its
        # own that would not see another connection's temporary macro.
        self._converter.execute(timespan_text_macro().replace("TEMP MACRO", "MACRO"))
        self._closed = False

    # ----------------------------------------------------------------------------- plumbing

    def _command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._executor.command(sql, params)
        except ClickHouseExecutorError as exc:
            raise LogStoreError(f"ClickHouse refused the statement: {exc}") from exc

    def _rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            return self._executor.query_arrow(sql, params).to_pylist()
        except ClickHouseExecutorError as exc:
            raise LogStoreError(f"ClickHouse refused the statement: {exc}") from exc

    def _schemas(self, workspace: str) -> dict[str, TableSchema]:
        """Every table of the workspace with its Kusto columns; raises LogStoreError if it does not exist."""
        rows = self._rows(
            "SELECT table, name, comment FROM system.columns WHERE database = {db:String} ORDER BY table, position",
            {"db": _database(workspace)},
        )
        if not rows and not self.exists(workspace):  # a workspace without tables is no error
            raise LogStoreError(f"workspace {workspace} does not exist")
        result: dict[str, TableSchema] = {}
        for row in rows:
            kusto_type = lookup_type(row["comment"])
            if kusto_type is None:  # not a column this store made
                continue
            result.setdefault(row["table"], {})[row["name"]] = kusto_type
        return result

    def _table_schema(self, workspace: str, table: str) -> TableSchema:
        schema = self._schemas(workspace).get(table)
        if schema is None:
            raise LogStoreError(f"table '{table}' does not exist")
        return schema

    # ----------------------------------------------------------------------------- workspaces

    def exists(self, workspace: str) -> bool:
        """Return whether the workspace's database exists; raises LogStoreError for an invalid id."""
        rows = self._rows(
            "SELECT count() AS n FROM system.databases WHERE name = {db:String}", {"db": _database(workspace)}
        )
        return bool(rows[0]["n"])

    def create_workspace(self, workspace: str, tables: Mapping[str, TableSchema]) -> None:
        self._command(f"CREATE DATABASE IF NOT EXISTS {quote_name(_database(workspace))}")
        for name, columns in tables.items():
            self.ensure_table(workspace, name, columns)

    def drop_workspace(self, workspace: str) -> None:
        # SYNC: the data is gone when this returns, not after the Atomic engine's delay.
        self._command(f"DROP DATABASE IF EXISTS {quote_name(_database(workspace))} SYNC")

    def tables(self, workspace: str) -> dict[str, TableSchema]:
        return self._schemas(workspace)

    # --------------------------------------------------------------------------------- tables

    def ensure_table(self, workspace: str, table: str, columns: Mapping[str, KustoType]) -> TableSchema:
        wanted = {name: KustoType(kusto_type) for name, kusto_type in columns.items()}
        database = quote_name(_database(workspace))
        with self._schema_lock:
            schemas = self._schemas(workspace)
            existing = schemas.get(table)
            if existing is None:
                for other in schemas:
                    if other.lower() == table.lower():
                        raise LogStoreError(f"table '{other}' already exists (names differ only in case)")
                _check_names(table, wanted)
                spec = ", ".join(_column_spec(name, kusto_type) for name, kusto_type in wanted.items())
                order = '"TimeGenerated"' if "TimeGenerated" in wanted else "tuple()"
                settings = "allow_nullable_key = 1"
                if self._fsync:
                    settings += ", fsync_after_insert = 1, fsync_part_directory = 1"
                self._command(
                    f"CREATE TABLE IF NOT EXISTS {database}.{quote_name(table)} ({spec}) "
                    f"ENGINE = MergeTree ORDER BY {order} SETTINGS {settings}"
                )
                return self._verify(workspace, table, wanted)
            lower = {name.lower(): name for name in existing}
            added: dict[str, KustoType] = {}
            for name, kusto_type in wanted.items():
                known = lower.get(name.lower())
                if known is None:
                    added[name] = kusto_type
                elif known != name or existing[known] is not kusto_type:
                    raise LogStoreError(
                        f"table '{table}' already has column '{known}' of type {existing[known]}, "
                        f"not '{name}' of type {kusto_type}"
                    )
            if not added:
                return dict(existing)
            _check_names(table, {**existing, **added})
            # One ALTER: the new columns (and their comments) appear together.
            changes = ", ".join(f"ADD COLUMN IF NOT EXISTS {_column_spec(n, t)}" for n, t in added.items())
            self._command(f"ALTER TABLE {database}.{quote_name(table)} {changes}")
            return self._verify(workspace, table, {**existing, **added})

    def _verify(self, workspace: str, table: str, wanted: TableSchema) -> TableSchema:
        """Return the table's schema after a change, which another process may have made differently.

        Raises LogStoreError when a wanted column exists with another type.
        """
        schema = self._table_schema(workspace, table)
        for name, kusto_type in wanted.items():
            if schema.get(name) is not kusto_type:
                raise LogStoreError(f"table '{table}' has column '{name}' as {schema.get(name)}, not {kusto_type}")
        return schema

    def drop_table(self, workspace: str, table: str) -> None:
        self._table_schema(workspace, table)
        self._command(f"DROP TABLE IF EXISTS {quote_name(_database(workspace))}.{quote_name(table)} SYNC")

    # -------------------------------------------------------------------------------- appends

    def append(self, workspace: str, table: str, batch: pa.Table) -> int:
        schema = self._table_schema(workspace, table)
        if batch.num_rows == 0:
            return 0
        unknown = [name for name in batch.column_names if name not in schema]
        if unknown:
            raise LogStoreError(f"table '{table}' has no column(s) {unknown}")
        converted = self._convert(batch, schema)
        try:
            self._executor.insert_arrow(_database(workspace), table, converted, self._insert_settings)
        except ClickHouseExecutorError as exc:
            raise LogStoreError(f"append to '{table}' failed: {exc}") from exc
        return batch.num_rows

    def _convert(self, batch: pa.Table, schema: TableSchema) -> pa.Table:
        """Return ``batch`` with every column of ``schema`` in Arrow types ClickHouse inserts as the storage types.

        Missing strings are '' and other missing columns null; unconvertible values are null.
        Raises LogStoreError when DuckDB cannot read the batch.
        """
        stage = f"__stage_{uuid.uuid4().hex}"
        cursor = self._converter.cursor()
        try:
            cursor.register(stage, batch)
            described = {row[0]: row[1] for row in cursor.execute(f"DESCRIBE {quote_identifier(stage)}").fetchall()}
            select = []
            for name, kusto_type in schema.items():
                if name in described:
                    value = convert_sql(quote_identifier(name), described[name], kusto_type)
                else:
                    value = "''" if kusto_type is KustoType.STRING else f"CAST(NULL AS {kusto_type.duckdb})"
                if kusto_type in (KustoType.DYNAMIC, KustoType.GUID):
                    value = f"CAST({value} AS VARCHAR)"  # JSON text / GUID text: ClickHouse parses them
                elif kusto_type is KustoType.DATETIME:
                    value = f"CASE WHEN ({value}) BETWEEN {_FIRST} AND {_LAST} THEN ({value}) END"
                select.append(f"{value} AS {quote_identifier(name)}")
            return cursor.sql(f"SELECT {', '.join(select)} FROM {quote_identifier(stage)}").to_arrow_table()
        except duckdb.Error as exc:
            raise LogStoreError(f"cannot read the batch: {exc}") from exc
        finally:
            cursor.unregister(stage)
            cursor.close()

    # -------------------------------------------------------------------------------- queries

    def query(
        self,
        workspaces: list[str],
        text: str,
        *,
        now: dt.datetime | None = None,
        timespan: TimeRange | None = None,
        timeout: float | None = None,
        qualified: Mapping[str, str] | None = None,
        resource: str | None = None,
    ) -> KqlResult:
        if not workspaces:
            raise LogStoreError("no workspace to query")
        query = parse(text)  # syntax errors first, before any data is touched
        unique = list(dict.fromkeys(workspaces))
        limits = Limits(timespan, resource)
        per_workspace = {
            ws: {name: columns for name, columns in self._schemas(ws).items() if limits.readable(columns)}
            for ws in dict.fromkeys([*unique, *(qualified or {}).values()])
        }
        sources: dict[str, TableSource] = {}
        for ws in unique:
            for name, columns in per_workspace[ws].items():
                sources.setdefault(name, TableSource()).add(_database(ws), name, columns)
        for alias, ws in (qualified or {}).items():
            for name, columns in per_workspace[ws].items():
                sources[scoped_table_key("workspace", alias, name)] = TableSource().add(_database(ws), name, columns)
        schema = {key: source.columns for key, source in sources.items()}

        settings: dict[str, Any] = {"readonly": 2}
        if timeout:
            settings["max_execution_time"] = max(1, int(timeout + 0.999))
            settings["timeout_overflow_mode"] = "throw"

        def execute(sql: str) -> pa.Table:
            statement = rewrite_query(sql, sources, limits) + settings_clause(settings)
            try:
                return self._executor.query_arrow(statement)
            except ClickHouseExecutorError as exc:
                if "TIMEOUT_EXCEEDED" in str(exc):
                    raise KqlError(f"query cancelled after {timeout} s") from exc
                raise KqlError(f"query failed: {exc}") from exc

        def probe(sql: str) -> list[tuple[Any, ...]]:
            result = execute(sql)
            return list(zip(*(column.to_pylist() for column in result.columns), strict=True))

        sql, generator, types = compile_query(text, schema, dialect="clickhouse", now=now, probe=probe, query=query)
        table = execute(sql)
        if not types:
            return KqlResult([], [], [], visualization=generator.visualization)
        result = to_result(_plain_arrow(table), types)
        if generator.visualization is not None:
            result = KqlResult(result.columns, result.types, result.rows, visualization=generator.visualization)
        return result

    # -------------------------------------------------------------------------- deleting rows

    def delete_before(self, workspace: str, table: str, cutoff: dt.datetime) -> int:
        schema = self._schemas(workspace).get(table, {})
        if "TimeGenerated" not in schema:
            return 0
        condition = "\"TimeGenerated\" < toDateTime64({cutoff:String}, 6, 'UTC')"
        return self._delete(workspace, table, condition, {"cutoff": datetime_text(cutoff)})

    def purge(self, workspace: str, table: str, filters: list[PurgeFilter]) -> int:
        schema = self._table_schema(workspace, table)
        if not filters:
            raise LogStoreError("a purge needs at least one filter")
        conditions: list[str] = []
        params: dict[str, str] = {}
        for item in filters:
            if item.column not in schema:
                raise LogStoreError(f"table '{table}' has no column '{item.column}'")
            conditions.append(purge_condition(item, schema[item.column], params))
        return self._delete(workspace, table, " AND ".join(conditions), params)

    def _delete(self, workspace: str, table: str, where: str, params: Mapping[str, str]) -> int:
        target = f"{quote_name(_database(workspace))}.{quote_name(table)}"
        count = int(self._rows(f"SELECT count() AS n FROM {target} WHERE {where}", params)[0]["n"])
        if count:
            self._command(f"ALTER TABLE {target} DELETE WHERE {where} SETTINGS mutations_sync = 2", params)
        return count

    def count(self, workspace: str, table: str) -> int:
        self._table_schema(workspace, table)
        target = f"{quote_name(_database(workspace))}.{quote_name(table)}"
        return int(self._rows(f"SELECT count() AS n FROM {target}")[0]["n"])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._converter.close()
        self._executor.close()


def _plain_arrow(table: pa.Table) -> pa.Table:
    """Return ``table`` with binary columns (ClickHouse strings, when a server sends them so) as UTF-8 text."""
    columns = []
    for column in table.columns:
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            texts = [None if v is None else v.decode("utf-8", "replace") for v in column.to_pylist()]
            column = pa.chunked_array([pa.array(texts, pa.string())])
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


# ------------------------------------------------------------------------------------- helpers


def _column_spec(name: str, kusto_type: KustoType) -> str:
    return f"{quote_name(name)} {kusto_type.clickhouse} COMMENT '{kusto_type.value}'"


def _check_names(table: str, columns: Mapping[str, KustoType]) -> None:
    if not _NAME.match(table):
        raise LogStoreError(f"invalid table name '{table}'")
    seen: set[str] = set()
    for name in columns:
        if not _NAME.match(name):
            raise LogStoreError(f"invalid column name '{name}' in table '{table}'")
        if name.lower() in seen:
            raise LogStoreError(f"table '{table}' has two columns named '{name}' (names ignore case)")
        seen.add(name.lower())
