"""PIM policy rules: Azure's default rule set, merging changes by rule id, validation, and the
activation switches read from the rules."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from warden.authz.pim.policy_rules import DEFAULT_RULES, activation_policy, validate_rules
from warden.kernel.errors import BadRequest

APPROVER = "0b9a3c1e-2f4d-4e5a-8b6c-7d8e9f0a1b2c"


def defaults() -> list[dict]:
    return copy.deepcopy(list(DEFAULT_RULES))


def test_default_policy() -> None:
    policy = activation_policy(defaults())
    assert policy.maximum_duration == timedelta(hours=8)
    assert policy.require_justification and not policy.require_ticket and not policy.require_mfa
    assert not policy.require_approval and policy.approvers == ()
    assert policy.admin_eligibility_maximum == timedelta(days=365)
    assert policy.admin_assignment_maximum == timedelta(days=180)
    ids = [rule["id"] for rule in DEFAULT_RULES]
    assert len(ids) == len(set(ids))
    assert all(rule["ruleType"].startswith("RoleManagementPolicy") for rule in DEFAULT_RULES)


def test_changes_replace_rules_by_id_and_leave_the_rest() -> None:
    rules = validate_rules(
        [
            {
                "id": "Expiration_EndUser_Assignment",
                "ruleType": "RoleManagementPolicyExpirationRule",
                "maximumDuration": "PT4H",
            },
            {
                "id": "Enablement_EndUser_Assignment",
                "ruleType": "RoleManagementPolicyEnablementRule",
                "enabledRules": ["MultiFactorAuthentication", "Ticketing", "Ticketing"],
            },
            {
                "id": "Approval_EndUser_Assignment",
                "ruleType": "RoleManagementPolicyApprovalRule",
                "setting": {
                    "isApprovalRequired": True,
                    "approvalStages": [{"primaryApprovers": [{"id": APPROVER.upper()}]}],
                },
            },
        ],
        defaults(),
    )
    policy = activation_policy(rules)
    assert policy.maximum_duration == timedelta(hours=4)
    assert policy.require_ticket and policy.require_mfa and not policy.require_justification
    assert policy.require_approval and policy.approvers == (APPROVER,)
    by_id = {rule["id"]: rule for rule in rules}
    assert by_id["Enablement_EndUser_Assignment"]["enabledRules"] == ["Ticketing", "MultiFactorAuthentication"]
    assert by_id["Expiration_Admin_Eligibility"] == {r["id"]: r for r in DEFAULT_RULES}["Expiration_Admin_Eligibility"]
    assert len(rules) == len(DEFAULT_RULES)


@pytest.mark.parametrize(
    "change",
    [
        {
            "id": "Expiration_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyExpirationRule",
            "maximumDuration": "PT25H",
        },
        {
            "id": "Expiration_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyExpirationRule",
            "maximumDuration": "PT59M",
        },
        {
            "id": "Expiration_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyExpirationRule",
            "maximumDuration": "8h",
        },
        {"id": "Expiration_EndUser_Assignment", "ruleType": "RoleManagementPolicyEnablementRule", "enabledRules": []},
        {
            "id": "Expiration_Admin_Assignment",
            "ruleType": "RoleManagementPolicyExpirationRule",
            "isExpirationRequired": "yes",
        },
        {
            "id": "Enablement_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyEnablementRule",
            "enabledRules": ["Prayer"],
        },
        {
            "id": "Enablement_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyEnablementRule",
            "enabledRules": "Ticketing",
        },
        {"id": "Notification_Whatever", "ruleType": "RoleManagementPolicyNotificationRule"},
        {
            "id": "Approval_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyApprovalRule",
            "setting": {"isApprovalRequired": True},
        },
        {
            "id": "Approval_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyApprovalRule",
            "setting": {"approvalStages": [{"primaryApprovers": [{"id": "not-a-guid"}]}]},
        },
        {
            "id": "Approval_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyApprovalRule",
            "setting": {"approvalStages": [{}, {}]},
        },
        {"id": "Approval_EndUser_Assignment", "ruleType": "RoleManagementPolicyApprovalRule", "setting": "on"},
    ],
)
def test_bad_changes_are_refused_and_leave_the_rules_alone(change: dict) -> None:
    current = defaults()
    with pytest.raises(BadRequest) as refused:
        validate_rules([change], current)
    assert refused.value.code == "InvalidRoleManagementPolicyRule"
    assert current == list(DEFAULT_RULES)


def test_rules_must_be_a_list_of_objects() -> None:
    with pytest.raises(BadRequest):
        validate_rules({"id": "x"}, defaults())
    with pytest.raises(BadRequest):
        validate_rules(["x"], defaults())


def test_end_user_expiration_stays_required() -> None:
    rules = validate_rules(
        [
            {
                "id": "Expiration_EndUser_Assignment",
                "ruleType": "RoleManagementPolicyExpirationRule",
                "isExpirationRequired": False,
            }
        ],
        defaults(),
    )
    assert {r["id"]: r for r in rules}["Expiration_EndUser_Assignment"]["isExpirationRequired"] is True
    permanent = validate_rules(
        [
            {
                "id": "Expiration_Admin_Assignment",
                "ruleType": "RoleManagementPolicyExpirationRule",
                "isExpirationRequired": False,
            }
        ],
        defaults(),
    )
    assert activation_policy(permanent).admin_assignment_maximum is None
