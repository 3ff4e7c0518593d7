"""Golden scenarios: each case states the Azure documentation sentence it encodes.

Files: ``scenarios/*.json`` (YAML is not available in the environment; the shape is the same). Each has a
``topology`` (virtualNetworks with peerings and gateway, subnets, networkInterfaces, networkSecurityGroups in
ARM shape, routeTables) and cases: ``flows`` (IP flow verify parameters, expected access, ``ruleName`` and
optionally the effective-rules name), ``nextHops`` (expected nextHopType, nextHopIpAddress, routeTableId) and
``effectiveRoutes`` (rows that must be present / absent). Every case has ``doc``: ``url``, ``quote`` and
``checked`` -- true where the quote was compared with a copy of the page while writing it, false where it
was written from memory of the page and still needs a word-for-word check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warden.network.rules import (
    Evaluator,
    NetworkInterface,
    NetworkSecurityGroup,
    Peering,
    Route,
    RouteTable,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
)

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))


def load_topology(spec: dict) -> Topology:
    topology = Topology()
    for v in spec.get("virtualNetworks", []):
        gateway = v.get("gateway")
        topology.add(
            VirtualNetwork(
                v["id"],
                tuple(v["addressSpace"]),
                tuple(
                    Peering(
                        p["name"],
                        p["remoteVirtualNetwork"],
                        p.get("peeringState", "Connected"),
                        p.get("useRemoteGateways", False),
                        p.get("global", False),
                    )
                    for p in v.get("peerings", [])
                ),
                VirtualNetworkGateway(gateway["id"], gateway["ipAddress"], tuple(gateway.get("prefixes", [])))
                if gateway
                else None,
            )
        )
    for s in spec.get("subnets", []):
        topology.add(
            Subnet(
                s["id"],
                s["virtualNetwork"],
                tuple(s["addressPrefixes"]),
                s.get("networkSecurityGroup"),
                s.get("routeTable"),
            )
        )
    for n in spec.get("networkInterfaces", []):
        topology.add(
            NetworkInterface(
                n["id"],
                n["subnet"],
                tuple(n["ipAddresses"]),
                n.get("networkSecurityGroup"),
                tuple(n.get("applicationSecurityGroups", [])),
            )
        )
    for g in spec.get("networkSecurityGroups", []):
        topology.add(NetworkSecurityGroup.from_azure(g))
    for t in spec.get("routeTables", []):
        routes = tuple(
            Route(r["name"], r["addressPrefix"], r["nextHopType"], r.get("nextHopIpAddress"))
            for r in t.get("routes", [])
        )
        topology.add(RouteTable(t["id"], routes, t.get("disableBgpRoutePropagation", False)))
    return topology


def _cases() -> list:
    out = []
    for path in SCENARIOS:
        scenario = json.loads(path.read_text())
        for kind in ("flows", "nextHops", "effectiveRoutes"):
            for i, case in enumerate(scenario.get(kind, [])):
                out.append(pytest.param(scenario, kind, case, id=f"{path.stem}:{kind}[{i}]"))
    return out


CASES = _cases()


def test_every_case_cites_the_docs():
    assert CASES
    for param in CASES:
        case = param.values[2]
        assert case["doc"]["url"].startswith("https://learn.microsoft.com/"), case
        assert len(case["doc"]["quote"]) > 20, case


@pytest.mark.parametrize(("scenario", "kind", "case"), CASES)
def test_scenario(scenario, kind, case):
    evaluator = Evaluator(load_topology(scenario["topology"]))
    expect = case["expect"]
    if kind == "flows":
        verdict = evaluator.verify_ip_flow(
            case["nic"],
            case["direction"],
            case["protocol"],
            case["localIp"],
            case.get("localPort"),
            case["remoteIp"],
            case.get("remotePort"),
        )
        assert verdict.access == expect["access"]
        assert verdict.rule_name == expect.get("ruleName")
        if "effectiveRuleName" in expect:
            assert verdict.deciding.effective_rule_name == expect["effectiveRuleName"]
    elif kind == "nextHops":
        subnet = case.get("subnet") or evaluator.topology.network_interfaces[case["nic"].lower()].subnet_id
        hop = evaluator.next_hop(subnet, case["destinationIp"])
        assert hop.to_azure() == {
            "nextHopType": expect["nextHopType"],
            "nextHopIpAddress": expect.get("nextHopIpAddress"),
            "routeTableId": expect["routeTableId"],
        }
    else:
        table = [
            (r.address_prefix, r.source, r.state, r.next_hop_type, r.next_hop_ip_address)
            for r in evaluator.effective_routes(case["subnet"])
        ]
        for item in expect.get("contains", []):
            keys = ("addressPrefix", "source", "state", "nextHopType")
            row = (*(item[k] for k in keys), item.get("nextHopIpAddress"))
            assert row in table
        for item in expect.get("absent", []):
            assert all((r[0], r[3]) != (item["addressPrefix"], item["nextHopType"]) for r in table), table
