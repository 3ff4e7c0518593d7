"""Grandfather-father-son retention of recovery points: which to keep under a policy. Pure; no I/O.

The rules (time-based, as Azure Backup's LongTermRetentionPolicy is):

* **daily** ``count`` days: every point younger than ``count`` days is kept.
* **weekly** ``count`` weeks: in each week (ISO, in the policy's time zone) the newest point on one
  of ``days_of_week`` (any day when empty) is kept while younger than ``count`` weeks.
* **monthly** ``count`` months / **yearly** ``count`` years: the newest point of each calendar
  month / year (optionally only in ``months_of_year``) is kept while younger than the period.
* A point whose ``retain_until`` (an on-demand backup's retain-until date) is still in the future is kept.
* The newest point is always kept, so no policy (or clock jump) can empty an item's history.

``keep`` returns the ids to keep; everything else has expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Point:
    id: str
    time: datetime  # aware
    retain_until: datetime | None = None


@dataclass(frozen=True)
class RetentionRules:
    daily_days: int = 0
    weekly_weeks: int = 0
    weekly_days: frozenset[int] = field(default_factory=frozenset)  # 0 = Monday ... 6 = Sunday
    monthly_months: int = 0
    yearly_years: int = 0
    yearly_months: frozenset[int] = field(default_factory=frozenset)  # 1 = January ... 12
    time_zone: str = "UTC"

    def max_points(self, runs_per_day: int) -> int:
        """Return the most recovery points these rules can keep for one item (Azure caps this at 9,999)."""
        return self.daily_days * runs_per_day + self.weekly_weeks + self.monthly_months + self.yearly_years


def _months_back(now: datetime, months: int) -> datetime:
    """Return ``now`` moved back ``months`` calendar months (day clamped to the month's length)."""
    index = now.year * 12 + (now.month - 1) - months
    year, month = divmod(index, 12)
    day = min(now.day, _days_in_month(year, month + 1))
    return now.replace(year=year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + (month == 12), month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def keep(points: Iterable[Point], rules: RetentionRules, now: datetime) -> set[str]:
    """Return the ids of the points ``rules`` keep at ``now`` (an aware datetime)."""
    ordered = sorted(points, key=lambda p: (p.time, p.id), reverse=True)
    if not ordered:
        return set()
    zone = ZoneInfo(rules.time_zone)
    kept = {ordered[0].id}
    kept |= {p.id for p in ordered if p.retain_until is not None and p.retain_until > now}
    if rules.daily_days:
        cutoff = now - timedelta(days=rules.daily_days)
        kept |= {p.id for p in ordered if p.time > cutoff}
    if rules.weekly_weeks:
        cutoff = now - timedelta(weeks=rules.weekly_weeks)
        eligible = [
            p for p in ordered if not rules.weekly_days or p.time.astimezone(zone).weekday() in rules.weekly_days
        ]
        kept |= _newest_per_bucket(eligible, lambda t: t.isocalendar()[:2], zone, cutoff)
    if rules.monthly_months:
        cutoff = _months_back(now, rules.monthly_months)
        kept |= _newest_per_bucket(ordered, lambda t: (t.year, t.month), zone, cutoff)
    if rules.yearly_years:
        cutoff = _months_back(now, 12 * rules.yearly_years)
        eligible = [
            p for p in ordered if not rules.yearly_months or p.time.astimezone(zone).month in rules.yearly_months
        ]
        kept |= _newest_per_bucket(eligible, lambda t: t.year, zone, cutoff)
    return kept


def _newest_per_bucket(newest_first: list[Point], bucket, zone: ZoneInfo, cutoff: datetime) -> set[str]:  # type: ignore[no-untyped-def]
    seen: set[object] = set()
    out: set[str] = set()
    for point in newest_first:
        label = bucket(point.time.astimezone(zone))
        if label in seen:
            continue
        seen.add(label)
        if point.time > cutoff:
            out.add(point.id)
    return out
