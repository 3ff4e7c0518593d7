"""iff/case/coalesce and the null/empty tests."""

from __future__ import annotations

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate
from warden.monitor.kql.errors import KqlSemanticError
from warden.monitor.kql.types import KustoType as K


def test_iff() -> None:
    assert evaluate("iff", True, "a", "b") == "a"
    assert evaluate("iif", False, "a", "b") == "b"
    assert evaluate("iff", Null("bool"), 1, 2) == 2  # a null condition takes the else branch
    assert evaluate("iff", True, 1, 2.5, type_out=True) == (1.0, K.REAL)
    assert evaluate("iff", True, Null("long"), 2) is None
    with pytest.raises(KqlSemanticError):
        evaluate("iff", True, 1, "x")
    with pytest.raises(KqlSemanticError):
        evaluate("iff", 1, 1, 2)


def test_case() -> None:
    assert evaluate("case", False, 1, True, 2, 3) == 2
    assert evaluate("case", False, 1, False, 2, 3) == 3
    assert evaluate("case", Null("bool"), "x", "y") == "y"
    with pytest.raises(KqlSemanticError):
        evaluate("case", True, 1, False, 2)


def test_coalesce() -> None:
    assert evaluate("coalesce", Null("long"), 42, 33) == 42
    assert evaluate("coalesce", "", "x") == "x"  # strings: the first non-empty one
    assert evaluate("coalesce", "", "") == ""
    assert evaluate("coalesce", Null("real"), Null("real")) is None


def test_emptiness_and_nulls() -> None:
    assert evaluate("isempty", "") is True
    assert evaluate("isempty", "x") is False
    assert evaluate("isempty", Null("long")) is True
    assert evaluate("isempty", 0) is False
    assert evaluate("isnotempty", "x") is True
    assert evaluate("notempty", "") is False
    assert evaluate("isnull", "") is False  # strings are never null
    assert evaluate("isnull", Null("long")) is True
    assert evaluate("isnotnull", 1) is True
    assert evaluate("notnull", Null("datetime")) is False


@pytest.mark.parametrize(
    ("json_text", "empty", "null"),
    [("null", True, True), ('""', True, False), ("[]", False, False), ("{}", False, False), ("0", False, False)],
)
def test_dynamic_emptiness(json_text: str, empty: bool, null: bool) -> None:
    value = Raw(f"CAST('{json_text}' AS JSON)", "dynamic")
    assert evaluate("isempty", value) is empty
    assert evaluate("isnull", value) is null
    assert evaluate("isnotnull", value) is (not null)


def test_not() -> None:
    assert evaluate("not", True) is False
    assert evaluate("not", Null("bool")) is None
