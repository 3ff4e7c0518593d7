"""Value helpers shared by the functions: ARM type names, string conversion, deep equality."""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import ExpressionEvaluationError

__all__ = [
    "arm_equals",
    "get_property",
    "is_number",
    "require_int",
    "require_string",
    "to_arm_string",
    "to_json_text",
    "type_name",
]


def type_name(value: Any) -> str:
    """ARM's name for the JSON type of ``value`` (used in error messages)."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """True for ints and floats, never for booleans (which are a distinct type in ARM)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_json_text(value: Any) -> str:
    """Compact JSON text, the way ARM serialises objects and arrays inside strings."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _float_text(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_arm_string(value: Any) -> str:
    """Convert a value to text as ARM's ``string()``/``concat()`` do (booleans are ``True``/``False``)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    return to_json_text(value)


def arm_equals(left: Any, right: Any) -> bool:
    """Deep equality as ARM's ``equals()``: case-sensitive strings, 1 == 1.0, booleans never equal numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(arm_equals(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        if len(left) != len(right):
            return False
        lowered = {k.lower(): v for k, v in right.items()}
        return all(k.lower() in lowered and arm_equals(v, lowered[k.lower()]) for k, v in left.items())
    return type(left) is type(right) and left == right


def get_property(obj: dict, name: str) -> tuple[bool, Any]:
    """Look a property up by name, exactly first then case-insensitively; returns ``(found, value)``."""
    if name in obj:
        return True, obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return True, value
    return False, None


def require_string(function: str, value: Any, position: int = 1) -> str:
    """Return ``value`` if it is a string, else raise :class:`ExpressionEvaluationError`."""
    if not isinstance(value, str):
        raise ExpressionEvaluationError(
            f"The template function '{function}' expects argument {position} to be a String; got {type_name(value)}"
        )
    return value


def require_int(function: str, value: Any, position: int = 1) -> int:
    """Return ``value`` as an int (integral floats accepted), else raise :class:`ExpressionEvaluationError`."""
    if isinstance(value, bool) or not is_number(value) or (isinstance(value, float) and value != int(value)):
        raise ExpressionEvaluationError(
            f"The template function '{function}' expects argument {position} to be an Integer; got {type_name(value)}"
        )
    return int(value)
