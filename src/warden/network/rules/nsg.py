"""NSG rule lists compiled into per-dimension interval tables.

Each rule of one direction gets a bit (bit 0 = first in evaluation order). For each dimension
(protocol, source address, source port, destination address, destination port) the line is cut
into elementary intervals, each holding the bitmask of the rules that match there. A verdict is
five bisects, an AND of the masks and the lowest set bit: no scan over the rules.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .addresses import (
    ALL_ADDRESSES,
    EMPTY,
    PORT_NONE,
    IntervalSet,
    address_value,
    port_set,
    prefix_interval,
    to_cidrs,
)
from .model import FLOW_PROTOCOLS, PORTED_PROTOCOLS, Flow, NetworkSecurityGroup, SecurityRule, normalize_protocol
from .tags import AZURE_LOAD_BALANCER, canonical_tag, internet


class UnknownServiceTag(ValueError):
    pass


@dataclass(frozen=True)
class AddressContext:
    """What the names in a rule's address fields mean for one subnet."""

    virtual_network: IntervalSet = EMPTY
    application_security_groups: Mapping[str, IntervalSet] = field(default_factory=dict)  # lower-cased id -> IPs
    service_tags: Mapping[str, IntervalSet] = field(default_factory=dict)  # extra tags, by lower-cased name

    def tag(self, name: str) -> IntervalSet:
        canonical = canonical_tag(name)
        if canonical == "VirtualNetwork":
            return self.virtual_network
        if canonical == "Internet":
            return internet(self.virtual_network)
        if canonical == "AzureLoadBalancer":
            return AZURE_LOAD_BALANCER
        found = self.service_tags.get(name.strip().lower())
        if found is None:
            raise UnknownServiceTag(f"unknown service tag {name!r}")
        return found

    def addresses(self, items: Sequence[str]) -> IntervalSet:
        intervals = []
        for item in items:
            text = item.strip()
            if text == "*":
                return ALL_ADDRESSES
            if text[:1].isdigit() or ":" in text:
                intervals.append(prefix_interval(text))
            else:
                intervals.extend(self.tag(text).intervals)
        return IntervalSet(intervals)

    def asgs(self, ids: Sequence[str]) -> IntervalSet:
        out = EMPTY
        for asg in ids:
            out = out | self.application_security_groups.get(asg.lower(), EMPTY)
        return out

    def source(self, rule: SecurityRule) -> IntervalSet:
        return self.addresses(rule.source_address_prefixes) | self.asgs(rule.source_asgs)

    def destination(self, rule: SecurityRule) -> IntervalSet:
        return self.addresses(rule.destination_address_prefixes) | self.asgs(rule.destination_asgs)


class _Dimension:
    """Elementary intervals of one dimension with the rule bitmask of each."""

    __slots__ = ("masks", "starts")

    def __init__(self, sets: Sequence[IntervalSet], floor: int) -> None:
        events: dict[int, list[int]] = {floor: [0, 0]}
        for bit, values in enumerate(sets):
            flag = 1 << bit
            for lo, hi in values.intervals:
                events.setdefault(lo, [0, 0])[0] |= flag
                events.setdefault(hi + 1, [0, 0])[1] |= flag
        self.starts: list[int] = []
        self.masks: list[int] = []
        current = 0
        for point in sorted(events):
            add, remove = events[point]
            current = (current & ~remove) | add
            self.starts.append(point)
            self.masks.append(current)

    def lookup(self, value: int) -> int:
        return self.masks[bisect_right(self.starts, value) - 1]


class CompiledRules:
    """The rules of one NSG and one direction, compiled for a given address context."""

    def __init__(self, rules: Sequence[SecurityRule], context: AddressContext) -> None:
        self.rules = list(rules)
        self.protocol_masks = {p: 0 for p in FLOW_PROTOCOLS}
        for bit, rule in enumerate(self.rules):
            for protocol in FLOW_PROTOCOLS:
                if rule.protocol in ("*", protocol):
                    self.protocol_masks[protocol] |= 1 << bit
        self.source = _Dimension([context.source(r) for r in self.rules], -1)
        self.destination = _Dimension([context.destination(r) for r in self.rules], -1)
        self.source_port = _Dimension([port_set(r.source_port_ranges) for r in self.rules], PORT_NONE - 1)
        self.destination_port = _Dimension([port_set(r.destination_port_ranges) for r in self.rules], PORT_NONE - 1)

    def first_match(self, protocol: str, source: int, source_port: int, destination: int, destination_port: int) -> int:
        """Index of the first matching rule, or -1. Ports are ``PORT_NONE`` for port-less protocols."""
        mask = (
            self.protocol_masks[protocol]
            & self.source.lookup(source)
            & self.destination.lookup(destination)
            & self.source_port.lookup(source_port)
            & self.destination_port.lookup(destination_port)
        )
        if not mask:
            return -1
        return (mask & -mask).bit_length() - 1

    def match(self, flow: Flow) -> SecurityRule | None:
        protocol, source, sport, destination, dport = flow_key(flow)
        index = self.first_match(protocol, source, sport, destination, dport)
        return self.rules[index] if index >= 0 else None


def flow_key(flow: Flow) -> tuple[str, int, int, int, int]:
    protocol = normalize_protocol(flow.protocol)
    if protocol == "*":
        raise ValueError("a flow needs a concrete protocol")
    ported = protocol in PORTED_PROTOCOLS
    sport = flow.source_port if ported and flow.source_port is not None else PORT_NONE
    dport = flow.destination_port if ported and flow.destination_port is not None else PORT_NONE
    return protocol, address_value(flow.source_ip), sport, address_value(flow.destination_ip), dport


def compile_nsg(nsg: NetworkSecurityGroup, direction: str, context: AddressContext) -> CompiledRules:
    return CompiledRules(nsg.rules(direction), context)


# ---- names on the different surfaces ----------------------------------------------------------------------------


def ip_flow_verify_name(rule: SecurityRule) -> str:
    """``ruleName`` of IP flow verify: ``securityRules/X`` or ``defaultSecurityRules/X``."""
    return ("defaultSecurityRules/" if rule.default else "securityRules/") + rule.name


def effective_rule_name(rule: SecurityRule) -> str:
    """Name in effective security rules, NSG flow logs and security group view: ``UserRule_X`` / ``DefaultRule_X``."""
    return ("DefaultRule_" if rule.default else "UserRule_") + rule.name


def expanded_prefixes(rule: SecurityRule, context: AddressContext) -> dict[str, list[str]]:
    """The tag expansion of effective security rules: ``expandedSourceAddressPrefix`` and the destination one."""
    return {
        "expandedSourceAddressPrefix": to_cidrs(context.source(rule)),
        "expandedDestinationAddressPrefix": to_cidrs(context.destination(rule)),
    }


def _effective_ports(ranges: Sequence[str]) -> list[str]:
    return ["0-65535" if r.strip() == "*" else r.strip() for r in ranges]


def _effective_addresses(items: Sequence[str], asgs: Sequence[str]) -> list[str]:
    return ["0.0.0.0/0" if p.strip() == "*" else p.strip() for p in items] + list(asgs)


def effective_rule(rule: SecurityRule, context: AddressContext) -> dict:
    """One ``EffectiveNetworkSecurityRule``: ``*`` shown as ``0.0.0.0/0`` and ``0-65535``, protocol ``All``."""
    return {
        "name": effective_rule_name(rule),
        "protocol": "All" if rule.protocol == "*" else rule.protocol,
        "sourcePortRanges": _effective_ports(rule.source_port_ranges),
        "destinationPortRanges": _effective_ports(rule.destination_port_ranges),
        "sourceAddressPrefixes": _effective_addresses(rule.source_address_prefixes, rule.source_asgs),
        "destinationAddressPrefixes": _effective_addresses(rule.destination_address_prefixes, rule.destination_asgs),
        **expanded_prefixes(rule, context),
        "access": rule.access,
        "priority": rule.priority,
        "direction": rule.direction,
    }
