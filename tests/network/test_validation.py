"""Azure's syntax rules for network properties (warden.network.validation), one rule per case."""

from __future__ import annotations

import pytest

from warden.kernel.errors import BadRequest
from warden.network import validation as v


def _rule(**overrides):  # type: ignore[no-untyped-def]
    props = {
        "priority": 100,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "22",
    }
    props.update(overrides)
    return {k: val for k, val in props.items() if val is not None}


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequest) as raised:
        call()
    return raised.value.code


def test_enums_are_case_insensitive_and_come_back_in_azures_spelling():
    rule = v.security_rule("r", _rule(protocol="tcp", direction="INBOUND", access="deny"))
    assert (rule["protocol"], rule["direction"], rule["access"]) == ("Tcp", "Inbound", "Deny")
    assert v.security_rule("r", _rule(protocol="*"))["protocol"] == "*"
    assert _code(lambda: v.security_rule("r", _rule(protocol="gre"))) == "InvalidRequestFormat"


@pytest.mark.parametrize(("priority", "ok"), [(99, False), (100, True), (4096, True), (4097, False), ("100", False)])
def test_priorities_are_100_to_4096(priority, ok):  # type: ignore[no-untyped-def]
    call = lambda: v.security_rule("r", _rule(priority=priority))  # noqa: E731
    if ok:
        assert call()["priority"] == priority
    else:
        assert _code(call) == "SecurityRuleInvalidPriority"


@pytest.mark.parametrize(
    ("port", "ok"),
    [
        ("*", True),
        ("0", True),
        ("65535", True),
        ("80-443", True),
        ("65536", False),
        ("443-80", False),
        ("-1", False),
        ("a", False),
        ("1-2-3", False),
        ("", False),
    ],
)
def test_port_syntax(port, ok):  # type: ignore[no-untyped-def]
    call = lambda: v.security_rule("r", _rule(destinationPortRange=port))  # noqa: E731
    if ok:
        call()
    else:
        assert _code(call) == "SecurityRuleInvalidPortRange"


def test_singular_and_plural_are_exclusive_and_lists_hold_addresses_only():
    both = _rule(destinationPortRanges=["80", "443"])
    assert _code(lambda: v.security_rule("r", both)) == "InvalidRequestFormat"
    plural = _rule(destinationPortRange=None, destinationPortRanges=["80", "443"])
    assert v.security_rule("r", plural)["destinationPortRanges"] == ["80", "443"]
    tagged = _rule(sourceAddressPrefix=None, sourceAddressPrefixes=["Internet", "10.0.0.0/8"])
    assert _code(lambda: v.security_rule("r", tagged)) == "SecurityRuleParameterContainsUnsupportedValue"
    star = _rule(destinationPortRange=None, destinationPortRanges=["*", "22"])
    assert _code(lambda: v.security_rule("r", star)) == "SecurityRuleInvalidPortRange"
    bad = _rule(sourceAddressPrefix="10.0.0.300/24")
    assert _code(lambda: v.security_rule("r", bad)) == "SecurityRuleInvalidAddressPrefix"
    assert v.security_rule("r", _rule(sourceAddressPrefix="virtualnetwork"))["sourceAddressPrefix"] == "virtualnetwork"


def test_one_asg_per_side_and_not_mixed_with_prefixes():
    asg = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/applicationSecurityGroups/a"}
    two = _rule(destinationAddressPrefix=None, destinationApplicationSecurityGroups=[asg, asg])
    assert _code(lambda: v.security_rule("r", two)) == "SecurityRuleParameterContainsUnsupportedValue"
    mixed = _rule(destinationApplicationSecurityGroups=[asg])
    assert _code(lambda: v.security_rule("r", mixed)) == "SecurityRuleParameterContainsUnsupportedValue"


def test_priorities_are_unique_per_direction():
    inbound = v.security_rule("a", _rule())
    outbound = v.security_rule("b", _rule(direction="Outbound"))
    v.unique_priorities([("a", inbound), ("b", outbound)])
    again = v.security_rule("c", _rule())
    assert _code(lambda: v.unique_priorities([("a", inbound), ("c", again)])) == "SecurityRuleConflict"


def test_routes():
    assert v.route("r", {"addressPrefix": "0.0.0.0/0", "nextHopType": "internet"})["nextHopType"] == "Internet"
    missing = {"addressPrefix": "10.0.0.0/8", "nextHopType": "VirtualAppliance"}
    assert _code(lambda: v.route("r", missing)) == "NextHopIpAddressMissing"
    extra = {"addressPrefix": "10.0.0.0/8", "nextHopType": "None", "nextHopIpAddress": "10.0.0.4"}
    assert _code(lambda: v.route("r", extra)) == "NextHopIpAddressNotAllowed"
    host_bits = {"addressPrefix": "10.0.0.1/8", "nextHopType": "None"}
    assert _code(lambda: v.route("r", host_bits)) == "InvalidCIDRNotation"
    garbage = {"addressPrefix": "10.0.0.300/8", "nextHopType": "None"}
    assert _code(lambda: v.route("r", garbage)) == "InvalidRouteAddressPrefix"


def test_prefixes_and_overlap():
    nets = v.networks(["10.0.0.0/16", "10.1.0.0/16"], "t")
    assert v.overlapping([(str(n), n) for n in nets]) is None
    assert v.overlapping([("a", nets[0]), ("b", v.network("10.0.128.0/17", "t"))]) == ("a", "b")
    assert _code(lambda: v.network("10.0.0.0", "t")) == "InvalidAddressPrefixFormat"


def test_numeric_ports_are_stored_as_text():
    rule = v.security_rule("r", _rule(destinationPortRange=22))
    assert rule["destinationPortRange"] == "22"
    ranges = v.security_rule("r", _rule(destinationPortRange=None, destinationPortRanges=[80, "443"]))
    assert ranges["destinationPortRanges"] == ["80", "443"]
