"""Evaluate a policy definition against one resource: effect, compliance state and reasons.

The steps follow Azure:

1. bind the assignment's parameters (defaults, types, allowedValues) and resolve the effect;
   ``disabled`` stops here;
2. the mode decides whether the resource is evaluated at all (``Indexed`` skips types that
   support neither tags nor location, and subscriptions/resource groups; ``Microsoft.Resources``
   types other than those two are never evaluated);
3. the ``if`` is evaluated; a function or comparison that fails makes the result a ``deny`` with
   compliance state ``Error`` ("a failed evaluation is an implicit deny");
4. when the ``if`` matches, the effect decides: ``auditIfNotExists``/``deployIfNotExists`` look
   for a related resource satisfying ``existenceCondition``; ``manual`` reports its default state.
   When it doesn't, the resource is ``Compliant`` if the policy applies to it (for *IfNotExists:
   never; otherwise per Azure's type/name/kind applicability rule), else ``NotApplicable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..expressions import ExpressionError
from ..expressions import evaluate as evaluate_expression
from ..expressions.values import get_property
from .aliases import AliasTable, default_aliases
from .conditions import Reason
from .definition import PolicyDefinition, evaluate_details, load_definition
from .effects import ComplianceState, Effect, parse_effect
from .errors import PolicyEvaluationError, PolicyParameterError
from .parameters import bind_parameters
from .state import State, id_parts

__all__ = ["EvaluationResult", "RelatedQuery", "evaluate", "related_finder"]

_GROUP_TYPES = {"microsoft.resources/subscriptions/resourcegroups", "microsoft.resources/resourcegroups"}
_SUBSCRIPTION = "microsoft.resources/subscriptions"
_IF_NOT_EXISTS = {Effect.AUDIT_IF_NOT_EXISTS, Effect.DEPLOY_IF_NOT_EXISTS}


@dataclass(slots=True)
class EvaluationResult:
    """The outcome for one definition and one resource.

    ``effect`` is what happens (``none`` when the ``if`` doesn't match or the related resource
    exists); ``reasons`` are the conditions that decided it, each with the values seen.
    """

    effect: Effect
    compliance_state: ComplianceState
    reasons: list[dict[str, Any]] = field(default_factory=list)
    details: Any = None
    error: str | None = None
    matched: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``warden policy test --output json``."""
        data: dict[str, Any] = {
            "effect": self.effect.value,
            "complianceState": self.compliance_state.value,
            "reasons": self.reasons,
        }
        if self.details is not None:
            data["details"] = self.details
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True, slots=True)
class RelatedQuery:
    """What an *IfNotExists policy looks for, handed to a ``related`` callable."""

    type: str
    name: str | None
    resource_group_name: str | None
    existence_scope: str
    resource: Mapping[str, Any]


Related = Iterable[Mapping[str, Any]] | Callable[[RelatedQuery], Iterable[Mapping[str, Any]]] | None


def _text(value: Any) -> str:
    return value.lower() if isinstance(value, str) else ""


def _mode_excludes(definition: PolicyDefinition, resource: Mapping[str, Any], indexed: bool | None) -> str | None:
    """Why the mode keeps ``resource`` out of evaluation, or None when it is evaluated."""
    resource_type = _text(get_property(resource, "type")[1])
    top = resource_type in _GROUP_TYPES or resource_type == _SUBSCRIPTION
    if resource_type.startswith("microsoft.resources/") and not top:
        return "Azure Policy does not evaluate Microsoft.Resources types other than subscriptions and resource groups"
    no_location = get_property(resource, "location")[1] is None
    if definition.mode == "Indexed" and (indexed is False or (indexed is None and (top or no_location))):
        return "mode Indexed evaluates only resource types that support tags and location"
    if top and resource_type == _SUBSCRIPTION and definition.mentions_location:
        return "policies with a location condition don't apply to subscriptions"
    return None


def evaluate(
    definition: PolicyDefinition | Mapping[str, Any] | str,
    resource: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    request: Mapping[str, Any] | None = None,
    *,
    aliases: AliasTable | None = None,
    resource_group: Mapping[str, Any] | None = None,
    subscription: Mapping[str, Any] | None = None,
    policy_info: Mapping[str, Any] | None = None,
    related: Related = None,
    indexed: bool | None = None,
    now: datetime | None = None,
    explain: bool = True,
) -> EvaluationResult:
    """Evaluate ``definition`` (compiled, or anything :func:`load_definition` takes) on ``resource``.

    ``parameters`` maps names to values (or ``{"value": ...}``); ``request`` is the request
    context (``apiVersion``, ``identity``...); ``resource_group``/``subscription`` override what is
    derived from the resource id; ``policy_info`` feeds ``policy()``; ``related`` lists (or a
    callable returns) candidate resources for auditIfNotExists/deployIfNotExists (none given means
    none exist); ``indexed`` overrides the guess of whether the type supports tags and location.
    With ``explain=False`` reasons are not collected (faster).

    Raises :class:`PolicyParameterError` when the parameters don't fit the definition and
    :class:`PolicyDefinitionError` when ``definition`` needs loading and is invalid. Evaluation
    failures are not raised: they yield ``deny`` with compliance state ``Error``.
    """
    if not isinstance(definition, PolicyDefinition):
        definition = load_definition(definition)
    values = bind_parameters(definition.parameters, parameters)
    state = State(
        resource,
        values,
        aliases or default_aliases(),
        definition_id=definition.id,
        request=request,
        resource_group=resource_group,
        subscription=subscription,
        policy_info=policy_info,
        now=now,
    )
    effect = _resolve_effect(definition, state)
    if effect is Effect.DISABLED:
        return EvaluationResult(Effect.DISABLED, ComplianceState.NOT_APPLICABLE)
    excluded = _mode_excludes(definition, resource, indexed)
    if excluded:
        return EvaluationResult(
            Effect.NONE, ComplianceState.NOT_APPLICABLE, [{"mode": definition.mode, "why": excluded}]
        )
    required = definition.required_types
    if required is not None and not explain and _text(get_property(resource, "type")[1]) not in required:
        # the ``if`` requires another type: neither matched nor applicable, nothing to evaluate
        return EvaluationResult(Effect.NONE, ComplianceState.NOT_APPLICABLE)
    try:
        return _run(definition, state, effect, related, explain)
    except (ExpressionError, PolicyEvaluationError) as exc:
        message = str(exc)
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        message = f"internal evaluation failure: {type(exc).__name__}: {exc}"  # still Azure's implicit deny
    return EvaluationResult(Effect.DENY, ComplianceState.ERROR, [{"error": message}], error=message, matched=True)


def _resolve_effect(definition: PolicyDefinition, state: State) -> Effect:
    spec = definition.effect
    if spec.literal is not None:
        return spec.literal
    try:
        value = evaluate_expression(spec.node, state)
    except ExpressionError as exc:
        raise PolicyParameterError(f"The effect {spec.raw!r} could not be resolved: {exc}") from exc
    effect = parse_effect(value)
    if effect is None:
        raise PolicyParameterError(f"The effect {value!r} (from {spec.raw!r}) is not a policy effect")
    return effect


def _run(definition: PolicyDefinition, state: State, effect: Effect, related: Related, explain: bool):
    if explain:
        matched, why = definition.condition.explain(state)
        reasons = [r.to_dict() for r in why]
    else:
        matched, reasons = definition.condition.eval(state), []
    if not matched:
        if effect in _IF_NOT_EXISTS or not definition.condition.applicable(state, definition.considered):
            return EvaluationResult(Effect.NONE, ComplianceState.NOT_APPLICABLE, reasons)
        return EvaluationResult(Effect.NONE, ComplianceState.COMPLIANT, reasons)
    details = evaluate_details(definition.details.raw, state) if definition.details is not None else None
    if effect in _IF_NOT_EXISTS:
        found, existence_reasons = _find_related(definition, state, related, explain)
        reasons.extend(existence_reasons)
        if found is not None:
            return EvaluationResult(Effect.NONE, ComplianceState.COMPLIANT, reasons, details, matched=True)
        return EvaluationResult(effect, ComplianceState.NON_COMPLIANT, reasons, details, matched=True)
    if effect is Effect.MANUAL:
        default = get_property(details, "defaultState")[1] if isinstance(details, dict) else None
        states = {s.value.lower(): s for s in (ComplianceState.COMPLIANT, ComplianceState.NON_COMPLIANT)}
        compliance = states.get(_text(default), ComplianceState.UNKNOWN)
        return EvaluationResult(effect, compliance, reasons, details, matched=True)
    if effect is Effect.DENY_ACTION:
        return EvaluationResult(effect, ComplianceState.PROTECTED, reasons, details, matched=True)
    return EvaluationResult(effect, ComplianceState.NON_COMPLIANT, reasons, details, matched=True)


def related_finder(
    fetch: Callable[[str], Iterable[Mapping[str, Any]]],
) -> Callable[[RelatedQuery], list[Mapping[str, Any]]]:
    """A ``related`` callable for :func:`evaluate` over a large set of resources: ``fetch(type)``
    returns the resources of one type (lower-cased name), and the usual rules pick the candidates
    (a child or extension of the evaluated resource, else the same resource group or, with
    ``existenceScope: subscription``, the same subscription; ``details.name`` when given)."""
    return lambda query: _candidates(query, list(fetch(query.type.lower())))


def _candidates(query: RelatedQuery, related: Related) -> list[Mapping[str, Any]]:
    if related is None:
        return []
    if callable(related):
        return list(related(query))
    subject_id = _text(get_property(query.resource, "id")[1])
    subject_type = _text(get_property(query.resource, "type")[1])
    subject_parts = id_parts(subject_id)
    wanted_type = query.type.lower()
    child_type = wanted_type.startswith(subject_type + "/") if subject_type else False
    found = []
    for candidate in related:
        if _text(get_property(candidate, "type")[1]) != wanted_type:
            continue
        name = get_property(candidate, "name")[1]
        names = (name.lower(), name.lower().rsplit("/", 1)[-1]) if isinstance(name, str) else ()
        if query.name is not None and names and query.name.lower() not in names:
            continue
        candidate_id = _text(get_property(candidate, "id")[1])
        if candidate_id and subject_id:
            if candidate_id.startswith(subject_id + "/"):
                found.append(candidate)  # a child or extension of the evaluated resource
                continue
            if child_type or candidate_id.count("/providers/") > 1:
                continue  # a child/extension of some other resource
            parts = id_parts(candidate_id)
            if parts.get("subscription", "").lower() != subject_parts.get("subscription", "").lower():
                continue
            group = (query.resource_group_name or subject_parts.get("resourceGroup", "")).lower()
            if query.existence_scope != "subscription" and parts.get("resourceGroup", "").lower() != group:
                continue
        found.append(candidate)
    return found


def _find_related(definition: PolicyDefinition, state: State, related: Related, explain: bool):
    spec = definition.existence
    if spec is None:
        return None, [{"existence": "no details.type given; nothing to look for"}]
    resource_type = spec.type.get(state)
    name = spec.name.get(state) if spec.name is not None else None
    group = spec.resource_group_name.get(state) if spec.resource_group_name is not None else None
    query = RelatedQuery(
        str(resource_type), name if isinstance(name, str) else None, group, spec.existence_scope, state.subject
    )
    candidates = _candidates(query, related)
    reasons: list[dict[str, Any]] = []
    for candidate in candidates:
        related_state = state.related(candidate)
        if spec.condition is None:
            ok, why = True, []
        elif explain:
            ok, why = spec.condition.explain(related_state)
        else:
            ok, why = spec.condition.eval(related_state), []
        if ok:
            reasons.append({"existence": "found", "related": get_property(candidate, "id")[1] or candidate.get("name")})
            reasons.extend(_prefixed(why))
            return candidate, reasons
        if explain:
            reasons.append({"existence": "condition not met", "related": get_property(candidate, "id")[1]})
            reasons.extend(_prefixed(why))
    reasons.append({"existence": "missing", "type": query.type, "name": query.name, "checked": len(candidates)})
    return None, reasons


def _prefixed(reasons: list[Reason]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in reasons]
