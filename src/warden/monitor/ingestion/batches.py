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
4. the result gets ``_BilledSize`` (each output record's JSON size), ready for the log store.
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

from warden.monitor.kql.compiler import compile_query
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.runtime import convert_sql, quote_identifier, timespan_text_macro
from warden.monitor.kql.types import KustoType

__all__ = ["BadRecord", "TransformError", "process_batch", "records_to_arrow"]

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

    Uniform values keep their JSON type (the fast path); mixed ones, and every value of a
    dynamic column, travel as text (JSON text for objects, arrays and non-strings).
    """
    arrays: dict[str, pa.Array] = {}
    for name, kusto_type in columns.items():
        values = [record.get(name) for record in records]
        if kusto_type is KustoType.DYNAMIC:
            arrays[name] = pa.array(
                [None if v is None else json.dumps(v, separators=(",", ":")) for v in values], type=pa.string()
            )
            continue
        try:
            array = pa.array(values)
            if not (pa.types.is_null(array.type) or pa.types.is_nested(array.type)):
                arrays[name] = array
                continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass  # mixed types: as text below
        arrays[name] = pa.array(
            [None if v is None else v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values],
            type=pa.string(),
        )
    if not arrays:
        return pa.table({"__rows": pa.nulls(len(records), type=pa.int8())})
    return pa.table(arrays)


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
    with _connection() as con:
        return _process(con, raw, columns, transform, records)


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
        _check_conversions(con, stage, columns, described, converted, records)
        select = ", ".join(f"{sql} AS {quote_identifier(name)}" for name, sql in converted.items())
        # A view, not a table: the batch is read once, by the transformation itself.
        con.execute(f"CREATE OR REPLACE TEMP VIEW source AS SELECT {select} FROM {quote_identifier(stage)}")
        try:
            schema = tuple((name, str(kusto_type)) for name, kusto_type in columns.items())
            body = "SELECT * FROM source" if transform.strip() == "source" else _compiled(transform, schema)
            return con.sql(
                f"SELECT *, CAST(strlen(CAST(to_json(__t) AS VARCHAR)) AS DOUBLE) AS __billed FROM ({body}) AS __t"
            ).to_arrow_table()
        except (KqlError, duckdb.Error) as error:
            raise TransformError(f"The transformation failed: {error}") from None
        finally:
            con.execute("DROP VIEW IF EXISTS source")
    finally:
        con.unregister(stage)


def _check_conversions(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    columns: Mapping[str, KustoType],
    described: dict[str, str],
    converted: dict[str, str],
    records: list[dict[str, Any]] | None,
) -> None:
    # Strings and dynamics accept anything; every other value must convert to its type.
    checked = [
        name
        for name, kusto_type in columns.items()
        if name in converted and kusto_type not in (KustoType.STRING, KustoType.DYNAMIC)
    ]
    if not checked:
        return
    probes = ", ".join(
        f"min(CASE WHEN {quote_identifier(name)} IS NOT NULL AND ({converted[name]}) IS NULL THEN __i END)"
        for name in checked
    )
    first_bad = con.execute(
        f"SELECT {probes} FROM (SELECT *, row_number() OVER () - 1 AS __i FROM {quote_identifier(stage)})"
    ).fetchall()[0]  # fetched to the end: DuckDB refuses other work on a connection with a pending result
    failures = [(index, name) for index, name in zip(first_bad, checked, strict=True) if index is not None]
    if failures:
        index, name = min(failures)
        value = records[index].get(name) if records is not None else None
        raise BadRecord(int(index), name, columns[name], value)
