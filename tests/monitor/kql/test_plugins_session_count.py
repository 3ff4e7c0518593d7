"""evaluate session_count: sessions starting per bin (a gap of LookBackWindow or more starts one)."""

from __future__ import annotations

from warden.monitor.kql import run


def _reference(times_by_id: dict[int, list[int]], lookback: int, width: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for times in times_by_id.values():
        last = None
        for t in sorted(times):
            if last is None or t - last >= lookback:
                counts[t // width * width] = counts.get(t // width * width, 0) + 1
            last = t
    return counts


def test_numeric_timeline_matches_the_definition() -> None:
    query = (
        "range Timeline from 1 to 999 step 1 | extend k = 1 | join kind=inner (range Id from 1 to 20 step 1"
        " | extend k = 1) on k | where Timeline % Id == 0 | project Timeline, Id"
        " | evaluate session_count(Id, Timeline, 1, 1000, 100, 11)"
    )
    result = run(query)
    assert result.columns == ["Timeline", "count_sessions"]
    times = {i: [t for t in range(1, 1000) if t % i == 0] for i in range(1, 21)}
    assert dict(map(tuple, result.rows)) == _reference(times, 11, 100)


def test_datetime_timeline_with_a_dimension() -> None:
    query = """datatable(User:string, T:datetime, Site:string) [
        "a", datetime(2024-01-01 00:10), "s1", "a", datetime(2024-01-01 00:20), "s1",
        "a", datetime(2024-01-01 02:00), "s1", "b", datetime(2024-01-01 00:30), "s2",
        "a", datetime(2024-01-01 00:40), "s2"
    ]
    | evaluate session_count(User, T, datetime(2024-01-01), datetime(2024-01-02), 1h, 30m, Site)"""
    rows = sorted(run(query).rows)
    assert rows == [
        ["2024-01-01T00:00:00Z", "s1", 1],
        ["2024-01-01T00:00:00Z", "s2", 2],
        ["2024-01-01T02:00:00Z", "s1", 1],
    ]
