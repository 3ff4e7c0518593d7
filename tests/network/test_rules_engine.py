"""Focused tests of the pure network rule engine."""

from __future__ import annotations

import ast
import importlib.util
import random
import sys
from pathlib import Path

import pytest

from warden.network.rules import (
    DEFAULT_SECURITY_RULES,
    AddressContext,
    EffectiveRoute,
    Evaluator,
    Flow,
    IntervalSet,
    NetworkInterface,
    NetworkSecurityGroup,
    SecurityRule,
    Subnet,
    Topology,
    UnknownServiceTag,
    VirtualNetwork,
    build_effective_routes,
    compile_nsg,
    effective_rule_name,
    ip_flow_verify_name,
    prefixes,
    to_cidrs,
)
from warden.network.rules.addresses import port_interval, prefix_interval
from warden.network.rules.nsg import expanded_prefixes
from warden.network.rules.routes import RouteLookup
from warden.network.rules.tags import PUBLIC

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "src" / "warden" / "network" / "rules"


def test_the_package_is_pure():
    for path in [*RULES_DIR.glob("*.py"), RULES_DIR.parent / "__init__.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in sys.stdlib_module_names | {"__future__"}, (path.name, name)


# ---- sets ---------------------------------------------------------------------------------------------------------


def test_interval_set_operations():
    a = IntervalSet([(0, 10), (20, 30), (11, 12)])
    assert a.intervals == ((0, 12), (20, 30))
    assert (a - IntervalSet([(5, 25)])).intervals == ((0, 4), (26, 30))
    assert (a & IntervalSet([(10, 21)])).intervals == ((10, 12), (20, 21))
    assert 25 in a and 15 not in a
    assert a.covers(IntervalSet([(1, 2)])) and not a.covers(IntervalSet([(12, 13)]))


def test_prefix_and_port_parsing():
    assert prefix_interval("10.0.0.0/8") == (0x0A000000, 0x0AFFFFFF)
    assert prefix_interval("10.1.2.3") == (0x0A010203, 0x0A010203)
    assert prefix_interval("10.1.2.3/24")[0] == 0x0A010200  # host bits ignored, as Azure normalizes
    assert port_interval("*") == (-1, 65535)
    assert port_interval("1000-2000") == (1000, 2000)
    for bad in ("70000", "2000-1000", "http", "1-2-3"):
        with pytest.raises(ValueError):
            port_interval(bad)
    with pytest.raises(ValueError):
        prefix_interval("10.0.0.300/8")
    assert to_cidrs(prefixes(["10.0.0.0/25", "10.0.0.128/25", "2001:db8::/127"])) == ["10.0.0.0/24", "2001:db8::/127"]


# ---- rules --------------------------------------------------------------------------------------------------------


def test_default_rules_are_azures_six():
    got = [(r.name, r.priority, r.direction, r.access) for r in DEFAULT_SECURITY_RULES]
    assert got == [
        ("AllowVnetInBound", 65000, "Inbound", "Allow"),
        ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow"),
        ("DenyAllInBound", 65500, "Inbound", "Deny"),
        ("AllowVnetOutBound", 65000, "Outbound", "Allow"),
        ("AllowInternetOutBound", 65001, "Outbound", "Allow"),
        ("DenyAllOutBound", 65500, "Outbound", "Deny"),
    ]
    assert all(r.protocol == "*" and r.default for r in DEFAULT_SECURITY_RULES)


def test_from_azure_merges_singular_and_plural_fields():
    rule = SecurityRule.from_azure(
        {
            "name": "web",
            "properties": {
                "priority": 100,
                "direction": "inbound",
                "access": "ALLOW",
                "protocol": "TCP",
                "sourceAddressPrefix": "",
                "sourceAddressPrefixes": ["1.2.3.0/24", "5.6.7.8"],
                "sourcePortRange": "*",
                "destinationPortRanges": ["80", "443", "8000-8100"],
                "destinationApplicationSecurityGroups": [{"id": "/asg/web"}],
            },
        }
    )
    assert rule.protocol == "Tcp" and rule.direction == "Inbound" and rule.access == "Allow"
    assert rule.source_address_prefixes == ("1.2.3.0/24", "5.6.7.8")
    assert rule.destination_address_prefixes == ()
    assert rule.destination_asgs == ("/asg/web",)
    assert rule.destination_port_ranges == ("80", "443", "8000-8100")
    for protocol, canonical in (("esp", "Esp"), ("Ah", "Ah"), ("ICMP", "Icmp"), ("*", "*"), ("Any", "*")):
        assert SecurityRule("r", 100, "Outbound", "Deny", protocol).protocol == canonical
    with pytest.raises(ValueError):
        SecurityRule("r", 100, "Outbound", "Deny", "gre")


def test_names_per_surface():
    user = SecurityRule("AllowSSH", 100, "Inbound", "Allow")
    assert ip_flow_verify_name(user) == "securityRules/AllowSSH"
    assert effective_rule_name(user) == "UserRule_AllowSSH"
    assert ip_flow_verify_name(DEFAULT_SECURITY_RULES[2]) == "defaultSecurityRules/DenyAllInBound"
    assert effective_rule_name(DEFAULT_SECURITY_RULES[2]) == "DefaultRule_DenyAllInBound"


def _match(nsg, direction, flow, ctx=None):
    return compile_nsg(nsg, direction, ctx or AddressContext(prefixes(["10.0.0.0/16"]))).match(flow)


def test_port_less_protocols_only_match_any_port():
    nsg = NetworkSecurityGroup(
        "/nsg",
        (
            SecurityRule("Deny80", 100, "Inbound", "Deny", "*", ("*",), ("*",), ("*",), ("80",)),
            SecurityRule("AllowEsp", 110, "Inbound", "Allow", "Esp"),
        ),
    )
    assert _match(nsg, "Inbound", Flow("Icmp", "1.1.1.1", None, "10.0.0.4", None)).name == "DenyAllInBound"
    assert _match(nsg, "Inbound", Flow("Esp", "1.1.1.1", None, "10.0.0.4", None)).name == "AllowEsp"
    assert _match(nsg, "Inbound", Flow("Udp", "1.1.1.1", 5, "10.0.0.4", 80)).name == "Deny80"


def test_tags_and_service_tag_extensions():
    ctx = AddressContext(prefixes(["10.0.0.0/16"]), service_tags={"storage": prefixes(["20.60.0.0/16"])})
    internet = ctx.tag("Internet")
    assert prefix_interval("10.0.0.1")[0] not in internet
    assert prefix_interval("192.168.1.1")[0] not in internet  # private, outside the VNet: neither tag
    assert prefix_interval("52.1.2.3")[0] in internet
    assert ctx.tag("AZURE_LOADBALANCER") == prefixes(["168.63.129.16/32"])
    assert ctx.tag("Storage") == prefixes(["20.60.0.0/16"])
    with pytest.raises(UnknownServiceTag):
        ctx.tag("Sql.WestEurope")
    rule = SecurityRule("x", 100, "Inbound", "Allow", "*", ("VirtualNetwork",), ("*",), ("AzureLoadBalancer",))
    assert expanded_prefixes(rule, ctx) == {
        "expandedSourceAddressPrefix": ["10.0.0.0/16"],
        "expandedDestinationAddressPrefix": ["168.63.129.16/32"],
    }
    assert PUBLIC.covers(internet)


def test_ipv6_rules():
    nsg = NetworkSecurityGroup("/nsg", (SecurityRule("v6", 100, "Inbound", "Allow", "Tcp", ("2001:db8:1::/48",)),))
    assert _match(nsg, "Inbound", Flow("Tcp", "2001:db8:1::5", 1, "10.0.0.4", 2)).name == "v6"
    assert _match(nsg, "Inbound", Flow("Tcp", "2001:db8:2::5", 1, "10.0.0.4", 2)).name == "DenyAllInBound"


def test_no_nsg_anywhere_allows_without_a_rule():
    topology = Topology().add(
        VirtualNetwork("/v", ("10.0.0.0/16",)),
        Subnet("/v/s", "/v", ("10.0.0.0/24",)),
        NetworkInterface("/n", "/v/s", ("10.0.0.4",)),
    )
    verdict = Evaluator(topology).verify_ip_flow("/n", "Inbound", "Tcp", "10.0.0.4", 22, "52.1.1.1", 999)
    assert verdict.to_azure() == {"access": "Allow"}
    assert [lv.level for lv in verdict.levels] == ["subnet", "nic"]


def _bench():
    spec = importlib.util.spec_from_file_location("nsg_verdicts_bench", ROOT / "bench" / "nsg_verdicts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compiled_engine_agrees_with_the_naive_scan():
    bench = _bench()
    rng = random.Random(11)
    subnet, nic, ctx = bench.random_nsg(rng, "s", 200), bench.random_nsg(rng, "n", 200), bench.context(rng)
    flows = bench.random_flows(rng, 3000)
    engine = bench.run_chain(bench.build("engine", subnet, nic, ctx), flows)
    naive = bench.run_chain(bench.build("naive", subnet, nic, ctx), flows)
    assert engine == naive
    assert {access for access, _ in engine} == {"Allow", "Deny"}


# ---- routes -------------------------------------------------------------------------------------------------------


def _user(prefix, hop, ip=None):
    return EffectiveRoute("User", "Active", prefix, hop, ip, "r", "/rt")


def test_default_route_overrides():
    routes = build_effective_routes(
        vnet_prefixes=["10.0.0.0/16"], gateway_routes=[("0.0.0.0/0", "10.0.255.4")], user_routes=[]
    )
    states = {(r.address_prefix, r.source): r.state for r in routes}
    assert states[("0.0.0.0/0", "Default")] == "Invalid"
    assert states[("0.0.0.0/0", "VirtualNetworkGateway")] == "Active"
    routes = build_effective_routes(
        vnet_prefixes=["10.0.0.0/16"],
        gateway_routes=[("0.0.0.0/0", "10.0.255.4")],
        user_routes=[_user("0.0.0.0/0", "VirtualAppliance", "10.0.0.4")],
    )
    states = {(r.address_prefix, r.source): r.state for r in routes}
    assert states[("0.0.0.0/0", "VirtualNetworkGateway")] == "Invalid"
    assert states[("0.0.0.0/0", "User")] == "Active"
    lookup = RouteLookup(routes)
    assert lookup.lookup(prefix_interval("8.8.8.8")[0]).next_hop_ip_address == "10.0.0.4"
    assert lookup.lookup(prefix_interval("10.0.3.3")[0]).next_hop_type == "VnetLocal"


def test_reserved_none_route_equal_and_including_spaces():
    routes = build_effective_routes(vnet_prefixes=["10.0.0.0/8", "172.0.0.0/8"])
    active = {(r.address_prefix, r.next_hop_type) for r in routes if r.state == "Active"}
    assert ("10.0.0.0/8", "VnetLocal") in active and ("10.0.0.0/8", "None") not in active
    assert ("172.16.0.0/12", "None") not in {(r.address_prefix, r.next_hop_type) for r in routes}
    assert ("192.168.0.0/16", "None") in active and ("100.64.0.0/10", "None") in active


def test_effective_security_rules_shape_and_tag_map():
    nsg = NetworkSecurityGroup(
        "/nsg/web",
        (SecurityRule("AllowSSH", 100, "Inbound", "Allow", "Tcp", ("Internet",), ("*",), ("*",), ("22",)),),
    )
    topology = Topology().add(
        VirtualNetwork("/v", ("10.0.0.0/16",)),
        Subnet("/v/s", "/v", ("10.0.0.0/24",), "/nsg/web"),
        NetworkInterface("/n", "/v/s", ("10.0.0.4",)),
        nsg,
    )
    (group,) = Evaluator(topology).effective_security_rules("/n")
    assert group["association"] == {"subnet": {"id": "/v/s"}}
    names = [r["name"] for r in group["effectiveSecurityRules"]]
    assert names[:2] == ["UserRule_AllowSSH", "DefaultRule_AllowVnetInBound"]
    assert names[-1] == "DefaultRule_DenyAllOutBound" and len(names) == 7
    ssh = group["effectiveSecurityRules"][0]
    assert (ssh["protocol"], ssh["sourcePortRanges"], ssh["destinationPortRanges"]) == ("Tcp", ["0-65535"], ["22"])
    assert {"10.0.0.0/16", "168.63.129.16/32"} <= set(group["tagMap"]["VirtualNetwork"])
    assert set(group["tagMap"]) == {"AzureLoadBalancer", "Internet", "VirtualNetwork"}
    internet = prefixes(group["tagMap"]["Internet"])
    assert prefix_interval("52.1.2.3")[0] in internet and prefix_interval("10.0.0.9")[0] not in internet
    deny_all = group["effectiveSecurityRules"][3]
    assert deny_all["protocol"] == "All" and deny_all["sourceAddressPrefixes"] == ["0.0.0.0/0"]
