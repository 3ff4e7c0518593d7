"""compile() to DuckDB and ClickHouse SQL; errors with positions; quoting and injection safety."""

from __future__ import annotations

import importlib.util

import duckdb
import pyarrow as pa
import pytest
import sqlglot

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


@pytest.mark.skipif(
    importlib.util.find_spec("chdb") is None, reason="chdb (the optional ClickHouse extra) is not installed"
)
def test_clickhouse_results_match_duckdb_on_chdb() -> None:  # pragma: no cover - needs chdb
    import chdb

    query = "datatable(x:long, s:string)[1, 'a', 2, 'b', 3, 'a'] | where s == 'a' | summarize n = count(), t = sum(x)"
    expected = run(query).rows
    sql = compile(query, {}, "clickhouse")
    got = chdb.query(sql, "JSONCompact")
    import json

    assert json.loads(str(got))["data"] == expected
