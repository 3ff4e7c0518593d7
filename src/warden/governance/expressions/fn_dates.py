"""Date functions: ``utcNow``, ``addDays`` (policy) and ``dateTimeAdd``/epoch conversions (templates)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import ExpressionEvaluationError
from .registry import POLICY_ONLY, TEMPLATE_ONLY, FunctionScope, registry
from .values import require_int, require_string

__all__ = ["format_policy_datetime", "parse_datetime"]

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


def parse_datetime(text: str) -> datetime | None:
    """Parse an ISO 8601 date or date-time (any number of fraction digits); None when it is not one.

    A value without an offset is taken as UTC. The result is timezone-aware.
    """
    match = _ISO.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    except ValueError:
        return None
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (value - sign * delta).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC)


def format_policy_datetime(value: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss.fffffffZ``, the format of policy's ``utcNow()`` and ``addDays()``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


# .NET custom format specifiers -> strftime, longest first
_NET_TOKENS = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("dddd", "%A"),
    ("ddd", "%a"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("tt", "%p"),
]
_STANDARD = {
    "u": "yyyy-MM-dd HH:mm:ssZ",
    "s": "yyyy-MM-ddTHH:mm:ss",
    "o": "yyyy-MM-ddTHH:mm:ss.fffffffZ",
    "d": "M/d/yyyy",
}


def format_net(value: datetime, fmt: str) -> str:
    """Format ``value`` with a (subset of) .NET date format string."""
    fmt = _STANDARD.get(fmt, fmt)
    out: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "f":
            j = i
            while j < len(fmt) and fmt[j] == "f":
                j += 1
            out.append(f"{value.microsecond:06d}0"[: j - i])
            i = j
            continue
        if fmt[i] == "'":
            j = fmt.find("'", i + 1)
            j = len(fmt) if j < 0 else j
            out.append(fmt[i + 1 : j])
            i = j + 1
            continue
        for token, directive in _NET_TOKENS:
            if fmt.startswith(token, i):
                out.append(value.strftime(directive))
                i += len(token)
                break
        else:
            ch = fmt[i]
            if ch == "M":
                out.append(str(value.month))
            elif ch == "d":
                out.append(str(value.day))
            elif ch == "H":
                out.append(str(value.hour))
            else:
                out.append(ch)
            i += 1
    return "".join(out)


def _require_datetime(function: str, value, position: int = 1) -> datetime:
    parsed = parse_datetime(require_string(function, value, position))
    if parsed is None:
        raise ExpressionEvaluationError(
            f"The template function '{function}' expects an ISO 8601 date-time; got {value!r}"
        )
    return parsed


@registry.function("utcNow", 0, 1)
def _utc_now(ctx, args):
    now = ctx.utc_now()
    if ctx.scope is FunctionScope.POLICY:
        return format_policy_datetime(now)
    return format_net(now.astimezone(UTC), require_string("utcNow", args[0]) if args else "yyyyMMddTHHmmssZ")


@registry.function("addDays", 2, 2, scopes=POLICY_ONLY)
def _add_days(ctx, args):
    base = _require_datetime("addDays", args[0], 1)
    return format_policy_datetime(base + timedelta(days=require_int("addDays", args[1], 2)))


_DURATION = re.compile(
    r"^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration; years count 365 days and months 30 days, as ARM documents."""
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper() in ("P", "-P", "PT"):
        raise ExpressionEvaluationError(f"'{text}' is not an ISO 8601 duration")
    sign, years, months, weeks, days, hours, minutes, seconds = match.groups()
    delta = timedelta(
        days=int(years or 0) * 365 + int(months or 0) * 30 + int(weeks or 0) * 7 + int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(seconds or 0),
    )
    return -delta if sign else delta


@registry.function("dateTimeAdd", 2, 3, scopes=TEMPLATE_ONLY)
def _date_time_add(ctx, args):
    base = _require_datetime("dateTimeAdd", args[0], 1)
    result = base + parse_duration(require_string("dateTimeAdd", args[1], 2))
    if len(args) > 2:
        return format_net(result, require_string("dateTimeAdd", args[2], 3))
    return result.strftime("%Y-%m-%dT%H:%M:%SZ")


@registry.function("dateTimeToEpoch", 1, 1, scopes=TEMPLATE_ONLY)
def _date_time_to_epoch(ctx, args):
    return int(_require_datetime("dateTimeToEpoch", args[0]).timestamp())


@registry.function("dateTimeFromEpoch", 1, 1, scopes=TEMPLATE_ONLY)
def _date_time_from_epoch(ctx, args):
    value = datetime.fromtimestamp(require_int("dateTimeFromEpoch", args[0]), UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
