"""Address and port sets as sorted disjoint integer intervals.

IPv4 and IPv6 share one integer line: an IPv4 address is its integer value, an IPv6 address is
``V6_BASE`` plus its integer value, so a single bisect finds an address of either family.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable

V6_BASE = 1 << 32
ADDRESS_MAX = V6_BASE + (1 << 128) - 1
V4_ALL = (0, V6_BASE - 1)
V6_ALL = (V6_BASE, ADDRESS_MAX)

PORT_NONE = -1  # the "port" of a protocol without ports (ICMP, ESP, AH): matched only by "*"
PORT_MIN = 0
PORT_MAX = 65535

Interval = tuple[int, int]


class IntervalSet:
    """An immutable set of integers stored as sorted, disjoint, non-adjacent inclusive intervals."""

    __slots__ = ("_starts", "intervals")

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        merged: list[Interval] = []
        for lo, hi in sorted(intervals):
            if lo > hi:
                continue
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        self.intervals: tuple[Interval, ...] = tuple(merged)
        self._starts = [lo for lo, _ in merged]

    def __contains__(self, value: int) -> bool:
        i = bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self.intervals[i][1]

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self.intervals == other.intervals

    def __hash__(self) -> int:
        return hash(self.intervals)

    def __repr__(self) -> str:
        return f"IntervalSet({list(self.intervals)!r})"

    def __or__(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet(self.intervals + other.intervals)

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        out: list[Interval] = []
        cut = other.intervals
        j = 0
        for lo, hi in self.intervals:
            cur = lo
            while j < len(cut) and cut[j][1] < cur:
                j += 1
            k = j
            while k < len(cut) and cut[k][0] <= hi:
                if cut[k][0] > cur:
                    out.append((cur, cut[k][0] - 1))
                cur = max(cur, cut[k][1] + 1)
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet(out)

    def __and__(self, other: IntervalSet) -> IntervalSet:
        return self - (self - other)

    def covers(self, other: IntervalSet) -> bool:
        return not (other - self)


EMPTY = IntervalSet()
ALL_ADDRESSES = IntervalSet([V4_ALL, V6_ALL])


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"invalid address prefix {text!r}") from exc


def prefix_interval(text: str) -> Interval:
    """``10.0.0.0/8``, ``10.1.2.3`` or an IPv6 prefix as an inclusive integer interval."""
    net = _network(text)
    base = 0 if net.version == 4 else V6_BASE
    return base + int(net.network_address), base + int(net.broadcast_address)


def address_value(text: str) -> int:
    ip = ipaddress.ip_address(text.strip())
    return int(ip) if ip.version == 4 else V6_BASE + int(ip)


def value_address(value: int) -> str:
    return str(ipaddress.IPv4Address(value) if value < V6_BASE else ipaddress.IPv6Address(value - V6_BASE))


def prefixes(texts: Iterable[str]) -> IntervalSet:
    return IntervalSet(prefix_interval(t) for t in texts)


def to_cidrs(values: IntervalSet) -> list[str]:
    """The set as the fewest CIDR prefixes (what Azure shows in expanded tag lists)."""
    out: list[str] = []
    for lo, hi in values.intervals:
        for part_lo, part_hi in ((lo, min(hi, V6_BASE - 1)), (max(lo, V6_BASE), hi)):
            if part_lo > part_hi:
                continue
            if part_lo < V6_BASE:
                first, last = ipaddress.IPv4Address(part_lo), ipaddress.IPv4Address(part_hi)
            else:
                first, last = ipaddress.IPv6Address(part_lo - V6_BASE), ipaddress.IPv6Address(part_hi - V6_BASE)
            out.extend(str(n) for n in ipaddress.summarize_address_range(first, last))
    return out


def port_interval(text: str) -> Interval:
    """``*``, ``80`` or ``1000-2000``; ``*`` also covers the port-less protocols."""
    text = text.strip()
    if text == "*":
        return PORT_NONE, PORT_MAX
    lo_text, sep, hi_text = text.partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if sep else lo
    except ValueError as exc:
        raise ValueError(f"invalid port range {text!r}") from exc
    if not (PORT_MIN <= lo <= hi <= PORT_MAX):
        raise ValueError(f"invalid port range {text!r}")
    return lo, hi


def port_set(texts: Iterable[str]) -> IntervalSet:
    return IntervalSet(port_interval(t) for t in texts)
