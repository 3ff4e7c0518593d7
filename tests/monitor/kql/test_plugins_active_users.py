"""evaluate active_users_count: ids seen in enough distinct periods within the lookback window."""

from __future__ import annotations

from warden.monitor.kql import run

DATA = """let T = datatable(User:string, Timestamp:datetime, Team:string)
[
    "B", datetime(2018-06-29), "x", "B", datetime(2018-06-30), "x", "A", datetime(2018-07-02), "y",
    "B", datetime(2018-07-04), "x", "B", datetime(2018-07-08), "x", "A", datetime(2018-07-10), "y",
    "A", datetime(2018-07-14), "y", "A", datetime(2018-07-17), "y", "A", datetime(2018-07-20), "y",
    "B", datetime(2018-07-24), "x"
];
"""


def test_documented_example() -> None:
    query = DATA + (
        "T | evaluate active_users_count(User, Timestamp, datetime(2018-07-01), datetime(2018-07-31), 8d, 1d, 3, 7d)"
    )
    result = run(query)
    assert result.columns == ["Timestamp", "dcount"]
    assert sorted(result.rows) == [["2018-07-01T00:00:00Z", 1], ["2018-07-15T00:00:00Z", 1]]


def test_lower_threshold_and_dimensions() -> None:
    query = DATA + (
        "T | evaluate active_users_count(User, Timestamp, datetime(2018-07-01), datetime(2018-07-31),"
        " 8d, 1d, 2, 7d, Team)"
    )
    rows = sorted(run(query).rows)
    # With two periods: B is active on 07-04 and 07-08 (team x), A from 07-10 on (team y).
    assert rows == [
        ["2018-07-01T00:00:00Z", "x", 1],
        ["2018-07-08T00:00:00Z", "x", 1],
        ["2018-07-08T00:00:00Z", "y", 1],
        ["2018-07-15T00:00:00Z", "y", 1],
    ]
