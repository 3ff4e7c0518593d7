"""Conversions (tostring, toint, tolong, toreal, tobool, todatetime, totimespan, toguid, todecimal,
parse_json): Kusto's text forms, truncation, and null instead of failure."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate, sql_of
from warden.monitor.kql.errors import KqlUnsupportedError
from warden.monitor.kql.types import KustoType as K

D, T = dt.datetime, dt.timedelta


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123, "123"),
        (1.0, "1"),
        (0.1, "0.1"),
        (1e20, "1E+20"),
        (1.5e-7, "1.5E-07"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (Decimal("1.50"), "1.5"),
        (True, "true"),
        (D(2020, 1, 1), "2020-01-01T00:00:00.0000000Z"),
        (D(2020, 1, 1, 1, 2, 3, 500000), "2020-01-01T01:02:03.5000000Z"),
        (T(days=1, hours=2, seconds=3.5), "1.02:00:03.5000000"),
        (T(minutes=-90), "-01:30:00"),
        (uuid.UUID("12345678-1234-1234-1234-123456789012"), "12345678-1234-1234-1234-123456789012"),
        ({"a": 1}, '{"a":1}'),
        ("plain", "plain"),
        (Null("long"), ""),
        (Null("dynamic"), ""),
    ],
)
def test_tostring(value: object, expected: str) -> None:
    assert evaluate("tostring", value) == expected


def test_tostring_of_a_dynamic_string_is_unquoted() -> None:
    assert evaluate("tostring", Raw("CAST('\"abc\"' AS JSON)", "dynamic")) == "abc"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("tolong", "123", 123),
        ("tolong", " 123 ", 123),
        ("tolong", "1.9", 1),
        ("tolong", "-1.9", -1),
        ("tolong", "abc", None),
        ("tolong", "", None),
        ("tolong", 2.9, 2),
        ("tolong", True, 1),
        ("tolong", D(2020, 1, 1), 637134336000000000),  # ticks
        ("tolong", T(seconds=1), 10_000_000),
        ("toint", 2.3, 2),
        ("toint", -2.9, -2),
        ("toint", "123", 123),
        ("toint", "3000000000", None),  # out of int range
        ("toint", Null("real"), None),
        ("toreal", "1e3", 1000.0),
        ("todouble", "x", None),
        ("toreal", 3, 3.0),
        ("todecimal", "1.25", "1.25"),
        ("tobool", "true", True),
        ("tobool", "FALSE", False),
        ("tobool", "yes", None),
        ("tobool", 1, True),
        ("tobool", 123, True),
        ("tobool", 0, False),
        ("toboolean", "1", True),
    ],
)
def test_numeric_and_bool_conversions(name: str, value: object, expected: object) -> None:
    assert evaluate(name, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-12-31 23:59:59.9", "2015-12-31T23:59:59.9Z"),
        ("2021-01-01T10:00:00+02:00", "2021-01-01T08:00:00Z"),
        ("2021-01-01T10:00:00Z", "2021-01-01T10:00:00Z"),
        ("Sat, 8 Nov 14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
        ("02/17/2016 08:40:01", "2016-02-17T08:40:01Z"),
        ("not a date", None),
        ("", None),
        (D(2020, 5, 6), "2020-05-06T00:00:00Z"),
    ],
)
def test_todatetime(value: object, expected: object) -> None:
    assert evaluate("todatetime", value) == expected


def test_todatetime_of_text_is_independent_of_the_session_time_zone() -> None:
    from monitor.kql.function_harness import connection

    connection().execute("SET TimeZone = 'America/New_York'")
    try:
        assert evaluate("todatetime", Raw("'2021-01-01 10:00:00'", "string")) == "2021-01-01T10:00:00Z"
    finally:
        connection().execute("SET TimeZone = 'UTC'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.00:03:00", "00:03:00"),
        ("1.5h", "01:30:00"),
        ("-01:00:00", "-01:00:00"),
        ("2d", "2.00:00:00"),
        ("100ms", "00:00:00.1000000"),
        ("1.02:03:04.5", "1.02:03:04.5000000"),
        ("nonsense", None),
        (T(days=4), "4.00:00:00"),
    ],
)
def test_totimespan(value: object, expected: object) -> None:
    assert evaluate("totimespan", value) == expected


def test_toguid() -> None:
    text = "12345678-1234-1234-1234-123456789012"
    assert evaluate("toguid", text) == text
    assert evaluate("toguid", "not a guid") is None


@pytest.mark.parametrize("name", ["parse_json", "todynamic", "parsejson"])
def test_parse_json(name: str) -> None:
    assert evaluate(name, '{"a": [1, 2]}') == {"a": [1, 2]}
    assert evaluate(name, "abc") == "abc"  # not JSON: the text as a dynamic string
    assert evaluate(name, "") is None
    assert evaluate(name, "null") is None


def test_parse_json_minifies() -> None:
    assert evaluate("tostring", Raw("'x'", "string")) == "x"
    value = evaluate("tostring", Raw("CAST(' {\"a\": 1} ' AS JSON)", "dynamic"))
    assert value.replace(" ", "") == '{"a":1}'


def test_conversions_from_dynamic_read_the_value() -> None:
    number = Raw("CAST('5' AS JSON)", "dynamic")
    text = Raw("CAST('\"7\"' AS JSON)", "dynamic")
    assert evaluate("tolong", number) == 5
    assert evaluate("tolong", text) == 7
    assert evaluate("toreal", number) == 5.0
    assert evaluate("todatetime", Raw("CAST('\"2020-01-01\"' AS JSON)", "dynamic")) == "2020-01-01T00:00:00Z"
    assert evaluate("tobool", Raw("CAST('true' AS JSON)", "dynamic")) is True


def test_result_types() -> None:
    assert evaluate("toint", "1", type_out=True)[1] is K.INT
    assert evaluate("tolong", "1", type_out=True)[1] is K.LONG
    assert evaluate("todouble", "1", type_out=True)[1] is K.REAL
    assert evaluate("todynamic", "1", type_out=True)[1] is K.DYNAMIC
    assert evaluate("tostring", 1, type_out=True)[1] is K.STRING


def test_constant_folding_sets_the_literal() -> None:
    from monitor.kql.function_harness import compile_call, typed_constant

    result = compile_call("totimespan", [typed_constant("1h")])
    assert result.is_constant and result.literal == 36_000_000_000
    result = compile_call("todatetime", [typed_constant("2020-01-01")])
    assert result.is_constant and result.literal == 637134336000000000


def test_clickhouse_conversions() -> None:
    assert "accurateCastOrNull" in sql_of("tolong", Raw("x", "string"), dialect="clickhouse")
    with pytest.raises(KqlUnsupportedError):
        sql_of("totimespan", Raw("x", "string"), dialect="clickhouse")
