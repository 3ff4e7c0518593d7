"""Pure time logic for PIM: ISO 8601 durations, schedule windows, coverage and overlap.

Nothing here touches the database or HTTP; it takes values and returns values (or raises
``ScheduleError`` with the field at fault), so the request handlers and tests share one truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# PnYnMnDTnHnMnS without years and months: their length in hours is not fixed, and Azure's
# PIM durations are written in days, hours and minutes (P365D, PT8H, PT30M).
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
NO_EXPIRATION = "NoExpiration"
AFTER_DURATION = "AfterDuration"
AFTER_DATE_TIME = "AfterDateTime"
EXPIRATION_TYPES = (NO_EXPIRATION, AFTER_DURATION, AFTER_DATE_TIME)


class ScheduleError(ValueError):
    """A schedule value that cannot be used; ``field`` names the offending property."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_duration(text: Any, field: str = "duration") -> timedelta:
    """``PT8H`` → 8 hours. Raise ``ScheduleError`` for anything that is not a positive
    ISO 8601 duration in weeks, days, hours, minutes and seconds."""
    if not isinstance(text, str):
        raise ScheduleError(f"'{field}' must be an ISO 8601 duration such as 'PT8H'.", field)
    match = _DURATION.match(text.strip().upper())
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ScheduleError(f"'{text}' is not an ISO 8601 duration such as 'PT8H' or 'P365D'.", field)
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    result = timedelta(**parts)
    if result <= timedelta(0):
        raise ScheduleError(f"The duration '{text}' must be longer than zero.", field)
    return result


def format_duration(value: timedelta) -> str:
    """A timedelta in ISO 8601 (``P1DT2H``; whole seconds)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "" if days else "T0S")


def parse_datetime(text: Any, field: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    if not isinstance(text, str):
        raise ScheduleError(f"'{field}' must be an ISO 8601 date and time.", field)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ScheduleError(f"'{text}' is not an ISO 8601 date and time.", field) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """When a schedule is in force: from ``start`` until ``end`` (exclusive; ``None`` = forever)."""

    start: datetime
    end: datetime | None

    @property
    def duration(self) -> timedelta | None:
        return None if self.end is None else self.end - self.start

    def covers(self, moment: datetime) -> bool:
        """Whether the schedule is in force at ``moment``."""
        return self.start <= moment and (self.end is None or moment < self.end)

    def overlaps(self, other: Window) -> bool:
        """Whether the two windows share any instant."""
        starts_before_other_ends = other.end is None or self.start < other.end
        other_starts_before_self_ends = self.end is None or other.start < self.end
        return starts_before_other_ends and other_starts_before_self_ends

    def expired(self, moment: datetime) -> bool:
        return self.end is not None and self.end <= moment

    def clipped_to(self, outer: Window) -> Window:
        """This window cut to end no later than ``outer`` (an activation never outlives its eligibility)."""
        if outer.end is None or (self.end is not None and self.end <= outer.end):
            return self
        return Window(self.start, outer.end)


def window_from_schedule_info(info: Any, now: datetime) -> Window:
    """The window an ARM ``scheduleInfo`` asks for: ``startDateTime`` (default now) and an
    ``expiration`` of ``NoExpiration``, ``AfterDuration`` (``duration``) or ``AfterDateTime``
    (``endDateTime``). Raise ``ScheduleError`` when it is malformed or ends before it starts."""
    if info is None:
        info = {}
    if not isinstance(info, dict):
        raise ScheduleError("'scheduleInfo' must be an object.", "scheduleInfo")
    start = now if info.get("startDateTime") in (None, "") else parse_datetime(info["startDateTime"], "startDateTime")
    expiration = info.get("expiration") or {}
    if not isinstance(expiration, dict):
        raise ScheduleError("'scheduleInfo.expiration' must be an object.", "scheduleInfo.expiration")
    kind = expiration.get("type")
    if kind is None:
        # Azure infers the type from what is given.
        kind = (
            AFTER_DATE_TIME
            if expiration.get("endDateTime")
            else AFTER_DURATION
            if expiration.get("duration")
            else NO_EXPIRATION
        )
    if kind not in EXPIRATION_TYPES:
        raise ScheduleError(
            f"The expiration type '{kind}' is not one of {', '.join(EXPIRATION_TYPES)}.", "scheduleInfo.expiration.type"
        )
    if kind == NO_EXPIRATION:
        return Window(start, None)
    if kind == AFTER_DURATION:
        return Window(start, start + parse_duration(expiration.get("duration"), "scheduleInfo.expiration.duration"))
    end = parse_datetime(expiration.get("endDateTime"), "scheduleInfo.expiration.endDateTime")
    if end <= start:
        raise ScheduleError("'endDateTime' must be after 'startDateTime'.", "scheduleInfo.expiration.endDateTime")
    return Window(start, end)


def expiration_json(window: Window) -> dict[str, Any]:
    """The ``expiration`` object ARM answers for a window."""
    if window.end is None:
        return {"type": NO_EXPIRATION, "endDateTime": None, "duration": None}
    return {"type": AFTER_DURATION, "endDateTime": None, "duration": format_duration(window.end - window.start)}
