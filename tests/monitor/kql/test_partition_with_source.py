"""partition's legacy form: a sub-query with its own source, run once per key (toscalar(Column))."""

from __future__ import annotations

from warden.monitor.kql import run

KEYS = "let Keys = datatable(k:long, other:string) [1, 'a', 2, 'b', 2, 'c'];"
NUMBERS = "let Numbers = datatable(x:long) [1, 2, 3, 4];"


def test_each_key_runs_the_sub_query_over_the_source() -> None:
    query = f"{KEYS}{NUMBERS} Keys | partition by k {{ Numbers | where x > toscalar(k) | extend key = toscalar(k) }}"
    assert sorted(run(query).rows) == [[2, 1], [3, 1], [3, 2], [4, 1], [4, 2]]


def test_aggregates_run_per_key() -> None:
    query = (
        f"{KEYS}{NUMBERS} Keys | partition hint.strategy=legacy by k"
        " { Numbers | where x >= toscalar(k) | summarize n = count(), total = sum(x) | extend key = toscalar(k) }"
    )
    assert sorted(run(query).rows) == [[3, 9, 2], [4, 10, 1]]


def test_string_keys_and_no_rows() -> None:
    query = f"{KEYS}{NUMBERS} Keys | where k > 5 | partition by other {{ Numbers | extend o = toscalar(other) }}"
    assert run(query).rows == []
