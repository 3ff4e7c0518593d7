"""Malformed bodies for every network type and operation: always a 4xx in ARM's error shape, never a 500, and
nothing written. Runs on the session's server with raw HTTP (the SDKs would not send most of these)."""

from __future__ import annotations

import uuid

import pytest

API = "2024-05-01"
LOCATION = "francecentral"
WEIRD = ["x", 7, [], [1], {"a": [1]}, None, True]


@pytest.fixture(scope="module")
def scope(warden_server):  # type: ignore[no-untyped-def]
    group = f"{warden_server.sub_scope()}/resourceGroups/rg-bad-{uuid.uuid4().hex[:6]}"
    with warden_server.client() as http:
        assert http.put(group, params={"api-version": "2021-04-01"}, json={"location": LOCATION}).status_code == 201
        vnet = f"{group}/providers/Microsoft.Network/virtualNetworks/v"
        body = {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
                "subnets": [{"name": "s", "properties": {"addressPrefix": "10.8.0.0/24"}}],
            },
        }
        assert http.put(vnet, params={"api-version": API}, json=body).status_code == 201
        nic = f"{group}/providers/Microsoft.Network/networkInterfaces/n"
        config = {"name": "c", "properties": {"subnet": {"id": f"{vnet}/subnets/s"}}}
        made = http.put(
            nic, params={"api-version": API}, json={"location": LOCATION, "properties": {"ipConfigurations": [config]}}
        )
        assert made.status_code == 201, made.text
        watcher = f"{group}/providers/Microsoft.Network/networkWatchers/w"
        assert http.put(watcher, params={"api-version": API}, json={"location": LOCATION}).status_code == 201
    return group


TYPES = {
    "virtualNetworks": ["addressSpace", "subnets", "virtualNetworkPeerings", "flowTimeoutInMinutes"],
    "networkSecurityGroups": ["securityRules"],
    "routeTables": ["routes", "disableBgpRoutePropagation"],
    "networkInterfaces": ["ipConfigurations", "networkSecurityGroup"],
    "publicIPAddresses": ["publicIPAllocationMethod", "idleTimeoutInMinutes", "dnsSettings", "publicIPAddressVersion"],
    "virtualNetworkGateways": ["ipConfigurations", "bgpSettings", "gatewayType"],
    "localNetworkGateways": ["localNetworkAddressSpace", "gatewayIpAddress", "bgpSettings"],
    "connections": ["connectionType", "virtualNetworkGateway1", "ipsecPolicies", "sharedKey"],
}


def _check(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, (response.request.url, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


def test_malformed_properties_never_fail_the_server(warden_server, scope) -> None:  # type: ignore[no-untyped-def]
    with warden_server.client() as http:
        for arm_type, fields in TYPES.items():
            resource = f"{scope}/providers/Microsoft.Network/{arm_type}/bad"
            for field in fields:
                for value in WEIRD:
                    response = http.put(
                        resource, params={"api-version": API}, json={"location": LOCATION, "properties": {field: value}}
                    )
                    _check(response)
                    if response.status_code < 300:
                        http.delete(resource, params={"api-version": API})
            for body in (
                [],
                "text",
                {"properties": []},
                {"location": LOCATION, "properties": {"subnets": [{"name": "x"}]}},
            ):
                response = http.put(resource, params={"api-version": API}, json=body)
                _check(response)
                if response.status_code < 300:  # e.g. an NSG ignores the read-only "subnets"
                    http.delete(resource, params={"api-version": API})
            assert http.get(resource, params={"api-version": API}).status_code == 404  # nothing left behind
        rule = f"{scope}/providers/Microsoft.Network/networkSecurityGroups/nsg"
        assert http.put(rule, params={"api-version": API}, json={"location": LOCATION}).status_code == 201
        for field in (
            "priority",
            "protocol",
            "sourceAddressPrefixes",
            "destinationPortRanges",
            "sourceApplicationSecurityGroups",
        ):
            for value in WEIRD:
                body = {
                    "properties": {
                        "priority": 100,
                        "direction": "Inbound",
                        "access": "Allow",
                        "protocol": "*",
                        "sourceAddressPrefix": "*",
                        "sourcePortRange": "*",
                        "destinationAddressPrefix": "*",
                        "destinationPortRange": "*",
                        field: value,
                    }
                }
                response = http.put(f"{rule}/securityRules/r", params={"api-version": API}, json=body)
                _check(response)
                if response.status_code < 300:
                    http.delete(f"{rule}/securityRules/r", params={"api-version": API})


@pytest.mark.parametrize(
    "action",
    [
        "ipFlowVerify",
        "nextHop",
        "securityGroupView",
        "topology",
        "troubleshoot",
        "connectivityCheck",
        "networkConfigurationDiagnostic",
    ],
)
def test_malformed_watcher_requests(warden_server, scope, action) -> None:  # type: ignore[no-untyped-def]
    nic = f"{scope}/providers/Microsoft.Network/networkInterfaces/n"
    url = f"{scope}/providers/Microsoft.Network/networkWatchers/w/{action}"
    bodies = [
        None,
        [],
        "x",
        {},
        {"targetResourceId": 5},
        {"targetResourceId": "/not/an/id"},
        {"targetResourceId": nic, "direction": "Sideways"},
        {
            "targetResourceId": nic,
            "direction": "Inbound",
            "protocol": "TCP",
            "localPort": "x",
            "remotePort": "1",
            "localIPAddress": "10.8.0.4",
            "remoteIPAddress": "1.1.1.1",
        },
        {"targetResourceId": nic, "sourceIPAddress": "10.8.0.99", "destinationIPAddress": "1.1.1.1"},
        {"source": "x", "destination": 5},
        {"source": {"resourceId": nic, "port": "x"}, "destination": {"address": "1.1.1.1", "port": 80}},
        {"targetResourceId": nic, "profiles": [{"direction": "Inbound"}]},
        {"targetResourceGroupName": 5},
    ]
    with warden_server.client() as http:
        for body in bodies:
            _check(http.post(url, params={"api-version": API}, json=body))
