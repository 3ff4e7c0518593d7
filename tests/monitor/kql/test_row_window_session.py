"""row_window_session: session starts by gap, by distance from the session's first row, by restart."""

from __future__ import annotations

import datetime as dt

from warden.monitor.kql import run


def _reference(times: list[dt.datetime], first: dt.timedelta, gap: dt.timedelta) -> list[dt.datetime]:
    starts, start, last = [], None, None
    for t in times:
        if start is None or t - last > gap or t - start > first:
            start = t
        starts.append(start)
        last = t
    return starts


def test_documented_example() -> None:
    query = """datatable (ID:string, Timestamp:datetime) [
        "1", datetime(2024-04-11 10:00:00), "2", datetime(2024-04-11 10:18:00),
        "1", datetime(2024-04-11 11:00:00), "3", datetime(2024-04-11 11:30:00),
        "2", datetime(2024-04-11 13:30:00), "2", datetime(2024-04-11 10:16:00)
    ]
    | sort by ID asc, Timestamp asc
    | extend SessionStarted = row_window_session(Timestamp, 1h, 5m, ID != prev(ID))
    | project ID, SessionStarted"""
    assert run(query).rows == [
        ["1", "2024-04-11T10:00:00Z"],
        ["1", "2024-04-11T11:00:00Z"],
        ["2", "2024-04-11T10:16:00Z"],
        ["2", "2024-04-11T10:16:00Z"],
        ["2", "2024-04-11T13:30:00Z"],
        ["3", "2024-04-11T11:30:00Z"],
    ]


def test_distance_from_first_splits_a_busy_session() -> None:
    base = dt.datetime(2024, 1, 1)
    minutes = [0, 4, 8, 12, 16, 20, 24, 40, 41, 45, 49, 53, 57, 61]
    times = [base + dt.timedelta(minutes=m) for m in minutes]
    cells = ", ".join(f"datetime({t:%Y-%m-%d %H:%M})" for t in times)
    query = f"datatable(T:datetime) [{cells}] | sort by T asc | extend S = row_window_session(T, 10m, 5m) | project S"
    expected = _reference(times, dt.timedelta(minutes=10), dt.timedelta(minutes=5))
    assert [r[0] for r in run(query).rows] == [f"{s:%Y-%m-%dT%H:%M:%S}Z" for s in expected]
