"""Logical, comparison and numeric functions."""

from __future__ import annotations

from typing import Any

from .errors import ExpressionEvaluationError
from .registry import registry
from .values import arm_equals, is_number, require_int, type_name

__all__: list[str] = []


def _require_bool(function: str, value: Any, position: int) -> bool:
    if not isinstance(value, bool):
        raise ExpressionEvaluationError(
            f"The template function '{function}' expects argument {position} to be a Boolean; got {type_name(value)}"
        )
    return value


@registry.function("and", 1, None, lazy=True)
def _and(ctx, thunks):
    # Arguments are evaluated left to right and evaluation stops at the first false one.
    return all(_require_bool("and", thunk(), position) for position, thunk in enumerate(thunks, 1))


@registry.function("or", 1, None, lazy=True)
def _or(ctx, thunks):
    return any(_require_bool("or", thunk(), position) for position, thunk in enumerate(thunks, 1))


@registry.function("not", 1, 1)
def _not(ctx, args):
    return not _require_bool("not", args[0], 1)


@registry.function("if", 3, 3, lazy=True)
def _if(ctx, thunks):
    # Only the branch that is taken is evaluated (Azure documents this; policies rely on it).
    return thunks[1]() if _require_bool("if", thunks[0](), 1) else thunks[2]()


@registry.function("coalesce", 1, None, lazy=True)
def _coalesce(ctx, thunks):
    for thunk in thunks:
        value = thunk()
        if value is not None:
            return value
    return None


@registry.function("true", 0, 0)
def _true(ctx, args):
    return True


@registry.function("false", 0, 0)
def _false(ctx, args):
    return False


@registry.function("null", 0, 0)
def _null(ctx, args):
    return None


@registry.function("bool", 1, 1)
def _bool(ctx, args):
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    elif is_number(value):
        return value != 0
    raise ExpressionEvaluationError(f"The template function 'bool' can't convert {value!r} to a Boolean")


@registry.function("equals", 2, 2)
def _equals(ctx, args):
    return arm_equals(args[0], args[1])


def _comparable(function: str, left: Any, right: Any) -> tuple[Any, Any]:
    if is_number(left) and is_number(right):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    raise ExpressionEvaluationError(
        f"The template function '{function}' expects two Integers or two Strings; "
        f"got {type_name(left)} and {type_name(right)}"
    )


@registry.function("less", 2, 2)
def _less(ctx, args):
    left, right = _comparable("less", *args)
    return left < right


@registry.function("lessOrEquals", 2, 2)
def _less_or_equals(ctx, args):
    left, right = _comparable("lessOrEquals", *args)
    return left <= right


@registry.function("greater", 2, 2)
def _greater(ctx, args):
    left, right = _comparable("greater", *args)
    return left > right


@registry.function("greaterOrEquals", 2, 2)
def _greater_or_equals(ctx, args):
    left, right = _comparable("greaterOrEquals", *args)
    return left >= right


def _number(function: str, value: Any, position: int) -> int | float:
    if not is_number(value):
        raise ExpressionEvaluationError(
            f"The template function '{function}' expects argument {position} to be an Integer; got {type_name(value)}"
        )
    return value


@registry.function("add", 2, 2)
def _add(ctx, args):
    return _number("add", args[0], 1) + _number("add", args[1], 2)


@registry.function("sub", 2, 2)
def _sub(ctx, args):
    return _number("sub", args[0], 1) - _number("sub", args[1], 2)


@registry.function("mul", 2, 2)
def _mul(ctx, args):
    return _number("mul", args[0], 1) * _number("mul", args[1], 2)


@registry.function("div", 2, 2)
def _div(ctx, args):
    left, right = _number("div", args[0], 1), _number("div", args[1], 2)
    if right == 0:
        raise ExpressionEvaluationError("The template function 'div' can't divide by zero")
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)  # integer division truncates toward zero, as in .NET
        return quotient if (left >= 0) == (right >= 0) else -quotient
    return left / right


@registry.function("mod", 2, 2)
def _mod(ctx, args):
    left, right = require_int("mod", args[0], 1), require_int("mod", args[1], 2)
    if right == 0:
        raise ExpressionEvaluationError("The template function 'mod' can't divide by zero")
    remainder = abs(left) % abs(right)  # the sign follows the dividend, as in .NET
    return remainder if left >= 0 else -remainder


@registry.function("int", 1, 1)
def _int(ctx, args):
    value = args[0]
    if isinstance(value, bool):
        raise ExpressionEvaluationError("The template function 'int' can't convert a Boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ExpressionEvaluationError(f"The template function 'int' can't convert {value!r} to an Integer")


@registry.function("float", 1, 1)
def _float(ctx, args):
    value = args[0]
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ExpressionEvaluationError(f"The template function 'float' can't convert {value!r} to a Float")


def _numbers(function: str, args: list[Any]) -> list[int | float]:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise ExpressionEvaluationError(f"The template function '{function}' needs at least one value")
    return [_number(function, v, i) for i, v in enumerate(values, 1)]


@registry.function("min", 1, None)
def _min(ctx, args):
    return min(_numbers("min", args))


@registry.function("max", 1, None)
def _max(ctx, args):
    return max(_numbers("max", args))


@registry.function("range", 2, 2)
def _range(ctx, args):
    start, count = require_int("range", args[0], 1), require_int("range", args[1], 2)
    if count < 0 or count > 10_000:
        raise ExpressionEvaluationError("The template function 'range' expects a count between 0 and 10000")
    return list(range(start, start + count))
