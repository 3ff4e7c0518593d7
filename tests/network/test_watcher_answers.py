"""The watcher answers that are pure functions of the engine's Topology (connectivity check, configuration
diagnostic), on hand-built topologies: no server needed."""

from __future__ import annotations

import pytest

from warden.kernel.errors import BadRequest
from warden.network.connectivity import check
from warden.network.diagnostic import diagnose
from warden.network.rules import (
    NetworkInterface,
    NetworkSecurityGroup,
    Peering,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
)

V1, V2, V3 = "/v/one", "/v/two", "/v/three"


def _topology(*, forwarding: bool = True, deny_ssh: bool = True) -> Topology:
    rules = (
        (SecurityRule("DenySSH", 100, "Inbound", "Deny", "Tcp", destination_port_ranges=("22",)),) if deny_ssh else ()
    )
    return Topology().add(
        VirtualNetwork(V1, ("10.1.0.0/16",), (Peering("p", V2),)),
        VirtualNetwork(V2, ("10.2.0.0/16",), (Peering("p", V1),)),
        VirtualNetwork(V3, ("10.2.0.0/16",)),  # same space as V2, not peered: its addresses are unreachable
        Subnet(f"{V1}/subnets/a", V1, ("10.1.1.0/24",), None, "/rt"),
        Subnet(f"{V1}/subnets/fw", V1, ("10.1.9.0/24",)),
        Subnet(f"{V2}/subnets/b", V2, ("10.2.1.0/24",), "/nsg"),
        Subnet(f"{V3}/subnets/c", V3, ("10.2.1.0/24",)),
        NetworkSecurityGroup("/nsg", rules),
        RouteTable(
            "/rt", (Route("fw", "8.8.0.0/16", "VirtualAppliance", "10.1.9.4"), Route("hole", "10.2.7.0/24", "None"))
        ),
        NetworkInterface("/nic/src", f"{V1}/subnets/a", ("10.1.1.4",)),
        NetworkInterface("/nic/fw", f"{V1}/subnets/fw", ("10.1.9.4",), enable_ip_forwarding=forwarding),
        NetworkInterface("/nic/dst", f"{V2}/subnets/b", ("10.2.1.4",)),
        NetworkInterface("/nic/twin", f"{V3}/subnets/c", ("10.2.1.4",)),
    )


def _check(topology: Topology, address: str, port: int = 22) -> dict:
    source = topology.network_interfaces["/nic/src"]
    return check(topology, source, {"destination": {"address": address, "port": port}, "protocol": "Tcp"}, address)


def test_peered_destination_and_its_nsg():
    blocked = _check(_topology(), "10.2.1.4")
    assert blocked["connectionStatus"] == "Unreachable"
    assert blocked["hops"][-1]["resourceId"] == "/nic/dst"  # the peered VNet's NIC, not the twin in V3
    assert blocked["hops"][-1]["issues"][0]["context"] == [{"RuleName": "securityRules/DenySSH"}]
    assert _check(_topology(deny_ssh=False), "10.2.1.4")["connectionStatus"] == "Reachable"
    assert _check(_topology(), "10.2.1.4", port=443)["connectionStatus"] == "Reachable"


def test_appliance_forwarding_and_black_holes():
    through = _check(_topology(), "8.8.8.8", 443)
    assert [h["type"] for h in through["hops"]] == ["Source", "VirtualAppliance", "Internet"]
    assert through["connectionStatus"] == "Unknown"  # beyond the model
    no_forwarding = _check(_topology(forwarding=False), "8.8.8.8", 443)
    assert no_forwarding["connectionStatus"] == "Unreachable"
    assert no_forwarding["hops"][-1]["issues"][0]["type"] == "Platform"
    hole = _check(_topology(), "10.2.7.1")
    assert hole["connectionStatus"] == "Unreachable"
    assert hole["hops"][-1]["issues"][0]["type"] == "UserDefinedRoute"
    assert _check(_topology(), "10.1.200.1")["connectionStatus"] == "Unreachable"  # in the VNet, no NIC there


def test_connectivity_ports_are_checked():
    topology = _topology()
    source = topology.network_interfaces["/nic/src"]
    with pytest.raises(BadRequest):
        check(topology, source, {"destination": {"address": "10.2.1.4", "port": "22"}}, "10.2.1.4")
    with pytest.raises(BadRequest):
        check(topology, source, {"destination": {"address": "10.2.1.4", "port": 22}, "protocol": "Gre"}, "10.2.1.4")


def test_configuration_diagnostic_matches_sets():
    topology = _topology()
    profiles = [
        {
            "direction": "Inbound",
            "protocol": "TCP",
            "source": "*",
            "destination": "10.2.1.0/24",
            "destinationPort": "20-25",
        },
        {
            "direction": "Inbound",
            "protocol": "UDP",
            "source": "10.1.0.0/16",
            "destination": "*",
            "destinationPort": "22",
        },
    ]
    tcp, udp = (r["networkSecurityGroupResult"] for r in diagnose(topology, ["/nic/dst"], profiles)["results"])
    # The port range 20-25 includes 22: DenySSH applies to part of the profile and decides.
    assert tcp["securityRuleAccessResult"] == "Deny"
    (subnet_level,) = tcp["evaluatedNetworkSecurityGroups"]
    assert subnet_level["matchedRule"] == {"ruleName": "securityRules/DenySSH", "action": "Deny"}
    # UDP does not match the TCP rule; the peered VNet is VirtualNetwork: AllowVnetInBound.
    assert udp["securityRuleAccessResult"] == "Allow"
    first = udp["evaluatedNetworkSecurityGroups"][0]["rulesEvaluationResult"][0]
    assert (first["name"], first["protocolMatched"], first["destinationPortMatched"]) == (
        "securityRules/DenySSH",
        False,
        True,
    )
    assert (
        udp["evaluatedNetworkSecurityGroups"][0]["matchedRule"]["ruleName"] == "defaultSecurityRules/AllowVnetInBound"
    )
    with pytest.raises(BadRequest):
        diagnose(topology, ["/nic/dst"], [{"direction": "Inbound", "protocol": "TCP", "source": "x/y"}])
