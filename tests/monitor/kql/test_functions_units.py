"""convert_* unit conversions: Kusto's documented examples and independently known factors."""

from __future__ import annotations

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate


@pytest.mark.parametrize(
    ("function", "source", "target", "expected"),
    [
        ("convert_length", "Meter", "Foot", 1.2 / 0.3048),
        ("convert_length", "Mile", "Kilometer", 1.2 * 1.609344),
        ("convert_energy", "Joule", "BritishThermalUnit", 0.0011373805443759806),
        ("convert_energy", "KilowattHour", "Megajoule", 1.2 * 3.6),
        ("convert_force", "Newton", "Decanewton", 0.12),
        ("convert_speed", "MeterPerSecond", "CentimeterPerHour", 432000.0),
        ("convert_speed", "Knot", "KilometerPerHour", 1.2 * 1.852),
        ("convert_mass", "Kilogram", "Pound", 1.2 / 0.45359237),
        ("convert_angle", "Degree", "Arcminute", 72.0),
        ("convert_volume", "CubicMeter", "Liter", 1200.0),
        ("convert_volume", "CubicMeter", "AcreFoot", 1.2 / 1233.48183754752),
        ("convert_temperature", "Kelvin", "DegreeCelsius", 1.2 - 273.15),
        ("convert_temperature", "DegreeCelsius", "DegreeFahrenheit", 1.2 * 9 / 5 + 32),
    ],
)
def test_conversions(function: str, source: str, target: str, expected: float) -> None:
    assert evaluate(function, 1.2, source, target) == pytest.approx(expected, rel=1e-12)


def test_units_from_columns() -> None:
    assert evaluate("convert_length", 2.0, Raw("'Inch'", "string"), Raw("'Centimeter'", "string")) == pytest.approx(
        5.08
    )
    assert evaluate("convert_temperature", 212.0, Raw("'DegreeFahrenheit'", "string"), "DegreeCelsius") == (
        pytest.approx(100.0)
    )


def test_unknown_units_and_nulls_give_null() -> None:
    assert evaluate("convert_length", 1.2, "Meter", "Furlong") is None
    assert evaluate("convert_length", 1.2, "meter", "Foot") is None  # names are case-sensitive
    assert evaluate("convert_mass", 1.2, Raw("'Parsec'", "string"), "Gram") is None
    assert evaluate("convert_force", Null("real"), "Newton", "Dyn") is None
    assert evaluate("convert_force", 3, "Newton", "Dyn") == pytest.approx(3e5)
