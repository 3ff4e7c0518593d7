"""Compliance scans, auditIfNotExists/deployIfNotExists after writes, and remediations, on a real server.

Each test's policies only match resource groups named with the test's own prefix, so its
subscription-wide assignments cannot disturb other tests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e
API = {"api-version": "2023-04-01"}
RG_API = {"api-version": "2021-04-01"}
INSIGHTS_API = {"api-version": "2019-10-01"}
REMEDIATION_API = {"api-version": "2021-10-01"}
MI_API = {"api-version": "2023-01-31"}
GROUP_TYPE = "Microsoft.Resources/subscriptions/resourceGroups"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
CONTRIBUTOR = "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"


@pytest.fixture
def prefix() -> str:
    return f"rg-cmp-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def created(arm: httpx.Client) -> Iterator[list[tuple[str, dict[str, str]]]]:
    """IDs to delete afterwards (newest first), with their api-version."""
    items: list[tuple[str, dict[str, str]]] = []
    yield items
    for resource_id, params in reversed(items):
        response = arm.delete(resource_id, params=params)
        if response.status_code == 202:
            _wait(arm, response)


def _wait(arm: httpx.Client, response: httpx.Response, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while response.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
        response = arm.get(response.headers["Location"])
    return response


def _put(arm: httpx.Client, created: list, resource_id: str, body: dict, params: dict) -> dict:
    response = arm.put(resource_id, params=params, json=body)
    assert response.status_code in (200, 201), response.text
    created.append((resource_id, params))
    return response.json()


def _groups_rule(prefix: str, then: dict) -> dict:
    return {
        "if": {"allOf": [{"field": "type", "equals": GROUP_TYPE}, {"field": "name", "like": f"{prefix}*"}]},
        "then": then,
    }


def _states(arm: httpx.Client, scope: str, assignment_id: str) -> dict[str, dict[str, Any]]:
    response = arm.post(
        f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
        params={**INSIGHTS_API, "$filter": f"policyAssignmentId eq '{assignment_id}'"},
    )
    assert response.status_code == 200, response.text
    return {s["resourceId"].rsplit("/", 1)[-1]: s for s in response.json()["value"]}


def _trigger(arm: httpx.Client, scope: str) -> None:
    response = arm.post(
        f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation", params=INSIGHTS_API
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"] and response.headers["Azure-AsyncOperation"]
    final = _wait(arm, response)
    assert final.status_code in (200, 204), final.text
    status = arm.get(response.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Succeeded"


def test_audit_if_not_exists_follows_related_writes(
    arm: httpx.Client, warden_server: Any, prefix: str, created: list
) -> None:
    sub = warden_server.sub_scope()
    definition = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.Authorization/policyDefinitions/{prefix}-aine",
        {
            "properties": {
                "mode": "All",
                "policyRule": _groups_rule(
                    prefix,
                    {
                        "effect": "auditIfNotExists",
                        "details": {
                            "type": IDENTITY_TYPE,
                            "existenceCondition": {"field": "location", "equals": "westeurope"},
                        },
                    },
                ),
            }
        },
        API,
    )
    assignment = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.Authorization/policyAssignments/{prefix}-aine",
        {"properties": {"policyDefinitionId": definition["id"]}},
        API,
    )
    group = f"{sub}/resourceGroups/{prefix}"
    _put(arm, created, group, {"location": "westeurope"}, RG_API)
    _trigger(arm, sub)
    states = _states(arm, sub, assignment["id"])
    assert states[prefix]["complianceState"] == "NonCompliant"
    assert states[prefix]["policyDefinitionAction"] == "auditifnotexists"
    # An identity elsewhere does not count; one in another location fails the existence condition.
    identity = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-east"
    _put(arm, created, identity, {"location": "eastus"}, MI_API)
    assert _states(arm, sub, assignment["id"])[prefix]["complianceState"] == "NonCompliant"
    _put(arm, created, identity.replace("id-east", "id-west"), {"location": "westeurope"}, MI_API)
    assert _states(arm, sub, assignment["id"])[prefix]["complianceState"] == "Compliant"
    # the post-write job stores the group's new state; a new scan agrees
    _trigger(arm, group)
    assert _states(arm, group, assignment["id"])[prefix]["complianceState"] == "Compliant"


def test_trigger_evaluation_refuses_the_tenant_root(arm: httpx.Client) -> None:
    response = arm.post(
        "/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation", params=INSIGHTS_API
    )
    assert response.status_code in (400, 403, 404), response.text
    assert "error" in response.json()


def test_remediation_applies_modify_to_existing_resources(
    arm: httpx.Client, warden_server: Any, prefix: str, created: list
) -> None:
    sub = warden_server.sub_scope()
    # Groups exist before the policy: the modify did not run when they were written.
    for suffix, tags in (("-a", {}), ("-b", {"costCenter": "42"}), ("-c", {"env": "dev"})):
        _put(arm, created, f"{sub}/resourceGroups/{prefix}{suffix}", {"location": "westeurope", "tags": tags}, RG_API)
    rule = _groups_rule(
        prefix,
        {
            "effect": "modify",
            "details": {
                "roleDefinitionIds": [CONTRIBUTOR],
                "operations": [{"operation": "add", "field": "tags['costCenter']", "value": "1000"}],
            },
        },
    )
    rule["if"]["allOf"].append({"field": "tags['costCenter']", "exists": "false"})
    definition = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.Authorization/policyDefinitions/{prefix}-tag",
        {"properties": {"mode": "All", "policyRule": rule}},
        API,
    )
    assignment = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.Authorization/policyAssignments/{prefix}-tag",
        {"properties": {"policyDefinitionId": definition["id"]}},
        API,
    )
    states = _states(arm, sub, assignment["id"])
    assert {n: s["complianceState"] for n, s in states.items()} == {
        f"{prefix}-a": "NonCompliant",
        f"{prefix}-b": "Compliant",
        f"{prefix}-c": "NonCompliant",
    }
    remediation = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-fix",
        {"properties": {"policyAssignmentId": assignment["id"]}},
        REMEDIATION_API,
    )
    properties = remediation["properties"]
    assert properties["provisioningState"] == "Succeeded"
    assert properties["deploymentStatus"] == {"totalDeployments": 2, "successfulDeployments": 2, "failedDeployments": 0}
    for suffix, expected in (("-a", {"costCenter": "1000"}), ("-c", {"env": "dev", "costCenter": "1000"})):
        group = arm.get(f"{sub}/resourceGroups/{prefix}{suffix}", params=RG_API).json()
        assert group["tags"] == expected
    assert arm.get(f"{sub}/resourceGroups/{prefix}-b", params=RG_API).json()["tags"] == {"costCenter": "42"}
    states = _states(arm, sub, assignment["id"])
    assert {s["complianceState"] for s in states.values()} == {"Compliant"}
    shown = arm.get(f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-fix", params=REMEDIATION_API)
    assert shown.status_code == 200 and shown.json()["properties"]["deploymentStatus"]["successfulDeployments"] == 2
    assert "_deployments" not in shown.json()["properties"] and "_deployments" not in shown.json()
    listed = arm.post(
        f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-fix/listDeployments", params=REMEDIATION_API
    )
    assert listed.status_code == 200, listed.text
    assert sorted((d["remediatedResourceId"].rsplit("/", 1)[-1], d["status"]) for d in listed.json()["value"]) == [
        (f"{prefix}-a", "Succeeded"),
        (f"{prefix}-c", "Succeeded"),
    ]
    # a second remediation finds nothing left to do
    again = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-again",
        {"properties": {"policyAssignmentId": assignment["id"]}},
        REMEDIATION_API,
    )
    assert again["properties"]["deploymentStatus"]["totalDeployments"] == 0
    missing = arm.put(
        f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-bad",
        params=REMEDIATION_API,
        json={"properties": {"policyAssignmentId": f"{assignment['id']}-nope"}},
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "PolicyAssignmentNotFound"


def test_deploy_if_not_exists_is_non_compliant_and_remediation_reports_failure(
    arm: httpx.Client, warden_server: Any, prefix: str, created: list
) -> None:
    sub = warden_server.sub_scope()
    rule = _groups_rule(
        prefix,
        {
            "effect": "deployIfNotExists",
            "details": {
                "type": IDENTITY_TYPE,
                "roleDefinitionIds": [CONTRIBUTOR],
                "deployment": {
                    "properties": {
                        "mode": "incremental",
                        "template": {
                            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                            "contentVersion": "1.0.0.0",
                            "resources": [],
                        },
                    }
                },
            },
        },
    )
    definition = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.Authorization/policyDefinitions/{prefix}-dine",
        {"properties": {"mode": "All", "policyRule": rule}},
        API,
    )
    assignment = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.Authorization/policyAssignments/{prefix}-dine",
        {
            "properties": {"policyDefinitionId": definition["id"]},
            "location": "westeurope",
            "identity": {"type": "SystemAssigned"},
        },
        API,
    )
    _put(arm, created, f"{sub}/resourceGroups/{prefix}", {"location": "westeurope"}, RG_API)
    state = _states(arm, sub, assignment["id"])[prefix]
    assert (state["complianceState"], state["policyDefinitionAction"]) == ("NonCompliant", "deployifnotexists")
    remediation = _put(
        arm,
        created,
        f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-dine",
        {"properties": {"policyAssignmentId": assignment["id"]}},
        REMEDIATION_API,
    )
    properties = remediation["properties"]
    assert properties["provisioningState"] == "Failed"
    assert properties["deploymentStatus"] == {"totalDeployments": 1, "successfulDeployments": 0, "failedDeployments": 1}
    assert "template" in properties["statusMessage"]
    listed = arm.post(
        f"{sub}/providers/Microsoft.PolicyInsights/remediations/{prefix}-dine/listDeployments",
        params=REMEDIATION_API,
    ).json()["value"]
    assert [(d["status"], d["error"]["code"]) for d in listed] == [("Failed", "DeploymentNotSupported")]
