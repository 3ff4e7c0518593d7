"""The sandbox: loading each kind of source, quoting every name, and the lockdown."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warden.monitor.kql.errors import KqlError, KqlSemanticError
from warden.monitor.kql.runtime import KqlResult, Sandbox, normalize_schema, quote_identifier, to_result
from warden.monitor.kql.types import KustoType

CSV_TEXT = (
    "n,s,ts,span,g,dyn,b\n"
    '1,hello,2014-11-08 15:55:55,1.02:03:04.5,10E99626-BC2B-4C75-BB3E-FE606DE25700,"{""a"": 1}",true\n'
    '2,,"Sat, 8 Nov 14 15:05:02 GMT",30m,not-a-guid,"[1,2]",0\n'
)
CSV_SCHEMA = {
    "n": "long",
    "s": "string",
    "ts": "datetime",
    "span": "timespan",
    "g": "guid",
    "dyn": "dynamic",
    "b": "bool",
}


def _rows(sandbox: Sandbox, table: str) -> list[list[object]]:
    result = to_result(
        sandbox.execute(f"SELECT * FROM {quote_identifier(table)}"), list(sandbox.schemas[table].values())
    )
    return result.rows


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(CSV_TEXT)
    return path


# ---------------------------------------------------------------------------------------- loading


def test_csv_with_declared_schema_converts_by_kusto_rules(csv_file: Path) -> None:
    with Sandbox({"Events": csv_file}, schemas={"Events": CSV_SCHEMA}) as sandbox:
        assert sandbox.schemas["Events"] == normalize_schema(CSV_SCHEMA)
        assert _rows(sandbox, "Events") == [
            [
                1,
                "hello",
                "2014-11-08T15:55:55Z",
                "1.02:03:04.5000000",
                "10e99626-bc2b-4c75-bb3e-fe606de25700",
                '{"a":1}',
                True,
            ],
            # an empty string cell is '' (not null), RFC 822 text is a datetime, a bad GUID is null
            [2, "", "2014-11-08T15:05:02Z", "00:30:00", None, "[1,2]", False],
        ]


def test_storage_types_are_the_documented_ones(csv_file: Path) -> None:
    with Sandbox({"Events": csv_file}, schemas={"Events": CSV_SCHEMA}) as sandbox:
        rows = sandbox.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'Events'"
        ).to_pylist()
    described = {row["column_name"]: row["data_type"] for row in rows}
    assert described == {
        "n": "BIGINT",
        "s": "VARCHAR",
        "ts": "TIMESTAMP",
        "span": "BIGINT",
        "g": "UUID",
        "dyn": "JSON",
        "b": "BOOLEAN",
    }


def test_csv_without_schema_is_inferred(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("n,x,s,ts\n1,1.5,a,2014-11-08 15:55:55\n2,2.5,,2014-11-09 00:00:00\n")
    with Sandbox({"T": path}) as sandbox:
        assert sandbox.schemas["T"] == {
            "n": KustoType.LONG,
            "x": KustoType.REAL,
            "s": KustoType.STRING,
            "ts": KustoType.DATETIME,
        }
        assert _rows(sandbox, "T") == [[1, 1.5, "a", "2014-11-08T15:55:55Z"], [2, 2.5, "", "2014-11-09T00:00:00Z"]]


def test_declared_columns_come_first_and_others_are_inferred(csv_file: Path) -> None:
    with Sandbox({"E": csv_file}, schemas={"E": [("b", "boolean"), ("n", "int")]}) as sandbox:
        schema = sandbox.schemas["E"]
    assert list(schema)[:2] == ["b", "n"]
    assert schema["n"] is KustoType.INT
    assert schema["s"] is KustoType.STRING  # inferred from text


def test_json_lines_keep_each_objects_own_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"x": 1, "o": {"a": 1}, "l": [1, "two"]}\n{"x": 2, "o": {"b": [1]}, "l": []}\n')
    with Sandbox({"J": path}) as sandbox:
        assert sandbox.schemas["J"] == {"x": KustoType.LONG, "o": KustoType.DYNAMIC, "l": KustoType.DYNAMIC}
        # DuckDB's STRUCT inference would have produced {"a":1,"b":null}; dynamic keeps the object as given.
        assert _rows(sandbox, "J") == [[1, '{"a":1}', '[1,"two"]'], [2, '{"b":[1]}', "[]"]]


def test_json_lines_with_declared_schema(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    path.write_text('{"when": "2020-01-01T00:00:00Z", "span": "00:00:10", "props": {"k": "v"}, "n": "7"}\n')
    schema = {"when": "datetime", "span": "timespan", "props": "dynamic", "n": "int"}
    with Sandbox({"J": path}, schemas={"J": schema}) as sandbox:
        assert _rows(sandbox, "J") == [["2020-01-01T00:00:00Z", "00:00:10", '{"k":"v"}', 7]]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "t": pa.array([dt.datetime(2020, 1, 1, 12, tzinfo=dt.UTC)], pa.timestamp("ns", tz="UTC")),
            "l": [[1, 2]],
            "r": [0.5],
        }
    )
    pq.write_table(table, path)
    with Sandbox({"P": path}) as sandbox:
        assert sandbox.schemas["P"] == {"t": KustoType.DATETIME, "l": KustoType.DYNAMIC, "r": KustoType.REAL}
        assert _rows(sandbox, "P") == [["2020-01-01T12:00:00Z", "[1,2]", 0.5]]


def test_pyarrow_table_with_arrow_inferred_types() -> None:
    table = pa.table(
        {
            "t": pa.array([dt.datetime(2020, 1, 1)], pa.timestamp("us")),
            "d": pa.array([dt.timedelta(minutes=1)], pa.duration("us")),
            "s": pa.array([None], pa.string()),
            "i": pa.array([7], pa.int32()),
            "st": pa.array([{"a": 1}]),
        }
    )
    with Sandbox({"A": table}) as sandbox:
        assert sandbox.schemas["A"] == {
            "t": KustoType.DATETIME,
            "d": KustoType.TIMESPAN,
            "s": KustoType.STRING,
            "i": KustoType.INT,
            "st": KustoType.DYNAMIC,
        }
        assert _rows(sandbox, "A") == [["2020-01-01T00:00:00Z", "00:01:00", "", 7, '{"a":1}']]
        # the staging view used to load the Arrow table is gone
        names = sandbox.execute("SELECT table_name FROM information_schema.tables").column(0).to_pylist()
        assert names == ["A"]


def test_corpus_fixture_loads_with_its_declared_schema(corpus_dir: Path) -> None:
    fixtures = corpus_dir / "kql" / "fixtures"
    schemas = json.loads((corpus_dir / "kql" / "fixtures.json").read_text())
    tables = {name: fixtures / f"{name}.csv" for name in schemas}
    with Sandbox(tables, schemas=schemas) as sandbox:
        count = sandbox.execute('SELECT count(*) AS n FROM "StormEvents"').column(0).to_pylist()
        assert count == [5000]
        summary = sandbox.execute('SELECT "StormSummary" FROM "StormEvents" LIMIT 1').column(0).to_pylist()[0]
        assert isinstance(json.loads(summary), dict)
        assert sandbox.schemas["StormEvents"]["StartTime"] is KustoType.DATETIME


# ---------------------------------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    "name",
    [
        'we"ird',
        "it's",
        "semi; DROP TABLE x; --",
        'x"; SELECT 1; --',
        "with space",
        "ünïcödé",
        "select",
        "a.b",
        "__kql_stage_0",
    ],
)
def test_odd_table_and_column_names_are_quoted(name: str) -> None:
    table = pa.table({name: [1], "ok": [2]})
    with Sandbox({name: table, "other": pa.table({"v": [3]})}) as sandbox:
        assert sandbox.schemas[name] == {name: KustoType.LONG, "ok": KustoType.LONG}
        assert _rows(sandbox, name) == [[1, 2]]
        assert _rows(sandbox, "other") == [[3]]


def test_odd_file_paths_are_bound_not_spliced(tmp_path: Path) -> None:
    path = tmp_path / 'it\'s "odd"; x.csv'
    path.write_text("a\n1\n")
    with Sandbox({"T": path}) as sandbox:
        assert _rows(sandbox, "T") == [[1]]


def test_quote_identifier() -> None:
    assert quote_identifier('a"b') == '"a""b"'
    with pytest.raises(KqlSemanticError):
        quote_identifier("")
    with pytest.raises(KqlSemanticError):
        quote_identifier("a\x00b")


# ------------------------------------------------------------------------------------ bad sources


def test_names_differing_only_in_case_are_refused() -> None:
    with pytest.raises(KqlSemanticError, match="twice"):
        Sandbox({"T": pa.table({"a": [1]}), "t": pa.table({"a": [1]})})
    with pytest.raises(KqlSemanticError, match="differ only in case"):
        Sandbox({"T": pa.table({"a": [1], "A": [2]})})


def test_file_columns_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,A\n1,2\n")
    with pytest.raises(KqlSemanticError, match="differ only in case"):
        Sandbox({"T": path})
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1], "X": [2]}), parquet)
    with pytest.raises(KqlSemanticError, match="differ only in case"):
        Sandbox({"T": parquet})


def test_bad_declarations_and_files_are_refused(csv_file: Path, tmp_path: Path) -> None:
    with pytest.raises(KqlSemanticError, match="not found"):
        Sandbox({"E": csv_file}, schemas={"E": {"nope": "long"}})
    with pytest.raises(KqlSemanticError, match="unknown scalar type"):
        Sandbox({"E": csv_file}, schemas={"E": {"n": "varchar"}})
    with pytest.raises(KqlSemanticError, match="no such file"):
        Sandbox({"E": tmp_path / "missing.csv"})
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(KqlSemanticError, match="expected a"):
        Sandbox({"E": odd})
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(KqlSemanticError, match="could not be loaded"):
        Sandbox({"E": broken})


# --------------------------------------------------------------------------------------- lockdown


@pytest.fixture
def sandbox(csv_file: Path) -> Sandbox:
    with Sandbox({"Events": csv_file}, schemas={"Events": CSV_SCHEMA}) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_json('https://example.com/x.json')",
    ],
)
def test_selects_cannot_read_files(sandbox: Sandbox, sql: str) -> None:
    with pytest.raises(KqlError, match=r"(?i)permission|disabled"):
        sandbox.execute(sql)


def test_a_quoted_path_is_not_a_table(sandbox: Sandbox) -> None:
    # Unlocked, DuckDB reads FROM '/etc/passwd' as a file; locked, it is just an unknown table.
    with pytest.raises(KqlError, match="does not exist"):
        sandbox.execute("SELECT * FROM '/etc/passwd'")


@pytest.mark.parametrize(
    "sql",
    [
        "COPY \"Events\" TO '{dir}/out.csv'",
        "ATTACH '{dir}/x.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "SET autoload_known_extensions = true",
        "SET python_enable_replacements = true",
        "EXPORT DATABASE '{dir}/export'",
    ],
)
def test_lockdown_holds_even_below_the_select_only_gate(sandbox: Sandbox, tmp_path: Path, sql: str) -> None:
    target = tmp_path / "target"
    target.mkdir()
    statement = sql.format(dir=target)
    with pytest.raises(KqlError, match="exactly one SELECT"):
        sandbox.execute(statement)
    # Bypass the gate and talk to DuckDB directly: the locked configuration still refuses.
    with pytest.raises((duckdb.PermissionException, duckdb.InvalidInputException)):
        sandbox._con.execute(statement)
    assert list(target.iterdir()) == []  # nothing was written


def test_select_only_gate(sandbox: Sandbox) -> None:
    for sql in ['DROP TABLE "Events"', 'SELECT 1; DROP TABLE "Events"', "CREATE TABLE x AS SELECT 1", "PRAGMA version"]:
        with pytest.raises(KqlError, match="exactly one SELECT"):
            sandbox.execute(sql)
    assert sandbox.execute('SELECT count(*) AS n FROM "Events"').column(0).to_pylist() == [2]


def test_python_variables_are_not_tables(sandbox: Sandbox) -> None:
    secret_rows = pa.table({"secret": ["leak"]})  # DuckDB's replacement scan would find this name
    assert secret_rows.num_rows == 1
    with pytest.raises(KqlError, match="secret_rows"):
        sandbox.execute("SELECT * FROM secret_rows")


def test_load_time_helpers_are_gone(sandbox: Sandbox) -> None:
    with pytest.raises(KqlError, match="__kql_timespan"):
        sandbox.execute("SELECT __kql_timespan('1d')")


def test_sql_errors_are_kql_errors(sandbox: Sandbox) -> None:
    with pytest.raises(KqlError, match="query failed"):
        sandbox.execute('SELECT nope FROM "Events"')
    with pytest.raises(KqlError, match="does not parse"):
        sandbox.execute("SELEC 1")


def test_timeout_interrupts_a_long_query(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(KqlError, match="cancelled"):
        sandbox.execute(
            "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = -1", timeout=0.2
        )
    assert time.monotonic() - started < 10
    assert sandbox.execute("SELECT 1 AS one").column(0).to_pylist() == [1]  # still usable


# ----------------------------------------------------------------------------------------- results


def test_params_and_result_encoding(sandbox: Sandbox) -> None:
    table = sandbox.execute('SELECT n, span, dyn FROM "Events" WHERE n = ? ORDER BY n', [2])
    result = to_result(table, [KustoType.LONG, KustoType.TIMESPAN, KustoType.DYNAMIC])
    assert result == KqlResult(
        columns=["n", "span", "dyn"],
        types=[KustoType.LONG, KustoType.TIMESPAN, KustoType.DYNAMIC],
        rows=[[2, "00:30:00", "[1,2]"]],
    )
    assert result.to_query_api() == {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [
                    {"name": "n", "type": "long"},
                    {"name": "span", "type": "timespan"},
                    {"name": "dyn", "type": "dynamic"},
                ],
                "rows": [[2, "00:30:00", "[1,2]"]],
            }
        ]
    }
    json.dumps(result.to_query_api())  # JSON-serialisable as is


def test_to_result_without_types_and_with_a_wrong_count() -> None:
    table = pa.table({"x": [1.5, float("nan")], "s": ["a", None]})
    assert to_result(table).rows == [[1.5, "a"], ["NaN", ""]]
    with pytest.raises(ValueError, match="types"):
        to_result(table, ["real"])
    assert to_result(pa.table({"x": pa.array([], pa.int64())}), ["long"]).rows == []


def test_dynamic_json_text_passes_through() -> None:
    table = pa.table({"d": ['{"a":1}', "null", None, "abc", "[1,2]", "3"]})
    assert [row[0] for row in to_result(table, ["dynamic"]).rows] == ['{"a":1}', None, None, '"abc"', "[1,2]", "3"]
    nested = pa.table({"d": pa.array([[1, 2]])})  # an Arrow list (not JSON text) is serialised
    assert to_result(nested, ["dynamic"]).rows == [["[1,2]"]]
