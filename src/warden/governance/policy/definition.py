"""Policy definitions: :func:`load_definition` validates the JSON and compiles it for evaluation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..expressions import Call, Literal
from ..expressions import Node as ExprNode
from .compiler import Compiler
from .conditions import AllOf, AnyOf, Condition, Leaf, Value, walk_leaves
from .details import ExistenceSpec, details_value, evaluate_details, validate_details
from .effects import Effect, parse_effect
from .errors import PolicyDefinitionError
from .parameters import Parameter, parse_parameters

T = TypeVar("T")

__all__ = [
    "EffectSpec",
    "ExistenceSpec",
    "PolicyDefinition",
    "evaluate_details",
    "load_definition",
    "read_document",
]

_RP_MODE = re.compile(r"^Microsoft\.[A-Za-z0-9]+(\.[A-Za-z0-9]+)*\.Data$")


@dataclass(frozen=True, slots=True)
class EffectSpec:
    """The ``then.effect``: a literal effect or an expression (usually ``[parameters('effect')]``)."""

    literal: Effect | None
    node: ExprNode | None
    possible: frozenset[Effect]
    raw: Any


@dataclass(slots=True)
class PolicyDefinition:
    """A validated, compiled policy definition. ``properties`` is the definition's JSON as given."""

    name: str | None
    id: str | None
    display_name: str | None
    description: str | None
    mode: str
    policy_type: str | None
    version: str | None
    metadata: Mapping[str, Any]
    parameters: dict[str, Parameter]
    condition: Condition
    effect: EffectSpec
    details: Value | None
    existence: ExistenceSpec | None
    considered: frozenset[str]
    mentions_location: bool
    properties: Mapping[str, Any] = field(repr=False)
    required_types: frozenset[str] | None = None
    """Lower-cased resource types the ``if`` can match at all (None: any). For indexing assignments by
    type: a resource of another type is NotApplicable without evaluating anything."""

    @property
    def category(self) -> str | None:
        value = self.metadata.get("category") if isinstance(self.metadata, Mapping) else None
        return value if isinstance(value, str) else None


def read_document(source: Any) -> tuple[Any, str]:
    """Turn a path, JSON text or parsed value into a parsed value; also return a label for errors."""
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        path = Path(source)
        try:
            return json.loads(path.read_text(encoding="utf-8-sig")), str(path)
        except (OSError, ValueError) as exc:
            raise PolicyDefinitionError("", f"cannot read {path}: {exc}") from exc
    if isinstance(source, str | bytes):
        try:
            return json.loads(source), ""
        except ValueError as exc:
            raise PolicyDefinitionError("", f"not valid JSON: {exc}") from exc
    return source, ""


def load_document(source: Any, load: Callable[[Any], T]) -> T:
    """``load(document)`` for a source :func:`read_document` accepts; errors name the file read."""
    document, label = read_document(source)
    try:
        return load(document)
    except PolicyDefinitionError as exc:
        if label:
            raise PolicyDefinitionError(exc.path, f"{exc.reason} (in {label})") from None
        raise


def _lower_keys(obj: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k.lower(): (k, v) for k, v in obj.items()}


def unwrap(document: Any, kind_key: str) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
    """Return ``(outer, properties, path_prefix)`` for a bare definition or a ``{"properties": ...}`` wrapper."""
    if not isinstance(document, Mapping):
        raise PolicyDefinitionError("", "a definition must be a JSON object")
    keys = _lower_keys(document)
    if "properties" in keys and isinstance(keys["properties"][1], Mapping) and kind_key not in keys:
        name, props = keys["properties"]
        return document, props, f"{name}."
    return document, document, ""


def load_definition(source: Any) -> PolicyDefinition:
    """Validate and compile a policy definition.

    ``source`` is a bare definition (``{"mode", "parameters", "policyRule"}``), Azure's
    ``{"properties": ...}`` wrapper (the shape of the built-in files, with ``id``/``name``), a
    path to such a file, or its JSON text. Raises :class:`PolicyDefinitionError` whose ``path``
    names the JSON path of the problem (e.g. ``properties.policyRule.if.allOf[2].equalz``).
    """
    return load_document(source, _load)


def _load(document: Any) -> PolicyDefinition:
    outer, props, prefix = unwrap(document, "policyrule")
    keys = _lower_keys(props)
    if "policydefinitions" in keys:
        raise PolicyDefinitionError(prefix.rstrip("."), "this is a policy set definition (initiative), not a policy")
    parameters = parse_parameters(keys.get("parameters", ("", None))[1], f"{prefix}parameters")
    mode = _mode(keys.get("mode", ("mode", None))[1], f"{prefix}mode")
    if "policyrule" not in keys:
        raise PolicyDefinitionError(prefix.rstrip(".") or "", "the definition has no policyRule")
    rule_key, rule = keys["policyrule"]
    rule_path = f"{prefix}{rule_key}"
    if not isinstance(rule, Mapping):
        raise PolicyDefinitionError(rule_path, "policyRule must be an object with 'if' and 'then'")
    rule_keys = _lower_keys(rule)
    for required in ("if", "then"):
        if required not in rule_keys:
            raise PolicyDefinitionError(rule_path, f"policyRule has no '{required}'")
    compiler = Compiler(parameters)
    if_key, if_raw = rule_keys["if"]
    condition = compiler.condition(if_raw, f"{rule_path}.{if_key}")
    then_key, then = rule_keys["then"]
    then_path = f"{rule_path}.{then_key}"
    if not isinstance(then, Mapping):
        raise PolicyDefinitionError(then_path, "'then' must be an object with an 'effect'")
    then_keys = _lower_keys(then)
    if "effect" not in then_keys:
        raise PolicyDefinitionError(then_path, "'then' has no 'effect'")
    effect_key, effect_raw = then_keys["effect"]
    effect = _effect(effect_raw, f"{then_path}.{effect_key}", compiler, parameters)
    details_key, details_raw = then_keys.get("details", ("details", None))
    details_path = f"{then_path}.{details_key}"
    existence = validate_details(effect.possible, details_raw, details_path, compiler)
    details = details_value(details_raw, details_path, compiler) if details_raw is not None else None
    considered, mentions_location = _applicability(condition)
    required_types = _required_types(condition)
    outer_keys = _lower_keys(outer)

    def text(key: str) -> str | None:
        value = keys.get(key, (None, None))[1]
        return value if isinstance(value, str) else None

    metadata = keys.get("metadata", (None, {}))[1]
    return PolicyDefinition(
        name=outer_keys.get("name", (None, None))[1],
        id=outer_keys.get("id", (None, None))[1],
        display_name=text("displayname"),
        description=text("description"),
        mode=mode,
        policy_type=text("policytype"),
        version=text("version") or (metadata.get("version") if isinstance(metadata, Mapping) else None),
        metadata=metadata if isinstance(metadata, Mapping) else {},
        parameters=parameters,
        condition=condition,
        effect=effect,
        details=details,
        existence=existence,
        considered=considered,
        mentions_location=mentions_location,
        properties=props,
        required_types=required_types,
    )


def _mode(raw: Any, path: str) -> str:
    if raw is None:
        return "Indexed"  # Azure: a definition without mode behaves as Indexed
    if not isinstance(raw, str):
        raise PolicyDefinitionError(path, f"mode must be a string; got {raw!r}")
    lowered = raw.lower()
    if lowered == "all":
        return "All"
    if lowered == "indexed":
        return "Indexed"
    if _RP_MODE.match(raw):
        return raw
    raise PolicyDefinitionError(path, f"unknown mode {raw!r} (expected All, Indexed or a Microsoft.*.Data mode)")


def _effect(raw: Any, path: str, compiler: Compiler, parameters: Mapping[str, Parameter]) -> EffectSpec:
    every = frozenset(e for e in Effect if e is not Effect.NONE)
    if not isinstance(raw, str):
        raise PolicyDefinitionError(path, f"effect must be a string; got {raw!r}")
    node = compiler.expression(raw, path)
    if node is None:
        effect = parse_effect(raw)
        if effect is None:
            raise PolicyDefinitionError(path, f"unknown effect {raw!r}")
        return EffectSpec(effect, None, frozenset({effect}), raw)
    possible = every
    if isinstance(node, Call) and node.key == "parameters" and node.args and isinstance(node.args[0], Literal):
        parameter = parameters[str(node.args[0].value).lower()]
        if parameter.type != "String":
            raise PolicyDefinitionError(path, f"the effect parameter '{parameter.name}' must be of type String")
        candidates = list(parameter.allowed_values or ())
        if parameter.has_default:
            candidates.append(parameter.default)
        for candidate in candidates:
            if parse_effect(candidate) is None:
                raise PolicyDefinitionError(
                    f"{path} (parameter '{parameter.name}')", f"{candidate!r} is not a policy effect"
                )
        if parameter.allowed_values:
            possible = frozenset(parse_effect(c) for c in parameter.allowed_values)  # type: ignore[misc]
    return EffectSpec(None, node, possible, raw)


def _applicability(condition: Condition) -> tuple[frozenset[str], bool]:
    """Which of type/name/kind decide applicability (Azure's rules), and whether location is tested."""
    kinds: set[str] = set()
    other = False
    location = False
    for leaf in walk_leaves(condition):
        ref = leaf.field if isinstance(leaf, Leaf) else None
        if ref is not None and ref.kind == "special" and ref.key in ("type", "name", "kind"):
            kinds.add(ref.key)
        else:
            other = True
        if ref is not None and ref.is_location:
            location = True
    if "type" not in kinds:
        return frozenset(), location
    considered = {"type"}
    if other:
        considered |= kinds & {"name", "kind"}
    return frozenset(considered), location


def _required_types(node: Condition) -> frozenset[str] | None:
    """The types a condition can be true for, from literal ``type`` equals/in conditions (None: any)."""
    if isinstance(node, Leaf):
        ref = node.field
        if ref is None or ref.kind != "special" or ref.key != "type" or node.target.dynamic:
            return None
        target = node.target.raw
        if node.operator.name == "equals" and isinstance(target, str):
            return frozenset({target.lower()})
        if node.operator.name == "in" and isinstance(target, list) and all(isinstance(t, str) for t in target):
            return frozenset(t.lower() for t in target)
        return None
    if isinstance(node, AllOf):
        sets = [s for s in (_required_types(child) for child in node.children) if s is not None]
        return frozenset.intersection(*sets) if sets else None
    if isinstance(node, AnyOf):
        sets = [_required_types(child) for child in node.children]
        if not sets or any(s is None for s in sets):
            return None
        return frozenset().union(*sets)
    return None
