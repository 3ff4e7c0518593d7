"""Functions answered by the host context: parameters, fields, scopes, resource ids, lambdas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ExpressionEvaluationError
from .registry import POLICY_ONLY, TEMPLATE_ONLY, registry
from .values import require_int, require_string, type_name

__all__ = ["Lambda"]


@registry.function("parameters", 1, 1)
def _parameters(ctx, args):
    return ctx.parameter(require_string("parameters", args[0]))


@registry.function("variables", 1, 1, scopes=TEMPLATE_ONLY)
def _variables(ctx, args):
    return ctx.variable(require_string("variables", args[0]))


@registry.function("field", 1, 1, scopes=POLICY_ONLY)
def _field(ctx, args):
    return ctx.field(require_string("field", args[0]))


@registry.function("current", 0, 1, scopes=POLICY_ONLY)
def _current(ctx, args):
    return ctx.current(require_string("current", args[0]) if args else None)


@registry.function("requestContext", 0, 0, scopes=POLICY_ONLY)
def _request_context(ctx, args):
    return ctx.request_context()


@registry.function("policy", 0, 0, scopes=POLICY_ONLY)
def _policy(ctx, args):
    return ctx.policy_info()


@registry.function("resourceGroup", 0, 0)
def _resource_group(ctx, args):
    return ctx.resource_group()


@registry.function("subscription", 0, 1)
def _subscription(ctx, args):
    return ctx.subscription(require_string("subscription", args[0]) if args else None)


def _host(name: str, min_args: int, max_args: int | None) -> None:
    registry.add(name, lambda ctx, args: ctx.host_function(name, args), min_args, max_args, scopes=TEMPLATE_ONLY)


for _name, _min, _max in (
    ("deployment", 0, 0),
    ("environment", 0, 0),
    ("tenant", 0, 0),
    ("managementGroup", 0, 1),
    ("reference", 1, 3),
    ("references", 1, 2),
    ("list*", 1, 3),
    ("listKeys", 2, 3),
    ("listSecrets", 2, 3),
    ("listAccountSas", 2, 3),
    ("providers", 1, 2),
    ("pickZones", 3, 5),
    ("copyIndex", 0, 2),
):
    _host(_name, _min, _max)


# ----------------------------------------------------------------------------- resource ids


def _type_and_names(function: str, args: list[Any]) -> str:
    resource_type = require_string(function, args[0])
    names = [require_string(function, n, i) for i, n in enumerate(args[1:], 2)]
    segments = resource_type.strip("/").split("/")
    if len(segments) < 2 or len(names) != len(segments) - 1:
        raise ExpressionEvaluationError(
            f"The template function '{function}' got {len(names)} name(s) for resource type '{resource_type}'"
        )
    parts = [segments[0]]
    for child_type, name in zip(segments[1:], names, strict=True):
        parts.extend((child_type, name))
    return "/".join(parts)


def _split_scope_args(args: list[Any], max_scope: int) -> tuple[list[str], list[Any]]:
    """Leading arguments before the first one containing '/' are scope values (subscription, group)."""
    for index, value in enumerate(args):
        if isinstance(value, str) and "/" in value:
            if index > max_scope:
                break
            return [str(v) for v in args[:index]], list(args[index:])
    raise ExpressionEvaluationError("The resource id functions expect a resource type such as 'Namespace/type'")


@registry.function("resourceId", 2, None, scopes=TEMPLATE_ONLY)
def _resource_id(ctx, args):
    scope, rest = _split_scope_args(args, 2)
    if len(scope) == 2:
        subscription_id, group = scope
    else:
        subscription_id = ctx.subscription()["subscriptionId"]
        group = scope[0] if scope else ctx.resource_group()["name"]
    path = _type_and_names("resourceId", rest)
    return f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/{path}"


@registry.function("subscriptionResourceId", 2, None, scopes=TEMPLATE_ONLY)
def _subscription_resource_id(ctx, args):
    scope, rest = _split_scope_args(args, 1)
    subscription_id = scope[0] if scope else ctx.subscription()["subscriptionId"]
    return f"/subscriptions/{subscription_id}/providers/{_type_and_names('subscriptionResourceId', rest)}"


@registry.function("tenantResourceId", 2, None, scopes=TEMPLATE_ONLY)
def _tenant_resource_id(ctx, args):
    return f"/providers/{_type_and_names('tenantResourceId', list(args))}"


@registry.function("extensionResourceId", 3, None, scopes=TEMPLATE_ONLY)
def _extension_resource_id(ctx, args):
    base = require_string("extensionResourceId", args[0]).rstrip("/")
    return f"{base}/providers/{_type_and_names('extensionResourceId', list(args[1:]))}"


@registry.function("managementGroupResourceId", 2, None, scopes=TEMPLATE_ONLY)
def _management_group_resource_id(ctx, args):
    scope, rest = _split_scope_args(args, 1)
    group = scope[0] if scope else ctx.host_function("managementGroup", [])["name"]
    path = _type_and_names("managementGroupResourceId", rest)
    return f"/providers/Microsoft.Management/managementGroups/{group}/providers/{path}"


# ----------------------------------------------------------------------------- lambdas (templates)


@dataclass(frozen=True, slots=True)
class Lambda:
    """A ``lambda('a', 'b', body)`` value: parameter names and a deferred body."""

    names: tuple[str, ...]
    body: Any  # zero-argument callable evaluating the body against the context

    def __call__(self, ctx, *values: Any) -> Any:
        frame = {name.lower(): value for name, value in zip(self.names, values, strict=False)}
        ctx.lambda_frames.append(frame)
        try:
            return self.body()
        finally:
            ctx.lambda_frames.pop()


@registry.function("lambda", 1, None, lazy=True, scopes=TEMPLATE_ONLY)
def _lambda(ctx, thunks):
    names = tuple(require_string("lambda", thunk(), i) for i, thunk in enumerate(thunks[:-1], 1))
    return Lambda(names, thunks[-1])


@registry.function("lambdaVariables", 1, 1, scopes=TEMPLATE_ONLY)
def _lambda_variables(ctx, args):
    name = require_string("lambdaVariables", args[0]).lower()
    for frame in reversed(ctx.lambda_frames):
        if name in frame:
            return frame[name]
    raise ExpressionEvaluationError(f"The lambda variable '{args[0]}' is not defined")


def _require_lambda(function: str, value: Any) -> Lambda:
    if not isinstance(value, Lambda):
        raise ExpressionEvaluationError(f"The template function '{function}' expects a lambda; got {type_name(value)}")
    return value


def _require_array(function: str, value: Any) -> list:
    if not isinstance(value, list):
        raise ExpressionEvaluationError(f"The template function '{function}' expects an Array; got {type_name(value)}")
    return value


@registry.function("filter", 2, 2, scopes=TEMPLATE_ONLY)
def _filter(ctx, args):
    fn = _require_lambda("filter", args[1])
    return [item for i, item in enumerate(_require_array("filter", args[0])) if fn(ctx, item, i) is True]


@registry.function("map", 2, 2, scopes=TEMPLATE_ONLY)
def _map(ctx, args):
    fn = _require_lambda("map", args[1])
    return [fn(ctx, item, i) for i, item in enumerate(_require_array("map", args[0]))]


@registry.function("reduce", 3, 3, scopes=TEMPLATE_ONLY)
def _reduce(ctx, args):
    fn = _require_lambda("reduce", args[2])
    accumulator = args[1]
    for i, item in enumerate(_require_array("reduce", args[0])):
        accumulator = fn(ctx, accumulator, item, i)
    return accumulator


@registry.function("sort", 2, 2, scopes=TEMPLATE_ONLY)
def _sort(ctx, args):
    import functools

    fn = _require_lambda("sort", args[1])

    def compare(a: Any, b: Any) -> int:
        if fn(ctx, a, b) is True:
            return -1
        return 1 if fn(ctx, b, a) is True else 0

    return sorted(_require_array("sort", args[0]), key=functools.cmp_to_key(compare))


@registry.function("toObject", 2, 3, scopes=TEMPLATE_ONLY)
def _to_object(ctx, args):
    key_fn = _require_lambda("toObject", args[1])
    value_fn = _require_lambda("toObject", args[2]) if len(args) > 2 else None
    result: dict[str, Any] = {}
    for item in _require_array("toObject", args[0]):
        key = require_string("toObject", key_fn(ctx, item))
        result[key] = value_fn(ctx, item) if value_fn else item
    return result


@registry.function("groupBy", 2, 2, scopes=TEMPLATE_ONLY)
def _group_by(ctx, args):
    fn = _require_lambda("groupBy", args[1])
    result: dict[str, list[Any]] = {}
    for item in _require_array("groupBy", args[0]):
        result.setdefault(require_string("groupBy", fn(ctx, item)), []).append(item)
    return result


@registry.function("mapValues", 2, 2, scopes=TEMPLATE_ONLY)
def _map_values(ctx, args):
    fn = _require_lambda("mapValues", args[1])
    if not isinstance(args[0], dict):
        raise ExpressionEvaluationError("The template function 'mapValues' expects an Object")
    return {key: fn(ctx, value) for key, value in args[0].items()}


@registry.function("indexFromEnd", 2, 2, scopes=TEMPLATE_ONLY)
def _index_from_end(ctx, args):
    array = _require_array("indexFromEnd", args[0])
    index = require_int("indexFromEnd", args[1], 2)
    if not 1 <= index <= len(array):
        raise ExpressionEvaluationError("The template function 'indexFromEnd' got an index out of range")
    return array[-index]
