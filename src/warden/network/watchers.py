"""``networkWatchers`` and the Network Watcher operations, answered by the pure engine over the stored model.

Watcher POST actions (Azure's paths and shapes): ``ipFlowVerify``, ``nextHop``, ``securityGroupView``,
``topology`` (an RBAC read, as in Azure: ``networkWatchers/topology/read``). The NIC actions
``effectiveRouteTable`` and ``effectiveNetworkSecurityGroups`` live in ``nic_actions``. Each action also
requires ``read`` on the resource it inspects, so a watcher cannot be used to look into a scope the
caller cannot read.
"""

from __future__ import annotations

from typing import Any

from warden.kernel import operations
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId, key, parse_resource_id
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row
from warden.network import validation as v
from warden.network.common import (
    NETWORK_INTERFACES,
    NETWORK_WATCHERS,
    SECURITY_RULES,
    VIRTUAL_MACHINES,
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
from warden.network.rules import Evaluator
from warden.network.security_groups import default_rule_json
from warden.network.topology import describe
from warden.network.troubleshoot import troubleshoot as troubleshoot_target


def _validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    if existing is None:
        check_count(ctx, rid, NETWORK_WATCHERS)


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


def _params(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("The request content must be a JSON object.", code="InvalidRequestContent")
    return body


def _readable_row(ctx: RequestContext, resource_id: Any, target: str) -> Any:
    """The stored resource ``resource_id`` names, after checking the caller may read it; raises 404 otherwise."""
    assert ctx.conn is not None
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        raise BadRequest(f"'{target}' must be a resource ID.", code="InvalidRequestFormat", target=target)
    try:
        rid = parse_resource_id(resource_id)
    except ValueError:
        raise BadRequest(f"'{target}' must be a resource ID.", code="InvalidRequestFormat", target=target) from None
    ctx.authorize(f"{rid.type}/read", resource_id)
    row = get_row(ctx.conn, ctx.tenant_id, resource_id)
    if row is None:
        raise NotFound(f"The resource '{resource_id}' ({target}) was not found.", code="NotFound", target=target)
    return row


def _nics_of(ctx: RequestContext, target: Any, nic_id: Any, field: str) -> list[Any]:
    """The NIC rows a watcher request is about: the VM's NICs (or the NIC itself), narrowed to ``nic_id``."""
    assert ctx.conn is not None
    row = _readable_row(ctx, target, "targetResourceId")
    if row.type_key == NETWORK_INTERFACES.lower():
        nics = [row]
    elif row.type_key == VIRTUAL_MACHINES.lower():
        ids = [n["id"] for n in row.body["properties"]["networkProfile"]["networkInterfaces"]]
        nics = [r for r in (get_row(ctx.conn, ctx.tenant_id, i) for i in ids) if r is not None]
    else:
        raise BadRequest(
            "targetResourceId must be a virtual machine or a network interface.",
            code="InvalidTargetResourceType",
            target="targetResourceId",
        )
    if nic_id:
        nics = [n for n in nics if key(n.id) == key(str(nic_id))]
        if not nics:
            raise BadRequest(
                f"Network interface {nic_id} is not attached to {target}.",
                code="InvalidTargetNicResourceId",
                target=field,
            )
    return nics


def _nic_with_ip(nics: list[Any], ip: str, target: str) -> Any:
    for nic in nics:
        for config in nic.body["properties"].get("ipConfigurations") or []:
            if config["properties"].get("privateIPAddress") == ip:
                return nic
    raise BadRequest(
        f"IP address {ip} is not an address of the target's network interfaces.",
        code="InvalidIpAddressForTarget",
        target=target,
    )


def _modelled(topology_: Any, nic_id: str) -> Any:
    """The engine's NIC; raises when the NIC's subnet no longer exists (deleted with another group)."""
    nic = topology_.network_interfaces.get(key(nic_id))
    if nic is None:
        raise BadRequest(f"The subnet of network interface {nic_id} no longer exists.", code="InvalidResourceReference")
    return nic


def _port(value: Any, target: str, protocol: str) -> int | None:
    if protocol not in ("Tcp", "Udp"):
        return None
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise BadRequest(
            f"'{target}' must be a single port number between 0 and 65535.", code="InvalidPort", target=target
        )
    return int(text)


def _ip(value: Any, target: str) -> str:
    return str(v.address(value, target, code="InvalidIpAddress"))


# ---- actions -------------------------------------------------------------------------------------------------


def ip_flow_verify(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``VerificationIPFlowResult``: ``access`` and the deciding ``ruleName`` (``securityRules/X`` ...)."""
    _watcher(ctx, rid)
    params = _params(body)
    direction = v.enum(params.get("direction"), v.DIRECTIONS, "direction")
    protocol = v.enum(params.get("protocol"), {k: p for k, p in v.PROTOCOLS.items() if p != "*"}, "protocol")
    local_ip = _ip(params.get("localIPAddress"), "localIPAddress")
    remote_ip = _ip(params.get("remoteIPAddress"), "remoteIPAddress")
    local_port = _port(params.get("localPort"), "localPort", protocol)
    remote_port = _port(params.get("remotePort"), "remotePort", protocol)
    nics = _nics_of(ctx, params.get("targetResourceId"), params.get("targetNicResourceId"), "targetNicResourceId")
    nic = _nic_with_ip(nics, local_ip, "localIPAddress")
    topology_ = build_topology(ctx)
    _modelled(topology_, nic.id)
    evaluator = Evaluator(topology_)
    verdict = evaluator.verify_ip_flow(nic.id, direction, protocol, local_ip, local_port, remote_ip, remote_port)
    return Reply(200, verdict.to_azure())


def next_hop(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``NextHopResult``: ``nextHopType``, ``nextHopIpAddress`` and ``routeTableId`` (``System Route`` or a table)."""
    _watcher(ctx, rid)
    params = _params(body)
    source = _ip(params.get("sourceIPAddress"), "sourceIPAddress")
    destination = _ip(params.get("destinationIPAddress"), "destinationIPAddress")
    nics = _nics_of(ctx, params.get("targetResourceId"), params.get("targetNicResourceId"), "targetNicResourceId")
    nic = _nic_with_ip(nics, source, "sourceIPAddress")
    topology_ = build_topology(ctx)
    _modelled(topology_, nic.id)
    hop = Evaluator(topology_).next_hop_from_nic(nic.id, destination)
    answer = hop.to_azure()
    if answer.get("nextHopIpAddress") is None:
        answer.pop("nextHopIpAddress")
    return Reply(200, answer)


def security_group_view(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``SecurityGroupViewResult``: per NIC, the NIC and subnet NSG rules, the defaults and the effective rules."""
    assert ctx.conn is not None
    _watcher(ctx, rid)
    params = _params(body)
    nics = _nics_of(ctx, params.get("targetResourceId"), None, "targetResourceId")
    topology = build_topology(ctx)
    evaluator = Evaluator(topology)
    out = []
    for nic in nics:
        model = _modelled(topology, nic.id)
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
    params = _params(body)
    return Reply(200, describe(ctx, watcher, params))


def nic_effective_routes(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``EffectiveRouteListResult`` of a NIC: every route of its subnet with its Active/Invalid state."""
    nic = _readable_row(ctx, str(rid), "networkInterface")
    topology_ = build_topology(ctx)
    model = _modelled(topology_, nic.id)
    table = topology_.route_tables.get(key(topology_.subnets[key(model.subnet_id)].route_table_id or ""))
    disable = bool(table and table.disable_bgp_route_propagation)
    routes = Evaluator(topology_).effective_routes(model.subnet_id)
    return Reply(200, {"value": [{**r.to_azure(), "disableBgpRoutePropagation": disable} for r in routes]})


def nic_effective_security_groups(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``EffectiveNetworkSecurityGroupListResult`` of a NIC: the subnet's and the NIC's NSGs, rules expanded."""
    nic = _readable_row(ctx, str(rid), "networkInterface")
    topology_ = build_topology(ctx)
    _modelled(topology_, nic.id)
    return Reply(200, {"value": Evaluator(topology_).effective_security_rules(nic.id)})


def troubleshoot(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``TroubleshootingResult`` for a VPN gateway or connection (``storageId``/``storagePath`` are accepted and
    not used: Warden keeps no log blobs)."""
    _watcher(ctx, rid)
    params = _params(body)
    target = _readable_row(ctx, params.get("targetResourceId"), "targetResourceId")
    return Reply(200, troubleshoot_target(ctx, target))


def connectivity_check(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``ConnectivityInformation`` computed on the model (see ``network.connectivity``)."""
    _watcher(ctx, rid)
    params = _params(body)
    source = params.get("source") or {}
    nics = _nics_of(ctx, source.get("resourceId") if isinstance(source, dict) else None, None, "source.resourceId")
    destination = params.get("destination") or {}
    if not isinstance(destination, dict):
        raise BadRequest("destination must be an object.", code="InvalidRequestFormat", target="destination")
    if destination.get("resourceId"):
        targets = _nics_of(ctx, destination["resourceId"], None, "destination.resourceId")
        primary = _primary_config(targets[0])
        address = primary["properties"]["privateIPAddress"]
    else:
        address = _ip(destination.get("address"), "destination.address")
    topology_ = build_topology(ctx)
    source_nic = _modelled(topology_, nics[0].id)
    return Reply(200, check(topology_, source_nic, params, address))


def _primary_config(nic: Any) -> dict[str, Any]:
    configs = nic.body["properties"]["ipConfigurations"]
    return next((c for c in configs if c["properties"].get("primary")), configs[0])


def configuration_diagnostic(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``NetworkConfigurationDiagnosticResponse`` for a VM's (or NIC's) NICs and the request's profiles."""
    _watcher(ctx, rid)
    params = _params(body)
    nics = _nics_of(ctx, params.get("targetResourceId"), None, "targetResourceId")
    topology_ = build_topology(ctx)
    ids = [_modelled(topology_, nic.id).id for nic in nics]
    return Reply(200, diagnose(topology_, ids, params.get("profiles")))
