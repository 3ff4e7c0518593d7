"""Golden tests of the KQL parser: query text -> the exact AST shape (positions are not compared)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from warden.monitor.kql import KqlSyntaxError, KqlUnsupportedError, parse
from warden.monitor.kql import ast as A
from warden.monitor.kql.types import KustoType as K
from warden.monitor.kql.values import TICKS_PER_DAY, TICKS_PER_HOUR, datetime_to_ticks

T = A.Pipeline(A.TableRef("T"))


def n(name: str) -> A.NameRef:
    return A.NameRef(name)


def s(value: str) -> A.Literal:
    return A.Literal(K.STRING, value)


def i(value: int) -> A.Literal:
    return A.Literal(K.LONG, value)


def b(op: str, left: A.Expr, right: A.Expr) -> A.BinaryOp:
    return A.BinaryOp(op, left, right)


def call(name: str, *args: A.Expr) -> A.Call:
    return A.Call(name, args)


def col(expr: A.Expr, *names: str) -> A.NamedExpr:
    return A.NamedExpr(expr, names)


def ops(text: str) -> tuple[A.Operator, ...]:
    """The operators of the query's result pipeline."""
    return parse(text).body.operators


def op(text: str) -> A.Operator:
    """The single operator of ``T | text``."""
    (operator,) = ops(f"T | {text}")
    return operator


def expr(text: str) -> A.Expr:
    """The predicate of ``T | where text``."""
    where = op(f"where {text}")
    assert isinstance(where, A.Where)
    return where.predicate


# ---------------------------------------------------------------------------------- statements


def test_a_table_alone():
    query = parse("StormEvents")
    assert query == A.Query((A.Pipeline(A.TableRef("StormEvents")),))
    assert query.body == A.Pipeline(A.TableRef("StormEvents"))
    assert query.lets == ()


def test_let_statements_scalar_tabular_and_ambiguous():
    query = parse("let x = 5; let T2 = T | take 1; let Alias = T; let d = dynamic([1]); T2")
    assert query.lets == (
        A.LetStatement("x", i(5)),
        A.LetStatement("T2", A.Pipeline(A.TableRef("T"), (A.Take(i(1)),))),
        A.LetStatement("Alias", n("T")),  # a bare name: the binder decides table or scalar
        A.LetStatement("d", A.Literal(K.DYNAMIC, [1])),
    )
    assert query.body == A.Pipeline(A.TableRef("T2"))


def test_let_function_with_typed_parameters_and_default():
    (let, _) = parse("let f = (a:string, b:long = 5) { T | where a == b }; f('x', 2)").statements
    assert let == A.LetStatement(
        "f",
        A.FunctionDef(
            (A.Param("a", K.STRING), A.Param("b", K.LONG, i(5))),
            A.FunctionBody((), A.Pipeline(A.TableRef("T"), (A.Where(b("==", n("a"), n("b"))),))),
        ),
    )


def test_let_function_with_lets_in_its_body_and_a_scalar_result():
    (let, _) = parse("let f = (x:long) { let y = x * 2; y + 1 }; print f(1)").statements
    assert let.value == A.FunctionDef(
        (A.Param("x", K.LONG),),
        A.FunctionBody((A.LetStatement("y", b("*", n("x"), i(2))),), b("+", n("y"), i(1))),
    )


def test_let_function_with_a_tabular_parameter():
    (let, _) = parse("let f = (T:(x:long, *), n:int) { T | take n }; f(S, 1)").statements
    assert let.value.params == (
        A.Param("T", A.TabularType((A.ColumnDecl("x", K.LONG),), open=True)),
        A.Param("n", K.INT),
    )


def test_let_view_and_function_without_parameters():
    query = parse("let v = view () { print 1 }; let g = () { T }; v")
    assert query.lets[0].value == A.FunctionDef((), A.FunctionBody((), A.Pipeline(A.Print((col(i(1)),)))), view=True)
    assert query.lets[1].value == A.FunctionDef((), A.FunctionBody((), n("T")))


def test_let_parenthesized_scalar_is_not_a_function():
    assert parse("let x = (1 + 2); print x").lets[0].value == b("+", i(1), i(2))


def test_set_and_declare_statements():
    query = parse("set querytrace; set truncationmaxsize = 1000; declare query_parameters(x:long = 5, y:string); T")
    assert query.statements[:3] == (
        A.SetStatement("querytrace"),
        A.SetStatement("truncationmaxsize", i(1000)),
        A.DeclareQueryParameters((A.Param("x", K.LONG, i(5)), A.Param("y", K.STRING))),
    )
    assert query.body == T
    assert [o.name for o in query.options] == ["querytrace", "truncationmaxsize"]


def test_several_tabular_statements_the_last_is_the_result():
    query = parse("T | count; U | take 1;")
    assert len(query.statements) == 2
    assert query.body == A.Pipeline(A.TableRef("U"), (A.Take(i(1)),))


def test_an_empty_line_separates_queries_when_no_semicolon_does():
    query = parse("let a = 1;\nT\n| where x == a\n\n// second query\nU\n| take 1\n")
    assert [type(st).__name__ for st in query.statements] == ["LetStatement", "Pipeline", "Pipeline"]
    assert query.body == A.Pipeline(A.TableRef("U"), (A.Take(i(1)),))


def test_an_empty_line_inside_a_pipeline_does_not_split_it():
    assert parse("T\n\n| take 1").body == A.Pipeline(A.TableRef("T"), (A.Take(i(1)),))


def test_a_query_starting_with_a_subquery_or_a_function_call():
    assert parse("(T | where x) | take 1").body == A.Pipeline(
        A.Pipeline(A.TableRef("T"), (A.Where(n("x")),)), (A.Take(i(1)),)
    )
    assert parse("f(5) | take 1").body == A.Pipeline(A.TabularCall(call("f", i(5))), (A.Take(i(1)),))
    assert parse("table('T')").body == A.Pipeline(A.TabularCall(call("table", s("T"))))


def test_qualified_table_names():
    assert parse("cluster('c').database('d').T | take 1").body == A.Pipeline(
        A.QualifiedTableRef((call("cluster", s("c")), call("database", s("d"))), "T"), (A.Take(i(1)),)
    )
    assert parse('database("db").["My Table"]').body.source == A.QualifiedTableRef(
        (call("database", s("db")),), "My Table"
    )


def test_bracketed_table_name():
    assert parse("['My Table'] | count").body == A.Pipeline(A.TableRef("My Table"), (A.Count(),))


# ------------------------------------------------------------------------------------ sources


def test_datatable():
    source = parse("datatable(a:int, b:string, c:dynamic)[1, 'x', dynamic({'k': [1]}), -2, 'y', dynamic(null),]")
    assert source.body.source == A.Datatable(
        (A.ColumnDecl("a", K.INT), A.ColumnDecl("b", K.STRING), A.ColumnDecl("c", K.DYNAMIC)),
        (i(1), s("x"), A.Literal(K.DYNAMIC, {"k": [1]}), i(-2), s("y"), A.Literal(K.DYNAMIC, None)),
    )


def test_datatable_with_one_string_value_and_type_aliases():
    source = parse('datatable(s:string, d:double, t:date)["a", 1.5, datetime(2020-01-01)]').body.source
    assert [c.type for c in source.columns] == [K.STRING, K.REAL, K.DATETIME]
    assert parse('datatable(s:string)["a"]').body.source == A.Datatable((A.ColumnDecl("s", K.STRING),), (s("a"),))


def test_print_and_range():
    assert parse("print x = 1, 'a'").body.source == A.Print((col(i(1), "x"), col(s("a"))))
    assert parse("range x from 1 to 10 step 2").body.source == A.Range("x", i(1), i(10), i(2))


def test_union_source_with_parameters_wildcards_and_subqueries():
    assert parse("union kind=outer withsource=SourceTable isfuzzy=true Security*, (T | take 1), database('d').U") == (
        A.Query(
            (
                A.Pipeline(
                    A.Union(
                        (
                            A.Pipeline(A.TableRef("Security*")),
                            A.Pipeline(A.TableRef("T"), (A.Take(i(1)),)),
                            A.Pipeline(A.QualifiedTableRef((call("database", s("d")),), "U")),
                        ),
                        kind="outer",
                        isfuzzy=True,
                        withsource="SourceTable",
                    )
                ),
            )
        )
    )


def test_union_isfuzzy_before_a_parenthesized_table_is_no_call():
    union = parse("union isfuzzy=true\n(A | where x), (B)").body.source
    assert union.isfuzzy is True
    assert union.tables == (A.Pipeline(A.TableRef("A"), (A.Where(n("x")),)), A.Pipeline(A.TableRef("B")))


def test_union_operator():
    assert op("union U, V*") == A.Union((A.Pipeline(A.TableRef("U")), A.Pipeline(A.TableRef("V*"))))


def test_materialize_and_toscalar():
    query = parse("let M = materialize(T | take 10); M | where x > toscalar(M | count)")
    assert query.lets[0].value == A.Pipeline(A.Materialize(A.Pipeline(A.TableRef("T"), (A.Take(i(10)),))))
    assert query.body.operators[0] == A.Where(b(">", n("x"), A.ToScalar(A.Pipeline(A.TableRef("M"), (A.Count(),)))))


def test_search_forms():
    assert parse('search "term"').body.source == A.Search(s("term"))
    assert parse('search in (T1, Sec*) "x"').body.source == A.Search(s("x"), ("T1", "Sec*"))
    assert parse('search kind=case_sensitive Col has "x"').body.source == A.Search(
        b("has", n("Col"), s("x")), kind="case_sensitive"
    )
    assert parse('search * has "x"').body.source == A.Search(b("has", A.Star(), s("x")))
    assert op('search "x" and "y"') == A.Search(b("and", s("x"), s("y")))


def test_find():
    assert parse("find withsource=S in (T1, T2) where x == 1 project a, b:string").body.source == A.Find(
        b("==", n("x"), i(1)), ("T1", "T2"), "S", (n("a"), A.ColumnDecl("b", K.STRING))
    )
    assert parse("find where x project-smart").body.source == A.Find(n("x"), project_smart=True)


def test_externaldata():
    source = parse('externaldata(a:string, n:long)[h@"https://x/y.csv", "u2"] with (format="csv", skip=1)').body.source
    assert source == A.ExternalData(
        (A.ColumnDecl("a", K.STRING), A.ColumnDecl("n", K.LONG)),
        (s("https://x/y.csv"), s("u2")),
        (A.OperatorParam("format", s("csv")), A.OperatorParam("skip", i(1))),
    )


def test_evaluate_as_source_and_operator():
    assert parse("evaluate python(typeof(*), 'x')").body.source == A.Evaluate(
        call("python", A.TypeOf(A.TabularType((), open=True)), s("x"))
    )
    assert op("evaluate bag_unpack(col)") == A.Evaluate(call("bag_unpack", n("col")))
    assert op("evaluate hint.distribution=per_node pivot(k, sum(x)) : (a:string, *)") == A.Evaluate(
        call("pivot", n("k"), call("sum", n("x"))),
        A.TabularType((A.ColumnDecl("a", K.STRING),), open=True),
        (A.OperatorParam("hint.distribution", n("per_node")),),
    )


# ---------------------------------------------------------------------------------- operators


def test_where_and_filter():
    assert ops("T | where a == 1 | filter b") == (A.Where(b("==", n("a"), i(1))), A.Where(n("b")))


def test_project_and_extend():
    assert op("project a, b = c + 1, ['x y'] = 2") == A.Project(
        (col(n("a")), col(b("+", n("c"), i(1)), "b"), col(i(2), "x y"))
    )
    assert op("extend (lo, hi) = series_fit_line(y), tostring(z)") == A.Extend(
        (col(call("series_fit_line", n("y")), "lo", "hi"), col(call("tostring", n("z"))))
    )
    assert op("extend x = 1").columns[0].name == "x"


def test_project_away_keep_rename_reorder():
    assert op("project-away a, b*, *_s") == A.ProjectAway(("a", "b*", "*_s"))
    assert op("project-keep c*, ['d e']") == A.ProjectKeep(("c*", "d e"))
    assert op("project-rename x = y, ['a b'] = ['c d']") == A.ProjectRename(
        (A.Rename("x", "y"), A.Rename("a b", "c d"))
    )
    assert op("project-reorder a asc, b* granny-desc, c") == A.ProjectReorder(
        (A.ReorderColumn("a", "asc"), A.ReorderColumn("b*", "granny-desc"), A.ReorderColumn("c"))
    )


def test_summarize_with_names_bins_hints_and_star():
    assert op(
        "summarize hint.shufflekey=k count(), c = dcount(y), arg_max(TimeGenerated, *), percentiles(d, 50, 95)"
        " by bin(TimeGenerated, 1h), k = tostring(x)"
    ) == A.Summarize(
        (
            col(call("count")),
            col(call("dcount", n("y")), "c"),
            col(call("arg_max", n("TimeGenerated"), A.Star())),
            col(call("percentiles", n("d"), i(50), i(95))),
        ),
        (
            col(call("bin", n("TimeGenerated"), A.Literal(K.TIMESPAN, TICKS_PER_HOUR))),
            col(call("tostring", n("x")), "k"),
        ),
        (A.OperatorParam("hint.shufflekey", n("k")),),
    )


def test_summarize_by_only_and_aggregates_only():
    assert op("summarize by x") == A.Summarize((), (col(n("x")),))
    assert op("summarize make_list(x, 100)") == A.Summarize((col(call("make_list", n("x"), i(100))),))


def test_sort_and_order_defaults_to_descending():
    assert ops("T | sort by a asc nulls first, b desc | order by c") == (
        A.Sort((A.SortKey(n("a"), True, "first"), A.SortKey(n("b")))),
        A.Sort((A.SortKey(n("c")),)),
    )
    key = A.SortKey(n("a"), ascending=True)
    assert key.nulls_first and not A.SortKey(n("a")).nulls_first


def test_top():
    assert op("top 10 by x desc nulls last") == A.Top(i(10), (A.SortKey(n("x"), False, "last"),))
    assert op("top n + 1 by f(x) asc") == A.Top(b("+", n("n"), i(1)), (A.SortKey(call("f", n("x")), True),))


def test_take_limit_distinct_count():
    assert ops("T | take 5 | limit n | distinct * | distinct a, ['b c'] | count") == (
        A.Take(i(5)),
        A.Take(n("n")),
        A.Distinct(all_columns=True),
        A.Distinct(("a", "b c")),
        A.Count(),
    )


def test_the_count_operator_and_the_count_function():
    assert op("count") == A.Count()
    assert op("summarize count()") == A.Summarize((col(call("count")),))


def test_join_kinds_hints_and_conditions():
    assert op(
        "join kind=leftouter hint.strategy=broadcast (U | where x) on $left.a == $right.b and $left.c == $right.d"
    ) == (
        A.Join(
            A.Pipeline(A.TableRef("U"), (A.Where(n("x")),)),
            (
                b("==", A.JoinSideRef("left", "a"), A.JoinSideRef("right", "b")),
                b("==", A.JoinSideRef("left", "c"), A.JoinSideRef("right", "d")),
            ),
            "leftouter",
            (A.OperatorParam("hint.strategy", n("broadcast")),),
        )
    )


def test_join_bare_table_and_column_list():
    assert op("join U on a, b") == A.Join(A.Pipeline(A.TableRef("U")), (n("a"), n("b")))
    assert op("join kind=inner (U) on a, $left.b == $right.c") == A.Join(
        A.Pipeline(A.TableRef("U")), (n("a"), b("==", A.JoinSideRef("left", "b"), A.JoinSideRef("right", "c"))), "inner"
    )


@pytest.mark.parametrize(
    "kind",
    [
        "inner",
        "innerunique",
        "leftouter",
        "rightouter",
        "fullouter",
        "leftanti",
        "rightanti",
        "leftsemi",
        "rightsemi",
        "anti",
        "leftantisemi",
        "rightantisemi",
    ],
)
def test_every_join_kind(kind: str):
    assert op(f"join kind = {kind} (U) on a").kind == kind


def test_lookup():
    assert op("lookup kind=leftouter (U) on a") == A.Lookup(A.Pipeline(A.TableRef("U")), (n("a"),), "leftouter")
    assert op("lookup U on $left.a == $right.b").right == A.Pipeline(A.TableRef("U"))


def test_mv_expand():
    assert op("mv-expand bagexpansion=array with_itemindex=i a, b = c to typeof(long) limit 100") == A.MvExpand(
        (A.MvExpandColumn(n("a")), A.MvExpandColumn(n("c"), "b", K.LONG)), "array", "i", i(100)
    )
    assert op("mv-expand todynamic(x)") == A.MvExpand((A.MvExpandColumn(call("todynamic", n("x"))),))
    assert op("mvexpand x") == A.MvExpand((A.MvExpandColumn(n("x")),))


def test_mv_apply():
    assert op("mv-apply with_itemindex=i e = arr to typeof(long) on (top 1 by e | project e)") == A.MvApply(
        (A.MvExpandColumn(n("arr"), "e", K.LONG),),
        A.Pipeline(A.ImplicitSource(), (A.Top(i(1), (A.SortKey(n("e")),)), A.Project((col(n("e")),)))),
        "i",
    )


def test_parse_patterns():
    assert op('parse x with * "foo" a:int "bar" b *') == A.Parse(
        n("x"), (A.Star(), s("foo"), A.ColumnDecl("a", K.INT), s("bar"), A.ColumnDecl("b", K.STRING), A.Star())
    )
    assert op('parse kind=regex flags=Ui x with "(a+)" a') == A.Parse(
        n("x"), (s("(a+)"), A.ColumnDecl("a", K.STRING)), "regex", "Ui"
    )
    assert op('parse-where kind=relaxed tostring(x) with "a" b:long') == A.ParseWhere(
        call("tostring", n("x")), (s("a"), A.ColumnDecl("b", K.LONG)), "relaxed"
    )


def test_as_serialize_getschema():
    assert ops("T | as hint.materialized=true X | serialize rn = row_number() | serialize | getschema") == (
        A.As("X", (A.OperatorParam("hint.materialized", A.Literal(K.BOOL, True)),)),
        A.Serialize((col(call("row_number"), "rn"),)),
        A.Serialize(),
        A.GetSchema(),
    )


def test_render():
    assert op('render timechart with (title="x", ycolumns=a, b, kind=stacked)') == A.Render(
        "timechart",
        (
            A.RenderProperty("title", (s("x"),)),
            A.RenderProperty("ycolumns", (n("a"), n("b"))),
            A.RenderProperty("kind", (n("stacked"),)),
        ),
    )
    assert op("render barchart") == A.Render("barchart")


def test_make_series():
    assert op("make-series count() default=0, s = sum(x) on TimeGenerated from ago(7d) to now() step 1h by k") == (
        A.MakeSeries(
            (
                A.MakeSeriesAggregate(col(call("count")), i(0)),
                A.MakeSeriesAggregate(col(call("sum", n("x")), "s")),
            ),
            n("TimeGenerated"),
            A.Literal(K.TIMESPAN, TICKS_PER_HOUR),
            call("ago", A.Literal(K.TIMESPAN, 7 * TICKS_PER_DAY)),
            call("now"),
            (col(n("k")),),
        )
    )


def test_make_series_in_range():
    series = op("make-series kind=nonempty avg(x) on ts in range(a, b, 1d)")
    assert (series.axis, series.start, series.end, series.step, series.kind) == (
        n("ts"),
        n("a"),
        n("b"),
        A.Literal(K.TIMESPAN, TICKS_PER_DAY),
        "nonempty",
    )


def test_top_nested():
    assert op('top-nested 3 of a by count(), top-nested of b with others = "Other" by s = sum(x) asc') == A.TopNested(
        (
            A.TopNestedLevel(col(n("a")), col(call("count")), i(3)),
            A.TopNestedLevel(col(n("b")), col(call("sum", n("x")), "s"), None, s("Other"), True),
        )
    )


def test_sample_invoke():
    assert ops("T | sample 10 | sample-distinct 5 of x | invoke f(1)") == (
        A.Sample(i(10)),
        A.SampleDistinct(i(5), n("x")),
        A.Invoke(call("f", i(1))),
    )


def test_fork_facet_partition():
    assert op("fork (where x | take 1) named = (summarize count())") == A.Fork(
        (
            A.ForkBranch(A.Pipeline(A.ImplicitSource(), (A.Where(n("x")), A.Take(i(1))))),
            A.ForkBranch(A.Pipeline(A.ImplicitSource(), (A.Summarize((col(call("count")),)),)), "named"),
        )
    )
    assert op("facet by a, b with (take 1)") == A.Facet(("a", "b"), A.Pipeline(A.ImplicitSource(), (A.Take(i(1)),)))
    assert op("partition hint.strategy=native by k (top 3 by x)") == A.Partition(
        "k",
        A.Pipeline(A.ImplicitSource(), (A.Top(i(3), (A.SortKey(n("x")),)),)),
        (A.OperatorParam("hint.strategy", n("native")),),
    )


def test_scan_and_reduce():
    assert op("scan declare (c:long=0) with (step s1: true => c = x + s1.c; step s2 output=none: x > 1;)") == A.Scan(
        (
            A.ScanStep("s1", A.Literal(K.BOOL, True), (col(b("+", n("x"), A.MemberAccess(n("s1"), "c")), "c"),)),
            A.ScanStep("s2", b(">", n("x"), i(1)), (), "none"),
        ),
        (A.Param("c", K.LONG, i(0)),),
    )
    assert op('reduce by x with threshold=0.1, characters="X"') == A.Reduce(
        n("x"), None, (A.OperatorParam("threshold", A.Literal(K.REAL, 0.1)), A.OperatorParam("characters", s("X")))
    )


def test_parse_kv_top_hitters_consume():
    assert op("parse-kv x as (a:long, b:string) with (pair_delimiter=',', kv_delimiter='=')") == A.ParseKv(
        n("x"),
        (A.ColumnDecl("a", K.LONG), A.ColumnDecl("b", K.STRING)),
        (A.OperatorParam("pair_delimiter", s(",")), A.OperatorParam("kv_delimiter", s("="))),
    )
    assert op("top-hitters 5 of x by w") == A.TopHitters(i(5), n("x"), n("w"))
    assert op("consume decodeblocks=true") == A.Consume((A.OperatorParam("decodeblocks", A.Literal(K.BOOL, True)),))


# ------------------------------------------------------------------------------ scalar syntax


@pytest.mark.parametrize(
    "op_text",
    [
        "==",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "=~",
        "!~",
        "has",
        "!has",
        "has_cs",
        "!has_cs",
        "hasprefix",
        "!hasprefix",
        "hasprefix_cs",
        "!hasprefix_cs",
        "hassuffix",
        "!hassuffix",
        "hassuffix_cs",
        "!hassuffix_cs",
        "contains",
        "!contains",
        "contains_cs",
        "!contains_cs",
        "startswith",
        "!startswith",
        "startswith_cs",
        "!startswith_cs",
        "endswith",
        "!endswith",
        "endswith_cs",
        "!endswith_cs",
    ],
)
def test_binary_operators_keep_their_spelling(op_text: str):
    assert expr(f"a {op_text} 'x'") == b(op_text, n("a"), s("x"))


def test_matches_regex():
    assert expr(r'a matches regex @"\d+"') == b("matches regex", n("a"), s("\\d+"))


@pytest.mark.parametrize("op_text", ["in", "!in", "in~", "!in~", "has_any", "has_all"])
def test_list_operators(op_text: str):
    assert expr(f"a {op_text} ('x', 'y')") == A.In(n("a"), op_text, (s("x"), s("y")))


def test_in_with_a_name_a_dynamic_or_a_subquery():
    assert expr("a in (names)") == A.In(n("a"), "in", (n("names"),))
    assert expr("a in (dynamic([1, 2]))") == A.In(n("a"), "in", (A.Literal(K.DYNAMIC, [1, 2]),))
    assert expr("a in (U | project b)") == A.In(
        n("a"), "in", subquery=A.Pipeline(A.TableRef("U"), (A.Project((col(n("b")),)),))
    )


def test_between():
    assert expr("a between (1 .. 10)") == A.Between(n("a"), i(1), i(10))
    assert expr("a !between(ago(1d)..now())") == A.Between(
        n("a"), call("ago", A.Literal(K.TIMESPAN, TICKS_PER_DAY)), call("now"), negated=True
    )


def test_precedence_or_and_comparison_additive_multiplicative_unary():
    assert expr("a or b and c") == b("or", n("a"), b("and", n("b"), n("c")))
    assert expr("a == 1 and b has 'x' or c") == b(
        "or", b("and", b("==", n("a"), i(1)), b("has", n("b"), s("x"))), n("c")
    )
    assert expr("a + b * c > d - e / f % g") == b(
        ">", b("+", n("a"), b("*", n("b"), n("c"))), b("-", n("d"), b("%", b("/", n("e"), n("f")), n("g")))
    )
    assert expr("-a.b * 2") == b("*", A.UnaryOp("-", A.MemberAccess(n("a"), "b")), i(2))
    assert expr("(a or b) and c") == b("and", b("or", n("a"), n("b")), n("c"))
    assert expr("a - b - c") == b("-", b("-", n("a"), n("b")), n("c"))


def test_not_iff_case_are_calls():
    assert expr("not(isempty(x))") == call("not", call("isempty", n("x")))
    assert expr("iff(a, 1, 2) == case(a, 1, b, 2, 3)") == b(
        "==", call("iff", n("a"), i(1), i(2)), call("case", n("a"), i(1), n("b"), i(2), i(3))
    )


def test_member_and_index_chains():
    assert expr("parse_json(x).a.b[0]['c'] == 1").left == A.Index(
        A.Index(A.MemberAccess(A.MemberAccess(call("parse_json", n("x")), "a"), "b"), i(0)), s("c")
    )
    assert expr("x.['d e'] == x[-1]") == b("==", A.MemberAccess(n("x"), "d e"), A.Index(n("x"), i(-1)))
    assert expr('x.[k] == x["k"]') == b("==", A.Index(n("x"), n("k")), A.Index(n("x"), s("k")))


def test_typeof():
    assert expr("gettype(x) == typeof(long)").right == A.TypeOf(K.LONG)
    assert op("evaluate python(typeof(*, fx:double), 'script')") == A.Evaluate(
        call("python", A.TypeOf(A.TabularType((A.ColumnDecl("fx", K.REAL),), open=True)), s("script"))
    )


def test_function_calls_with_named_arguments():
    assert expr("f(1, b = 2)") == A.Call("f", (i(1),), (A.NamedArg("b", i(2)),))


def test_timespan_arithmetic_and_unary_minus():
    assert expr("TimeGenerated > now() - 2h") == b(
        ">", n("TimeGenerated"), b("-", call("now"), A.Literal(K.TIMESPAN, 2 * TICKS_PER_HOUR))
    )
    assert expr("x == -1d") == b("==", n("x"), A.Literal(K.TIMESPAN, -TICKS_PER_DAY))
    assert expr("x == -y") == b("==", n("x"), A.UnaryOp("-", n("y")))
    assert expr("x == +1") == b("==", n("x"), A.UnaryOp("+", i(1)))


def test_a_lone_equals_in_a_predicate_means_equality():
    assert expr("IsBillable = true") == b("==", n("IsBillable"), A.Literal(K.BOOL, True))


def test_literals_of_every_type():
    (prnt,) = parse(
        "print datetime(2018-07-01 12:00), timespan(1.02:03:04), guid(74BE27DE-1E4E-49D9-B579-FE0B331D3642),"
        " bool(true), int(5), long(-1), real(1.5), decimal(1.5), long(null), real(nan), true, 1e3, 0x1F, 'a'"
    ).statements
    values = [(c.expr.type, c.expr.value) for c in prnt.source.columns]
    assert values[0] == (K.DATETIME, datetime_to_ticks(datetime(2018, 7, 1, 12, 0, tzinfo=UTC)))
    assert values[1] == (K.TIMESPAN, TICKS_PER_DAY + 2 * TICKS_PER_HOUR + (3 * 60 + 4) * 10_000_000)
    assert values[2] == (K.GUID, "74be27de-1e4e-49d9-b579-fe0b331d3642")
    assert values[3:8] == [
        (K.BOOL, True),
        (K.INT, 5),
        (K.LONG, -1),
        (K.REAL, 1.5),
        (K.DECIMAL, Decimal("1.5")),
    ]
    assert values[8] == (K.LONG, None)
    assert values[9][0] == K.REAL and math.isnan(values[9][1])
    assert values[10:] == [(K.BOOL, True), (K.REAL, 1000.0), (K.LONG, 31), (K.STRING, "a")]


def test_datetime_spellings_from_real_queries():
    def ticks(text: str) -> int:
        return parse(f"print {text}").body.source.columns[0].expr.value

    assert ticks("datetime(2017 - 08 - 01)") == ticks("datetime(2017-08-01)")
    assert ticks("datetime('12-02-2022')") == ticks("datetime(2022-12-02)")
    assert ticks("datetime(1990)") == ticks("datetime(1990-01-01)")
    assert ticks("datetime(2015-12-31T23:59:59.9999999Z)") == ticks("datetime(2016-01-01)") - 1


def test_dynamic_literals():
    def dyn(text: str) -> object:
        value = parse(f"print {text}").body.source.columns[0].expr
        assert value.type == K.DYNAMIC
        return value.value

    assert dyn('dynamic({"a": [1, 2.5, "x", true, null, {"b": -3}], "c": {}})') == {
        "a": [1, 2.5, "x", True, None, {"b": -3}],
        "c": {},
    }
    assert dyn('dynamic(["a"])') == ["a"]
    assert dyn('dynamic([["a"], ["b", "c"]])') == [["a"], ["b", "c"]]
    assert dyn("dynamic(null)") is None
    assert dyn("dynamic([])") == []
    assert dyn("dynamic(5)") == 5


def test_string_forms():
    assert expr("""x == 'a\\'b' and y == @'e''f' and z == "a" "b" and w == h'secret'""") == b(
        "and",
        b("and", b("and", b("==", n("x"), s("a'b")), b("==", n("y"), s("e'f"))), b("==", n("z"), s("ab"))),
        b("==", n("w"), s("secret")),
    )


def test_names_starting_with_digits_and_bracketed_names():
    assert op("extend 90th_Percentile = percentile(x, 90)").columns[0].names == ("90th_Percentile",)
    assert expr("['a b'] == 1") == b("==", n("a b"), i(1))


def test_subtraction_is_not_a_dashed_keyword():
    assert op("extend d = a-b, e = x-1") == A.Extend((col(b("-", n("a"), n("b")), "d"), col(b("-", n("x"), i(1)), "e")))


def test_keyword_like_column_names_in_expressions():
    assert op("extend x = count_ + kind") == A.Extend((col(b("+", n("count_"), n("kind")), "x"),))
    assert op("project type, name, step") == A.Project((col(n("type")), col(n("name")), col(n("step"))))


# ------------------------------------------------------------------------------------- errors


def test_syntax_error_carries_line_column_and_caret_snippet():
    with pytest.raises(KqlSyntaxError) as info:
        parse("T\n| where x == )")
    error = info.value
    assert (error.line, error.column, error.offset) == (2, 14, 15)
    assert error.snippet == "| where x == )\n             ^"
    assert str(error) == "expected an expression, found ')' (line 2, column 14)\n| where x == )\n             ^"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("T | frobnicate", "expected a tabular operator, found 'frobnicate'"),
        ("T | where", "expected an expression, found end of query"),
        ("T | take 1 T", "expected ';' or '|', found 'T'"),
        ("let x = 1;", "expected a tabular expression: the query has no statement producing a result"),
        ("T | project a,", "expected an expression, found end of query"),
        ("T | join (U) on", "expected an expression, found end of query"),
        ("datatable(a:int)[1", "expected ']' or ',', found end of query"),
        ("datatable(a:wrongtype)[1]", "expected a type name, found 'wrongtype'"),
        ("print datetime(not a date)", "invalid datetime literal datetime(not a date)"),
        ("print guid(xyz)", "invalid guid literal guid(xyz)"),
        ("print 1 +", "expected an expression, found end of query"),
        ("T | where a between 1 .. 2", "expected '(' after between, found '1'"),
        ("print dynamic({1: 2})", "expected a property name, found '1'"),
        ("5 | take 1", "expected a tabular expression (a table, a function call or a parenthesized query)"),
    ],
)
def test_syntax_errors(text: str, message: str):
    with pytest.raises(KqlSyntaxError) as info:
        parse(text)
    assert info.value.message == message
    assert info.value.line is not None and info.value.snippet


@pytest.mark.parametrize(
    ("text", "construct", "column"),
    [
        ("T | make-graph a --> b with N on id", "the make-graph operator", 5),
        ("T | graph-match (a)-[e]->(b)", "the graph-match operator", 5),
        ("declare pattern p;", "pattern declarations", 1),
        ("alias database x = cluster('c').database('d'); T", "the alias statement", 1),
    ],
)
def test_unsupported_constructs_are_named_with_their_position(text: str, construct: str, column: int):
    with pytest.raises(KqlUnsupportedError) as info:
        parse(text)
    assert info.value.construct == construct
    assert info.value.message == f"{construct} is not supported"
    assert (info.value.line, info.value.column) == (1, column)


def test_deep_nesting_is_a_syntax_error():
    with pytest.raises(KqlSyntaxError) as info:
        parse("print " + "(" * 5000 + "1" + ")" * 5000)
    assert info.value.message == "the query is nested too deeply"


def test_positions_of_nodes():
    query = parse("let x = 1;\nT\n| where a == x")
    where = query.body.operators[0]
    assert (where.pos.line, where.pos.column) == (3, 3)
    assert (where.predicate.pos.line, where.predicate.pos.column) == (3, 9)
    assert query.lets[0].pos == A.Pos(0, 1, 1)


def test_walk_visits_every_node_parents_first():
    query = parse("let n = 2; T | where a in (U | project b) | take n")
    names = [type(node).__name__ for node in A.walk(query)]
    assert names == [
        "Query",
        "LetStatement",
        "Literal",
        "Pipeline",
        "TableRef",
        "Where",
        "In",
        "NameRef",
        "Pipeline",
        "TableRef",
        "Project",
        "NamedExpr",
        "NameRef",
        "Take",
        "NameRef",
    ]
    assert list(A.children(A.Take(n("x")))) == [n("x")]


def test_an_error_at_the_end_of_the_query_points_after_its_last_token():
    with pytest.raises(KqlSyntaxError) as info:
        parse("T\n| where a ==\n\n")
    assert (info.value.line, info.value.column) == (2, 13)
    assert info.value.snippet == "| where a ==\n            ^"
