"""compile() to DuckDB and ClickHouse SQL; errors with positions; quoting and injection safety."""

from __future__ import annotations

import importlib.util

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warden.monitor.kql import KqlError, KqlSemanticError, KqlSyntaxError, KqlUnsupportedError, compile, run

SCHEMA = {
    "Syslog": {"TimeGenerated": "datetime", "HostName": "string", "SyslogMessage": "string", "Props": "dynamic"},
    "Weird": [("select", "long"), ('a "quoted" name', "string")],
}


def test_compiles_to_duckdb_sql_that_runs() -> None:
    sql = compile("Syslog | where SyslogMessage has 'failed' | summarize count() by HostName", SCHEMA)
    assert '"SyslogMessage"' in sql and '"HostName"' in sql
    con = duckdb.connect()
    con.execute(
        'CREATE TABLE "Syslog" ("TimeGenerated" TIMESTAMP, "HostName" VARCHAR, "SyslogMessage" VARCHAR, "Props" JSON)'
    )
    con.execute(
        "INSERT INTO \"Syslog\" VALUES ('2020-01-01', 'h1', 'Failed password', '{}'), ('2020-01-01', 'h2', 'ok', '{}')"
    )
    assert con.execute(sql).fetchall() == [("h1", 1)]


def test_compiles_to_clickhouse_sql() -> None:
    sql = compile(
        "Syslog | where SyslogMessage matches regex 'a+' | project HostName, n = strlen(HostName)", SCHEMA, "clickhouse"
    )
    sqlglot.parse_one(sql, read="clickhouse")  # well-formed ClickHouse SQL
    assert "match(" in sql
    assert '"HostName"' in sql


def test_every_identifier_is_quoted() -> None:
    sql = compile("Weird | project ['select'], ['a \"quoted\" name'] | where ['select'] > 1", SCHEMA)
    assert '"select"' in sql
    assert '"a ""quoted"" name"' in sql
    con = duckdb.connect()
    con.execute('CREATE TABLE "Weird" ("select" BIGINT, "a ""quoted"" name" VARCHAR)')
    con.execute("INSERT INTO \"Weird\" VALUES (2, 'x'), (1, 'y')")
    assert con.execute(sql).fetchall() == [(2, "x")]


@pytest.mark.parametrize(
    "payload",
    [
        "x'; DROP TABLE T; --",
        "\\'; SELECT 1; --",
        "' OR '1'='1",
        '"; DROP TABLE T; --',
        "$$; COPY T TO '/tmp/x'; $$",
    ],
)
def test_string_literals_stay_data(payload: str) -> None:
    table = pa.table({"Name": ["alice", payload]})
    literal = payload.replace("\\", "\\\\").replace('"', '\\"')
    result = run(f'T | where Name == "{literal}" | extend copy = "{literal}"', {"T": table})
    assert result.rows == [[payload, payload]]


def test_column_names_cannot_escape_their_quotes() -> None:
    name = 'x"; DROP TABLE T; --'
    table = pa.table({name: [1, 2]})
    result = run("T | project v = ['" + name + "'] | where v > 1", {"T": table})
    assert result.rows == [[2]]


def test_syntax_errors_have_positions() -> None:
    with pytest.raises(KqlSyntaxError) as caught:
        compile("Syslog\n| where HostName == ", SCHEMA)
    assert caught.value.line == 2
    assert "^" in str(caught.value)


def test_semantic_errors_have_positions() -> None:
    with pytest.raises(KqlSemanticError) as caught:
        compile("Syslog\n| project HostName, Nope", SCHEMA)
    assert (caught.value.line, caught.value.column) == (2, 21)
    assert "Nope" in str(caught.value)
    with pytest.raises(KqlSemanticError, match="unknown table"):
        compile("Nope | take 1", SCHEMA)
    with pytest.raises(KqlSemanticError):
        compile("Syslog | where TimeGenerated + HostName > 1", SCHEMA)


def test_unsupported_constructs_are_named() -> None:
    with pytest.raises(KqlUnsupportedError) as caught:
        compile("externaldata(x:string)['https://example.com/data.csv']", SCHEMA)
    assert caught.value.construct == "externaldata"
    with pytest.raises(KqlUnsupportedError, match="fork"):
        compile("Syslog | fork (take 1) (take 2)", SCHEMA)
    with pytest.raises(KqlUnsupportedError, match="database"):
        compile("database('other').Syslog | take 1", SCHEMA)
    with pytest.raises(KqlUnsupportedError, match="nosuchfunction"):
        compile("Syslog | extend x = nosuchfunction(HostName)", SCHEMA)


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError):
        compile("Syslog | take 1", SCHEMA, "postgres")


def test_errors_are_always_kql_errors() -> None:
    for query in ["Syslog | summarize by", "print 1 +", "Syslog | join (Syslog) on", "let x = ; x"]:
        with pytest.raises(KqlError):
            compile(query, SCHEMA)


CLICKHOUSE_DATA = """let T = datatable(Name:string, Value:long, Flag:bool, Ts:datetime)
['Alice', 10, true, datetime(2020-01-01 01:00), 'bob', 20, false, datetime(2020-01-01 02:30),
 'Carol', long(null), true, datetime(2020-01-02), 'alice', 5, false, datetime(2020-01-03)];
"""
CLICKHOUSE_SHARED = [
    "T | where Name == 'alice'",
    "T | where Name =~ 'alice' | project Name, Value",
    "T | where Name has 'bob' or Name contains 'ROL' | project Name",
    "T | where Name !has 'bob' and Name !contains 'x' | project Name",
    "T | where Name in ('bob', 'Carol') | count",
    "T | where Name in~ ('BOB', 'carol') | project Name",
    "T | where Name startswith 'a' | project Name",
    "T | where Value between (5 .. 10) | project Name",
    "T | extend V2 = Value * 2, V3 = Value % 3 | project Name, V2, V3",
    "T | summarize c = count(), s = sum(Value) by Flag",
    "T | summarize count() by tolower(Name)",
    "T | summarize arg_max(Value, Name)",
    "T | sort by Value asc | project Name",
    "T | top 2 by Value",
    "T | project-away Flag, Ts | take 1",
    "T | distinct Flag",
    "T | join kind=inner (T | project Name, X = Value) on Name | project Name, X",
    "T | join kind=leftanti (T | where Value > 9) on Name | project Name",
    "T | union (T | where Value > 10) | count",
    "T | where Ts > datetime(2020-01-01 02:00) | project Name, d = Ts - datetime(2020-01-01), e = Ts + 1h",
    "print a = 14 % 12, b = -14 % 12, c = 7 / 2, d = 1.5 * 2",
    "range x from 1 to 5 step 2",
]


@pytest.mark.skipif(
    importlib.util.find_spec("chdb") is None, reason="chdb (the optional ClickHouse extra) is not installed"
)
@pytest.mark.parametrize("query", CLICKHOUSE_SHARED)
def test_clickhouse_results_match_duckdb_on_chdb(query: str) -> None:  # pragma: no cover - needs chdb
    import json

    import chdb

    from warden.monitor.kql.compiler import compile_query
    from warden.monitor.kql.conformance import compare
    from warden.monitor.kql.values import encode_value

    text = CLICKHOUSE_DATA + query
    expected = run(text)
    sql, _, types = compile_query(text, {}, dialect="clickhouse")
    data = json.loads(str(chdb.query(sql, "JSONCompact")))["data"]
    got = {
        "columns": expected.columns,
        "types": [str(t) for t in types],
        "rows": [[encode_value(t, v) for t, v in zip(types, row, strict=True)] for row in data],
    }
    reference = {"columns": expected.columns, "column_types": [str(t) for t in expected.types], "rows": expected.rows}
    ok, why = compare(reference, got, text)
    assert ok, why


# ------------------------------------------------------------------------------ robustness

_SEEDS = [
    "Syslog | where SyslogMessage has 'failed' and TimeGenerated > ago(1d) | summarize count() by HostName",
    "Syslog | extend p = Props.a.b[0], n = strlen(HostName) | project-away Props | top 3 by n",
    "Syslog | join kind=leftouter (Syslog | summarize arg_max(TimeGenerated, *) by HostName) on HostName",
    "let f = (x:long, y:string = 'a') { x + 1 }; Syslog | mv-expand t = Props.tags | extend z = f(2)",
    "Syslog | parse SyslogMessage with 'user ' user:string ' from ' ip | make-series count() on TimeGenerated step 1h",
    "union Syslog, (Syslog | where HostName in~ ('a', 'b')) | sort by TimeGenerated asc | take 5",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(_SEEDS), data=st.data())
def test_mutated_queries_fail_only_with_kql_errors(seed: str, data: st.DataObject) -> None:
    tokens = seed.split(" ")
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        index = data.draw(st.integers(min_value=0, max_value=len(tokens) - 1))
        action = data.draw(st.sampled_from(["drop", "repeat", "swap", "replace"]))
        if action == "drop" and len(tokens) > 1:
            del tokens[index]
        elif action == "repeat":
            tokens.insert(index, tokens[index])
        elif action == "swap":
            other = data.draw(st.integers(min_value=0, max_value=len(tokens) - 1))
            tokens[index], tokens[other] = tokens[other], tokens[index]
        else:
            tokens[index] = data.draw(st.sampled_from(["|", "(", ")", "*", "1h", "'x'", "by", "on", ",", "==", "T"]))
    text = " ".join(tokens)
    try:
        compile(text, SCHEMA)
    except KqlError as error:
        assert not error.message.startswith("internal compiler error"), (text, error.message)
