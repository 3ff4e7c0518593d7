"""parse kind=relaxed: a typed column that does not convert is null and the rest still matches."""

from __future__ import annotations

from warden.monitor.kql import run


def test_relaxed_typed_columns_fall_back_to_null() -> None:
    query = (
        'datatable(t:string) ["a=1, b=2, c=x", "a=oops, b=3, c=y", "a=4, b=, c=z"]'
        ' | parse kind=relaxed t with "a=" a:long ", b=" b:long * "c=" c'
        " | project a, b, c"
    )
    assert run(query).rows == [[1, 2, "x"], [None, 3, "y"], [4, None, "z"]]


def test_simple_parse_still_rejects_a_bad_typed_value() -> None:
    query = 'datatable(t:string) ["a=oops, b=3"] | parse t with "a=" a:long ", b=" b:long | project a, b'
    assert run(query).rows == [[None, None]]
