"""``publicIPAddresses``: addresses allocated from the configured pool (``Settings.public_ip_pool``).

Warden assigns the address when the resource is created, for both allocation methods (Azure assigns a
Dynamic address only once it is attached to a running resource; see docs/network.md). An address
attached to an IP configuration cannot be deleted.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, key
from warden.kernel.schema import resources
from warden.network import validation as v
from warden.network.common import PUBLIC_IPS, Composite, in_use, ip_configuration_users
from warden.network.limits import check_count

SKUS = {"basic": "Basic", "standard": "Standard"}


def _taken(ctx: RequestContext) -> set[str]:
    """Every allocated public address, in every tenant: the pool is one address space."""
    assert ctx.conn is not None
    rows = ctx.conn.execute(select(resources.c.body).where(resources.c.type_key == PUBLIC_IPS.lower()))
    return {row.body.get("properties", {}).get("ipAddress") for row in rows} - {None}


def allocate(ctx: RequestContext) -> str:
    """The lowest free host address of the pool; raises ``PublicIPAddressPoolExhausted`` when none is left."""
    pool = ipaddress.ip_network(ctx.platform.settings.public_ip_pool, strict=False)
    taken = _taken(ctx)
    for host in pool.hosts():
        if str(host) not in taken:
            return str(host)
    raise BadRequest(f"No free public IP address is left in the pool {pool}.", code="PublicIPAddressPoolExhausted")


def _validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    if existing is None:
        check_count(ctx, rid, PUBLIC_IPS)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    sku = (body.get("sku") or {}).get("name", "Basic") if isinstance(body.get("sku"), dict) else "Basic"
    sku = v.enum(sku, SKUS, "sku.name")
    default_method = "Static" if sku == "Standard" else "Dynamic"
    method = v.enum(
        props.get("publicIPAllocationMethod"), v.ALLOCATION_METHODS, "publicIPAllocationMethod", default=default_method
    )
    if sku == "Standard" and method != "Static":
        raise BadRequest(
            "Standard sku publicIp /subscriptions/.../publicIPAddresses must have AllocationMethod set to Static.",
            code="StandardSkuPublicIPAddressesMustBeStatic",
            target="properties.publicIPAllocationMethod",
        )
    props["publicIPAllocationMethod"] = method
    version = props.get("publicIPAddressVersion") or "IPv4"
    if str(version).lower() != "ipv4":
        raise BadRequest("Only IPv4 public addresses are modelled.", code="InvalidRequestFormat")
    props["publicIPAddressVersion"] = "IPv4"
    idle = props.setdefault("idleTimeoutInMinutes", 4)
    if isinstance(idle, bool) or not isinstance(idle, int) or not 4 <= idle <= 30:
        raise BadRequest(
            f"idleTimeoutInMinutes must be between 4 and 30; value provided: {idle}.",
            code="PublicIPAddressInvalidIdleTimeout",
            target="properties.idleTimeoutInMinutes",
        )
    dns = props.get("dnsSettings")
    if isinstance(dns, dict) and dns.get("domainNameLabel"):
        location = existing.location if existing is not None else str(body.get("location", "")).replace(" ", "").lower()
        dns["fqdn"] = f"{dns['domainNameLabel']}.{location}.cloudapp.azure.com"
    kept = existing.body["properties"].get("ipAddress") if existing is not None else None
    props["ipAddress"] = kept or allocate(ctx)


def _users(ctx: RequestContext, pip_id: str) -> list[str]:
    return [cid for cid, _, _, public in ip_configuration_users(ctx) if public and key(public) == key(pip_id)]


def _decorate(ctx: RequestContext, body: dict[str, Any]) -> None:
    users = _users(ctx, body["id"])
    if users:
        body["properties"]["ipConfiguration"] = {"id": users[0]}
    body.setdefault("sku", {"name": "Basic", "tier": "Regional"})


def _check_delete(ctx: RequestContext, row: Any) -> None:
    users = _users(ctx, row.id)
    if users:
        raise in_use(
            "PublicIPAddressCannotBeDeleted",
            f"Public IP address {row.id} can not be deleted since it is still allocated to resource {users[0]}. "
            "In order to delete the public IP, disassociate/detach the Public IP address from the resource.",
        )


SPEC = Composite(
    PUBLIC_IPS,
    validate=_validate,
    decorate=_decorate,
    check_delete=_check_delete,
    read_only=("ipAddress", "ipConfiguration"),
)
