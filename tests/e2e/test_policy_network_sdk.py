"""Azure Policy on Microsoft.Network writes made with the real azure-mgmt-network client: a deny
assignment refuses an NSG rule that opens SSH to the Internet (RequestDisallowedByPolicy, nothing
written), a modify assignment tags what it lets through, and compliance shows the audit."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import NetworkSecurityGroup, SecurityRule

from support.server import ARM_SCOPE, WardenServer

POLICY_API = {"api-version": "2023-04-01"}

# Azure's published rule logic for "management ports should not be reachable from the Internet",
# reduced to SSH on rules written as child resources; scoped to this test's resource group.
SSH_FROM_INTERNET = {
    "if": {
        "allOf": [
            {"field": "type", "equals": "Microsoft.Network/networkSecurityGroups/securityRules"},
            {"field": "Microsoft.Network/networkSecurityGroups/securityRules/access", "equals": "Allow"},
            {"field": "Microsoft.Network/networkSecurityGroups/securityRules/direction", "equals": "Inbound"},
            {"field": "Microsoft.Network/networkSecurityGroups/securityRules/destinationPortRange", "in": ["22", "*"]},
            {
                "field": "Microsoft.Network/networkSecurityGroups/securityRules/sourceAddressPrefix",
                "in": ["*", "Internet", "0.0.0.0/0"],
            },
        ]
    },
    "then": {"effect": "deny"},
}
TAG_NSGS = {
    "if": {"field": "type", "equals": "Microsoft.Network/networkSecurityGroups"},
    "then": {
        "effect": "modify",
        "details": {
            "roleDefinitionIds": [
                "/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"
            ],
            "operations": [{"operation": "addOrReplace", "field": "tags['reviewed-by']", "value": "policy"}],
        },
    },
}


@pytest.fixture
def scoped(warden_server: WardenServer):  # type: ignore[no-untyped-def]
    """A fresh resource group with the two assignments on it; everything removed afterwards."""
    name = f"rg-polnet-{uuid.uuid4().hex[:6]}"
    group = f"{warden_server.sub_scope()}/resourceGroups/{name}"
    created = []
    with warden_server.client() as arm:
        assert arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
        for key, rule in (("ssh", SSH_FROM_INTERNET), ("tag", TAG_NSGS)):
            definition = f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/policyDefinitions/{name}-{key}"
            response = arm.put(definition, params=POLICY_API, json={"properties": {"mode": "All", "policyRule": rule}})
            assert response.status_code == 201, response.text
            assignment = f"{group}/providers/Microsoft.Authorization/policyAssignments/{key}"
            response = arm.put(
                assignment,
                params=POLICY_API,
                json={
                    "location": "westeurope",
                    "identity": {"type": "SystemAssigned"},
                    "properties": {"policyDefinitionId": definition},
                },
            )
            assert response.status_code == 201, response.text
            created += [assignment, definition]
        yield name
        for resource_id in created:
            arm.delete(resource_id, params=POLICY_API)


def test_network_sdk_writes_meet_policy(warden_server: WardenServer, scoped: str) -> None:
    client = NetworkManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
    )
    nsg = client.network_security_groups.begin_create_or_update(
        scoped, "web-nsg", NetworkSecurityGroup(location="westeurope")
    ).result()
    assert nsg.tags == {"reviewed-by": "policy"}  # modify added the tag on the way in
    open_ssh = SecurityRule(
        protocol="Tcp",
        access="Allow",
        direction="Inbound",
        priority=100,
        source_address_prefix="Internet",
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range="22",
    )
    with pytest.raises(HttpResponseError) as raised:
        client.security_rules.begin_create_or_update(scoped, "web-nsg", "ssh-in", open_ssh).result()
    assert raised.value.error.code == "RequestDisallowedByPolicy"
    assert "/policyAssignments/ssh" in str(raised.value.message)  # the message names the assignment
    assert [rule.name for rule in client.security_rules.list(scoped, "web-nsg")] == []  # nothing was written
    https = SecurityRule(
        protocol="Tcp",
        access="Allow",
        direction="Inbound",
        priority=110,
        source_address_prefix="Internet",
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range="443",
    )
    created = client.security_rules.begin_create_or_update(scoped, "web-nsg", "https-in", https).result()
    assert created.destination_port_range == "443"
    assert [rule.name for rule in client.security_rules.list(scoped, "web-nsg")] == ["https-in"]
