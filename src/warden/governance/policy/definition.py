"""Policy definitions: :func:`load_definition` validates the JSON and compiles it for evaluation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..expressions import Call, FunctionScope, Literal
from ..expressions import Node as ExprNode
from .compiler import Compiler
from .conditions import Condition, Leaf, Value, walk_leaves
from .effects import Effect, parse_effect
from .errors import PolicyDefinitionError
from .fields import parse_field
from .parameters import Parameter, parse_parameters

__all__ = [
    "EffectSpec",
    "ExistenceSpec",
    "PolicyDefinition",
    "evaluate_details",
    "load_definition",
    "read_document",
]

_RP_MODE = re.compile(r"^Microsoft\.[A-Za-z0-9]+(\.[A-Za-z0-9]+)*\.Data$")
_IF_NOT_EXISTS = {Effect.AUDIT_IF_NOT_EXISTS, Effect.DEPLOY_IF_NOT_EXISTS}
_MODIFY_OPERATIONS = {"add", "addorreplace", "remove"}
_MANUAL_STATES = {"compliant", "noncompliant", "unknown"}


@dataclass(frozen=True, slots=True)
class EffectSpec:
    """The ``then.effect``: a literal effect or an expression (usually ``[parameters('effect')]``)."""

    literal: Effect | None
    node: ExprNode | None
    possible: frozenset[Effect]
    raw: Any


@dataclass(frozen=True, slots=True)
class ExistenceSpec:
    """What auditIfNotExists/deployIfNotExists look for: the related resource and its condition."""

    type: Value
    name: Value | None = None
    resource_group_name: Value | None = None
    existence_scope: str = "resourcegroup"
    condition: Condition | None = None


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
    document, label = read_document(source)
    try:
        return _load(document)
    except PolicyDefinitionError as exc:
        if label:
            raise PolicyDefinitionError(exc.path, f"{exc.reason} (in {label})") from None
        raise


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
    existence = _validate_details(effect.possible, details_raw, details_path, compiler)
    details = _details_value(details_raw, details_path, compiler) if details_raw is not None else None
    considered, mentions_location = _applicability(condition)
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


def _require(details: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str, effect: Effect) -> Any:
    keys = _lower_keys(details)
    if key.lower() not in keys:
        raise PolicyDefinitionError(path, f"the {effect.value} effect requires details.{key}")
    name, value = keys[key.lower()]
    if not isinstance(value, kind) and not (isinstance(value, str) and value.startswith("[")):
        raise PolicyDefinitionError(f"{path}.{name}", f"details.{key} has the wrong type ({type(value).__name__})")
    return value


def _validate_details(possible: frozenset[Effect], raw: Any, path: str, compiler: Compiler) -> ExistenceSpec | None:
    """Check ``then.details`` for every effect the definition may have; compile the existence check."""
    existence = None
    needs_object = possible & (_IF_NOT_EXISTS | {Effect.MODIFY, Effect.DENY_ACTION})
    if raw is None:
        if len(possible) == 1 and needs_object:
            raise PolicyDefinitionError(path, f"the {next(iter(possible)).value} effect requires 'details'")
        return None
    if not isinstance(raw, Mapping):
        if needs_object:
            raise PolicyDefinitionError(path, "details must be an object")
        if not isinstance(raw, list):
            raise PolicyDefinitionError(path, "the append effect's details must be an array of {field, value}")
        for i, item in enumerate(raw):
            _field_value_pair(item, f"{path}[{i}]", compiler)
        return None
    keys = _lower_keys(raw)
    if possible & _IF_NOT_EXISTS:
        effect = next(iter(possible & _IF_NOT_EXISTS))
        type_raw = _require(raw, "type", str, path, effect)
        type_value = compiler.value(type_raw, f"{path}.{keys['type'][0]}")
        name = compiler.value(keys["name"][1], f"{path}.{keys['name'][0]}") if "name" in keys else None
        group = (
            compiler.value(keys["resourcegroupname"][1], f"{path}.{keys['resourcegroupname'][0]}")
            if "resourcegroupname" in keys
            else None
        )
        scope = keys.get("existencescope", ("existenceScope", "resourceGroup"))
        if not isinstance(scope[1], str) or scope[1].lower() not in ("resourcegroup", "subscription"):
            raise PolicyDefinitionError(f"{path}.{scope[0]}", "existenceScope must be ResourceGroup or Subscription")
        condition = None
        if "existencecondition" in keys:
            key, value = keys["existencecondition"]
            if value != {}:
                condition = compiler.condition(value, f"{path}.{key}")
        existence = ExistenceSpec(type_value, name, group, scope[1].lower(), condition)
    if Effect.DEPLOY_IF_NOT_EXISTS in possible:
        _require(raw, "roleDefinitionIds", list, path, Effect.DEPLOY_IF_NOT_EXISTS)
        deployment = _require(raw, "deployment", Mapping, path, Effect.DEPLOY_IF_NOT_EXISTS)
        dep_keys = _lower_keys(deployment)
        if "properties" not in dep_keys or not isinstance(dep_keys["properties"][1], Mapping):
            raise PolicyDefinitionError(f"{path}.deployment", "details.deployment needs 'properties'")
        props = _lower_keys(dep_keys["properties"][1])
        if "template" not in props or not isinstance(props["template"][1], Mapping):
            raise PolicyDefinitionError(f"{path}.deployment.properties", "the deployment needs a 'template' object")
    if Effect.MODIFY in possible:
        _require(raw, "roleDefinitionIds", list, path, Effect.MODIFY)
        operations = _require(raw, "operations", list, path, Effect.MODIFY)
        for i, op in enumerate(operations if isinstance(operations, list) else []):
            _modify_operation(op, f"{path}.{keys['operations'][0]}[{i}]", compiler)
        if "conflicteffect" in keys:
            key, value = keys["conflicteffect"]
            if not isinstance(value, str) or value.lower() not in ("audit", "deny", "disabled"):
                raise PolicyDefinitionError(f"{path}.{key}", "conflictEffect must be audit, deny or disabled")
    if possible & {Effect.DENY_ACTION, Effect.AUDIT_ACTION} and "actionnames" in keys:
        key, names = keys["actionnames"]
        if not isinstance(names, list) or not names:
            raise PolicyDefinitionError(f"{path}.{key}", "actionNames must be a non-empty array (e.g. ['delete'])")
    elif possible & {Effect.DENY_ACTION, Effect.AUDIT_ACTION} and len(possible) == 1:
        raise PolicyDefinitionError(path, f"the {next(iter(possible)).value} effect requires details.actionNames")
    if Effect.MANUAL in possible and "defaultstate" in keys:
        key, state = keys["defaultstate"]
        if not isinstance(state, str) or state.lower() not in _MANUAL_STATES:
            raise PolicyDefinitionError(f"{path}.{key}", "defaultState must be Compliant, NonCompliant or Unknown")
    return existence


def _check_field_name(raw: Any, path: str, compiler: Compiler) -> None:
    if not isinstance(raw, str):
        raise PolicyDefinitionError(path, "'field' must be a string")
    if compiler.expression(raw, path) is None:
        try:
            parse_field(raw)
        except ValueError as exc:
            raise PolicyDefinitionError(path, str(exc)) from exc


def _field_value_pair(item: Any, path: str, compiler: Compiler) -> None:
    if not isinstance(item, Mapping):
        raise PolicyDefinitionError(path, "expected an object with 'field' and 'value'")
    keys = _lower_keys(item)
    if "field" not in keys or "value" not in keys:
        raise PolicyDefinitionError(path, "expected an object with 'field' and 'value'")
    _check_field_name(keys["field"][1], f"{path}.{keys['field'][0]}", compiler)


def _modify_operation(op: Any, path: str, compiler: Compiler) -> None:
    if not isinstance(op, Mapping):
        raise PolicyDefinitionError(path, "a modify operation must be an object")
    keys = _lower_keys(op)
    kind = keys.get("operation", ("operation", None))
    if not isinstance(kind[1], str) or kind[1].lower() not in _MODIFY_OPERATIONS:
        raise PolicyDefinitionError(
            f"{path}.{kind[0]}", f"operation must be add, addOrReplace or remove; got {kind[1]!r}"
        )
    if "field" not in keys:
        raise PolicyDefinitionError(path, "a modify operation needs a 'field'")
    _check_field_name(keys["field"][1], f"{path}.{keys['field'][0]}", compiler)
    if kind[1].lower() != "remove" and "value" not in keys:
        raise PolicyDefinitionError(path, f"the {kind[1]} operation needs a 'value'")


def _details_value(raw: Any, path: str, compiler: Compiler) -> Value:
    """Check every expression in ``details``: the deployment template as a template, the rest as policy."""

    def visit(value: Any, where: str, scope: FunctionScope) -> bool:
        if isinstance(value, str):
            if value.startswith("["):
                compiler.expression(value, where, scope=scope)
                return scope is FunctionScope.POLICY
            return False
        dynamic = False
        if isinstance(value, list):
            for i, item in enumerate(value):
                dynamic = visit(item, f"{where}[{i}]", scope) or dynamic
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if key.lower() == "existencecondition":
                    continue  # compiled as a condition
                inner = FunctionScope.TEMPLATE if is_template(key, where) else scope
                dynamic = visit(item, f"{where}.{key}", inner) or dynamic
        return dynamic

    return Value(raw, None, visit(raw, path, FunctionScope.POLICY))


def is_template(key: str, where: str) -> bool:
    """Whether ``where.key`` is a deployIfNotExists template (evaluated by the template engine, not here)."""
    return key.lower() == "template" and where.lower().endswith("deployment.properties")


def evaluate_details(raw: Any, state: Any, where: str = "details") -> Any:
    """``details`` with its policy expressions evaluated; the deployment template and the existence
    condition are returned as written."""
    if isinstance(raw, str):
        return state.evaluate_value(raw) if raw.startswith("[") else raw
    if isinstance(raw, list):
        return [evaluate_details(item, state, where) for item in raw]
    if isinstance(raw, Mapping):
        result = {}
        for key, item in raw.items():
            if key.lower() == "existencecondition" or is_template(key, where):
                result[key] = item
            else:
                result[key] = evaluate_details(item, state, f"{where}.{key}")
        return result
    return raw


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
