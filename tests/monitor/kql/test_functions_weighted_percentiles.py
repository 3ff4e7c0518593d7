"""percentilew, percentilesw and percentilesw_array: Kusto's documented example and the definition."""

from __future__ import annotations

import math

import pytest

from warden.monitor.kql import run

TABLE = "let latencyTable = datatable (ReqCount:long, LatencyBucket:long) [8, 10, 6, 20, 3, 30, 1, 40]; latencyTable"


def test_documented_example() -> None:
    result = run(TABLE + " | summarize percentilesw(LatencyBucket, ReqCount, 50, 75, 99.9)")
    assert result.columns == [
        "percentile_LatencyBucket_50",
        "percentile_LatencyBucket_75",
        "percentile_LatencyBucket_99_9",
    ]
    assert result.rows == [[20, 20, 40]]
    array = run(TABLE + " | summarize percentilesw_array(LatencyBucket, ReqCount, 50, 75, 99.9)")
    assert array.columns == ["percentile_LatencyBucket"] and array.rows == [["[20,20,40]"]]
    assert run(TABLE + " | summarize percentilesw_array(LatencyBucket, ReqCount, dynamic([50, 75, 99.9]))").rows == [
        ["[20,20,40]"]
    ]


@pytest.mark.parametrize("percent", [0, 10, 44.4, 50, 90, 100])
def test_weights_act_as_repetitions(percent: float) -> None:
    pairs = [(3.5, 2), (1.0, 5), (7.25, 1), (2.0, 3), (9.0, 0)]  # a zero weight counts for nothing
    expanded = sorted(v for v, w in pairs for _ in range(w))
    expected = expanded[max(0, math.ceil(percent / 100 * len(expanded)) - 1)]
    cells = ", ".join(f"{v}, {w}" for v, w in pairs)
    query = f"datatable(v:real, w:long) [{cells}] | summarize p = percentilew(v, w, {percent})"
    assert run(query).rows == [[expected]]
