"""Every registered function, given arguments of every type (constants and columns), either raises a
KqlError or compiles to SQL that DuckDB runs without error over a table with odd values (nulls,
NaN, negative numbers, empty strings, arrays and bags): no other exception, no runtime failure."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random

import duckdb
import pytest
from sqlglot import exp

from monitor.kql.function_harness import Ctx, typed_constant
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.functions.common import literal_typed
from warden.monitor.kql.functions.geo_udf import register_udfs
from warden.monitor.kql.functions.registry import AGGREGATES, SCALARS
from warden.monitor.kql.typed import Typed
from warden.monitor.kql.types import KustoType as K

_COLUMNS = {
    "s": K.STRING,
    "l": K.LONG,
    "i": K.INT,
    "r": K.REAL,
    "b": K.BOOL,
    "d": K.DATETIME,
    "t": K.TIMESPAN,
    "j": K.DYNAMIC,
    "g": K.GUID,
    "m": K.DECIMAL,
}
_POOL = [Typed(exp.column(name), kusto_type) for name, kusto_type in _COLUMNS.items()] + [
    typed_constant("a"),
    typed_constant(3),
    typed_constant(1.5),
    typed_constant(True),
    typed_constant(dt.datetime(2020, 1, 1)),
    typed_constant(dt.timedelta(hours=1)),
    typed_constant([1, 2]),
    typed_constant({"a": 1}),
]
_ROWS = """
 ('abc 10.0.0.1', CAST(5 AS BIGINT), CAST(-3 AS INTEGER), 2.5::DOUBLE, TRUE, TIMESTAMP '2020-01-02 03:04:05',
  CAST(36000000000 AS BIGINT), CAST('{"a":[1,2],"b":"x"}' AS JSON), uuid(), CAST(1.5 AS DECIMAL(38,18))),
 ('', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('x', CAST(-7 AS BIGINT), CAST(0 AS INTEGER), 'nan'::DOUBLE, FALSE, TIMESTAMP '1969-12-31 23:59:59',
  CAST(-5 AS BIGINT), CAST('[1,"a",null]' AS JSON), uuid(), CAST(-2 AS DECIMAL(38,18))),
 ('x', CAST(0 AS BIGINT), CAST(1 AS INTEGER), 0.0::DOUBLE, FALSE, TIMESTAMP '2020-01-02 03:04:05',
  CAST(0 AS BIGINT), CAST('"str"' AS JSON), uuid(), CAST(0 AS DECIMAL(38,18)))
"""
_SLOW = {"hash", "hash_xxhash64"}  # covered by test_functions_hashing


@pytest.fixture(scope="module")
def table() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    register_udfs(connection)  # the geo_* functions run as Python UDFs, as in the sandbox
    names = ", ".join(_COLUMNS)
    connection.execute(f"CREATE TABLE src AS SELECT * FROM (VALUES {_ROWS}) v({names})")
    return connection


def _calls(functions: dict, seed: int, tries: int):
    chooser = random.Random(seed)
    for name, function in sorted(functions.items()):
        if name in _SLOW:
            continue
        highest = function.max_args if function.max_args is not None else function.min_args + 3
        for count in range(function.min_args, min(highest, function.min_args + 3) + 1):
            for _ in range(tries):
                yield name, function, [chooser.choice(_POOL) for _ in range(count)]


@pytest.mark.parametrize("kind", ["scalar", "aggregate"])
def test_functions_compile_and_run_or_raise_kql_errors(kind: str, table: duckdb.DuckDBPyConnection) -> None:
    functions = SCALARS if kind == "scalar" else AGGREGATES
    failures = []
    for name, function, args in _calls(functions, seed=7, tries=4):
        try:
            result = function.impl(Ctx(), args)
        except KqlError:
            continue
        text = result.sql.sql(dialect="duckdb")
        try:
            table.execute(f"SELECT {text} FROM src").fetchall()
        except duckdb.Error as error:
            failures.append((name, [a.type.value for a in args], str(error).splitlines()[0]))
    assert not failures, failures[:10]


def test_clickhouse_compiles_or_refuses(table: duckdb.DuckDBPyConnection) -> None:
    for functions in (SCALARS, AGGREGATES):
        for _name, function, args in _calls(functions, seed=11, tries=3):
            try:
                result = function.impl(Ctx(dialect="clickhouse"), args)
            except KqlError:
                continue
            assert result.sql.sql(dialect="clickhouse")


_CLICKHOUSE_TABLE = """CREATE TABLE src (s String, l Nullable(Int64), i Nullable(Int32), r Nullable(Float64),
 b Nullable(Bool), d Nullable(DateTime64(6, 'UTC')), t Nullable(Int64), j Nullable(String), g Nullable(UUID),
 m Nullable(Decimal(38, 18))) ENGINE = Memory"""
_CLICKHOUSE_ROWS = """INSERT INTO src VALUES
 ('abc 10.0.0.1', 5, -3, 2.5, true, '2020-01-02 03:04:05', 36000000000, '{"a":[1,2]}', generateUUIDv4(), 1.5),
 ('', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('x', -7, 0, nan, false, '1969-12-31 23:59:59', -5, '[1,"a",null]', generateUUIDv4(), -2)"""


@pytest.mark.skipif(importlib.util.find_spec("chdb") is None, reason="chdb is not installed")
def test_clickhouse_translations_run_on_chdb() -> None:
    from chdb import session

    clickhouse = session.Session()
    clickhouse.query("CREATE DATABASE IF NOT EXISTS kql_functions ENGINE = Atomic")
    clickhouse.query("USE kql_functions")
    clickhouse.query("DROP TABLE IF EXISTS src")
    clickhouse.query(_CLICKHOUSE_TABLE)
    clickhouse.query(_CLICKHOUSE_ROWS)
    # Constants as the generator writes them for ClickHouse (dynamic is JSON text in a String).
    pool = [a for a in _POOL if not a.is_constant] + [
        literal_typed(v, t, "clickhouse")
        for v, t in (("a", K.STRING), (3, K.LONG), (1.5, K.REAL), (True, K.BOOL), ([1, 2], K.DYNAMIC))
    ]
    failures = []
    for functions in (SCALARS, AGGREGATES):
        for name, function, _args in _calls(functions, seed=5, tries=4):
            chooser = random.Random(f"{name}/{len(_args)}/{len(failures)}")
            args = [chooser.choice(pool) for _ in _args]
            try:
                result = function.impl(Ctx(dialect="clickhouse"), args)
            except KqlError:
                continue
            text = result.sql.sql(dialect="clickhouse")
            try:
                clickhouse.query(f"SELECT {text} FROM src", "JSONCompact")
            except Exception as error:
                failures.append((name, [a.type.value for a in args], str(error).splitlines()[0][:200]))
    clickhouse.close()
    assert not failures, failures[:10]
