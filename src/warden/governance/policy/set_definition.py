"""Policy set definitions (initiatives): load, validate, and check their references to definitions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..expressions import ExpressionContext, ExpressionEvaluationError, evaluate_value
from .compiler import Compiler
from .conditions import Value
from .definition import PolicyDefinition, _lower_keys, load_document, unwrap
from .errors import PolicyDefinitionError, PolicyParameterError
from .evaluator import EvaluationResult, evaluate
from .parameters import Parameter, bind_parameters, parse_parameters

__all__ = [
    "PolicyReference",
    "PolicySetDefinition",
    "check_references",
    "evaluate_set_definition",
    "load_set_definition",
    "member_parameters",
]

_DEFINITION_ID = re.compile(
    r"^(/subscriptions/[^/]+|/providers/Microsoft\.Management/managementGroups/[^/]+)?"
    r"/providers/Microsoft\.Authorization/policyDefinitions/[^/]+$",
    re.IGNORECASE,
)


@dataclass(slots=True)
class PolicyReference:
    """One member of an initiative: which definition, with which parameter values."""

    definition_id: str
    reference_id: str | None
    parameters: dict[str, Value]
    group_names: tuple[str, ...] = ()
    definition_version: str | None = None

    @property
    def definition_name(self) -> str:
        return self.definition_id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(slots=True)
class PolicySetDefinition:
    """A validated initiative. ``properties`` is its JSON as given."""

    name: str | None
    id: str | None
    display_name: str | None
    description: str | None
    policy_type: str | None
    metadata: Mapping[str, Any]
    parameters: dict[str, Parameter]
    definitions: list[PolicyReference]
    groups: tuple[str, ...]
    properties: Mapping[str, Any] = field(repr=False)


def load_set_definition(source: Any) -> PolicySetDefinition:
    """Validate an initiative (bare, ``{"properties": ...}`` wrapper, file path or JSON text).

    Raises :class:`PolicyDefinitionError` naming the JSON path of the first problem.
    """
    return load_document(source, _load)


def _load(document: Any) -> PolicySetDefinition:
    outer, props, prefix = unwrap(document, "policydefinitions")
    keys = _lower_keys(props)
    if "policyrule" in keys:
        raise PolicyDefinitionError(prefix.rstrip("."), "this is a policy definition, not a policy set definition")
    parameters = parse_parameters(keys.get("parameters", ("", None))[1], f"{prefix}parameters")
    compiler = Compiler(parameters)
    groups: list[str] = []
    if "policydefinitiongroups" in keys:
        key, raw_groups = keys["policydefinitiongroups"]
        if not isinstance(raw_groups, list):
            raise PolicyDefinitionError(f"{prefix}{key}", "policyDefinitionGroups must be an array")
        for i, group in enumerate(raw_groups):
            name = group.get("name") if isinstance(group, Mapping) else None
            if not isinstance(name, str) or not name:
                raise PolicyDefinitionError(f"{prefix}{key}[{i}]", "a group needs a 'name'")
            groups.append(name)
    known_groups = {g.lower() for g in groups}
    if "policydefinitions" not in keys:
        raise PolicyDefinitionError(prefix.rstrip("."), "the policy set definition has no policyDefinitions")
    list_key, members = keys["policydefinitions"]
    if not isinstance(members, list) or not members:
        raise PolicyDefinitionError(f"{prefix}{list_key}", "policyDefinitions must be a non-empty array")
    references: list[PolicyReference] = []
    seen: set[str] = set()
    for i, member in enumerate(members):
        path = f"{prefix}{list_key}[{i}]"
        references.append(_reference(member, path, compiler, known_groups if groups else None, seen))
    outer_keys = _lower_keys(outer)

    def text(key: str) -> str | None:
        value = keys.get(key, (None, None))[1]
        return value if isinstance(value, str) else None

    metadata = keys.get("metadata", (None, {}))[1]
    return PolicySetDefinition(
        name=outer_keys.get("name", (None, None))[1],
        id=outer_keys.get("id", (None, None))[1],
        display_name=text("displayname"),
        description=text("description"),
        policy_type=text("policytype"),
        metadata=metadata if isinstance(metadata, Mapping) else {},
        parameters=parameters,
        definitions=references,
        groups=tuple(groups),
        properties=props,
    )


def _reference(member: Any, path: str, compiler: Compiler, groups: set[str] | None, seen: set[str]) -> PolicyReference:
    if not isinstance(member, Mapping):
        raise PolicyDefinitionError(path, "each policyDefinitions entry must be an object")
    keys = _lower_keys(member)
    definition_id = keys.get("policydefinitionid", ("policyDefinitionId", None))
    if not isinstance(definition_id[1], str) or not _DEFINITION_ID.match(definition_id[1]):
        raise PolicyDefinitionError(f"{path}.{definition_id[0]}", f"not a policy definition id: {definition_id[1]!r}")
    reference_id = keys.get("policydefinitionreferenceid", (None, None))[1]
    if reference_id is not None:
        if not isinstance(reference_id, str) or not reference_id:
            raise PolicyDefinitionError(f"{path}.policyDefinitionReferenceId", "must be a non-empty string")
        if reference_id.lower() in seen:
            raise PolicyDefinitionError(
                f"{path}.policyDefinitionReferenceId", f"duplicate reference id {reference_id!r}"
            )
        seen.add(reference_id.lower())
    values: dict[str, Value] = {}
    if "parameters" in keys:
        params_key, raw = keys["parameters"]
        if not isinstance(raw, Mapping):
            raise PolicyDefinitionError(f"{path}.{params_key}", "parameters must be an object")
        for name, entry in raw.items():
            where = f"{path}.{params_key}.{name}"
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise PolicyDefinitionError(where, "each parameter must be an object with a 'value'")
            values[name] = compiler.value(entry["value"], f"{where}.value")
    group_names: tuple[str, ...] = ()
    if "groupnames" in keys:
        key, raw_names = keys["groupnames"]
        if not isinstance(raw_names, list) or not all(isinstance(n, str) for n in raw_names):
            raise PolicyDefinitionError(f"{path}.{key}", "groupNames must be an array of strings")
        if groups is not None:
            missing = [n for n in raw_names if n.lower() not in groups]
            if missing:
                raise PolicyDefinitionError(f"{path}.{key}", f"group {missing[0]!r} is not in policyDefinitionGroups")
        group_names = tuple(raw_names)
    version = keys.get("definitionversion", (None, None))[1]
    return PolicyReference(definition_id[1], reference_id, values, group_names, version)


def check_references(set_definition: PolicySetDefinition, catalog: Mapping[str, PolicyDefinition]) -> list[str]:
    """Problems with the members of an initiative against known definitions (keyed by lower-cased name).

    Reports unknown definitions, parameters a definition doesn't declare, and required parameters
    (no default) left unset. A member pinned to another major version (``definitionVersion``
    ``6.*.*`` against a definition now at 7.0.0) can't be checked against the version at hand and is
    skipped. Returns an empty list when everything resolves.
    """
    problems: list[str] = []
    for i, reference in enumerate(set_definition.definitions):
        where = f"policyDefinitions[{i}]"
        definition = catalog.get(reference.definition_name.lower())
        if definition is None:
            problems.append(f"{where}: unknown policy definition {reference.definition_id}")
            continue
        if _other_major(reference.definition_version, definition.version):
            continue
        for name in reference.parameters:
            if name.lower() not in definition.parameters:
                problems.append(f"{where}.parameters.{name}: not a parameter of {reference.definition_name}")
        for key, parameter in definition.parameters.items():
            if not parameter.has_default and key not in {n.lower() for n in reference.parameters}:
                problems.append(f"{where}: required parameter '{parameter.name}' of {reference.definition_name} unset")
    return problems


def _other_major(pinned: str | None, current: str | None) -> bool:
    if not pinned or not current:
        return False
    major = pinned.split(".", 1)[0]
    return major not in ("*", "") and major != current.split(".", 1)[0]


class _InitiativeHost(ExpressionContext):
    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__()
        self.values = values

    def parameter(self, name: str) -> Any:
        if name.lower() in self.values:
            return self.values[name.lower()]
        raise ExpressionEvaluationError(f"The initiative parameter '{name}' is not defined")


def member_parameters(
    set_definition: PolicySetDefinition, reference: PolicyReference, supplied: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The parameter values one member definition receives, given the initiative's assignment values.

    Raises :class:`PolicyParameterError` when the initiative's own parameters don't fit.
    """
    values = bind_parameters(set_definition.parameters, supplied)
    host = _InitiativeHost(values)
    result: dict[str, Any] = {}
    for name, value in reference.parameters.items():
        try:
            result[name] = evaluate_value(value.raw, host) if value.dynamic else value.raw
        except ExpressionEvaluationError as exc:
            raise PolicyParameterError(f"Parameter '{name}' of {reference.definition_name}: {exc}") from exc
    return result


def evaluate_set_definition(
    set_definition: PolicySetDefinition,
    catalog: Mapping[str, PolicyDefinition],
    resource: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    **options: Any,
) -> list[tuple[PolicyReference, EvaluationResult]]:
    """Evaluate every member of an initiative on ``resource``; ``options`` go to :func:`evaluate`.

    ``catalog`` maps lower-cased definition names to definitions. Raises
    :class:`PolicyDefinitionError` for a member whose definition is not in the catalog and
    :class:`PolicyParameterError` when parameters don't fit. Roll the states up with
    :func:`~.effects.rollup_compliance`.
    """
    results = []
    extra_info = options.pop("policy_info", None) or {}
    for reference in set_definition.definitions:
        definition = catalog.get(reference.definition_name.lower())
        if definition is None:
            raise PolicyDefinitionError("", f"unknown policy definition {reference.definition_id}")
        values = member_parameters(set_definition, reference, parameters)
        info = {"setDefinitionId": set_definition.id or "", "definitionReferenceId": reference.reference_id or ""}
        info.update(extra_info)
        results.append((reference, evaluate(definition, resource, values, policy_info=info, **options)))
    return results
