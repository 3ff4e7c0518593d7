"""evaluate rows_near and dcount_intersect."""

from __future__ import annotations

from warden.monitor.kql import run

DATA = """datatable (Timestamp:datetime, Value:long, State:string) [
    datetime(2021-06-01), 1, "Success", datetime(2021-06-02), 4, "Success", datetime(2021-06-03), 3, "Success",
    datetime(2021-06-04), 11, "Success", datetime(2021-06-05), 15, "Success", datetime(2021-06-06), 2, "Success",
    datetime(2021-06-07), 19, "Error", datetime(2021-06-08), 12, "Success", datetime(2021-06-09), 7, "Success",
    datetime(2021-06-10), 9, "Success", datetime(2021-06-11), 4, "Success", datetime(2021-06-12), 1, "Success"
]
| sort by Timestamp asc
"""


def test_rows_near_documented_example() -> None:
    rows = run(DATA + '| evaluate rows_near(State == "Error", 2) | project Value').rows
    assert rows == [[15], [2], [19], [12], [7]]


def test_rows_near_with_rows_after_and_overlaps() -> None:
    assert run(DATA + '| evaluate rows_near(State == "Error", 1, 3) | project Value').rows == [
        [2],
        [19],
        [12],
        [7],
        [9],
    ]
    rows = run(DATA + "| evaluate rows_near(Value < 3, 0, 1) | project Value").rows
    assert rows == [[1], [4], [2], [19], [1]]


def test_dcount_intersect_documented_example() -> None:
    query = """range x from 1 to 100 step 1
    | extend isEven = (x % 2 == 0), isMod3 = (x % 3 == 0), isMod5 = (x % 5 == 0)
    | summarize hll_even = hll(iif(isEven, x, 0), 2), hll_mod3 = hll(iif(isMod3, x, 0), 2),
                hll_mod5 = hll(iif(isMod5, x, 0), 2)
    | evaluate dcount_intersect(hll_even, hll_mod3, hll_mod5)
    | project evenNumbers = s0 - 1, even_and_mod3 = s1 - 1, even_and_mod3_and_mod5 = s2 - 1"""
    assert run(query).rows == [[50, 16, 3]]
