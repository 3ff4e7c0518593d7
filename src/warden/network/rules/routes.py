"""Effective routes of a subnet and next-hop lookup (longest prefix match).

Rules encoded (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview):
system routes (VNet ranges -> VnetLocal, 0.0.0.0/0 -> Internet, None for 10/8, 172.16/12, 192.168/16,
100.64/10 unless a VNet range equals or includes them), peering routes, gateway routes (unless the
route table disables gateway route propagation), user-defined routes; same prefix: User > BGP > system;
"System routes for traffic related to virtual network, virtual network peerings, or virtual network
service endpoints, are preferred routes, even if BGP routes are more specific."
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .addresses import V6_BASE, prefix_interval, value_address

SYSTEM_ROUTE = "System Route"  # routeTableId of next hop for a route that is not user-defined
RESERVED_NONE_PREFIXES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
_SOURCE_RANK = {"User": 0, "VirtualNetworkGateway": 1, "Default": 2}
_VNET_TYPES = ("VnetLocal", "VNetPeering", "VNetGlobalPeering")


@dataclass(frozen=True)
class EffectiveRoute:
    source: str  # Default | VirtualNetworkGateway | User
    state: str  # Active | Invalid
    address_prefix: str
    next_hop_type: str
    next_hop_ip_address: str | None = None
    name: str | None = None
    route_table_id: str | None = None  # the user route's table

    @property
    def interval(self) -> tuple[int, int]:
        return prefix_interval(self.address_prefix)

    def to_azure(self) -> dict:
        """One item of a NIC's ``effectiveRouteTable`` answer."""
        return {
            "name": self.name,
            "source": self.source,
            "state": self.state,
            "addressPrefix": [self.address_prefix],
            "nextHopIpAddress": [self.next_hop_ip_address] if self.next_hop_ip_address else [],
            "nextHopType": self.next_hop_type,
        }


@dataclass(frozen=True)
class NextHop:
    next_hop_type: str
    next_hop_ip_address: str | None
    route_table_id: str | None  # "System Route" unless a user route decided
    route: EffectiveRoute | None = None

    def to_azure(self) -> dict:
        return {
            "nextHopType": self.next_hop_type,
            "nextHopIpAddress": self.next_hop_ip_address,
            "routeTableId": self.route_table_id,
        }


def _contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _canonical(prefix: str) -> str:
    lo, hi = prefix_interval(prefix)
    size = hi - lo + 1
    bits = 32 if lo < V6_BASE else 128
    return f"{value_address(lo)}/{bits - size.bit_length() + 1}"


def build_effective_routes(
    *,
    vnet_prefixes: Sequence[str],
    peerings: Sequence[tuple[str, str]] = (),  # (prefix, "VNetPeering" | "VNetGlobalPeering")
    gateway_routes: Sequence[tuple[str, str]] = (),  # (prefix, gateway IP)
    user_routes: Sequence[EffectiveRoute] = (),
    disable_bgp_route_propagation: bool = False,
) -> list[EffectiveRoute]:
    """All routes of a subnet with their Active/Invalid state, in Azure's listing order (Default, gateway, User)."""
    system = [EffectiveRoute("Default", "Active", _canonical(p), "VnetLocal") for p in vnet_prefixes]
    system += [EffectiveRoute("Default", "Active", _canonical(p), kind) for p, kind in peerings]
    vnet_intervals = [r.interval for r in system]
    system.append(EffectiveRoute("Default", "Active", "0.0.0.0/0", "Internet"))
    for reserved in RESERVED_NONE_PREFIXES:
        span = prefix_interval(reserved)
        # "If you assign any of the previous address ranges within the address space of a virtual network, Azure
        # automatically changes the next hop type for the route from None to Virtual network. If you assign an
        # address range ... that includes, but isn't the same as, one of the four reserved address prefixes, Azure
        # removes the route for the prefix": either way no None route is left for it.
        if not any(_contains(v, span) for v in vnet_intervals):
            system.append(EffectiveRoute("Default", "Active", reserved, "None"))
    gateway = [
        EffectiveRoute("VirtualNetworkGateway", "Active", _canonical(p), "VirtualNetworkGateway", ip)
        for p, ip in (() if disable_bgp_route_propagation else gateway_routes)
    ]
    routes = [*system, *gateway, *user_routes]
    best: dict[tuple[int, int], EffectiveRoute] = {}
    for route in routes:
        key = route.interval
        if route.source == "VirtualNetworkGateway" and any(_contains(v, key) for v in vnet_intervals):
            continue  # VNet and peering system routes win over BGP, even more specific BGP routes
        held = best.get(key)
        if held is None or _SOURCE_RANK[route.source] < _SOURCE_RANK[held.source]:
            best[key] = route
    chosen = {id(r) for r in best.values()}
    return [r if id(r) in chosen else _invalid(r) for r in routes]


def _invalid(route: EffectiveRoute) -> EffectiveRoute:
    return replace(route, state="Invalid")


class RouteLookup:
    """Longest prefix match over the active routes: one dict probe per prefix length present."""

    def __init__(self, routes: Sequence[EffectiveRoute]) -> None:
        by_length: dict[tuple[int, int], dict[int, EffectiveRoute]] = {}
        for route in routes:
            if route.state != "Active":
                continue
            lo, hi = route.interval
            size = (hi - lo + 1).bit_length() - 1  # host bits
            family = 4 if lo < V6_BASE else 6
            by_length.setdefault((family, size), {})[lo] = route
        tables = [(size, family, table) for (family, size), table in by_length.items()]
        self._tables = sorted(tables, key=lambda t: t[0])

    def lookup(self, address: int) -> EffectiveRoute | None:
        family = 4 if address < V6_BASE else 6
        for size, fam, table in self._tables:
            if fam != family:
                continue
            base = V6_BASE if family == 6 else 0
            key = base + (((address - base) >> size) << size)
            found = table.get(key)
            if found is not None:
                return found
        return None

    def next_hop(self, address: int) -> NextHop:
        """Network Watcher's next hop: the route table id is the user route's table, else ``System Route``."""
        route = self.lookup(address)
        if route is None:
            return NextHop("None", None, SYSTEM_ROUTE)
        table = route.route_table_id if route.source == "User" else SYSTEM_ROUTE
        return NextHop(route.next_hop_type, route.next_hop_ip_address, table, route)


def next_hop(routes: Sequence[EffectiveRoute], address: int) -> NextHop:
    return RouteLookup(routes).next_hop(address)
