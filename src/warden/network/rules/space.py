"""The flow space as exact regions: unions of disjoint boxes (protocol x source x source port x destination x
destination port), and the first-match partition of that space by an ordered rule list.

The analyses (shadowing, exposure, what-if, blocked paths over ranges) are set algebra over these regions, so
every answer covers all flows of a range, not a sample. Protocols are the integers 0..4 of ``FLOW_PROTOCOLS``;
ports of the port-less protocols are ``PORT_NONE`` (as in the verdict engine, only ``*`` matches them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .addresses import ALL_ADDRESSES, PORT_MAX, PORT_MIN, PORT_NONE, V4_ALL, V6_ALL, IntervalSet, port_set, to_cidrs
from .model import FLOW_PROTOCOLS, PORTED_PROTOCOLS, SecurityRule
from .nsg import AddressContext

EMPTY_SET = IntervalSet()
PROTOCOL_CODE = {name: code for code, name in enumerate(FLOW_PROTOCOLS)}
ALL_PROTOCOLS = IntervalSet([(0, len(FLOW_PROTOCOLS) - 1)])
PORTED = IntervalSet((PROTOCOL_CODE[p], PROTOCOL_CODE[p]) for p in PORTED_PROTOCOLS)
PORTLESS = ALL_PROTOCOLS - PORTED
ALL_PORTS = IntervalSet([(PORT_MIN, PORT_MAX)])
NO_PORT = IntervalSet([(PORT_NONE, PORT_NONE)])
DIMENSIONS = ("protocol", "source", "source_port", "destination", "destination_port")


@dataclass(frozen=True)
class Box:
    """A product of one set per dimension; empty when any of them is."""

    protocol: IntervalSet
    source: IntervalSet
    source_port: IntervalSet
    destination: IntervalSet
    destination_port: IntervalSet

    @property
    def sets(self) -> tuple[IntervalSet, ...]:
        return (self.protocol, self.source, self.source_port, self.destination, self.destination_port)

    def __bool__(self) -> bool:
        return all(self.sets)

    def __and__(self, other: Box) -> Box:
        sets = []
        for a, b in zip(self.sets, other.sets, strict=True):
            both = _meet(a, b)
            if not both:
                return EMPTY_BOX  # stop at the first empty dimension: most pairs of boxes miss in one
            sets.append(both)
        return Box(*sets)

    def minus(self, other: Box) -> list[Box]:
        """``self - other`` as at most five disjoint boxes (peel one dimension at a time)."""
        if not (self & other):
            return [self]
        out = []
        kept = list(self.sets)
        for i, cut in enumerate(other.sets):
            rest = kept[i] - cut
            if rest:
                out.append(Box(*kept[:i], rest, *kept[i + 1 :]))
            kept[i] = _meet(kept[i], cut)
        return out

    def protocols(self) -> list[str]:
        return [FLOW_PROTOCOLS[c] for lo, hi in self.protocol.intervals for c in range(lo, hi + 1)]


EMPTY_BOX = Box(*(IntervalSet(),) * 5)
Region = list[Box]  # disjoint boxes


def _meet(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    """``a & b`` by one merge pass over both sorted interval lists."""
    if a is b:
        return a
    xs, ys = a.intervals, b.intervals
    if not xs or not ys or xs[-1][1] < ys[0][0] or ys[-1][1] < xs[0][0]:
        return EMPTY_SET
    out = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        lo = max(xs[i][0], ys[j][0])
        hi = min(xs[i][1], ys[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return IntervalSet(out) if out else EMPTY_SET


def universe(
    source: IntervalSet = ALL_ADDRESSES, destination: IntervalSet = ALL_ADDRESSES, protocols: Iterable[str] = ()
) -> Region:
    """Every flow between ``source`` and ``destination`` (of ``protocols``, default all), ports included."""
    chosen = IntervalSet((PROTOCOL_CODE[p], PROTOCOL_CODE[p]) for p in protocols) if protocols else ALL_PROTOCOLS
    boxes = [
        Box(chosen & PORTED, source, ALL_PORTS, destination, ALL_PORTS),
        Box(chosen & PORTLESS, source, NO_PORT, destination, NO_PORT),
    ]
    return [b for b in boxes if b]


def rule_box(rule: SecurityRule, context: AddressContext) -> Box:
    """The flows a rule's five fields match (``*`` ports include the port-less protocols' ``PORT_NONE``)."""
    protocol = ALL_PROTOCOLS if rule.protocol == "*" else IntervalSet([(PROTOCOL_CODE[rule.protocol],) * 2])
    return Box(
        protocol,
        context.source(rule),
        port_set(rule.source_port_ranges),
        context.destination(rule),
        port_set(rule.destination_port_ranges),
    )


def intersect(region: Region, box: Box) -> Region:
    return [hit for b in region if (hit := b & box)]


def subtract(region: Region, other: Region | Box) -> Region:
    """``region - other``, still disjoint."""
    cuts = [other] if isinstance(other, Box) else other
    out = list(region)
    for cut in cuts:
        out = [piece for b in out for piece in b.minus(cut)]
    return out


def is_empty(region: Region) -> bool:
    return not any(region)


def same_region(a: Region, b: Region) -> bool:
    """True when the two regions hold exactly the same flows."""
    return is_empty(subtract(a, b)) and is_empty(subtract(b, a))


def partition(rules: Sequence[SecurityRule], context: AddressContext, domain: Region) -> list[Region]:
    """First-match partition of ``domain``: item ``i`` is the region rule ``i`` decides (its part of the domain
    that no earlier rule matches); the flows no rule matches are left out."""
    return partition_boxes([rule_box(rule, context) for rule in rules], domain)


def partition_boxes(boxes: Sequence[Box], domain: Region) -> list[Region]:
    """``partition`` over rules already turned into boxes."""
    remaining = list(domain)
    out: list[Region] = []
    for box in boxes:
        if not remaining:
            out.append([])
            continue
        out.append(intersect(remaining, box))
        remaining = subtract(remaining, box) if out[-1] else remaining
    return out


def allowed(rules: Sequence[SecurityRule] | None, context: AddressContext, domain: Region) -> Region:
    """The part of ``domain`` the rules allow (first match; no rules at all — no NSG — allows everything)."""
    if rules is None:
        return list(domain)
    decided = partition(rules, context, domain)
    return coalesce([b for rule, region in zip(rules, decided, strict=True) if rule.access == "Allow" for b in region])


def coalesce(region: Region) -> Region:
    """Merge boxes that differ in one dimension only (the region is unchanged, just shorter to print)."""
    boxes = [b for b in region if b]
    changed = True
    while changed:
        changed = False
        for dim in range(len(DIMENSIONS)):
            groups: dict[tuple, list[Box]] = {}
            for b in boxes:
                groups.setdefault(tuple(s for i, s in enumerate(b.sets) if i != dim), []).append(b)
            if len(groups) == len(boxes):
                continue
            merged = []
            for items in groups.values():
                union = IntervalSet(iv for b in items for iv in b.sets[dim].intervals)
                sets = list(items[0].sets)
                sets[dim] = union
                merged.append(Box(*sets))
            boxes, changed = merged, True
    return sorted(boxes, key=lambda b: tuple(s.intervals for s in b.sets))


# ---- showing regions ----------------------------------------------------------------------------------------


def port_text(ports: IntervalSet) -> list[str]:
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports.intervals if hi >= 0]


IPV4 = IntervalSet([V4_ALL])
IPV6 = IntervalSet([V6_ALL])


def internet_names(internet: IntervalSet) -> dict[str, IntervalSet]:
    """Names for the Internet set and its two families, to print them as words rather than many prefixes."""
    return {"Internet": internet, "Internet (IPv4)": internet & IPV4, "Internet (IPv6)": internet & IPV6}


def address_text(addresses: IntervalSet, names: dict[str, IntervalSet] | None = None) -> list[str]:
    """A set of addresses as a name it equals (``*``, ``Internet`` ...), else as CIDR prefixes."""
    if addresses == ALL_ADDRESSES:
        return ["*"]
    for name, values in (names or {}).items():
        if addresses == values:
            return [name]
    return to_cidrs(addresses)


def box_json(box: Box, names: dict[str, IntervalSet] | None = None) -> dict:
    """A box as JSON: protocols, port ranges (``[]`` for the port-less protocols) and address prefixes."""
    return {
        "protocols": box.protocols(),
        "sourceAddresses": address_text(box.source, names),
        "sourcePorts": port_text(box.source_port),
        "destinationAddresses": address_text(box.destination, names),
        "destinationPorts": port_text(box.destination_port),
    }
