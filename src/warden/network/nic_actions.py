"""The NIC actions Azure serves on ``networkInterfaces`` (not on the watcher): ``effectiveRouteTable`` and
``effectiveNetworkSecurityGroups``, answered by the engine over the stored model."""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.ids import ResourceId, key
from warden.kernel.reply import Reply
from warden.network.model_builder import build_topology
from warden.network.rules import Evaluator
from warden.network.targets import modelled, readable_row


def nic_effective_routes(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``EffectiveRouteListResult`` of a NIC: every route of its subnet with its Active/Invalid state."""
    nic = readable_row(ctx, str(rid), "networkInterface")
    topology_ = build_topology(ctx)
    model = modelled(topology_, nic.id)
    table = topology_.route_tables.get(key(topology_.subnets[key(model.subnet_id)].route_table_id or ""))
    disable = bool(table and table.disable_bgp_route_propagation)
    routes = Evaluator(topology_).effective_routes(model.subnet_id)
    return Reply(200, {"value": [{**r.to_azure(), "disableBgpRoutePropagation": disable} for r in routes]})


def nic_effective_security_groups(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``EffectiveNetworkSecurityGroupListResult`` of a NIC: the subnet's and the NIC's NSGs, rules expanded."""
    nic = readable_row(ctx, str(rid), "networkInterface")
    topology_ = build_topology(ctx)
    modelled(topology_, nic.id)
    return Reply(200, {"value": Evaluator(topology_).effective_security_rules(nic.id)})
