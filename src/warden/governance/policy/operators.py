"""Condition operators (``equals``, ``like``, ``in``, ``less``, ``exists``...) with Azure's comparison rules.

String comparisons are case-insensitive (``InvariantCultureIgnoreCase``) except ``match`` and
``notMatch``. Booleans compare with their text (``true`` equals ``"true"``), numbers with numeric
text. A missing value (``None``) matches no positive operator: ``equals``, ``like``, ``in``,
``contains``, ``containsKey`` and the ordering operators are false and their negations true;
``exists`` tests exactly that. Ordering two values that can't be ordered (an object and a number)
raises :class:`PolicyEvaluationError`, which the evaluator turns into a deny, as Azure does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..expressions import parse_datetime, type_name
from ..expressions.values import is_number
from .errors import PolicyEvaluationError

__all__ = ["OPERATORS", "Operator", "loose_equals", "normalize_location", "policy_text"]


def policy_text(value: Any) -> str | None:
    """Text of a scalar for string operators (booleans as ``true``/``false``); None for containers/None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return None


def _number(value: Any) -> float | None:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def loose_equals(left: Any, right: Any) -> bool:
    """Azure Policy's ``equals``: case-insensitive text, booleans/numbers against their text, deep containers."""
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if isinstance(left, list) or isinstance(right, list):
        return (
            isinstance(left, list)
            and isinstance(right, list)
            and len(left) == len(right)
            and all(loose_equals(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, dict) or isinstance(right, dict):
        if not (isinstance(left, dict) and isinstance(right, dict)) or len(left) != len(right):
            return False
        lowered = {k.casefold(): v for k, v in right.items()}
        return all(k.casefold() in lowered and loose_equals(v, lowered[k.casefold()]) for k, v in left.items())
    if isinstance(left, bool) or isinstance(right, bool):
        lt, rt = policy_text(left), policy_text(right)
        return lt is not None and rt is not None and lt.casefold() == rt.casefold()
    if is_number(left) or is_number(right):
        a, b = _number(left), _number(right)
        return a is not None and b is not None and a == b
    return left == right


def normalize_location(value: Any) -> Any:
    """``East US 2`` -> ``eastus2``: location fields compare without case or spaces."""
    if isinstance(value, str):
        return value.replace(" ", "").casefold()
    if isinstance(value, list):
        return [normalize_location(v) for v in value]
    return value


@lru_cache(maxsize=4096)
def _like_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE | re.DOTALL)


def _like(value: Any, pattern: Any) -> bool:
    text, target = policy_text(value), policy_text(pattern)
    if text is None or target is None:
        return False
    return _like_pattern(target).fullmatch(text) is not None


def _match(value: Any, pattern: Any, insensitive: bool) -> bool:
    text, target = policy_text(value), policy_text(pattern)
    if text is None or target is None or len(text) != len(target):
        return False
    for ch, p in zip(text, target, strict=True):
        if p == "#":
            if not ch.isdigit():
                return False
        elif p == "?":
            if not ch.isalpha():
                return False
        elif p == ".":
            continue
        elif ch != p and not (insensitive and ch.casefold() == p.casefold()):
            return False
    return True


def _contains(value: Any, target: Any) -> bool:
    if isinstance(value, list):
        return any(loose_equals(element, target) for element in value)
    text, needle = policy_text(value), policy_text(target)
    if text is None or needle is None:
        return False
    return needle.casefold() in text.casefold()


def _in(value: Any, targets: Any) -> bool:
    if not isinstance(targets, list):
        raise PolicyEvaluationError(f"The 'in' and 'notIn' conditions expect an array; got {type_name(targets)}")
    if value is None:
        return False
    return any(loose_equals(value, target) for target in targets)


def _contains_key(value: Any, key: Any) -> bool:
    if not isinstance(value, dict):
        return False
    wanted = policy_text(key)
    return wanted is not None and any(k.casefold() == wanted.casefold() for k in value)


def _order(value: Any, target: Any) -> int | None:
    """-1/0/1 comparing ``value`` with ``target``; None when ``value`` is missing."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(target, bool) or not isinstance(value, str | int | float):
        raise PolicyEvaluationError(
            f"Can't order a value of type {type_name(value)} against {type_name(target)} in a condition"
        )
    if not isinstance(target, str | int | float):
        raise PolicyEvaluationError(f"Can't order against a value of type {type_name(target)}")
    if isinstance(value, str) and isinstance(target, str):
        left_date, right_date = parse_datetime(value), parse_datetime(target)
        if left_date is not None and right_date is not None:
            return (left_date > right_date) - (left_date < right_date)
        a, b = value.casefold(), target.casefold()
        return (a > b) - (a < b)
    a, b = _number(value), _number(target)
    if a is None or b is None:
        raise PolicyEvaluationError(f"Can't compare {value!r} with {target!r}: one is a number and the other is not")
    return (a > b) - (a < b)


def _exists(value: Any, target: Any) -> bool:
    return (value is not None) == _truth(target)


def _truth(target: Any) -> bool:
    if isinstance(target, bool):
        return target
    if isinstance(target, str) and target.strip().lower() in ("true", "false"):
        return target.strip().lower() == "true"
    raise PolicyEvaluationError(f"The 'exists' condition expects true or false; got {target!r}")


@dataclass(frozen=True, slots=True)
class Operator:
    """A condition operator: its canonical name and ``test(actual, target) -> bool``."""

    name: str
    test: Callable[[Any, Any], bool]
    target: str  # what the target must be: "any", "string", "array", "bool", "scalar"


def _negate(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, target: not fn(value, target)


def _ordering(check: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def test(value: Any, target: Any) -> bool:
        order = _order(value, target)
        return order is not None and check(order)

    return test


_ALL = [
    Operator("equals", loose_equals, "any"),
    Operator("notEquals", _negate(loose_equals), "any"),
    Operator("like", _like, "string"),
    Operator("notLike", _negate(_like), "string"),
    Operator("match", lambda v, t: _match(v, t, False), "string"),
    Operator("matchInsensitively", lambda v, t: _match(v, t, True), "string"),
    Operator("notMatch", lambda v, t: not _match(v, t, False), "string"),
    Operator("notMatchInsensitively", lambda v, t: not _match(v, t, True), "string"),
    Operator("contains", _contains, "any"),
    Operator("notContains", _negate(_contains), "any"),
    Operator("in", _in, "array"),
    Operator("notIn", _negate(_in), "array"),
    Operator("containsKey", _contains_key, "string"),
    Operator("notContainsKey", _negate(_contains_key), "string"),
    Operator("less", _ordering(lambda o: o < 0), "scalar"),
    Operator("lessOrEquals", _ordering(lambda o: o <= 0), "scalar"),
    Operator("greater", _ordering(lambda o: o > 0), "scalar"),
    Operator("greaterOrEquals", _ordering(lambda o: o >= 0), "scalar"),
    Operator("exists", _exists, "bool"),
]

OPERATORS: dict[str, Operator] = {op.name.lower(): op for op in _ALL}
"""Operators by lower-cased name (operator keys are case-insensitive)."""
