"""array_split, and array_sort_asc/desc over several arrays."""

from __future__ import annotations

from monitor.kql.function_harness import Null, evaluate


def test_array_split_documented_examples() -> None:
    assert evaluate("array_split", [1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4, 5]]
    assert evaluate("array_split", [1, 2, 3, 4, 5], [1, 3]) == [[1], [2, 3], [4, 5]]


def test_array_split_negative_and_out_of_range_indices() -> None:
    assert evaluate("array_split", [1, 2, 3, 4, 5], -1) == [[1, 2, 3, 4], [5]]
    assert evaluate("array_split", [1, 2, 3], 10) == [[1, 2, 3], []]
    assert evaluate("array_split", [1, 2, 3], [2, 1]) == [[1, 2], [], [2, 3]]
    assert evaluate("array_split", ["a", None], 0) == [[], ["a", None]]


def test_array_split_invalid_input_is_null() -> None:
    assert evaluate("array_split", {"a": 1}, 1) is None
    assert evaluate("array_split", Null("dynamic"), 1) is None
    assert evaluate("array_split", [1, 2], ["x"]) is None


def test_sorting_several_arrays_reorders_the_others_like_the_first() -> None:
    assert evaluate("array_sort_desc", [1, 3, 4, 5, 2], ["a", "b", "c", "d", "e"]) == [
        [5, 4, 3, 2, 1],
        ["d", "c", "b", "e", "a"],
    ]
    assert evaluate("array_sort_asc", [2, None, 1], ["x", "y", "z"]) == [[1, 2, None], ["z", "x", "y"]]
    assert evaluate("array_sort_asc", [2, None, 1], ["x", "y", "z"], False) == [[None, 1, 2], ["y", "z", "x"]]
    # An array whose length differs from the first is null.
    assert evaluate("array_sort_asc", [2, 1], [1, 2, 3]) == [[1, 2], None]
    assert evaluate("array_sort_desc", ["b", 1, "a", 2]) == ["b", "a", 2, 1]
