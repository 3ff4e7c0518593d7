"""GFS retention of recovery points (warden.backup.retention): properties checked with hypothesis, and
the tiers named explicitly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from warden.backup.retention import Point, RetentionRules, keep

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

offsets = st.lists(st.integers(min_value=0, max_value=3 * 366 * 24), min_size=0, max_size=60, unique=True)
rules_strategy = st.builds(
    RetentionRules,
    daily_days=st.integers(0, 30),
    weekly_weeks=st.integers(0, 20),
    weekly_days=st.frozensets(st.integers(0, 6), max_size=3),
    monthly_months=st.integers(0, 24),
    yearly_years=st.integers(0, 3),
    time_zone=st.sampled_from(["UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata"]),
)


def points_at(hours_ago: list[int], retain: dict[int, int] | None = None) -> list[Point]:
    retain = retain or {}
    return [
        Point(f"p{h}", NOW - timedelta(hours=h), NOW + timedelta(hours=retain[h]) if h in retain else None)
        for h in hours_ago
    ]


@settings(max_examples=200, deadline=None)
@given(offsets, rules_strategy)
def test_kept_points_are_a_subset_and_the_newest_always_stays(hours: list[int], rules: RetentionRules) -> None:
    points = points_at(hours)
    kept = keep(points, rules, NOW)
    assert kept <= {p.id for p in points}
    if points:
        assert max(points, key=lambda p: p.time).id in kept


@settings(max_examples=200, deadline=None)
@given(offsets, rules_strategy)
def test_every_point_inside_the_daily_window_is_kept(hours: list[int], rules: RetentionRules) -> None:
    points = points_at(hours)
    kept = keep(points, rules, NOW)
    assert {p.id for p in points if NOW - p.time < timedelta(days=rules.daily_days)} <= kept


@settings(max_examples=200, deadline=None)
@given(offsets, rules_strategy, st.integers(1, 10), st.integers(1, 10))
def test_longer_retention_never_drops_a_point_a_shorter_one_keeps(
    hours: list[int], rules: RetentionRules, more_weeks: int, more_months: int
) -> None:
    points = points_at(hours)
    longer = RetentionRules(
        daily_days=rules.daily_days + 1,
        weekly_weeks=rules.weekly_weeks + more_weeks,
        weekly_days=rules.weekly_days,
        monthly_months=rules.monthly_months + more_months,
        yearly_years=rules.yearly_years + 1,
        time_zone=rules.time_zone,
    )
    assert keep(points, rules, NOW) <= keep(points, longer, NOW)


@settings(max_examples=200, deadline=None)
@given(offsets, rules_strategy)
def test_retention_is_idempotent(hours: list[int], rules: RetentionRules) -> None:
    points = points_at(hours)
    kept = keep(points, rules, NOW)
    assert keep([p for p in points if p.id in kept], rules, NOW) == kept


@settings(max_examples=200, deadline=None)
@given(offsets, rules_strategy)
def test_at_most_one_point_per_week_month_and_year_beyond_the_daily_window(
    hours: list[int], rules: RetentionRules
) -> None:
    points = points_at(hours)
    kept = keep(points, rules, NOW)
    daily = {p.id for p in points if NOW - p.time < timedelta(days=rules.daily_days)}
    newest = {max(points, key=lambda p: p.time).id} if points else set()
    assert len(kept - daily - newest) <= rules.weekly_weeks + 1 + rules.monthly_months + 1 + rules.yearly_years + 1


@given(offsets, st.integers(1, 1000))
def test_retain_until_keeps_a_point_until_that_date(hours: list[int], extra: int) -> None:
    points = points_at(hours, {h: extra for h in hours})
    assert keep(points, RetentionRules(daily_days=1), NOW) == {p.id for p in points}


def test_tiers_pick_the_newest_point_of_each_period() -> None:
    # One point a day at 02:00 for 400 days.
    points = [Point(f"d{i}", NOW.replace(hour=2) - timedelta(days=i)) for i in range(400)]
    kept = keep(points, RetentionRules(daily_days=7), NOW)
    assert kept == {f"d{i}" for i in range(7)}
    weekly = keep(points, RetentionRules(daily_days=7, weekly_weeks=4, weekly_days=frozenset({6})), NOW)
    sundays = sorted(
        (p for p in points if p.time.weekday() == 6 and NOW - p.time < timedelta(weeks=4)), key=lambda p: p.time
    )
    assert weekly == kept | {p.id for p in sundays}
    monthly = keep(points, RetentionRules(daily_days=1, monthly_months=12), NOW)
    month_ends = {
        max((p for p in points if (p.time.year, p.time.month) == ym), key=lambda p: p.time).id
        for ym in {(p.time.year, p.time.month) for p in points}
    }
    assert len(monthly) == 1 + 12 and monthly - {"d0"} <= month_ends
    yearly = keep(points, RetentionRules(daily_days=1, yearly_years=2), NOW)
    assert yearly == {"d0", "d" + str((NOW.date() - datetime(2025, 12, 31).date()).days)}


def test_time_zone_decides_the_day_a_point_belongs_to() -> None:
    # 23:30 UTC on Saturday is already Sunday in Paris: a Sunday-only weekly tier keeps it there.
    saturday_night = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
    point = [Point("late", saturday_night), Point("newest", NOW)]
    sunday_only = frozenset({6})
    assert "late" in keep(point, RetentionRules(weekly_weeks=4, weekly_days=sunday_only, time_zone="Europe/Paris"), NOW)
    assert "late" not in keep(point, RetentionRules(weekly_weeks=4, weekly_days=sunday_only, time_zone="UTC"), NOW)
