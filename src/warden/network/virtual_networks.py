"""``virtualNetworks`` with their ``subnets`` and ``virtualNetworkPeerings`` (child resources and inline).

Rules (https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-subnet and
virtual-network-manage-peering): subnets lie inside the VNet's address space and do not overlap;
the smallest IPv4 subnet is /29; a subnet's NSG and route table must exist; a subnet with IP
configurations cannot be deleted or moved off their addresses; peered VNets' address spaces must not
overlap. ``peeringState`` is computed: ``Connected`` when the remote VNet peers back, ``Initiated``
when it does not, ``Disconnected`` when the remote VNet is gone.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, key
from warden.kernel.resources import get_row
from warden.network import validation as v
from warden.network.common import (
    PEERINGS,
    ROUTE_TABLES,
    SECURITY_GROUPS,
    SUBNETS,
    VIRTUAL_NETWORKS,
    Composite,
    in_use,
    ip_configuration_users,
    resolve_ref,
    rows_of_type,
)
from warden.network.limits import check_count

MIN_SUBNET_V4 = 29


def address_space(props: dict[str, Any]) -> list[v.Network]:
    space = props.get("addressSpace") or {}
    prefixes = space.get("addressPrefixes") if isinstance(space, dict) else None
    if not prefixes or not isinstance(prefixes, list):
        raise BadRequest(
            "The virtual network must have at least one address prefix in addressSpace.addressPrefixes.",
            code="InvalidAddressSpace",
            target="properties.addressSpace",
        )
    nets = v.networks(prefixes, "properties.addressSpace.addressPrefixes")
    clash = v.overlapping([(str(n), n) for n in nets])
    if clash:
        raise BadRequest(
            f"Address prefixes {clash[0]} and {clash[1]} of the virtual network overlap.",
            code="NetcfgInvalidAddressSpace",
            target="properties.addressSpace",
        )
    props["addressSpace"] = {**space, "addressPrefixes": [str(n) for n in nets]}
    return nets


def subnet_networks(name: str, props: dict[str, Any]) -> list[v.Network]:
    """A subnet's prefixes (``addressPrefix`` xor ``addressPrefixes``), checked for syntax and size."""
    prefixes = v.prefix_list(props, "addressPrefix", "addressPrefixes", f"subnets/{name}")
    if not prefixes:
        raise BadRequest(
            f"Subnet {name} must have an addressPrefix or addressPrefixes.",
            code="InvalidRequestFormat",
            target=f"subnets/{name}",
        )
    nets = v.networks(prefixes, f"subnets/{name}.addressPrefix")
    for net in nets:
        if net.version == 4 and net.prefixlen > MIN_SUBNET_V4:
            raise BadRequest(
                f"Subnet {name} with prefix {net} is too small: the smallest supported IPv4 subnet is /29.",
                code="NetcfgInvalidSubnet",
                target=f"subnets/{name}",
            )
    return nets


def _validate(
    ctx: RequestContext,
    rid: ResourceId,
    props: dict[str, Any],
    children: dict[str, list[tuple[str, dict]]],
    existing: Any,
) -> None:
    if existing is None:
        check_count(ctx, rid, VIRTUAL_NETWORKS)
    space = address_space(props)
    timeout = props.get("flowTimeoutInMinutes")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or not 4 <= timeout <= 30):
        raise BadRequest(
            f"flowTimeoutInMinutes must be between 4 and 30; value provided: {timeout}.",
            code="InvalidFlowTimeoutInMinutes",
            target="properties.flowTimeoutInMinutes",
        )
    vnet_id = existing.id if existing is not None else str(rid)
    placed: list[tuple[str, v.Network]] = []
    users = ip_configuration_users(ctx)
    for name, sub in children.get("subnets", []):
        nets = subnet_networks(name, sub)
        for net in nets:
            if not any(net.version == s.version and net.subnet_of(s) for s in space):  # type: ignore[arg-type]
                raise BadRequest(
                    f"Subnet '{name}' is not valid in virtual network '{rid.name}'.",
                    code="NetcfgInvalidSubnet",
                    target=f"subnets/{name}",
                )
            placed.append((name, net))
        _subnet_references(ctx, name, sub)
        _subnet_keeps_its_users(f"{vnet_id}/subnets/{name}", name, nets, users)
    clash = v.overlapping(placed)
    if clash:
        raise BadRequest(
            f"Subnet '{clash[1]}' is not valid because its IP address range overlaps with that of an existing "
            f"subnet '{clash[0]}' in virtual network '{rid.name}'.",
            code="NetcfgSubnetRangesOverlap",
            target=f"subnets/{clash[1]}",
        )
    for name, peering in children.get("virtualNetworkPeerings", []):
        _validate_peering(ctx, vnet_id, name, peering, space)
    _peers_still_disjoint(ctx, vnet_id, space)


def _subnet_references(ctx: RequestContext, name: str, sub: dict[str, Any]) -> None:
    for prop, type_name in (("networkSecurityGroup", SECURITY_GROUPS), ("routeTable", ROUTE_TABLES)):
        row = resolve_ref(ctx, sub.get(prop), type_name, f"subnets/{name}.{prop}")
        if row is None:
            sub.pop(prop, None)
        else:
            sub[prop] = {"id": row.id}
    endpoints = sub.get("serviceEndpoints") or []
    if not isinstance(endpoints, list):
        raise BadRequest("serviceEndpoints must be an array.", code="InvalidRequestFormat", target=f"subnets/{name}")
    for endpoint in endpoints:
        service = endpoint.get("service") if isinstance(endpoint, dict) else None
        if not isinstance(service, str) or not service.lower().startswith("microsoft."):
            raise BadRequest(
                f"Service endpoint '{service}' of subnet {name} is not a valid service name.",
                code="InvalidServiceNameOnSubnet",
                target=f"subnets/{name}.serviceEndpoints",
            )
    for flag in ("privateEndpointNetworkPolicies", "privateLinkServiceNetworkPolicies"):
        sub.setdefault(flag, "Disabled" if flag.startswith("privateEndpoint") else "Enabled")


def _subnet_keeps_its_users(subnet_id: str, name: str, nets: list[v.Network], users: list) -> None:
    """Azure refuses to change a subnet's prefix so that an IP configuration would fall outside it."""
    wanted = key(subnet_id)
    for config_id, used_subnet, ip, _ in users:
        if key(used_subnet) != wanted or not ip:
            continue
        address = ipaddress.ip_address(ip)
        if not any(address in net for net in nets):
            raise BadRequest(
                f"Subnet {name} is in use by {config_id} and its address prefix cannot be changed to exclude {ip}.",
                code="InUseSubnetCannotBeUpdated",
                target=f"subnets/{name}",
            )


def _validate_peering(
    ctx: RequestContext, vnet_id: str, name: str, peering: dict[str, Any], space: list[v.Network]
) -> None:
    remote = resolve_ref(ctx, peering.get("remoteVirtualNetwork"), VIRTUAL_NETWORKS, f"virtualNetworkPeerings/{name}")
    if remote is None:
        raise BadRequest(
            f"Peering {name} must reference a remoteVirtualNetwork.",
            code="InvalidRequestFormat",
            target=f"virtualNetworkPeerings/{name}",
        )
    if key(remote.id) == key(vnet_id):
        raise BadRequest(
            "A virtual network cannot be peered with itself.",
            code="CannotPeerVirtualNetworkWithItself",
            target=f"virtualNetworkPeerings/{name}",
        )
    remote_space = [ipaddress.ip_network(p) for p in remote.body["properties"]["addressSpace"]["addressPrefixes"]]
    for a in space:
        for b in remote_space:
            if a.version == b.version and a.overlaps(b):
                raise _overlap(name, vnet_id, remote.id)
    peering["remoteVirtualNetwork"] = {"id": remote.id}
    for flag, default in (
        ("allowVirtualNetworkAccess", True),
        ("allowForwardedTraffic", False),
        ("allowGatewayTransit", False),
        ("useRemoteGateways", False),
    ):
        value = peering.get(flag, default)
        peering[flag] = default if value is None else bool(value)
    for computed in ("peeringState", "peeringSyncLevel", "remoteAddressSpace"):
        peering.pop(computed, None)


def _overlap(name: str, vnet_id: str, remote_id: str) -> BadRequest:
    return BadRequest(
        f"Cannot create or update peering {name}. Virtual networks {vnet_id} and {remote_id} cannot be peered "
        "because their address spaces overlap.",
        code="VnetAddressSpacesOverlap",
        target=f"virtualNetworkPeerings/{name}",
    )


def _peers_still_disjoint(ctx: RequestContext, vnet_id: str, space: list[v.Network]) -> None:
    """A VNet whose space changes must stay disjoint from the VNets that peer with it."""
    assert ctx.conn is not None
    for row in rows_of_type(ctx.conn, ctx.tenant_id, PEERINGS):
        remote = (row.body["properties"].get("remoteVirtualNetwork") or {}).get("id", "")
        owner = row.id.rsplit("/virtualNetworkPeerings/", 1)[0]
        if key(remote) != key(vnet_id) or key(owner) == key(vnet_id):
            continue
        peer = get_row(ctx.conn, ctx.tenant_id, owner)
        if peer is None:
            continue
        for b in (ipaddress.ip_network(p) for p in peer.body["properties"]["addressSpace"]["addressPrefixes"]):
            if any(a.version == b.version and a.overlaps(b) for a in space):
                raise _overlap(row.name, vnet_id, owner)


# ---- read-only computed properties ---------------------------------------------------------------------------


def peering_state(ctx: RequestContext, owner_id: str, remote_id: str) -> str:
    """``Connected`` when the remote VNet peers back, ``Initiated`` when not, ``Disconnected`` when it is gone."""
    assert ctx.conn is not None
    if get_row(ctx.conn, ctx.tenant_id, remote_id) is None:
        return "Disconnected"
    for row in rows_of_type(ctx.conn, ctx.tenant_id, PEERINGS, parent=remote_id):
        back = (row.body["properties"].get("remoteVirtualNetwork") or {}).get("id", "")
        if key(back) == key(owner_id):
            return "Connected"
    return "Initiated"


def _decorate_peering(ctx: RequestContext, item: dict[str, Any]) -> None:
    assert ctx.conn is not None
    props = item["properties"]
    owner = item["id"].rsplit("/virtualNetworkPeerings/", 1)[0]
    remote_id = (props.get("remoteVirtualNetwork") or {}).get("id", "")
    props["peeringState"] = peering_state(ctx, owner, remote_id)
    props["peeringSyncLevel"] = "FullyInSync"
    remote = get_row(ctx.conn, ctx.tenant_id, remote_id)
    if remote is not None:
        props["remoteAddressSpace"] = remote.body["properties"]["addressSpace"]
        props["remoteVirtualNetworkAddressSpace"] = remote.body["properties"]["addressSpace"]


def _decorate_subnet(ctx: RequestContext, item: dict[str, Any]) -> None:
    wanted = key(item["id"])
    configs = [{"id": cid} for cid, subnet, _, _ in ip_configuration_users(ctx) if key(subnet) == wanted]
    if configs:
        item["properties"]["ipConfigurations"] = configs


def _check_subnet_delete(ctx: RequestContext, row: Any) -> None:
    wanted = key(row.id)
    users = [cid for cid, subnet, _, _ in ip_configuration_users(ctx) if key(subnet) == wanted]
    if users:
        raise in_use(
            "InUseSubnetCannotBeDeleted",
            f"Subnet {row.name} is in use by {users[0]} and cannot be deleted. In order to delete the subnet, "
            "delete all the resources within the subnet.",
        )


SPEC = Composite(
    VIRTUAL_NETWORKS,
    children={"subnets": SUBNETS, "virtualNetworkPeerings": PEERINGS},
    validate=_validate,
    child_decorate={SUBNETS: _decorate_subnet, PEERINGS: _decorate_peering},
    child_check_delete={SUBNETS: _check_subnet_delete},
    child_read_only={
        SUBNETS: ("ipConfigurations", "purpose"),
        PEERINGS: ("peeringState", "peeringSyncLevel", "remoteAddressSpace", "remoteVirtualNetworkAddressSpace"),
    },
)
