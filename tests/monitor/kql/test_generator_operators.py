"""Golden tests of the tabular operators and Kusto's semantic traps: KQL text -> exact rows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from warden.monitor.kql import KqlSemanticError, KqlUnsupportedError, run

T = """let T = datatable(Name:string, Value:long, Ts:datetime, D:dynamic)
[
    "Alice", 10, datetime(2020-01-01 01:00), dynamic({"a": 1, "b": [1, 2]}),
    "bob", 20, datetime(2020-01-01 02:30), dynamic({"a": 2}),
    "Carol", long(null), datetime(2020-01-02), dynamic(null),
    "alice", 5, datetime(2020-01-03), dynamic([1, 2, 3]),
];
"""
NOW = dt.datetime(2020, 1, 4, tzinfo=dt.UTC)


def rows(query: str, **tables: object) -> list[list[object]]:
    return run(query, tables, now=NOW).rows


def result(query: str, **tables: object):
    return run(query, tables, now=NOW)


def as_set(values: list[list[object]]) -> list[tuple[object, ...]]:
    return sorted(tuple(map(str, r)) for r in values)


# ------------------------------------------------------------------------------------- where


def test_where_equality_is_case_sensitive_and_tilde_is_not() -> None:
    assert rows(T + "T | where Name == 'alice' | project Name") == [["alice"]]
    assert rows(T + "T | where Name =~ 'ALICE' | project Name") == [["Alice"], ["alice"]]
    assert rows(T + "T | where Name !~ 'alice' | project Name") == [["bob"], ["Carol"]]
    assert rows(T + "T | where Name != 'alice' | project Name") == [["Alice"], ["bob"], ["Carol"]]


def test_has_matches_whole_terms_and_contains_substrings() -> None:
    data = 'let S = datatable(s:string)["KustoExplorerQueryRun", "Kusto explorer", "a-explorer_x", ""];\n'
    # Terms are maximal runs of letters and digits: "_" and "-" separate them.
    assert rows(data + "S | where s has 'explorer'") == [["Kusto explorer"], ["a-explorer_x"]]
    assert rows(data + "S | where s contains 'EXPLORER'") == [
        ["KustoExplorerQueryRun"],
        ["Kusto explorer"],
        ["a-explorer_x"],
    ]
    assert rows(data + "S | where s has_cs 'explorer'") == [["Kusto explorer"], ["a-explorer_x"]]
    assert rows(data + "S | where s has 'xplore'") == []
    assert rows(data + "S | where s contains_cs 'Explorer'") == [["KustoExplorerQueryRun"]]
    assert rows(data + "S | where s hasprefix 'expl'") == [["Kusto explorer"], ["a-explorer_x"]]
    assert rows(data + "S | where s startswith 'kusto'") == [["KustoExplorerQueryRun"], ["Kusto explorer"]]
    assert rows(data + "S | where s endswith 'RUN'") == [["KustoExplorerQueryRun"]]
    assert rows(data + "S | where s matches regex '^K.*n$'") == [["KustoExplorerQueryRun"]]


def test_negated_string_operators_are_true_on_empty_strings() -> None:
    data = 'let S = datatable(s:string, n:long)["abc", 1, "", 2];\n'
    assert rows(data + "S | where s !has 'abc' | project n") == [[2]]
    assert rows(data + "S | where s !contains 'b' | project n") == [[2]]
    assert rows(data + "S | where s !startswith 'a' | project n") == [[2]]


def test_strings_are_never_null_but_empty() -> None:
    assert rows("print s = '' | extend e = isempty(s), n = isnull(s)") == [["", True, False]]
    got = result("datatable(x:long)[1] | extend s = tostring(long(null))")
    assert got.rows == [[1, ""]]


def test_list_operators() -> None:
    assert rows(T + "T | where Name in ('bob', 'Carol') | project Name") == [["bob"], ["Carol"]]
    assert rows(T + "T | where Name in~ ('BOB', 'carol') | project Name") == [["bob"], ["Carol"]]
    assert rows(T + "T | where Name !in ('bob', 'Carol') | project Name") == [["Alice"], ["alice"]]
    assert rows(T + "T | where Name has_any ('bob', 'carol') | project Name") == [["bob"], ["Carol"]]
    assert rows(T + "T | where Name has_all ('bob') | project Name") == [["bob"]]
    assert rows(T + "let names = dynamic(['bob', 'alice']); T | where Name in (names) | project Name") == [
        ["bob"],
        ["alice"],
    ]
    assert rows(T + "T | where Name in ((T | where Value > 10 | project Name)) | project Name") == [["bob"]]


def test_null_comparisons_follow_kusto() -> None:
    query = "datatable(v:long)[5, long(null)] | extend eq = v == long(null), ne = v != 5, gt = v > 3"
    assert rows(query) == [[5, False, False, True], [None, None, True, None]]
    assert rows("datatable(v:long)[5, long(null)] | where v != 5") == [[None]]


def test_between() -> None:
    assert rows(T + "T | where Value between (5 .. 10) | project Value") == [[10], [5]]
    assert rows(T + "T | where Value !between (5 .. 10) | project Value") == [[20]]
    assert rows(T + "T | where Ts between (datetime(2020-01-01) .. 1d) | project Name") == [
        ["Alice"],
        ["bob"],
        ["Carol"],
    ]


# ------------------------------------------------------------------------------ arithmetic


def test_modulo_is_never_negative_and_integer_division_truncates() -> None:
    assert rows("print a = 14 % 12, b = -14 % 12, c = 14 % -12, d = -14 % -12") == [[2, 10, 2, 10]]
    assert rows("print a = 7 / 2, b = -7 / 2, c = 7.0 / 2") == [[3, -3, 3.5]]


def test_datetime_and_timespan_arithmetic() -> None:
    query = "print d = datetime(2020-01-02) - datetime(2020-01-01), e = datetime(2020-01-01) + 90m, f = 1h * 2"
    assert rows(query) == [["1.00:00:00", "2020-01-01T01:30:00Z", "02:00:00"]]
    assert rows(T + "T | where Ts > ago(2d) | project Name") == [["alice"]]
    assert rows("print now()") == [["2020-01-04T00:00:00Z"]]


# ------------------------------------------------------------------------------ projection


def test_project_extend_and_variants() -> None:
    assert rows(T + "T | project Name, V2 = Value * 2 | take 1") == [["Alice", 20]]
    assert rows(T + "T | extend V2 = Value * 2, V3 = V2 + 1 | project V3 | take 1") == [[21]]
    assert result(T + "T | project-away D, Ts").columns == ["Name", "Value"]
    assert result(T + "T | project-away *s").columns == ["Name", "Value", "D"]
    assert result(T + "T | project-keep N*, D").columns == ["Name", "D"]
    assert result(T + "T | project-rename N = Name").columns == ["N", "Value", "Ts", "D"]
    assert result(T + "T | project-reorder Value, Ts").columns == ["Value", "Ts", "Name", "D"]
    assert result("print b=1, a2=2, a1=3 | project-reorder a* asc").columns == ["a1", "a2", "b"]


def test_extend_replaces_a_column_in_place() -> None:
    got = result(T + "T | extend Value = Value + 1 | take 1")
    assert got.columns == ["Name", "Value", "Ts", "D"]
    assert got.rows[0][1] == 11


def test_unnamed_columns_get_kusto_names() -> None:
    assert result(T + "T | extend Value * 2, tostring(Value), D.a, D['b'] | take 1").columns == [
        "Name",
        "Value",
        "Ts",
        "D",
        "Column1",
        "D_a",
        "D_b",
    ]
    assert result("print 1, x = 2, strlen('abc')").columns == ["print_0", "x", "print_2"]


def test_dynamic_property_access_missing_is_null() -> None:
    got = rows(T + "T | project a = D.a, b1 = D.b[1], missing = D.nope.deeper, last = D[-1]")
    assert got == [["1", "2", None, None], ["2", None, None, None], [None, None, None, None], [None, None, None, "3"]]


# ------------------------------------------------------------------------------ ordering


def test_sort_is_descending_by_default_with_nulls_last() -> None:
    assert rows(T + "T | sort by Value | project Value") == [[20], [10], [5], [None]]
    assert rows(T + "T | order by Value asc | project Value") == [[None], [5], [10], [20]]
    assert rows(T + "T | sort by Value asc nulls last | project Value") == [[5], [10], [20], [None]]
    assert rows(T + "T | sort by strlen(Name) asc, Name desc | project Name") == [
        ["bob"],
        ["alice"],
        ["Carol"],
        ["Alice"],
    ]


def test_order_survives_row_wise_operators() -> None:
    query = T + "T | sort by Value asc | where Name != 'x' | extend Value = -Value | project Name, Value"
    assert rows(query) == [["Carol", None], ["alice", -5], ["Alice", -10], ["bob", -20]]


def test_top_and_take() -> None:
    assert rows(T + "T | top 2 by Value | project Name") == [["bob"], ["Alice"]]
    assert rows(T + "T | top 1 by strlen(Name) asc | project Name") == [["bob"]]
    assert len(rows(T + "T | take 3")) == 3
    assert rows(T + "T | sort by Name asc | take 2 | project Name") == [["Alice"], ["Carol"]]


def test_serialize_and_window_functions() -> None:
    query = T + "T | serialize rn = row_number() | extend p = prev(Value), n = next(Name), c = row_cumsum(rn)"
    got = rows(query + " | project rn, p, n, c")
    assert got == [[1, None, "bob", 1], [2, 10, "Carol", 3], [3, 20, "alice", 6], [4, None, "", 10]]


# ------------------------------------------------------------------------------ summarize


def test_summarize_auto_names() -> None:
    got = result(T + "T | summarize count(), sum(Value), avg(Value), dcount(Name), max(Ts) by bin(Ts, 1d)")
    assert got.columns == ["Ts", "count_", "sum_Value", "avg_Value", "dcount_Name", "max_Ts"]
    assert as_set(got.rows) == as_set(
        [
            ["2020-01-01T00:00:00Z", 2, 30, 15.0, 2, "2020-01-01T02:30:00Z"],
            ["2020-01-02T00:00:00Z", 1, 0, None, 1, "2020-01-02T00:00:00Z"],
            ["2020-01-03T00:00:00Z", 1, 5, 5.0, 1, "2020-01-03T00:00:00Z"],
        ]
    )
    assert result(T + "T | summarize make_set(Name), make_list(Value), c = count() by tolower(Name)").columns == [
        "Column1",
        "set_Name",
        "list_Value",
        "c",
    ]


def test_summarize_without_rows_yields_one_row() -> None:
    assert rows(T + "T | where Value > 100 | summarize count()") == [[0]]
    assert rows(T + "T | where Value > 100 | summarize count() by Name") == []


def test_arg_max_star_expands_and_keeps_one_row() -> None:
    got = result(T + "T | summarize arg_max(Value, *) by Key = tolower(Name)")
    assert got.columns == ["Key", "Value", "Name", "Ts", "D"]
    assert as_set(got.rows) == as_set(
        [
            ["alice", 10, "Alice", "2020-01-01T01:00:00Z", '{"a":1,"b":[1,2]}'],
            ["bob", 20, "bob", "2020-01-01T02:30:00Z", '{"a":2}'],
            ["carol", None, "Carol", "2020-01-02T00:00:00Z", None],  # all keys null: the group's only row
        ]
    )
    got = result(T + "T | summarize arg_min(Ts, Name), m = arg_max(Ts, Value)")
    assert got.columns == ["Ts", "Name", "m", "Value"]
    assert got.rows == [["2020-01-01T01:00:00Z", "Alice", "2020-01-03T00:00:00Z", 5]]


def test_make_list_follows_input_order() -> None:
    assert rows(T + "T | sort by Value asc | summarize make_list(Name)") == [['["Carol","alice","Alice","bob"]']]


def test_distinct_and_count() -> None:
    assert as_set(rows(T + "T | extend k = tolower(Name) | distinct k")) == as_set([["alice"], ["bob"], ["carol"]])
    assert rows(T + "T | count") == [[4]]
    assert result(T + "T | count").columns == ["Count"]


# ------------------------------------------------------------------------------------ joins

XY = """let X = datatable(Key:string, Value1:long)['a', 1, 'b', 2, 'b', 3, 'c', 4];
let Y = datatable(Key:string, Value2:long)['b', 10, 'c', 20, 'c', 30, 'd', 40];
"""


def test_default_join_is_innerunique() -> None:
    got = result(XY + "X | join Y on Key")
    assert got.columns == ["Key", "Value1", "Key1", "Value2"]
    assert as_set(got.rows) == as_set([["b", 2, "b", 10], ["c", 4, "c", 20], ["c", 4, "c", 30]])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("inner", [["b", 2, "b", 10], ["b", 3, "b", 10], ["c", 4, "c", 20], ["c", 4, "c", 30]]),
        (
            "leftouter",
            [["a", 1, None, None], ["b", 2, "b", 10], ["b", 3, "b", 10], ["c", 4, "c", 20], ["c", 4, "c", 30]],
        ),
        (
            "rightouter",
            [["b", 2, "b", 10], ["b", 3, "b", 10], ["c", 4, "c", 20], ["c", 4, "c", 30], [None, None, "d", 40]],
        ),
        ("leftsemi", [["b", 2], ["b", 3], ["c", 4]]),
        ("leftanti", [["a", 1]]),
        ("rightsemi", [["b", 10], ["c", 20], ["c", 30]]),
        ("rightanti", [["d", 40]]),
    ],
)
def test_join_kinds(kind: str, expected: list[list[object]]) -> None:
    got = rows(XY + f"X | join kind={kind} Y on Key")
    normalized = [[("" if v is None and i in (0, 2) else v) for i, v in enumerate(r)] for r in expected]
    assert as_set(got) == as_set(normalized)


def test_join_on_left_right_and_fullouter() -> None:
    got = result(XY + "X | join kind=fullouter (Y | project K = Key, Value2) on $left.Key == $right.K")
    assert got.columns == ["Key", "Value1", "K", "Value2"]
    assert len(got.rows) == 6


def test_lookup_drops_right_keys() -> None:
    got = result(XY + "X | lookup (Y | summarize Value2 = max(Value2) by Key) on Key")
    assert got.columns == ["Key", "Value1", "Value2"]
    assert as_set(got.rows) == as_set([["a", 1, None], ["b", 2, 10], ["b", 3, 10], ["c", 4, 30]])


def test_union_aligns_columns_by_name() -> None:
    got = result(XY + "union withsource=Src X, Y")
    assert got.columns == ["Src", "Key", "Value1", "Value2"]
    assert ["X", "a", 1, None] in got.rows and ["Y", "d", None, 40] in got.rows
    assert result(XY + "X | union kind=inner Y").columns == ["Key"]
    assert len(rows(XY + "union isfuzzy=true X, Nope")) == 4


def test_union_wildcards_over_tables() -> None:
    tables = {"SecurityA": pa.table({"x": [1]}), "SecurityB": pa.table({"x": [2]}), "Other": pa.table({"x": [3]})}
    assert sorted(run("union Security* | project x", tables).rows) == [[1], [2]]


# ------------------------------------------------------------------------------ mv-expand, parse


def test_mv_expand() -> None:
    data = "let M = datatable(a:long, b:dynamic, c:dynamic)"
    data += "[1, dynamic([10, 20]), dynamic(['x']), 2, dynamic([]), dynamic([])];\n"
    assert rows(data + "M | mv-expand b, c") == [[1, "10", '"x"'], [1, "20", None]]
    assert rows(data + "M | mv-expand with_itemindex=i b to typeof(long) | project a, b, i") == [[1, 10, 0], [1, 20, 1]]
    bag = "print d = dynamic({'k1': 1, 'k2': 'v'}) | mv-expand "
    assert rows(bag + "d") == [['{"k1":1}'], ['{"k2":"v"}']]
    assert rows(bag + "bagexpansion=array d") == [['["k1",1]'], ['["k2","v"]']]
    assert rows("print d = dynamic(null) | mv-expand d") == [[None]]
    assert rows("print d = dynamic([1, 2, 3]) | mv-expand d limit 2") == [["1"], ["2"]]


def test_parse_simple_regex_relaxed_and_parse_where() -> None:
    data = 'let L = datatable(s:string)["user=alice id=42 rest", "garbage"];\n'
    got = rows(data + "L | parse s with 'user=' user ' id=' id:long ' ' tail")
    assert got == [["user=alice id=42 rest", "alice", 42, "rest"], ["garbage", "", None, ""]]
    assert rows(data + "L | parse-where s with 'user=' user ' id=' id:long * | project user, id") == [["alice", 42]]
    assert rows(data + "L | parse kind=regex s with 'user=' user ' ' * | project user") == [["alice id=42"], [""]]
    assert rows(data + "L | parse kind=relaxed s with * 'id=' id:long ' ' * | project id") == [[42], [None]]


# ------------------------------------------------------------------------------ sources


def test_datatable_print_range() -> None:
    assert rows("range x from 1 to 7 step 3") == [[1], [4], [7]]
    assert rows("range d from datetime(2020-01-01) to datetime(2020-01-02) step 12h") == [
        ["2020-01-01T00:00:00Z"],
        ["2020-01-01T12:00:00Z"],
        ["2020-01-02T00:00:00Z"],
    ]
    assert rows("range x from 5 to 1 step -2") == [[5], [3], [1]]
    assert rows("print x = 1, y = 'a' | extend z = x + 1") == [[1, "a", 2]]


def test_let_scalars_tabulars_and_functions() -> None:
    query = (
        T
        + """let threshold = 6;
let f = (v:long, factor:long = 2) { v * factor };
let g = (t:(Value:long), limit:long) { t | where Value > limit };
g(T, threshold) | extend a = f(Value), b = f(Value, 3), c = f(factor = 4, v = Value) | project Name, a, b, c"""
    )
    assert rows(query) == [["Alice", 20, 30, 40], ["bob", 40, 60, 80]]
    assert rows(T + "let h = () { T | count }; h()") == [[4]]
    assert rows(T + "let avgv = toscalar(T | summarize avg(Value)); T | where Value > avgv | project Name") == [["bob"]]


def test_materialize_as_and_invoke() -> None:
    query = T + "let m = materialize(T | where Value > 1); m | join kind=inner (m) on Name | count"
    assert rows(query) == [[3]]
    assert rows(T + "T | as Q | where Name in ((Q | where Value == 5 | project Name)) | project Name") == [["alice"]]
    assert rows(T + "let big = (t:(Value:long)) { t | where Value > 9 }; T | invoke big() | count") == [[2]]


def test_render_is_returned_as_visualization() -> None:
    got = result(T + "T | project Ts, Value | render timechart with (title='Values', ytitle='v')")
    assert got.visualization == {"visualization": "timechart", "title": "Values", "ytitle": "v"}
    assert len(got.rows) == 4


def test_getschema() -> None:
    assert rows(T + "T | getschema") == [
        ["Name", 0, "System.String", "string"],
        ["Value", 1, "System.Int64", "long"],
        ["Ts", 2, "System.DateTime", "datetime"],
        ["D", 3, "System.Object", "dynamic"],
    ]


def test_search_uses_has_over_every_column() -> None:
    tables = {"A": pa.table({"msg": ["disk failed", "ok"], "n": [1, 2]}), "B": pa.table({"text": ["Failed login"]})}
    got = run("search 'failed'", tables)
    assert got.columns == ["$table", "msg", "n", "text"]
    assert as_set(got.rows) == as_set([["A", "disk failed", 1, ""], ["B", "", None, "Failed login"]])
    assert run("A | search 'ok' | project n", tables).rows == [[2]]
    assert run("search in (B) 'log*' | project text", tables).rows == [["Failed login"]]


def test_evaluate_bag_unpack_and_pivot() -> None:
    data = "datatable(d:dynamic)[dynamic({'Name': 'John', 'Age': 20}), dynamic({'Name': 'Dave', 'Age': 40})]"
    got = result(data + " | evaluate bag_unpack(d)")
    assert got.columns == ["Age", "Name"]
    assert [str(t) for t in got.types] == ["long", "string"]
    assert got.rows == [[20, "John"], [40, "Dave"]]
    assert result(data + " | evaluate bag_unpack(d, 'p_')").columns == ["p_Age", "p_Name"]
    pivot = "datatable(k:string, c:string, v:long)['a', 'x', 1, 'a', 'y', 2, 'b', 'x', 3]"
    got = result(pivot + " | evaluate pivot(c, sum(v), k)")
    assert got.columns == ["k", "x", "y"]
    assert as_set(got.rows) == as_set([["a", 1, 2], ["b", 3, 0]])


def test_case_twins_stay_distinct() -> None:
    got = result("print Name = 'x' | extend name = 'y', NAME = 'z' | project NAME, name, Name")
    assert got.rows == [["z", "y", "x"]]


# ------------------------------------------------------------------------------ errors


def test_errors_carry_positions() -> None:
    with pytest.raises(KqlSemanticError) as caught:
        run(T + "T | where Nope == 1")
    assert caught.value.line == 8 and caught.value.column == 11
    with pytest.raises(KqlSemanticError, match="unknown table"):
        run("Missing | take 1")
    with pytest.raises(KqlUnsupportedError, match="externaldata"):
        run("externaldata(x:string)['https://example.com/x.csv']")
    with pytest.raises(KqlUnsupportedError):
        run("cluster('c').database('d').T | take 1")


# ------------------------------------------------------------------------------ make-series, top-nested


def test_make_series_fills_missing_bins_with_default() -> None:
    query = """datatable(t:datetime, k:string, v:long)
[datetime(2020-01-01), 'a', 1, datetime(2020-01-01 12:00), 'a', 2,
 datetime(2020-01-03), 'a', 5, datetime(2020-01-02), 'b', 7]
| make-series total = sum(v) default = -1, count() on t
    from datetime(2020-01-01) to datetime(2020-01-04) step 1d by k"""
    got = result(query)
    assert got.columns == ["k", "total", "count_", "t"]
    days = '["2020-01-01T00:00:00.0000000Z","2020-01-02T00:00:00.0000000Z","2020-01-03T00:00:00.0000000Z"]'
    assert as_set(got.rows) == as_set([["a", "[3,-1,5]", "[2,0,1]", days], ["b", "[-1,7,-1]", "[0,1,0]", days]])
    assert rows("range x from 1 to 10 step 1 | make-series s = sum(x) on x from 0 to 10 step 3") == [
        ["[3,12,21,9]", "[0,3,6,9]"]
    ]
    empty = "datatable(t:datetime, v:long)[] | make-series "
    assert rows(empty + "sum(v) on t from datetime(2020-01-01) to datetime(2020-01-03) step 1d") == []
    assert len(rows(empty + "kind=nonempty sum(v) on t from datetime(2020-01-01) to datetime(2020-01-03) step 1d")) == 1


def test_top_nested() -> None:
    data = "datatable(s:string, t:string, x:long)['A','p',1, 'A','q',5, 'B','p',2, 'B','p',2, 'C','r',10, 'A','r',1]\n"
    got = result(data + "| top-nested 2 of s by total = sum(x), top-nested 1 of t by count()")
    assert got.columns == ["s", "total", "t", "aggregated_t"]
    assert got.rows[0] == ["C", 10, "r", 1]
    assert got.rows[1][:2] == ["A", 7]
    assert rows(data + "| top-nested 2 of s with others = 'Other' by sum(x)") == [["C", 10], ["A", 7], ["Other", 4]]


def test_window_functions_with_restart_conditions() -> None:
    data = """datatable(name:string, month:int, salary:long)
["Alice", 1, 1000, "Bob", 1, 1000, "Alice", 2, 2000, "Bob", 2, 1950, "Alice", 3, 1400, "Bob", 3, 1450]
| order by name asc, month asc
"""
    got = rows(data + "| extend total = row_cumsum(salary, name != prev(name)), n = row_number(1, prev(name) != name)")
    assert [r[3:] for r in got] == [[1000, 1], [3000, 2], [4400, 3], [1000, 1], [2950, 2], [4400, 3]]
    ranks = "datatable(k:string, v:long)['a', 1, 'a', 1, 'a', 3, 'b', 3] | sort by k asc, v asc"
    assert rows(ranks + " | extend d = row_rank_dense(v), m = row_rank_min(v) | project d, m") == [
        [1, 1],
        [1, 1],
        [2, 3],
        [2, 3],
    ]


def test_pack_all() -> None:
    data = "datatable(s:string, t:string, n:long)['a', 'b', 1, 'c', '', long(null)]"
    assert rows(data + " | project p = pack_all(), q = pack_all(true)") == [
        ['{"s":"a","t":"b","n":1}', '{"s":"a","t":"b","n":1}'],
        ['{"s":"c","t":"","n":null}', '{"s":"c"}'],
    ]


def test_mv_apply_runs_the_subquery_per_row() -> None:
    data = "datatable(i:long, a:dynamic)[0, dynamic([5, 1, 3]), 1, dynamic([4, 10, 8, 7]), 2, dynamic([])]\n"
    got = result(data + "| mv-apply x = a to typeof(long) on (top 2 by x | summarize top2 = make_list(x))")
    assert got.columns == ["i", "a", "top2"]
    assert got.rows == [[0, "[5,1,3]", "[5,3]"], [1, "[4,10,8,7]", "[10,8]"]]
    assert rows(data + "| mv-apply x = a to typeof(long) on (take 1) | project i, x") == [[0, 5], [1, 4]]
    assert rows(data + "| mv-apply with_itemindex=k x = a on (where k >= 3) | project i, x, k") == [[1, "7", 3]]
    counted = data + "| mv-apply x = a on (count) | project i, Count"
    assert rows(counted) == [[0, 3], [1, 4]]


def test_partition_runs_the_subquery_per_key() -> None:
    data = "datatable(k:string, v:long)['a', 1, 'a', 5, 'b', 2, 'b', 9, 'b', 4]\n"
    got = rows(data + "| partition by k (top 1 by v | project k, v)")
    assert as_set(got) == as_set([["a", 5], ["b", 9]])
    got = rows(data + "| partition by k (summarize n = count(), s = sum(v))")
    assert as_set(got) == as_set([[2, 6], [3, 15]])


def test_list_operators_over_computed_arrays() -> None:
    data = "let T = datatable(r:string, n:long)['a', 1, 'b', 2, 'c', 3];\n"
    query = data + "let roles = toscalar(T | where n > 1 | summarize make_set(r)); T | where r in (roles) | project r"
    assert rows(query) == [["b"], ["c"]]
    assert rows(data + "T | where r !in~ (toscalar(T | where n > 1 | summarize make_set(r))) | project r") == [["a"]]
    per_row = "datatable(s:string, a:dynamic)['x y', dynamic(['y']), 'x', dynamic(['z'])] | where s has_any (a)"
    assert rows(per_row + " | project s") == [["x y"]]


def test_scan_cumulative_and_sessions() -> None:
    query = "range x from 1 to 5 step 1 | scan declare (c:long = 0) with (step s1: true => c = x + s1.c;)"
    assert rows(query) == [[1, 1], [2, 3], [3, 6], [4, 10], [5, 15]]
    events = """datatable(Ts:timespan, Event:string)[0m, 'A', 1m, 'A', 2m, 'B', 32m, 'B', 36m, 'C', 75m, 'A']
| sort by Ts asc
| scan with_match_id=session_id declare (sessionStart: timespan) with (
    step inSession: true => sessionStart = iff(isnull(inSession.sessionStart), Ts, inSession.sessionStart);
    step endSession output=none: Ts - inSession.sessionStart > 30m;
)"""
    assert [r[2:] for r in rows(events)] == [
        ["00:00:00", 0],
        ["00:00:00", 0],
        ["00:00:00", 0],
        ["00:32:00", 1],
        ["00:32:00", 1],
        ["01:15:00", 2],
    ]


def test_scan_sequences_per_partition() -> None:
    query = """datatable(T:datetime, user:long, kind:string)
[datetime(2024-01-01 08:00), 1, 'login', datetime(2024-01-01 08:30), 2, 'login',
 datetime(2024-01-01 09:00), 1, 'logout', datetime(2024-01-01 10:00), 2, 'logout']
| partition by user (
    sort by T asc
    | scan declare (start: datetime, duration: timespan) with (
        step s1 output=none: kind == 'login' => start = T;
        step s2: kind == 'logout' => start = s1.start, duration = T - s1.start;
    )
)
| project user, start, duration"""
    assert as_set(rows(query)) == as_set(
        [[1, "2024-01-01T08:00:00Z", "01:00:00"], [2, "2024-01-01T08:30:00Z", "01:30:00"]]
    )


def test_evaluate_ipv4_lookup() -> None:
    query = """let Ranges = datatable(network:string, country:string)['5.8.0.0/19', 'RU', '2.20.183.0/24', 'GB'];
datatable(ip:string)['2.20.183.12', '5.8.1.2', '192.165.12.17']"""
    got = result(query + " | evaluate ipv4_lookup(Ranges, ip, network)")
    assert got.columns == ["ip", "network", "country"]
    assert as_set(got.rows) == as_set([["2.20.183.12", "2.20.183.0/24", "GB"], ["5.8.1.2", "5.8.0.0/19", "RU"]])
    assert len(rows(query + " | evaluate ipv4_lookup(Ranges, ip, network, return_unmatched = true)")) == 3


def test_query_parameters() -> None:
    assert rows("declare query_parameters(n:long = 2); range x from 1 to n step 1") == [[1], [2]]
    with pytest.raises(KqlSemanticError, match="no value"):
        run("declare query_parameters(n:long); range x from 1 to n step 1")


def test_bin_auto_column_names_of_and_assert() -> None:
    query = """set query_bin_auto_size=1h;
set query_bin_auto_at=datetime(2017-01-01 00:05);
range Timestamp from datetime(2017-01-01 00:05) to datetime(2017-01-01 02:00) step 1m
| summarize count() by bin_auto(Timestamp)"""
    assert result(query).columns == ["Timestamp", "count_"]
    assert rows(query) == [["2017-01-01T00:05:00Z", 60], ["2017-01-01T01:05:00Z", 56]]
    assert rows("let f = () { print A = '', B = 1 }; print c = column_names_of(f())") == [['["A","B"]']]
    assert rows("print x = assert(1 < 2, 'fine')") == [[True]]
    with pytest.raises(KqlSemanticError, match="assertion failed: nope"):
        run("print x = assert(2 < 1, 'nope')")


def test_user_analytics_plugins() -> None:
    data = """let T = datatable(UserId:string, Timestamp:datetime)
['A', datetime(2017-08-01), 'D', datetime(2017-08-01), 'B', datetime(2017-08-01),
 'C', datetime(2017-08-02), 'A', datetime(2017-08-02), 'A', datetime(2017-08-04)];
"""
    metrics = (
        data + "T | evaluate activity_counts_metrics(UserId, Timestamp, datetime(2017-08-01), datetime(2017-08-04), 1d)"
    )
    got = result(metrics)
    assert got.columns == ["Timestamp", "count", "dcount", "new_dcount", "aggregated_dcount"]
    assert as_set(got.rows) == as_set(
        [
            ["2017-08-01T00:00:00Z", 3, 3, 3, 3],
            ["2017-08-02T00:00:00Z", 2, 2, 1, 4],
            ["2017-08-04T00:00:00Z", 1, 1, 0, 4],
        ]
    )
    window = (
        data
        + "T | evaluate sliding_window_counts(UserId, Timestamp, datetime(2017-08-01), datetime(2017-08-04), 2d, 1d)"
    )
    assert as_set(rows(window)) == as_set(
        [
            ["2017-08-01T00:00:00Z", 3, 3],
            ["2017-08-02T00:00:00Z", 5, 4],
            ["2017-08-03T00:00:00Z", 2, 2],
            ["2017-08-04T00:00:00Z", 1, 1],
        ]
    )


def test_rolling_percentile() -> None:
    query = """range idx from 0 to 71 step 1
| project Timestamp = datetime(2018-01-01) + 1h * idx, val = idx + 1
| evaluate rolling_percentile(val, 50, Timestamp, 1d, 2)"""
    got = result(query)
    assert got.columns == ["Timestamp", "rolling_2_percentile_val_50"]
    assert as_set(got.rows) == as_set(
        [["2018-01-01T00:00:00Z", 12], ["2018-01-02T00:00:00Z", 24], ["2018-01-03T00:00:00Z", 48]]
    )
