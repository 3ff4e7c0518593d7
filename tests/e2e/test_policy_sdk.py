"""Policy states and remediations through Azure's own SDK (azure-mgmt-policyinsights), when installed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from support.server import ARM_SCOPE

policyinsights = pytest.importorskip("azure.mgmt.policyinsights")
pytestmark = pytest.mark.e2e
API = {"api-version": "2023-04-01"}
RG_API = {"api-version": "2021-04-01"}


def test_trigger_query_summarize_and_remediate_with_the_sdk(arm: httpx.Client, warden_server: Any) -> None:
    client = policyinsights.PolicyInsightsClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.2,
    )
    prefix = f"rg-sdk-{uuid.uuid4().hex[:6]}"
    sub = warden_server.sub_scope()
    definition_id = f"{sub}/providers/Microsoft.Authorization/policyDefinitions/{prefix}"
    assignment_id = f"{sub}/providers/Microsoft.Authorization/policyAssignments/{prefix}"
    rule = {
        "if": {
            "allOf": [
                {"field": "type", "equals": "Microsoft.Resources/subscriptions/resourceGroups"},
                {"field": "name", "like": f"{prefix}*"},
                {"field": "tags['owner']", "exists": "false"},
            ]
        },
        "then": {
            "effect": "modify",
            "details": {
                "roleDefinitionIds": [
                    "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
                ],
                "operations": [{"operation": "add", "field": "tags['owner']", "value": "platform"}],
            },
        },
    }
    group = f"{sub}/resourceGroups/{prefix}"
    assert arm.put(group, params=RG_API, json={"location": "westeurope"}).status_code == 201
    assert (
        arm.put(definition_id, params=API, json={"properties": {"mode": "All", "policyRule": rule}}).status_code == 201
    )
    response = arm.put(assignment_id, params=API, json={"properties": {"policyDefinitionId": definition_id}})
    assert response.status_code == 201, response.text
    try:
        client.policy_states.begin_trigger_resource_group_evaluation(warden_server.subscription, prefix).result()
        states = list(
            client.policy_states.list_query_results_for_resource_group("latest", warden_server.subscription, prefix)
        )
        mine = [s for s in states if s.policy_assignment_id.lower() == assignment_id.lower()]
        assert [(s.resource_id.rsplit("/", 1)[-1], s.compliance_state) for s in mine] == [(prefix, "NonCompliant")]
        summary = client.policy_states.summarize_for_resource_group("latest", warden_server.subscription, prefix)
        assert summary.value[0].results.non_compliant_resources == 1
        remediation = client.remediations.create_or_update_at_resource_group(
            prefix, "fix-owner", {"policy_assignment_id": assignment_id}
        )
        assert remediation.provisioning_state == "Succeeded"
        assert remediation.deployment_status.total_deployments == 1
        assert remediation.deployment_status.successful_deployments == 1
        assert arm.get(group, params=RG_API).json()["tags"] == {"owner": "platform"}
        states = client.policy_states.list_query_results_for_resource_group(
            "latest", warden_server.subscription, prefix
        )
        assert {s.compliance_state for s in states if s.policy_assignment_id.lower() == assignment_id.lower()} == {
            "Compliant"
        }
    finally:
        arm.delete(
            f"{group}/providers/Microsoft.PolicyInsights/remediations/fix-owner", params={"api-version": "2021-10-01"}
        )
        arm.delete(assignment_id, params=API)
        arm.delete(definition_id, params=API)
        arm.delete(group, params=RG_API)
