"""The ClickHouse translations of the functions that have one give DuckDB's answers (on chDB, the
optional ``clickhouse`` extra; skipped without it). Functions without a ClickHouse translation
raise KqlUnsupportedError (see test_functions_robustness)."""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest

from monitor.kql.function_harness import Raw, aggregate, aggregate_clickhouse, evaluate, evaluate_clickhouse

pytestmark = pytest.mark.skipif(importlib.util.find_spec("chdb") is None, reason="chdb is not installed")

D, T = dt.datetime, dt.timedelta


def _moment(text: str) -> tuple[Raw, Raw]:
    """The same datetime column expression for ClickHouse and for DuckDB."""
    return Raw(f"CAST('{text}' AS DATETIME64(6))", "datetime"), Raw(f"CAST('{text}' AS TIMESTAMP)", "datetime")


SCALAR_CASES = [
    ("strcat", "a", 1, 2.5, True),
    ("strcat_delim", "-", "a", 1),
    ("strlen", "héllo"),
    ("substring", "123456", -2, 2),
    ("substring", "123456", 1),
    ("tolower", "AbC"),
    ("toupper", "aB"),
    ("reverse", "abc"),
    ("trim", "--", "--x--"),
    ("trim_start", r"\s+", "  hi "),
    ("replace_string", "aXbX", "X", "-"),
    ("replace_regex", "a1b2", r"\d", "#"),
    ("extract", "User: ([^,]+)", 1, "User: James, x"),
    ("extract", r"(\d+)", 1, "none"),
    ("tostring", Raw("CAST(123 AS BIGINT)", "long")),
    ("tolong", Raw("'1.9'", "string")),
    ("tolong", Raw("'abc'", "string")),
    ("toint", Raw("'7'", "string")),
    ("todouble", Raw("'1.5'", "string")),
    ("tolong", Raw("CAST(2.9 AS DOUBLE)", "real")),
    ("round", Raw("CAST(2.15 AS DOUBLE)", "real"), 1),
    ("abs", -3),
    ("log", Raw("CAST(-1 AS DOUBLE)", "real")),
    ("sqrt", 16),
    ("pow", 2, 3),
    ("sign", -3),
    ("ceiling", 2.1),
    ("min_of", 3, 1, 2),
    ("max_of", Raw("CAST(NULL AS BIGINT)", "long"), 3),
    ("bin", Raw("CAST(-7 AS BIGINT)", "long"), 2),
    ("bin", Raw("CAST(4.5 AS DOUBLE)", "real"), 1.0),
    ("iff", Raw("1 > 2", "bool"), "a", "b"),
    ("coalesce", "", Raw("'x'", "string")),
    ("isempty", Raw("''", "string")),
    ("now",),
    ("ago", T(hours=1)),
    ("hash_sha256", "World"),
    ("hash_md5", "World"),
    ("base64_encode_tostring", "Kusto"),
    ("base64_decode_tostring", Raw("'S3VzdG8='", "string")),
]


@pytest.mark.parametrize("case", SCALAR_CASES, ids=lambda case: case[0])
def test_scalars_match_duckdb(case: tuple) -> None:
    name, *args = case
    ch_args = [
        Raw(a.sql.replace("BIGINT", "Int64").replace("DOUBLE", "Float64"), a.type) if isinstance(a, Raw) else a
        for a in args
    ]
    assert evaluate_clickhouse(name, *ch_args) == evaluate(name, *args, columns=False)


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("startofday", (), "2017-10-30T00:00:00Z"),
        ("startofweek", (), "2017-10-29T00:00:00Z"),
        ("startofmonth", (), "2017-10-01T00:00:00Z"),
        ("startofyear", (), "2017-01-01T00:00:00Z"),
        ("endofday", (), "2017-10-30T23:59:59.999999Z"),
        ("dayofmonth", (), 30),
        ("hourofday", (), 1),
        ("getyear", (), 2017),
        ("dayofweek", (), "1.00:00:00"),
        ("bin", (T(minutes=15),), "2017-10-30T01:00:00Z"),
        ("bin", (T(days=7),), "2017-10-30T00:00:00Z"),
    ],
)
def test_datetimes_match_duckdb(name: str, extra: tuple, expected: object) -> None:
    clickhouse, duckdb = _moment("2017-10-30 01:02:03")
    assert evaluate_clickhouse(name, clickhouse, *extra) == expected
    assert evaluate(name, duckdb, *extra, columns=False) == expected


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("count", ()),
        ("dcount", ()),
        ("sum", ()),
        ("avg", ()),
        ("min", ()),
        ("max", ()),
        ("stdev", ()),
        ("variance", ()),
        ("percentile", (50,)),
    ],
)
def test_aggregates_match_duckdb(name: str, args: tuple) -> None:
    from monitor.kql.function_harness import Col

    values = [3, 1, 4, 1, 5, None]
    expected = aggregate(name, {"x": ("long", values)}, *([Col("x")] if name != "count" else []), *args)
    got = aggregate_clickhouse(name, "long", values, *args, column=name != "count")
    assert got == pytest.approx(expected)
