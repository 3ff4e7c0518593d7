"""Malformed bodies for every network type and operation: always a 4xx in ARM's error shape, never a 500, and
nothing written. Runs on the session's server with raw HTTP (the SDKs would not send most of these)."""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

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


FUZZ_VALUES = ["x", 7, -1, 1.5, [], [1], {"a": [1]}, None, True, "", "10.0.0.0/33", {"id": 5}, [{"id": "x"}]]


def _leaves(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, dict):
        for k, value in node.items():
            yield from _leaves(value, (*path, k))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    yield path


def _mutate(body: dict, rng: random.Random) -> dict:
    """``body`` with one value (at any depth) replaced by a value of the wrong shape."""
    body = copy.deepcopy(body)
    path = rng.choice([p for p in _leaves(body) if p])
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = rng.choice(FUZZ_VALUES)
    return body


def test_valid_documents_with_one_wrong_value(warden_server) -> None:  # type: ignore[no-untyped-def]
    """A full, valid topology; then, with a fixed seed, one value anywhere in one document replaced by a value of
    the wrong shape. Every answer is < 500; an accepted change can be undone; the watcher still answers."""
    rng = random.Random(5)
    g = f"{warden_server.sub_scope()}/resourceGroups/rg-fz-{uuid.uuid4().hex[:6]}"
    n = f"{g}/providers/Microsoft.Network"
    loc = "uksouth"
    with warden_server.client() as http:
        assert http.put(g, params={"api-version": "2021-04-01"}, json={"location": loc}).status_code == 201
        base = [
            (f"{n}/applicationSecurityGroups/asg", {"location": loc}),
            (
                f"{n}/networkSecurityGroups/nsg",
                {
                    "location": loc,
                    "properties": {
                        "securityRules": [
                            {
                                "name": "r",
                                "properties": {
                                    "priority": 100,
                                    "direction": "Inbound",
                                    "access": "Allow",
                                    "protocol": "Tcp",
                                    "sourceAddressPrefixes": ["10.0.0.0/8", "1.2.3.4"],
                                    "sourcePortRange": "*",
                                    "destinationApplicationSecurityGroups": [
                                        {"id": f"{n}/applicationSecurityGroups/asg"}
                                    ],
                                    "destinationPortRanges": ["22", "80-90"],
                                },
                            }
                        ]
                    },
                },
            ),
            (
                f"{n}/routeTables/rt",
                {
                    "location": loc,
                    "properties": {
                        "disableBgpRoutePropagation": True,
                        "routes": [
                            {
                                "name": "a",
                                "properties": {
                                    "addressPrefix": "0.0.0.0/0",
                                    "nextHopType": "VirtualAppliance",
                                    "nextHopIpAddress": "10.9.1.4",
                                },
                            }
                        ],
                    },
                },
            ),
            (
                f"{n}/virtualNetworks/peer",
                {"location": loc, "properties": {"addressSpace": {"addressPrefixes": ["10.10.0.0/16"]}}},
            ),
            (
                f"{n}/virtualNetworks/v",
                {
                    "location": loc,
                    "properties": {
                        "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
                        "flowTimeoutInMinutes": 10,
                        "subnets": [
                            {
                                "name": "s",
                                "properties": {
                                    "addressPrefix": "10.9.1.0/24",
                                    "networkSecurityGroup": {"id": f"{n}/networkSecurityGroups/nsg"},
                                    "routeTable": {"id": f"{n}/routeTables/rt"},
                                    "serviceEndpoints": [{"service": "Microsoft.Storage"}],
                                },
                            },
                            {"name": "GatewaySubnet", "properties": {"addressPrefixes": ["10.9.255.0/27"]}},
                        ],
                        "virtualNetworkPeerings": [
                            {
                                "name": "p",
                                "properties": {
                                    "remoteVirtualNetwork": {"id": f"{n}/virtualNetworks/peer"},
                                    "useRemoteGateways": False,
                                },
                            }
                        ],
                    },
                },
            ),
            (
                f"{n}/publicIPAddresses/ip",
                {
                    "location": loc,
                    "sku": {"name": "Standard"},
                    "properties": {"publicIPAllocationMethod": "Static", "dnsSettings": {"domainNameLabel": "abc"}},
                },
            ),
            (
                f"{n}/networkInterfaces/nic",
                {
                    "location": loc,
                    "properties": {
                        "enableIPForwarding": True,
                        "networkSecurityGroup": {"id": f"{n}/networkSecurityGroups/nsg"},
                        "ipConfigurations": [
                            {
                                "name": "c",
                                "properties": {
                                    "subnet": {"id": f"{n}/virtualNetworks/v/subnets/s"},
                                    "privateIPAllocationMethod": "Static",
                                    "privateIPAddress": "10.9.1.10",
                                    "publicIPAddress": {"id": f"{n}/publicIPAddresses/ip"},
                                    "applicationSecurityGroups": [{"id": f"{n}/applicationSecurityGroups/asg"}],
                                },
                            }
                        ],
                    },
                },
            ),
            (
                f"{n}/virtualNetworkGateways/gw",
                {
                    "location": loc,
                    "properties": {
                        "gatewayType": "Vpn",
                        "vpnType": "RouteBased",
                        "enableBgp": True,
                        "bgpSettings": {"asn": 65001},
                        "ipConfigurations": [
                            {
                                "name": "d",
                                "properties": {"subnet": {"id": f"{n}/virtualNetworks/v/subnets/GatewaySubnet"}},
                            }
                        ],
                    },
                },
            ),
            (
                f"{n}/localNetworkGateways/lng",
                {
                    "location": loc,
                    "properties": {
                        "gatewayIpAddress": "192.0.2.1",
                        "localNetworkAddressSpace": {"addressPrefixes": ["10.200.0.0/16"]},
                        "bgpSettings": {"asn": 65002, "bgpPeeringAddress": "10.200.0.1"},
                    },
                },
            ),
            (
                f"{n}/connections/cn",
                {
                    "location": loc,
                    "properties": {
                        "connectionType": "IPsec",
                        "virtualNetworkGateway1": {"id": f"{n}/virtualNetworkGateways/gw"},
                        "localNetworkGateway2": {"id": f"{n}/localNetworkGateways/lng"},
                        "sharedKey": "abc",
                        "enableBgp": True,
                        "ipsecPolicies": [
                            {
                                "saLifeTimeSeconds": 3600,
                                "saDataSizeKilobytes": 0,
                                "ipsecEncryption": "AES256",
                                "ipsecIntegrity": "SHA256",
                                "ikeEncryption": "AES256",
                                "ikeIntegrity": "SHA256",
                                "dhGroup": "DHGroup14",
                                "pfsGroup": "PFS2048",
                            }
                        ],
                    },
                },
            ),
            (f"{n}/networkWatchers/w", {"location": loc}),
            (
                f"{g}/providers/Microsoft.Compute/virtualMachines/vm",
                {
                    "location": loc,
                    "properties": {
                        "osProfile": {"adminPassword": "x"},
                        "networkProfile": {
                            "networkInterfaces": [{"id": f"{n}/networkInterfaces/nic", "properties": {"primary": True}}]
                        },
                    },
                },
            ),
        ]
        for url, body in base:
            response = http.put(url, params={"api-version": API}, json=body)
            assert response.status_code in (200, 201), (url, response.text)
        for _ in range(250):
            url, body = rng.choice(base)
            mutated = _mutate(body, rng)
            response = http.put(url, params={"api-version": API}, json=mutated)
            _check(response)
            if response.status_code < 300:
                restored = http.put(url, params={"api-version": API}, json=body)
                assert restored.status_code == 200, (url, json.dumps(mutated), restored.text)
        flow = {
            "targetResourceId": f"{n}/networkInterfaces/nic",
            "direction": "Inbound",
            "protocol": "TCP",
            "localPort": "22",
            "remotePort": "5",
            "localIPAddress": "10.9.1.10",
            "remoteIPAddress": "10.10.0.4",
        }
        answer = http.post(f"{n}/networkWatchers/w/ipFlowVerify", params={"api-version": API}, json=flow)
        assert answer.status_code == 200, answer.text
