"""``then.details``: per-effect validation, the existence check of *IfNotExists, evaluated details."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..expressions import FunctionScope
from .compiler import Compiler
from .conditions import Condition, Value
from .effects import Effect
from .errors import PolicyDefinitionError
from .fields import parse_field

__all__ = ["ExistenceSpec", "details_value", "evaluate_details", "is_template", "validate_details"]

_IF_NOT_EXISTS = {Effect.AUDIT_IF_NOT_EXISTS, Effect.DEPLOY_IF_NOT_EXISTS}
_MODIFY_OPERATIONS = {"add", "addorreplace", "remove"}
_MANUAL_STATES = {"compliant", "noncompliant", "unknown"}


def _lower_keys(obj: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k.lower(): (k, v) for k, v in obj.items()}


@dataclass(frozen=True, slots=True)
class ExistenceSpec:
    """What auditIfNotExists/deployIfNotExists look for: the related resource and its condition."""

    type: Value
    name: Value | None = None
    resource_group_name: Value | None = None
    existence_scope: str = "resourcegroup"
    condition: Condition | None = None


def _require(details: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str, effect: Effect) -> Any:
    keys = _lower_keys(details)
    if key.lower() not in keys:
        raise PolicyDefinitionError(path, f"the {effect.value} effect requires details.{key}")
    name, value = keys[key.lower()]
    if not isinstance(value, kind) and not (isinstance(value, str) and value.startswith("[")):
        raise PolicyDefinitionError(f"{path}.{name}", f"details.{key} has the wrong type ({type(value).__name__})")
    return value


def validate_details(possible: frozenset[Effect], raw: Any, path: str, compiler: Compiler) -> ExistenceSpec | None:
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


def details_value(raw: Any, path: str, compiler: Compiler) -> Value:
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
