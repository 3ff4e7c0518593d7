"""Effects and compliance states, with Azure's exact spellings and order of evaluation."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["EFFECT_ORDER", "ComplianceState", "Effect", "parse_effect", "rollup_compliance"]


class Effect(StrEnum):
    """A policy effect; ``NONE`` means the ``if`` did not match (nothing happens)."""

    DISABLED = "disabled"
    APPEND = "append"
    MODIFY = "modify"
    DENY = "deny"
    AUDIT = "audit"
    MANUAL = "manual"
    AUDIT_IF_NOT_EXISTS = "auditIfNotExists"
    DEPLOY_IF_NOT_EXISTS = "deployIfNotExists"
    DENY_ACTION = "denyAction"
    AUDIT_ACTION = "auditAction"  # audits a blocked-able action (e.g. delete); pairs with denyAction
    MUTATE = "mutate"  # Microsoft.Kubernetes.Data (AKS) only
    ADD_TO_NETWORK_GROUP = "addToNetworkGroup"  # Microsoft.Network.Data only
    # legacy resource-provider effects still offered by some built-ins
    ENFORCE_OPA_CONSTRAINT = "EnforceOPAConstraint"
    ENFORCE_REGO_POLICY = "EnforceRegoPolicy"
    ENFORCE_SETTING = "enforceSetting"
    NONE = "none"


EFFECT_ORDER: dict[Effect, int] = {
    effect: rank
    for rank, effect in enumerate(
        (
            Effect.DISABLED,
            Effect.APPEND,
            Effect.MODIFY,
            Effect.MUTATE,
            Effect.ADD_TO_NETWORK_GROUP,
            Effect.ENFORCE_OPA_CONSTRAINT,
            Effect.ENFORCE_REGO_POLICY,
            Effect.ENFORCE_SETTING,
            Effect.DENY,
            Effect.AUDIT,
            Effect.MANUAL,
            Effect.AUDIT_IF_NOT_EXISTS,
            Effect.DEPLOY_IF_NOT_EXISTS,
            Effect.AUDIT_ACTION,
            Effect.DENY_ACTION,
            Effect.NONE,
        )
    )
}
"""Azure's order of evaluation: disabled, then append/modify (they may change the request), deny,
audit, manual, auditIfNotExists/deployIfNotExists, and the action effects (auditAction, denyAction)
last. Resource-provider effects sit with the request-time ones."""

_BY_LOWER = {effect.value.lower(): effect for effect in Effect if effect is not Effect.NONE}


def parse_effect(value: object) -> Effect | None:
    """Return the :class:`Effect` named by ``value`` (any letter case), or None if it names none."""
    return _BY_LOWER.get(value.lower()) if isinstance(value, str) else None


class ComplianceState(StrEnum):
    """Azure Policy compliance states, plus ``NotApplicable`` for resources outside the policy.

    ``NotApplicable`` is Warden's name for "no compliance record": the mode excludes the resource,
    the ``if`` of an *IfNotExists policy is false, or the effect is disabled.
    """

    COMPLIANT = "Compliant"
    NON_COMPLIANT = "NonCompliant"
    EXEMPT = "Exempt"
    CONFLICTING = "Conflicting"
    NOT_STARTED = "NotStarted"
    UNKNOWN = "Unknown"
    ERROR = "Error"
    PROTECTED = "Protected"
    NOT_APPLICABLE = "NotApplicable"


_ROLLUP_RANK = {
    ComplianceState.NON_COMPLIANT: 0,
    ComplianceState.ERROR: 1,
    ComplianceState.COMPLIANT: 2,
    ComplianceState.PROTECTED: 2,
    ComplianceState.CONFLICTING: 3,
    ComplianceState.EXEMPT: 4,
    ComplianceState.UNKNOWN: 5,
    ComplianceState.NOT_STARTED: 6,
}


def rollup_compliance(states: Iterable[ComplianceState]) -> ComplianceState:
    """Aggregate states as Azure ranks them: NonCompliant > Compliant > Conflicting > Exempt > Unknown.

    ``NotApplicable`` states are ignored; ``Error`` ranks just below NonCompliant and ``Protected``
    with Compliant (Warden's placement of states Azure's list doesn't rank). Nothing applicable
    rolls up to ``NotApplicable``.
    """
    ranked = [s for s in states if s is not ComplianceState.NOT_APPLICABLE]
    if not ranked:
        return ComplianceState.NOT_APPLICABLE
    return min(ranked, key=_ROLLUP_RANK.__getitem__)
