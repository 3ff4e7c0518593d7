"""Date and time functions: Kusto's documented results (Sunday weeks, ISO week numbers, boundary
counting in datetime_diff, .NET format strings)."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.kql.function_harness import NOW, Null, evaluate
from warden.monitor.kql.errors import KqlSemanticError
from warden.monitor.kql.types import KustoType as K

D, T = dt.datetime, dt.timedelta
MOMENT = D(2017, 10, 30, 1, 2, 3, 765432)  # a Monday


def test_now_and_ago_use_the_fixed_now() -> None:
    assert evaluate("now") == "2024-03-05T10:20:30.123456Z"
    assert evaluate("ago", T(hours=1)) == "2024-03-05T09:20:30.123456Z"
    assert evaluate("now", T(days=-1)) == "2024-03-04T10:20:30.123456Z"
    assert evaluate("ago", T(days=-1)) == "2024-03-06T10:20:30.123456Z"
    assert NOW.year == 2024


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("startofday", (MOMENT,), "2017-10-30T00:00:00Z"),
        ("startofday", (MOMENT, 2), "2017-11-01T00:00:00Z"),
        ("startofweek", (MOMENT,), "2017-10-29T00:00:00Z"),  # weeks start on Sunday
        ("startofweek", (D(2017, 10, 29),), "2017-10-29T00:00:00Z"),
        ("startofweek", (MOMENT, -1), "2017-10-22T00:00:00Z"),
        ("startofmonth", (MOMENT,), "2017-10-01T00:00:00Z"),
        ("startofmonth", (MOMENT, -1), "2017-09-01T00:00:00Z"),
        ("startofyear", (MOMENT,), "2017-01-01T00:00:00Z"),
        ("startofyear", (MOMENT, 1), "2018-01-01T00:00:00Z"),
        ("endofday", (D(2017, 1, 1, 10, 10, 17), -1), "2016-12-31T23:59:59.999999Z"),
        ("endofweek", (MOMENT,), "2017-11-04T23:59:59.999999Z"),
        ("endofmonth", (D(2017, 1, 1, 10, 10, 17), 1), "2017-02-28T23:59:59.999999Z"),
        ("endofyear", (MOMENT,), "2017-12-31T23:59:59.999999Z"),
    ],
)
def test_start_and_end_of(name: str, args: tuple, expected: str) -> None:
    assert evaluate(name, *args) == expected


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("year", 2017),
        ("quarter", 4),
        ("month", 10),
        ("week_of_year", 44),
        ("day", 30),
        ("dayOfYear", 303),
        ("hour", 1),
        ("minute", 2),
        ("second", 3),
        ("millisecond", 765),
        ("microsecond", 765432),
        ("nanosecond", 765432000),
    ],
)
def test_datetime_part(part: str, expected: int) -> None:
    assert evaluate("datetime_part", part, MOMENT) == expected


def test_datetime_part_of_a_constant_keeps_its_ticks() -> None:
    from monitor.kql.function_harness import compile_call, typed_constant
    from warden.monitor.kql.functions.common import literal_typed

    moment = literal_typed(636_449_581_237_654_321, K.DATETIME)  # 2017-10-30 01:02:03.7654321
    result = compile_call("datetime_part", [typed_constant("nanosecond"), moment])
    assert result.literal == 765_432_100


@pytest.mark.parametrize(
    ("part", "first", "second", "expected"),
    [
        ("year", D(2017, 1, 1), D(2000, 12, 31), 17),
        ("quarter", D(2017, 7, 1), D(2017, 3, 30), 2),
        ("month", D(2017, 1, 1), D(2015, 12, 30), 13),
        ("week", D(2017, 10, 29), D(2017, 9, 30, 23, 59), 5.0),
        ("day", D(2017, 10, 29), D(2017, 9, 30, 23, 59), 29),
        ("hour", D(2017, 10, 31, 1), D(2017, 10, 30, 23, 59), 2),
        ("minute", D(2017, 10, 30, 23, 5, 1), D(2017, 10, 30, 23, 0, 59), 5),
        ("second", D(2017, 10, 30, 23, 0, 10, 100000), D(2017, 10, 30, 23, 0, 0, 900000), 10),
        ("millisecond", D(2017, 10, 30, 23, 0, 0, 200100), D(2017, 10, 30, 23, 0, 0, 100900), 100),
        ("microsecond", D(2017, 10, 30, 23, 0, 0, 100901), D(2017, 10, 30, 23, 0, 0, 100801), 100),
        ("Day", D(2020, 1, 1), D(2020, 1, 3), -2),
    ],
)
def test_datetime_diff_counts_boundaries(part: str, first: D, second: D, expected: float) -> None:
    assert evaluate("datetime_diff", part, first, second) == expected


def test_datetime_add() -> None:
    assert evaluate("datetime_add", "month", 1, D(2020, 1, 31)) == "2020-02-29T00:00:00Z"
    assert evaluate("datetime_add", "day", -2, D(2020, 1, 1)) == "2019-12-30T00:00:00Z"
    assert evaluate("datetime_add", "quarter", 1, D(2020, 1, 1)) == "2020-04-01T00:00:00Z"
    assert evaluate("datetime_add", "week", 2, D(2020, 1, 1)) == "2020-01-15T00:00:00Z"
    assert evaluate("datetime_add", "nanosecond", 5000, D(2020, 1, 1)) == "2020-01-01T00:00:00.000005Z"
    with pytest.raises(KqlSemanticError):
        evaluate("datetime_add", "fortnight", 1, D(2020, 1, 1))


def test_parts_of_a_date() -> None:
    assert evaluate("dayofweek", D(2017, 10, 29)) == "00:00:00"  # a timespan: days since Sunday
    assert evaluate("dayofweek", D(2017, 11, 3)) == "5.00:00:00"
    assert evaluate("dayofweek", D(2017, 11, 3), type_out=True)[1] is K.TIMESPAN
    assert evaluate("dayofmonth", MOMENT) == 30
    assert evaluate("dayofyear", MOMENT) == 303
    assert evaluate("hourofday", MOMENT) == 1
    assert evaluate("getmonth", MOMENT) == 10
    assert evaluate("monthofyear", MOMENT) == 10
    assert evaluate("getyear", MOMENT) == 2017
    assert evaluate("week_of_year", D(2020, 12, 31)) == 53  # ISO 8601
    assert evaluate("week_of_year", D(2021, 1, 3)) == 53
    assert evaluate("week_of_year", D(2015, 12, 14)) == 51
    assert evaluate("hourofday", MOMENT, type_out=True)[1] is K.INT
    assert evaluate("getyear", Null("datetime")) is None


@pytest.mark.parametrize(
    ("moment", "fmt", "expected"),
    [
        (D(2017, 1, 29, 9, 0, 5), "yy-MM-dd [HH:mm:ss]", "17-01-29 [09:00:05]"),
        (D(2017, 1, 29, 9, 0, 5), "yyyy-M-dd [H:mm:ss]", "2017-1-29 [9:00:05]"),
        (D(2017, 1, 29, 9, 0, 5), "yy-MM-dd [hh:mm:ss tt]", "17-01-29 [09:00:05 AM]"),
        (D(2009, 6, 15, 13, 45, 30, 617500), "fffffff|ff|F|FFF", "6175000|61|6|617"),
        (D(2009, 6, 15, 13, 45, 30), "HH:mm:ss.FFF", "13:45:30"),  # an empty F drops its '.'
        (D(2009, 6, 15, 13, 45, 30), "h tt", "1 PM"),
        (D(900, 1, 1), "y|yy|yyyy", "0|00|0900"),
        (D(2009, 6, 1), "d/M/y", "1/6/9"),
    ],
)
def test_format_datetime(moment: D, fmt: str, expected: str) -> None:
    assert evaluate("format_datetime", moment, fmt) == expected


def test_format_timespan() -> None:
    span = T(days=29, hours=9, seconds=5.12345)
    assert evaluate("format_timespan", span, "dd.hh:mm:ss:FF") == "29.09:00:05:12"
    assert evaluate("format_timespan", span, "ddd.h:mm:ss [fffffff]") == "029.9:00:05 [1234500]"
    assert evaluate("format_timespan", T(hours=1), "HH:mm") == "01:00"


def test_make_datetime_and_timespan() -> None:
    assert evaluate("make_datetime", 2017, 10, 1) == "2017-10-01T00:00:00Z"
    assert evaluate("make_datetime", 2017, 10, 1, 12, 10) == "2017-10-01T12:10:00Z"
    assert evaluate("make_datetime", 2017, 10, 1, 12, 11, 0.5) == "2017-10-01T12:11:00.5Z"
    assert evaluate("make_datetime", 2017, 2, 30) is None
    assert evaluate("make_timespan", 1, 12, 30, 55.2) == "1.12:30:55.2000000"
    assert evaluate("make_timespan", 12, 30, 55) == "12:30:55"
    assert evaluate("make_timespan", 12, 30) == "12:30:00"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("unixtime_seconds_todatetime", 1546300800, "2019-01-01T00:00:00Z"),
        ("unixtime_seconds_todatetime", 1546300800.5, "2019-01-01T00:00:00.5Z"),
        ("unixtime_seconds_todatetime", -1, "1969-12-31T23:59:59Z"),
        ("unixtime_seconds_todatetime", 1e15, None),
        ("unixtime_milliseconds_todatetime", 1546300800123, "2019-01-01T00:00:00.123Z"),
        ("unixtime_microseconds_todatetime", 1546300800123456, "2019-01-01T00:00:00.123456Z"),
        ("unixtime_nanoseconds_todatetime", 1546300800123456789, "2019-01-01T00:00:00.123456Z"),
    ],
)
def test_unixtime(name: str, value: float, expected: str | None) -> None:
    assert evaluate(name, value) == expected


def test_datetime_diff_of_constants_keeps_ticks() -> None:
    from monitor.kql.function_harness import compile_call, typed_constant
    from warden.monitor.kql.functions.common import literal_typed

    zero = literal_typed(636_449_868_000_000_000, K.DATETIME)  # 2017-10-30 23:00:00
    seven = literal_typed(636_449_868_000_000_007, K.DATETIME)  # ... .0000007
    assert compile_call("datetime_diff", [typed_constant("nanosecond"), zero, seven]).literal == -700
