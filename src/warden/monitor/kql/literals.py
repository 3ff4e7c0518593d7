"""Values of KQL typed literals (``datetime(...)``, ``timespan(...)``, ``guid(...)``...) and type names."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from .tokens import timespan_from_number

TYPE_ALIASES = {
    "bool": "bool",
    "boolean": "bool",
    "datetime": "datetime",
    "date": "datetime",
    "decimal": "decimal",
    "dynamic": "dynamic",
    "guid": "guid",
    "uuid": "guid",
    "uniqueid": "guid",
    "int": "int",
    "int32": "int",
    "long": "long",
    "int64": "long",
    "real": "real",
    "double": "real",
    "float": "real",
    "string": "string",
    "timespan": "timespan",
    "time": "timespan",
}


def canonical_type(word: str) -> str | None:
    """The canonical KQL type for a type word (``double`` -> ``real``), or None if it is no type."""
    return TYPE_ALIASES.get(word.lower())


_DATETIME_RE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?"
)
_US_DATE_RE = re.compile(r"(\d{1,2})[-/](\d{1,2})[-/](\d{4})(?=$|[T ])")
_TIMESPAN_CLOCK_RE = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?")
_TIMESPAN_UNIT_RE = re.compile(r"(-)?(\d+(?:\.\d+)?)\s*([A-Za-z]+)")


def parse_datetime(raw: str) -> datetime:
    """A ``datetime(...)`` body as an aware UTC datetime (ISO 8601 forms and RFC 822).

    Raises:
        ValueError: when ``raw`` is no datetime KQL accepts.
    """
    raw = re.sub(r"\s*([-/:.])\s*", r"\1", raw)  # datetime(2017 - 08 - 01) is accepted too
    m = _US_DATE_RE.match(raw)
    if m:  # MM-DD-YYYY, as .NET's invariant culture reads it
        month, day, year = m.groups()
        raw = f"{year}-{month}-{day}{raw[m.end(3) :]}"
    m = _DATETIME_RE.fullmatch(raw)
    if m:
        year, month, day, hour, minute, second, fraction, zone = m.groups()
        micros = int((fraction or "0").ljust(7, "0")[:6])
        value = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros, tzinfo=UTC
        )
        if zone and zone.upper() != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            value = value.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)
        return value
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"invalid datetime {raw!r}") from exc
    if value is None:
        raise ValueError(f"invalid datetime {raw!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_timespan(raw: str) -> timedelta:
    """A ``timespan(...)`` body: ``1d``, ``-1.5h``, ``[-][d.]hh:mm[:ss[.fffffff]]`` or a number of days.

    Raises:
        ValueError: when ``raw`` is no timespan.
    """
    m = _TIMESPAN_UNIT_RE.fullmatch(raw)
    if m:
        span = timespan_from_number(m.group(2), m.group(3))
        if span is None:
            raise ValueError(f"invalid timespan {raw!r}")
        return -span if m.group(1) else span
    m = _TIMESPAN_CLOCK_RE.fullmatch(raw)
    if m:
        negative, days, hours, minutes, seconds, fraction = m.groups()
        span = timedelta(
            days=int(days or 0),
            hours=int(hours),
            minutes=int(minutes),
            seconds=int(seconds or 0),
            microseconds=int((fraction or "0").ljust(7, "0")[:6]),
        )
        return -span if negative else span
    if re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return timedelta(days=float(raw))
    raise ValueError(f"invalid timespan {raw!r}")


def _parse_real(raw: str) -> float:
    lowered = raw.lower()
    if lowered in ("nan", "+nan", "-nan"):
        return math.nan
    if lowered in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if lowered in ("-inf", "-infinity"):
        return -math.inf
    return float(raw)


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"invalid bool {raw!r}")


def _parse_int(raw: str) -> int:
    return int(raw, 16) if raw.lower().lstrip("+-").startswith("0x") else int(raw)


_PARSERS = {
    "datetime": parse_datetime,
    "timespan": parse_timespan,
    "guid": uuid.UUID,
    "bool": _parse_bool,
    "int": _parse_int,
    "long": _parse_int,
    "real": _parse_real,
    "decimal": Decimal,
}


def typed_literal_value(word: str, raw: str) -> tuple[str, Any]:
    """``(canonical type, Python value)`` of a typed literal ``word(raw)``; ``null`` gives None.

    Raises:
        ValueError: when ``raw`` is not a value of that type.
    """
    kql_type = canonical_type(word)
    if kql_type is None or kql_type not in _PARSERS:
        raise ValueError(f"{word}(...) is not a literal")
    body = raw.strip()
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        body = body[1:-1].strip()
    if body.lower() == "null":
        return kql_type, None
    try:
        return kql_type, _PARSERS[kql_type](body)
    except (ValueError, InvalidOperation, OverflowError) as exc:
        raise ValueError(f"invalid {kql_type} literal {word}({raw})") from exc
