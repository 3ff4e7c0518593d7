"""Synthetic resources and parameters for a definition: for offline tests and conformance runs.

:func:`sample_resource` builds a resource of the type the definition targets (read from its
``type`` conditions); with ``populate=True`` it also fills every alias the ``if`` tests with a
value taken from the condition, so deeper paths and ``[*]`` arrays are exercised.
"""

from __future__ import annotations

from typing import Any

from .aliases import STAR, AliasTable, default_aliases
from .conditions import Leaf, walk_leaves
from .definition import PolicyDefinition
from .parameters import Parameter

__all__ = ["SAMPLE_SUBSCRIPTION", "sample_parameters", "sample_resource", "target_types"]

SAMPLE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
_FALLBACK_TYPE = "Microsoft.Compute/virtualMachines"


def _placeholder(parameter: Parameter) -> Any:
    if parameter.allowed_values:
        first = parameter.allowed_values[0]
        return [first] if parameter.type == "Array" and not isinstance(first, list) else first
    return {
        "String": "sample",
        "Array": [],
        "Object": {},
        "Boolean": False,
        "Integer": 0,
        "Float": 0.0,
        "DateTime": "2024-01-01T00:00:00Z",
    }[parameter.type]


def sample_parameters(definition: PolicyDefinition) -> dict[str, Any]:
    """Values for the parameters that have no default (the first allowed value, or a typed placeholder)."""
    return {p.name: _placeholder(p) for p in definition.parameters.values() if not p.has_default}


def target_types(definition: PolicyDefinition) -> list[str]:
    """Resource types named by literal ``type`` conditions (``equals``, ``in``, ``like`` without ``*``)."""
    found: list[str] = []
    for leaf in walk_leaves(definition.condition):
        ref = leaf.field
        if ref is None or ref.kind != "special" or ref.key != "type" or leaf.target.dynamic:
            continue
        target = leaf.target.raw
        candidates = target if isinstance(target, list) else [target]
        if leaf.operator.name in ("equals", "in", "like"):
            found.extend(c for c in candidates if isinstance(c, str) and "*" not in c and "/" in c)
    return list(dict.fromkeys(found))


def _resource_id(resource_type: str, name: str) -> str:
    lowered = resource_type.lower()
    if lowered == "microsoft.resources/subscriptions":
        return f"/subscriptions/{SAMPLE_SUBSCRIPTION}"
    group = f"/subscriptions/{SAMPLE_SUBSCRIPTION}/resourceGroups/rg-sample"
    if lowered in ("microsoft.resources/subscriptions/resourcegroups", "microsoft.resources/resourcegroups"):
        return group
    namespace, *types = resource_type.split("/")
    segments = [namespace]
    for i, child in enumerate(types):
        segments.extend((child, name if i == len(types) - 1 else f"{name}-parent"))
    return f"{group}/providers/{'/'.join(segments)}"


def _set_path(resource: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    current: Any = resource
    for i, segment in enumerate(path):
        last = i == len(path) - 1
        if segment == STAR:
            if not isinstance(current, list):
                return
            if not current:
                current.append(value if last else ([] if path[i + 1] == STAR else {}))
            if last:
                return
            current = current[0]
            continue
        if not isinstance(current, dict):
            return
        if last:
            current.setdefault(segment, value)
            return
        nxt = path[i + 1]
        current = current.setdefault(segment, [] if nxt == STAR else {})


def _example(leaf: Leaf) -> Any:
    target = None if leaf.target.dynamic else leaf.target.raw
    name = leaf.operator.name
    if name == "equals":
        return target
    if name == "in" and isinstance(target, list) and target:
        return target[0]
    if name == "like" and isinstance(target, str):
        return target.replace("*", "x")
    if name in ("less", "lessOrEquals", "greater", "greaterOrEquals") and target is not None:
        return target
    return "sample"


def sample_resource(
    definition: PolicyDefinition,
    *,
    resource_type: str | None = None,
    populate: bool = False,
    aliases: AliasTable | None = None,
) -> dict[str, Any]:
    """A minimal resource the definition targets: id, name, type, location, tags, empty properties."""
    resource_type = resource_type or next(iter(target_types(definition)), _FALLBACK_TYPE)
    lowered = resource_type.lower()
    name = resource_type.rsplit("/", 1)[-1].lower()[:20] + "-sample"
    resource: dict[str, Any] = {
        "id": _resource_id(resource_type, name),
        "name": name,
        "type": resource_type,
        "tags": {},
        "properties": {},
    }
    if lowered != "microsoft.resources/subscriptions" and (lowered.count("/") == 1 or "resourcegroups" in lowered):
        resource["location"] = "eastus"
    if populate:
        table = aliases or default_aliases()
        for leaf in walk_leaves(definition.condition):
            ref = leaf.field
            if ref is None or ref.kind != "alias":
                continue
            path = table.path(ref.key, resource_type)
            if path:
                _set_path(resource, path, _example(leaf))
    return resource
