"""Date and time functions: ``now``, ``ago``, ``startof*``/``endof*`` (day, week, month, year, with
offsets), ``datetime_add``, ``datetime_diff``, ``datetime_part``, ``dayofweek``, ``dayofmonth``,
``dayofyear``, ``hourofday``, ``getmonth``/``monthofyear``, ``getyear``, ``week_of_year``,
``format_datetime``, ``format_timespan``, ``make_datetime``, ``make_timespan`` and the
``unixtime_*_todatetime`` conversions.

Storage (see ``types``): a datetime is a microsecond TIMESTAMP (UTC), a timespan a BIGINT of 100 ns
ticks. Kusto's rules kept here: weeks start on Sunday; ``dayofweek`` is a timespan (days since
Sunday); ``week_of_year`` is the ISO 8601 week; ``datetime_diff`` counts period boundaries crossed
(``datetime_diff('year', 2017-01-01, 2000-12-31)`` is 17), with Sunday weeks; ``endof*`` is one
tick before the next period (stored: one microsecond before); ``format_datetime`` and
``format_timespan`` take .NET-style format strings (``yyyy-MM-dd HH:mm:ss.fff``, ``tt``, ``F``...).
Invalid parts (``make_datetime(2017, 2, 30)``) and out-of-range values give null.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from ..typed import Typed
from ..values import TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_SECOND, ticks_to_datetime
from .common import (
    INTEGER,
    NUMERIC,
    K,
    cast,
    coerce,
    constant_string,
    duckdb_only,
    expect,
    fail,
    literal_typed,
    sql,
    typed,
)
from .registry import CompileContext, scalar


def add_ticks(ctx: CompileContext, moment: Any, ticks: Typed | int, subtract: bool = False) -> exp.Expression:
    """``moment + ticks`` (or minus) as TIMESTAMP SQL; ticks are truncated to microseconds."""
    operator = "-" if subtract else "+"
    if isinstance(ticks, Typed) and ticks.is_constant and ticks.literal is not None:
        ticks = int(ticks.literal)
    if ctx.dialect == "clickhouse":
        micros = (
            exp.Literal.number(ticks // 10) if isinstance(ticks, int) else sql(ctx.dialect, "intDiv($t, 10)", t=ticks)
        )
        return sql(ctx.dialect, f"$m {operator} toIntervalMicrosecond($u)", m=moment, u=micros)
    if isinstance(ticks, int):
        return sql(ctx.dialect, f"$m {operator} to_microseconds({int(ticks / 10)})", m=moment)
    return sql(ctx.dialect, f"$m {operator} to_microseconds(CAST($t / 10 AS BIGINT))", m=moment, t=ticks)


@scalar("now", min_args=0, max_args=1)
def _now(ctx: CompileContext, args: list[Typed]) -> Typed:
    if not args:
        return typed(ctx.now(), K.DATETIME)
    expect("now", args, 0, K.TIMESPAN)
    return typed(add_ticks(ctx, ctx.now(), args[0]), K.DATETIME)


@scalar("ago", min_args=1, max_args=1)
def _ago(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("ago", args, 0, K.TIMESPAN)
    return typed(add_ticks(ctx, ctx.now(), args[0], subtract=True), K.DATETIME)


# ----------------------------------------------------------------------------- start/end of


_UNIT_ADD = {"day": "to_days", "week": "to_days", "month": "to_months", "year": "to_years"}
_CLICKHOUSE_START = {"day": "toStartOfDay", "week": "toStartOfWeek", "month": "toStartOfMonth", "year": "toStartOfYear"}
_CLICKHOUSE_ADD = {"day": "addDays", "week": "addWeeks", "month": "addMonths", "year": "addYears"}


def start_of(ctx: CompileContext, unit: str, moment: Any, offset: Any = None) -> exp.Expression:
    """The start of the day/week (Sunday)/month/year of ``moment``, ``offset`` periods later."""
    if ctx.dialect == "clickhouse":
        start = f"{_CLICKHOUSE_START[unit]}($v{', 0' if unit == 'week' else ''})"
        if unit != "day":
            start = f"toDateTime64({start}, 6, 'UTC')"
        if offset is not None:
            start = f"{_CLICKHOUSE_ADD[unit]}({start}, $o)"
        return sql(ctx.dialect, start, v=moment, o=offset)
    start = f"date_trunc('{unit}', $v)" if unit != "week" else "date_trunc('day', $v) - to_days(dayofweek($v))"
    if offset is not None:
        count = "CAST($o AS INTEGER)" if unit != "week" else "CAST($o * 7 AS INTEGER)"
        start = f"{start} + {_UNIT_ADD[unit]}({count})"
    return sql(ctx.dialect, start, v=moment, o=offset)


def _start_end(unit: str) -> None:
    def arguments(name: str, args: list[Typed]) -> tuple[Typed, Typed | None]:
        expect(name, args, 0, K.DATETIME)
        if len(args) > 1:
            expect(name, args, 1, *INTEGER)
            return args[0], args[1]
        return args[0], None

    @scalar(f"startof{unit}", min_args=1, max_args=2)
    def start(ctx: CompileContext, args: list[Typed]) -> Typed:
        moment, offset = arguments(f"startof{unit}", args)
        return typed(start_of(ctx, unit, moment, offset), K.DATETIME)

    @scalar(f"endof{unit}", min_args=1, max_args=2)
    def end(ctx: CompileContext, args: list[Typed]) -> Typed:
        moment, offset = arguments(f"endof{unit}", args)
        following: Any = sql(ctx.dialect, "$o + 1", o=offset) if offset is not None else exp.Literal.number(1)
        next_start = start_of(ctx, unit, moment, following)
        one = "to_microseconds(1)" if ctx.dialect == "duckdb" else "toIntervalMicrosecond(1)"
        return typed(sql(ctx.dialect, f"$s - {one}", s=next_start), K.DATETIME)


for _unit in ("day", "week", "month", "year"):
    _start_end(_unit)


# ------------------------------------------------------------------------------------- parts


def _part_sql(ctx: CompileContext, function: str, moment: Typed, duck: str, house: str) -> Typed:
    expect(function, [moment], 0, K.DATETIME)
    template = duck if ctx.dialect == "duckdb" else house
    return typed(sql(ctx.dialect, f"CAST({template} AS INTEGER)", v=moment), K.INT)


def _part(names: str, duck: str, house: str) -> None:
    @scalar(*names.split(), min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        return _part_sql(ctx, names.split()[0], args[0], duck, house)


_part("dayofmonth", "day($v)", "toDayOfMonth($v)")
_part("dayofyear", "dayofyear($v)", "toDayOfYear($v)")
_part("hourofday", "hour($v)", "toHour($v)")
_part("getmonth monthofyear", "month($v)", "toMonth($v)")
_part("getyear", "year($v)", "toYear($v)")
_part("week_of_year", "weekofyear($v)", "toISOWeek($v)")


@scalar("dayofweek", min_args=1, max_args=1)
def _dayofweek(ctx: CompileContext, args: list[Typed]) -> Typed:
    expect("dayofweek", args, 0, K.DATETIME)
    if ctx.dialect == "clickhouse":
        return typed(sql(ctx.dialect, f"toInt64(toDayOfWeek($v, 2)) * {TICKS_PER_DAY}", v=args[0]), K.TIMESPAN)
    return typed(sql(ctx.dialect, f"CAST(dayofweek($v) AS BIGINT) * {TICKS_PER_DAY}", v=args[0]), K.TIMESPAN)


_MICROS_IN_SECOND = "CAST(strftime($v, '%f') AS BIGINT)"
_DATETIME_PARTS = {
    "year": "year($v)",
    "quarter": "quarter($v)",
    "month": "month($v)",
    "week_of_year": "weekofyear($v)",
    "weekofyear": "weekofyear($v)",
    "day": "day($v)",
    "dayofyear": "dayofyear($v)",
    "hour": "hour($v)",
    "minute": "minute($v)",
    "second": "second($v)",
    "millisecond": f"{_MICROS_IN_SECOND} // 1000",
    "microsecond": _MICROS_IN_SECOND,
    "nanosecond": f"{_MICROS_IN_SECOND} * 1000",
}


@scalar("datetime_part", "datepart", min_args=2, max_args=2)
def _datetime_part(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "datetime_part")
    part = constant_string("datetime_part", args, 0).lower()
    expect("datetime_part", args, 1, K.DATETIME)
    if part not in _DATETIME_PARTS:
        raise fail("datetime_part", f"unknown part '{part}'")
    moment = args[1]
    if moment.is_constant and moment.literal is not None and part in _TICK_PARTS:
        # A constant keeps its 100 ns ticks (storage would truncate them to microseconds).
        return literal_typed(_TICK_PARTS[part](int(moment.literal)), K.INT)
    return typed(sql(ctx.dialect, f"CAST({_DATETIME_PARTS[part]} AS INTEGER)", v=args[1]), K.INT)


_TICK_PARTS = {
    "millisecond": lambda ticks: ticks % TICKS_PER_SECOND // 10_000,
    "microsecond": lambda ticks: ticks % TICKS_PER_SECOND // 10,
    "nanosecond": lambda ticks: ticks % TICKS_PER_SECOND * 100,
}

_ADD_PARTS = {
    "year": ("to_years", 1),
    "quarter": ("to_months", 3),
    "month": ("to_months", 1),
    "week": ("to_days", 7),
    "day": ("to_days", 1),
    "hour": ("to_hours", 1),
    "minute": ("to_minutes", 1),
    "second": ("to_seconds", 1),
    "millisecond": ("to_milliseconds", 1),
    "microsecond": ("to_microseconds", 1),
}


@scalar("datetime_add", min_args=3, max_args=3)
def _datetime_add(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "datetime_add")
    part = constant_string("datetime_add", args, 0).lower()
    expect("datetime_add", args, 1, *INTEGER)
    expect("datetime_add", args, 2, K.DATETIME)
    if part == "nanosecond":
        return typed(add_ticks(ctx, args[2].sql, sql(ctx.dialect, "$n // 100", n=args[1])), K.DATETIME)
    if part not in _ADD_PARTS:
        raise fail("datetime_add", f"unknown part '{part}'")
    function, factor = _ADD_PARTS[part]
    integral = "INTEGER" if function in {"to_years", "to_months", "to_days"} else "BIGINT"
    body = f"TRY($d + {function}(CAST($n * {factor} AS {integral})))"
    return typed(sql(ctx.dialect, body, d=args[2], n=args[1]), K.DATETIME)


_TICK_DIFFS = {
    "day": TICKS_PER_DAY,
    "hour": TICKS_PER_HOUR,
    "minute": TICKS_PER_MINUTE,
    "second": TICKS_PER_SECOND,
    "millisecond": 10_000,
    "microsecond": 10,
    "nanosecond": 1,
}
_CALENDAR_DIFFS = {"year", "quarter", "month", "week"}


def _diff_constant(part: str, first: int, second: int) -> float | int:
    """datetime_diff of two tick counts: period boundaries crossed from ``second`` to ``first``."""
    if part == "nanosecond":
        return (first - second) * 100
    if part in _TICK_DIFFS:
        unit = _TICK_DIFFS[part]
        return first // unit - second // unit
    a, b = ticks_to_datetime(first), ticks_to_datetime(second)
    match part:
        case "year":
            return a.year - b.year
        case "quarter":
            return (a.year * 4 + (a.month - 1) // 3) - (b.year * 4 + (b.month - 1) // 3)
        case "month":
            return (a.year * 12 + a.month) - (b.year * 12 + b.month)
    # Sunday weeks: days between the Sundays starting each week.
    sunday_a = first // TICKS_PER_DAY - (a.weekday() + 1) % 7
    sunday_b = second // TICKS_PER_DAY - (b.weekday() + 1) % 7
    return float((sunday_a - sunday_b) // 7)


_DIFF_PARTS = {"year", "quarter", "month", "day", "hour", "minute", "second", "millisecond", "microsecond"}


@scalar("datetime_diff", min_args=3, max_args=3)
def _datetime_diff(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "datetime_diff")
    part = constant_string("datetime_diff", args, 0).lower()
    first = expect("datetime_diff", args, 1, K.DATETIME)
    second = expect("datetime_diff", args, 2, K.DATETIME)
    known = part in _TICK_DIFFS or part in _CALENDAR_DIFFS
    if known and first.is_constant and second.is_constant and None not in (first.literal, second.literal):
        # Constants keep their 100 ns ticks (storage truncates to microseconds).
        difference = _diff_constant(part, int(first.literal), int(second.literal))
        return literal_typed(difference, K.REAL if part == "week" else K.LONG)
    if part == "week":
        # Sunday weeks; Kusto's engine types this one part as a real (the other parts are longs).
        start1, start2 = start_of(ctx, "week", first), start_of(ctx, "week", second)
        body = "CAST(date_diff('day', $b, $a) // 7 AS DOUBLE)"
        return typed(sql(ctx.dialect, body, a=start1, b=start2), K.REAL)
    if part == "nanosecond":
        return typed(sql(ctx.dialect, "date_diff('microsecond', $b, $a) * 1000", a=first, b=second), K.LONG)
    if part not in _DIFF_PARTS:
        raise fail("datetime_diff", f"unknown part '{part}'")
    return typed(sql(ctx.dialect, f"date_diff('{part}', $b, $a)", a=first, b=second), K.LONG)


# -------------------------------------------------------------------------------- construction


@scalar("make_datetime", min_args=1, max_args=6)
def _make_datetime(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "make_datetime")
    if len(args) == 1:
        from .conversion import convert

        return convert(ctx, args[0], K.DATETIME)
    if len(args) < 3:
        raise fail("make_datetime", "expects year, month and day")
    for i in range(len(args)):
        expect("make_datetime", args, i, *NUMERIC)
    parts = [coerce(a, K.LONG) if i < 5 else coerce(a, K.REAL) for i, a in enumerate(args)]
    while len(parts) < 5:
        parts.append(exp.Literal.number(0))
    if len(parts) < 6:
        parts.append(exp.Literal.number("0.0"))
    names = "abcdef"
    body = "TRY(make_timestamp($a, $b, $c, $d, $e, $f))"
    return typed(sql(ctx.dialect, body, **dict(zip(names, parts, strict=True))), K.DATETIME)


@scalar("make_timespan", min_args=1, max_args=4)
def _make_timespan(ctx: CompileContext, args: list[Typed]) -> Typed:
    if len(args) == 1:
        from .conversion import convert

        return convert(ctx, args[0], K.TIMESPAN)
    for i in range(len(args)):
        expect("make_timespan", args, i, *NUMERIC)
    if len(args) == 4:
        day, hour, minute, second = args
    else:
        day, (hour, minute), second = None, args[:2], (args[2] if len(args) > 2 else None)
    terms = []
    values: dict[str, Any] = {}
    for key, value, unit in (
        ("d", day, TICKS_PER_DAY),
        ("h", hour, TICKS_PER_HOUR),
        ("m", minute, TICKS_PER_MINUTE),
        ("s", second, TICKS_PER_SECOND),
    ):
        if value is not None:
            if key == "s":
                values[key] = coerce(value, K.REAL)
            elif value.type in INTEGER:
                values[key] = cast(value.sql, K.LONG, ctx.dialect)
            else:
                values[key] = sql(ctx.dialect, "TRY_CAST(trunc($v) AS BIGINT)", v=value)
            terms.append(f"${key} * {unit}")
    body = f"TRY_CAST({' + '.join(terms)} AS BIGINT)"
    return typed(sql(ctx.dialect, body, **values), K.TIMESPAN)


def _unixtime(name: str, per_second: int) -> None:
    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        expect(name, args, 0, *NUMERIC)
        value = args[0]
        if value.type in INTEGER:
            if per_second >= 1_000_000:
                micros = f"CAST($v AS BIGINT) // {per_second // 1_000_000}"
            else:
                micros = f"CAST($v AS BIGINT) * {1_000_000 // per_second}"
        else:
            micros = f"CAST(round(CAST($v AS DOUBLE) * {1_000_000 / per_second!r}) AS BIGINT)"
        body = f"TRY(CASE WHEN year(make_timestamp({micros})) BETWEEN 1 AND 9999 THEN make_timestamp({micros}) END)"
        return typed(sql(ctx.dialect, body, v=value), K.DATETIME)


_unixtime("unixtime_seconds_todatetime", 1)
_unixtime("unixtime_milliseconds_todatetime", 1_000)
_unixtime("unixtime_microseconds_todatetime", 1_000_000)
_unixtime("unixtime_nanoseconds_todatetime", 1_000_000_000)


# ----------------------------------------------------------------------------------- formats

_DATETIME_TOKENS = re.compile(r"d+|f+|F+|h+|H+|m+|M+|s+|y+|t+|\\.|'[^']*'|\"[^\"]*\"|.", re.S)


def _fraction(digits_sql: str, count: int, trimmed: bool) -> str:
    """SQL of the first ``count`` of seven fraction digits (``trimmed``: trailing zeros dropped)."""
    text = f"left({digits_sql}, {count})"
    return f"rtrim({text}, '0')" if trimmed else text


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _format_pieces(fmt: str, piece_of) -> list[str]:
    """SQL pieces of a .NET-style format: each token through ``piece_of``; other text literal. A
    '.' right before an ``F`` token disappears with an empty fraction, as in .NET."""
    pieces: list[str] = []
    tokens = _DATETIME_TOKENS.findall(fmt)
    for i, token in enumerate(tokens):
        if token.startswith("\\") and len(token) == 2:
            pieces.append(_literal(token[1]))
        elif token[0] in "'\"" and len(token) >= 2 and token[-1] == token[0]:
            pieces.append(_literal(token[1:-1]))
        elif token == "." and i + 1 < len(tokens) and tokens[i + 1].startswith("F"):
            following = piece_of(tokens[i + 1])
            pieces.append(f"(CASE WHEN {following} = '' THEN '' ELSE '.' END)")
        else:
            piece = piece_of(token)
            pieces.append(piece if piece is not None else _literal(token))
    return pieces


def _datetime_piece(token: str) -> str | None:
    letter, count = token[0], len(token)
    fraction = "(strftime($v, '%f') || '0')"
    match letter:
        case "d":
            return {1: "CAST(day($v) AS VARCHAR)", 2: "strftime($v, '%d')", 3: "strftime($v, '%a')"}.get(
                count, "strftime($v, '%A')"
            )
        case "f" | "F":
            return _fraction(fraction, min(count, 7), letter == "F")
        case "h":
            return "strftime($v, '%I')" if count >= 2 else "CAST((hour($v) + 11) % 12 + 1 AS VARCHAR)"
        case "H":
            return "strftime($v, '%H')" if count >= 2 else "CAST(hour($v) AS VARCHAR)"
        case "m":
            return "strftime($v, '%M')" if count >= 2 else "CAST(minute($v) AS VARCHAR)"
        case "M":
            return {1: "CAST(month($v) AS VARCHAR)", 2: "strftime($v, '%m')", 3: "strftime($v, '%b')"}.get(
                count, "strftime($v, '%B')"
            )
        case "s":
            return "strftime($v, '%S')" if count >= 2 else "CAST(second($v) AS VARCHAR)"
        case "y":
            if count == 1:
                return "CAST(year($v) % 100 AS VARCHAR)"
            if count == 2:
                return "lpad(CAST(year($v) % 100 AS VARCHAR), 2, '0')"
            return f"lpad(CAST(year($v) AS VARCHAR), {count}, '0')"
        case "t":
            return "strftime($v, '%p')" if count >= 2 else "left(strftime($v, '%p'), 1)"
    return None


def _format(ctx: CompileContext, name: str, args: list[Typed], kind: K, piece_of) -> Typed:
    duckdb_only(ctx, name)
    expect(name, args, 0, kind)
    fmt = constant_string(name, args, 1)
    if not fmt:
        raise fail(name, "the format must be a non-empty constant string")
    pieces = _format_pieces(fmt, piece_of)
    body = "CASE WHEN $v IS NULL THEN '' ELSE " + " || ".join(pieces) + " END"
    return typed(sql(ctx.dialect, body, v=args[0]), K.STRING)


@scalar("format_datetime", min_args=2, max_args=2)
def _format_datetime(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _format(ctx, "format_datetime", args, K.DATETIME, _datetime_piece)


def _timespan_piece(token: str) -> str | None:
    letter, count = token[0], len(token)
    magnitude = "abs($v)"
    match letter:
        case "d":
            return f"lpad(CAST({magnitude} // {TICKS_PER_DAY} AS VARCHAR), {count}, '0')"
        case "h" | "H":
            hours = f"CAST({magnitude} // {TICKS_PER_HOUR} % 24 AS VARCHAR)"
            return f"lpad({hours}, 2, '0')" if count >= 2 else hours
        case "m":
            minutes = f"CAST({magnitude} // {TICKS_PER_MINUTE} % 60 AS VARCHAR)"
            return f"lpad({minutes}, 2, '0')" if count >= 2 else minutes
        case "s":
            seconds = f"CAST({magnitude} // {TICKS_PER_SECOND} % 60 AS VARCHAR)"
            return f"lpad({seconds}, 2, '0')" if count >= 2 else seconds
        case "f" | "F":
            digits = f"lpad(CAST({magnitude} % {TICKS_PER_SECOND} AS VARCHAR), 7, '0')"
            return _fraction(digits, min(count, 7), letter == "F")
    return None


@scalar("format_timespan", min_args=2, max_args=2)
def _format_timespan(ctx: CompileContext, args: list[Typed]) -> Typed:
    return _format(ctx, "format_timespan", args, K.TIMESPAN, _timespan_piece)
