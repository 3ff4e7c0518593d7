"""PIM's pure time logic: ISO 8601 durations, schedule windows, coverage, overlap, expiry, clipping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from warden.authz.pim.schedules import (
    ScheduleError,
    Window,
    expiration_json,
    format_duration,
    parse_datetime,
    parse_duration,
    window_from_schedule_info,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT8H", timedelta(hours=8)),
        ("PT30M", timedelta(minutes=30)),
        ("P365D", timedelta(days=365)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("P2W", timedelta(weeks=2)),
        ("pt1h", timedelta(hours=1)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "8H", "P1Y", "P1M", "PT-1H", "PT0S", "P1DT", None, 8])
def test_bad_durations_are_refused_naming_the_field(text: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_duration(text, "scheduleInfo.expiration.duration")
    assert caught.value.field == "scheduleInfo.expiration.duration"


@pytest.mark.parametrize("value", [timedelta(hours=8), timedelta(days=365), timedelta(days=1, minutes=5), timedelta(0)])
def test_format_round_trips(value: timedelta) -> None:
    text = format_duration(value)
    assert text.startswith("P")
    if value:
        assert parse_duration(text) == value
    else:
        assert text == "PT0S"


def test_datetimes_are_utc_and_naive_ones_taken_as_utc() -> None:
    assert parse_datetime("2026-11-28T12:00:00Z", "x") == NOW
    assert parse_datetime("2026-11-28T13:00:00+01:00", "x") == NOW
    assert parse_datetime("2026-11-28T12:00:00", "x") == NOW
    with pytest.raises(ScheduleError):
        parse_datetime("yesterday", "startDateTime")


def test_window_covers_its_start_but_not_its_end() -> None:
    window = Window(NOW, NOW + timedelta(hours=2))
    assert window.covers(NOW)
    assert window.covers(NOW + timedelta(hours=1, minutes=59))
    assert not window.covers(NOW + timedelta(hours=2))
    assert not window.covers(NOW - timedelta(seconds=1))
    assert window.expired(NOW + timedelta(hours=2))
    assert not window.expired(NOW + timedelta(hours=1))
    assert window.duration == timedelta(hours=2)


def test_a_window_without_end_never_expires() -> None:
    forever = Window(NOW, None)
    assert forever.covers(NOW + timedelta(days=10_000))
    assert not forever.expired(NOW + timedelta(days=10_000))
    assert forever.duration is None


def test_overlaps() -> None:
    first = Window(NOW, NOW + timedelta(hours=2))
    assert first.overlaps(Window(NOW + timedelta(hours=1), NOW + timedelta(hours=3)))
    assert not first.overlaps(Window(NOW + timedelta(hours=2), NOW + timedelta(hours=3)))  # touching ends
    assert first.overlaps(Window(NOW - timedelta(days=1), None))
    assert Window(NOW, None).overlaps(Window(NOW + timedelta(days=400), None))
    assert not Window(NOW + timedelta(hours=5), None).overlaps(first)


def test_activation_is_clipped_to_its_eligibility() -> None:
    eligibility = Window(NOW - timedelta(days=1), NOW + timedelta(hours=1))
    asked = Window(NOW, NOW + timedelta(hours=8))
    assert asked.clipped_to(eligibility) == Window(NOW, NOW + timedelta(hours=1))
    assert asked.clipped_to(Window(NOW, None)) == asked
    short = Window(NOW, NOW + timedelta(minutes=30))
    assert short.clipped_to(eligibility) == short


def test_schedule_info_after_duration_defaults_to_now() -> None:
    window = window_from_schedule_info({"expiration": {"type": "AfterDuration", "duration": "PT2H"}}, NOW)
    assert window == Window(NOW, NOW + timedelta(hours=2))
    assert expiration_json(window) == {"type": "AfterDuration", "endDateTime": None, "duration": "PT2H"}


def test_schedule_info_after_date_time_and_no_expiration() -> None:
    info = {
        "startDateTime": "2026-11-28T10:00:00Z",
        "expiration": {"type": "AfterDateTime", "endDateTime": "2026-11-29T10:00:00Z"},
    }
    assert window_from_schedule_info(info, NOW) == Window(NOW - timedelta(hours=2), NOW + timedelta(hours=22))
    assert window_from_schedule_info({"expiration": {"type": "NoExpiration"}}, NOW) == Window(NOW, None)
    assert window_from_schedule_info(None, NOW) == Window(NOW, None)
    # The type is inferred when left out, as Azure does.
    assert window_from_schedule_info({"expiration": {"duration": "PT1H"}}, NOW).end == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"expiration": {"type": "Sometime"}}, "scheduleInfo.expiration.type"),
        ({"expiration": {"type": "AfterDuration"}}, "scheduleInfo.expiration.duration"),
        (
            {"expiration": {"type": "AfterDateTime", "endDateTime": "2026-11-28T11:00:00Z"}},
            "scheduleInfo.expiration.endDateTime",
        ),
        ({"startDateTime": "soon"}, "startDateTime"),
        ({"expiration": "PT1H"}, "scheduleInfo.expiration"),
        ("PT1H", "scheduleInfo"),
    ],
)
def test_bad_schedule_info_is_refused(info: object, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        window_from_schedule_info(info, NOW)
    assert caught.value.field == field
