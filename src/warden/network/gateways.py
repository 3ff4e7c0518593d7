"""VPN: ``virtualNetworkGateways`` (route-based VPN, BGP), ``localNetworkGateways`` and ``connections``.

Modelled for routing and the rule engine: a gateway lives in its VNet's ``GatewaySubnet`` (its IP
configuration takes an address there) and brings the address spaces of the local network gateways its
connections reach. Shared keys are stored sealed with the data directory's key and never returned.
"""

from __future__ import annotations

import base64
from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, key
from warden.network import validation as v
from warden.network.common import (
    CONNECTIONS,
    LOCAL_NETWORK_GATEWAYS,
    PUBLIC_IPS,
    SUBNETS,
    VIRTUAL_NETWORK_GATEWAYS,
    Composite,
    arr,
    in_use,
    obj,
    referrers,
    resolve_ref,
    rows_of_type,
    text,
)
from warden.network.interfaces import assign_address
from warden.network.limits import check_count

GATEWAY_SUBNET = "GatewaySubnet"
GATEWAY_TYPES = {"vpn": "Vpn", "expressroute": "ExpressRoute"}
VPN_TYPES = {"routebased": "RouteBased", "policybased": "PolicyBased"}
CONNECTION_TYPES = {
    "ipsec": "IPsec",
    "vnet2vnet": "Vnet2Vnet",
    "expressroute": "ExpressRoute",
    "vpnclient": "VPNClient",
}
DEFAULT_ASN = 65515
# ASNs Azure reserves (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-bgp-overview)
RESERVED_ASNS = {8074, 8075, 12076, 65517, 65518, 65519, 65520, 23456, 0, 65535, 4294967295}
IPSEC_ENCRYPTION = ("None", "DES", "DES3", "AES128", "AES192", "AES256", "GCMAES128", "GCMAES192", "GCMAES256")
IPSEC_INTEGRITY = ("MD5", "SHA1", "SHA256", "GCMAES128", "GCMAES192", "GCMAES256")
IKE_ENCRYPTION = ("DES", "DES3", "AES128", "AES192", "AES256", "GCMAES256", "GCMAES128")
IKE_INTEGRITY = ("MD5", "SHA1", "SHA256", "SHA384", "GCMAES256", "GCMAES128")
DH_GROUPS = ("None", "DHGroup1", "DHGroup2", "DHGroup14", "DHGroup2048", "ECP256", "ECP384", "DHGroup24")
PFS_GROUPS = ("None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFS24", "PFS14", "PFSMM")


def _asn(value: Any, target: str, *, gateway: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 4294967295:
        raise BadRequest(f"BGP ASN {value} is not valid.", code="InvalidBgpAsn", target=target)
    if value in RESERVED_ASNS or (not gateway and value == DEFAULT_ASN):
        raise BadRequest(f"BGP ASN {value} is reserved by Azure.", code="BgpAsnReserved", target=target)
    return value


def _gateway_validate(
    ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any
) -> None:
    if existing is None:
        check_count(ctx, rid, VIRTUAL_NETWORK_GATEWAYS)
    gw_id = existing.id if existing is not None else str(rid)
    props["gatewayType"] = v.enum(props.get("gatewayType"), GATEWAY_TYPES, "gatewayType", default="Vpn")
    props["vpnType"] = v.enum(props.get("vpnType"), VPN_TYPES, "vpnType", default="RouteBased")
    props["enableBgp"] = bool(props.get("enableBgp") or False)
    props["activeActive"] = bool(props.get("activeActive") or False)
    configs = props.get("ipConfigurations") or []
    if not isinstance(configs, list) or not configs:
        raise BadRequest("A virtual network gateway needs an IP configuration.", code="InvalidRequestFormat")
    old = (
        {c["name"].lower(): c for c in (existing.body["properties"].get("ipConfigurations") or [])} if existing else {}
    )
    mine = {key(c["id"]) for c in old.values()}
    out, vnet = [], None
    for index, config in enumerate(configs):
        if not isinstance(config, dict) or not isinstance(config.get("properties") or {}, dict):
            raise BadRequest(
                f"ipConfigurations[{index}] must be an object with object properties.",
                code="InvalidRequestFormat",
                target="properties.ipConfigurations",
            )
        name = text(config.get("name") or "default", f"ipConfigurations[{index}].name")
        cp = config.get("properties") or {}
        subnet = resolve_ref(ctx, cp.get("subnet"), SUBNETS, f"ipConfigurations/{name}.subnet")
        if subnet is None or subnet.name.lower() != GATEWAY_SUBNET.lower():
            raise BadRequest(
                f"Virtual network gateway IP configuration {name} must reference a subnet named {GATEWAY_SUBNET}.",
                code="InvalidGatewaySubnet",
                target=f"ipConfigurations/{name}.subnet",
            )
        vnet = subnet.id.rsplit("/subnets/", 1)[0]
        public = resolve_ref(ctx, cp.get("publicIPAddress"), PUBLIC_IPS, f"ipConfigurations/{name}.publicIPAddress")
        previous = old.get(name.lower(), {}).get("properties", {})
        same = key((previous.get("subnet") or {}).get("id", "")) == key(subnet.id)
        ip = previous.get("privateIPAddress") if same else None
        ip = ip or assign_address(ctx, subnet, "Dynamic", None, mine, f"{gw_id}/ipConfigurations/{name}", set())
        item = {"privateIPAllocationMethod": "Dynamic", "privateIPAddress": ip, "subnet": {"id": subnet.id}}
        if public is not None:
            item["publicIPAddress"] = {"id": public.id}
        out.append({"name": name, "id": f"{gw_id}/ipConfigurations/{name}", "properties": item})
    _one_gateway_per_type(ctx, gw_id, vnet or "", props["gatewayType"])
    props["ipConfigurations"] = out
    bgp = dict(obj(props.get("bgpSettings"), "properties.bgpSettings"))
    bgp["asn"] = _asn(bgp.get("asn", DEFAULT_ASN), "properties.bgpSettings.asn", gateway=True)
    bgp["bgpPeeringAddress"] = out[0]["properties"]["privateIPAddress"]
    bgp.setdefault("peerWeight", 0)
    props["bgpSettings"] = bgp
    sku = obj(props.get("sku"), "properties.sku") or {"name": "VpnGw1", "tier": "VpnGw1"}
    props["sku"] = {**sku, "capacity": sku.get("capacity", 2)}


def _one_gateway_per_type(ctx: RequestContext, gw_id: str, vnet: str, gateway_type: str) -> None:
    assert ctx.conn is not None
    for row in rows_of_type(ctx.conn, ctx.tenant_id, VIRTUAL_NETWORK_GATEWAYS):
        props = row.body["properties"]
        subnets = [c["properties"]["subnet"]["id"] for c in props.get("ipConfigurations") or []]
        in_vnet = any(key(s.rsplit("/subnets/", 1)[0]) == key(vnet) for s in subnets)
        if key(row.id) != key(gw_id) and in_vnet and props.get("gatewayType") == gateway_type:
            raise BadRequest(
                f"Virtual network {vnet} already has a {gateway_type} gateway {row.id}.",
                code="VirtualNetworkGatewayAlreadyExists",
            )


def _gateway_refs(props: dict[str, Any]) -> list[str]:
    return [
        (props.get(p) or {}).get("id", "")
        for p in ("virtualNetworkGateway1", "virtualNetworkGateway2", "localNetworkGateway2")
    ]


def _check_in_connections(ctx: RequestContext, row: Any) -> None:
    users = referrers(ctx, CONNECTIONS, _gateway_refs, row.id)
    if users:
        code = (
            "InUseVirtualNetworkGatewayCannotBeDeleted"
            if row.type_key == VIRTUAL_NETWORK_GATEWAYS.lower()
            else "InUseLocalNetworkGatewayCannotBeDeleted"
        )
        raise in_use(code, f"{row.id} cannot be deleted because it is used by connection {users[0]}.")


def _local_validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    if existing is None:
        check_count(ctx, rid, LOCAL_NETWORK_GATEWAYS)
    space = obj(props.get("localNetworkAddressSpace"), "properties.localNetworkAddressSpace")
    prefixes = arr(space.get("addressPrefixes"), "properties.localNetworkAddressSpace.addressPrefixes")
    nets = v.networks(prefixes, "properties.localNetworkAddressSpace.addressPrefixes")
    props["localNetworkAddressSpace"] = {"addressPrefixes": [str(n) for n in nets]}
    if props.get("gatewayIpAddress"):
        props["gatewayIpAddress"] = str(v.address(props["gatewayIpAddress"], "properties.gatewayIpAddress"))
    elif not props.get("fqdn"):
        raise BadRequest(
            "A local network gateway needs gatewayIpAddress or fqdn.",
            code="InvalidRequestFormat",
            target="properties.gatewayIpAddress",
        )
    if props.get("bgpSettings"):
        bgp = dict(obj(props["bgpSettings"], "properties.bgpSettings"))
        bgp["asn"] = _asn(bgp.get("asn"), "properties.bgpSettings.asn", gateway=False)
        if bgp.get("bgpPeeringAddress"):
            v.address(bgp["bgpPeeringAddress"], "properties.bgpSettings.bgpPeeringAddress")
        props["bgpSettings"] = bgp


def _policy(policy: Any, index: int) -> dict[str, Any]:
    target = f"properties.ipsecPolicies[{index}]"
    if not isinstance(policy, dict):
        raise BadRequest("An IPsec policy must be an object.", code="InvalidRequestFormat", target=target)
    out = dict(policy)
    for name, allowed in (
        ("ipsecEncryption", IPSEC_ENCRYPTION),
        ("ipsecIntegrity", IPSEC_INTEGRITY),
        ("ikeEncryption", IKE_ENCRYPTION),
        ("ikeIntegrity", IKE_INTEGRITY),
        ("dhGroup", DH_GROUPS),
        ("pfsGroup", PFS_GROUPS),
    ):
        out[name] = v.enum(policy.get(name), {a.lower(): a for a in allowed}, f"{target}.{name}")
    lifetime = policy.get("saLifeTimeSeconds")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 300:
        raise BadRequest("saLifeTimeSeconds must be at least 300.", code="InvalidIpsecPolicy", target=target)
    size = policy.get("saDataSizeKilobytes")
    if isinstance(size, bool) or not isinstance(size, int) or (size != 0 and size < 1024):
        raise BadRequest("saDataSizeKilobytes must be 0 or at least 1024.", code="InvalidIpsecPolicy", target=target)
    if out["ipsecEncryption"].startswith("GCM") and out["ipsecIntegrity"] != out["ipsecEncryption"]:
        raise BadRequest(
            "When ipsecEncryption is a GCMAES algorithm, ipsecIntegrity must be the same algorithm.",
            code="InvalidIpsecPolicy",
            target=target,
        )
    return out


def _connection_validate(
    ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any
) -> None:
    props["connectionType"] = v.enum(props.get("connectionType"), CONNECTION_TYPES, "connectionType")
    gw1 = resolve_ref(ctx, props.get("virtualNetworkGateway1"), VIRTUAL_NETWORK_GATEWAYS, "virtualNetworkGateway1")
    if gw1 is None:
        raise BadRequest(
            "virtualNetworkGateway1 is required.", code="InvalidRequestFormat", target="virtualNetworkGateway1"
        )
    props["virtualNetworkGateway1"] = {"id": gw1.id}
    if props["connectionType"] == "IPsec":
        lng = resolve_ref(ctx, props.get("localNetworkGateway2"), LOCAL_NETWORK_GATEWAYS, "localNetworkGateway2")
        if lng is None:
            raise BadRequest(
                "An IPsec connection needs localNetworkGateway2.",
                code="InvalidRequestFormat",
                target="localNetworkGateway2",
            )
        props["localNetworkGateway2"] = {"id": lng.id}
        props.pop("virtualNetworkGateway2", None)
    elif props["connectionType"] == "Vnet2Vnet":
        gw2 = resolve_ref(ctx, props.get("virtualNetworkGateway2"), VIRTUAL_NETWORK_GATEWAYS, "virtualNetworkGateway2")
        if gw2 is None:
            raise BadRequest(
                "A Vnet2Vnet connection needs virtualNetworkGateway2.",
                code="InvalidRequestFormat",
                target="virtualNetworkGateway2",
            )
        props["virtualNetworkGateway2"] = {"id": gw2.id}
        props.pop("localNetworkGateway2", None)
    policies = props.get("ipsecPolicies") or []
    if not isinstance(policies, list) or len(policies) > 1:
        raise BadRequest("At most one IPsec policy may be given.", code="InvalidIpsecPolicy", target="ipsecPolicies")
    props["ipsecPolicies"] = [_policy(p, i) for i, p in enumerate(policies)]
    props["enableBgp"] = bool(props.get("enableBgp") or False)
    props.setdefault("routingWeight", 0)
    props.setdefault("connectionProtocol", "IKEv2")
    shared = props.get("sharedKey")
    if shared is not None and not isinstance(shared, str):
        raise BadRequest("sharedKey must be a string.", code="InvalidSharedKey", target="sharedKey")
    if isinstance(shared, str) and not shared.startswith(_SEALED):
        if not 1 <= len(shared) <= 128 or not shared.isascii():
            raise BadRequest("sharedKey must be 1-128 ASCII characters.", code="InvalidSharedKey", target="sharedKey")
        sealed = ctx.platform.master_key.seal(shared.encode(), purpose="network/connections/sharedKey")
        props["sharedKey"] = _SEALED + base64.b64encode(sealed).decode()


_SEALED = "sealed:"


def shared_key(ctx: RequestContext, row: Any) -> str | None:
    """The clear shared key of a stored connection, or None."""
    value = row.body["properties"].get("sharedKey")
    if not isinstance(value, str) or not value.startswith(_SEALED):
        return None
    sealed = base64.b64decode(value[len(_SEALED) :])
    return ctx.platform.master_key.open(sealed, purpose="network/connections/sharedKey").decode()


def _connection_decorate(ctx: RequestContext, body: dict[str, Any]) -> None:
    props = body["properties"]
    # Warden models tunnels; it does not run them.
    props.update(connectionStatus="Unknown", ingressBytesTransferred=0, egressBytesTransferred=0)


GATEWAY_SPEC = Composite(
    VIRTUAL_NETWORK_GATEWAYS,
    validate=_gateway_validate,
    check_delete=_check_in_connections,
    read_only=("inboundDnsForwardingEndpoint",),
)
LOCAL_SPEC = Composite(LOCAL_NETWORK_GATEWAYS, validate=_local_validate, check_delete=_check_in_connections)
CONNECTION_SPEC = Composite(
    CONNECTIONS,
    validate=_connection_validate,
    decorate=_connection_decorate,
    secret_fields=("sharedKey",),
    read_only=("connectionStatus", "ingressBytesTransferred", "egressBytesTransferred", "tunnelConnectionStatus"),
)
