"""parse_command_line with CommandLineToArgvW's quoting and backslash rules."""

from __future__ import annotations

import pytest

from monitor.kql.function_harness import Null, evaluate
from warden.monitor.kql.errors import KqlError


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('echo "hello world!"', ["echo", "hello world!"]),
        ('a "b c" d', ["a", "b c", "d"]),
        (r'x "a\"b" c', ["x", 'a"b', "c"]),  # 2n+1 backslashes: a literal quote
        (r'x a\\"b c" d', ["x", r"a\b c", "d"]),  # 2n backslashes: n of them, and the quote acts
        (r"x a\\b c\\", ["x", r"a\\b", "c\\\\"]),  # backslashes not before a quote are literal
        ('x "" y', ["x", "", "y"]),
        ("  spaced\tout  ", ["spaced", "out"]),
        ("", []),
    ],
)
def test_windows_rules(line: str, expected: list[str]) -> None:
    assert evaluate("parse_command_line", line, "windows") == expected


def test_other_parsers_are_refused_and_null_is_empty() -> None:
    with pytest.raises(KqlError):
        evaluate("parse_command_line", "a b", "unix")
    assert evaluate("parse_command_line", Null("string"), "windows") == []
