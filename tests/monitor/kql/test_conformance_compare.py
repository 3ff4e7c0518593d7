"""The corpus comparison rules, each with a case that passes and one that fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from warden.monitor.kql.conformance import (
    OrderRule,
    compare,
    order_rule,
    should_skip,
    type_family,
    unsupported_tags,
)
from warden.monitor.kql.runtime import KqlResult
from warden.monitor.kql.types import KustoType, from_dotnet

PLAIN = "datatable(a:long, b:string)[1, 'x'] | extend c = 1"


def _expected(columns: list[str], types: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "column_types": types, "rows": rows}


def _result(columns: list[str], types: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "types": types, "rows": rows}


def _one(e_type: str, expected: Any, a_type: str, actual: Any, kql: str = PLAIN) -> tuple[bool, str]:
    return compare(_expected(["v"], [e_type], [[expected]]), _result(["v"], [a_type], [[actual]]), kql)


# ------------------------------------------------------------------------------------ order rules


@pytest.mark.parametrize(
    ("kql", "rule"),
    [
        ("T | where a > 1", OrderRule("multiset")),
        ("T | sort by a desc, b asc", OrderRule("ordered", ("a", "b"))),
        ("T | order by a nulls last", OrderRule("ordered", ("a",))),
        ("T | sort by a desc nulls first | extend x = 1 | project a, x", OrderRule("ordered", ("a",))),
        ("T | top 3 by a desc", OrderRule("ordered", ("a",))),
        ("T | sort by ['my col']", OrderRule("ordered", ("my col",))),
        ("T | sort by strlen(a)", OrderRule("ordered")),
        ("T | top-nested 2 of a by count()", OrderRule("ordered")),
        ("T | sort by a | summarize count() by a", OrderRule("multiset")),
        ("T | sort by a | distinct a", OrderRule("multiset")),
        ("T | sort by a | join (U) on a", OrderRule("multiset")),
        ("T | sort by a | count", OrderRule("multiset")),
        ("T | take 3", OrderRule("shape")),
        ("T | limit 3 | sort by a", OrderRule("shape")),
        ("T | take 3 | summarize count()", OrderRule("shape")),
        ("T | sort by a | take 3", OrderRule("keys", ("a",))),
        ("T | sort by a | take 3 | summarize sum(a)", OrderRule("multiset")),
        ("let X = datatable(a:long)[2, 1] | sort by a;\nX", OrderRule("ordered", ("a",))),
        ("let n = 3; let X = T | sort by a; X | take n", OrderRule("keys", ("a",))),
        # pipes inside strings, comments and sub-queries are not the outer pipeline's
        ('T | where s == "x | sort by a" // | sort by b', OrderRule("multiset")),
        ("T | join (U | sort by a | take 1) on a", OrderRule("multiset")),
        ("T | mv-expand x limit 3", OrderRule("multiset")),
        ("T | sort by a | mv-expand x", OrderRule("ordered", ("a",))),
    ],
)
def test_order_rule(kql: str, rule: OrderRule) -> None:
    assert order_rule(kql) == rule


def test_multiset_rows_ignore_order() -> None:
    expected = _expected(["a"], ["Int64"], [[1], [2], [2]])
    assert compare(expected, _result(["a"], ["long"], [[2], [1], [2]]), "T")[0]
    ok, reason = compare(expected, _result(["a"], ["long"], [[2], [1], [1]]), "T")
    assert not ok
    assert "not found" in reason


def test_ordered_rows_check_keys_by_position_and_ties_as_a_multiset() -> None:
    kql = "T | sort by k asc"
    expected = _expected(["k", "v"], ["Int64", "String"], [[1, "a"], [1, "b"], [2, "c"]])
    assert compare(expected, _result(["k", "v"], ["long", "string"], [[1, "b"], [1, "a"], [2, "c"]]), kql)[0]
    ok, reason = compare(expected, _result(["k", "v"], ["long", "string"], [[2, "c"], [1, "a"], [1, "b"]]), kql)
    assert not ok
    assert "sort keys differ" in reason
    ok, reason = compare(expected, _result(["k", "v"], ["long", "string"], [[1, "a"], [1, "z"], [2, "c"]]), kql)
    assert not ok
    assert "tied" in reason


def test_ordering_by_an_expression_compares_whole_rows_in_order() -> None:
    kql = "T | sort by strlen(v)"
    expected = _expected(["v"], ["String"], [["a"], ["bb"]])
    assert compare(expected, _result(["v"], ["string"], [["a"], ["bb"]]), kql)[0]
    assert not compare(expected, _result(["v"], ["string"], [["bb"], ["a"]]), kql)[0]


def test_sort_then_take_compares_only_key_values() -> None:
    kql = "T | sort by k desc | take 2"
    expected = _expected(["k", "v"], ["Int64", "String"], [[3, "a"], [2, "b"]])
    assert compare(expected, _result(["k", "v"], ["long", "string"], [[3, "other"], [2, "rows"]]), kql)[0]
    assert not compare(expected, _result(["k", "v"], ["long", "string"], [[3, "a"], [1, "b"]]), kql)[0]


def test_take_without_ordering_compares_only_the_shape() -> None:
    kql = "T | take 2"
    expected = _expected(["k"], ["Int64"], [[1], [2]])
    assert compare(expected, _result(["k"], ["long"], [[7], [8]]), kql) == (
        True,
        "shape only (rows picked arbitrarily by take/limit)",
    )
    assert not compare(expected, _result(["k"], ["long"], [[7]]), kql)[0]
    assert not compare(expected, _result(["x"], ["long"], [[7], [8]]), kql)[0]


# ---------------------------------------------------------------------------------------- columns


def test_column_names_and_count_must_match() -> None:
    expected = _expected(["a", "count_"], ["Int64", "Int64"], [[1, 2]])
    assert compare(expected, _result(["a", "count_"], ["long", "long"], [[1, 2]]), "T")[0]
    assert not compare(expected, _result(["a", "count"], ["long", "long"], [[1, 2]]), "T")[0]
    assert not compare(expected, _result(["count_", "a"], ["long", "long"], [[2, 1]]), "T")[0]
    ok, reason = compare(expected, _result(["a"], ["long"], [[1]]), "T")
    assert not ok
    assert "columns differ" in reason


@pytest.mark.parametrize(
    ("e_type", "a_type", "same"),
    [
        ("Int32", "long", True),
        ("Int64", "int", True),
        ("Double", "decimal", True),
        ("SqlDecimal", "real", True),
        ("SByte", "bool", True),
        ("Object", "dynamic", True),
        ("Guid", "guid", True),
        ("TimeSpan", "timespan", True),
        ("Int64", "real", False),
        ("String", "dynamic", False),
        ("DateTime", "string", False),
    ],
)
def test_types_compare_by_family(e_type: str, a_type: str, same: bool) -> None:
    ok, reason = _one(e_type, None, a_type, None)
    assert ok is same, reason


def test_type_family_names() -> None:
    assert type_family("BIGINT") == type_family("Int64") == type_family("long") == "integer"
    assert type_family("DECIMAL(38, 18)") == "float"
    assert type_family("TIMESTAMP WITH TIME ZONE") == "datetime"
    assert type_family("INTERVAL") == "timespan"
    assert type_family("INTEGER[]") == type_family("STRUCT(a INTEGER)") == type_family("JSON") == "dynamic"
    assert type_family("UUID") == "guid"
    assert type_family("VARCHAR") == "string"
    assert type_family("BOOLEAN") == "bool"
    assert type_family("nonsense") is None


# ----------------------------------------------------------------------------------------- values


def test_numbers_within_relative_1e_9() -> None:
    assert _one("Double", 1.0, "real", 1.0 + 1e-10)[0]
    assert not _one("Double", 1.0, "real", 1.0 + 1e-8)[0]
    assert _one("Int64", 5, "long", 5)[0]
    assert not _one("Int64", 5, "long", 6)[0]
    assert not _one("Double", 0.0, "real", 1e-300)[0]  # relative tolerance only


def test_approximate_aggregates_get_five_percent() -> None:
    kql = "T | summarize dcount(x)"
    assert _one("Int64", 100, "long", 104, kql)[0]
    assert not _one("Int64", 100, "long", 106, kql)[0]
    assert _one("Double", 10.0, "real", 10.4, "T | summarize percentiles(x, 50)")[0]
    assert not _one("Int64", 100, "long", 104)[0]


def test_booleans_never_equal_numbers() -> None:
    assert _one("SByte", True, "bool", True)[0]
    assert not _one("SByte", True, "bool", 1)[0]
    assert not _one("Int64", 1, "long", True)[0]
    assert not _one("SByte", False, "bool", True)[0]


def test_nan_and_infinity_strings() -> None:
    assert _one("Double", "NaN", "real", "NaN")[0]
    assert _one("Double", "Infinity", "real", float("inf"))[0]
    assert _one("Double", "-Infinity", "real", "-Infinity")[0]
    assert not _one("Double", "Infinity", "real", "-Infinity")[0]
    assert not _one("Double", "NaN", "real", 0.0)[0]


def test_decimals_as_strings() -> None:
    assert _one("SqlDecimal", "5", "decimal", "5.000")[0]
    assert not _one("SqlDecimal", "5", "decimal", "5.1")[0]


def test_datetimes_compare_as_instants() -> None:
    assert _one("DateTime", "2018-07-01T00:00:00Z", "datetime", "2018-07-01T00:00:00.0000000Z")[0]
    assert _one("DateTime", "2015-12-31T23:59:59.9Z", "datetime", "2015-12-31T23:59:59.900Z")[0]
    assert not _one("DateTime", "2016-12-31T23:59:59.9999999Z", "datetime", "2016-12-31T23:59:59.999999Z")[0]
    assert not _one("DateTime", "2018-07-01T00:00:00Z", "datetime", None)[0]


def test_timespans_compare_as_durations() -> None:
    assert _one("TimeSpan", "00:01:00", "timespan", "00:01:00.0000000")[0]
    assert _one("TimeSpan", "1.00:00:00", "timespan", "1.00:00:00")[0]
    assert not _one("TimeSpan", "00:01:00", "timespan", "00:01:01")[0]


def test_guids_compare_as_identifiers() -> None:
    guid = "10e99626-bc2b-4c75-bb3e-fe606de25700"
    assert _one("Guid", guid, "guid", guid.upper())[0]
    assert not _one("Guid", guid, "guid", "00000000-0000-0000-0000-000000000000")[0]


def test_null_equals_empty_string_only_in_string_columns() -> None:
    assert _one("String", None, "string", "")[0]
    assert _one("String", "", "string", None)[0]
    assert not _one("String", "a", "string", "")[0]
    assert not _one("Int64", None, "long", 0)[0]
    assert not _one("Object", None, "dynamic", "")[0]


def test_dynamic_values_compare_structurally() -> None:
    expected = {"a": 1, "b": [1, 2], "when": "2017-01-01T00:00:00.0000000Z"}
    assert _one("Object", expected, "dynamic", '{"when":"2017-01-01T00:00:00Z","b":[1,2],"a":1}')[0]
    assert not _one("Object", expected, "dynamic", '{"when":"2017-01-01T00:00:00Z","b":[2,1],"a":1}')[0]
    assert not _one("Object", expected, "dynamic", '{"b":[1,2],"a":1}')[0]
    assert _one("Object", [1, 2.0], "dynamic", "[1,2]")[0]
    assert not _one("Object", [1, 2], "dynamic", '[1,"2"]')[0]  # "2" is a string inside dynamic
    assert not _one("Object", [True], "dynamic", "[1]")[0]
    assert _one("Object", "a", "dynamic", '"a"')[0]  # a dynamic string
    assert _one("Object", "1", "dynamic", '"1"')[0]  # ... that looks like a number
    assert _one("Object", 3, "dynamic", "3")[0]


def test_make_set_results_compare_without_order() -> None:
    kql = "T | summarize s = make_set(x)"
    assert _one("Object", [1, 2, 3], "dynamic", "[3,1,2]", kql)[0]
    assert not _one("Object", [1, 2, 3], "dynamic", "[3,1,1]", kql)[0]
    assert not _one("Object", [1, 2, 3], "dynamic", "[3,1,2]", "T | summarize s = make_list(x)")[0]
    expected = _expected(["k", "set_x"], ["Int64", "Object"], [[1, ["a", "b"]]])
    actual = _result(["k", "set_x"], ["long", "dynamic"], [[1, '["b","a"]']])
    assert compare(expected, actual, "T | summarize make_set(x) by k")[0]


def test_a_kql_result_object_is_accepted() -> None:
    result = KqlResult(columns=["v"], types=[KustoType.LONG], rows=[[1]])
    assert compare(_expected(["v"], ["Int64"], [[1]]), result, "print v = 1")[0]
    assert not compare(_expected(["v"], ["Int64"], [[1], [2]]), result, "T")[0]


# ------------------------------------------------------------------------------------------ skips


@pytest.mark.parametrize(
    ("kql", "reason"),
    [
        ("print now()", "calls now()"),
        ("print x = rand(10)", "calls rand()"),
        ("print new_guid()", "calls new_guid()"),
        ("T | extend t = ingestion_time()", "calls ingestion_time()"),
        ("print current_principal_details()", "calls current_principal_details()"),
        ("print current_database()", "calls current_database()"),
        ("print current_cluster_endpoint()", "calls current_cluster_endpoint()"),
        ("T | where cursor_after('x')", "calls cursor_after()"),
        ("print datetime()", "calls datetime() (the current time)"),
        ("T | sample 10", "uses sample"),
        ("T | sample-distinct 3 of x", "uses sample-distinct"),
    ],
)
def test_should_skip(kql: str, reason: str) -> None:
    assert should_skip(kql) == reason


@pytest.mark.parametrize(
    "kql",
    [
        'print "now()"',
        "print x = 1 // now()",
        "T | project now_col, random = 1",
        "print datetime(2020-01-01)",
        "T | where sample > 1",
        "T | extend sample = 1",
    ],
)
def test_should_not_skip(kql: str) -> None:
    assert should_skip(kql) is None


def test_unsupported_tags() -> None:
    assert unsupported_tags({"operators": ["extend", "mv-expand"], "functions": ["datatable", "strcat"]}) == []
    assert unsupported_tags({"operators": ["scan"], "functions": ["dynamic", "geo_distance_2points"]}) == [
        "geo_distance_2points",
        "scan",
    ]


# ----------------------------------------------------------------------------------------- corpus


def test_every_dev_case_matches_itself_and_a_wrong_row_fails(corpus_dir: Path) -> None:
    lines = (corpus_dir / "kql" / "docs-cases.dev.jsonl").read_text().splitlines()
    for line in lines:
        case = json.loads(line)
        expected = case["expected"]
        types = [str(from_dotnet(t)) for t in expected["column_types"]]
        ok, reason = compare(expected, _result(expected["columns"], types, expected["rows"]), case["kql"])
        assert ok, (case["id"], reason)
        if expected["rows"] and order_rule(case["kql"]).mode in {"multiset", "ordered"}:
            extra = [*expected["rows"][:-1], ["unexpected"] * len(expected["columns"])]
            assert not compare(expected, _result(expected["columns"], types, extra), case["kql"])[0], case["id"]
