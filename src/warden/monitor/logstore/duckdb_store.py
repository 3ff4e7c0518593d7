"""The embedded log store: one DuckDB file per workspace in the data directory.

Each workspace file is opened once per process and locked down like the KQL sandbox (no file,
network or extension access; no replacement scans; configuration locked), so a query over live
tables can read nothing but the workspace. Column types are Kusto's, kept in a small catalogue
table (``__warden_columns``) because DuckDB's storage types cannot tell a timespan from a long or
a dynamic from a string; queries never see that table (the compiler only knows catalogued tables).

- Appends are Arrow batches converted to the storage types in one ``INSERT ... SELECT`` and
  committed before ``append`` returns (DuckDB writes and syncs its WAL on commit), serialized per
  workspace with schema changes.
- Queries run on their own cursor, without the write lock. A ``timespan`` becomes temporary views
  (private to the cursor) that shadow each table with its ``TimeGenerated`` range.
- A query over several workspaces (the query API's ``workspaces``, or ``workspace("x").T``, whose
  tables are given to the compiler under ``scoped_table_key``) copies the tables' rows (within the
  timespan) into an in-memory sandbox: DuckDB cannot attach a file already open read-write
  elsewhere in the process, and attaching would need external access.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from warden.monitor.kql import parse
from warden.monitor.kql.compiler import run
from warden.monitor.kql.gen_sources import scoped_table_key
from warden.monitor.kql.runtime import (
    KqlResult,
    Sandbox,
    convert_sql,
    execute_select,
    quote_identifier,
    timespan_text_macro,
)
from warden.monitor.kql.types import INGESTION_TIME_COLUMN, KustoType, parse_type

from . import LogStoreError, PurgeFilter, TableSchema, TimeRange

__all__ = ["DuckDBLogStore"]

_CATALOG = "__warden_columns"
_INGESTED = quote_identifier(INGESTION_TIME_COLUMN)  # each row's ingestion time, for ingestion_time()
_SPOOL_MARK = "__warden_spool"  # the last spool segment applied (see logstore/spool.py)
_WORKSPACE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
_PURGE_OPERATORS = {"==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class _Workspace:
    """One open workspace database: its connection, write lock and schema cache."""

    def __init__(self, path: Path, *, threads: int | None, memory_limit: str | None) -> None:
        config: dict[str, Any] = dict(_CONFIG)
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        self.path = path
        self.con = duckdb.connect(str(path), config=config)
        self.con.execute("SET python_enable_replacements = false")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET lock_configuration = true")
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {_CATALOG} "
            "(table_name VARCHAR, column_name VARCHAR, kusto_type VARCHAR, ordinal INTEGER)"
        )
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {_SPOOL_MARK} (segment BIGINT)")
        self.lock = threading.Lock()
        self.schemas = self._load_schemas()
        for table in self.schemas:  # tables created before ingestion times were kept
            self.con.execute(f"ALTER TABLE {quote_identifier(table)} ADD COLUMN IF NOT EXISTS {_INGESTED} TIMESTAMP")
        # The file's catalog name, to reach a table past a same-named temporary view.
        catalog = self.con.execute("SELECT current_database()").fetchone()[0]
        self.qualifier = f"{quote_identifier(catalog)}.main."

    def _load_schemas(self) -> dict[str, TableSchema]:
        rows = self.con.execute(
            f"SELECT table_name, column_name, kusto_type FROM {_CATALOG} ORDER BY table_name, ordinal"
        ).fetchall()
        result: dict[str, TableSchema] = {}
        for table, column, kusto_type in rows:
            result.setdefault(table, {})[column] = parse_type(kusto_type)
        return result

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.con.cursor()


class _LiveTables:
    """The ``QueryEngine`` ``run`` uses over a workspace's live tables, on one cursor."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, schemas: dict[str, TableSchema]) -> None:
        self._cursor = cursor
        self._schemas = schemas
        self._udfs: set[str] = set()  # geo_* functions run as Python UDFs, installed when used

    @property
    def schemas(self) -> dict[str, TableSchema]:
        return self._schemas

    def execute(self, sql: str, params: Any = None, *, timeout: float | None = None) -> pa.Table:
        return execute_select(self._cursor, sql, params, timeout=timeout, udfs=self._udfs)


class DuckDBLogStore:
    """``LogStore`` over DuckDB files ``{root}/{workspace}.duckdb``."""

    def __init__(self, root: Path, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._threads = threads
        self._memory_limit = memory_limit
        self._open: dict[str, _Workspace] = {}
        self._open_lock = threading.Lock()

    # ----------------------------------------------------------------------------- workspaces

    def _path(self, workspace: str) -> Path:
        if not _WORKSPACE_ID.match(workspace):
            raise LogStoreError(f"invalid workspace id {workspace!r}")
        return self.root / f"{workspace}.duckdb"

    def _workspace(self, workspace: str, *, create: bool = False) -> _Workspace:
        with self._open_lock:
            opened = self._open.get(workspace)
            if opened is not None:
                return opened
            path = self._path(workspace)
            if not create and not path.exists():
                raise LogStoreError(f"workspace {workspace} does not exist")
            opened = _Workspace(path, threads=self._threads, memory_limit=self._memory_limit)
            self._open[workspace] = opened
            return opened

    def create_workspace(self, workspace: str, tables: Mapping[str, TableSchema]) -> None:
        self._workspace(workspace, create=True)
        for name, columns in tables.items():
            self.ensure_table(workspace, name, columns)

    def drop_workspace(self, workspace: str) -> None:
        path = self._path(workspace)
        with self._open_lock:
            opened = self._open.pop(workspace, None)
        if opened is not None:
            with opened.lock:
                opened.con.close()
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)

    def exists(self, workspace: str) -> bool:
        return workspace in self._open or self._path(workspace).exists()

    def tables(self, workspace: str) -> dict[str, TableSchema]:
        return {name: dict(columns) for name, columns in self._workspace(workspace).schemas.items()}

    # --------------------------------------------------------------------------------- tables

    def ensure_table(self, workspace: str, table: str, columns: Mapping[str, KustoType]) -> TableSchema:
        opened = self._workspace(workspace)
        wanted = {name: KustoType(kusto_type) for name, kusto_type in columns.items()}
        with opened.lock:
            existing = opened.schemas.get(table)
            if existing is None:
                for other in opened.schemas:
                    if other.lower() == table.lower():
                        raise LogStoreError(f"table '{other}' already exists (names differ only in case)")
                _check_names(table, wanted)
                cursor = opened.cursor()
                try:
                    cursor.execute("BEGIN")
                    spec = ", ".join(f"{quote_identifier(c)} {t.duckdb}" for c, t in wanted.items())
                    cursor.execute(f"CREATE TABLE {quote_identifier(table)} ({spec}, {_INGESTED} TIMESTAMP)")
                    self._catalog(cursor, table, wanted, start=0)
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                finally:
                    cursor.close()
                opened.schemas[table] = dict(wanted)
                return dict(wanted)
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
            if added:
                _check_names(table, {**existing, **added})
                cursor = opened.cursor()
                try:
                    cursor.execute("BEGIN")
                    for name, kusto_type in added.items():
                        cursor.execute(
                            f"ALTER TABLE {quote_identifier(table)} ADD COLUMN {quote_identifier(name)} "
                            f"{kusto_type.duckdb}"
                        )
                    self._catalog(cursor, table, added, start=len(existing))
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                finally:
                    cursor.close()
                existing.update(added)
            return dict(existing)

    @staticmethod
    def _catalog(cursor: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, KustoType], start: int) -> None:
        cursor.executemany(
            f"INSERT INTO {_CATALOG} VALUES (?, ?, ?, ?)",
            [(table, name, str(kusto_type), start + i) for i, (name, kusto_type) in enumerate(columns.items())],
        )

    def drop_table(self, workspace: str, table: str) -> None:
        opened = self._workspace(workspace)
        with opened.lock:
            if table not in opened.schemas:
                raise LogStoreError(f"table '{table}' does not exist")
            cursor = opened.cursor()
            try:
                cursor.execute("BEGIN")
                cursor.execute(f"DROP TABLE {quote_identifier(table)}")
                cursor.execute(f"DELETE FROM {_CATALOG} WHERE table_name = ?", [table])
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()
            del opened.schemas[table]

    # -------------------------------------------------------------------------------- appends

    def append(self, workspace: str, table: str, batch: pa.Table) -> int:
        opened = self._workspace(workspace)
        schema = self._append_schema(opened, table, batch)
        if batch.num_rows == 0:
            return 0
        with opened.lock:
            cursor = opened.cursor()
            try:
                self._insert(cursor, table, schema, batch)
            finally:
                cursor.close()
        return batch.num_rows

    def append_spooled(self, workspace: str, batches: list[tuple[str, pa.Table]], through: int) -> int:
        """Append several tables' batches and record ``through`` (the last spool segment they came from)
        in one transaction, so a replay after a crash applies each segment exactly once.

        Batches for tables that no longer exist are skipped (the table was dropped after the rows
        were acknowledged, as if they had been appended first). Returns the rows appended.
        """
        opened = self._workspace(workspace)
        appended = 0
        with opened.lock:
            cursor = opened.cursor()
            try:
                cursor.execute("BEGIN")
                for table, batch in batches:
                    schema = opened.schemas.get(table)
                    if schema is None or batch.num_rows == 0:
                        continue
                    kept = [n for n in batch.column_names if n in schema or n == INGESTION_TIME_COLUMN]
                    # One chunk, not one per request: DuckDB then inserts on one thread, which costs a
                    # fifth less CPU (copy included) than its parallel insert of a many-chunk table.
                    self._insert(cursor, table, schema, batch.select(kept).combine_chunks())
                    appended += batch.num_rows
                cursor.execute(f"DELETE FROM {_SPOOL_MARK}")
                cursor.execute(f"INSERT INTO {_SPOOL_MARK} VALUES (?)", [through])
                cursor.execute("COMMIT")
            except BaseException:
                _rollback(cursor)
                raise
            finally:
                cursor.close()
        return appended

    def spooled_through(self, workspace: str) -> int:
        """The last spool segment whose rows this workspace has committed (0 if none)."""
        cursor = self._workspace(workspace).cursor()
        try:
            row = cursor.execute(f"SELECT max(segment) FROM {_SPOOL_MARK}").fetchone()
            return int(row[0] or 0)
        finally:
            cursor.close()

    @staticmethod
    def _append_schema(opened: _Workspace, table: str, batch: pa.Table) -> TableSchema:
        schema = opened.schemas.get(table)
        if schema is None:
            raise LogStoreError(f"table '{table}' does not exist")
        unknown = [name for name in batch.column_names if name not in schema]
        if unknown:
            raise LogStoreError(f"table '{table}' has no column(s) {unknown}")
        return schema

    @staticmethod
    def _insert(cursor: duckdb.DuckDBPyConnection, table: str, schema: TableSchema, batch: pa.Table) -> None:
        stage = f"__stage_{uuid.uuid4().hex}"
        try:
            cursor.register(stage, batch)
            described = {row[0]: row[1] for row in cursor.execute(f"DESCRIBE {quote_identifier(stage)}").fetchall()}
            if any(schema.get(n) is KustoType.TIMESPAN and described[n] == "VARCHAR" for n in described):
                cursor.execute(timespan_text_macro())  # text timespans need the parsing macro
            # Columns the batch lacks: strings are '' (Kusto strings are never null), others null.
            names = [n for n in schema if n in described or schema[n] is KustoType.STRING]
            select = ", ".join(
                convert_sql(quote_identifier(n), described[n], schema[n]) if n in described else "''" for n in names
            )
            target = ", ".join(quote_identifier(n) for n in names)
            # The time the rows were acknowledged (the spool stamps it), else now.
            ingested = _INGESTED if INGESTION_TIME_COLUMN in described else "now()"
            cursor.execute(
                f"INSERT INTO {quote_identifier(table)} ({target}, {_INGESTED}) "
                f"SELECT {select}, CAST({ingested} AS TIMESTAMP) FROM {quote_identifier(stage)}"
            )
        except duckdb.Error as exc:
            raise LogStoreError(f"append to '{table}' failed: {exc}") from exc
        finally:
            cursor.unregister(stage)

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
        parse(text)  # syntax errors first, before any data is touched
        unique = list(dict.fromkeys(workspaces))
        limits = _Limits(timespan, resource)
        if len(unique) == 1 and not qualified:
            return self._query_one(unique[0], text, now=now, limits=limits, timeout=timeout)
        return self._query_many(unique, text, now=now, limits=limits, timeout=timeout, qualified=qualified or {})

    def _query_one(
        self, workspace: str, text: str, *, now: dt.datetime | None, limits: _Limits, timeout: float | None
    ) -> KqlResult:
        opened = self._workspace(workspace)
        schemas = {name: dict(columns) for name, columns in opened.schemas.items() if limits.readable(columns)}
        cursor = opened.cursor()
        compiled = {name: {**columns, INGESTION_TIME_COLUMN: KustoType.DATETIME} for name, columns in schemas.items()}
        try:
            for name, columns in schemas.items():
                condition = limits.condition(columns)
                if condition:
                    stored = opened.qualifier + quote_identifier(name)
                    cursor.execute(
                        f"CREATE TEMP VIEW {quote_identifier(name)} AS SELECT * FROM {stored} WHERE {condition}"
                    )
            return run(text, _LiveTables(cursor, compiled), now=now, timeout=timeout)
        finally:
            cursor.close()

    def _query_many(
        self,
        workspaces: list[str],
        text: str,
        *,
        now: dt.datetime | None,
        limits: _Limits,
        timeout: float | None,
        qualified: Mapping[str, str],
    ) -> KqlResult:
        # Unqualified table names read the union of the workspaces; ``workspace("x").T`` reads one.
        tables: dict[str, pa.Table] = {}
        schemas: dict[str, TableSchema] = {}
        per_workspace = {
            ws: {name: columns for name, columns in self.tables(ws).items() if limits.readable(columns)}
            for ws in dict.fromkeys([*workspaces, *qualified.values()])
        }
        names = {name for ws in workspaces for name in per_workspace[ws]}
        for name in sorted(names):
            columns: TableSchema = {}
            parts = []
            for ws in workspaces:
                columns.update(per_workspace[ws].get(name, {}))
            columns[INGESTION_TIME_COLUMN] = KustoType.DATETIME
            for ws in workspaces:
                if name in per_workspace[ws]:
                    parts.append(self._read(ws, name, columns, limits))
            schemas[name] = columns
            tables[name] = pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})
        for alias, ws in qualified.items():
            for name, columns in per_workspace[ws].items():
                scoped = scoped_table_key("workspace", alias, name)
                schemas[scoped] = {**columns, INGESTION_TIME_COLUMN: KustoType.DATETIME}
                tables[scoped] = self._read(ws, name, schemas[scoped], limits)
        sandbox = Sandbox(tables, schemas=schemas, threads=self._threads)
        try:
            return run(text, sandbox, now=now, timeout=timeout)
        finally:
            sandbox.close()

    def _read(self, workspace: str, table: str, columns: TableSchema, limits: _Limits) -> pa.Table:
        """A table's rows as Arrow with Kusto-loadable types (timespans as ticks, dynamics as JSON text)."""
        opened = self._workspace(workspace)
        own = opened.schemas[table]
        select = []
        for name, kusto_type in columns.items():
            if name in own or name == INGESTION_TIME_COLUMN:
                value = quote_identifier(name)
                if kusto_type in (KustoType.DYNAMIC, KustoType.GUID):
                    value = f"CAST({value} AS VARCHAR)"
            else:
                value = "NULL" if kusto_type is not KustoType.STRING else "''"
                value = f"CAST({value} AS {kusto_type.duckdb if kusto_type not in _TEXT_TYPES else 'VARCHAR'})"
            select.append(f"{value} AS {quote_identifier(name)}")
        condition = limits.condition(own)
        where = f" WHERE {condition}" if condition else ""
        cursor = opened.cursor()
        try:
            stored = opened.qualifier + quote_identifier(table)
            return cursor.sql(f"SELECT {', '.join(select)} FROM {stored}{where}").to_arrow_table()
        finally:
            cursor.close()

    # -------------------------------------------------------------------------- deleting rows

    def delete_before(self, workspace: str, table: str, cutoff: dt.datetime) -> int:
        opened = self._workspace(workspace)
        if "TimeGenerated" not in opened.schemas.get(table, {}):
            return 0
        return self._delete(opened, table, f'"TimeGenerated" < {_timestamp(cutoff)}', [])

    def purge(self, workspace: str, table: str, filters: list[PurgeFilter]) -> int:
        opened = self._workspace(workspace)
        schema = opened.schemas.get(table)
        if schema is None:
            raise LogStoreError(f"table '{table}' does not exist")
        if not filters:
            raise LogStoreError("a purge needs at least one filter")
        conditions, params = [], []
        for item in filters:
            if item.column not in schema:
                raise LogStoreError(f"table '{table}' has no column '{item.column}'")
            condition, values = _purge_condition(item, schema[item.column])
            conditions.append(condition)
            params.extend(values)
        return self._delete(opened, table, " AND ".join(conditions), params)

    @staticmethod
    def _delete(opened: _Workspace, table: str, where: str, params: list[Any]) -> int:
        with opened.lock:
            cursor = opened.cursor()
            try:
                cursor.execute("BEGIN")
                count = cursor.execute(
                    f"SELECT count(*) FROM {quote_identifier(table)} WHERE {where}", params
                ).fetchone()[0]
                cursor.execute(f"DELETE FROM {quote_identifier(table)} WHERE {where}", params)
                cursor.execute("COMMIT")
                return int(count)
            except duckdb.Error as exc:
                _rollback(cursor)
                raise LogStoreError(f"delete from '{table}' failed: {exc}") from exc
            finally:
                cursor.close()

    def count(self, workspace: str, table: str) -> int:
        opened = self._workspace(workspace)
        if table not in opened.schemas:
            raise LogStoreError(f"table '{table}' does not exist")
        cursor = opened.cursor()
        try:
            return int(cursor.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()[0])
        finally:
            cursor.close()

    def close(self) -> None:
        with self._open_lock:
            opened, self._open = list(self._open.values()), {}
        for workspace in opened:
            with workspace.lock:
                workspace.con.close()


_TEXT_TYPES = (KustoType.DYNAMIC, KustoType.GUID)


class _Limits:
    """What a query may see of each table: a TimeGenerated range and/or one resource's rows."""

    def __init__(self, timespan: TimeRange | None, resource: str | None) -> None:
        self.timespan = timespan
        self.resource = resource.rstrip("/").lower() if resource else None

    def readable(self, columns: Mapping[str, KustoType]) -> bool:
        """Resource-centric queries read only tables that record the resource of each row."""
        return self.resource is None or "_ResourceId" in columns

    def condition(self, columns: Mapping[str, KustoType]) -> str:
        parts = []
        if self.timespan is not None and "TimeGenerated" in columns:
            parts.append(_in_range(self.timespan))
        if self.resource is not None:
            exact = "'" + self.resource.replace("'", "''") + "'"
            under = "'" + (self.resource + "/").replace("'", "''") + "'"
            parts.append(f'(lower("_ResourceId") = {exact} OR starts_with(lower("_ResourceId"), {under}))')
        return " AND ".join(parts)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _check_names(table: str, columns: Mapping[str, KustoType]) -> None:
    if not _NAME.match(table):
        raise LogStoreError(f"invalid table name '{table}'")
    seen: set[str] = set()
    for name in columns:
        if not _NAME.match(name):
            raise LogStoreError(f"invalid column name '{name}' in table '{table}'")
        if name.lower() in seen:
            raise LogStoreError(f"table '{table}' has two columns named '{name}' (names ignore case in storage)")
        seen.add(name.lower())


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def _in_range(timespan: TimeRange) -> str:
    return f'"TimeGenerated" >= {_timestamp(timespan[0])} AND "TimeGenerated" < {_timestamp(timespan[1])}'


def _rollback(cursor: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        cursor.execute("ROLLBACK")


def _purge_condition(item: PurgeFilter, kusto_type: KustoType) -> tuple[str, list[Any]]:
    column = quote_identifier(item.column)
    operator = item.operator.strip().lower()
    value = item.value
    if kusto_type is KustoType.DYNAMIC:
        column = f"CAST({column} AS VARCHAR)"
    cast = "VARCHAR" if kusto_type in _TEXT_TYPES else kusto_type.duckdb
    if kusto_type is KustoType.TIMESPAN:
        raise LogStoreError("purge filters on timespan columns are not supported")
    if operator in _PURGE_OPERATORS:
        return f"{column} {_PURGE_OPERATORS[operator]} CAST(? AS {cast})", [value]
    if operator == "=~":
        return f"lower(CAST({column} AS VARCHAR)) = lower(CAST(? AS VARCHAR))", [value]
    if operator == "contains":
        return f"contains(lower(CAST({column} AS VARCHAR)), lower(CAST(? AS VARCHAR)))", [value]
    if operator in ("in", "in~"):
        if not isinstance(value, list) or not value:
            raise LogStoreError(f"'{operator}' needs a non-empty list of values")
        marks = ", ".join(f"CAST(? AS {cast})" for _ in value)
        if operator == "in~":
            marks = ", ".join("lower(CAST(? AS VARCHAR))" for _ in value)
            return f"lower(CAST({column} AS VARCHAR)) IN ({marks})", list(value)
        return f"{column} IN ({marks})", list(value)
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise LogStoreError("'between' needs a list of two values")
        return f"{column} BETWEEN CAST(? AS {cast}) AND CAST(? AS {cast})", list(value)
    raise LogStoreError(f"unsupported purge operator '{item.operator}'")
