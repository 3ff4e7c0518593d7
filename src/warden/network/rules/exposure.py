"""Internet exposure: every flow from the Internet a NIC accepts, exact over ranges, through both NSG levels.

A flow from the Internet reaches a NIC only through a public IP address (Azure translates it to the IP
configuration's private address before the NSGs see it), so the caller names the private addresses that have a
public IP; a NIC without one is not reachable from the Internet and has no exposure. The sources are the
subnet's ``Internet`` tag set (public addresses outside its ``VirtualNetwork`` set). Inbound order as in the
verdict engine: the subnet NSG, then the NIC NSG; both must allow; a level without an NSG allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .addresses import IntervalSet, prefixes
from .evaluate import Evaluator
from .space import Region, allowed, box_json, coalesce, internet_names, universe
from .tags import internet


@dataclass(frozen=True)
class Exposure:
    network_interface_id: str
    addresses: IntervalSet  # the private addresses that have a public IP
    internet: IntervalSet  # the subnet's Internet set, the sources considered
    flows: Region  # inbound flows both NSG levels allow

    def to_json(self) -> list[dict]:
        """One row per box: protocols, Internet source ranges, source ports, destination address and ports."""
        names = internet_names(self.internet)
        return [box_json(b, names) for b in self.flows]


def level_rules(evaluator: Evaluator, nsg_id: str | None, direction: str):
    """The rules of an NSG in one direction, or None (no NSG: the level allows)."""
    if not nsg_id:
        return None
    return evaluator.topology.network_security_groups[nsg_id.lower()].rules(direction)


def exposure(evaluator: Evaluator, nic_id: str, public_addresses: Iterable[str]) -> Exposure:
    """The Internet flows ``nic_id`` accepts on ``public_addresses`` (its private IPs that have a public IP)."""
    topology = evaluator.topology
    nic = topology.network_interfaces[nic_id.lower()]
    subnet = topology.subnets[nic.subnet_id.lower()]
    context = evaluator.context(subnet.id)
    sources = internet(context.virtual_network)
    addresses = prefixes(a if "/" in a else f"{a}/{128 if ':' in a else 32}" for a in public_addresses)
    if not addresses or not sources:
        return Exposure(nic.id, addresses, sources, [])
    region = universe(sources, addresses)
    region = allowed(level_rules(evaluator, subnet.network_security_group_id, "Inbound"), context, region)
    region = allowed(level_rules(evaluator, nic.network_security_group_id, "Inbound"), context, region)
    return Exposure(nic.id, addresses, sources, coalesce(region))
