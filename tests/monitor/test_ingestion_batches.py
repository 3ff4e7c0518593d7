"""Typing, validating and transforming an ingestion batch (warden.monitor.ingestion.batches)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warden.kernel.errors import WardenError
from warden.monitor.ingestion.batches import (
    BadRecord,
    TransformError,
    _connection,
    _convert_common,
    _process,
    billed_sizes,
    process_batch,
    records_to_arrow,
)
from warden.monitor.ingestion.logs_ingestion import MAX_INFLATED_BYTES, _inflate
from warden.monitor.kql.types import KustoType
from warden.monitor.kql.types import KustoType as K

COLUMNS = {"Time": K.DATETIME, "Host": K.STRING, "Level": K.INT, "Ok": K.BOOL, "Props": K.DYNAMIC, "Id": K.GUID}


def _run(records, transform="source", columns=COLUMNS):  # type: ignore[no-untyped-def]
    table = process_batch(records_to_arrow(records, columns), columns, transform, records)
    return table.to_pylist()


def test_values_convert_to_their_declared_types() -> None:
    records = [
        {"Time": "2026-11-28T10:00:00Z", "Host": "a", "Level": 3, "Ok": True, "Props": {"k": [1]}, "Id": "0" * 32},
        {"Time": "2026-11-28 11:00:00+01:00", "Host": 5, "Level": "4", "Ok": "false", "Props": "text", "Extra": 1},
    ]
    rows = _run(records)
    assert rows[0]["Time"] == dt.datetime(2026, 11, 28, 10, 0)
    assert rows[1]["Time"] == dt.datetime(2026, 11, 28, 10, 0)  # offsets become UTC
    assert [r["Host"] for r in rows] == ["a", "5"]
    assert [r["Level"] for r in rows] == [3, 4]
    assert [r["Ok"] for r in rows] == [True, False]
    assert json.loads(rows[0]["Props"]) == {"k": [1]} and json.loads(rows[1]["Props"]) == "text"
    assert str(rows[0]["Id"]) == "00000000-0000-0000-0000-000000000000" and rows[1]["Id"] is None
    assert "Extra" not in rows[1]  # undeclared properties are dropped


def test_the_first_bad_value_is_named_with_its_record_and_field() -> None:
    records = [{"Level": 1}, {"Level": 2, "Time": "not a time"}, {"Level": "x"}]
    with pytest.raises(BadRecord) as raised:
        _run(records)
    assert (raised.value.index, raised.value.field) == (1, "Time")
    assert "Record 1" in str(raised.value) and "not a time" in str(raised.value)
    with pytest.raises(BadRecord) as raised:
        _run([{"Level": 2**40}])
    assert raised.value.field == "Level"


def test_transformation_and_billed_size() -> None:
    records = [{"Time": "2026-11-28T10:00:00Z", "Host": "web", "Level": i} for i in range(5)]
    rows = _run(records, "source | where Level % 2 == 0 | extend TimeGenerated = Time | project TimeGenerated, Host")
    assert [r["Host"] for r in rows] == ["web", "web", "web"]
    assert set(rows[0]) == {"TimeGenerated", "Host", "__billed"}
    # _BilledSize estimates each record's JSON size: exact for strings, typical widths otherwise.
    sized = _run(
        [{"Time": "2026-11-28T10:00:00Z", "Host": host, "Level": 1} for host in ("a", "a" * 41)],
        "source | project TimeGenerated = Time, Host",
    )
    assert sized[1]["__billed"] - sized[0]["__billed"] == 40
    actual = len(json.dumps({"TimeGenerated": "2026-11-28T10:00:00.0000000Z", "Host": "a"}, separators=(",", ":")))
    assert abs(sized[0]["__billed"] - actual) <= 0.2 * actual
    with pytest.raises(TransformError):
        _run(records, "source | extend x = toint(Host) / 0 | where NoSuchColumn > 1")


# --- the Arrow-only path for common batches must agree with the SQL path exactly -------------------

_COMMON = {
    "T": KustoType.DATETIME,
    "S": KustoType.STRING,
    "I": KustoType.INT,
    "L": KustoType.LONG,
    "R": KustoType.REAL,
    "B": KustoType.BOOL,
}
_times = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
)
_values = {
    "T": st.one_of(st.none(), _times, st.sampled_from(["2026-11-28T10:00:00+05:30", "2026-11-28 10:00:00Z", "x", ""])),
    "S": st.one_of(st.none(), st.text(max_size=5)),
    "I": st.one_of(st.none(), st.integers(-(2**33), 2**33)),
    "L": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
    "R": st.one_of(st.none(), st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False)),
    "B": st.one_of(st.none(), st.booleans()),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional=_values), min_size=1, max_size=6))
def test_the_arrow_path_agrees_with_the_sql_path(records: list[dict]) -> None:
    raw = records_to_arrow(records, _COMMON)
    fast = _convert_common(raw, _COMMON)
    try:
        with _connection() as con:
            slow = _process(con, raw, _COMMON, "source", records).drop_columns(["__billed"])
    except BadRecord:
        assert fast is None  # a value the SQL path refuses never passes the Arrow path
        return
    if fast is not None:
        assert fast.schema == slow.schema
        assert fast.to_pylist() == slow.to_pylist()


def test_common_batches_skip_sql_and_odd_ones_do_not() -> None:
    common = [{"T": "2026-11-28T10:00:00Z", "S": "a", "I": 1, "L": 2, "R": 0.5, "B": True}]
    assert _convert_common(records_to_arrow(common, _COMMON), _COMMON) is not None
    for odd in ({"T": "28 Nov 26 10:00 GMT"}, {"I": "12"}, {"I": 2.5}, {"S": 5}, {"B": "true"}):
        assert _convert_common(records_to_arrow([{**common[0], **odd}], _COMMON), _COMMON) is None


# --------------------------------------------------------------- the fast paths equal the reference ones


def _billed_sizes_reference(table: pa.Table) -> list[float]:
    """The per-column float sums billed_sizes computed before it summed integers (its definition)."""
    total = [2.0] * table.num_rows
    for name, column in zip(table.column_names, table.columns, strict=True):
        for i, value in enumerate(column.to_pylist()):
            if pa.types.is_string(column.type):
                total[i] += float(len((value or "").encode()) + len(name) + 6)
            else:
                width = 10 if pa.types.is_integer(column.type) else 18 if pa.types.is_floating(column.type) else 30
                width = width if not pa.types.is_boolean(column.type) else 8
                total[i] += float(len(name) + 4 + width)
    return total


_COLUMN_KINDS = {
    "string": (st.one_of(st.none(), st.text(max_size=40)), pa.string()),
    "long": (st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), pa.int64()),
    "int": (st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), pa.int32()),
    "real": (st.one_of(st.none(), st.floats(allow_nan=False)), pa.float64()),
    "bool": (st.one_of(st.none(), st.booleans()), pa.bool_()),
    "datetime": (st.one_of(st.none(), st.datetimes()), pa.timestamp("us")),
}


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 20))
    kinds = draw(st.lists(st.sampled_from(sorted(_COLUMN_KINDS)), max_size=6))
    columns = {}
    for index, kind in enumerate(kinds):
        values, arrow_type = _COLUMN_KINDS[kind]
        name = draw(st.text("abcXYZ_é", min_size=1, max_size=8)) + str(index)
        columns[name] = pa.array(draw(st.lists(values, min_size=rows, max_size=rows)), type=arrow_type)
    if not columns:
        return pa.table({"__rows": pa.nulls(rows, type=pa.int8())})
    return pa.table(columns)


@settings(max_examples=200, deadline=None)
@given(_tables())
def test_billed_sizes_equal_the_per_column_float_sums(table: pa.Table) -> None:
    sizes = billed_sizes(table)
    assert sizes.type == pa.float64()
    assert sizes.to_pylist() == _billed_sizes_reference(table)


def _inflate_reference(raw: bytes) -> bytes | tuple[int, str]:
    """zlib's answer (the bytes, or the error's status and code), as the API gave it before ISA-L."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(raw, MAX_INFLATED_BYTES)
        if inflater.unconsumed_tail:
            return (413, "ContentLengthLimitExceeded")
        return out
    except (zlib.error, gzip.BadGzipFile):
        return (400, "InvalidContentEncoding")


def _inflate_answer(raw: bytes) -> bytes | tuple[int, str]:
    try:
        return _inflate(raw)
    except WardenError as error:
        return (error.status, error.code)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=3000),
    st.sampled_from(["whole", "truncated", "flipped", "trailing", "raw"]),
    st.integers(0, 10_000),
)
def test_inflate_answers_as_zlib_does(payload: bytes, damage: str, where: int) -> None:
    body = bytearray(gzip.compress(payload))
    if damage == "truncated":
        del body[where % len(body) :]
    elif damage == "flipped":
        body[where % len(body)] ^= 1 + where % 255
    elif damage == "trailing":
        body += b"junk"
    elif damage == "raw":
        body = bytearray(payload)
    assert _inflate_answer(bytes(body)) == _inflate_reference(bytes(body))


def test_inflate_refuses_a_decompression_bomb_as_zlib_does() -> None:
    bomb = gzip.compress(b"\0" * (MAX_INFLATED_BYTES + 1))
    assert _inflate_answer(bomb) == _inflate_reference(bomb) == (413, "ContentLengthLimitExceeded")
    exact = gzip.compress(b"[" + b" " * (MAX_INFLATED_BYTES - 2) + b"]")
    assert _inflate_answer(exact) == _inflate_reference(exact)
    assert len(_inflate(exact)) == MAX_INFLATED_BYTES
