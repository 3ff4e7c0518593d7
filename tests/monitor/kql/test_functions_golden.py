"""Golden tests: KQL text -> rows through ``warden.monitor.kql.run``, for the function library and
the semantic traps of Kusto it must keep (never-null strings, Sunday weeks, auto names...)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from warden.monitor.kql import run

NOW = dt.datetime(2024, 3, 5, 10, 20, 30, tzinfo=dt.UTC)


def rows(query: str) -> list[list]:
    return run(query, now=NOW).rows


def columns(query: str) -> list[str]:
    return run(query, now=NOW).columns


GOLDEN = [
    ('print strcat("a", 1, 2.5, true)', [["a12.5true"]]),
    ("print tostring(long(null)), strlen(tostring(long(null)))", [["", 0]]),
    (
        'print isempty(""), isempty(long(null)), isnotempty("x"), isnull(""), isnull(long(null))',
        [[True, True, True, False, True]],
    ),
    ('print coalesce("", "b"), coalesce(long(null), 2)', [["b", 2]]),
    ('print iff(bool(null), "then", "else"), case(1 > 2, "a", 2 > 1, "b", "c")', [["else", "b"]]),
    ('print substring("123456", -2, 2), indexof("abcdefg", "cde"), countof("aaaa", "aa")', [["56", 2, 3]]),
    ('print trim(@"[^\\w]+", "-- Te st1 // $"), split("aaa_bbb_ccc", "_", 1)', [["Te st1", '["bbb"]']]),
    ('print extract(@"-(\\d{2})-", 1, "15-12-2024", typeof(int))', [[12]]),
    ('print replace_regex("Number was: 1", @"was: (\\d+)", @"is: \\1")', [["Number is: 1"]]),
    ('print tolong("1.9"), toint(2.9), todouble("x"), tobool("TRUE")', [[1, 2, None, True]]),
    ('print todatetime("2021-01-01T10:00:00+02:00"), totimespan("1.5h")', [["2021-01-01T08:00:00Z", "01:30:00"]]),
    ("print tostring(datetime(2020-01-01)), tostring(90m)", [["2020-01-01T00:00:00.0000000Z", "01:30:00"]]),
    ("print ago(1h), now(-1d)", [["2024-03-05T09:20:30Z", "2024-03-04T10:20:30Z"]]),
    (
        "print startofweek(datetime(2017-10-30)), dayofweek(datetime(2017-11-03))",
        [["2017-10-29T00:00:00Z", "5.00:00:00"]],
    ),
    ("print endofmonth(datetime(2017-02-10))", [["2017-02-28T23:59:59.999999Z"]]),
    ("print datetime_diff('week', datetime(2017-10-29), datetime(2017-09-30 23:59))", [[5.0]]),
    ('print format_datetime(datetime(2017-01-29 09:00:05), "yy-MM-dd [hh:mm:ss tt]")', [["17-01-29 [09:00:05 AM]"]]),
    ("print bin(datetime(2020-01-08 10:17:00), 15m), bin(4.5, 1), bin(-7, 2)", [["2020-01-08T10:15:00Z", 4.0, -8]]),
    (
        'print d = parse_json(\'{"a": {"b": [1, 2]}}\') | project v = tostring(d.a.b[1]), n = isnull(d.zz)',
        [["2", True]],
    ),
    ('print parse_json("not json"), array_length(dynamic([1, 2, 3]))', [['"not json"', 3]]),
    (
        'print pack_array(1, "a", 2s), bag_pack("k", datetime(2020-01-01))',
        [['[1,"a","00:00:02"]', '{"k":"2020-01-01T00:00:00.0000000Z"}']],
    ),
    (
        'print ipv4_is_private("10.1.2.3"), ipv4_is_in_range("192.168.1.1", "192.168.1.255/24"),'
        ' parse_ipv4("192.168.1.1")',
        [[True, True, 3232235777]],
    ),
    (
        'print hash_sha256("World"), hash("World", 100)',
        [["78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524", 51]],
    ),
    ('print url_encode("a b/c"), base64_decode_tostring("S3VzdG8=")', [["a+b%2fc", "Kusto"]]),
    ("print round(2.15, 1), pow(2, 10), log(-1), sqrt(16)", [[2.2, 1024.0, None, 4.0]]),
]


@pytest.mark.parametrize(("query", "expected"), GOLDEN, ids=[q[:40] for q, _ in GOLDEN])
def test_golden(query: str, expected: list[list]) -> None:
    assert rows(query) == expected


def test_summarize_auto_names_and_values() -> None:
    query = (
        "range x from 1 to 5 step 1 | extend s = tostring(x % 2), t = datetime(2020-01-01) + x * 1h"
        " | summarize count(), countif(x > 2), dcount(s), sum(x), avg(x), min(t), max(x), make_set(s),"
        " stdev(x), variance(x), percentile(x, 50)"
    )
    result = run(query, now=NOW)
    assert result.columns == [
        "count_",
        "countif_",
        "dcount_s",
        "sum_x",
        "avg_x",
        "min_t",
        "max_x",
        "set_s",
        "stdev_x",
        "variance_x",
        "percentile_x_50",
    ]
    (row,) = result.rows
    assert row[:7] == [5, 3, 2, 15, 3.0, "2020-01-01T01:00:00Z", 5]
    assert sorted(json.loads(row[7])) == ["0", "1"]
    assert row[8] == pytest.approx(1.5811388300841898)
    assert row[9:] == [2.5, 3]


def test_summarize_over_no_rows_gives_kusto_defaults() -> None:
    query = "datatable(x:long)[] | summarize count(x), countif(x > 0), dcount(x), sum(x), make_list(x)"
    assert rows(query) == [[0, 0, 0, 0, "[]"]]


def test_summarize_by_bin_and_arg_max() -> None:
    query = (
        "datatable(t:datetime, k:string, v:long)["
        "datetime(2020-01-01 00:10), 'a', 1, datetime(2020-01-01 00:50), 'a', 5, datetime(2020-01-01 01:05), 'b', 2]"
        " | summarize n = count(), latest = arg_max(t, k) by hour = bin(t, 1h) | order by hour asc"
    )
    result = run(query, now=NOW)
    named = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    assert result.columns == ["hour", "n", "latest", "k"]  # a named arg_max renames its first column
    assert [(r["hour"], r["n"], r["latest"], r["k"]) for r in named] == [
        ("2020-01-01T00:00:00Z", 2, "2020-01-01T00:50:00Z", "a"),
        ("2020-01-01T01:00:00Z", 1, "2020-01-01T01:05:00Z", "b"),
    ]


def test_percentiles_make_one_column_each() -> None:
    result = run("range x from 1 to 100 step 1 | summarize percentiles(x, 5, 50, 95)", now=NOW)
    assert result.columns == ["percentile_x_5", "percentile_x_50", "percentile_x_95"]
    assert result.rows == [[5, 50, 95]]
