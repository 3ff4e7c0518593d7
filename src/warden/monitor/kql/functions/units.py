"""Unit conversions: ``convert_angle``, ``convert_energy``, ``convert_force``, ``convert_length``,
``convert_mass``, ``convert_speed``, ``convert_temperature``, ``convert_volume``.

Kusto converts with the UnitsNet library; the unit names are those its docs list (UnitsNet's names,
prefixed units spelled ``Kilonewton``, ``KilobritishThermalUnit``...). Each unit below is given by
its size in the quantity's base unit (radian, joule, newton, meter, kilogram, meter per second,
cubic meter; temperatures as ``kelvin = a * value + b``), the factors UnitsNet defines. As UnitsNet
does, a value goes to the base unit and from there to the target unit. A unit name that is not in
the list (names are case-sensitive) gives null. ``Tilt`` (an angle defined through ``asin``) is not
supported and gives null.
"""

from __future__ import annotations

from sqlglot import exp

from ..typed import Typed
from .common import NUMERIC, K, coerce, expect, literal_typed, sql, typed
from .registry import CompileContext, scalar

#: Size of each unit in its quantity's base unit.
FACTORS: dict[str, dict[str, float]] = {
    "angle": {
        "Arcminute": 0.0002908882086657216,
        "Arcsecond": 4.84813681109536e-06,
        "Centiradian": 0.01,
        "Deciradian": 0.1,
        "Degree": 0.017453292519943295,
        "Gradian": 0.015707963267948967,
        "Microdegree": 1.7453292519943295e-08,
        "Microradian": 1e-06,
        "Millidegree": 1.7453292519943296e-05,
        "Milliradian": 0.001,
        "Nanodegree": 1.7453292519943298e-11,
        "Nanoradian": 1e-09,
        "NatoMil": 0.0009817477042468104,
        "Radian": 1.0,
        "Revolution": 6.283185307179586,
    },
    "energy": {
        "BritishThermalUnit": 1055.05585262,
        "Calorie": 4.184,
        "DecathermEc": 1055055852.6199999,
        "DecathermImperial": 1055055852.57348,
        "DecathermUs": 1054804000.0,
        "ElectronVolt": 1.602176634e-19,
        "Erg": 1e-07,
        "FootPound": 1.3558179483314003,
        "GigabritishThermalUnit": 1055055852620.0,
        "GigaelectronVolt": 1.6021766339999998e-10,
        "Gigajoule": 1000000000.0,
        "GigawattDay": 86400000000000.0,
        "GigawattHour": 3600000000000.0,
        "HorsepowerHour": 2684519.537456106,
        "Joule": 1.0,
        "KilobritishThermalUnit": 1055055.85262,
        "Kilocalorie": 4184.0,
        "KiloelectronVolt": 1.602176634e-16,
        "Kilojoule": 1000.0,
        "KilowattDay": 86400000.0,
        "KilowattHour": 3600000.0,
        "MegabritishThermalUnit": 1055055852.62,
        "Megacalorie": 4184000.0,
        "MegaelectronVolt": 1.6021766339999998e-13,
        "Megajoule": 1000000.0,
        "MegawattDay": 86400000000.0,
        "MegawattHour": 3600000000.0,
        "Millijoule": 0.001,
        "TeraelectronVolt": 1.602176634e-07,
        "TerawattDay": 8.64e16,
        "TerawattHour": 3600000000000000.0,
        "ThermEc": 105505585.262,
        "ThermImperial": 105505585.257348,
        "ThermUs": 105480400.0,
        "WattDay": 86400.0,
        "WattHour": 3600.0,
    },
    "force": {
        "Decanewton": 10.0,
        "Dyn": 1e-05,
        "KiloPond": 9.80665,
        "KilogramForce": 9.80665,
        "Kilonewton": 1000.0,
        "KilopoundForce": 4448.2216152605,
        "Meganewton": 1000000.0,
        "Micronewton": 1e-06,
        "Millinewton": 0.001,
        "Newton": 1.0,
        "OunceForce": 0.2780138509537812,
        "PoundForce": 4.4482216152605,
        "Poundal": 0.138254954376,
        "ShortTonForce": 8896.443230521,
        "TonneForce": 9806.65,
    },
    "length": {
        "Angstrom": 1e-10,
        "AstronomicalUnit": 149597870700.0,
        "Centimeter": 0.01,
        "Chain": 20.1168,
        "DataMile": 1828.8,
        "Decameter": 10.0,
        "Decimeter": 0.1,
        "DtpPica": 0.004233333333333334,
        "DtpPoint": 0.00035277777777777776,
        "Fathom": 1.8288,
        "Foot": 0.3048,
        "Hand": 0.1016,
        "Hectometer": 100.0,
        "Inch": 0.0254,
        "KilolightYear": 9.46073047258e18,
        "Kilometer": 1000.0,
        "Kiloparsec": 3.08567758128e19,
        "LightYear": 9460730472580000.0,
        "MegalightYear": 9.46073047258e21,
        "Megaparsec": 3.08567758128e22,
        "Meter": 1.0,
        "Microinch": 2.54e-08,
        "Micrometer": 1e-06,
        "Mil": 2.54e-05,
        "Mile": 1609.344,
        "Millimeter": 0.001,
        "Nanometer": 1e-09,
        "NauticalMile": 1852.0,
        "Parsec": 3.08567758128e16,
        "PrinterPica": 0.004217517642175176,
        "PrinterPoint": 0.00035145980351459805,
        "Shackle": 27.432,
        "SolarRadius": 695700000.0,
        "Twip": 1.763888888888889e-05,
        "UsSurveyFoot": 0.3048006096012192,
        "Yard": 0.9144,
    },
    "mass": {
        "Centigram": 1e-05,
        "Decagram": 0.01,
        "Decigram": 0.0001,
        "EarthMass": 5.9722e24,
        "Grain": 6.479891e-05,
        "Gram": 0.001,
        "Hectogram": 0.1,
        "Kilogram": 1.0,
        "Kilopound": 453.59237,
        "Kilotonne": 1000000.0,
        "LongHundredweight": 50.80234544,
        "LongTon": 1016.0469088,
        "Megapound": 453592.37,
        "Megatonne": 1000000000.0,
        "Microgram": 1e-09,
        "Milligram": 1e-06,
        "Nanogram": 1.0000000000000002e-12,
        "Ounce": 0.028349523125,
        "Pound": 0.45359237,
        "ShortHundredweight": 45.359237,
        "ShortTon": 907.18474,
        "Slug": 14.593902937206364,
        "SolarMass": 1.98947e30,
        "Stone": 6.35029318,
        "Tonne": 1000.0,
    },
    "speed": {
        "CentimeterPerHour": 2.777777777777778e-06,
        "CentimeterPerMinute": 0.00016666666666666666,
        "CentimeterPerSecond": 0.01,
        "DecimeterPerMinute": 0.0016666666666666668,
        "DecimeterPerSecond": 0.1,
        "FootPerHour": 8.466666666666666e-05,
        "FootPerMinute": 0.00508,
        "FootPerSecond": 0.3048,
        "InchPerHour": 7.055555555555556e-06,
        "InchPerMinute": 0.00042333333333333334,
        "InchPerSecond": 0.0254,
        "KilometerPerHour": 0.2777777777777778,
        "KilometerPerMinute": 16.666666666666668,
        "KilometerPerSecond": 1000.0,
        "Knot": 0.5144444444444445,
        "MeterPerHour": 0.0002777777777777778,
        "MeterPerMinute": 0.016666666666666666,
        "MeterPerSecond": 1.0,
        "MicrometerPerMinute": 1.6666666666666667e-08,
        "MicrometerPerSecond": 1e-06,
        "MilePerHour": 0.44704,
        "MillimeterPerHour": 2.7777777777777776e-07,
        "MillimeterPerMinute": 1.6666666666666667e-05,
        "MillimeterPerSecond": 0.001,
        "NanometerPerMinute": 1.6666666666666667e-11,
        "NanometerPerSecond": 1e-09,
        "UsSurveyFootPerHour": 8.466683600033866e-05,
        "UsSurveyFootPerMinute": 0.00508001016002032,
        "UsSurveyFootPerSecond": 0.3048006096012192,
        "YardPerHour": 0.000254,
        "YardPerMinute": 0.01524,
        "YardPerSecond": 0.9144,
    },
    "volume": {
        "AcreFoot": 1233.48183754752,
        "AuTablespoon": 2e-05,
        "BoardFoot": 0.002359737216,
        "Centiliter": 1e-05,
        "CubicCentimeter": 1e-06,
        "CubicDecimeter": 0.001,
        "CubicFoot": 0.028316846592,
        "CubicHectometer": 1000000.0,
        "CubicInch": 1.6387064e-05,
        "CubicKilometer": 1000000000.0,
        "CubicMeter": 1.0,
        "CubicMicrometer": 1e-18,
        "CubicMile": 4168181825.4405794,
        "CubicMillimeter": 1e-09,
        "CubicYard": 0.764554857984,
        "Decaliter": 0.01,
        "DecausGallon": 0.03785411784,
        "Deciliter": 0.0001,
        "DeciusGallon": 0.00037854117840000005,
        "HectocubicFoot": 2.8316846592,
        "HectocubicMeter": 100.0,
        "Hectoliter": 0.1,
        "HectousGallon": 0.3785411784,
        "ImperialBeerBarrel": 0.16365924,
        "ImperialGallon": 0.00454609,
        "ImperialOunce": 2.84130625e-05,
        "ImperialPint": 0.00056826125,
        "KilocubicFoot": 28.316846592,
        "KilocubicMeter": 1000.0,
        "KiloimperialGallon": 4.54609,
        "Kiloliter": 1.0,
        "KilousGallon": 3.7854117840000003,
        "Liter": 0.001,
        "MegacubicFoot": 28316.846592,
        "MegaimperialGallon": 4546.09,
        "Megaliter": 1000.0,
        "MegausGallon": 3785.4117840000004,
        "MetricCup": 0.00025,
        "MetricTeaspoon": 5e-06,
        "Microliter": 1e-09,
        "Milliliter": 1e-06,
        "OilBarrel": 0.158987294928,
        "UkTablespoon": 1.5e-05,
        "UsBeerBarrel": 0.117347765304,
        "UsCustomaryCup": 0.0002365882365,
        "UsGallon": 0.003785411784,
        "UsLegalCup": 0.00024,
        "UsOunce": 2.95735295625e-05,
        "UsPint": 0.000473176473,
        "UsQuart": 0.000946352946,
        "UsTablespoon": 1.478676478125e-05,
        "UsTeaspoon": 4.92892159375e-06,
    },
}

#: Temperatures: kelvin = a * value + b.
TEMPERATURES: dict[str, tuple[float, float]] = {
    "DegreeCelsius": (1.0, 273.15),
    "DegreeDelisle": (-0.6666666666666666, 373.15),
    "DegreeFahrenheit": (0.5555555555555556, 255.37222222222223),
    "DegreeNewton": (3.0303030303030303, 273.15),
    "DegreeRankine": (0.5555555555555556, 0.0),
    "DegreeReaumur": (1.25, 273.15),
    "DegreeRoemer": (1.9047619047619047, 258.8642857142857),
    "Kelvin": (1.0, 0.0),
    "MillidegreeCelsius": (0.001, 273.15),
    "SolarTemperature": (5778.0, 0.0),
}


def convert(quantity: str, value: float, source: str, target: str) -> float | None:
    """``value`` in unit ``source`` expressed in unit ``target`` of ``quantity``; None for an unknown unit."""
    a_from, b_from = _affine(quantity, source) or (None, None)
    a_to, b_to = _affine(quantity, target) or (None, None)
    if a_from is None or a_to is None:
        return None
    return (value * a_from + b_from - b_to) / a_to


def _affine(quantity: str, unit: str) -> tuple[float, float] | None:
    if quantity == "temperature":
        return TEMPERATURES.get(unit)
    factor = FACTORS[quantity].get(unit)
    return None if factor is None else (factor, 0.0)


def _unit_sql(ctx: CompileContext, quantity: str, unit: Typed, part: int) -> exp.Expression:
    """SQL of coefficient ``part`` (0: scale, 1: offset) of a unit given as a string expression."""
    units = TEMPERATURES if quantity == "temperature" else {n: (f, 0.0) for n, f in FACTORS[quantity].items()}
    whens = " ".join(f"WHEN {_quote(name)} THEN {coefficients[part]!r}" for name, coefficients in units.items())
    return sql(ctx.dialect, f"CAST(CASE $u {whens} END AS DOUBLE)", u=unit)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _converter(quantity: str) -> None:
    name = f"convert_{quantity}"

    @scalar(name, min_args=3, max_args=3)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        """The value converted between two units of the quantity (real); null for an unknown unit."""
        expect(name, args, 0, *NUMERIC)
        expect(name, args, 1, K.STRING)
        expect(name, args, 2, K.STRING)
        value, source, target = args
        if source.is_constant and target.is_constant:
            a_from, b_from = _affine(quantity, str(source.literal or "")) or (None, None)
            a_to, b_to = _affine(quantity, str(target.literal or "")) or (None, None)
            if a_from is None or a_to is None:
                return literal_typed(None, K.REAL, ctx.dialect)
            if value.is_constant:
                result = (
                    None
                    if value.literal is None
                    else convert(quantity, float(value.literal), *[str(u.literal) for u in (source, target)])
                )
                return literal_typed(result, K.REAL, ctx.dialect)
            parts = {"a": a_from, "b": b_from, "c": b_to, "d": a_to}
        else:
            parts = {
                "a": _unit_sql(ctx, quantity, source, 0),
                "b": _unit_sql(ctx, quantity, source, 1),
                "c": _unit_sql(ctx, quantity, target, 1),
                "d": _unit_sql(ctx, quantity, target, 0),
            }
        real = coerce(value, K.REAL, ctx.dialect)
        return typed(sql(ctx.dialect, "($v * $a + $b - $c) / $d", v=real, **parts), K.REAL)


for _quantity in ("angle", "energy", "force", "length", "mass", "speed", "temperature", "volume"):
    _converter(_quantity)
