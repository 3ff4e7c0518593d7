"""Reading a Network Watcher request: its parameters, the resources it names (checked readable by the caller)
and the engine's view of a NIC. Each function returns the value or raises Azure's error."""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import key, parse_resource_id
from warden.kernel.resources import get_row
from warden.network import validation as v
from warden.network.common import NETWORK_INTERFACES, VIRTUAL_MACHINES


def params_of(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("The request content must be a JSON object.", code="InvalidRequestContent")
    return body


def readable_row(ctx: RequestContext, resource_id: Any, target: str) -> Any:
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


def nics_of(ctx: RequestContext, target: Any, nic_id: Any, field: str) -> list[Any]:
    """The NIC rows a watcher request is about: the VM's NICs (or the NIC itself), narrowed to ``nic_id``."""
    assert ctx.conn is not None
    row = readable_row(ctx, target, "targetResourceId")
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


def nic_with_ip(nics: list[Any], ip: str, target: str) -> Any:
    for nic in nics:
        for config in nic.body["properties"].get("ipConfigurations") or []:
            if config["properties"].get("privateIPAddress") == ip:
                return nic
    raise BadRequest(
        f"IP address {ip} is not an address of the target's network interfaces.",
        code="InvalidIpAddressForTarget",
        target=target,
    )


def modelled(topology_: Any, nic_id: str) -> Any:
    """The engine's NIC; raises when the NIC's subnet no longer exists (deleted with another group)."""
    nic = topology_.network_interfaces.get(key(nic_id))
    if nic is None:
        raise BadRequest(f"The subnet of network interface {nic_id} no longer exists.", code="InvalidResourceReference")
    return nic


def port_of(value: Any, target: str, protocol: str) -> int | None:
    if protocol not in ("Tcp", "Udp"):
        return None
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise BadRequest(
            f"'{target}' must be a single port number between 0 and 65535.", code="InvalidPort", target=target
        )
    return int(text)


def ip_of(value: Any, target: str) -> str:
    return str(v.address(value, target, code="InvalidIpAddress"))
