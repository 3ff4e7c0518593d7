"""Values of KQL typed literals (``datetime(...)``, ``timespan(...)``, ``guid(...)``...) for the parser.

The decoding itself lives in :mod:`.values` (instants and durations as 100 ns ticks) and the type
names in :mod:`.types`; this module adapts them to the parser: it accepts the looser datetime
spellings real queries use (``datetime(2017 - 08 - 01)``, ``datetime(1990)``,
``datetime('12-02-2022')``) and raises ``ValueError`` for a body that is no value of its type.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .types import KustoType, lookup_type
from .values import (
    TICKS_PER_MICROSECOND,
    TIMESPAN_UNITS,
    parse_bool,
    parse_datetime,
    parse_guid,
    parse_timespan,
    ticks_to_datetime,
)


def canonical_type(word: str) -> KustoType | None:
    """The Kusto type a type word denotes (``double`` -> ``real``), or None if it is no type."""
    return lookup_type(word)


def timespan_ticks(number: str, unit: str) -> int | None:
    """Ticks of ``number`` ``unit`` (``1.5``, ``h``), or None when ``unit`` is not a timespan unit."""
    unit_ticks = TIMESPAN_UNITS.get(unit.lower())
    if unit_ticks is None:
        return None
    return int(Decimal(number) * unit_ticks)


_SPACED_SEPARATOR = re.compile(r"\s*([-/:])\s*")
_YEAR_FIRST = re.compile(r"(\d{4})(?:[-/.](\d{1,2}))?(?:[-/.](\d{1,2}))?(?=$|[T ])")
_MONTH_FIRST = re.compile(r"(\d{1,2})[-/](\d{1,2})[-/](\d{4})(?=$|[T ])")


def normalize_datetime_text(raw: str) -> str:
    """Rewrite the date part of a datetime body to ``YYYY-MM-DD`` where it is written otherwise.

    ``2017 - 08 - 01`` (spaces), ``2017/08/01``, ``1990`` (year only), ``2020-05`` and the
    month-first ``12-02-2022`` (.NET's invariant culture reads it as December 2).
    """
    text = _SPACED_SEPARATOR.sub(r"\1", raw.strip())
    m = _MONTH_FIRST.match(text)
    if m:
        return f"{m.group(3)}-{m.group(1)}-{m.group(2)}{text[m.end() :]}"
    m = _YEAR_FIRST.match(text)
    if m:
        year, month, day = m.groups()
        return f"{year}-{month or '1'}-{day or '1'}{text[m.end() :]}"
    return text


def _datetime(body: str) -> int:
    ticks = parse_datetime(body)
    if ticks is None:
        ticks = parse_datetime(normalize_datetime_text(body))
    if ticks is None:
        raise ValueError(body)
    return ticks


def _timespan(body: str) -> int:
    ticks = parse_timespan(body)
    if ticks is None:
        raise ValueError(body)
    return ticks


def _guid(body: str) -> str:
    value = parse_guid(body)
    if value is None:
        raise ValueError(body)
    return value


def _bool(body: str) -> bool:
    value = parse_bool(body)
    if value is None:
        raise ValueError(body)
    return value


def _integer(body: str) -> int:
    return int(body, 16) if body.lower().lstrip("+-").startswith("0x") else int(body)


def _real(body: str) -> float:
    special = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}
    lowered = body.lower()
    return special[lowered] if lowered in special else float(body)


_DECODERS = {
    KustoType.DATETIME: _datetime,
    KustoType.TIMESPAN: _timespan,
    KustoType.GUID: _guid,
    KustoType.BOOL: _bool,
    KustoType.INT: _integer,
    KustoType.LONG: _integer,
    KustoType.REAL: _real,
    KustoType.DECIMAL: Decimal,
}


def typed_literal_value(word: str, raw: str) -> tuple[KustoType, Any]:
    """``(type, value)`` of a typed literal ``word(raw)``; ``null`` gives None.

    Values follow :class:`~warden.monitor.kql.ast.Literal`: datetime and timespan as ticks,
    guid as lower-case text, decimal as ``Decimal``.

    Raises:
        ValueError: when ``raw`` is not a value of that type.
    """
    kql_type = canonical_type(word)
    if kql_type not in _DECODERS:
        raise ValueError(f"{word}(...) is not a literal")
    body = raw.strip()
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        body = body[1:-1].strip()
    if body == "null":
        return kql_type, None
    try:
        return kql_type, _DECODERS[kql_type](body)
    except (ValueError, InvalidOperation, OverflowError) as exc:
        raise ValueError(f"invalid {kql_type.value} literal {word}({raw})") from exc


def dynamic_member_value(kql_type: str, value: Any) -> Any:
    """A typed literal's value as it sits inside a ``dynamic`` literal.

    Datetimes become aware UTC ``datetime`` objects and timespans ``timedelta`` (truncated to
    microseconds), which the dynamic encoder serialises as Kusto does; the rest stay as they are.
    """
    if value is None:
        return None
    if kql_type == KustoType.DATETIME:
        return ticks_to_datetime(value)
    if kql_type == KustoType.TIMESPAN:
        return timedelta(microseconds=value // TICKS_PER_MICROSECOND)
    return value
