"""The KQL tokenizer: token kinds, decoded values and positions."""

from __future__ import annotations

import pytest

from warden.monitor.kql import KqlError, KqlSyntaxError
from warden.monitor.kql.tokens import TokenKind, tokenize
from warden.monitor.kql.values import TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE, TICKS_PER_SECOND

K = TokenKind


def kinds_texts(text: str) -> list[tuple[TokenKind, str]]:
    return [(t.kind, t.text) for t in tokenize(text)[:-1]]


def values(text: str) -> list[object]:
    return [t.value for t in tokenize(text)[:-1]]


def test_ends_with_eof_at_the_end_of_the_text():
    tokens = tokenize("T ")
    assert tokens[-1].kind is K.EOF
    assert tokens[-1].offset == 2
    assert tokenize("")[0].kind is K.EOF


def test_names_and_operators():
    assert kinds_texts("T | where a >= 1") == [
        (K.NAME, "T"),
        (K.OP, "|"),
        (K.NAME, "where"),
        (K.NAME, "a"),
        (K.OP, ">="),
        (K.INT, "1"),
    ]


@pytest.mark.parametrize(
    "op",
    [
        "|",
        ",",
        ";",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ".",
        ":",
        "=",
        "==",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "=~",
        "!~",
        "..",
        "=>",
    ],
)
def test_every_operator_is_one_token(op: str):
    assert kinds_texts(f"a {op} b") == [(K.NAME, "a"), (K.OP, op), (K.NAME, "b")]


@pytest.mark.parametrize(
    "word",
    [
        "project-away",
        "project-keep",
        "project-rename",
        "project-reorder",
        "mv-expand",
        "mv-apply",
        "parse-where",
        "top-nested",
        "make-series",
        "sample-distinct",
    ],
)
def test_dashed_keywords_are_one_name(word: str):
    assert kinds_texts(f"T | {word} x") == [(K.NAME, "T"), (K.OP, "|"), (K.NAME, word), (K.NAME, "x")]


def test_a_dash_between_other_names_is_a_minus():
    assert kinds_texts("project-x") == [(K.NAME, "project"), (K.OP, "-"), (K.NAME, "x")]
    assert kinds_texts("a-b") == [(K.NAME, "a"), (K.OP, "-"), (K.NAME, "b")]
    assert kinds_texts("project-awayx") == [(K.NAME, "project"), (K.OP, "-"), (K.NAME, "awayx")]


@pytest.mark.parametrize(
    "op", ["!has", "!has_cs", "!contains", "!contains_cs", "!startswith", "!endswith_cs", "!in", "!in~", "!between"]
)
def test_negated_word_operators_are_one_token(op: str):
    assert kinds_texts(f"a {op} b")[1] == (K.OP, op)


def test_in_tilde_and_word_operators():
    assert kinds_texts("a in~ (b)")[1] == (K.OP, "in~")
    assert kinds_texts("a has_any (b)")[1] == (K.NAME, "has_any")
    assert kinds_texts("a matches regex b")[1:3] == [(K.NAME, "matches"), (K.NAME, "regex")]
    assert kinds_texts("a != b")[1] == (K.OP, "!=")
    assert kinds_texts("a !~ b")[1] == (K.OP, "!~")


def test_join_side_names():
    assert kinds_texts("$left.a == $right.b") == [
        (K.NAME, "$left"),
        (K.OP, "."),
        (K.NAME, "a"),
        (K.OP, "=="),
        (K.NAME, "$right"),
        (K.OP, "."),
        (K.NAME, "b"),
    ]


def test_bracketed_names():
    tokens = tokenize("['name with spaces'] [\"x\"] [ 'y' ] [@'c:\\p']")[:-1]
    assert [t.kind for t in tokens] == [K.BRACKETED_NAME] * 4
    assert [t.value for t in tokens] == ["name with spaces", "x", "y", "c:\\p"]


def test_brackets_around_other_things_stay_operators():
    assert kinds_texts("x[0]") == [(K.NAME, "x"), (K.OP, "["), (K.INT, "0"), (K.OP, "]")]
    assert [k for k, _ in kinds_texts('["a", "b"]')] == [K.OP, K.STRING, K.OP, K.STRING, K.OP]


def test_names_may_start_with_digits():
    assert kinds_texts("90th_Percentile") == [(K.NAME, "90th_Percentile")]
    assert kinds_texts("5h_MovingAvg") == [(K.NAME, "5h_MovingAvg")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'abc'", "abc"),
        ('"abc"', "abc"),
        (r"'a\'b'", "a'b"),
        (r'"a\"b"', 'a"b'),
        (r'"tab\there\nnew"', "tab\there\nnew"),
        (r'"back\\slash"', "back\\slash"),
        (r'"\u0041"', "A"),
        (r'"\d+"', "\\d+"),
        ('@"c:\\temp\\x"', "c:\\temp\\x"),
        ("@'it''s'", "it's"),
        ('@"say ""hi"""', 'say "hi"'),
        ('h"secret"', "secret"),
        ("H'secret'", "secret"),
        ('h@"c:\\s"', "c:\\s"),
        ("```multi\nline```", "multi\nline"),
        ("~~~a\nb~~~", "a\nb"),
        ('"http://not-a-comment"', "http://not-a-comment"),
    ],
)
def test_string_literals(text: str, value: str):
    tokens = tokenize(text)
    assert [t.kind for t in tokens] == [K.STRING, K.EOF]
    assert tokens[0].value == value
    assert tokens[0].text == text


def test_adjacent_string_literals_are_concatenated():
    tokens = tokenize("x == 'a' \"b\"\n  @'c'")
    assert [t.kind for t in tokens] == [K.NAME, K.OP, K.STRING, K.EOF]
    assert tokens[2].value == "abc"
    assert tokens[2].text == "'a' \"b\"\n  @'c'"


def test_a_name_ending_in_h_before_a_string_is_no_obfuscated_string():
    assert kinds_texts('with"x"') == [(K.NAME, "with"), (K.STRING, '"x"')]


def test_numbers():
    assert values("1 42 1.5 1e3 2.5E-2 0x1F 1000.") == [1, 42, 1.5, 1000.0, 0.025, 31, 1000.0]
    assert [t.kind for t in tokenize("1 1.5 1e3 0x1F")[:-1]] == [K.INT, K.REAL, K.REAL, K.INT]


def test_range_dots_after_a_number():
    assert kinds_texts("1..10") == [(K.INT, "1"), (K.OP, ".."), (K.INT, "10")]


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("1d", TICKS_PER_DAY),
        ("2h", 2 * TICKS_PER_HOUR),
        ("30m", 30 * TICKS_PER_MINUTE),
        ("10s", 10 * TICKS_PER_SECOND),
        ("100ms", TICKS_PER_SECOND // 10),
        ("5microsecond", 50),
        ("1tick", 1),
        ("3ticks", 3),
        ("1.5h", 90 * TICKS_PER_MINUTE),
        ("2days", 2 * TICKS_PER_DAY),
        ("15min", 15 * TICKS_PER_MINUTE),
    ],
)
def test_timespan_literals(text: str, ticks: int):
    tokens = tokenize(text)
    assert tokens[0].kind is K.TIMESPAN
    assert tokens[0].value == ticks


@pytest.mark.parametrize(
    ("text", "word", "raw"),
    [
        ("datetime(2018-07-01 12:00)", "datetime", "2018-07-01 12:00"),
        ("datetime( 2018-07-01 )", "datetime", "2018-07-01"),
        ("timespan(1.02:03:04)", "timespan", "1.02:03:04"),
        ("guid(74be27de-1e4e-49d9-b579-fe0b331d3642)", "guid", "74be27de-1e4e-49d9-b579-fe0b331d3642"),
        ("bool(true)", "bool", "true"),
        ("int(5)", "int", "5"),
        ("long(-1)", "long", "-1"),
        ("real(nan)", "real", "nan"),
        ("decimal(1.5)", "decimal", "1.5"),
        ("time(5m)", "time", "5m"),
        ("datetime('2020-01-01 (a)')", "datetime", "'2020-01-01 (a)'"),
    ],
)
def test_typed_literals_keep_their_raw_body(text: str, word: str, raw: str):
    tokens = tokenize(text)
    assert [t.kind for t in tokens] == [K.TYPED, K.EOF]
    assert tokens[0].value == (word, raw)


def test_type_words_without_parentheses_are_names():
    assert kinds_texts("x:datetime") == [(K.NAME, "x"), (K.OP, ":"), (K.NAME, "datetime")]
    assert kinds_texts("typeof(long)") == [(K.NAME, "typeof"), (K.OP, "("), (K.NAME, "long"), (K.OP, ")")]


def test_dynamic_is_tokenized_normally():
    assert [k for k, _ in kinds_texts('dynamic({"a": 1})')] == [K.NAME, K.OP, K.OP, K.STRING, K.OP, K.INT, K.OP, K.OP]


def test_comments_are_skipped():
    assert kinds_texts("T // a comment | where\n| take 1 // another") == [
        (K.NAME, "T"),
        (K.OP, "|"),
        (K.NAME, "take"),
        (K.INT, "1"),
    ]


def test_positions():
    tokens = tokenize("T\n| where  x == 'a'\n")
    where = tokens[2]
    assert (where.text, where.offset, where.line, where.column) == ("where", 4, 2, 3)
    string = tokens[5]
    assert (string.offset, string.end, string.line, string.column) == (16, 19, 2, 15)


def test_bom_and_unicode_whitespace_are_blanks():
    assert kinds_texts("\ufeffT\u00a0| take 1") == [(K.NAME, "T"), (K.OP, "|"), (K.NAME, "take"), (K.INT, "1")]


def test_unicode_names():
    assert kinds_texts("Größe") == [(K.NAME, "Größe")]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("x == 'abc", "unterminated string literal", 6),
        ('x == "ab\ncd"', "unterminated string literal", 6),
        ("x == @'abc", "unterminated string literal", 6),
        ("x == ```abc", "unterminated multi-line string literal", 6),
        ("x == datetime(2020", "unclosed '(' of a typed literal", 14),
        ("x == 1.5abc", "invalid number or timespan literal '1.5abc'", 6),
        ("x == \\", "unexpected character '\\\\'", 6),
    ],
)
def test_lexical_errors_have_positions(text: str, message: str, column: int):
    with pytest.raises(KqlSyntaxError) as info:
        tokenize(text)
    assert info.value.message == message
    assert (info.value.line, info.value.column) == (1, column)
    assert isinstance(info.value, KqlError)


def test_real_specials_stay_raw_for_the_parser():
    assert tokenize("real(+inf)")[0].value == ("real", "+inf")
