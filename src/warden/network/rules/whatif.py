"""What-if for an NSG change: the exact flows whose verdict would flip, per NIC the NSG applies to.

For each NIC that uses the NSG (through its subnet or directly) and each direction, the allowed region of the
NIC's flows (inbound: to its addresses; outbound: from them) is computed through both NSG levels with the
current NSG and with the changed one; the flips are the two differences of those regions.
"""

from __future__ import annotations

from dataclasses import dataclass

from .addresses import EMPTY, IntervalSet, prefixes
from .evaluate import Evaluator
from .exposure import level_rules
from .model import NetworkSecurityGroup
from .space import Region, allowed, box_json, coalesce, internet_names, is_empty, subtract, universe
from .tags import internet


@dataclass(frozen=True)
class Flip:
    network_interface_id: str
    direction: str
    level: str  # where the changed NSG applies to this NIC: subnet | nic
    now_denied: Region  # allowed today, denied after the change
    now_allowed: Region  # denied today, allowed after the change
    internet: IntervalSet = EMPTY  # the subnet's Internet set, to name it in the JSON

    def to_json(self) -> dict:
        return {
            "networkInterfaceId": self.network_interface_id,
            "direction": self.direction,
            "level": self.level,
            "allowToDeny": [box_json(b, internet_names(self.internet)) for b in self.now_denied],
            "denyToAllow": [box_json(b, internet_names(self.internet)) for b in self.now_allowed],
        }


def _allowed(evaluator: Evaluator, nic_id: str, direction: str, replace: tuple[str, NetworkSecurityGroup] | None):
    topology = evaluator.topology
    nic = topology.network_interfaces[nic_id.lower()]
    subnet = topology.subnets[nic.subnet_id.lower()]
    context = evaluator.context(subnet.id)
    own = prefixes(f"{ip}/{128 if ':' in ip else 32}" for ip in nic.ip_addresses)
    region = universe(destination=own) if direction == "Inbound" else universe(source=own)
    for nsg_id in (subnet.network_security_group_id, nic.network_security_group_id):
        if replace is not None and nsg_id and nsg_id.lower() == replace[0]:
            rules = replace[1].rules(direction)
        else:
            rules = level_rules(evaluator, nsg_id, direction)
        region = allowed(rules, context, region)
    return region


def what_if(evaluator: Evaluator, nsg_id: str, changed: NetworkSecurityGroup) -> list[Flip]:
    """Per NIC using ``nsg_id`` and per direction, the flows ``changed`` (the NSG's new rules) would flip.

    Directions where nothing flips are left out; a NIC is listed under the level where the NSG applies.
    """
    topology = evaluator.topology
    target = nsg_id.lower()
    out = []
    for nic in sorted(topology.network_interfaces.values(), key=lambda n: n.id.lower()):
        subnet = topology.subnets[nic.subnet_id.lower()]
        levels = [
            level
            for level, used in (("subnet", subnet.network_security_group_id), ("nic", nic.network_security_group_id))
            if used and used.lower() == target
        ]
        if not levels:
            continue
        for direction in ("Inbound", "Outbound"):
            before = _allowed(evaluator, nic.id, direction, None)
            after = _allowed(evaluator, nic.id, direction, (target, changed))
            denied, opened = coalesce(subtract(before, after)), coalesce(subtract(after, before))
            if not (is_empty(denied) and is_empty(opened)):
                the_internet = internet(evaluator.context(subnet.id).virtual_network)
                out.append(Flip(nic.id, direction, "+".join(levels), denied, opened, the_internet))
    return out
