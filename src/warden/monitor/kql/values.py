"""Kusto values as text: decoding literals and encoding results as the Log Analytics query API does.

Instants and durations are handled as integer 100 ns *ticks* (Kusto's unit) so that a literal
such as ``datetime(2016-12-31 23:59:59.9999999)`` keeps all seven fractional digits until the
generator decides how to store it (see ``types``: storage is microseconds).

Result encoding (``encode_value``) follows the Log Analytics query API (``api.loganalytics.io``):

- ``datetime``: ISO 8601 in UTC with ``Z`` and up to seven fractional digits, trailing zeros
  trimmed (``2018-07-01T00:00:00Z``, ``2015-12-31T23:59:59.9Z``).
- ``timespan``: .NET's constant format ``[-][d.]hh:mm:ss[.fffffff]`` (seven digits when there is
  a fraction: ``04:32:02.4000000``).
- ``dynamic``: the JSON text of the value, in a JSON string. The query API does not nest dynamic
  values in the response; clients parse the text (Grafana's Azure Monitor plugin shows the
  escaped text, grafana/grafana#82026). Datetimes inside dynamic values use seven digits, as
  Kusto serialises them (``2017-01-01T00:00:00.0000000Z``).
- ``guid`` lower-case; ``real`` NaN/Infinity/-Infinity as those strings; ``bool`` true/false;
  ``int``/``long`` JSON integers; ``decimal`` a string (no precision lost in JSON); ``string``
  never null (null is ``""``, as Kusto has no null string).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
import uuid
from decimal import Decimal
from typing import Any

from warden.monitor.kql.types import KustoType

__all__ = [
    "TICKS_PER_DAY",
    "TICKS_PER_HOUR",
    "TICKS_PER_MICROSECOND",
    "TICKS_PER_MILLISECOND",
    "TICKS_PER_MINUTE",
    "TICKS_PER_SECOND",
    "TIMESPAN_UNITS",
    "UNIX_EPOCH_TICKS",
    "datetime_to_ticks",
    "encode_dynamic",
    "encode_value",
    "format_datetime",
    "format_timespan",
    "parse_bool",
    "parse_datetime",
    "parse_guid",
    "parse_timespan",
    "ticks_to_datetime",
    "timedelta_to_ticks",
]

TICKS_PER_MICROSECOND = 10
TICKS_PER_MILLISECOND = 10_000
TICKS_PER_SECOND = 10_000_000
TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
TICKS_PER_HOUR = 60 * TICKS_PER_MINUTE
TICKS_PER_DAY = 24 * TICKS_PER_HOUR
_DT_MIN = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
#: Ticks from 0001-01-01 to the Unix epoch: what a DuckDB epoch value must be offset by.
UNIX_EPOCH_TICKS = 621_355_968_000_000_000
_MAX_TICKS = 3_155_378_975_999_999_999  # 9999-12-31T23:59:59.9999999


# --------------------------------------------------------------------------- instants and spans


def datetime_to_ticks(value: dt.datetime | dt.date) -> int:
    """Return the ticks since 0001-01-01T00:00:00Z of a datetime (naive means UTC) or a date."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - _DT_MIN
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * TICKS_PER_MICROSECOND


def ticks_to_datetime(ticks: int) -> dt.datetime:
    """Return the aware UTC datetime of a tick count, truncated to microseconds.

    Raises OverflowError outside 0001-01-01..9999-12-31.
    """
    if not 0 <= ticks <= _MAX_TICKS:
        raise OverflowError(f"datetime ticks out of range: {ticks}")
    return _DT_MIN + dt.timedelta(microseconds=ticks // TICKS_PER_MICROSECOND)


def format_datetime(value: dt.datetime | dt.date | int, *, fixed_digits: bool = False) -> str:
    """Return a datetime (or tick count) as ISO 8601 UTC text with ``Z``.

    The fraction has up to seven digits with trailing zeros trimmed, or exactly seven with
    ``fixed_digits`` (Kusto's form inside dynamic values). Raises OverflowError out of range.
    """
    if isinstance(value, dt.datetime):
        # the common case (every stored datetime), formatted without the detour through ticks
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        head = value.isoformat(timespec="seconds")
        frac = f"{value.microsecond:06d}0" if value.microsecond else ""
        if not fixed_digits:
            frac = frac.rstrip("0")
        elif not frac:
            frac = "0000000"
        return f"{head}.{frac}Z" if frac else f"{head}Z"
    ticks = value if isinstance(value, int) else datetime_to_ticks(value)
    day = ticks_to_datetime(ticks - ticks % TICKS_PER_SECOND)
    head = f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{day.hour:02d}:{day.minute:02d}:{day.second:02d}"
    frac = f"{ticks % TICKS_PER_SECOND:07d}"
    if not fixed_digits:
        frac = frac.rstrip("0")
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def format_timespan(ticks: int | dt.timedelta) -> str:
    """Return a duration as ``[-][d.]hh:mm:ss[.fffffff]`` (.NET's constant TimeSpan format)."""
    if isinstance(ticks, dt.timedelta):
        ticks = timedelta_to_ticks(ticks)
    sign = "-" if ticks < 0 else ""
    rest = abs(ticks)
    days, rest = divmod(rest, TICKS_PER_DAY)
    hours, rest = divmod(rest, TICKS_PER_HOUR)
    minutes, rest = divmod(rest, TICKS_PER_MINUTE)
    seconds, frac = divmod(rest, TICKS_PER_SECOND)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{frac:07d}" if frac else text


def timedelta_to_ticks(value: dt.timedelta) -> int:
    """Return the tick count of a timedelta."""
    return (value.days * 86_400 + value.seconds) * TICKS_PER_SECOND + value.microseconds * TICKS_PER_MICROSECOND


# --------------------------------------------------------------------------------- parsing dates

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
# RFC 822 zones (military single letters other than Z are not worth the ambiguity).
_ZONES = {"gmt": 0, "ut": 0, "utc": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5}
_ZONES |= {"mst": -7, "mdt": -6, "pst": -8, "pdt": -7}
_ZONE = r"(?P<zone>[a-z]{1,3}|[+-]\d{2}:?\d{2})"
_CLOCK = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<F>\d+))?)?"

_ISO = re.compile(
    r"(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    rf"(?:[t ]{_CLOCK}\s*(?P<zone>z|[+-]\d{{2}}(?::?\d{{2}})?|gmt|utc)?)?"
)
_DAY_MONTH_YEAR = r"(?P<d>\d{1,2})(?P<sep>[ -])(?P<b>[a-z]{3})(?P=sep)(?P<Y>\d{2}|\d{4})"
# RFC 822 separates day, month and year with spaces, RFC 850 with dashes; otherwise they agree.
_RFC = re.compile(rf"(?:{_WEEKDAY},?\s+)?{_DAY_MONTH_YEAR}\s+{_CLOCK}(?:\s+{_ZONE})?")


def _zone_minutes(zone: str | None) -> int | None:
    if not zone:
        return 0
    zone = zone.lower()
    if zone in _ZONES:
        return _ZONES[zone] * 60
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", zone)
    if not match:
        return None
    minutes = int(match[2]) * 60 + int(match[3] or 0)
    return -minutes if match[1] == "-" else minutes


def _year(text: str) -> int:
    # Two-digit years use .NET's default window: 00-29 -> 20xx, 30-99 -> 19xx.
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 30 else 1900
    return year


def parse_datetime(text: str) -> int | None:
    """Return the ticks of a Kusto datetime literal's text, or None if Kusto would not accept it.

    Accepted (as ``datetime(...)`` and ``todatetime()`` accept them): ISO 8601 with ``T`` or a
    space, optional seconds, up to seven significant fractional digits (more are truncated) and
    an optional ``Z``/offset; the sortable forms with one-digit month/day; RFC 822
    (``Sat, 8 Nov 14 15:05:02 GMT``) and RFC 850 (``Saturday, 08-Nov-14 15:05:02 GMT``).
    A value without a zone is UTC.
    """
    text = text.strip().lower()
    for pattern in (_ISO, _RFC):
        match = pattern.fullmatch(text)
        if match:
            break
    else:
        return None
    parts = match.groupdict()
    month = int(parts["m"]) if parts.get("m") else _MONTHS.get(parts.get("b") or "")
    offset = _zone_minutes(parts.get("zone"))
    if month is None or offset is None:
        return None
    try:
        base = dt.datetime(
            _year(parts["Y"]),
            month,
            int(parts["d"]),
            int(parts.get("H") or 0),
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None
    fraction = int((parts.get("F") or "").ljust(7, "0")[:7])
    ticks = datetime_to_ticks(base) + fraction - offset * TICKS_PER_MINUTE
    return ticks if 0 <= ticks <= _MAX_TICKS else None


# --------------------------------------------------------------------------------- parsing spans

#: Every unit suffix of a timespan literal and the ticks it stands for.
TIMESPAN_UNITS: dict[str, int] = {}
for _names, _ticks in (
    ("d day days", TICKS_PER_DAY),
    ("h hr hrs hour hours", TICKS_PER_HOUR),
    ("m min mins minute minutes", TICKS_PER_MINUTE),
    ("s sec secs second seconds", TICKS_PER_SECOND),
    ("ms milli millis millisec millisecond milliseconds", TICKS_PER_MILLISECOND),
    ("micro micros microsec microsecond microseconds", TICKS_PER_MICROSECOND),
    ("tick ticks", 1),
):
    TIMESPAN_UNITS |= dict.fromkeys(_names.split(), _ticks)

_SPAN_UNIT = re.compile(r"(?P<sign>[+-]?)(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)")
_SPAN_CLOCK = re.compile(
    r"(?P<sign>-?)(?:(?P<d>\d+)\.)?(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:\.(?P<F>\d{1,7}))?)?"
)


def _decimal_ticks(number: str, unit_ticks: int) -> int:
    # Decimal arithmetic so that 1.5h or 0.1s is exact; fractions of a tick are truncated.
    return int(Decimal(number) * unit_ticks)


def parse_timespan(text: str) -> int | None:
    """Return the ticks of a Kusto timespan literal's text, or None if it is not one.

    Accepted: a number with a unit (``2d``, ``1.5h``, ``30m``, ``0.1s``, ``100ms``,
    ``10microsecond``, ``1tick``, ``15 seconds``), a bare number meaning days (``time(2)``), and
    the clock form ``[-][d.]hh:mm[:ss[.fffffff]]`` (``1.02:03:04.5``, ``00:01:00``).
    """
    text = text.strip().lower()
    match = _SPAN_CLOCK.fullmatch(text)
    if match:
        hours, minutes, seconds = int(match["H"]), int(match["M"]), int(match["S"] or 0)
        if hours > 23 or minutes > 59 or seconds > 59:
            return None
        ticks = int(match["d"] or 0) * TICKS_PER_DAY + hours * TICKS_PER_HOUR + minutes * TICKS_PER_MINUTE
        ticks += seconds * TICKS_PER_SECOND + int((match["F"] or "").ljust(7, "0"))
        return -ticks if match["sign"] else ticks
    match = _SPAN_UNIT.fullmatch(text)
    if not match:
        return None
    unit = TIMESPAN_UNITS.get(match["unit"] or "d")
    if unit is None:
        return None
    ticks = _decimal_ticks(match["num"], unit)
    return -ticks if match["sign"] == "-" else ticks


# ------------------------------------------------------------------------------ other literals


def parse_guid(text: str) -> str | None:
    """Return a GUID literal's canonical lower-case text, or None if it is not a GUID.

    Accepts the 8-4-4-4-12 form, optionally in braces, and the 32-hex-digit form.
    """
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def parse_bool(text: str) -> bool | None:
    """Return the value of a Kusto bool literal (``true``/``false``, any case; ``1``/``0``), or None."""
    return {"true": True, "false": False, "1": True, "0": False}.get(text.strip().lower())


# ------------------------------------------------------------------------------------- encoding


def _encode_real(value: Any) -> float | str | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def _encode_decimal(value: Any) -> str | None:
    if value is None:
        return None
    number = Decimal(value)
    if not number.is_finite():
        return "NaN" if number.is_nan() else ("Infinity" if number > 0 else "-Infinity")
    if number == 0:
        return "0"
    # normalize() drops trailing zeros; 'f' keeps 7E+8 from printing in exponent form.
    return format(number.normalize(), "f")


def _encode_timespan(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):  # Arrow MonthDayNano
        days = value.months * 30 + value.days
        return format_timespan(days * TICKS_PER_DAY + value.nanoseconds // 100)
    return format_timespan(int(value))


def _jsonable(value: Any) -> Any:
    """Return a nested value with datetimes, timedeltas, UUIDs and decimals made JSON-friendly."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return format_datetime(value, fixed_digits=True)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return _encode_real(value)
    return value


def encode_dynamic(value: Any) -> str | None:
    """Return a dynamic value as compact JSON text, or None for null.

    ``value`` is JSON text (how DuckDB returns a JSON column) or an already decoded structure
    (lists, dicts, scalars, as Arrow returns a LIST or STRUCT). Text that is not valid JSON is
    treated as a JSON string, as ``parse_json`` does with such text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if value is None:
        return None
    return json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def encode_value(kusto_type: KustoType, value: Any) -> Any:
    """Return one cell as the Log Analytics query API encodes a value of ``kusto_type``.

    ``value`` is what ``pyarrow``'s ``to_pylist`` yields for the stored column (see ``types``:
    timespans are tick counts, datetimes naive UTC datetimes). Null stays None except for
    strings, which are ``""``.
    """
    kusto_type = KustoType(kusto_type)
    if kusto_type is KustoType.STRING:
        return "" if value is None else value if isinstance(value, str) else str(value)
    if value is None:
        return None
    match kusto_type:
        case KustoType.BOOL:
            return bool(value)
        case KustoType.INT | KustoType.LONG:
            return int(value)
        case KustoType.REAL:
            return _encode_real(value)
        case KustoType.DECIMAL:
            return _encode_decimal(value)
        case KustoType.DATETIME:
            if isinstance(value, str):
                ticks = parse_datetime(value)
                return value if ticks is None else format_datetime(ticks)
            return format_datetime(value)
        case KustoType.TIMESPAN:
            return _encode_timespan(value)
        case KustoType.GUID:
            return str(value).lower()
        case KustoType.DYNAMIC:
            return encode_dynamic(value)
    raise ValueError(f"not a Kusto type: {kusto_type!r}")
