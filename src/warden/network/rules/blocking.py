"""Blocked-path answers: for a denied or black-holed flow, every rule and route that would have to change for it
to pass, not only the first one that stopped it.

* NSGs: the flow passes a level when its first matching rule allows it. At each level with an NSG, the rules
  that would have to change are the matching Deny rules above the first matching Allow (all matching Deny
  rules, the default ``DenyAll...`` included, when no Allow matches) — both levels are examined, where the
  verdict engine stops at the first Deny.
* Routes: longest prefix match over the active routes; the routes that would have to change are the matching
  routes with next hop ``None`` above the first matching route with another next hop. When the destination
  lies in a VNet the subnet's VNet has no Connected peering to, that missing peering is named too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .addresses import address_value, prefix_interval
from .evaluate import Evaluator
from .model import Flow, normalize_direction
from .nsg import flow_key, ip_flow_verify_name
from .routes import SYSTEM_ROUTE, EffectiveRoute
from .space import PROTOCOL_CODE, rule_box


@dataclass(frozen=True)
class Blocker:
    kind: str  # securityRule | route | peering
    level: str  # subnet | nic | route | peering
    resource_id: str  # the NSG, the route table (or "System Route"), the remote VNet
    name: str
    detail: str

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "level": self.level,
            "id": self.resource_id,
            "name": self.name,
            "detail": self.detail,
        }


def blocked_rules(evaluator: Evaluator, nic_id: str, direction: str, flow: Flow) -> list[Blocker]:
    """The NSG rules (both levels, evaluation order) that would have to change for ``flow`` to be allowed;
    empty when it is allowed."""
    topology = evaluator.topology
    direction = normalize_direction(direction)
    nic = topology.network_interfaces[nic_id.lower()]
    subnet = topology.subnets[nic.subnet_id.lower()]
    levels = [("subnet", subnet.network_security_group_id), ("nic", nic.network_security_group_id)]
    if direction == "Outbound":
        levels.reverse()
    protocol, source, sport, destination, dport = flow_key(flow)
    out = []
    for level, nsg_id in levels:
        if not nsg_id:
            continue
        context = evaluator.context(subnet.id)
        for rule in evaluator.compiled(nsg_id, direction, subnet.id).rules:
            box = rule_box(rule, context)
            point = (PROTOCOL_CODE[protocol], source, sport, destination, dport)
            if not all(value in values for value, values in zip(point, box.sets, strict=True)):
                continue
            if rule.access == "Allow":
                break
            detail = f"{rule.access} at priority {rule.priority} matches the flow"
            out.append(Blocker("securityRule", level, nsg_id, ip_flow_verify_name(rule), detail))
    return out


def _matching_routes(routes: list[EffectiveRoute], destination: int) -> list[EffectiveRoute]:
    hits = [r for r in routes if r.state == "Active" and r.interval[0] <= destination <= r.interval[1]]
    return sorted(hits, key=lambda r: r.interval[1] - r.interval[0])  # most specific first


def blocked_routes(evaluator: Evaluator, subnet_id: str, destination_ip: str) -> list[Blocker]:
    """The routes (and missing peerings) that black-hole ``destination_ip`` from the subnet; empty when the next
    hop is not ``None``."""
    topology = evaluator.topology
    destination = address_value(destination_ip)
    out = []
    for route in _matching_routes(evaluator.effective_routes(subnet_id), destination):
        if route.next_hop_type != "None":
            break
        table = route.route_table_id if route.source == "User" else SYSTEM_ROUTE
        name = route.name or route.address_prefix
        out.append(Blocker("route", "route", table or SYSTEM_ROUTE, name, f"{route.address_prefix} -> None"))
    if not out:
        return out
    subnet = topology.subnets[subnet_id.lower()]
    own = topology.virtual_networks[subnet.virtual_network_id.lower()]
    connected = {p.remote_virtual_network_id.lower() for p in own.peerings if p.peering_state.lower() == "connected"}
    for vnet in topology.virtual_networks.values():
        if vnet.id.lower() == own.id.lower() or vnet.id.lower() in connected:
            continue
        for prefix in vnet.address_space:
            lo, hi = prefix_interval(prefix)
            if lo <= destination <= hi:
                states = [
                    p.peering_state for p in own.peerings if p.remote_virtual_network_id.lower() == vnet.id.lower()
                ]
                detail = f"{prefix} is in this VNet; peering " + (f"is {states[0]}" if states else "missing")
                out.append(Blocker("peering", "peering", vnet.id, vnet.id.rstrip("/").rsplit("/", 1)[-1], detail))
                break
    return out
