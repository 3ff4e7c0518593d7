"""The engine's golden NSG scenarios (tests/network/scenarios), built through the REST API with
azure-mgmt-network and asked through Network Watcher: the stored model and its translation
(``network.model_builder``) must give the verdicts the scenarios document. Scenarios whose topology needs
what REST builds differently (abstract gateway prefixes, peering states) are covered by the engine tests only.
Runs on the session's server."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from azure.mgmt.network import NetworkManagementClient

from support.server import ARM_SCOPE

SCENARIOS = Path(__file__).parent.parent / "network" / "scenarios"
LOCATION = "swedencentral"


def _buildable(path: Path) -> bool:
    topology = json.loads(path.read_text())["topology"]
    return not topology.get("routeTables") and not any(
        v.get("gateway") or v.get("peerings") for v in topology.get("virtualNetworks", [])
    )


SCENARIO_FILES = [p for p in sorted(SCENARIOS.glob("*.json")) if _buildable(p)]


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def network(warden_server):  # type: ignore[no-untyped-def]
    return NetworkManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )


def _build(warden_server, network, path: Path) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    group = f"rg-scn-{uuid.uuid4().hex[:6]}"
    scope = f"{warden_server.sub_scope()}/resourceGroups/{group}"
    text = re.sub(r"/subscriptions/[0-9a-f-]+/resourceGroups/rg\b", scope, path.read_text())
    scenario = json.loads(text)
    topology = scenario["topology"]
    with warden_server.client() as http:
        assert http.put(scope, params={"api-version": "2021-04-01"}, json={"location": LOCATION}).status_code == 201
    asgs = set(re.findall(r'"(/subscriptions/[^"]+/applicationSecurityGroups/[^"/]+)"', text))
    for asg in sorted(asgs):
        network.application_security_groups.begin_create_or_update(group, _name(asg), {"location": LOCATION}).result()
    for nsg in topology.get("networkSecurityGroups", []):
        network.network_security_groups.begin_create_or_update(
            group, _name(nsg["id"]), {"location": LOCATION, "properties": nsg["properties"]}
        ).result()
    for vnet in topology["virtualNetworks"]:
        subnets = []
        for subnet in (s for s in topology["subnets"] if s["virtualNetwork"] == vnet["id"]):
            props: dict = {"addressPrefixes": subnet["addressPrefixes"]}
            if subnet.get("networkSecurityGroup"):
                props["networkSecurityGroup"] = {"id": subnet["networkSecurityGroup"]}
            subnets.append({"name": _name(subnet["id"]), "properties": props})
        network.virtual_networks.begin_create_or_update(
            group,
            _name(vnet["id"]),
            {
                "location": LOCATION,
                "properties": {"addressSpace": {"addressPrefixes": vnet["addressSpace"]}, "subnets": subnets},
            },
        ).result()
    for nic in topology.get("networkInterfaces", []):
        configs = [
            {
                "name": f"ip{index}",
                "properties": {
                    "subnet": {"id": nic["subnet"]},
                    "privateIPAllocationMethod": "Static",
                    "privateIPAddress": address,
                    "primary": index == 0,
                    "applicationSecurityGroups": [{"id": a} for a in nic.get("applicationSecurityGroups", [])],
                },
            }
            for index, address in enumerate(nic["ipAddresses"])
        ]
        props = {"ipConfigurations": configs}
        if nic.get("networkSecurityGroup"):
            props["networkSecurityGroup"] = {"id": nic["networkSecurityGroup"]}
        network.network_interfaces.begin_create_or_update(
            group, _name(nic["id"]), {"location": LOCATION, "properties": props}
        ).result()
    network.network_watchers.create_or_update(group, "watcher", {"location": LOCATION})
    return group, scenario


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_flows_through_rest(warden_server, network, path: Path) -> None:  # type: ignore[no-untyped-def]
    group, scenario = _build(warden_server, network, path)
    try:
        assert scenario["flows"]
        for case in scenario["flows"]:
            result = network.network_watchers.begin_verify_ip_flow(
                group,
                "watcher",
                {
                    "targetResourceId": case["nic"],
                    "direction": case["direction"],
                    "protocol": case["protocol"],
                    "localPort": str(case["localPort"]),
                    "remotePort": str(case["remotePort"]),
                    "localIPAddress": case["localIp"],
                    "remoteIPAddress": case["remoteIp"],
                },
            ).result()
            expected = case["expect"]
            assert (result.access, result.rule_name) == (expected["access"], expected.get("ruleName")), case["doc"]
    finally:
        # Each scenario uses one watcher per region; the next scenario needs the slot.
        network.network_watchers.begin_delete(group, "watcher").result()
