"""String functions, with the examples of Kusto's documentation as expectations."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlglot import exp

from monitor.kql.function_harness import Null, evaluate
from warden.monitor.kql.errors import KqlSemanticError
from warden.monitor.kql.typed import Typed
from warden.monitor.kql.types import KustoType as K


def test_strcat_stringifies_and_never_returns_null() -> None:
    assert evaluate("strcat", "a", 1, 2.5, True) == "a12.5true"
    assert evaluate("strcat", "a", Null("long"), "b") == "ab"
    assert evaluate("strcat_delim", "-", "a", 1, "") == "a-1-"
    assert evaluate("strcat_array", [1, 2, 3], "->") == "1->2->3"
    assert evaluate("strcat_array", [1, 2, 3], '"') == '1"2"3'
    assert evaluate("strcat_array", {"a": 1}, ",") == ""


def test_lengths() -> None:
    assert evaluate("strlen", "héllo") == 5
    assert evaluate("strlen", "") == 0
    assert evaluate("strlen", 1234) == 4
    assert evaluate("string_size", "hello") == 5
    assert evaluate("string_size", "⒦⒰⒮⒯⒪") == 15


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("123456", 1), "23456"),
        (("123456", 2, 2), "34"),
        (("ABCD", 0, 2), "AB"),
        (("123456", -2, 2), "56"),
        (("abc", 5), ""),
        (("abc", 1, -1), ""),
        ((12345, 1, 2), "23"),
    ],
)
def test_substring(args: tuple, expected: str) -> None:
    assert evaluate("substring", *args) == expected


def test_case_and_reverse() -> None:
    assert evaluate("tolower", "AbC") == "abc"
    assert evaluate("toupper", "AbC") == "ABC"
    assert evaluate("reverse", "abc") == "cba"
    assert evaluate("reverse", 123) == "321"


@pytest.mark.parametrize(
    ("name", "regex", "text", "expected"),
    [
        ("trim", "--", "--https://bing.com--", "https://bing.com"),
        ("trim", r"[^\w]+", "-  Te st1// $", "Te st1"),
        ("trim", r"\s+", "    Hello, world!    ", "Hello, world!"),
        ("trim", "1", "11", ""),
        ("trim", "1", "10", "0"),
        ("trim_start", "https://", "https://bing.com", "bing.com"),
        ("trim_start", r"[^\w]+", "-  Te st1// $", "Te st1// $"),
        ("trim_start", r"\s+", "    Hello, world!    ", "Hello, world!    "),
        ("trim_end", r"[^\w]+", "-  Te st1// $", "-  Te st1"),
        ("trim_end", r"\s+", "    Hello, world!    ", "    Hello, world!"),
    ],
)
def test_trim(name: str, regex: str, text: str, expected: str) -> None:
    assert evaluate(name, regex, text) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("aa_bb", "_"), ["aa", "bb"]),
        (("aaa_bbb_ccc", "_", 1), ["bbb"]),
        (("", "_"), [""]),
        (("a__b", "_"), ["a", "", "b"]),
        (("aabbcc", "bb"), ["aa", "cc"]),
        (("a_b", "_", 5), []),
    ],
)
def test_split(args: tuple, expected: list) -> None:
    assert evaluate("split", *args) == expected


def test_replace_functions() -> None:
    assert evaluate("replace_string", "A magic trick", "magic", "cool") == "A cool trick"
    assert evaluate("replace_string", "aaa", "", "x") == "aaa"
    assert evaluate("replace_regex", "Number was: 1", r"was: (\d+)", r"is: \1") == "Number is: 1"
    assert evaluate("replace_regex", "a1b2", r"\d", "#") == "a#b#"
    assert evaluate("replace", r"(\d)", r"<\1>", "a1b2") == "a<1>b<2>"  # deprecated: (regex, rewrite, text)


def test_replace_strings() -> None:
    message = "A magic trick can turn a cat into a dog"
    assert evaluate("replace_strings", message, ["cat", "dog"], ["dog", "pigeon"]) == (
        "A magic trick can turn a dog into a pigeon"
    )
    assert evaluate("replace_strings", message, ["turn", " into a dog"], ["disappear", ""]) == (
        "A magic trick can disappear a cat"
    )
    text = "This is an example of using replace_strings()"
    assert evaluate("replace_strings", text, ["This", "is"], ["This", "was"]).startswith("This was an")
    assert evaluate("replace_strings", text, ["is", "This"], ["was", "This"]).startswith("Thwas was an")
    assert evaluate("replace_strings", text, ["This", "is"], [12345, "was"]).startswith("This was an")


def test_extract() -> None:
    assert evaluate("extract", "User: ([^,]+)", 1, "User: James, Email: James@example.com, Age: 29") == "James"
    assert evaluate("extract", r"Email: (\S+),", 1, "User: David, Age: 35") == ""
    assert evaluate("extract", r"\d+", 0, "User: David, Age: 35") == "35"
    as_int = Typed(exp.Literal.string("int"), K.STRING, K.INT)  # how typeof(int) arrives: its literal is the type
    assert evaluate("extract", r"-(\d{2})-", 1, "15-12-2024", as_int) == 12
    assert evaluate("extract", r"-(\d{2})-", 1, "no match", as_int) is None
    assert evaluate("extract", r"-(\d{2})-", 1, "15-12-2024", as_int, type_out=True)[1] is K.INT


def test_extract_all() -> None:
    text = "82b8be2d-dfa7-4bd1-8f63-24ad26d31449"
    assert evaluate("extract_all", r"(\d+)", "a set of numbers: 123, 567 and 789") == ["123", "567", "789"]
    assert evaluate("extract_all", r"([\da-f]{2})", text)[:3] == ["82", "b8", "be"]
    assert evaluate("extract_all", r"(\w)(\w+)(\w)", text)[:2] == [["8", "2b8be2", "d"], ["d", "fa", "7"]]
    assert evaluate("extract_all", r"(\w)(\w+)(\w)", [1, 3], text)[:2] == [["8", "d"], ["d", "7"]]
    named = r"(?P<first>\w)(?P<middle>\w+)(?P<last>\w)"
    assert evaluate("extract_all", named, ["first", 2, "last"], text)[0] == ["8", "2b8be2", "d"]
    assert evaluate("extract_all", r"(\d+)", "no digits") is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("abcdefg", "cde"), 2),
        (("abcdefg", "cde", 1, 4), 2),
        (("abcdefg", "cde", 1, 2), 2),  # the match may start in the window and run past it
        (("abcdefg", "cde", 3, 4), -1),
        (("abcdefg", "cde", -5), 2),
        ((1234567, 5, 1, 4), 4),
        (("abcdefg", "cde", 2, -1), 2),
        (("abcdefgabcdefg", "cde", 1, 10, 2), 9),
        (("abcdefgabcdefg", "cde", 1, -1, 3), -1),
        (("abc", "x"), -1),
        (("abc", ""), 0),
        (("abc", "b", 0, -2), None),
    ],
)
def test_indexof(args: tuple, expected: int | None) -> None:
    assert evaluate("indexof", *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("abcabc", "a.c"), 0),
        (("abcabcdefg", "a.c", 0, 9, 2), 3),
        (("abcabc", "a.c", 1, -1, 2), -1),
        (("ababaa", "a.a", 0, -1, 2), -1),
        (("abcabc", "a|ab", -1), None),
    ],
)
def test_indexof_regex(args: tuple, expected: int | None) -> None:
    assert evaluate("indexof_regex", *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("aaa", "a"), 3),
        (("aaaa", "aa"), 3),  # plain matches overlap
        (("ababa", "ab", "normal"), 2),
        (("ababa", "aba"), 2),
        (("ababa", "aba", "regex"), 1),  # regex matches don't
        (("abcabc", "a.c", "regex"), 2),
        (("abc", ""), 0),
    ],
)
def test_countof(args: tuple, expected: int) -> None:
    assert evaluate("countof", *args) == expected


def test_strrep_translate_strcmp() -> None:
    assert evaluate("strrep", "ABC", 2) == "ABCABC"
    assert evaluate("strrep", 123, 3, ".") == "123.123.123"
    assert evaluate("strrep", dt.timedelta(seconds=3), 2, " ") == "00:00:03 00:00:03"
    assert evaluate("translate", "abc", "x", "abc") == "xxx"
    assert evaluate("translate", "abc", "", "ab") == ""
    assert evaluate("translate", "krasp", "otsku", "spark") == "kusto"
    assert [
        evaluate("strcmp", a, b) for a, b in [("ABC", "ABC"), ("abc", "ABC"), ("ABC", "abc"), ("abcde", "abc")]
    ] == [
        0,
        1,
        -1,
        1,
    ]


def test_unicode_and_ascii() -> None:
    assert evaluate("unicode_codepoints_from_string", "⒦⒰⒮⒯⒪") == [9382, 9392, 9390, 9391, 9386]
    assert evaluate("unicode_codepoints_to_string", 75, 117, 115, 116, 111) == "Kusto"
    assert evaluate("unicode_codepoints_to_string", [75, 117, 115], 116, 111) == "Kusto"
    assert evaluate("isascii", "abc") is True
    assert evaluate("isascii", "é") is False


def test_argument_errors() -> None:
    with pytest.raises(KqlSemanticError):
        evaluate("substring", "abc", "x")
    with pytest.raises(KqlSemanticError):
        evaluate("countof", "abc", "a", "fuzzy")
