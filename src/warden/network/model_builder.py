"""Translate the stored ``Microsoft.Network`` resources of a tenant into the pure engine's ``Topology``.

The engine knows nothing of rows or ARM JSON; this module is the only bridge. Peerings count when
``Connected`` (both sides declared); a VNet's gateway brings the address spaces of the local network
gateways (and BGP peers) its connections reach, and of the VNets its Vnet2Vnet connections reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.ids import key
from warden.network.common import (
    CONNECTIONS,
    LOCAL_NETWORK_GATEWAYS,
    NETWORK_INTERFACES,
    PEERINGS,
    ROUTE_TABLES,
    ROUTES,
    SECURITY_GROUPS,
    SECURITY_RULES,
    SUBNETS,
    VIRTUAL_NETWORK_GATEWAYS,
    VIRTUAL_NETWORKS,
    rows_of_type,
)
from warden.network.rules import (
    NetworkInterface,
    NetworkSecurityGroup,
    Peering,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
)


def _by_parent(rows: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(key(row.parent_key), []).append(row)
    return out


def _rule(row: Any) -> SecurityRule:
    return SecurityRule.from_azure({"name": row.name, "properties": row.body["properties"]})


Rows = Callable[[str], list[Any]]  # type name -> rows with id, name, location, parent_key and body


def build_topology(ctx: RequestContext) -> Topology:
    """Everything the evaluator needs, read in the request's transaction (so it is one consistent state)."""
    assert ctx.conn is not None
    conn, tenant = ctx.conn, ctx.tenant_id
    return topology_from_rows(lambda type_name: rows_of_type(conn, tenant, type_name))


def topology_from_rows(rows_of: Rows) -> Topology:
    """The engine's ``Topology`` from stored rows (or row-shaped documents, see ``gathering``)."""
    topology = Topology()
    rules = _by_parent(rows_of(SECURITY_RULES))
    for row in rows_of(SECURITY_GROUPS):
        topology.add(NetworkSecurityGroup(row.id, tuple(_rule(r) for r in rules.get(key(row.id), []))))
    routes = _by_parent(rows_of(ROUTES))
    for row in rows_of(ROUTE_TABLES):
        table_routes = tuple(
            Route(
                r.name,
                r.body["properties"]["addressPrefix"],
                r.body["properties"]["nextHopType"],
                r.body["properties"].get("nextHopIpAddress"),
            )
            for r in routes.get(key(row.id), [])
        )
        disable = bool(row.body["properties"].get("disableBgpRoutePropagation"))
        topology.add(RouteTable(row.id, table_routes, disable))
    vnets = rows_of(VIRTUAL_NETWORKS)
    locations = {key(r.id): r.location for r in vnets}
    peerings = _by_parent(rows_of(PEERINGS))
    declared = {
        (key(parent), key((p.body["properties"].get("remoteVirtualNetwork") or {}).get("id", "")))
        for parent, items in peerings.items()
        for p in items
    }
    gateways = _gateways(rows_of)
    for row in vnets:
        own = []
        for p in peerings.get(key(row.id), []):
            props = p.body["properties"]
            remote = props["remoteVirtualNetwork"]["id"]
            state = "Connected" if (key(remote), key(row.id)) in declared else "Initiated"
            if not props.get("allowVirtualNetworkAccess", True):
                state = "Disconnected"  # no route to the remote space is programmed without VNet access
            own.append(
                Peering(
                    p.name,
                    remote,
                    state,
                    bool(props.get("useRemoteGateways")),
                    locations.get(key(remote)) != row.location,
                )
            )
        topology.add(
            VirtualNetwork(
                row.id,
                tuple(row.body["properties"]["addressSpace"]["addressPrefixes"]),
                tuple(own),
                gateways.get(key(row.id)),
            )
        )
    for row in rows_of(SUBNETS):
        props = row.body["properties"]
        prefixes = [props["addressPrefix"]] if props.get("addressPrefix") else list(props.get("addressPrefixes") or [])
        topology.add(
            Subnet(
                row.id,
                row.id.rsplit("/subnets/", 1)[0],
                tuple(prefixes),
                _existing(topology.network_security_groups, (props.get("networkSecurityGroup") or {}).get("id")),
                _existing(topology.route_tables, (props.get("routeTable") or {}).get("id")),
            )
        )
    for row in rows_of(NETWORK_INTERFACES):
        nic = nic_model(row)
        # Deleting a resource group deletes what is in it even when another group's NIC still points there
        # (as Azure's group delete would have been refused for): such a NIC is left out rather than half-modelled.
        if nic.subnet_id.lower() in topology.subnets:
            topology.add(
                replace(
                    nic,
                    network_security_group_id=_existing(
                        topology.network_security_groups, nic.network_security_group_id
                    ),
                )
            )
    return topology


def _existing(table: dict[str, Any], resource_id: str | None) -> str | None:
    """``resource_id`` if the topology holds it, else None (a dangling reference)."""
    return resource_id if resource_id and resource_id.lower() in table else None


def nic_model(row: Any) -> NetworkInterface:
    """A NIC in the engine's terms: its primary configuration's subnet, every private IP, the union of ASGs."""
    props = row.body["properties"]
    configs = props.get("ipConfigurations") or []
    primary = next((c for c in configs if c["properties"].get("primary")), configs[0])
    asgs = [a["id"] for c in configs for a in c["properties"].get("applicationSecurityGroups") or []]
    return NetworkInterface(
        row.id,
        primary["properties"]["subnet"]["id"],
        tuple(c["properties"]["privateIPAddress"] for c in configs),
        (props.get("networkSecurityGroup") or {}).get("id"),
        tuple(dict.fromkeys(asgs)),
        bool(props.get("enableIPForwarding")),
    )


def _gateways(rows_of: Rows) -> dict[str, VirtualNetworkGateway]:
    """Per VNet (lower-cased id): its VPN gateway with the prefixes its connections bring."""
    locals_ = {key(r.id): r for r in rows_of(LOCAL_NETWORK_GATEWAYS)}
    gateway_rows = {key(r.id): r for r in rows_of(VIRTUAL_NETWORK_GATEWAYS)}
    vnet_of = {gid: _gateway_vnet(r) for gid, r in gateway_rows.items()}
    spaces = {key(r.id): r.body["properties"]["addressSpace"]["addressPrefixes"] for r in rows_of(VIRTUAL_NETWORKS)}
    prefixes: dict[str, list[str]] = {gid: [] for gid in gateway_rows}
    for row in rows_of(CONNECTIONS):
        props = row.body["properties"]
        gw1 = key(props["virtualNetworkGateway1"]["id"])
        if gw1 not in prefixes:
            continue
        if props.get("connectionType") == "IPsec":
            local = locals_.get(key((props.get("localNetworkGateway2") or {}).get("id", "")))
            if local is not None:
                lp = local.body["properties"]
                prefixes[gw1] += lp["localNetworkAddressSpace"]["addressPrefixes"]
                peer = (lp.get("bgpSettings") or {}).get("bgpPeeringAddress")
                if props.get("enableBgp") and peer:
                    prefixes[gw1].append(f"{peer}/32")
        elif props.get("connectionType") == "Vnet2Vnet":
            gw2 = key((props.get("virtualNetworkGateway2") or {}).get("id", ""))
            prefixes[gw1] += spaces.get(vnet_of.get(gw2, ""), [])
    out = {}
    for gid, row in gateway_rows.items():
        if row.body["properties"].get("gatewayType") != "Vpn":
            continue
        ip = row.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
        out[vnet_of[gid]] = VirtualNetworkGateway(row.id, ip, tuple(dict.fromkeys(prefixes[gid])))
    return out


def _gateway_vnet(row: Any) -> str:
    subnet = row.body["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    return key(subnet.rsplit("/subnets/", 1)[0])
