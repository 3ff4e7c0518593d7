"""Turning a batch of incoming records into rows for a table: types, validation, transformation.

Every step runs as SQL in a small in-memory DuckDB connection taken from a pool (opening one costs
more than processing a 1 MiB batch, and request threads come and go), locked down like the KQL
sandbox: no file, network or extension access, no replacement scans, configuration locked. Per batch:

1. the records' values become Arrow columns as they came (numbers, booleans, text; objects and
   arrays as JSON text), one column per declared stream column;
2. one query converts them to the declared Kusto types with the KQL runtime's load-time rules and
   finds, per column, the first record whose value did not convert: that record and field are
   reported and nothing is written;
3. the DCR's ``transformKql``, compiled once per (transformation, stream schema), runs over the
   converted rows as the table ``source``;
4. the result gets ``_BilledSize`` (each output record's JSON size, estimated), ready for the log store.
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from warden.monitor.kql.compiler import compile_query
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.runtime import convert_sql, quote_identifier, timespan_text_macro
from warden.monitor.kql.types import KustoType

__all__ = ["BadRecord", "TransformError", "billed_sizes", "process_batch", "records_to_arrow"]

_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "threads": 1,
}
_pool: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()


class BadRecord(ValueError):
    """A record's value cannot be its column's type."""

    def __init__(self, index: int, field: str, kusto_type: KustoType, value: Any) -> None:
        shown = json.dumps(value, default=str)[:100]
        super().__init__(f"Record {index}: the value of '{field}' ({shown}) is not a valid {kusto_type}.")
        self.index, self.field = index, field


class TransformError(ValueError):
    """The transformation failed on this batch."""


@contextlib.contextmanager
def _connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A pooled connection for one batch (used by one thread at a time, returned afterwards)."""
    try:
        con = _pool.get_nowait()
    except queue.Empty:
        con = duckdb.connect(":memory:", config=_CONFIG)
        con.execute("SET python_enable_replacements = false")
        con.execute("SET TimeZone = 'UTC'")
        con.execute(timespan_text_macro())
        con.execute("SET lock_configuration = true")
    try:
        yield con
    except duckdb.Error:
        con.close()  # a connection left in an unknown state is not reused
        raise
    else:
        _pool.put(con)


def records_to_arrow(records: list[dict[str, Any]], columns: Mapping[str, KustoType]) -> pa.Table:
    """The records' values for the declared columns, as Arrow, unconverted.

    Uniform values keep their JSON type (Arrow infers all columns in one native pass, the fast
    path); mixed ones, and every value of a dynamic column, travel as text (JSON text for objects,
    arrays and non-strings).
    """
    try:
        inferred = pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        inferred = None  # some column mixes types: build each column on its own
    arrays: dict[str, pa.Array] = {}
    for name, kusto_type in columns.items():
        if inferred is not None and name in inferred.column_names and kusto_type is not KustoType.DYNAMIC:
            column = inferred.column(name)
            if not (pa.types.is_null(column.type) or pa.types.is_nested(column.type)):
                arrays[name] = column
                continue
        arrays[name] = _column(records, name, kusto_type)
    if not arrays:
        return pa.table({"__rows": pa.nulls(len(records), type=pa.int8())})
    return pa.table(arrays)


def _column(records: list[dict[str, Any]], name: str, kusto_type: KustoType) -> pa.Array:
    values = [record.get(name) for record in records]
    if kusto_type is KustoType.DYNAMIC:
        return pa.array([None if v is None else json.dumps(v, separators=(",", ":")) for v in values], type=pa.string())
    try:
        array = pa.array(values)
        if not (pa.types.is_null(array.type) or pa.types.is_nested(array.type)):
            return array
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass  # mixed types: as text below
    return pa.array(
        [None if v is None else v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values],
        type=pa.string(),
    )


@functools.lru_cache(maxsize=256)
def _compiled(transform: str, schema: tuple[tuple[str, str], ...]) -> str:
    sql, _, _ = compile_query(transform, {"source": dict(schema)})
    return sql


def process_batch(
    raw: pa.Table, columns: Mapping[str, KustoType], transform: str, records: list[dict[str, Any]] | None = None
) -> pa.Table:
    """Convert ``raw`` to the declared types, run ``transform`` over it, add ``_BilledSize``.

    Raises BadRecord (naming the first bad record and field; ``records`` supplies the value shown)
    or TransformError. Returns the transformed rows as Arrow in storage types.
    """
    if transform.strip() == "source":
        converted = _convert_common(raw, columns)
        if converted is not None:
            return converted.append_column("__billed", billed_sizes(converted))
    with _connection() as con:
        return _process(con, raw, columns, transform, records)


# Kusto types whose common JSON forms Arrow converts exactly as the SQL path would (the storage types
# DuckDB hands back): anything else, or any value Arrow will not take, goes the SQL way.
_ARROW_TYPES = {
    KustoType.STRING: pa.string(),
    KustoType.INT: pa.int32(),
    KustoType.LONG: pa.int64(),
    KustoType.REAL: pa.float64(),
    KustoType.BOOL: pa.bool_(),
    KustoType.DATETIME: pa.timestamp("us"),
}


def _convert_common(raw: pa.Table, columns: Mapping[str, KustoType]) -> pa.Table | None:
    """The batch converted without SQL when every column is a string, a whole number for an int or
    long, a number for a real, a boolean, or an ISO 8601 time with an offset for a datetime (what
    agents and SDKs send); ``None`` when any column or value needs the SQL path's wider rules (which
    also finds and names a bad record). Same types and values as the SQL path."""
    arrays: dict[str, pa.Array] = {}
    for name, kusto_type in columns.items():
        if name not in raw.column_names or kusto_type not in _ARROW_TYPES:
            return None
        column = raw.column(name)
        given = column.type
        try:
            if kusto_type is KustoType.STRING:
                if not pa.types.is_string(given):
                    return None
                arrays[name] = pc.fill_null(column, "")
            elif kusto_type is KustoType.DATETIME:
                if not pa.types.is_string(given):
                    return None
                arrays[name] = pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.timestamp("us"))
            elif kusto_type is KustoType.BOOL:
                if not pa.types.is_boolean(given):
                    return None
                arrays[name] = column
            elif kusto_type is KustoType.REAL:
                if not (pa.types.is_integer(given) or pa.types.is_floating(given)):
                    return None
                arrays[name] = pc.cast(column, pa.float64())
            else:  # int, long: whole numbers only (the SQL path rounds 2.5 to an int; Arrow would refuse)
                if not pa.types.is_integer(given):
                    return None
                arrays[name] = pc.cast(column, _ARROW_TYPES[kusto_type])  # safe: overflow raises
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None
    return pa.table(arrays)


def _process(
    con: duckdb.DuckDBPyConnection,
    raw: pa.Table,
    columns: Mapping[str, KustoType],
    transform: str,
    records: list[dict[str, Any]] | None,
) -> pa.Table:
    stage = f"__raw_{uuid.uuid4().hex}"
    con.register(stage, raw)
    try:
        described = {row[0]: row[1] for row in con.execute(f"DESCRIBE {quote_identifier(stage)}").fetchall()}
        converted = {
            name: convert_sql(quote_identifier(name), described[name], kusto_type)
            for name, kusto_type in columns.items()
            if name in described
        }
        # Strings and dynamics accept anything; every other value must convert to its type. One
        # query converts and says which values were given, so a failed conversion shows as
        # "given but null" without casting twice.
        checked = [n for n, t in columns.items() if n in converted and t not in (KustoType.STRING, KustoType.DYNAMIC)]
        items = [f"{sql} AS {quote_identifier(name)}" for name, sql in converted.items()]
        items += [f"{quote_identifier(n)} IS NOT NULL AS {quote_identifier('__given_' + n)}" for n in checked]
        table = con.sql(f"SELECT {', '.join(items)} FROM {quote_identifier(stage)}").to_arrow_table()
    finally:
        con.unregister(stage)
    _check_conversions(table, checked, columns, records)
    table = table.select(list(converted))
    if transform.strip() != "source":
        table = _transform(con, table, columns, transform)
    return table.append_column("__billed", billed_sizes(table))


def _transform(
    con: duckdb.DuckDBPyConnection, table: pa.Table, columns: Mapping[str, KustoType], transform: str
) -> pa.Table:
    stage = f"__conv_{uuid.uuid4().hex}"
    con.register(stage, table)
    try:
        # Arrow carries dynamics and guids as text: give the transformation its storage types back.
        restore = {KustoType.DYNAMIC: "JSON", KustoType.GUID: "UUID"}
        select = ", ".join(
            f"CAST({quote_identifier(n)} AS {restore[t]}) AS {quote_identifier(n)}"
            if t in restore
            else quote_identifier(n)
            for n, t in columns.items()
            if n in table.column_names
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW source AS SELECT {select} FROM {quote_identifier(stage)}")
        try:
            schema = tuple((name, str(kusto_type)) for name, kusto_type in columns.items())
            return con.sql(_compiled(transform, schema)).to_arrow_table()
        except (KqlError, duckdb.Error) as error:
            raise TransformError(f"The transformation failed: {error}") from None
        finally:
            con.execute("DROP VIEW IF EXISTS source")
    finally:
        con.unregister(stage)


def _check_conversions(
    table: pa.Table, checked: list[str], columns: Mapping[str, KustoType], records: list[dict[str, Any]] | None
) -> None:
    failures = []
    for name in checked:
        bad = pc.and_(table.column(f"__given_{name}"), pc.is_null(table.column(name)))
        if pc.any(bad).as_py():
            failures.append((pc.index(bad, True).as_py(), name))
    if failures:
        index, name = min(failures)
        value = records[index].get(name) if records is not None else None
        raise BadRecord(int(index), name, columns[name], value)


# JSON text widths of values that are not strings (a datetime is an ISO string with quotes).
_FIXED_WIDTHS = ((pa.types.is_integer, 10), (pa.types.is_floating, 18), (pa.types.is_timestamp, 30))


def billed_sizes(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Each record's size as JSON text, Azure's measure of billed bytes, estimated column by column
    from Arrow (exact for strings, typical widths for numbers and times) rather than by printing
    every record, which cost more than the rest of the batch. Returns float64 per row."""
    # Every term is a whole number far below 2**53, so summing the fixed widths first and the string
    # lengths as integers gives exactly the per-column float sums, without a Python list per column.
    fixed = 2.0
    lengths: Any = None
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            fixed += len(name) + 6
            length = pc.cast(pc.fill_null(pc.binary_length(column), 0), pa.int64())
            lengths = length if lengths is None else pc.add(lengths, length)
        else:
            fixed += len(name) + 4 + next((w for test, w in _FIXED_WIDTHS if test(column.type)), 8)
    if lengths is None:
        return pa.repeat(pa.scalar(fixed, type=pa.float64()), table.num_rows)
    return pc.add(pc.cast(lengths, pa.float64()), fixed)
