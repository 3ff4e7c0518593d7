"""Aggregation functions over small tables: Kusto's defaults over no rows, null handling, types."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.kql.function_harness import Col, Ctx, aggregate, typed_constant
from warden.monitor.kql.errors import KqlSemanticError, KqlUnsupportedError
from warden.monitor.kql.functions import aggregates
from warden.monitor.kql.functions.registry import AGGREGATES
from warden.monitor.kql.types import KustoType as K

D, T = dt.datetime, dt.timedelta
PEOPLE = {
    "x": ("long", [1, 2, 3, 4, 5]),
    "n": ("string", ["John", "Paul", "George", "Ringo", "Al"]),
    "p": ("bool", [True, False, True, None, True]),
}
EMPTY = {"x": ("long", []), "p": ("bool", [])}
NULLS = {"x": ("long", [None, None])}


def test_counting() -> None:
    assert aggregate("count", PEOPLE) == 5
    assert aggregate("count", {"y": ("real", [None, 5.0])}, Col("y")) == 2  # count(y) counts rows
    assert aggregate("countif", PEOPLE, Col("p")) == 3
    assert aggregate("dcount", PEOPLE, Col("n")) == 5
    assert aggregate("dcountif", PEOPLE, Col("n"), Col("p")) == 3
    assert aggregate("count_distinct", {"v": ("string", ["a", "b", "a"])}, Col("v")) == 2


def test_defaults_over_no_rows() -> None:
    assert aggregate("count", EMPTY) == 0
    assert aggregate("countif", EMPTY, Col("p")) == 0
    assert aggregate("dcount", EMPTY, Col("x")) == 0
    assert aggregate("sum", EMPTY, Col("x")) == 0
    assert aggregate("stdev", EMPTY, Col("x")) == 0.0
    assert aggregate("variance", EMPTY, Col("x")) == 0.0
    assert aggregate("make_list", EMPTY, Col("x")) == []
    assert aggregate("make_set", EMPTY, Col("x")) == []
    assert aggregate("avg", EMPTY, Col("x")) is None
    assert aggregate("max", EMPTY, Col("x")) is None


def test_nulls_are_ignored() -> None:
    assert aggregate("sum", NULLS, Col("x")) == 0
    assert aggregate("make_set", NULLS, Col("x")) == []
    assert aggregate("make_list", {"x": ("long", [1, None, 2])}, Col("x")) == [1, 2]
    assert aggregate("make_list_with_nulls", {"x": ("long", [1, None, 2])}, Col("x")) == [1, None, 2]
    assert aggregate("max", NULLS, Col("x")) is None


def test_sums_and_averages() -> None:
    assert aggregate("sum", PEOPLE, Col("x"), type_out=True) == (15, K.LONG)
    assert aggregate("sum", {"x": ("int", [1, 2])}, Col("x"), type_out=True) == (3, K.LONG)
    assert aggregate("sumif", PEOPLE, Col("x"), Col("p")) == 9
    assert aggregate("avg", PEOPLE, Col("x"), type_out=True) == (3.0, K.REAL)
    assert aggregate("avgif", PEOPLE, Col("x"), Col("p")) == 3.0
    times = {
        "t": ("datetime", [D(2020, 1, 1), D(2020, 1, 3), None]),
        "s": ("timespan", [T(hours=1), T(hours=2), T(hours=4)]),
    }
    assert aggregate("avg", times, Col("t")) == "2020-01-02T00:00:00Z"
    assert aggregate("avg", times, Col("s")) == "02:20:00"
    assert aggregate("sum", times, Col("s")) == "07:00:00"


def test_extremes() -> None:
    assert aggregate("min", PEOPLE, Col("n")) == "Al"
    assert aggregate("max", PEOPLE, Col("x")) == 5
    assert aggregate("minif", PEOPLE, Col("x"), Col("p")) == 1
    assert aggregate("maxif", PEOPLE, Col("x"), Col("p")) == 5


def test_statistics() -> None:
    assert aggregate("stdev", PEOPLE, Col("x")) == pytest.approx(1.5811388300841898)
    assert aggregate("variance", PEOPLE, Col("x")) == 2.5
    assert aggregate("stdevp", PEOPLE, Col("x")) == pytest.approx(1.4142135623730951)
    assert aggregate("variancep", PEOPLE, Col("x")) == 2.0
    assert aggregate("stdev", {"x": ("long", [7])}, Col("x")) == 0.0
    pairs = {"x": ("real", [1.0, 2.0, 3.0, 4.0, 5.0]), "y": ("real", [14.0, 10.0, 17.0, 20.0, 50.0])}
    assert aggregate("covariance", pairs, Col("x"), Col("y")) == pytest.approx(20.5)
    assert aggregate("covariancep", pairs, Col("x"), Col("y")) == pytest.approx(16.4)


def test_lists_and_sets() -> None:
    assert aggregate("make_list", PEOPLE, Col("x")) == [1, 2, 3, 4, 5]
    assert aggregate("make_list", PEOPLE, Col("x"), 2) == [1, 2]
    assert sorted(aggregate("make_set_if", PEOPLE, Col("n"), Col("p"))) == ["Al", "George", "John"]
    assert sorted(aggregate("make_set", {"v": ("long", [1, 5, 7, 5])}, Col("v"))) == [1, 5, 7]
    arrays = {"a": ("dynamic", [["A1", "A2", "A3"], ["A2", "C1"], ["C2", "A3"], ["C2", "A1"]])}
    assert sorted(aggregate("make_set", arrays, Col("a"))) == ["A1", "A2", "A3", "C1", "C2"]  # elements collected
    times = {"t": ("datetime", [D(2020, 1, 1)])}
    assert aggregate("make_list", times, Col("t")) == ["2020-01-01T00:00:00.0000000Z"]


def test_make_bag() -> None:
    bags = {"b": ("dynamic", [{"a": 1}, {"b": 2}, [1, 2], None]), "p": ("bool", [True, True, True, False])}
    assert aggregate("make_bag", bags, Col("b")) == {"a": 1, "b": 2}
    assert aggregate("make_bag_if", bags, Col("b"), Col("p")) == {"a": 1, "b": 2}
    assert aggregate("make_bag", {"b": ("dynamic", [])}, Col("b")) == {}


def test_take_any_and_arg_max() -> None:
    table = {"v": ("real", [1.0, 10.0, 2.5]), "k": ("string", ["a", "c", "b"]), "w": ("long", [None, 3, 4])}
    assert aggregate("arg_max", table, Col("v"), Col("k")) == "c"
    assert aggregate("arg_min", table, Col("v"), Col("k")) == "a"
    assert aggregate("arg_min", table, Col("v"), Col("w")) is None  # the chosen row's null is kept
    assert aggregate("take_any", table, Col("k")) in {"a", "b", "c"}
    assert aggregate("take_anyif", table, Col("k"), typed_constant(True)) in {"a", "b", "c"}


def test_percentiles_are_nearest_rank() -> None:
    numbers = {"x": ("long", list(range(1, 101)))}
    assert [aggregate("percentile", numbers, Col("x"), p) for p in (0, 5, 50, 95, 100)] == [1, 5, 50, 95, 100]
    assert aggregate("percentile", {"x": ("long", [1, 2, 3, 4])}, Col("x"), 90) == 4
    assert aggregate("percentile", {"x": ("int", [1, 2])}, Col("x"), 50, type_out=True)[1] is K.LONG
    assert aggregate("percentiles_array", {"v": ("real", [1.0, 2.5, 10.0])}, Col("v"), 0, 50, 100) == [1.0, 2.5, 10.0]
    with pytest.raises(KqlSemanticError):
        aggregate("percentile", numbers, Col("x"), 101)


def test_percentile_columns_helper() -> None:
    from sqlglot import exp

    from warden.monitor.kql.typed import Typed

    value = Typed(exp.column("x"), K.LONG)
    columns = aggregates.percentile_columns(Ctx(), [value, typed_constant(5), typed_constant(99.5)], "x")
    assert [name for name, _ in columns] == ["percentile_x_5", "percentile_x_99_5"]
    assert aggregates.percentile_column_name("Duration", 95) == "percentile_Duration_95"
    with pytest.raises(KqlUnsupportedError):
        aggregate("percentiles", {"x": ("long", [1])}, Col("x"), 5, 50)


def test_grouped() -> None:
    assert aggregate("count", PEOPLE, group_by="p") == {False: 1, True: 3, None: 1}


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("count", "count_"),
        ("countif", "countif_"),
        ("dcount", "dcount_"),
        ("dcountif", "dcountif_"),
        ("sum", "sum_"),
        ("sumif", "sumif_"),
        ("avg", "avg_"),
        ("min", "min_"),
        ("max", "max_"),
        ("make_list", "list_"),
        ("makelist", "list_"),
        ("make_list_if", "list_"),
        ("make_set", "set_"),
        ("makeset", "set_"),
        ("make_set_if", "set_"),
        ("make_bag", "bag_"),
        ("percentile", "percentile_"),
        ("percentiles_array", "percentiles_"),
        ("stdev", "stdev_"),
        ("variance", "variance_"),
        ("any", "any_"),
        ("take_any", ""),
        ("arg_max", ""),
    ],
)
def test_auto_names(name: str, prefix: str) -> None:
    assert AGGREGATES[name].auto_name == prefix
