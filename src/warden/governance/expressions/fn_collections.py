"""Array and object functions, and the ones ARM defines on strings and arrays alike."""

from __future__ import annotations

from typing import Any

from .errors import ExpressionEvaluationError
from .registry import registry
from .values import arm_equals, get_property, is_number, require_int, to_arm_string, type_name

__all__: list[str] = []


@registry.function("array", 1, 1)
def _array(ctx, args):
    value = args[0]
    return value if isinstance(value, list) else [value]


@registry.function("createArray", 0, None)
def _create_array(ctx, args):
    return list(args)


@registry.function("createObject", 0, None)
def _create_object(ctx, args):
    if len(args) % 2:
        raise ExpressionEvaluationError("The template function 'createObject' expects an even number of arguments")
    result: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        key = args[i]
        if not isinstance(key, str):
            raise ExpressionEvaluationError(
                f"The template function 'createObject' expects property names to be Strings; got {type_name(key)}"
            )
        result[key] = args[i + 1]
    return result


@registry.function("concat", 0, None)
def _concat(ctx, args):
    if any(isinstance(a, list) for a in args):
        result: list[Any] = []
        for position, value in enumerate(args, 1):
            if value is None:
                continue
            if not isinstance(value, list):
                raise ExpressionEvaluationError(
                    f"The template function 'concat' expects all arguments to be Arrays when one is; "
                    f"argument {position} is {type_name(value)}"
                )
            result.extend(value)
        return result
    for position, value in enumerate(args, 1):
        if isinstance(value, dict):
            raise ExpressionEvaluationError(
                f"The template function 'concat' expects Strings or Arrays; argument {position} is an Object"
            )
    return "".join(to_arm_string(a) for a in args)


@registry.function("contains", 2, 2)
def _contains(ctx, args):
    container, item = args
    if isinstance(container, str):
        return to_arm_string(item) in container  # case-sensitive, as ARM documents
    if isinstance(container, list):
        return any(arm_equals(element, item) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and get_property(container, item)[0]  # keys: case-insensitive
    raise ExpressionEvaluationError(
        f"The template function 'contains' expects a String, Array or Object; got {type_name(container)}"
    )


@registry.function("empty", 1, 1)
def _empty(ctx, args):
    value = args[0]
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return False


@registry.function("length", 1, 1)
def _length(ctx, args):
    value = args[0]
    if isinstance(value, str | list | dict):
        return len(value)
    raise ExpressionEvaluationError(
        f"The template function 'length' expects a String, Array or Object; got {type_name(value)}"
    )


def _sequence(function: str, value: Any) -> str | list:
    if isinstance(value, str | list):
        return value
    raise ExpressionEvaluationError(
        f"The template function '{function}' expects a String or an Array; got {type_name(value)}"
    )


@registry.function("first", 1, 1)
def _first(ctx, args):
    value = _sequence("first", args[0])
    if not value:
        return "" if isinstance(value, str) else None
    return value[0]


@registry.function("last", 1, 1)
def _last(ctx, args):
    value = _sequence("last", args[0])
    if not value:
        return "" if isinstance(value, str) else None
    return value[-1]


@registry.function("skip", 2, 2)
def _skip(ctx, args):
    value = _sequence("skip", args[0])
    count = max(0, require_int("skip", args[1], 2))
    return value[count:]


@registry.function("take", 2, 2)
def _take(ctx, args):
    value = _sequence("take", args[0])
    count = max(0, require_int("take", args[1], 2))
    return value[:count]


@registry.function("indexOf", 2, 2)
def _index_of(ctx, args):
    container, item = args
    if isinstance(container, list):
        return next((i for i, element in enumerate(container) if arm_equals(element, item)), -1)
    if isinstance(container, str) and isinstance(item, str):
        return container.lower().find(item.lower())  # case-insensitive for strings
    raise ExpressionEvaluationError("The template function 'indexOf' expects (String, String) or (Array, value)")


@registry.function("lastIndexOf", 2, 2)
def _last_index_of(ctx, args):
    container, item = args
    if isinstance(container, list):
        return next((i for i in range(len(container) - 1, -1, -1) if arm_equals(container[i], item)), -1)
    if isinstance(container, str) and isinstance(item, str):
        return container.lower().rfind(item.lower())
    raise ExpressionEvaluationError("The template function 'lastIndexOf' expects (String, String) or (Array, value)")


def _same_kind(function: str, args: list[Any]) -> type:
    if all(isinstance(a, list) for a in args):
        return list
    if all(isinstance(a, dict) for a in args):
        return dict
    kinds = ", ".join(type_name(a) for a in args)
    raise ExpressionEvaluationError(
        f"The template function '{function}' expects all Arrays or all Objects; got {kinds}"
    )


def _merge(left: dict, right: dict) -> dict:
    result = dict(left)
    for key, value in right.items():
        found_key = next((k for k in result if k.lower() == key.lower()), None)
        if found_key is not None and isinstance(result[found_key], dict) and isinstance(value, dict):
            result[found_key] = _merge(result[found_key], value)
        else:
            if found_key is not None:
                del result[found_key]
            result[key] = value
    return result


@registry.function("union", 1, None)
def _union(ctx, args):
    if _same_kind("union", args) is list:
        result: list[Any] = []
        for array in args:
            for element in array:
                if not any(arm_equals(element, kept) for kept in result):
                    result.append(element)
        return result
    merged: dict[str, Any] = {}
    for obj in args:
        merged = _merge(merged, obj)
    return merged


@registry.function("intersection", 1, None)
def _intersection(ctx, args):
    if _same_kind("intersection", args) is list:
        result: list[Any] = []
        for element in args[0]:
            if all(any(arm_equals(element, other) for other in array) for array in args[1:]) and not any(
                arm_equals(element, kept) for kept in result
            ):
                result.append(element)
        return result
    first, rest = args[0], args[1:]
    return {
        key: value
        for key, value in first.items()
        if all((found := get_property(obj, key))[0] and arm_equals(found[1], value) for obj in rest)
    }


@registry.function("items", 1, 1)
def _items(ctx, args):
    value = args[0]
    if not isinstance(value, dict):
        raise ExpressionEvaluationError(f"The template function 'items' expects an Object; got {type_name(value)}")
    return [{"key": key, "value": value[key]} for key in sorted(value, key=str.lower)]


@registry.function("objectKeys", 1, 1)
def _object_keys(ctx, args):
    value = args[0]
    if not isinstance(value, dict):
        raise ExpressionEvaluationError(f"The template function 'objectKeys' expects an Object; got {type_name(value)}")
    return list(value)


@registry.function("shallowMerge", 1, 1)
def _shallow_merge(ctx, args):
    value = args[0]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ExpressionEvaluationError("The template function 'shallowMerge' expects an Array of Objects")
    result: dict[str, Any] = {}
    for obj in value:
        result.update(obj)
    return result


@registry.function("tryGet", 2, None)
def _try_get(ctx, args):
    value = args[0]
    for key in args[1:]:
        if isinstance(value, dict) and isinstance(key, str):
            found, value = get_property(value, key)
            if not found:
                return None
        elif isinstance(value, list) and is_number(key) and int(key) == key:
            if not 0 <= int(key) < len(value):
                return None
            value = value[int(key)]
        else:
            return None
    return value


@registry.function("join", 2, 2)
def _join(ctx, args):
    array, delimiter = args
    if not isinstance(array, list) or not isinstance(delimiter, str):
        raise ExpressionEvaluationError("The template function 'join' expects (Array, String)")
    return delimiter.join(to_arm_string(v) for v in array)
