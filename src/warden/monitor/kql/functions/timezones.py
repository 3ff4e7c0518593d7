"""Time zones: ``datetime_utc_to_local(utc, tz)`` and ``datetime_local_to_utc(local, tz)``.

DuckDB's time-zone support lives in its ICU extension, which the sandbox may not load, so the
zone's rules come from Python's ``zoneinfo`` (the IANA database of the host) at compile time: the
UTC instants where the zone's offset changes between 1900 and 2100, and the offsets, become list
literals that SQL searches. The zone must therefore be a constant; an unknown zone gives null.

``datetime_local_to_utc`` resolves local times as Kusto's example for Europe/Brussels shows: a
local time skipped by a spring-forward gap takes the later offset (02:00 -> 00:00 UTC), and an
ambiguous one in the autumn overlap is read as standard time. Both follow from converting with
the zone's smaller offset around that time first, then with the offset at the instant found.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

from ..typed import Typed
from .common import K, constant_string, duckdb_only, expect, literal_typed, sql, typed
from .registry import CompileContext, scalar

_FIRST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_DAYS = 73049  # to 2100-01-01
_DAY_US = 86_400_000_000


@lru_cache(maxsize=64)
def transitions(zone: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(UTC instants in µs since 1970 where the offset changes, offsets in µs: one more than the
    instants, the first being the offset before them) for an IANA zone; None when unknown."""
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None

    def offset(moment: dt.datetime) -> int:
        delta = moment.astimezone(tz).utcoffset() or dt.timedelta(0)
        return (delta.days * 86400 + delta.seconds) * 1_000_000

    instants: list[int] = []
    offsets = [offset(_FIRST)]
    for day in range(1, _DAYS + 1):
        moment = _FIRST + dt.timedelta(days=day)
        current = offset(moment)
        if current == offsets[-1]:
            continue
        low, high = 0, 86400  # seconds into the previous day: find the first with the new offset
        while low < high:
            middle = (low + high) // 2
            if offset(moment - dt.timedelta(days=1) + dt.timedelta(seconds=middle)) == current:
                high = middle
            else:
                low = middle + 1
        start = moment - dt.timedelta(days=1) + dt.timedelta(seconds=low)
        instants.append(int(start.timestamp()) * 1_000_000)
        offsets.append(current)
    return tuple(instants), tuple(offsets)


def _offset_at(instant: str) -> str:
    """SQL: the zone's offset (µs) at ``instant`` (µs since 1970, UTC)."""
    return f"$o[len(list_filter($t, lambda __x: __x <= {instant})) + 1]"


def _convert(name: str, to_local: bool) -> None:
    @scalar(name, min_args=2, max_args=2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        moment = expect(name, args, 0, K.DATETIME)
        rules = transitions(constant_string(name, args, 1))
        if rules is None:
            return literal_typed(None, K.DATETIME)
        instants = "CAST([" + ", ".join(str(t) for t in rules[0]) + "] AS BIGINT[])"
        offsets = "CAST([" + ", ".join(str(o) for o in rules[1]) + "] AS BIGINT[])"
        if to_local:
            body = f"make_timestamp(epoch_us($m) + {_offset_at('epoch_us($m)')})"
        else:
            first = f"least({_offset_at(f'epoch_us($m) - {_DAY_US}')}, {_offset_at(f'epoch_us($m) + {_DAY_US}')})"
            body = f"make_timestamp(epoch_us($m) - {_offset_at(f'(epoch_us($m) - {first})')})"
        text = body.replace("$t", instants).replace("$o", offsets)
        return typed(sql(ctx.dialect, text, m=moment), K.DATETIME)


_convert("datetime_utc_to_local", to_local=True)
_convert("datetime_local_to_utc", to_local=False)
