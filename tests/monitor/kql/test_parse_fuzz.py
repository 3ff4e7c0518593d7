"""Fuzzing ``parse``: whatever the text, nothing but a ``KqlError`` may escape.

Inputs: random token sequences from a KQL vocabulary, token-level mutations (deletions,
duplications, swaps, replacements) of real queries, character-level mutations of the same
queries, and arbitrary text. Derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warden.monitor.kql import KqlError, ast, parse
from warden.monitor.kql.tokens import TokenKind, tokenize

FUZZ = settings(
    max_examples=1500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)

SEED_QUERIES = [
    "SecurityEvent | where TimeGenerated > ago(1d) and EventID == 4625 | summarize count() by Account",
    "let threshold = 5;\nSigninLogs\n| where ResultType in (0, 50199)\n| summarize Results=make_set(ResultType)"
    " by CorrelationId\n| where array_length(Results) > threshold",
    "T | join kind=leftouter hint.strategy=broadcast (U | where x) on $left.a == $right.b and $left.c == $right.d",
    "union isfuzzy=true withsource=Src Security*, (T | take 1) | project-away a, b* | project-rename x = y",
    "T | mv-expand bagexpansion=array with_itemindex=i a, b = c to typeof(long) limit 100 | mv-apply e = a on"
    " (top 1 by e)",
    'T | parse kind=regex flags=Ui x with * "foo" a:int "bar" b * | parse-where y with "a" z',
    'datatable(a:int, b:string, c:dynamic)[1, "x", dynamic({"k": [1, 2]}), -2, @\'y\', dynamic(null)]',
    "let f = (a:string, b:long = 5) { T | where a == b }; f('x') | render timechart with (title='t', ycolumns=a, b)",
    "T | make-series count() default=0 on TimeGenerated from ago(7d) to now() step 1h by k | top-nested 3 of a by"
    " count()",
    'search in (T1, T2) "x" | evaluate bag_unpack(col) : (a:string, *) | extend x = parse_json(y).a.b[0]["c"]',
    "T | where a !has 'x' and b has_cs \"y\" and e matches regex @'\\d+' and f !in~ ('a') and i between (1 .. 10)",
    "range x from 1 to 10 step 2 | extend y = iff(x % 2 == 0, datetime(2018-07-01 12:00), now() - 2h)",
    "T | summarize hint.shufflekey=k arg_max(TimeGenerated, *), percentiles(d, 50, 95) by bin(TimeGenerated, 1h)",
    'print x = toscalar(T | count), y = dynamic([1, [2, {"a": null}]]), z = guid(74be27de-1e4e-49d9-b579-fe0b331d3642)',
    "T | scan declare (c:long=0) with (step s1: true => c = x + s1.c;) | fork (take 1) (count) | facet by a",
    "externaldata(a:string)[h@'https://x/y.csv'] with (format='csv') | as hint.materialized=true X | getschema",
    "cluster('c').database('d').['My Table'] | lookup kind=leftouter (U) on a | sort by a asc nulls first",
    "set querytrace; declare query_parameters(x:long = 5); T | where x = 1 | sample-distinct 5 of x | invoke f()",
]

VOCABULARY = [
    *["T", "x", "y", "$left", "$right", "['a b']", "f", "count", "bin", "ago", "now", "dynamic", "toscalar"],
    *["where", "project", "project-away", "extend", "summarize", "by", "join", "kind", "on", "union", "let"],
    *["mv-expand", "mv-apply", "parse", "with", "make-series", "default", "from", "to", "step", "top", "in"],
    *["render", "datatable", "range", "print", "search", "find", "evaluate", "view", "set", "declare", "and"],
    *["or", "has", "!has", "in~", "!in", "between", "matches", "regex", "asc", "desc", "nulls", "first"],
    *["|", ",", ";", "(", ")", "[", "]", "{", "}", ".", ":", "=", "==", "!=", "<", ">=", "+", "-", "*", "/"],
    *["=~", "..", "=>", "1", "2.5", "1e3", "1d", "30m", "'s'", '"t"', "@'v'", "datetime(2020-01-01)"],
    *["datetime(garbage)", "guid(x)", "long(null)", "real(nan)", "true", "hint", "hint.strategy", "typeof", "\n\n"],
]


def assert_only_kql_errors(text: str) -> None:
    """``parse(text)`` returns a Query or raises a KqlError with a position; nothing else."""
    try:
        result = parse(text)
    except KqlError as exc:
        assert exc.message
        assert exc.line is not None and exc.column is not None and exc.snippet is not None
        return
    assert isinstance(result, ast.Query)


def token_texts(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.kind is not TokenKind.EOF]


SEED_TOKENS = [token_texts(q) for q in SEED_QUERIES]


def test_the_seed_queries_parse():
    for query in SEED_QUERIES:
        parse(query)


@FUZZ
@given(st.lists(st.sampled_from(VOCABULARY), max_size=40), st.sampled_from([" ", "\n", ""]))
def test_random_token_sequences(words: list[str], separator: str):
    assert_only_kql_errors(separator.join(words))


@st.composite
def mutated_query(draw: st.DrawFn) -> str:
    tokens = list(draw(st.sampled_from(SEED_TOKENS)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        at = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert"]))
        if action == "delete":
            del tokens[at]
        elif action == "duplicate":
            tokens.insert(at, tokens[at])
        elif action == "swap":
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[at], tokens[other] = tokens[other], tokens[at]
        elif action == "replace":
            tokens[at] = draw(st.sampled_from(VOCABULARY))
        else:
            tokens.insert(at, draw(st.sampled_from(VOCABULARY)))
    return " ".join(tokens)


@FUZZ
@given(mutated_query())
def test_token_mutations_of_real_queries(text: str):
    assert_only_kql_errors(text)


@st.composite
def char_mutated_query(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEED_QUERIES))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "cut"]))
        if action == "delete":
            text = text[:at] + text[at + 1 :]
        elif action == "insert":
            text = text[:at] + draw(st.sampled_from(list("'\"@`~()[]{}|;,.:=!<>-*/\\$h0 \n"))) + text[at:]
        else:
            text = text[:at]
    return text


@FUZZ
@given(char_mutated_query())
def test_character_mutations_of_real_queries(text: str):
    assert_only_kql_errors(text)


@FUZZ
@given(st.text(max_size=60))
def test_arbitrary_text(text: str):
    assert_only_kql_errors(text)
