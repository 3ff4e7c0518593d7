"""The Kusto type system: names, aliases, storage types and inference."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from warden.monitor.kql.errors import KqlSemanticError
from warden.monitor.kql.types import (
    CLICKHOUSE_TYPES,
    DUCKDB_TYPES,
    KustoType,
    from_arrow,
    from_dotnet,
    from_duckdb,
    lookup_type,
    parse_type,
    to_sqlglot,
)


def test_spellings_are_azures() -> None:
    assert [t.value for t in KustoType] == [
        "bool",
        "datetime",
        "dynamic",
        "guid",
        "int",
        "long",
        "real",
        "string",
        "timespan",
        "decimal",
    ]
    assert KustoType.LONG == "long"  # a StrEnum: JSON-serialises as the plain name


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("boolean", KustoType.BOOL),
        ("date", KustoType.DATETIME),
        ("time", KustoType.TIMESPAN),
        ("double", KustoType.REAL),
        ("float", KustoType.REAL),
        ("int64", KustoType.LONG),
        ("int32", KustoType.INT),
        ("uuid", KustoType.GUID),
        ("uniqueid", KustoType.GUID),
        ("decimal", KustoType.DECIMAL),
        ("dynamic", KustoType.DYNAMIC),
    ],
)
def test_aliases(alias: str, expected: KustoType) -> None:
    assert lookup_type(alias) is expected
    assert parse_type(alias) is expected


@pytest.mark.parametrize("name", ["object", "Long", "varchar", "", "datetime2"])
def test_unknown_type_names(name: str) -> None:
    assert lookup_type(name) is None
    with pytest.raises(KqlSemanticError, match="unknown scalar type"):
        parse_type(name)


def test_dotnet_names() -> None:
    assert from_dotnet("Int64") is KustoType.LONG
    assert from_dotnet("System.Int32") is KustoType.INT
    assert from_dotnet("SByte") is KustoType.BOOL
    assert from_dotnet("Object") is KustoType.DYNAMIC
    assert from_dotnet("SqlDecimal") is KustoType.DECIMAL
    assert from_dotnet("TimeSpan") is KustoType.TIMESPAN
    assert from_dotnet("Nope") is None


def test_every_type_has_storage_on_both_engines() -> None:
    assert set(DUCKDB_TYPES) == set(KustoType) == set(CLICKHOUSE_TYPES)
    assert KustoType.TIMESPAN.duckdb == "BIGINT"  # ticks
    assert KustoType.DATETIME.duckdb == "TIMESTAMP"
    assert KustoType.STRING.clickhouse == "String"  # Kusto strings are never null


@pytest.mark.parametrize("kusto_type", list(KustoType))
def test_duckdb_storage_types_are_valid_and_round_trip_through_describe(kusto_type: KustoType) -> None:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (c {kusto_type.duckdb})")
    described = con.execute("DESCRIBE t").fetchall()[0][1]
    # What DESCRIBE prints for the storage type infers back to the same Kusto type, except
    # timespan, which is stored as a plain BIGINT and so reads back as long.
    expected = KustoType.LONG if kusto_type is KustoType.TIMESPAN else kusto_type
    assert from_duckdb(described) is expected


@pytest.mark.parametrize("kusto_type", list(KustoType))
def test_sqlglot_types_render(kusto_type: KustoType) -> None:
    node = to_sqlglot(kusto_type)
    assert isinstance(node, exp.DataType)
    assert node.sql("duckdb")
    assert to_sqlglot(kusto_type, "clickhouse").sql("clickhouse")


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.bool_(), KustoType.BOOL),
        (pa.int8(), KustoType.INT),
        (pa.int32(), KustoType.INT),
        (pa.uint16(), KustoType.INT),
        (pa.uint32(), KustoType.LONG),
        (pa.int64(), KustoType.LONG),
        (pa.float32(), KustoType.REAL),
        (pa.float64(), KustoType.REAL),
        (pa.decimal128(20, 4), KustoType.DECIMAL),
        (pa.string(), KustoType.STRING),
        (pa.large_string(), KustoType.STRING),
        (pa.timestamp("us"), KustoType.DATETIME),
        (pa.timestamp("ns", tz="UTC"), KustoType.DATETIME),
        (pa.date32(), KustoType.DATETIME),
        (pa.duration("us"), KustoType.TIMESPAN),
        (pa.list_(pa.int64()), KustoType.DYNAMIC),
        (pa.struct([("a", pa.int64())]), KustoType.DYNAMIC),
        (pa.map_(pa.string(), pa.int64()), KustoType.DYNAMIC),
        (pa.dictionary(pa.int32(), pa.string()), KustoType.STRING),
        (pa.binary(), KustoType.STRING),
        (pa.null(), KustoType.STRING),
    ],
)
def test_from_arrow(arrow_type: pa.DataType, expected: KustoType) -> None:
    assert from_arrow(arrow_type) is expected


def test_from_arrow_uuid_extension() -> None:
    uuid_type = getattr(pa, "uuid", None)
    if uuid_type is None:
        pytest.skip("pyarrow without the canonical uuid extension type")
    assert from_arrow(uuid_type()) is KustoType.GUID


@pytest.mark.parametrize(
    ("duck_type", "expected"),
    [
        ("BOOLEAN", KustoType.BOOL),
        ("INTEGER", KustoType.INT),
        ("BIGINT", KustoType.LONG),
        ("DOUBLE", KustoType.REAL),
        ("DECIMAL(18,3)", KustoType.DECIMAL),
        ("VARCHAR", KustoType.STRING),
        ("TIMESTAMP", KustoType.DATETIME),
        ("TIMESTAMP WITH TIME ZONE", KustoType.DATETIME),
        ("TIMESTAMPTZ_NS", KustoType.DATETIME),
        ("TIMESTAMP_MS", KustoType.DATETIME),
        ("TIME", KustoType.TIMESPAN),
        ("DATE", KustoType.DATETIME),
        ("INTERVAL", KustoType.TIMESPAN),
        ("UUID", KustoType.GUID),
        ("JSON", KustoType.DYNAMIC),
        ("BIGINT[]", KustoType.DYNAMIC),
        ("STRUCT(a BIGINT, b VARCHAR)", KustoType.DYNAMIC),
        ("MAP(VARCHAR, BIGINT)", KustoType.DYNAMIC),
        ("BLOB", KustoType.STRING),
    ],
)
def test_from_duckdb(duck_type: str, expected: KustoType) -> None:
    assert from_duckdb(duck_type) is expected


def test_inference_from_csv_and_json_columns_via_duckdb(tmp_path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("n,x,s,ts,b\n1,1.5,a,2014-11-08 15:55:55,true\n2,2.5,b,2014-11-09 00:00:00,false\n")
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"n": 1, "o": {"a": 1}, "l": [1, 2]}\n')
    con = duckdb.connect()
    csv_types = {
        name: from_duckdb(t) for name, t, *_ in con.execute("DESCRIBE FROM read_csv(?)", [str(csv)]).fetchall()
    }
    assert csv_types == {
        "n": KustoType.LONG,
        "x": KustoType.REAL,
        "s": KustoType.STRING,
        "ts": KustoType.DATETIME,
        "b": KustoType.BOOL,
    }
    rows = con.execute("DESCRIBE FROM read_json(?)", [str(jsonl)]).fetchall()
    assert {name: from_duckdb(t) for name, t, *_ in rows} == {
        "n": KustoType.LONG,
        "o": KustoType.DYNAMIC,
        "l": KustoType.DYNAMIC,
    }


def test_arrow_values_of_each_type_infer_as_expected() -> None:
    table = pa.table(
        {
            "b": [True],
            "ts": pa.array([dt.datetime(2020, 1, 1)], pa.timestamp("us")),
            "d": pa.array([decimal.Decimal("1.5")], pa.decimal128(10, 2)),
        }
    )
    assert [from_arrow(f.type) for f in table.schema] == [KustoType.BOOL, KustoType.DATETIME, KustoType.DECIMAL]
