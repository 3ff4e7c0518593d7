"""Azure Policy enforced in the write pipeline, driven with azure-mgmt-resource and plain ARM calls.

Each test's policies only match resource groups named with the test's own prefix, so the
subscription-wide assignments here cannot disturb other tests, even if a cleanup fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient

from support.server import ARM_SCOPE

API = {"api-version": "2023-04-01"}
RG_API = {"api-version": "2021-04-01"}


@pytest.fixture(scope="module")
def sdk(warden_server) -> ResourceManagementClient:  # type: ignore[no-untyped-def]
    return ResourceManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
    )


@pytest.fixture
def prefix() -> str:
    return f"rg-pol-{uuid.uuid4().hex[:6]}"


class Policies:
    """Creates definitions, assignments and exemptions, and deletes them afterwards."""

    def __init__(self, arm: httpx.Client, sub_scope: str) -> None:
        self.arm = arm
        self.sub = sub_scope
        self.created: list[str] = []

    def put(self, resource_id: str, properties: dict, expect: int = 201) -> dict:
        response = self.arm.put(resource_id, params=API, json={"properties": properties})
        assert response.status_code == expect, response.text
        if response.status_code in (200, 201):
            self.created.append(resource_id)
        return response.json()

    def definition(self, name: str, rule: dict, parameters: dict | None = None, mode: str = "All") -> str:
        resource_id = f"{self.sub}/providers/Microsoft.Authorization/policyDefinitions/{name}"
        properties = {"mode": mode, "displayName": f"Test {name}", "policyRule": rule, "parameters": parameters or {}}
        return self.put(resource_id, properties)["id"]

    def assign(self, name: str, definition_id: str, scope: str | None = None, **properties: object) -> str:
        resource_id = f"{scope or self.sub}/providers/Microsoft.Authorization/policyAssignments/{name}"
        return self.put(resource_id, {"policyDefinitionId": definition_id, **properties})["id"]

    def cleanup(self) -> None:
        for resource_id in reversed(self.created):
            self.arm.delete(resource_id, params=API)


@pytest.fixture
def policies(arm: httpx.Client, warden_server) -> Iterator[Policies]:  # type: ignore[no-untyped-def]
    helper = Policies(arm, warden_server.sub_scope())
    yield helper
    helper.cleanup()


def _delete_groups(sdk: ResourceManagementClient, prefix: str) -> None:
    for group in sdk.resource_groups.list():
        if group.name.startswith(prefix):
            sdk.resource_groups.begin_delete(group.name).result()


def _allowed_locations_rule(prefix: str) -> dict:
    return {
        "if": {
            "allOf": [
                {"field": "type", "equals": "Microsoft.Resources/subscriptions/resourceGroups"},
                {"field": "name", "like": f"{prefix}*"},
                {"field": "location", "notIn": "[parameters('allowed')]"},
            ]
        },
        "then": {"effect": "[parameters('effect')]"},
    }


LOCATION_PARAMETERS = {
    "allowed": {"type": "Array"},
    "effect": {"type": "String", "defaultValue": "Deny", "allowedValues": ["Audit", "Deny", "Disabled"]},
}


def test_deny_refuses_sdk_write_and_writes_nothing(sdk, policies, prefix, arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    assignment = policies.assign(
        f"{prefix}-loc",
        definition,
        displayName="Allowed locations",
        parameters={"allowed": {"value": ["westeurope"]}},
        nonComplianceMessages=[{"message": "Only West Europe."}],
    )
    try:
        with pytest.raises(HttpResponseError) as refused:
            sdk.resource_groups.create_or_update(f"{prefix}-east", {"location": "eastus"})
        error = refused.value.error
        assert refused.value.status_code == 403 and error.code == "RequestDisallowedByPolicy"
        assert f"Resource '{prefix}-east' was disallowed by policy." in error.message
        assert "Only West Europe." in error.message
        identifiers = json.loads(error.message.split("Policy identifiers: '", 1)[1].rsplit("'.", 1)[0])
        assert identifiers[0]["policyAssignment"] == {"name": "Allowed locations", "id": assignment}
        assert identifiers[0]["policyDefinition"]["id"].lower() == definition.lower()
        assert sdk.resource_groups.check_existence(f"{prefix}-east") is False
        # An allowed location goes through; an update moving nothing stays allowed.
        assert sdk.resource_groups.create_or_update(f"{prefix}-west", {"location": "westeurope"}).name
        # The failure is in the activity log with the policy's error code.
        events = arm.get(
            f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
            params={
                "api-version": "2015-04-01",
                "$filter": f"resourceId eq '{warden_server.sub_scope()}/resourceGroups/{prefix}-east'",
            },
        ).json()["value"]
        assert any(e["status"]["value"] == "Failed" for e in events)
    finally:
        _delete_groups(sdk, prefix)


def test_do_not_enforce_audits_instead_of_denying(sdk, policies, prefix) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    policies.assign(
        f"{prefix}-loc", definition, parameters={"allowed": {"value": ["westeurope"]}}, enforcementMode="DoNotEnforce"
    )
    try:
        assert sdk.resource_groups.create_or_update(f"{prefix}-east", {"location": "eastus"}).location == "eastus"
    finally:
        _delete_groups(sdk, prefix)


def test_modify_adds_a_tag(sdk, policies, prefix) -> None:  # type: ignore[no-untyped-def]
    rule = {
        "if": {"allOf": [{"field": "name", "like": f"{prefix}*"}, {"field": "tags['costCenter']", "exists": False}]},
        "then": {
            "effect": "modify",
            "details": {
                "roleDefinitionIds": [
                    "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
                ],
                "operations": [
                    {"operation": "addOrReplace", "field": "tags['costCenter']", "value": "[parameters('cc')]"}
                ],
            },
        },
    }
    definition = policies.definition(f"{prefix}-tag", rule, {"cc": {"type": "String"}})
    policies.assign(f"{prefix}-tag", definition, parameters={"cc": {"value": "CC-42"}})
    try:
        group = sdk.resource_groups.create_or_update(f"{prefix}-a", {"location": "westeurope", "tags": {"x": "1"}})
        assert group.tags == {"x": "1", "costCenter": "CC-42"}
        # PATCH that drops every tag gets the tag back too.
        assert sdk.resource_groups.update(f"{prefix}-a", {"tags": {}}).tags == {"costCenter": "CC-42"}
        # A tag the caller sets is kept.
        group = sdk.resource_groups.create_or_update(
            f"{prefix}-b", {"location": "westeurope", "tags": {"costCenter": "mine"}}
        )
        assert group.tags == {"costCenter": "mine"}
    finally:
        _delete_groups(sdk, prefix)


def test_audit_records_an_activity_event(sdk, policies, prefix, arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    policies.assign(
        f"{prefix}-loc", definition, parameters={"allowed": {"value": ["westeurope"]}, "effect": {"value": "Audit"}}
    )
    try:
        sdk.resource_groups.create_or_update(f"{prefix}-east", {"location": "eastus"})
        group_id = f"{warden_server.sub_scope()}/resourceGroups/{prefix}-east"
        events = arm.get(
            f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
            params={"api-version": "2015-04-01", "$filter": f"resourceId eq '{group_id}'"},
        ).json()["value"]
        audits = [e for e in events if e["operationName"]["value"] == "Microsoft.Authorization/policies/audit/action"]
        assert len(audits) == 1 and audits[0]["level"] == "Warning"
        # A compliant write records no audit event.
        sdk.resource_groups.create_or_update(f"{prefix}-west", {"location": "westeurope"})
        events = arm.get(
            f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
            params={
                "api-version": "2015-04-01",
                "$filter": f"resourceId eq '{warden_server.sub_scope()}/resourceGroups/{prefix}-west'",
            },
        ).json()["value"]
        assert not [e for e in events if "policies/audit" in e["operationName"]["value"]]
    finally:
        _delete_groups(sdk, prefix)


def test_exemption_lifts_a_deny(sdk, policies, prefix, arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    # Deny every identity in groups with the prefix; exempt one group.
    rule = {
        "if": {
            "allOf": [
                {"field": "type", "equals": "Microsoft.ManagedIdentity/userAssignedIdentities"},
                {"field": "id", "like": f"*/resourceGroups/{prefix}*"},
            ]
        },
        "then": {"effect": "deny"},
    }
    definition = policies.definition(f"{prefix}-noid", rule, mode="Indexed")
    assignment = policies.assign(f"{prefix}-noid", definition)
    try:
        for suffix in ("a", "b"):
            sdk.resource_groups.create_or_update(f"{prefix}-{suffix}", {"location": "westeurope"})
        group_a = f"{warden_server.sub_scope()}/resourceGroups/{prefix}-a"
        group_b = f"{warden_server.sub_scope()}/resourceGroups/{prefix}-b"
        identity = "providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
        identity_api = {"api-version": "2023-01-31"}
        refused = arm.put(f"{group_a}/{identity}", params=identity_api, json={"location": "westeurope"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "RequestDisallowedByPolicy"
        assert arm.get(f"{group_a}/{identity}", params=identity_api).status_code == 404
        policies.put(
            f"{group_a}/providers/Microsoft.Authorization/policyExemptions/waive",
            {
                "policyAssignmentId": assignment,
                "exemptionCategory": "Waiver",
                "expiresOn": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            },
        )
        assert arm.put(f"{group_a}/{identity}", params=identity_api, json={"location": "westeurope"}).status_code == 201
        # The other group is not exempt; an expired exemption lifts nothing.
        assert arm.put(f"{group_b}/{identity}", params=identity_api, json={"location": "westeurope"}).status_code == 403
        policies.put(
            f"{group_b}/providers/Microsoft.Authorization/policyExemptions/old",
            {
                "policyAssignmentId": assignment,
                "exemptionCategory": "Mitigated",
                "expiresOn": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            },
        )
        assert arm.put(f"{group_b}/{identity}", params=identity_api, json={"location": "westeurope"}).status_code == 403
    finally:
        _delete_groups(sdk, prefix)


def test_not_scopes_exclude_a_group(sdk, policies, prefix, warden_server) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    excluded = f"{warden_server.sub_scope()}/resourceGroups/{prefix}-free"
    policies.assign(
        f"{prefix}-loc", definition, parameters={"allowed": {"value": ["westeurope"]}}, notScopes=[excluded]
    )
    try:
        assert sdk.resource_groups.create_or_update(f"{prefix}-free", {"location": "eastus"}).location == "eastus"
        with pytest.raises(HttpResponseError) as refused:
            sdk.resource_groups.create_or_update(f"{prefix}-other", {"location": "eastus"})
        assert refused.value.error.code == "RequestDisallowedByPolicy"
    finally:
        _delete_groups(sdk, prefix)


def test_invalid_definition_names_the_json_path(policies, arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    resource_id = (
        f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policyDefinitions/bad-{uuid.uuid4().hex[:6]}"
    )
    rule = {"if": {"allOf": [{"field": "location", "equalz": "x"}]}, "then": {"effect": "deny"}}
    response = arm.put(resource_id, params=API, json={"properties": {"mode": "All", "policyRule": rule}})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidPolicyRule"
    assert "policyRule.if.allOf[0]" in error["target"]
    assert arm.get(resource_id, params=API).status_code == 404


def test_policy_resources_read_and_list(policies, prefix, arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    fetched = arm.get(definition, params=API).json()
    assert (
        fetched["properties"]["policyType"] == "Custom"
        and fetched["type"] == "Microsoft.Authorization/policyDefinitions"
    )
    assignment = policies.assign(f"{prefix}-loc", definition, parameters={"allowed": {"value": ["westeurope"]}})
    got = arm.get(assignment, params=API).json()["properties"]
    assert got["enforcementMode"] == "Default" and got["scope"] == warden_server.sub_scope()
    listed = arm.get(
        f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policyAssignments", params=API
    ).json()["value"]
    assert assignment in [item["id"] for item in listed]
    missing = arm.put(
        f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policyAssignments/{prefix}-none",
        params=API,
        json={"properties": {"policyDefinitionId": f"{definition}-missing"}},
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "PolicyDefinitionNotFound"
    bad = arm.put(
        f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policyAssignments/{prefix}-bad",
        params=API,
        json={"properties": {"policyDefinitionId": definition}},  # 'allowed' has no default
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidPolicyParameters"


def test_summarize_reports_non_compliant_resources(sdk, policies, prefix, arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    assignment = policies.assign(
        f"{prefix}-loc", definition, parameters={"allowed": {"value": ["westeurope"]}, "effect": {"value": "Audit"}}
    )
    try:
        sdk.resource_groups.create_or_update(f"{prefix}-east", {"location": "eastus"})
        sdk.resource_groups.create_or_update(f"{prefix}-west", {"location": "westeurope"})
        insights = f"{warden_server.sub_scope()}/providers/Microsoft.PolicyInsights/policyStates/latest"
        response = arm.post(f"{insights}/summarize", params={"api-version": "2019-10-01"})
        assert response.status_code == 200, response.text
        summary = response.json()["value"][0]
        mine = [a for a in summary["policyAssignments"] if a["policyAssignmentId"] == assignment]
        assert len(mine) == 1
        results = mine[0]["results"]
        assert results["nonCompliantResources"] == 1 and results["nonCompliantPolicies"] == 1
        assert {"complianceState": "compliant", "count": 1} in results["resourceDetails"]
        assert mine[0]["policyDefinitions"][0]["effect"] == "audit"
        states = arm.post(f"{insights}/queryResults", params={"api-version": "2019-10-01"}).json()["value"]
        east = [
            s for s in states if s["resourceId"].endswith(f"{prefix}-east") and s["policyAssignmentId"] == assignment
        ]
        assert east[0]["complianceState"] == "NonCompliant" and east[0]["isCompliant"] is False
        non_compliant = arm.post(
            f"{insights}/queryResults",
            params={
                "api-version": "2019-10-01",
                "$filter": f"complianceState eq 'NonCompliant' and policyAssignmentId eq '{assignment}'",
            },
        ).json()["value"]
        assert [s["resourceId"].rsplit("/", 1)[-1] for s in non_compliant] == [f"{prefix}-east"]
        triggered = arm.post(f"{insights}/triggerEvaluation", params={"api-version": "2019-10-01"})
        assert triggered.status_code == 202 and triggered.headers["Location"]  # a long-running operation
        # Exempting the group makes it Exempt, and the exemption is not listed as one of its resources.
        group = f"{warden_server.sub_scope()}/resourceGroups/{prefix}-east"
        policies.put(
            f"{group}/providers/Microsoft.Authorization/policyExemptions/waive",
            {"policyAssignmentId": assignment, "exemptionCategory": "Waiver"},
        )
        states = arm.post(f"{insights}/queryResults", params={"api-version": "2019-10-01"}).json()["value"]
        east = [
            s for s in states if s["resourceId"].endswith(f"{prefix}-east") and s["policyAssignmentId"] == assignment
        ]
        assert east[0]["complianceState"] == "Exempt"
        assert arm.get(f"{group}/resources", params=RG_API).json()["value"] == []
    finally:
        _delete_groups(sdk, prefix)


def test_initiative_members_enforced_and_exempted_by_reference(sdk, policies, prefix, warden_server) -> None:  # type: ignore[no-untyped-def]
    location = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    tag_rule = {
        "if": {"allOf": [{"field": "name", "like": f"{prefix}*"}, {"field": "tags['owner']", "exists": False}]},
        "then": {
            "effect": "modify",
            "details": {
                "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/x"],
                "operations": [{"operation": "add", "field": "tags['owner']", "value": "platform"}],
            },
        },
    }
    tag = policies.definition(f"{prefix}-tag", tag_rule)
    initiative = policies.put(
        f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policySetDefinitions/{prefix}-set",
        {
            "displayName": "Baseline",
            "parameters": {"regions": {"type": "Array"}},
            "policyDefinitions": [
                {
                    "policyDefinitionId": location,
                    "policyDefinitionReferenceId": "where",
                    "parameters": {"allowed": {"value": "[parameters('regions')]"}},
                },
                {"policyDefinitionId": tag, "policyDefinitionReferenceId": "owner"},
            ],
        },
    )["id"]
    assignment = policies.assign(f"{prefix}-set", initiative, parameters={"regions": {"value": ["westeurope"]}})
    try:
        with pytest.raises(HttpResponseError) as refused:
            sdk.resource_groups.create_or_update(f"{prefix}-east", {"location": "eastus"})
        assert refused.value.error.code == "RequestDisallowedByPolicy"
        assert initiative in refused.value.error.message  # the identifiers name the initiative too
        assert sdk.resource_groups.create_or_update(f"{prefix}-west", {"location": "westeurope"}).tags == {
            "owner": "platform"
        }
        policies.put(
            f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policyExemptions/{prefix}-where",
            {
                "policyAssignmentId": assignment,
                "exemptionCategory": "Mitigated",
                "policyDefinitionReferenceIds": ["where"],
            },
        )
        # The location member is lifted; the tag member still applies.
        group = sdk.resource_groups.create_or_update(f"{prefix}-east", {"location": "eastus"})
        assert group.location == "eastus" and group.tags == {"owner": "platform"}
    finally:
        _delete_groups(sdk, prefix)


def test_definition_in_use_cannot_be_deleted(policies, prefix, arm) -> None:  # type: ignore[no-untyped-def]
    definition = policies.definition(f"{prefix}-loc", _allowed_locations_rule(prefix), LOCATION_PARAMETERS)
    assignment = policies.assign(f"{prefix}-loc", definition, parameters={"allowed": {"value": ["westeurope"]}})
    refused = arm.delete(definition, params=API)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "InvalidDeletePolicyDefinitionRequest"
    assert assignment in refused.json()["error"]["message"]
    assert arm.get(definition, params=API).status_code == 200
    assert arm.delete(assignment, params=API).status_code == 200
    assert arm.delete(definition, params=API).status_code == 200


def test_tags_api_writes_are_governed(sdk, policies, prefix, warden_server) -> None:  # type: ignore[no-untyped-def]
    required = {
        "if": {"allOf": [{"field": "name", "like": f"{prefix}*"}, {"field": "tags['owner']", "exists": False}]},
        "then": {"effect": "deny"},
    }
    policies.assign(f"{prefix}-owner", policies.definition(f"{prefix}-owner", required))
    stamp = {
        "if": {"field": "name", "like": f"{prefix}*"},
        "then": {
            "effect": "modify",
            "details": {
                "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/x"],
                "operations": [{"operation": "addOrReplace", "field": "tags['managed']", "value": "warden"}],
            },
        },
    }
    policies.assign(f"{prefix}-stamp", policies.definition(f"{prefix}-stamp", stamp))
    scope = f"{warden_server.sub_scope()}/resourceGroups/{prefix}-a"
    try:
        sdk.resource_groups.create_or_update(f"{prefix}-a", {"location": "westeurope", "tags": {"owner": "me"}})
        with pytest.raises(HttpResponseError) as refused:
            sdk.tags.begin_update_at_scope(
                scope, {"operation": "Delete", "properties": {"tags": {"owner": ""}}}
            ).result()
        assert refused.value.error.code == "RequestDisallowedByPolicy"
        assert sdk.resource_groups.get(f"{prefix}-a").tags == {"owner": "me", "managed": "warden"}
        result = sdk.tags.begin_create_or_update_at_scope(scope, {"properties": {"tags": {"owner": "you"}}}).result()
        assert result.properties.tags == {"owner": "you", "managed": "warden"}
        result = sdk.tags.begin_update_at_scope(
            scope, {"operation": "Merge", "properties": {"tags": {"x": "1"}}}
        ).result()
        assert result.properties.tags == {"owner": "you", "managed": "warden", "x": "1"}
    finally:
        _delete_groups(sdk, prefix)


def test_readers_may_query_policy_states(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    from support.server import READER

    reader = warden_server.new_principal()
    warden_server.assign(reader, READER, resource_group)
    base = f"{resource_group}/providers/Microsoft.PolicyInsights/policyStates/latest"
    with warden_server.client(reader) as http:
        summary = http.post(f"{base}/summarize", params={"api-version": "2019-10-01"})
        assert summary.status_code == 200, summary.text
        evaluation = http.post(f"{base}/triggerEvaluation", params={"api-version": "2019-10-01"})
        assert evaluation.status_code == 403  # triggering an evaluation is an action, not a read
