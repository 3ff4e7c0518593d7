"""``networkWatchers`` and the Network Watcher operations, answered by the pure engine over the stored model.

Watcher POST actions (Azure's paths and shapes): ``ipFlowVerify``, ``nextHop``, ``securityGroupView``,
``topology`` (an RBAC read, as in Azure: ``networkWatchers/topology/read``), ``troubleshoot``,
``connectivityCheck`` and ``networkConfigurationDiagnostic``. The NIC actions ``effectiveRouteTable`` and
``effectiveNetworkSecurityGroups`` live in ``nic_actions``. Each action also
requires ``read`` on the resource it inspects, so a watcher cannot be used to look into a scope the
caller cannot read.
"""

from __future__ import annotations

from typing import Any

from warden.kernel import operations
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, key
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row
from warden.network import validation as v
from warden.network.common import (
    NETWORK_WATCHERS,
    SECURITY_RULES,
    Composite,
    child_json,
    not_found,
    rows_of_type,
)
from warden.network.connectivity import check
from warden.network.diagnostic import diagnose
from warden.network.handlers import NetworkHandler
from warden.network.limits import check_count
from warden.network.model_builder import build_topology
from warden.network.rules import Evaluator, Flow
from warden.network.rules.blocking import blocked_routes, blocked_rules
from warden.network.security_groups import default_rule_json
from warden.network.targets import ip_of, modelled, nic_with_ip, nics_of, params_of, port_of, readable_row
from warden.network.topology import describe
from warden.network.troubleshoot import troubleshoot as troubleshoot_target


def _validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    if existing is None:
        check_count(ctx, rid, NETWORK_WATCHERS)


BLOCKED_FIELD = "wardenBlockedBy"  # Warden's blocked-path answer in ipFlowVerify / nextHop results

SPEC = Composite(NETWORK_WATCHERS, validate=_validate, read_only=("runningOperationIds",))


class WatcherHandler(NetworkHandler):
    """A watcher's DELETE is long-running in Azure's contract (the SDK accepts only 202 and 204): Warden
    deletes at once and answers 202 with an operation that has already succeeded."""

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        reply = super().delete(ctx, rid)
        if reply.status == 204:
            return reply
        subscription = rid.container.subscription_id or ""
        operation_id = operations.start_operation(
            ctx.conn,
            tenant_id=ctx.tenant_id,
            subscription_id=subscription,
            target_id=str(rid),
            name=f"{NETWORK_WATCHERS}/delete",
            created_by=ctx.caller.object_id,
        )
        operations.finish_operation(ctx.conn, operation_id)
        return operations.accepted(ctx.base_url, subscription, operation_id, ctx.api_version or "2024-05-01")


# ---- shared helpers ------------------------------------------------------------------------------------------


def _watcher(ctx: RequestContext, rid: ResourceId) -> Any:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, str(rid))
    if row is None or row.type_key != NETWORK_WATCHERS.lower():
        raise not_found(rid)
    return row


# ---- actions -------------------------------------------------------------------------------------------------


def ip_flow_verify(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``VerificationIPFlowResult``: ``access`` and the deciding ``ruleName`` (``securityRules/X`` ...)."""
    _watcher(ctx, rid)
    params = params_of(body)
    direction = v.enum(params.get("direction"), v.DIRECTIONS, "direction")
    protocol = v.enum(params.get("protocol"), {k: p for k, p in v.PROTOCOLS.items() if p != "*"}, "protocol")
    local_ip = ip_of(params.get("localIPAddress"), "localIPAddress")
    remote_ip = ip_of(params.get("remoteIPAddress"), "remoteIPAddress")
    local_port = port_of(params.get("localPort"), "localPort", protocol)
    remote_port = port_of(params.get("remotePort"), "remotePort", protocol)
    nics = nics_of(ctx, params.get("targetResourceId"), params.get("targetNicResourceId"), "targetNicResourceId")
    nic = nic_with_ip(nics, local_ip, "localIPAddress")
    topology_ = build_topology(ctx)
    modelled(topology_, nic.id)
    evaluator = Evaluator(topology_)
    verdict = evaluator.verify_ip_flow(nic.id, direction, protocol, local_ip, local_port, remote_ip, remote_port)
    answer = verdict.to_azure()
    if verdict.access == "Deny":
        # Warden's extra field (the SDK keeps unknown keys and ignores them): every rule that would have to change
        ends = (remote_ip, remote_port, local_ip, local_port)
        if direction == "Outbound":
            ends = (local_ip, local_port, remote_ip, remote_port)
        flow = Flow(protocol, *ends)
        answer[BLOCKED_FIELD] = [b.to_json() for b in blocked_rules(evaluator, nic.id, direction, flow)]
    return Reply(200, answer)


def next_hop(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``NextHopResult``: ``nextHopType``, ``nextHopIpAddress`` and ``routeTableId`` (``System Route`` or a table)."""
    _watcher(ctx, rid)
    params = params_of(body)
    source = ip_of(params.get("sourceIPAddress"), "sourceIPAddress")
    destination = ip_of(params.get("destinationIPAddress"), "destinationIPAddress")
    nics = nics_of(ctx, params.get("targetResourceId"), params.get("targetNicResourceId"), "targetNicResourceId")
    nic = nic_with_ip(nics, source, "sourceIPAddress")
    topology_ = build_topology(ctx)
    modelled(topology_, nic.id)
    evaluator = Evaluator(topology_)
    hop = evaluator.next_hop_from_nic(nic.id, destination)
    answer = hop.to_azure()
    if answer.get("nextHopIpAddress") is None:
        answer.pop("nextHopIpAddress")
    if hop.next_hop_type == "None":
        subnet_id = topology_.network_interfaces[key(nic.id)].subnet_id
        answer[BLOCKED_FIELD] = [b.to_json() for b in blocked_routes(evaluator, subnet_id, destination)]
    return Reply(200, answer)


def security_group_view(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``SecurityGroupViewResult``: per NIC, the NIC and subnet NSG rules, the defaults and the effective rules."""
    assert ctx.conn is not None
    _watcher(ctx, rid)
    params = params_of(body)
    nics = nics_of(ctx, params.get("targetResourceId"), None, "targetResourceId")
    topology = build_topology(ctx)
    evaluator = Evaluator(topology)
    out = []
    for nic in nics:
        model = modelled(topology, nic.id)
        subnet = topology.subnets[key(model.subnet_id)]
        effective = [
            rule for group in evaluator.effective_security_rules(nic.id) for rule in group["effectiveSecurityRules"]
        ]
        defaults = []
        nsg_ids = [i for i in (subnet.network_security_group_id, model.network_security_group_id) if i]
        if nsg_ids:
            defaults = [
                default_rule_json(nsg_ids[0], r)
                for r in topology.network_security_groups[key(nsg_ids[0])].default_security_rules
            ]
        out.append(
            {
                "id": nic.id,
                "securityRuleAssociations": {
                    "networkInterfaceAssociation": {
                        "id": nic.id,
                        "securityRules": _rules(ctx, model.network_security_group_id),
                    },
                    "subnetAssociation": {
                        "id": subnet.id,
                        "securityRules": _rules(ctx, subnet.network_security_group_id),
                    },
                    "defaultSecurityRules": defaults,
                    "effectiveSecurityRules": effective,
                },
            }
        )
    return Reply(200, {"networkInterfaces": out})


def _rules(ctx: RequestContext, nsg_id: str | None) -> list[dict[str, Any]]:
    assert ctx.conn is not None
    if not nsg_id:
        return []
    return [child_json(r) for r in rows_of_type(ctx.conn, ctx.tenant_id, SECURITY_RULES, parent=nsg_id)]


def topology(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``Topology``: the resources of a resource group (in the watcher's region) and how they are associated."""
    watcher = _watcher(ctx, rid)
    params = params_of(body)
    return Reply(200, describe(ctx, watcher, params))


def troubleshoot(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``TroubleshootingResult`` for a VPN gateway or connection (``storageId``/``storagePath`` are accepted and
    not used: Warden keeps no log blobs)."""
    _watcher(ctx, rid)
    params = params_of(body)
    target = readable_row(ctx, params.get("targetResourceId"), "targetResourceId")
    return Reply(200, troubleshoot_target(ctx, target))


def connectivity_check(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``ConnectivityInformation`` computed on the model (see ``network.connectivity``)."""
    _watcher(ctx, rid)
    params = params_of(body)
    source = params.get("source") or {}
    nics = nics_of(ctx, source.get("resourceId") if isinstance(source, dict) else None, None, "source.resourceId")
    destination = params.get("destination") or {}
    if not isinstance(destination, dict):
        raise BadRequest("destination must be an object.", code="InvalidRequestFormat", target="destination")
    if destination.get("resourceId"):
        targets = nics_of(ctx, destination["resourceId"], None, "destination.resourceId")
        primary = _primary_config(targets[0])
        address = primary["properties"]["privateIPAddress"]
    else:
        address = ip_of(destination.get("address"), "destination.address")
    topology_ = build_topology(ctx)
    source_nic = modelled(topology_, nics[0].id)
    return Reply(200, check(topology_, source_nic, params, address))


def _primary_config(nic: Any) -> dict[str, Any]:
    configs = nic.body["properties"]["ipConfigurations"]
    return next((c for c in configs if c["properties"].get("primary")), configs[0])


def configuration_diagnostic(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``NetworkConfigurationDiagnosticResponse`` for a VM's (or NIC's) NICs and the request's profiles."""
    _watcher(ctx, rid)
    params = params_of(body)
    nics = nics_of(ctx, params.get("targetResourceId"), None, "targetResourceId")
    topology_ = build_topology(ctx)
    ids = [modelled(topology_, nic.id).id for nic in nics]
    return Reply(200, diagnose(topology_, ids, params.get("profiles")))
