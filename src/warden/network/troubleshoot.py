"""Network Watcher ``troubleshoot`` for VPN gateways and connections: a configuration diagnosis of the model.

Azure probes the running gateway; Warden has no tunnel to probe, so it checks what a configuration can get
wrong and reports it with Azure's fault ids where Azure has one (``NoFault``,
``NoConnectionsFoundForGateway``, ``ConnectionNotConfiguredOnGateway``, ``Authentication`` for a shared key
mismatch, ``IkePolicyMismatch``) and Warden's own where it has none (``OverlappingAddressSpaces``,
``BgpNotConfigured``, ``BgpAsnConflict``). Supported as in Azure: route-based VPN gateways, IPsec and
Vnet2Vnet connections (https://learn.microsoft.com/azure/network-watcher/vpn-troubleshoot-overview).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import key
from warden.kernel.resources import get_row
from warden.network.common import CONNECTIONS, LOCAL_NETWORK_GATEWAYS, VIRTUAL_NETWORK_GATEWAYS, rows_of_type
from warden.network.gateways import shared_key

DOCS = "https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-troubleshoot"


def _fault(fault: str, summary: str, detail: str, action: str) -> dict[str, Any]:
    return {
        "id": fault,
        "reasonType": fault,
        "summary": summary,
        "detail": detail,
        "recommendedActions": [
            {"actionText": action, "actionUri": DOCS, "actionUriText": "VPN Gateway troubleshooting"}
        ],
    }


def _vnet_space(ctx: RequestContext, gateway: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    assert ctx.conn is not None
    subnet = gateway.body["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    vnet = get_row(ctx.conn, ctx.tenant_id, subnet.rsplit("/subnets/", 1)[0])
    prefixes = vnet.body["properties"]["addressSpace"]["addressPrefixes"] if vnet is not None else []
    return [ipaddress.ip_network(p) for p in prefixes]


def _overlap(a: list, b: list) -> str | None:
    for x in a:
        for y in b:
            if x.version == y.version and x.overlaps(y):
                return f"{x} overlaps {y}"
    return None


def _asn(gateway: Any) -> int | None:
    return (gateway.body["properties"].get("bgpSettings") or {}).get("asn")


def diagnose_connection(ctx: RequestContext, connection: Any) -> list[dict[str, Any]]:
    """The faults of one connection's configuration (empty when none)."""
    assert ctx.conn is not None
    props = connection.body["properties"]
    gateway = get_row(ctx.conn, ctx.tenant_id, props["virtualNetworkGateway1"]["id"])
    if gateway is None:
        return [
            _fault("GatewayNotFound", "Gateway not found", "The connection's gateway does not exist.", "Recreate it.")
        ]
    faults = []
    local_space = _vnet_space(ctx, gateway)
    if props["connectionType"] == "IPsec":
        local = get_row(ctx.conn, ctx.tenant_id, props["localNetworkGateway2"]["id"])
        lp = local.body["properties"]
        remote_space = [ipaddress.ip_network(p) for p in lp["localNetworkAddressSpace"]["addressPrefixes"]]
        clash = _overlap(local_space, remote_space)
        if clash:
            faults.append(
                _fault(
                    "OverlappingAddressSpaces",
                    "The local network overlaps the virtual network",
                    f"Address spaces overlap ({clash}); traffic for the overlap never leaves the virtual network.",
                    "Change the local network gateway's address prefixes so they do not overlap the VNet.",
                )
            )
        if props.get("enableBgp"):
            peer = lp.get("bgpSettings") or {}
            if not peer.get("asn") or not gateway.body["properties"].get("enableBgp"):
                faults.append(
                    _fault(
                        "BgpNotConfigured",
                        "BGP is enabled on the connection but not configured at both ends",
                        "enableBgp is set, but the gateway or the local network gateway lacks BGP settings.",
                        "Enable BGP on the gateway and give the local network gateway an ASN and a peering address.",
                    )
                )
            elif peer["asn"] == _asn(gateway):
                faults.append(_asn_conflict(peer["asn"]))
    elif props["connectionType"] == "Vnet2Vnet":
        other = get_row(ctx.conn, ctx.tenant_id, props["virtualNetworkGateway2"]["id"])
        reverse = [
            row
            for row in rows_of_type(ctx.conn, ctx.tenant_id, CONNECTIONS)
            if key(row.body["properties"]["virtualNetworkGateway1"]["id"]) == key(props["virtualNetworkGateway2"]["id"])
            and key((row.body["properties"].get("virtualNetworkGateway2") or {}).get("id", "")) == key(gateway.id)
        ]
        if other is None or not reverse:
            faults.append(
                _fault(
                    "ConnectionNotConfiguredOnGateway",
                    "The peer gateway has no connection back",
                    "A Vnet2Vnet connection needs a matching connection from the other gateway.",
                    "Create the reverse connection on the peer gateway with the same shared key.",
                )
            )
        else:
            back = reverse[0]
            if shared_key(ctx, connection) != shared_key(ctx, back):
                faults.append(
                    _fault(
                        "Authentication",
                        "Preshared key mismatch",
                        "The two connections of this Vnet2Vnet pair have different shared keys.",
                        "Set the same shared key on both connections.",
                    )
                )
            if (props.get("ipsecPolicies") or []) != (back.body["properties"].get("ipsecPolicies") or []):
                faults.append(
                    _fault(
                        "IkePolicyMismatch",
                        "IPsec/IKE policy mismatch",
                        "The two connections of this Vnet2Vnet pair have different IPsec/IKE policies.",
                        "Use the same custom policy (or the default) on both connections.",
                    )
                )
            clash = _overlap(local_space, _vnet_space(ctx, other))
            if clash:
                faults.append(
                    _fault(
                        "OverlappingAddressSpaces",
                        "The connected virtual networks overlap",
                        f"Address spaces overlap ({clash}).",
                        "Re-address one of the virtual networks.",
                    )
                )
            if props.get("enableBgp") and _asn(gateway) == _asn(other):
                faults.append(_asn_conflict(_asn(gateway)))
    return faults


def _asn_conflict(asn: Any) -> dict[str, Any]:
    return _fault(
        "BgpAsnConflict",
        "Both BGP peers use the same ASN",
        f"Both ends use ASN {asn}; eBGP between them cannot be established.",
        "Give each end its own ASN.",
    )


def troubleshoot(ctx: RequestContext, target: Any) -> dict[str, Any]:
    """The ``TroubleshootingResult`` for a gateway or connection row."""
    assert ctx.conn is not None
    started = isoformat(utcnow())
    if target.type_key == VIRTUAL_NETWORK_GATEWAYS.lower():
        props = target.body["properties"]
        if props.get("gatewayType") != "Vpn" or props.get("vpnType") != "RouteBased":
            raise BadRequest("Only route-based VPN gateways can be troubleshot.", code="UnsupportedTargetResource")
        connections = [
            row
            for row in rows_of_type(ctx.conn, ctx.tenant_id, CONNECTIONS)
            if key(row.body["properties"]["virtualNetworkGateway1"]["id"]) == key(target.id)
        ]
        if not connections:
            faults = [
                _fault(
                    "NoConnectionsFoundForGateway",
                    "No connections",
                    "The gateway has no connections.",
                    "Create a connection to a local network gateway or to another VNet's gateway.",
                )
            ]
        else:
            faults = [f for c in connections for f in diagnose_connection(ctx, c)]
    elif target.type_key == CONNECTIONS.lower():
        if target.body["properties"].get("connectionType") not in ("IPsec", "Vnet2Vnet"):
            raise BadRequest(
                "Only IPsec and Vnet2Vnet connections can be troubleshot.", code="UnsupportedTargetResource"
            )
        faults = diagnose_connection(ctx, target)
    elif target.type_key == LOCAL_NETWORK_GATEWAYS.lower():
        raise BadRequest("Local network gateways cannot be troubleshot.", code="UnsupportedTargetResource")
    else:
        raise BadRequest(
            "targetResourceId must be a virtual network gateway or a connection.", code="UnsupportedTargetResource"
        )
    healthy = not faults
    results = faults or [
        _fault("NoFault", "This resource is healthy", "No configuration problem was found.", "No action needed.")
    ]
    return {
        "startTime": started,
        "endTime": isoformat(utcnow()),
        "code": "Healthy" if healthy else "UnHealthy",
        "results": results,
    }
