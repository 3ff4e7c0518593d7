"""Decoding Kusto literals and encoding values as the Log Analytics query API does."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warden.monitor.kql.types import KustoType
from warden.monitor.kql.values import (
    TICKS_PER_DAY,
    UNIX_EPOCH_TICKS,
    datetime_to_ticks,
    encode_dynamic,
    encode_value,
    format_datetime,
    format_timespan,
    parse_bool,
    parse_datetime,
    parse_guid,
    parse_timespan,
    ticks_to_datetime,
)

MAX_TICKS = 3_155_378_975_999_999_999


# ------------------------------------------------------------------------------------ datetimes


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2018-07-01", "2018-07-01T00:00:00Z"),
        ("2018-07-01 12:00", "2018-07-01T12:00:00Z"),
        ("2018-07-01T12:00", "2018-07-01T12:00:00Z"),
        ("2015-12-31 23:59:59.9", "2015-12-31T23:59:59.9Z"),
        ("2018-07-01T12:00:00.1234567Z", "2018-07-01T12:00:00.1234567Z"),
        ("2014-05-25T08:20:03.123456", "2014-05-25T08:20:03.123456Z"),
        ("2014-11-08 15:55:55.123456Z", "2014-11-08T15:55:55.123456Z"),
        ("2014-05-25T08:20:03+02:00", "2014-05-25T06:20:03Z"),
        ("2014-05-25T08:20:03.123456789Z", "2014-05-25T08:20:03.1234567Z"),  # beyond a tick: truncated
        # RFC 822
        ("Sat, 8 Nov 14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
        ("Sat, 8 Nov 14 15:05:02", "2014-11-08T15:05:02Z"),
        ("Sat, 8 Nov 14 15:05", "2014-11-08T15:05:00Z"),
        ("8 Nov 14 15:05 GMT", "2014-11-08T15:05:00Z"),
        ("8 Nov 14 15:05:02 EST", "2014-11-08T20:05:02Z"),
        # RFC 850
        ("Saturday, 08-Nov-14 15:05:02 GMT", "2014-11-08T15:05:02Z"),
        ("Saturday, 08-Nov-14 15:05", "2014-11-08T15:05:00Z"),
        ("08-Nov-14 15:05:02", "2014-11-08T15:05:02Z"),
        # sortable, one-digit month and day
        ("2014-11-8 15:05:25", "2014-11-08T15:05:25Z"),
        ("2014-11-8T15:05 GMT", "2014-11-08T15:05:00Z"),
        ("0001-01-01", "0001-01-01T00:00:00Z"),
        ("9999-12-31 23:59:59.9999999", "9999-12-31T23:59:59.9999999Z"),
    ],
)
def test_datetime_literals(text: str, iso: str) -> None:
    ticks = parse_datetime(text)
    assert ticks is not None
    assert format_datetime(ticks) == iso


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2015-02-30", "2015-13-01", "2015-12-31 25:00", "12/31/2015x", "99-1-1"]
)
def test_bad_datetime_literals(text: str) -> None:
    assert parse_datetime(text) is None


def test_two_digit_years_use_the_dotnet_window() -> None:
    assert format_datetime(parse_datetime("1 Jan 29 00:00")) == "2029-01-01T00:00:00Z"
    assert format_datetime(parse_datetime("1 Jan 30 00:00")) == "1930-01-01T00:00:00Z"


def test_datetime_encoding_trims_trailing_zeros_or_keeps_seven_digits() -> None:
    value = dt.datetime(2026, 8, 1, 4, 32, 2, 400000)
    assert format_datetime(value) == "2026-08-01T04:32:02.4Z"
    assert format_datetime(value, fixed_digits=True) == "2026-08-01T04:32:02.4000000Z"
    assert format_datetime(dt.datetime(2018, 7, 1)) == "2018-07-01T00:00:00Z"
    aware = dt.datetime(2018, 7, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert format_datetime(aware) == "2018-07-01T00:00:00Z"
    assert format_datetime(dt.date(2018, 7, 1)) == "2018-07-01T00:00:00Z"


def test_unix_epoch_ticks() -> None:
    assert datetime_to_ticks(dt.datetime(1970, 1, 1)) == UNIX_EPOCH_TICKS
    # The docs' example: 31241376000000000 ticks is 0100-01-01 midnight.
    assert format_datetime(31241376000000000) == "0100-01-01T00:00:00Z"


@given(st.integers(min_value=0, max_value=MAX_TICKS))
def test_datetime_text_round_trips_at_tick_precision(ticks: int) -> None:
    assert parse_datetime(format_datetime(ticks)) == ticks
    assert parse_datetime(format_datetime(ticks, fixed_digits=True)) == ticks


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_datetime_ticks_round_trip(value: dt.datetime) -> None:
    assert ticks_to_datetime(datetime_to_ticks(value)) == value.replace(tzinfo=dt.UTC)


@given(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.booleans(),
)
def test_datetime_objects_format_like_their_ticks(value: dt.datetime, fixed_digits: bool) -> None:
    expected = format_datetime(datetime_to_ticks(value), fixed_digits=fixed_digits)
    assert format_datetime(value, fixed_digits=fixed_digits) == expected


def test_ticks_out_of_range() -> None:
    with pytest.raises(OverflowError):
        ticks_to_datetime(-1)
    with pytest.raises(OverflowError):
        format_datetime(MAX_TICKS + 1)


# ------------------------------------------------------------------------------------ timespans


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("2d", 2 * TICKS_PER_DAY),
        ("1.5h", 54_000_000_000),
        ("30m", 18_000_000_000),
        ("10s", 100_000_000),
        ("0.1s", 1_000_000),
        ("100ms", 1_000_000),
        ("10microsecond", 100),
        ("1tick", 1),
        ("15 seconds", 150_000_000),
        ("2", 2 * TICKS_PER_DAY),  # time(2) is two days
        ("1.02:03:04.5", 937_845_000_000),
        ("0.12:34:56.7", 452_967_000_000),
        ("00:01:00", 600_000_000),
        ("00:01", 600_000_000),
        ("-00:01:00", -600_000_000),
        ("-1d", -TICKS_PER_DAY),
        ("365.00:00:00", 365 * TICKS_PER_DAY),
    ],
)
def test_timespan_literals(text: str, ticks: int) -> None:
    assert parse_timespan(text) == ticks


@pytest.mark.parametrize("text", ["", "x", "2w", "25:00:00", "00:60:00", "1.2.3", "1d2h"])
def test_bad_timespan_literals(text: str) -> None:
    assert parse_timespan(text) is None


@pytest.mark.parametrize(
    ("ticks", "text"),
    [
        (0, "00:00:00"),
        (TICKS_PER_DAY, "1.00:00:00"),
        (365 * TICKS_PER_DAY, "365.00:00:00"),
        (163_224_000_000, "04:32:02.4000000"),
        (1, "00:00:00.0000001"),
        (-600_000_000, "-00:01:00"),
        (-(TICKS_PER_DAY + 1), "-1.00:00:00.0000001"),
    ],
)
def test_timespan_encoding(ticks: int, text: str) -> None:
    assert format_timespan(ticks) == text


@given(st.integers(min_value=-(10**17), max_value=10**17))
def test_timespan_text_round_trips(ticks: int) -> None:
    assert parse_timespan(format_timespan(ticks)) == ticks


def test_timedelta_encodes_as_timespan() -> None:
    assert format_timespan(dt.timedelta(hours=-1)) == "-01:00:00"


# -------------------------------------------------------------------------------- other literals


def test_guid_and_bool_literals() -> None:
    assert parse_guid("{10E99626-BC2B-4C75-BB3E-FE606DE25700}") == "10e99626-bc2b-4c75-bb3e-fe606de25700"
    assert parse_guid("10e99626bc2b4c75bb3efe606de25700") == "10e99626-bc2b-4c75-bb3e-fe606de25700"
    assert parse_guid("not-a-guid") is None
    assert parse_bool("TRUE") is True
    assert parse_bool("0") is False
    assert parse_bool("yes") is None


# ------------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("kusto_type", "value", "encoded"),
    [
        (KustoType.BOOL, True, True),
        (KustoType.BOOL, 0, False),
        (KustoType.INT, 7, 7),
        (KustoType.LONG, 2**62, 2**62),
        (KustoType.REAL, 1.5, 1.5),
        (KustoType.REAL, float("nan"), "NaN"),
        (KustoType.REAL, float("inf"), "Infinity"),
        (KustoType.REAL, float("-inf"), "-Infinity"),
        (KustoType.DECIMAL, Decimal("5.000000000000000000"), "5"),
        (KustoType.DECIMAL, Decimal("700000000.000000000000000000"), "700000000"),
        (KustoType.DECIMAL, Decimal("-0.125000"), "-0.125"),
        (KustoType.DECIMAL, Decimal("0E-18"), "0"),
        (KustoType.STRING, "abc", "abc"),
        (KustoType.STRING, None, ""),
        (KustoType.DATETIME, dt.datetime(2017, 1, 1, 0, 0, 0, 500000), "2017-01-01T00:00:00.5Z"),
        (KustoType.DATETIME, "2017-01-01 00:00:00", "2017-01-01T00:00:00Z"),
        (KustoType.TIMESPAN, 600_000_000, "00:01:00"),
        (KustoType.TIMESPAN, dt.timedelta(days=1), "1.00:00:00"),
        (KustoType.GUID, "10E99626-BC2B-4C75-BB3E-FE606DE25700", "10e99626-bc2b-4c75-bb3e-fe606de25700"),
        (KustoType.GUID, uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (KustoType.DYNAMIC, '{"b": 1, "a": [1, 2]}', '{"b":1,"a":[1,2]}'),
        (KustoType.DYNAMIC, [1, "x"], '[1,"x"]'),
        (KustoType.DYNAMIC, "null", None),
    ],
)
def test_encode_value(kusto_type: KustoType, value: object, encoded: object) -> None:
    assert encode_value(kusto_type, value) == encoded


@pytest.mark.parametrize("kusto_type", [t for t in KustoType if t is not KustoType.STRING])
def test_null_stays_null_except_for_strings(kusto_type: KustoType) -> None:
    assert encode_value(kusto_type, None) is None


def test_encode_value_accepts_plain_type_names() -> None:
    assert encode_value("long", 3) == 3  # type: ignore[arg-type]


def test_dynamic_values_are_json_text_with_kusto_datetimes_inside() -> None:
    text = encode_dynamic({"when": dt.datetime(2017, 1, 1), "span": dt.timedelta(minutes=1), "id": uuid.UUID(int=0)})
    assert json.loads(text) == {
        "when": "2017-01-01T00:00:00.0000000Z",
        "span": "00:01:00",
        "id": "00000000-0000-0000-0000-000000000000",
    }
    assert encode_dynamic("not json") == '"not json"'  # invalid JSON text is a dynamic string
    assert encode_dynamic('"é"') == '"é"'
