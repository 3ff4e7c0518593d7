"""The rules of a PIM role management policy, as values: Azure's rule set with Warden's defaults,
merging and validating a change, and the activation switches the rules set. No database, no HTTP.

Warden's default differs from Azure's on one switch: activation does not require MFA by default,
because service principals (which have no MFA) must be able to activate; ``--require-mfa`` turns it on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from warden.authz.pim.schedules import ScheduleError, parse_duration
from warden.kernel.errors import BadRequest
from warden.kernel.ids import is_guid

ENABLEMENT_RULES = ("Justification", "Ticketing", "MultiFactorAuthentication")
ACTIVATION_MIN, ACTIVATION_MAX = timedelta(hours=1), timedelta(hours=24)


def _expiration(rule_id: str, caller: str, level: str, required: bool, maximum: str) -> dict[str, Any]:
    return {
        "isExpirationRequired": required,
        "maximumDuration": maximum,
        "id": rule_id,
        "ruleType": "RoleManagementPolicyExpirationRule",
        "target": {"caller": caller, "operations": ["All"], "level": level},
    }


def _enablement(rule_id: str, caller: str, level: str, enabled: list[str]) -> dict[str, Any]:
    return {
        "enabledRules": enabled,
        "id": rule_id,
        "ruleType": "RoleManagementPolicyEnablementRule",
        "target": {"caller": caller, "operations": ["All"], "level": level},
    }


DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    _expiration("Expiration_Admin_Eligibility", "Admin", "Eligibility", True, "P365D"),
    _expiration("Expiration_Admin_Assignment", "Admin", "Assignment", True, "P180D"),
    _expiration("Expiration_EndUser_Assignment", "EndUser", "Assignment", True, "PT8H"),
    _enablement("Enablement_Admin_Eligibility", "Admin", "Eligibility", []),
    _enablement("Enablement_Admin_Assignment", "Admin", "Assignment", ["Justification"]),
    _enablement("Enablement_EndUser_Assignment", "EndUser", "Assignment", ["Justification"]),
    {
        "setting": {
            "isApprovalRequired": False,
            "isApprovalRequiredForExtension": False,
            "isRequestorJustificationRequired": True,
            "approvalMode": "SingleStage",
            "approvalStages": [
                {
                    "approvalStageTimeOutInDays": 1,
                    "isApproverJustificationRequired": True,
                    "escalationTimeInMinutes": 0,
                    "primaryApprovers": [],
                    "isEscalationEnabled": False,
                    "escalationApprovers": [],
                }
            ],
        },
        "id": "Approval_EndUser_Assignment",
        "ruleType": "RoleManagementPolicyApprovalRule",
        "target": {"caller": "EndUser", "operations": ["All"], "level": "Assignment"},
    },
)
_DEFAULTS_BY_ID = {rule["id"]: rule for rule in DEFAULT_RULES}


@dataclass(frozen=True)
class ActivationPolicy:
    """The switches an activation request is checked against."""

    maximum_duration: timedelta
    require_justification: bool
    require_ticket: bool
    require_mfa: bool
    require_approval: bool
    approvers: tuple[str, ...]
    admin_eligibility_maximum: timedelta | None  # None: permanent eligibility allowed
    admin_assignment_maximum: timedelta | None
    admin_justification: bool


def rules_by_id(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in rules}


def activation_policy(rules: list[dict[str, Any]]) -> ActivationPolicy:
    """The switches the stored (already validated) rules set."""
    by_id = rules_by_id(rules)

    def maximum(rule_id: str) -> timedelta | None:
        rule = by_id[rule_id]
        return parse_duration(rule["maximumDuration"]) if rule.get("isExpirationRequired") else None

    end_user = set(by_id["Enablement_EndUser_Assignment"]["enabledRules"])
    setting = by_id["Approval_EndUser_Assignment"]["setting"]
    stages = setting.get("approvalStages") or [{}]
    return ActivationPolicy(
        maximum_duration=parse_duration(by_id["Expiration_EndUser_Assignment"]["maximumDuration"]),
        require_justification="Justification" in end_user,
        require_ticket="Ticketing" in end_user,
        require_mfa="MultiFactorAuthentication" in end_user,
        require_approval=bool(setting.get("isApprovalRequired")),
        approvers=tuple(a["id"].lower() for a in stages[0].get("primaryApprovers") or []),
        admin_eligibility_maximum=maximum("Expiration_Admin_Eligibility"),
        admin_assignment_maximum=maximum("Expiration_Admin_Assignment"),
        admin_justification="Justification" in by_id["Enablement_Admin_Assignment"]["enabledRules"],
    )


def validate_rules(changes: Any, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``current`` with each rule in ``changes`` replacing the one of the same ``id``.
    Raise ``BadRequest`` naming the rule for unknown ids, wrong types or values out of range."""
    if not isinstance(changes, list) or not all(isinstance(rule, dict) for rule in changes):
        raise BadRequest(
            "'rules' must be an array of rule objects.", code="InvalidRequestContent", target="properties.rules"
        )
    merged = rules_by_id(copy.deepcopy(current))
    for change in changes:
        rule_id = change.get("id")
        default = _DEFAULTS_BY_ID.get(rule_id) if isinstance(rule_id, str) else None
        if default is None:
            raise BadRequest(
                f"The rule '{rule_id}' is not a rule of this policy.", code="InvalidRoleManagementPolicyRule"
            )
        if change.get("ruleType") != default["ruleType"]:
            raise BadRequest(
                f"The rule '{rule_id}' must have ruleType '{default['ruleType']}'.",
                code="InvalidRoleManagementPolicyRule",
            )
        rule = merged[rule_id]
        if default["ruleType"] == "RoleManagementPolicyExpirationRule":
            _apply_expiration(rule, change)
        elif default["ruleType"] == "RoleManagementPolicyEnablementRule":
            enabled = change.get("enabledRules")
            if not isinstance(enabled, list) or any(e not in ENABLEMENT_RULES for e in enabled):
                raise BadRequest(
                    f"'enabledRules' of '{rule_id}' must list some of {', '.join(ENABLEMENT_RULES)}.",
                    code="InvalidRoleManagementPolicyRule",
                )
            rule["enabledRules"] = sorted(set(enabled), key=ENABLEMENT_RULES.index)
        else:
            rule["setting"] = _approval_setting(change.get("setting"), rule["setting"])
    return list(merged.values())


def _apply_expiration(rule: dict[str, Any], change: dict[str, Any]) -> None:
    required = change.get("isExpirationRequired", rule["isExpirationRequired"])
    if not isinstance(required, bool):
        raise BadRequest("'isExpirationRequired' must be a boolean.", code="InvalidRoleManagementPolicyRule")
    maximum = change.get("maximumDuration", rule["maximumDuration"])
    try:
        length = parse_duration(maximum, "maximumDuration")
    except ScheduleError as error:
        raise BadRequest(str(error), code="InvalidRoleManagementPolicyRule") from None
    if rule["id"] == "Expiration_EndUser_Assignment" and not ACTIVATION_MIN <= length <= ACTIVATION_MAX:
        raise BadRequest(
            "The maximum activation duration must be between 1 and 24 hours (PT1H to PT24H).",
            code="InvalidRoleManagementPolicyRule",
        )
    rule["isExpirationRequired"] = True if rule["id"] == "Expiration_EndUser_Assignment" else required
    rule["maximumDuration"] = maximum


def _approval_setting(setting: Any, current: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(setting, dict):
        raise BadRequest(
            "'setting' of 'Approval_EndUser_Assignment' must be an object.", code="InvalidRoleManagementPolicyRule"
        )
    result = copy.deepcopy(current)
    required = setting.get("isApprovalRequired", current["isApprovalRequired"])
    if not isinstance(required, bool):
        raise BadRequest("'isApprovalRequired' must be a boolean.", code="InvalidRoleManagementPolicyRule")
    stages = setting.get("approvalStages", current["approvalStages"])
    if not isinstance(stages, list) or len(stages) > 1 or not all(isinstance(s, dict) for s in stages):
        raise BadRequest("Only a single approval stage is supported.", code="InvalidRoleManagementPolicyRule")
    approvers = (stages[0].get("primaryApprovers") or []) if stages else []
    if not isinstance(approvers, list) or not all(
        isinstance(a, dict) and isinstance(a.get("id"), str) and is_guid(a["id"]) for a in approvers
    ):
        raise BadRequest("Each primary approver needs an 'id' that is a GUID.", code="InvalidRoleManagementPolicyRule")
    if required and not approvers:
        raise BadRequest(
            "Approval is required but no approver is named: add at least one primary approver.",
            code="InvalidRoleManagementPolicyRule",
        )
    result["isApprovalRequired"] = required
    stage = result["approvalStages"][0]
    stage["primaryApprovers"] = [
        {
            "id": a["id"].lower(),
            "userType": a.get("userType", "User"),
            "isBackup": False,
            "description": a.get("description"),
        }
        for a in approvers
    ]
    return result
