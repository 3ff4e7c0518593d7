"""Golden tests for the analyses beyond Azure: NSG analysis, exposure, what-if, blocked paths.

Every NSG here is built by hand with known flaws; expected answers are written from the rules' text (the regions
by hand), not from the engine's output.
"""

from __future__ import annotations

from warden.network.rules import (
    Evaluator,
    Flow,
    NetworkInterface,
    NetworkSecurityGroup,
    Peering,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    prefixes,
)
from warden.network.rules.analysis import analyze_nsg
from warden.network.rules.blocking import blocked_routes, blocked_rules
from warden.network.rules.exposure import exposure
from warden.network.rules.nsg import AddressContext
from warden.network.rules.space import (
    ALL_PORTS,
    PROTOCOL_CODE,
    Box,
    IntervalSet,
    partition,
    rule_box,
    same_region,
    universe,
)
from warden.network.rules.tags import internet
from warden.network.rules.whatif import what_if

SUB = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network"
VNET_SPACE = prefixes(["10.0.0.0/16", "168.63.129.16/32"])
CONTEXT = AddressContext(VNET_SPACE)
INTERNET = internet(VNET_SPACE)


def rule(name, priority, access, protocol="Tcp", source="*", port="*", direction="Inbound", destination="*"):  # type: ignore[no-untyped-def]
    return SecurityRule(
        name,
        priority,
        direction,
        access,
        protocol,
        (source,) if isinstance(source, str) else source,
        ("*",),
        (destination,),
        (port,) if isinstance(port, str) else port,
    )


def ports(*ranges: tuple[int, int]) -> IntervalSet:
    return IntervalSet(ranges)


def proto(*names: str) -> IntervalSet:
    return IntervalSet((PROTOCOL_CODE[n], PROTOCOL_CODE[n]) for n in names)


def cidr(*texts: str) -> IntervalSet:
    return prefixes(texts)


ALL = cidr("0.0.0.0/0") | IntervalSet([(1 << 32, (1 << 32) + (1 << 128) - 1)])

FLAWED = NetworkSecurityGroup(
    f"{SUB}/networkSecurityGroups/flawed",
    (
        rule("AllowSSHAnywhere", 100, "Allow", port="22"),
        rule("DenySSHFromCorp", 110, "Deny", source="10.0.0.0/8", port="22"),  # shadowed by 100 (opposite)
        rule("AllowWeb", 120, "Allow", source="Internet", port="80-90"),
        rule("AllowWeb85", 130, "Allow", source="Internet", port="85"),  # shadowed by 120 (same): redundant too
        rule("DenyHigh", 200, "Deny", port="1000-2000"),
        rule("AllowBatch", 300, "Allow", source="10.1.0.0/16", port="1500-2500"),  # partly overridden by 200
        rule("DenyInternet3000", 4000, "Deny", source="Internet", port="3000-4000"),  # DenyAllInBound does it
        rule("AllowMongo", 4001, "Allow", source="0.0.0.0/0", port="27017"),
        rule("AllowAnyAll", 4002, "Allow", protocol="Udp", source="Internet"),
        rule("AllowDnsOut", 100, "Allow", protocol="Udp", destination="8.8.8.8", port="53", direction="Outbound"),
        rule("AllowDnsOut2", 110, "Allow", protocol="Udp", destination="8.8.8.0/24", port="53", direction="Outbound"),
    ),
)


def test_partition_is_first_match_and_covers_the_domain() -> None:
    rules = FLAWED.rules("Inbound")
    regions = partition(rules, CONTEXT, universe())
    rebuilt = [b for region in regions for b in region]
    assert same_region(rebuilt, universe())  # DenyAllInBound catches the rest: nothing left undecided
    assert not regions[1] and not regions[3]  # the two covered rules decide nothing


def test_shadowed_and_redundant_rules() -> None:
    analysis = analyze_nsg(FLAWED, CONTEXT)
    shadowed = {f.rule.name: f for f in analysis.of_kind("shadowed")}
    assert set(shadowed) == {"DenySSHFromCorp", "AllowWeb85"}
    assert [r.name for r in shadowed["DenySSHFromCorp"].related] == ["AllowSSHAnywhere"]
    assert [r.name for r in shadowed["AllowWeb85"].related] == ["AllowWeb"]
    redundant = {f.rule.name: f for f in analysis.of_kind("redundant")}
    # AllowWeb85: covered by a rule of its own verdict; DenyInternet3000: only DenyAllInBound is below it for
    # those flows; AllowDnsOut: AllowDnsOut2 (8.8.8.0/24) below gives the same Allow to everything it decides;
    # AllowDnsOut2: 8.8.8.0/24 is Internet, which the default AllowInternetOutBound allows anyway.
    assert set(redundant) == {"AllowWeb85", "DenyInternet3000", "AllowDnsOut", "AllowDnsOut2"}
    assert [r.name for r in redundant["DenyInternet3000"].related] == ["DenyAllInBound"]
    assert [r.name for r in redundant["AllowDnsOut"].related] == ["AllowDnsOut2"]
    assert [r.name for r in redundant["AllowDnsOut2"].related] == ["AllowInternetOutBound"]


def test_conflicting_rules_with_exact_overlap() -> None:
    conflicts = analyze_nsg(FLAWED, CONTEXT).of_kind("conflicting")
    pairs = {(f.rule.name, f.related[0].name) for f in conflicts}
    assert pairs == {("DenyHigh", "AllowBatch")}
    (finding,) = conflicts
    expected = [Box(proto("Tcp"), cidr("10.1.0.0/16"), ALL_PORTS, ALL, ports((1500, 2000)))]
    assert same_region(list(finding.flows), expected)


def test_over_permissive_rules() -> None:
    found = {f.rule.name: f for f in analyze_nsg(FLAWED, CONTEXT).of_kind("over-permissive")}
    assert set(found) == {"AllowSSHAnywhere", "AllowMongo", "AllowAnyAll"}
    assert found["AllowSSHAnywhere"].ports == (22,)
    assert found["AllowMongo"].ports == (27017,)
    # Udp from the Internet to every port: the sensitive ones it reaches are listed too, and it decides
    # exactly Udp from the Internet set (no earlier rule matches Udp)
    assert "every port" in found["AllowAnyAll"].message
    assert same_region(list(found["AllowAnyAll"].flows), [Box(proto("Udp"), INTERNET, ALL_PORTS, ALL, ALL_PORTS)])
    # AllowWeb reaches 80-90 from the Internet: nothing sensitive, not reported
    assert "AllowWeb" not in found


def test_allow_from_one_address_is_not_over_permissive() -> None:
    nsg = NetworkSecurityGroup("n", (rule("AdminSSH", 100, "Allow", source="8.8.8.8/32", port="22"),))
    assert analyze_nsg(nsg, CONTEXT).of_kind("over-permissive") == []


# ---- a small topology for exposure, what-if and blocked paths ------------------------------------------------

HUB = f"{SUB}/virtualNetworks/hub"
SPOKE = f"{SUB}/virtualNetworks/spoke"
WEB = f"{HUB}/subnets/web"
SUBNET_NSG = f"{SUB}/networkSecurityGroups/subnet-nsg"
NIC_NSG = f"{SUB}/networkSecurityGroups/nic-nsg"
TABLE = f"{SUB}/routeTables/rt"
WEB_NIC = f"{SUB}/networkInterfaces/web-nic"
DB_NIC = f"{SUB}/networkInterfaces/db-nic"

SUBNET_RULES = (
    rule("AllowWebIn", 100, "Allow", source="Internet", port=("80", "443")),
    rule("AllowSSH", 110, "Allow", port="22"),
    rule("DenyRDP", 200, "Deny", port="3389"),
    rule("AllowRDP", 300, "Allow", port="3389"),
)
NIC_RULES = (
    rule("AllowHttps", 100, "Allow", source="0.0.0.0/0", port="443"),
    rule("AllowSSHFromOffice", 110, "Allow", source="8.8.8.0/24", port="22"),
)


def topology(nic_rules=NIC_RULES) -> Topology:  # type: ignore[no-untyped-def]
    return Topology().add(
        VirtualNetwork(HUB, ("10.0.0.0/16",), (Peering("to-spoke", SPOKE, "Initiated"),)),
        VirtualNetwork(SPOKE, ("10.5.0.0/16",)),
        Subnet(WEB, HUB, ("10.0.1.0/24",), SUBNET_NSG, TABLE),
        NetworkSecurityGroup(SUBNET_NSG, SUBNET_RULES),
        NetworkSecurityGroup(NIC_NSG, nic_rules),
        RouteTable(TABLE, (Route("blackhole-spoke", "10.5.0.0/16", "None"),)),
        NetworkInterface(WEB_NIC, WEB, ("10.0.1.4",), NIC_NSG),
        NetworkInterface(DB_NIC, WEB, ("10.0.1.5",), NIC_NSG),
    )


def web_internet(evaluator: Evaluator) -> IntervalSet:
    """The web subnet's Internet set, IPv4 part ("0.0.0.0/0" in a rule covers no IPv6 address)."""
    return internet(evaluator.context(WEB).virtual_network) & cidr("0.0.0.0/0")


def test_exposure_exact_ranges_through_both_levels() -> None:
    evaluator = Evaluator(topology())
    found = exposure(evaluator, WEB_NIC, ["10.0.1.4"])
    the_internet = web_internet(evaluator)
    # 80: subnet allows, NIC's DenyAllInBound denies. 443: both allow from the Internet. 22: subnet allows from
    # anywhere, the NIC only from 8.8.8.0/24. The NIC's 443 rule names 0.0.0.0/0: IPv4 only.
    # 3389: the subnet's DenyRDP (200) decides before AllowRDP.
    expected = [
        Box(proto("Tcp"), the_internet, ALL_PORTS, cidr("10.0.1.4/32"), ports((443, 443))),
        Box(proto("Tcp"), cidr("8.8.8.0/24"), ALL_PORTS, cidr("10.0.1.4/32"), ports((22, 22))),
    ]
    assert same_region(found.flows, expected)
    rows = found.to_json()
    assert {"protocols": ["Tcp"], "sourceAddresses": ["Internet (IPv4)"], "sourcePorts": ["0-65535"],
            "destinationAddresses": ["10.0.1.4/32"], "destinationPorts": ["443"]} in rows  # fmt: skip
    # db-nic has no public IP: nothing reaches it from the Internet
    assert exposure(evaluator, DB_NIC, []).flows == []


def test_what_if_flip_set() -> None:
    evaluator = Evaluator(topology())
    changed = NetworkSecurityGroup(
        NIC_NSG,
        (
            rule("AllowHttps", 100, "Allow", source="0.0.0.0/0", port="443"),
            rule("AllowHttp", 120, "Allow", source="0.0.0.0/0", port="80"),  # new; SSH rule removed
        ),
    )
    flips = what_if(evaluator, NIC_NSG, changed)
    assert {(f.network_interface_id, f.direction, f.level) for f in flips} == {
        (WEB_NIC, "Inbound", "nic"),
        (DB_NIC, "Inbound", "nic"),
    }
    web = next(f for f in flips if f.network_interface_id == WEB_NIC)
    here = cidr("10.0.1.4/32")
    # SSH from 8.8.8.0/24 was allowed by both levels; now the NIC's DenyAllInBound decides it
    assert same_region(web.now_denied, [Box(proto("Tcp"), cidr("8.8.8.0/24"), ALL_PORTS, here, ports((22, 22)))])
    # 80 passes the subnet only from the Internet (AllowWebIn), the NIC from IPv4 only (0.0.0.0/0);
    # the VNet already had it (AllowVnetInBound twice)
    assert same_region(web.now_allowed, [Box(proto("Tcp"), web_internet(evaluator), ALL_PORTS, here, ports((80, 80)))])


def test_what_if_without_change_flips_nothing() -> None:
    evaluator = Evaluator(topology())
    assert what_if(evaluator, NIC_NSG, NetworkSecurityGroup(NIC_NSG, NIC_RULES)) == []


def test_blocked_path_lists_both_levels() -> None:
    evaluator = Evaluator(topology())
    flow = Flow("Tcp", "8.8.4.4", 50000, "10.0.1.4", 3389)
    assert evaluator.verdict(topology().network_interfaces[WEB_NIC.lower()], "Inbound", flow).access == "Deny"
    blockers = blocked_rules(evaluator, WEB_NIC, "Inbound", flow)
    assert [(b.level, b.name) for b in blockers] == [
        ("subnet", "securityRules/DenyRDP"),  # AllowRDP (300) would decide once DenyRDP is gone
        ("nic", "defaultSecurityRules/DenyAllInBound"),
    ]
    allowed = Flow("Tcp", "8.8.4.4", 50000, "10.0.1.4", 443)
    assert blocked_rules(evaluator, WEB_NIC, "Inbound", allowed) == []


def test_blocked_path_routes_and_missing_peering() -> None:
    evaluator = Evaluator(topology())
    blockers = blocked_routes(evaluator, WEB, "10.5.1.1")
    assert [(b.kind, b.name, b.resource_id) for b in blockers] == [
        ("route", "blackhole-spoke", TABLE),  # the UDR to None
        ("route", "10.0.0.0/8", "System Route"),  # removing the UDR leaves the system None route for 10/8
        ("peering", "spoke", SPOKE),  # the spoke holds 10.5.1.1 but the peering is only Initiated
    ]
    assert blocked_routes(evaluator, WEB, "8.8.8.8") == []


def test_rule_box_of_port_less_protocols() -> None:
    icmp = rule("Icmp", 100, "Allow", protocol="Icmp")
    box = rule_box(icmp, CONTEXT)
    assert -1 in box.destination_port and 22 in box.destination_port  # "*" ports match ICMP's no-port
    assert not (box & universe(protocols=["Tcp"])[0])


def test_any_port_allow_below_a_deny_is_still_over_permissive() -> None:
    nsg = NetworkSecurityGroup(
        "n",
        (
            rule("DenySSH", 100, "Deny", port="22"),
            rule("AllowEverything", 200, "Allow", source="Internet"),
        ),
    )
    (finding,) = analyze_nsg(nsg, CONTEXT).of_kind("over-permissive")
    assert finding.rule.name == "AllowEverything" and "every port" in finding.message
    assert 22 not in finding.ports and 3389 in finding.ports  # 22 is decided by DenySSH, not by this rule
    # exactly what it decides from the Internet: Tcp to every port but 22
    expected = [Box(proto("Tcp"), INTERNET, ALL_PORTS, ALL, ALL_PORTS - ports((22, 22)))]
    tcp = [b for b in finding.flows if b.protocol == proto("Tcp")]
    assert same_region(tcp, expected)


def test_partition_agrees_with_the_verdict_engine_on_random_flows() -> None:
    """The regions are exact: for random rule lists and flows, the rule whose region holds a flow is the rule the
    compiled first-match engine picks (seeded, so a failure reproduces)."""
    import random

    from warden.network.rules.addresses import address_value
    from warden.network.rules.nsg import CompiledRules, flow_key

    rng = random.Random(5)
    for _ in range(20):
        rules = []
        for i in range(25):
            lo = rng.randrange(0, 65000)
            source = rng.choice(["*", "Internet", "VirtualNetwork", f"10.0.{rng.randrange(4)}.0/24", "8.8.0.0/16"])
            rules.append(
                SecurityRule(
                    f"r{i}",
                    100 + i,
                    "Inbound",
                    rng.choice(["Allow", "Deny"]),
                    rng.choice(["Tcp", "Udp", "Icmp", "*"]),
                    (source,),
                    (rng.choice(["*", f"{lo}-{lo + 500}"]),),
                    (rng.choice(["*", "10.0.1.0/24"]),),
                    (rng.choice(["*", str(lo), f"{lo}-{lo + rng.randrange(2000)}"]),),
                )
            )
        rules += [r for r in NetworkSecurityGroup("n").rules("Inbound") if r.default]
        regions = partition(rules, CONTEXT, universe())
        compiled = CompiledRules(rules, CONTEXT)
        for _ in range(200):
            protocol = rng.choice(["Tcp", "Udp", "Icmp", "Esp"])
            ported = protocol in ("Tcp", "Udp")
            source = rng.choice(["10.0.1.7", "10.0.2.9", "8.8.4.4", "192.168.1.1", "52.1.2.3", "168.63.129.16"])
            flow = Flow(
                protocol,
                source,
                rng.randrange(65536) if ported else None,
                rng.choice(["10.0.1.4", "10.0.3.4"]),
                rng.randrange(65536) if ported else None,
            )
            key = flow_key(flow)
            point = (PROTOCOL_CODE[key[0]], key[1], key[2], key[3], key[4])
            holders = [
                i
                for i, region in enumerate(regions)
                if any(all(v in s for v, s in zip(point, b.sets, strict=True)) for b in region)
            ]
            assert holders == [compiled.first_match(*key)], (flow, holders)
            assert address_value(flow.source_ip) == key[1]
