"""``networkInterfaces`` and their inline ``ipConfigurations``.

Private addresses (https://learn.microsoft.com/azure/virtual-network/ip-services/private-ip-addresses):
Azure reserves the first four addresses and the last address of every subnet; a Static address must lie
in the subnet, outside the reserved ones, and be free; a Dynamic address is the lowest free one. A NIC
attached to a virtual machine cannot be deleted.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed
from warden.kernel.ids import ResourceId, key, parse_resource_id
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row
from warden.network import validation as v
from warden.network.common import (
    APPLICATION_SECURITY_GROUPS,
    NETWORK_INTERFACES,
    PUBLIC_IPS,
    SECURITY_GROUPS,
    SUBNETS,
    VIRTUAL_MACHINES,
    Composite,
    arr,
    in_use,
    ip_configuration_users,
    not_found,
    resolve_ref,
    rows_of_type,
    text,
)
from warden.network.limits import check_count

RESERVED_AT_START, RESERVED_AT_END = 4, 1


def usable(net: v.Network) -> tuple[int, int]:
    """First and last assignable address of a subnet (as integers)."""
    return int(net.network_address) + RESERVED_AT_START, int(net.broadcast_address) - RESERVED_AT_END


def subnet_prefixes(subnet_row: Any) -> list[v.Network]:
    props = subnet_row.body["properties"]
    texts = [props["addressPrefix"]] if props.get("addressPrefix") else list(props.get("addressPrefixes") or [])
    return [ipaddress.ip_network(t) for t in texts if ipaddress.ip_network(t).version == 4]


def assign_address(
    ctx: RequestContext, subnet: Any, method: str, wanted: str | None, mine: set[str], target: str, taken: set[str]
) -> str:
    """The private address for one IP configuration; raises Azure's codes for a bad or taken address."""
    used = {
        ip
        for cid, sid, ip, _ in ip_configuration_users(ctx)
        if ip and key(sid) == key(subnet.id) and key(cid) not in mine
    } | taken
    nets = subnet_prefixes(subnet)
    if method == "Static":
        ip = v.address(wanted, f"{target}.privateIPAddress", code="PrivateIPAddressInvalid")
        net = next((n for n in nets if ip in n), None)
        if net is None:
            raise BadRequest(
                f"{target}: private static IP address {ip} does not belong to the range of subnet prefix "
                f"{', '.join(map(str, nets))}.",
                code="PrivateIPAddressNotInSubnet",
                target=target,
            )
        first, last = usable(net)
        if not first <= int(ip) <= last:
            raise BadRequest(
                f"{target}: private static IP address {ip} falls within reserved IP range of subnet prefix {net}.",
                code="PrivateIPAddressInReservedRange",
                target=target,
            )
        if str(ip) in used:
            raise BadRequest(
                f"{target} is using the private IP address {ip} which is already allocated to another resource.",
                code="PrivateIPAddressIsAllocated",
                target=target,
            )
        return str(ip)
    for net in nets:
        first, last = usable(net)
        for value in range(first, last + 1):
            candidate = str(ipaddress.IPv4Address(value))
            if candidate not in used:
                return candidate
    raise BadRequest(f"Subnet {subnet.name} has no free IP addresses left.", code="SubnetIsFull", target=target)


def _validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    assert ctx.conn is not None
    if existing is None:
        check_count(ctx, rid, NETWORK_INTERFACES)
    nic_id = existing.id if existing is not None else str(rid)
    nsg = resolve_ref(ctx, props.get("networkSecurityGroup"), SECURITY_GROUPS, "properties.networkSecurityGroup")
    props.pop("networkSecurityGroup", None)
    if nsg is not None:
        props["networkSecurityGroup"] = {"id": nsg.id}
    for flag in ("enableIPForwarding", "enableAcceleratedNetworking"):
        props[flag] = bool(props.get(flag) or False)
    configs = props.get("ipConfigurations")
    if not isinstance(configs, list) or not configs:
        raise BadRequest(
            "A network interface must have at least one IP configuration.",
            code="NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
            target="properties.ipConfigurations",
        )
    old = (
        {c["name"].lower(): c for c in (existing.body["properties"].get("ipConfigurations") or [])} if existing else {}
    )
    mine = {key(f"{nic_id}/ipConfigurations/{c['name']}") for c in old.values()}
    taken: set[str] = set()
    out, names, vnets, publics = [], set(), set(), set()
    for index, config in enumerate(configs):
        if (
            not isinstance(config, dict)
            or not config.get("name")
            or not isinstance(config.get("properties") or {}, dict)
        ):
            raise BadRequest(
                f"ipConfigurations[{index}] must be an object with a name and object properties.",
                code="InvalidRequestFormat",
                target="ipConfigurations",
            )
        name = text(config["name"], f"ipConfigurations[{index}].name")
        if name.lower() in names:
            raise BadRequest(f"Duplicate IP configuration name {name}.", code="DuplicateResourceName")
        names.add(name.lower())
        target = f"{nic_id}/ipConfigurations/{name}"
        cp = dict(config.get("properties") or {})
        subnet = resolve_ref(ctx, cp.get("subnet"), SUBNETS, f"ipConfigurations/{name}.subnet")
        if subnet is None:
            raise BadRequest(
                f"IP configuration {target} must reference a subnet.", code="InvalidRequestFormat", target=target
            )
        vnets.add(key(subnet.id.rsplit("/subnets/", 1)[0]))
        method = v.enum(
            cp.get("privateIPAllocationMethod"), v.ALLOCATION_METHODS, "privateIPAllocationMethod", default="Dynamic"
        )
        previous = old.get(name.lower(), {}).get("properties", {})
        wanted = cp.get("privateIPAddress")
        if method == "Dynamic":
            # A dynamic address stays put while the configuration stays in the same subnet.
            same = key((previous.get("subnet") or {}).get("id", "")) == key(subnet.id)
            wanted = previous.get("privateIPAddress") if same else None
        if method == "Dynamic" and wanted:
            ip = wanted
        else:
            ip = assign_address(ctx, subnet, method, wanted, mine, target, taken)
        taken.add(ip)
        result: dict[str, Any] = {
            "privateIPAddress": ip,
            "privateIPAllocationMethod": method,
            "privateIPAddressVersion": "IPv4",
            "subnet": {"id": subnet.id},
            "primary": bool(cp.get("primary", False)),
            "provisioningState": "Succeeded",
        }
        public = resolve_ref(ctx, cp.get("publicIPAddress"), PUBLIC_IPS, f"ipConfigurations/{name}.publicIPAddress")
        if public is not None:
            holder = [c for c, _, _, p in ip_configuration_users(ctx) if p and key(p) == key(public.id)]
            if (holder and key(holder[0]) not in mine) or key(public.id) in publics:
                raise BadRequest(
                    f"Public IP address {public.id} is already used by {holder[0] if holder else 'another'} "
                    "IP configuration.",
                    code="PublicIPAddressInUse",
                    target=target,
                )
            publics.add(key(public.id))
            result["publicIPAddress"] = {"id": public.id}
        asgs = arr(cp.get("applicationSecurityGroups"), f"ipConfigurations/{name}.applicationSecurityGroups")
        resolved = [resolve_ref(ctx, a, APPLICATION_SECURITY_GROUPS, f"ipConfigurations/{name}") for a in asgs]
        if resolved:
            result["applicationSecurityGroups"] = [{"id": row.id} for row in resolved if row is not None]
        out.append(
            {
                "name": name,
                "id": target,
                "etag": "",
                "type": f"{NETWORK_INTERFACES}/ipConfigurations",
                "properties": result,
            }
        )
    _asgs_in_one_vnet(ctx, nic_id, out)
    if len(vnets) > 1:
        raise BadRequest(
            "All IP configurations of a network interface must be in the same virtual network.",
            code="IpConfigurationsOfNicMustBeInSameVnet",
        )
    if not any(c["properties"]["primary"] for c in out):
        out[0]["properties"]["primary"] = True
    props["ipConfigurations"] = out


def _asgs_in_one_vnet(ctx: RequestContext, nic_id: str, configs: list[dict[str, Any]]) -> None:
    """Azure: the IP configurations of an application security group are all in one virtual network."""
    assert ctx.conn is not None
    vnet_of_asg: dict[str, tuple[str, str]] = {}
    for row in rows_of_type(ctx.conn, ctx.tenant_id, NETWORK_INTERFACES):
        if key(row.id) == key(nic_id):
            continue
        for config in row.body["properties"].get("ipConfigurations") or []:
            vnet = key(config["properties"]["subnet"]["id"].rsplit("/subnets/", 1)[0])
            for asg in config["properties"].get("applicationSecurityGroups") or []:
                vnet_of_asg.setdefault(key(asg["id"]), (vnet, config["id"]))
    for config in configs:
        vnet = key(config["properties"]["subnet"]["id"].rsplit("/subnets/", 1)[0])
        for asg in config["properties"].get("applicationSecurityGroups") or []:
            other = vnet_of_asg.get(key(asg["id"]))
            if other is not None and other[0] != vnet:
                raise BadRequest(
                    f"IP configuration {config['id']} and {other[1]} use application security group {asg['id']} "
                    "from different virtual networks; all IP configurations of an application security group must "
                    "be in the same virtual network.",
                    code="ApplicationSecurityGroupsInDifferentVnets",
                    target=config["id"],
                )


def _vm_of(ctx: RequestContext, nic_id: str) -> str | None:
    assert ctx.conn is not None
    for vm in rows_of_type(ctx.conn, ctx.tenant_id, VIRTUAL_MACHINES):
        for nic in (vm.body["properties"].get("networkProfile") or {}).get("networkInterfaces") or []:
            if key(nic.get("id", "")) == key(nic_id):
                return vm.id
    return None


def _decorate(ctx: RequestContext, body: dict[str, Any]) -> None:
    vm = _vm_of(ctx, body["id"])
    props = body["properties"]
    if vm is not None:
        props["virtualMachine"] = {"id": vm}
        props["macAddress"] = mac_address(body["id"])
    for config in props.get("ipConfigurations") or []:
        config["etag"] = body["etag"]
    props.setdefault("nicType", "Standard")


def mac_address(nic_id: str) -> str:
    """A stable, locally administered MAC derived from the NIC's ID (Azure's format: 00-0D-3A-...)."""
    import hashlib

    digest = hashlib.sha256(key(nic_id).encode()).digest()
    return "-".join(f"{b:02X}" for b in (0x00, 0x0D, 0x3A, *digest[:3]))


def _check_delete(ctx: RequestContext, row: Any) -> None:
    vm = _vm_of(ctx, row.id)
    if vm is not None:
        raise in_use(
            "NicInUse",
            f"Network Interface {row.id} is used by existing resource {vm}. In order to delete the network "
            "interface, it must be dissociated from the resource.",
        )


SPEC = Composite(
    NETWORK_INTERFACES,
    validate=_validate,
    decorate=_decorate,
    check_delete=_check_delete,
    read_only=("virtualMachine", "macAddress", "nicType", "primary", "dscpConfiguration", "vnetEncryptionSupported"),
)


def nic_row(ctx: RequestContext, nic_id: str) -> Any:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, nic_id)
    return row if row is not None and row.type_key == NETWORK_INTERFACES.lower() else None


class IpConfigurationsHandler:
    """``networkInterfaces/{n}/ipConfigurations``: the NIC's inline configurations, read-only on their own
    (Azure changes them through the NIC)."""

    def _configs(self, ctx: RequestContext, nic_id: str) -> list[dict[str, Any]]:
        nic = nic_row(ctx, nic_id)
        if nic is None:
            raise not_found(parse_resource_id(nic_id))
        return [{**c, "etag": nic.etag} for c in nic.body["properties"].get("ipConfigurations") or []]

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        found = [c for c in self._configs(ctx, rid.parent) if c["name"].lower() == rid.name.lower()]
        if not found:
            raise not_found(rid)
        return Reply(200, found[0])

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert parent is not None
        return self._configs(ctx, str(parent))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("IP configurations are changed through their network interface.")

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("IP configurations are removed through their network interface.")
