"""Numeric functions and bin()."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate, sql_of
from warden.monitor.kql.errors import KqlSemanticError
from warden.monitor.kql.types import KustoType as K

D, T = dt.datetime, dt.timedelta


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((2.98765, 3), 2.988),
        ((2.15, 1), 2.2),  # .NET scales before rounding
        ((2.15,), 2.0),
        ((-50.55, -2), -100.0),
        ((21.5, -1), 20.0),
        ((125, -1), 130),
        ((125,), 125),
    ],
)
def test_round(args: tuple, expected: float) -> None:
    assert evaluate("round", *args) == expected


def test_round_keeps_the_type() -> None:
    assert evaluate("round", 125, -1, type_out=True)[1] is K.LONG
    assert evaluate("round", 1.5, type_out=True)[1] is K.REAL


def test_logs_and_roots_follow_kusto_on_bad_input() -> None:
    assert evaluate("log", 5) == pytest.approx(1.6094379124341003)
    assert evaluate("log", -1) is None
    assert evaluate("log", 0) == "-Infinity"
    assert evaluate("log10", 1000) == 3.0
    assert evaluate("log2", 8) == 3.0
    assert evaluate("sqrt", 16) == 4.0
    assert evaluate("sqrt", -4) is None
    assert evaluate("exp", 2) == pytest.approx(7.38905609893065)
    assert evaluate("exp2", 3) == 8.0
    assert evaluate("exp10", 2) == 100.0
    assert evaluate("pow", 2, 3) == 8.0
    assert evaluate("pow", 2, 3, type_out=True)[1] is K.REAL


def test_small_functions() -> None:
    assert evaluate("abs", -3) == 3
    assert evaluate("abs", T(hours=-1)) == "01:00:00"
    assert evaluate("sign", -3) == -1.0
    assert evaluate("sign", 0.0) == 0.0
    assert evaluate("ceiling", 2.1) == 3.0
    assert evaluate("ceiling", 4) == 4
    assert evaluate("pi") == pytest.approx(math.pi)
    assert evaluate("isnan", float("nan")) is True
    assert evaluate("isnan", 1.0) is False
    assert evaluate("isinf", float("-inf")) is True
    assert evaluate("isfinite", 1.0) is True
    assert evaluate("isfinite", float("inf")) is False
    assert evaluate("degrees", math.pi) == pytest.approx(180.0)
    assert evaluate("atan2", 1, 1) == pytest.approx(math.pi / 4)


def test_min_of_and_max_of_ignore_nulls() -> None:
    assert evaluate("min_of", 10, 1, -3, 17) == -3
    assert evaluate("max_of", 10, 1, -3, 17) == 17
    assert evaluate("max_of", Null("long"), 3) == 3
    assert evaluate("min_of", 1, 2.5, type_out=True) == (1.0, K.REAL)
    assert evaluate("min_of", D(2020, 1, 2), D(2020, 1, 1)) == "2020-01-01T00:00:00Z"
    with pytest.raises(KqlSemanticError):
        evaluate("min_of", 1, "a")


def test_tohex() -> None:
    assert evaluate("tohex", 256) == "100"
    assert evaluate("tohex", -256) == "ffffffffffffff00"
    assert evaluate("tohex", Raw("CAST(-256 AS INTEGER)", "int"), 8) == "ffffff00"
    assert evaluate("tohex", 256, 8) == "00000100"
    assert evaluate("tohex", 256, 2) == "100"


def test_rand_and_new_guid() -> None:
    assert 0 <= evaluate("rand", columns=False) < 1
    value = evaluate("rand", 10, columns=False)
    assert value == int(value) and 0 <= value < 10
    assert len(evaluate("new_guid", columns=False)) == 36


def test_binary_functions() -> None:
    assert evaluate("binary_and", 5, 3) == 1
    assert evaluate("binary_or", 5, 3) == 7
    assert evaluate("binary_xor", 5, 3) == 6
    assert evaluate("binary_not", 5) == -6
    assert evaluate("binary_shift_left", 1, 4) == 16
    assert evaluate("binary_shift_right", 16, 4) == 1
    assert evaluate("binary_shift_left", 5, 62) == 4611686018427387904  # wraps like .NET
    assert evaluate("binary_shift_left", 3, 63) == -9223372036854775808
    assert evaluate("binary_shift_left", 1, 65) == 2  # the count is taken modulo 64
    assert evaluate("binary_shift_right", -5, 1) == -3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((4.5, 1), 4.0),
        ((T(days=16), T(days=7)), "14.00:00:00"),
        ((D(1970, 5, 11, 13, 45, 7), T(days=1)), "1970-05-11T00:00:00Z"),
        ((D(2020, 1, 8), T(days=7)), "2020-01-06T00:00:00Z"),  # ticks count from 0001-01-01, a Monday
        ((D(2020, 1, 8, 10, 17), T(minutes=15)), "2020-01-08T10:15:00Z"),
        ((D(1969, 12, 31, 23, 59), T(hours=1)), "1969-12-31T23:00:00Z"),
        ((-7, 2), -8),
        ((7, 0), None),
        ((7, -2), None),
        ((Null("long"), 2), None),
        ((T(minutes=-90), T(hours=1)), "-02:00:00"),
    ],
)
def test_bin(args: tuple, expected: object) -> None:
    assert evaluate("bin", *args) == expected
    assert evaluate("floor", *args) == expected


def test_bin_by_an_hour_truncates() -> None:
    assert "DATE_TRUNC" in sql_of("bin", D(2020, 1, 1), T(hours=1)).upper()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((6.5, 2.5, 7), 4.5),
        ((T(hours=1), T(days=1), T(hours=12)), "-12:00:00"),
        ((D(2017, 5, 15, 10, 20), T(days=1), D(1970, 1, 1, 12)), "2017-05-14T12:00:00Z"),
        ((D(2017, 5, 17, 10, 20), T(days=7), D(2017, 5, 15)), "2017-05-15T00:00:00Z"),
        ((7, 5, 1), 6),
    ],
)
def test_bin_at(args: tuple, expected: object) -> None:
    assert evaluate("bin_at", *args) == expected


def test_around() -> None:
    assert evaluate("around", 1.5, 1.0, 0.5) is True
    assert evaluate("around", 3, 1, 1) is False
    assert evaluate("around", D(2020, 1, 1, 1), D(2020, 1, 1), T(hours=1)) is True
