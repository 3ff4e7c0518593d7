"""tdigest, tdigest_merge/merge_tdigest, percentile(s)_tdigest and rank_tdigest, end to end."""

from __future__ import annotations

import math

import pytest

from warden.monitor.kql import run


def rows(query: str) -> list[list]:
    return run(query).rows


def _nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


@pytest.mark.parametrize("percent", [0, 1, 25, 50, 90, 99.5, 100])
def test_percentiles_are_nearest_rank(percent: float) -> None:
    values = [(i * 37) % 101 for i in range(1, 300)]
    table = "datatable(x:long) [" + ", ".join(str(v) for v in values) + "]"
    query = f"{table} | summarize d = tdigest(x) | project p = percentile_tdigest(d, {percent}, typeof(long))"
    assert rows(query) == [[_nearest_rank(values, percent)]]
    # percentile() agrees.
    assert rows(f"{table} | summarize p = percentile(x, {percent})") == [[_nearest_rank(values, percent)]]


def test_documented_examples() -> None:
    merged = (
        "range x from 1 to 10 step 1 | extend y = x + 10 | summarize tx = tdigest(x), ty = tdigest(y)"
        " | project merged = merge_tdigest(tx, ty) | project percentile_tdigest(merged, 100, typeof(long))"
    )
    assert rows(merged) == [[20]]
    assert run(merged).columns == ["percentile_tdigest_merged"]
    weighted = (
        "datatable(V:real, W:long) [1.0, 1, 2.0, 2] | summarize TD = tdigest(V, W)"
        " | project P50 = percentile_tdigest(TD, 50)"
    )
    assert rows(weighted) == [["2.0"]]  # dynamic, as JSON text
    ranked = "range x from 1 to 1000 step 1 | summarize t = tdigest(x) | project r = rank_tdigest(t, 685)"
    assert rows(ranked) == [[685.0]]


def test_merge_aggregate_and_arrays_of_percentiles() -> None:
    query = (
        "range x from 1 to 100 step 1 | summarize d = tdigest(x) by g = x % 4"
        " | summarize m = tdigest_merge(d) | project a = percentiles_array_tdigest(m, 10, 50, 100)"
    )
    assert rows(query) == [["[10.0,50.0,100.0]"]]


def test_empty_and_null_inputs() -> None:
    query = (
        "datatable(x:long) [long(null)] | summarize d = tdigest(x) | project percentile_tdigest(d, 50, typeof(real))"
    )
    assert rows(query) == [[None]]
    assert rows("print r = rank_tdigest(dynamic(null), 3)") == [[0.0]]


def test_percentrank_tdigest() -> None:
    query = "range x from 1 to 1000 step 1 | summarize t = tdigest(x) | project r = percentrank_tdigest(t, 850)"
    assert rows(query) == [[85.0]]
    assert rows("print r = percentrank_tdigest(dynamic(null), 3)") == [[None]]
