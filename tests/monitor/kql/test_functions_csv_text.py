"""parse_csv: quoting rules of Kusto's docs, checked against Python's csv module."""

from __future__ import annotations

import csv
import io

import pytest

from monitor.kql.function_harness import Null, evaluate


def test_documented_examples() -> None:
    text = 'aa,"b,b,b",cc,"Escaping quotes: ""Title""","line1\nline2"'
    assert evaluate("parse_csv", text) == ["aa", "b,b,b", "cc", 'Escaping quotes: "Title"', "line1\nline2"]
    assert evaluate("parse_csv", "record1,a,b,c\nrecord2,x,y,z") == ["record1", "a", "b", "c"]


@pytest.mark.parametrize("text", ["a", "a,", ",b", "1, 2 ,3", '"",x', '"a""b"', "x,y\r\nz"])
def test_first_record_like_the_csv_module(text: str) -> None:
    expected = next(csv.reader(io.StringIO(text)))
    assert evaluate("parse_csv", text) == expected


def test_empty_and_null() -> None:
    assert evaluate("parse_csv", "") == [""]
    assert evaluate("parse_csv", Null("string")) == [""]
