"""Where compiled KQL runs: a locked-down in-memory DuckDB holding exactly the tables it was given.

``Sandbox`` loads each table (a CSV, JSON-lines or Parquet path, or a pyarrow Table) into a DuckDB
*table* whose columns use the storage types of ``types`` (so the generator can rely on them),
then locks the connection:

- ``enable_external_access = false``: no file, URL, ``ATTACH``, ``COPY ... TO``, ``INSTALL``,
  ``LOAD`` or secret storage. This is why tables are materialised rather than left as views over
  ``read_csv``/``read_parquet``: a view would have to read its file at query time.
- ``autoinstall_known_extensions`` / ``autoload_known_extensions`` / ``allow_community_extensions``
  = false: nothing is fetched or loaded behind a query's back.
- ``python_enable_replacements = false``: without it DuckDB's Python client resolves an unknown
  table name to a same-named variable of the calling Python frame, which would let a query read
  process memory.
- ``lock_configuration = true``: none of the above can be ``SET`` or ``RESET`` again.

On top, ``execute`` runs a single ``SELECT`` statement only, so a query cannot create, drop or
modify tables either.
"""

from __future__ import annotations

import csv
import gzip
import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warden.monitor.kql.errors import KqlError, KqlSemanticError
from warden.monitor.kql.types import KustoType, from_arrow, from_duckdb, parse_type
from warden.monitor.kql.values import TIMESPAN_UNITS, encode_value

__all__ = [
    "KqlResult",
    "QueryEngine",
    "Sandbox",
    "Schema",
    "TableSource",
    "convert_sql",
    "execute_select",
    "normalize_schema",
    "quote_identifier",
    "timespan_text_macro",
    "to_result",
]

TableSource = str | os.PathLike[str] | pa.Table
#: A declared schema: ``{"col": "long"}``, ``[("col", "long")]`` or ``[{"name": "col", "type": "long"}]``
#: (the shape of the corpus' ``fixtures.json``). Type names may be any Kusto alias.
Schema = Mapping[str, KustoType | str] | Sequence[tuple[str, KustoType | str]] | Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class KqlResult:
    """A query result: column names, their Kusto types, and rows of encoded values (see ``values``)."""

    columns: list[str]
    types: list[KustoType]
    rows: list[list[Any]]
    #: ``render``'s chart type and properties (``{"visualization": "timechart", "title": ...}``), if any.
    visualization: dict[str, Any] | None = None

    def to_query_api(self, name: str = "PrimaryResult") -> dict[str, Any]:
        """Return the result in the Log Analytics query API's response shape."""
        columns = [{"name": c, "type": str(t)} for c, t in zip(self.columns, self.types, strict=True)]
        return {"tables": [{"name": name, "columns": columns, "rows": self.rows}]}


def to_result(table: pa.Table, types: Sequence[KustoType | str] | None = None) -> KqlResult:
    """Return an Arrow result as a ``KqlResult``, each value encoded for its Kusto type.

    ``types`` are the compiler's Kusto types of the columns; without them they are inferred from
    the Arrow types, which cannot tell a timespan (ticks) from a long or a dynamic (JSON text)
    from a string. Raises ValueError when ``types`` does not match the column count.
    """
    if types is None:
        kusto_types = [from_arrow(field.type) for field in table.schema]
    else:
        kusto_types = [KustoType(t) for t in types]
    if len(kusto_types) != table.num_columns:
        raise ValueError(f"{len(kusto_types)} types for {table.num_columns} columns")
    encoded = [_encode_column(table.column(i), kusto_type) for i, kusto_type in enumerate(kusto_types)]
    rows = [list(row) for row in zip(*encoded, strict=True)] if encoded else [[] for _ in range(table.num_rows)]
    return KqlResult(columns=list(table.column_names), types=kusto_types, rows=rows)


def _encode_column(column: pa.ChunkedArray, kusto_type: KustoType) -> list[Any]:
    values = column.to_pylist()
    if kusto_type is KustoType.DYNAMIC and pa.types.is_string(column.type):
        # DuckDB hands JSON columns over as JSON text, minified (its JSON functions emit minified
        # text and the loader stores json(...)): pass it through rather than re-serialise every
        # value, which dominated the cost of wide results. Text that cannot be JSON is encoded.
        return [_pass_json_text(value) for value in values]
    return [encode_value(kusto_type, value) for value in values]


def _pass_json_text(value: str | None) -> str | None:
    if value is None or value == "null":
        return None
    if value[:1] in _JSON_STARTS and value[:1] != "n":
        return value
    return encode_value(KustoType.DYNAMIC, value)


_JSON_STARTS = frozenset('{["-0123456789tfn')


def quote_identifier(name: str) -> str:
    """Return ``name`` as a double-quoted SQL identifier (embedded quotes doubled).

    Raises KqlSemanticError for an empty name or one containing NUL, which no engine stores.
    """
    if not name or "\x00" in name:
        raise KqlSemanticError(f"invalid name {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def normalize_schema(schema: Schema) -> dict[str, KustoType]:
    """Return a declared schema as an ordered ``{column: KustoType}``.

    Raises KqlSemanticError for an unknown type name or a repeated column.
    """
    if isinstance(schema, Mapping):
        pairs: Iterable[tuple[str, Any]] = schema.items()
    else:
        pairs = ((item["name"], item["type"]) if isinstance(item, Mapping) else tuple(item) for item in schema)
    result: dict[str, KustoType] = {}
    for name, type_name in pairs:
        if name in result:
            raise KqlSemanticError(f"column '{name}' is declared twice")
        result[name] = type_name if isinstance(type_name, KustoType) else parse_type(type_name)
    return result


# ------------------------------------------------------------------------- load-time conversions

_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_NUMBER = _INTEGER | {"FLOAT", "DOUBLE", "UHUGEINT"}
# Kusto also accepts RFC 822/850 text as datetimes; DuckDB's cast only reads ISO 8601.
_RFC_FORMATS = [
    f"{weekday}%d{sep}%b{sep}%y %H:%M{seconds}{zone}"
    for weekday in ("%a, ", "%A, ", "")
    for sep in (" ", "-")
    for seconds in (":%S", "")
    for zone in (" GMT", "")
]
_CLOCK_RE = r"^\s*(-?)(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*$"
_UNIT_RE = r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-z]*)\s*$"


def timespan_text_macro() -> str:
    """Return the SQL creating the temporary macro ``__kql_timespan(text)`` (Kusto timespan text to ticks),
    which ``convert_sql`` uses for text sources."""
    clock = _quote_literal(_CLOCK_RE)
    unit = _quote_literal(_UNIT_RE)

    def part(i: int) -> str:
        return f"COALESCE(TRY_CAST(NULLIF(regexp_extract(s, {clock}, {i}), '') AS BIGINT), 0)"

    fraction = f"COALESCE(TRY_CAST(rpad(regexp_extract(s, {clock}, 6), 7, '0') AS BIGINT), 0)"
    units = " ".join(f"WHEN {_quote_literal(name)} THEN {ticks}" for name, ticks in TIMESPAN_UNITS.items())
    unit_name = f"COALESCE(NULLIF(regexp_extract(lower(s), {unit}, 2), ''), 'd')"
    return (
        "CREATE OR REPLACE TEMP MACRO __kql_timespan(s) AS CASE "
        f"WHEN regexp_full_match(s, {clock}) THEN "
        f"(CASE WHEN regexp_extract(s, {clock}, 1) = '-' THEN -1 ELSE 1 END) * ("
        f"{part(2)} * 864000000000 + {part(3)} * 36000000000 + {part(4)} * 600000000 "
        f"+ {part(5)} * 10000000 + {fraction}) "
        f"WHEN regexp_full_match(lower(s), {unit}) THEN CAST(TRY_CAST(regexp_extract(lower(s), {unit}, 1) "
        f"AS DECIMAL(38, 10)) * (CASE {unit_name} {units} END) AS BIGINT) END"
    )


def _is_nested(duck_type: str) -> bool:
    return from_duckdb(duck_type) is KustoType.DYNAMIC and duck_type.upper() != "JSON"


def convert_sql(col: str, source: str, target: KustoType) -> str:
    """Return the SQL turning column ``col`` of DuckDB type ``source`` into ``target``'s storage.

    Values that do not convert become null, as Kusto's ingestion does with a mismatched value.
    """
    source = source.upper()
    storage = target.duckdb
    text = source == "VARCHAR"
    if target is KustoType.STRING:
        if text:
            return f"COALESCE({col}, '')"
        value = f"to_json({col})" if _is_nested(source) else col
        return f"COALESCE(CAST({value} AS VARCHAR), '')"
    if target is KustoType.DYNAMIC:
        if source == "JSON":
            return col
        if text:
            # json() validates and minifies; text that is not JSON becomes a dynamic string, as
            # parse_json() makes it
            return (
                f"CASE WHEN trim({col}) = '' THEN NULL WHEN json_valid({col}) THEN json({col}) "
                f"ELSE CAST(to_json({col}) AS JSON) END"
            )
        return f"CAST(to_json({col}) AS JSON)"
    if target is KustoType.DATETIME:
        if source == "TIMESTAMP":
            return col
        if source.startswith("TIMESTAMP") or source == "DATE":
            return f"CAST({col} AS TIMESTAMP)"  # other units, dates, time zones (the session's is UTC)
        if text:
            formats = "[" + ", ".join(_quote_literal(f) for f in _RFC_FORMATS) + "]"
            return f"COALESCE(TRY_CAST(TRY_CAST({col} AS TIMESTAMPTZ) AS TIMESTAMP), try_strptime({col}, {formats}))"
        return "CAST(NULL AS TIMESTAMP)"
    if target is KustoType.TIMESPAN:
        if source in _NUMBER:
            return f"TRY_CAST({col} AS BIGINT)"  # a number is a tick count
        if source == "INTERVAL" or (source.startswith("TIME") and not source.startswith("TIMESTAMP")):
            return f"epoch_us({col}) * 10"
        if text:
            return f"__kql_timespan({col})"
        return "CAST(NULL AS BIGINT)"
    if target is KustoType.GUID:
        if source == "UUID":
            return col
        return f"TRY_CAST(trim({col}) AS UUID)" if text else "CAST(NULL AS UUID)"
    if target is KustoType.BOOL:
        if source == "BOOLEAN":
            return col
        if source in _NUMBER or source.startswith("DECIMAL"):
            return f"({col} <> 0)"
        return f"TRY_CAST(trim({col}) AS BOOLEAN)" if text else "CAST(NULL AS BOOLEAN)"
    # int, long, real, decimal
    if text:
        return f"TRY_CAST(trim({col}) AS {storage})"
    if source in _NUMBER or source == "BOOLEAN" or source.startswith("DECIMAL"):
        return f"TRY_CAST({col} AS {storage})"
    if source == "JSON":
        return f"TRY_CAST(CAST({col} AS VARCHAR) AS {storage})"
    return f"CAST(NULL AS {storage})"


def _file_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in {".gz", ".zst"}]
    return suffixes[-1] if suffixes else ""


def _file_reader(path: Path, declared: bool) -> str:
    """Return the DuckDB table function (with one ``?`` for the path) that reads ``path``.

    Raises KqlSemanticError for a suffix that is not CSV/TSV, JSON(-lines) or Parquet.
    """
    kind = _file_kind(path)
    # With a declared schema CSV cells are read as text and converted by Kusto's rules, not
    # DuckDB's sniffer (which would, say, turn a timespan-looking cell into a TIME).
    text = ", all_varchar = true" if declared else ""
    if kind in {".csv", ".txt"}:
        return f"read_csv(?, header = true{text})"
    if kind == ".tsv":
        return f"read_csv(?, header = true, delim = '\\t'{text})"
    if kind in {".json", ".jsonl", ".ndjson"}:
        return "read_json(?, format = 'auto'{columns})"
    if kind in {".parquet", ".pq"}:
        return "read_parquet(?)"
    raise KqlSemanticError(f"cannot load '{path.name}': expected a .csv, .tsv, .json, .jsonl or .parquet file")


def _source_columns(source: TableSource) -> list[str]:
    """Return the column names as the source spells them, where that is cheap to learn, else [].

    DuckDB renames a column whose name differs from an earlier one only in case (``A`` becomes
    ``A_1``); reading the names first lets the loader refuse that instead of renaming silently.
    """
    if isinstance(source, pa.Table):
        return list(source.schema.names)
    path = Path(source)
    kind = _file_kind(path)
    try:
        if kind in {".parquet", ".pq"}:
            return list(pq.read_schema(path).names)
        if kind in {".csv", ".txt", ".tsv"}:
            opener = gzip.open if path.suffix.lower() == ".gz" else open
            with opener(path, "rt", encoding="utf-8", newline="") as handle:
                return next(csv.reader(handle, delimiter="\t" if kind == ".tsv" else ","), [])
    except (OSError, UnicodeDecodeError, pa.ArrowException):
        pass  # DuckDB reports an unreadable source when it loads it
    return []


def _refuse_case_twins(table: str, columns: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    for col in columns:
        if col.lower() in seen:
            raise KqlSemanticError(f"table '{table}': columns '{seen[col.lower()]}' and '{col}' differ only in case")
        seen[col.lower()] = col


def execute_select(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    udfs: set[str] | None = None,
) -> pa.Table:
    """Run one compiled SELECT on ``con`` and return its result as Arrow (any connection a compiled
    query runs on: a sandbox, a log store's cursor).

    Installs the geo_* Python UDFs the SQL uses (``udfs`` records those already on ``con``);
    ``timeout`` (seconds) interrupts a query that runs too long. Raises KqlError when the SQL is
    not a single SELECT, fails, or is interrupted.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise KqlError(f"generated SQL does not parse: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise KqlError("a query runs exactly one SELECT statement")
    from .functions.geo_udf import register_used_udfs  # geo_* run as Python UDFs (S2, H3)

    register_used_udfs(con, sql, udfs if udfs is not None else set())
    timer = threading.Timer(timeout, con.interrupt) if timeout else None
    if timer is not None:
        timer.start()
    try:
        relation = con.sql(sql, params=params)
        return relation.to_arrow_table() if relation is not None else pa.table({})
    except duckdb.InterruptException as exc:
        raise KqlError(f"query cancelled after {timeout} s") from exc
    except duckdb.Error as exc:
        raise KqlError(f"query failed: {exc}") from exc
    finally:
        if timer is not None:
            timer.cancel()


@runtime_checkable
class QueryEngine(Protocol):
    """Where ``run`` can execute compiled SQL: a :class:`Sandbox`, or a store's view of live tables."""

    @property
    def schemas(self) -> dict[str, dict[str, KustoType]]:
        """Every table a query may read, with its columns' Kusto types."""
        ...

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> pa.Table:
        """Run one SELECT statement; raise KqlError when it fails or times out."""
        ...


class Sandbox:
    """An in-memory DuckDB holding the given tables, locked so that queries can read nothing else.

    ``tables`` maps a table name to its source; ``schemas`` optionally declares a table's Kusto
    schema (declared columns come first, in order; other source columns follow with inferred
    types). Names are case-sensitive in Kusto but not in DuckDB, so two tables (or two columns of
    one table) differing only in case are refused. Raises KqlSemanticError for a bad name, a
    missing declared column or a source that cannot be read.
    """

    def __init__(
        self,
        tables: Mapping[str, TableSource] | None = None,
        *,
        schemas: Mapping[str, Schema] | None = None,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        config: dict[str, Any] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        }
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(":memory:", config=config)
        self._lock = threading.Lock()
        self._schemas: dict[str, dict[str, KustoType]] = {}
        self._con.execute("SET python_enable_replacements = false")
        self._con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ -> TIMESTAMP casts mean UTC
        self._udfs: set[str] = set()  # the geo_* Python UDFs installed so far (see execute)
        try:
            self._con.execute(timespan_text_macro())
            for name, source in (tables or {}).items():
                schema = (schemas or {}).get(name)
                self._load(name, source, normalize_schema(schema) if schema is not None else None)
            self._con.execute("DROP MACRO IF EXISTS __kql_timespan")
            self._lock_down()
        except BaseException:
            self._con.close()
            raise

    # --------------------------------------------------------------------------------- loading

    def _load(self, name: str, source: TableSource, declared: dict[str, KustoType] | None) -> None:
        table = quote_identifier(name)
        if name.lower() in (t.lower() for t in self._schemas):
            raise KqlSemanticError(f"table '{name}' is given twice (DuckDB table names ignore case)")
        _refuse_case_twins(name, _source_columns(source))
        params: list[Any] = []
        arrow_types: dict[str, KustoType] = {}
        if isinstance(source, pa.Table):
            stage = f"__kql_stage_{uuid.uuid4().hex}"  # cannot collide with a table's own name
            self._con.register(stage, source)
            reader = quote_identifier(stage)
            arrow_types = {field.name: from_arrow(field.type) for field in source.schema}
        else:
            path = Path(source)
            if not path.is_file():
                raise KqlSemanticError(f"table '{name}': no such file {str(path)!r}")
            reader = _file_reader(path, declared is not None)
            params = [str(path)]
        try:
            described = self._describe(reader, params)
            if "{columns}" in reader:
                # JSON objects and arrays are read as JSON text, not as STRUCTs: DuckDB would unify
                # every row's keys into one struct and add null members to objects that lacked them.
                wanted = {
                    col: "JSON"
                    if _is_nested(typ) or (declared or {}).get(col) is KustoType.DYNAMIC
                    else ("VARCHAR" if declared and col in declared else typ)
                    for col, typ in described.items()
                }
                spec = ", ".join(f"{_quote_literal(c)}: {_quote_literal(t)}" for c, t in wanted.items())
                reader = reader.format(columns=f", columns = {{{spec}}}")
                described = wanted
            schema = self._plan_columns(name, described, declared or {}, arrow_types)
            select = ", ".join(
                f"{convert_sql(quote_identifier(col), described[col], kusto_type)} AS {quote_identifier(col)}"
                for col, kusto_type in schema.items()
            )
            self._con.execute(f"CREATE TABLE {table} AS SELECT {select} FROM {reader}", params)
        except duckdb.Error as exc:
            raise KqlSemanticError(f"table '{name}' could not be loaded: {exc}") from exc
        finally:
            if isinstance(source, pa.Table):
                self._con.unregister(stage)
        self._schemas[name] = schema

    def _describe(self, reader: str, params: list[Any]) -> dict[str, str]:
        rows = self._con.execute(f"DESCRIBE SELECT * FROM {reader.format(columns='')}", params).fetchall()
        return {row[0]: row[1] for row in rows}

    @staticmethod
    def _plan_columns(
        table: str, described: dict[str, str], declared: dict[str, KustoType], arrow_types: dict[str, KustoType]
    ) -> dict[str, KustoType]:
        missing = [col for col in declared if col not in described]
        if missing:
            raise KqlSemanticError(f"table '{table}': declared column(s) {missing} not found in the source")
        schema = dict(declared)
        for col, duck_type in described.items():
            if col not in schema:
                schema[col] = arrow_types.get(col) or from_duckdb(duck_type)
        seen: dict[str, str] = {}
        for col in schema:
            if col.lower() in seen:
                raise KqlSemanticError(
                    f"table '{table}': columns '{seen[col.lower()]}' and '{col}' differ only in case"
                )
            seen[col.lower()] = col
        return schema

    def _lock_down(self) -> None:
        for statement in (
            "SET enable_external_access = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET allow_community_extensions = false",
            "SET lock_configuration = true",
        ):
            self._con.execute(statement)

    # ------------------------------------------------------------------------------- querying

    @property
    def schemas(self) -> dict[str, dict[str, KustoType]]:
        """Return every loaded table's columns and their Kusto types, in load order."""
        return {name: dict(columns) for name, columns in self._schemas.items()}

    def execute(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> pa.Table:
        """Run one SELECT statement and return its result as an Arrow table.

        ``timeout`` (seconds) interrupts a query that runs too long. Raises KqlError when the SQL
        is not a single SELECT, fails, or is interrupted.
        """
        with self._lock:
            return execute_select(self._con, sql, params, timeout=timeout, udfs=self._udfs)

    def close(self) -> None:
        """Close the DuckDB connection; the sandbox cannot be used afterwards."""
        self._con.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
