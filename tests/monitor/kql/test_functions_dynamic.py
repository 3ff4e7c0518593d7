"""Dynamic functions: packing, arrays, sets and bags."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate
from warden.monitor.kql.errors import KqlSemanticError

D, T = dt.datetime, dt.timedelta


def test_bag_pack_writes_values_as_kusto_does() -> None:
    packed = evaluate(
        "bag_pack", "a", 1, "b", "x", "c", D(2020, 1, 1), "d", T(seconds=2), "e", Null("long"), "f", {"z": [1]}
    )
    assert packed == {
        "a": 1,
        "b": "x",
        "c": "2020-01-01T00:00:00.0000000Z",
        "d": "00:00:02",
        "e": None,
        "f": {"z": [1]},
    }
    assert evaluate("pack", "k", 1) == {"k": 1}
    with pytest.raises(KqlSemanticError):
        evaluate("bag_pack", "k")


def test_pack_array() -> None:
    assert evaluate("pack_array", 1, "2", T(seconds=2)) == [1, "2", "00:00:02"]
    assert evaluate("pack_array", Null("long"), 1.5) == [None, 1.5]


def test_array_length_and_concat() -> None:
    assert evaluate("array_length", [1, 2, 3]) == 3
    assert evaluate("array_length", []) == 0
    assert evaluate("array_length", {"a": 1}) is None
    assert evaluate("array_concat", [1, 2, 4], [1, 2]) == [1, 2, 4, 1, 2]
    assert evaluate("array_concat", [1], {"a": 1}) is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (([1, 2, 3], 1, 2), [2, 3]),
        (([1, 2, 3, 4, 5], 2, -1), [3, 4, 5]),
        (([1, 2, 3, 4, 5], -3, -2), [3, 4]),
        (([1, 2, 3], 2, 1), []),
        (([1, 2, 3], -10, 10), [1, 2, 3]),
    ],
)
def test_array_slice(args: tuple, expected: list) -> None:
    assert evaluate("array_slice", *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("an",), 2),
        (("example", 1, 3), 3),
        (("example", 1, 2), -1),
        (("is", 2, 4), -1),
        (("example", 2, -1), 3),
        (("an", 1, -1, 2), 4),
        (("an", 1, -1, 3), -1),
        (("an", -3), 4),
        (("is", -4), -1),
        (("absent",), -1),
    ],
)
def test_array_index_of(args: tuple, expected: int) -> None:
    words = ["this", "is", "an", "example", "an", "example"]
    assert evaluate("array_index_of", words, *args) == expected


def test_array_sort() -> None:
    assert evaluate("array_sort_asc", [1, 3, 4, 5, 2]) == [1, 2, 3, 4, 5]
    colors = [None, "blue", "yellow", "green", None]
    assert evaluate("array_sort_asc", colors) == ["blue", "green", "yellow", None, None]
    assert evaluate("array_sort_asc", colors, False) == [None, None, "blue", "green", "yellow"]
    assert evaluate("array_sort_desc", [1, 10, 2.5]) == [10, 2.5, 1]
    assert evaluate("array_sort_asc", [10, "a", 2]) == [2, 10, "a"]  # numbers before strings
    assert evaluate("array_sort_asc", {"a": 1}) is None


def test_other_array_functions() -> None:
    assert evaluate("array_reverse", [1, 2, 3]) == [3, 2, 1]
    assert evaluate("array_sum", [1, 2, 3.5]) == 6.5
    assert evaluate("array_shift_left", [1, 2, 3, 4, 5], 2) == [3, 4, 5, None, None]
    assert evaluate("array_shift_left", [1, 2, 3, 4, 5], -2, -1) == [-1, -1, 1, 2, 3]
    assert evaluate("array_shift_right", [1, 2, 3, 4, 5], 2) == [None, None, 1, 2, 3]
    assert evaluate("array_rotate_left", [1, 2, 3, 4, 5], 2) == [3, 4, 5, 1, 2]
    assert evaluate("array_rotate_right", [1, 2, 3, 4, 5], 2) == [4, 5, 1, 2, 3]
    assert evaluate("zip", [1, 2, 3], ["a", "b"]) == [[1, "a"], [2, "b"], [3, None]]
    assert evaluate("repeat", "a", 3) == ["a", "a", "a"]
    assert evaluate("array_iff", [True, False, True], [1, 2, 3], [4, 5, 6]) == [1, 5, 3]
    assert evaluate("array_iff", [1, 0, 50], "yes", "no") == ["yes", "no", "yes"]
    assert evaluate("array_iff", [True, True, True], [1, 2], [3, 4]) == [1, 2, None]


def test_range() -> None:
    assert evaluate("range", 1, 10, 3) == [1, 4, 7, 10]
    assert evaluate("range", 1.0, 2.0, 0.5) == [1.0, 1.5, 2.0]
    assert evaluate("range", D(2020, 1, 1), D(2020, 1, 3), T(days=1)) == [
        "2020-01-01T00:00:00.0000000Z",
        "2020-01-02T00:00:00.0000000Z",
        "2020-01-03T00:00:00.0000000Z",
    ]
    assert evaluate("range", T(hours=1), T(hours=3), T(hours=1)) == ["01:00:00", "02:00:00", "03:00:00"]


def test_sets_keep_first_appearance_order() -> None:
    assert evaluate("set_union", [1, 2, 1, 4], [1, 2], [8]) == [1, 2, 4, 8]
    assert evaluate("set_union", ["A4", "A2", "A7", "A2"], ["A4", "A2", "A7", "A2"]) == ["A4", "A2", "A7"]
    assert evaluate("set_difference", [1, 2, 1, 4], [1, 2], [1, 2, 8]) == [4]
    assert evaluate("set_difference", [1, 2, 3], [1, 2, 3]) == []
    assert evaluate("set_intersect", [1, 2, 3, 4], [3, 4, 5], [4, 3]) == [3, 4]
    assert evaluate("set_has_element", ["a", "b"], "b") is True
    assert evaluate("set_has_element", [1, 2], 3) is False


def test_bags() -> None:
    assert evaluate("bag_keys", {"a": 1, "b": {"c": 2}}) == ["a", "b"]
    assert evaluate("bag_keys", [1]) is None
    merged = evaluate("bag_merge", {"A1": 12, "B1": 2, "C1": 3}, {"A2": 81, "B2": 82, "A1": 1})
    assert merged == {"A1": 12, "B1": 2, "C1": 3, "A2": 81, "B2": 82}  # the leftmost value wins
    assert evaluate("bag_merge", {"a": {"x": 1}}, {"a": {"y": 2}}) == {"a": {"x": 1}}  # not a deep merge
    assert evaluate("bag_remove_keys", {"key1": 123, "key2": "abc"}, ["key2", "key4"]) == {"key1": 123}
    assert evaluate("bag_has_key", {"a": 1}, "a") is True
    assert evaluate("bag_has_key", {"a": {"b": 1}}, "$.a.b") is True
    assert evaluate("bag_has_key", {"a": 1}, "b") is False
    assert evaluate("bag_set_key", {"a": 1}, "b", 2) == {"a": 1, "b": 2}
    assert evaluate("bag_zip", ["a", "b", 1, "c"], [1, 2, 3]) == {"a": 1, "b": 2, "c": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "string"),
        (111, "long"),
        (True, "bool"),
        (D(2020, 1, 1), "datetime"),
        (T(seconds=1), "timespan"),
        (1.5, "real"),
    ],
)
def test_gettype_of_typed_values(value: object, expected: str) -> None:
    assert evaluate("gettype", value) == expected


@pytest.mark.parametrize(
    ("json_text", "expected"),
    [
        ("1", "int"),
        ('"abc"', "string"),
        ('{"abc":1}', "dictionary"),
        ("[1,2,3]", "array"),
        ("null", "null"),
        ("1.5", "real"),
        ("12345678901", "long"),
        ("true", "bool"),
    ],
)
def test_gettype_of_dynamic_values(json_text: str, expected: str) -> None:
    assert evaluate("gettype", Raw(f"CAST('{json_text}' AS JSON)", "dynamic")) == expected


def test_jaccard_extractjson_dynamic_to_json() -> None:
    from sqlglot import exp

    from monitor.kql.function_harness import Typed
    from warden.monitor.kql.types import KustoType as K

    assert evaluate("jaccard_index", [1, 2, 3], [1, 2, 3, 4]) == 0.75
    hosts = '{"hosts": [{"location": "a"}, {"location": "b"}]}'
    assert evaluate("extractjson", "$.hosts[1].location", hosts) == "b"
    assert evaluate("extractjson", "$.missing", hosts) == ""
    as_long = Typed(exp.Literal.string("long"), K.STRING, K.LONG)
    assert evaluate("extractjson", "$['a']", '{"a": 5}', as_long) == 5
    assert evaluate("dynamic_to_json", {"b": 1, "a": [2, 3]}) == '{"a":[2,3],"b":1}'
