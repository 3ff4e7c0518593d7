"""Network Watcher ``connectivityCheck`` computed on the model: the hops a packet takes and what blocks it.

Warden cannot probe (the host agent will); it follows the effective routes from the source NIC, evaluates
the NSGs on the way (source outbound, every virtual appliance in and out, the destination inbound) and
stops at the first blocking rule or route. ``connectionStatus`` is ``Reachable`` when the model delivers
the packet to a NIC, ``Unreachable`` when a rule or route stops it, and ``Unknown`` when it leaves the
model (Internet, VPN gateway). Latency fields are absent and ``probesSent`` is 0. The source port is
``source.port`` or 49152 (the first ephemeral port).
"""

from __future__ import annotations

import uuid
from typing import Any

from warden.kernel.errors import BadRequest
from warden.network.rules import Evaluator, Flow, NetworkInterface, Topology

EPHEMERAL_PORT = 49152
MAX_HOPS = 16
PROTOCOLS = {"tcp": "Tcp", "http": "Http", "https": "Https", "icmp": "Icmp"}
DEFAULT_PORTS = {"Http": 80, "Https": 443}


def _issue(origin: str, kind: str, **context: str) -> dict[str, Any]:
    return {"origin": origin, "severity": "Error", "type": kind, "context": [{k: v} for k, v in context.items()]}


def _reachable_vnets(topology: Topology, nic: NetworkInterface) -> set[str]:
    """The VNet of ``nic``'s subnet and the VNets peered with it (lower-cased ids): where its addresses lead."""
    vnet_id = topology.subnets[nic.subnet_id.lower()].virtual_network_id.lower()
    vnet = topology.virtual_networks[vnet_id]
    peered = {p.remote_virtual_network_id.lower() for p in vnet.peerings if p.peering_state == "Connected"}
    return {vnet_id} | peered


def _nic_with_ip(topology: Topology, ip: str, near: NetworkInterface) -> NetworkInterface | None:
    """The NIC holding ``ip`` in the VNets ``near`` reaches (private addresses repeat across VNets)."""
    vnets = _reachable_vnets(topology, near)
    for nic in topology.network_interfaces.values():
        if ip in nic.ip_addresses and topology.subnets[nic.subnet_id.lower()].virtual_network_id.lower() in vnets:
            return nic
    return None


class _Path:
    def __init__(self) -> None:
        self.hops: list[dict[str, Any]] = []

    def add(self, kind: str, address: str | None, resource_id: str | None) -> dict[str, Any]:
        hop = {
            "type": kind,
            "id": str(uuid.uuid4()),
            "address": address,
            "resourceId": resource_id,
            "nextHopIds": [],
            "issues": [],
        }
        if self.hops:
            self.hops[-1]["nextHopIds"].append(hop["id"])
        self.hops.append(hop)
        return hop


def check(topology: Topology, source: NetworkInterface, params: dict[str, Any], destination_ip: str) -> dict[str, Any]:
    """The ``ConnectivityInformation`` answer for a packet from ``source``'s primary address to ``destination_ip``."""
    protocol = PROTOCOLS.get(str(params.get("protocol") or "Tcp").lower())
    if protocol is None:
        raise BadRequest("protocol must be Tcp, Http, Https or Icmp.", code="InvalidRequestFormat", target="protocol")
    destination = params.get("destination") or {}
    port = destination.get("port") or DEFAULT_PORTS.get(protocol)
    if protocol != "Icmp" and not isinstance(port, int):
        raise BadRequest("destination.port is required for Tcp.", code="InvalidRequestFormat", target="destination")
    source_port = (params.get("source") or {}).get("port") or EPHEMERAL_PORT
    for value, where in ((port, "destination.port"), (source_port, "source.port")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535):
            raise BadRequest(f"{where} must be a port number.", code="InvalidRequestFormat", target=where)
    wire = "Icmp" if protocol == "Icmp" else "Tcp"
    src_ip = source.ip_addresses[0]
    flow = Flow(wire, src_ip, source_port, destination_ip, port)
    evaluator = Evaluator(topology)
    path = _Path()
    hop = path.add("Source", src_ip, source.id)

    def blocked(at: dict[str, Any], nic: NetworkInterface, direction: str) -> bool:
        verdict = evaluator.verdict(nic, direction, flow)
        if verdict.access == "Deny":
            at["issues"].append(_issue(direction, "NetworkSecurityRule", RuleName=verdict.rule_name or ""))
            return True
        return False

    def answer(status: str) -> dict[str, Any]:
        return {"hops": path.hops, "connectionStatus": status, "probesSent": 0, "probesFailed": 0}

    if blocked(hop, source, "Outbound"):
        return answer("Unreachable")
    current, seen = source, {source.id.lower()}
    for _ in range(MAX_HOPS):
        next_hop = evaluator.next_hop(current.subnet_id, destination_ip)
        kind = next_hop.next_hop_type
        if kind in ("VnetLocal", "VNetPeering", "VNetGlobalPeering"):
            target = _nic_with_ip(topology, destination_ip, current)
            hop = path.add(
                "VirtualMachine" if target else "VirtualNetwork", destination_ip, target.id if target else None
            )
            if target is None:
                hop["issues"].append(_issue("Outbound", "Unknown", Reason="No network interface has this address"))
                return answer("Unreachable")
            return answer("Unreachable" if blocked(hop, target, "Inbound") else "Reachable")
        if kind == "VirtualAppliance":
            appliance = _nic_with_ip(topology, next_hop.next_hop_ip_address or "", current)
            hop = path.add("VirtualAppliance", next_hop.next_hop_ip_address, appliance.id if appliance else None)
            if appliance is None or appliance.id.lower() in seen:
                reason = "Routing loop" if appliance else "No network interface has the next hop address"
                hop["issues"].append(
                    _issue("Outbound", "UserDefinedRoute", Reason=reason, RouteTableId=next_hop.route_table_id or "")
                )
                return answer("Unreachable")
            if not appliance.enable_ip_forwarding:
                hop["issues"].append(_issue("Inbound", "Platform", Reason="IP forwarding is disabled on the appliance"))
                return answer("Unreachable")
            if blocked(hop, appliance, "Inbound") or blocked(hop, appliance, "Outbound"):
                return answer("Unreachable")
            seen.add(appliance.id.lower())
            current = appliance
            continue
        if kind in ("Internet", "VirtualNetworkGateway"):
            path.add(kind, next_hop.next_hop_ip_address or destination_ip, None)
            return answer("Unknown")
        hop["issues"].append(
            _issue(
                "Outbound",
                "UserDefinedRoute" if next_hop.route_table_id != "System Route" else "Platform",
                Reason="The route's next hop is None",
                RouteTableId=next_hop.route_table_id or "",
            )
        )
        return answer("Unreachable")
    hop["issues"].append(_issue("Outbound", "UserDefinedRoute", Reason="Too many hops"))
    return answer("Unreachable")
