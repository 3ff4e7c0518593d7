"""Values the evaluator needs, independent of the REST shapes (``from_azure`` reads those)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROTOCOLS = {"*": "*", "any": "*", "tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah"}
FLOW_PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah")
PORTED_PROTOCOLS = ("Tcp", "Udp")
DIRECTIONS = {"inbound": "Inbound", "outbound": "Outbound"}
ACCESSES = {"allow": "Allow", "deny": "Deny"}


def normalize_protocol(text: str) -> str:
    try:
        return PROTOCOLS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"invalid protocol {text!r}") from None


def normalize_direction(text: str) -> str:
    try:
        return DIRECTIONS[text.strip().lower()]
    except KeyError:
        raise ValueError(f"invalid direction {text!r}") from None


def normalize_access(text: str) -> str:
    try:
        return ACCESSES[text.strip().lower()]
    except KeyError:
        raise ValueError(f"invalid access {text!r}") from None


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _ids(items: Iterable[Any] | None) -> tuple[str, ...]:
    out = []
    for item in items or ():
        out.append(item["id"] if isinstance(item, Mapping) else str(item))
    return tuple(out)


_LIST_FIELDS = (
    "source_address_prefixes",
    "source_port_ranges",
    "destination_address_prefixes",
    "destination_port_ranges",
    "source_asgs",
    "destination_asgs",
)


@dataclass(frozen=True)
class SecurityRule:
    """One NSG rule; prefixes and ports are the union of Azure's singular and plural fields."""

    name: str
    priority: int
    direction: str
    access: str
    protocol: str = "*"
    source_address_prefixes: tuple[str, ...] = ("*",)
    source_port_ranges: tuple[str, ...] = ("*",)
    destination_address_prefixes: tuple[str, ...] = ("*",)
    destination_port_ranges: tuple[str, ...] = ("*",)
    source_asgs: tuple[str, ...] = ()
    destination_asgs: tuple[str, ...] = ()
    default: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", normalize_protocol(self.protocol))
        object.__setattr__(self, "direction", normalize_direction(self.direction))
        object.__setattr__(self, "access", normalize_access(self.access))
        for name in _LIST_FIELDS:
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))

    @classmethod
    def from_azure(cls, rule: Mapping[str, Any], *, default: bool = False) -> SecurityRule:
        """From a ``securityRules`` item (ARM shape, ``properties`` optional)."""
        props = rule.get("properties", rule)

        def both(singular: str, plural: str) -> tuple[str, ...]:
            values = [*_as_tuple(props.get(singular) or None), *_as_tuple(props.get(plural))]
            return tuple(values)

        source_asgs = _ids(props.get("sourceApplicationSecurityGroups"))
        destination_asgs = _ids(props.get("destinationApplicationSecurityGroups"))
        source = both("sourceAddressPrefix", "sourceAddressPrefixes")
        destination = both("destinationAddressPrefix", "destinationAddressPrefixes")
        return cls(
            name=rule["name"],
            priority=int(props["priority"]),
            direction=props["direction"],
            access=props["access"],
            protocol=props.get("protocol", "*"),
            source_address_prefixes=source or (() if source_asgs else ("*",)),
            source_port_ranges=both("sourcePortRange", "sourcePortRanges") or ("*",),
            destination_address_prefixes=destination or (() if destination_asgs else ("*",)),
            destination_port_ranges=both("destinationPortRange", "destinationPortRanges") or ("*",),
            source_asgs=source_asgs,
            destination_asgs=destination_asgs,
            default=default,
        )


def _default(name: str, priority: int, direction: str, access: str, source: str, destination: str) -> SecurityRule:
    return SecurityRule(name, priority, direction, access, "*", (source,), ("*",), (destination,), ("*",), default=True)


# https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules
DEFAULT_SECURITY_RULES: tuple[SecurityRule, ...] = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


@dataclass(frozen=True)
class NetworkSecurityGroup:
    id: str
    security_rules: tuple[SecurityRule, ...] = ()

    @property
    def name(self) -> str:
        return self.id.rstrip("/").rsplit("/", 1)[-1]

    @property
    def default_security_rules(self) -> tuple[SecurityRule, ...]:
        return DEFAULT_SECURITY_RULES

    def rules(self, direction: str) -> list[SecurityRule]:
        """The rules of one direction in evaluation order: user rules by priority, then the defaults."""
        direction = normalize_direction(direction)
        user = sorted((r for r in self.security_rules if r.direction == direction), key=lambda r: r.priority)
        return user + [r for r in DEFAULT_SECURITY_RULES if r.direction == direction]

    @classmethod
    def from_azure(cls, nsg: Mapping[str, Any]) -> NetworkSecurityGroup:
        props = nsg.get("properties", nsg)
        rules = tuple(SecurityRule.from_azure(r) for r in props.get("securityRules") or ())
        return cls(id=nsg.get("id") or nsg.get("name", ""), security_rules=rules)


@dataclass(frozen=True)
class Flow:
    """One packet's 5-tuple; ports are ``None`` for protocols without ports."""

    protocol: str
    source_ip: str
    source_port: int | None
    destination_ip: str
    destination_port: int | None


# ---- routing and topology -------------------------------------------------------------------------------------

NEXT_HOP_TYPES = {
    "virtualnetworkgateway": "VirtualNetworkGateway",
    "vnetlocal": "VnetLocal",
    "internet": "Internet",
    "virtualappliance": "VirtualAppliance",
    "none": "None",
}


@dataclass(frozen=True)
class Route:
    """A user-defined route."""

    name: str
    address_prefix: str
    next_hop_type: str
    next_hop_ip_address: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "next_hop_type", NEXT_HOP_TYPES[self.next_hop_type.lower()])
        except KeyError:
            raise ValueError(f"invalid next hop type {self.next_hop_type!r}") from None
        if self.next_hop_type == "VirtualAppliance" and not self.next_hop_ip_address:
            raise ValueError(f"route {self.name!r}: VirtualAppliance needs nextHopIpAddress")


@dataclass(frozen=True)
class RouteTable:
    id: str
    routes: tuple[Route, ...] = ()
    disable_bgp_route_propagation: bool = False


@dataclass(frozen=True)
class VirtualNetworkGateway:
    """A gateway with the prefixes it brings: local network gateways' address spaces and BGP-learned routes."""

    id: str
    ip_address: str
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Peering:
    name: str
    remote_virtual_network_id: str
    peering_state: str = "Connected"
    use_remote_gateways: bool = False
    is_global: bool = False


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    address_space: tuple[str, ...]
    peerings: tuple[Peering, ...] = ()
    gateway: VirtualNetworkGateway | None = None


@dataclass(frozen=True)
class Subnet:
    id: str
    virtual_network_id: str
    address_prefixes: tuple[str, ...]
    network_security_group_id: str | None = None
    route_table_id: str | None = None


@dataclass(frozen=True)
class NetworkInterface:
    id: str
    subnet_id: str
    ip_addresses: tuple[str, ...]
    network_security_group_id: str | None = None
    application_security_group_ids: tuple[str, ...] = ()
    enable_ip_forwarding: bool = False


@dataclass
class Topology:
    """Everything the evaluator looks up, keyed by lower-cased resource id."""

    virtual_networks: dict[str, VirtualNetwork] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    network_interfaces: dict[str, NetworkInterface] = field(default_factory=dict)
    network_security_groups: dict[str, NetworkSecurityGroup] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)

    def add(self, *items: Any) -> Topology:
        tables = {
            VirtualNetwork: self.virtual_networks,
            Subnet: self.subnets,
            NetworkInterface: self.network_interfaces,
            NetworkSecurityGroup: self.network_security_groups,
            RouteTable: self.route_tables,
        }
        for item in items:
            tables[type(item)][item.id.lower()] = item
        return self
