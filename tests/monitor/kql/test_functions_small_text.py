"""regex_quote, isutf8, bitset_count_ones, format_bytes."""

from __future__ import annotations

import re

import pytest

from monitor.kql.function_harness import Null, evaluate


def test_regex_quote_escapes_every_metacharacter() -> None:
    assert evaluate("regex_quote", "(so$me.Te^xt)") == r"\(so\$me\.Te\^xt\)"
    text = r"a.b*c+d?e|f{1}[g](h)^$\ é_9"
    quoted = evaluate("regex_quote", text)
    assert re.fullmatch(quoted, text) and quoted.count("\\") >= 15


def test_isutf8() -> None:
    assert evaluate("isutf8", "some string") is True
    assert evaluate("isutf8", "") is True


def test_bitset_count_ones() -> None:
    assert evaluate("bitset_count_ones", 42) == 3
    assert evaluate("bitset_count_ones", -1) == 64
    assert evaluate("bitset_count_ones", Null("long")) is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((564,), "564 Bytes"),
        ((10332, 1), "10.1 KB"),
        ((20010332,), "19 MB"),
        ((20010332, 2), "19.08 MB"),
        ((20010332, 0, "KB"), "19541 KB"),
        ((1048576, 2), "1 MB"),
        ((3 * 1024**4,), "3 TB"),
        ((5, 0, "XB"), ""),
    ],
)
def test_format_bytes(args: tuple, expected: str) -> None:
    assert evaluate("format_bytes", *args) == expected


def test_has_any_index() -> None:
    assert evaluate("has_any_index", "this is an example", ["this", "example"]) == 0
    assert evaluate("has_any_index", "this is an example", ["not", "example"]) == 1
    assert evaluate("has_any_index", "this is an example", ["not", "found"]) == -1
    assert evaluate("has_any_index", "Example number 2", [1, 2]) == 1
    assert evaluate("has_any_index", "this is an example", []) == -1
    # Whole terms only, any case; regex characters in a value are literal.
    assert evaluate("has_any_index", "an EXAMPLEs (a.b)", ["example", "a.b"]) == 1
