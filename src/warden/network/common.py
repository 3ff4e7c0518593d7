"""What every ``Microsoft.Network`` module shares: type names, the ``Composite`` spec a type registers with,
reference resolution and the lookups of who uses what. The handlers built from a spec are in ``handlers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, select

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, InvalidRequestContent, NotFound
from warden.kernel.ids import ResourceId, key, validate_name
from warden.kernel.resources import get_row
from warden.kernel.schema import resources

NAMESPACE = "Microsoft.Network"
API_VERSIONS = ("2024-07-01", "2024-05-01", "2024-03-01", "2023-11-01", "2023-09-01", "2023-05-01")
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?$")


class AnyProperties(BaseModel):
    """Network types validate their properties in ``validation`` with Azure's error codes, not here."""

    model_config = ConfigDict(extra="allow")


# A validator receives the parent's properties (children removed) and, per inline property, the list of
# ``(name, properties)`` children; it returns both normalized. ``existing`` is the stored row or None.
Validator = Callable[[RequestContext, ResourceId, dict[str, Any], dict[str, list[tuple[str, dict]]], Any], None]
Decorator = Callable[[RequestContext, dict[str, Any]], None]
DeleteCheck = Callable[[RequestContext, Any], None]


@dataclass
class Composite:
    """How one network type is stored and checked."""

    type_name: str
    children: dict[str, str] = field(default_factory=dict)  # inline property -> child type (full)
    validate: Validator | None = None
    decorate: Decorator | None = None  # add read-only computed properties to a resource's JSON
    check_delete: DeleteCheck | None = None  # refuse deleting a resource in use
    child_decorate: dict[str, Decorator] = field(default_factory=dict)
    child_check_delete: dict[str, DeleteCheck] = field(default_factory=dict)
    location_required: bool = True
    read_only: tuple[str, ...] = ()  # computed properties of the parent, ignored on input
    child_read_only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per child type
    secret_fields: tuple[str, ...] = ()  # stored sealed, never returned


def rows_of_type(conn: Connection, tenant_id: str, type_name: str, *, parent: str | None = None) -> list[Any]:
    """Every stored row of ``type_name`` in the tenant (under ``parent`` when given), in key order."""
    query = select(resources).where(resources.c.tenant_id == tenant_id, resources.c.type_key == type_name.lower())
    if parent is not None:
        query = query.where(resources.c.parent_key == key(parent))
    return list(conn.execute(query.order_by(resources.c.key)))


def child_json(row: Any) -> dict[str, Any]:
    """A child resource as Azure shows it, inline or alone: no tags, location or systemData."""
    return {
        "name": row.name,
        "id": row.id,
        "etag": row.etag,
        "type": row.type,
        "properties": dict(row.body.get("properties", {})),
    }


def ref(value: Any) -> str | None:
    """The ``id`` of a sub-resource reference (``{"id": ...}``), or None when absent."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    raise InvalidRequestContent("A resource reference must be an object with an 'id'.")


def resolve_ref(ctx: RequestContext, value: Any, type_name: str, target: str) -> Any | None:
    """The stored row a reference names; raises ``InvalidResourceReference`` when it is missing or of another type."""
    assert ctx.conn is not None
    rid = ref(value)
    if rid is None:
        return None
    row = get_row(ctx.conn, ctx.tenant_id, rid)
    if row is None or row.type_key != type_name.lower():
        raise BadRequest(
            f"Resource {rid} referenced by {target} was not found.", code="InvalidResourceReference", target=target
        )
    return row


def referrers(ctx: RequestContext, type_name: str, refs_of: Callable[[dict[str, Any]], list[str]], target: str) -> list:
    """IDs of the ``type_name`` resources whose properties reference ``target`` (via ``refs_of``)."""
    assert ctx.conn is not None
    wanted = key(target)
    out = []
    for row in rows_of_type(ctx.conn, ctx.tenant_id, type_name):
        if any(key(r) == wanted or key(r).startswith(wanted + "/") for r in refs_of(row.body.get("properties", {}))):
            out.append(row.id)
    return out


def inline_children(value: Any, prop: str, ignored: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """``(name, properties)`` of each inline child; names come from ``name`` or the last segment of ``id``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestContent(f"'properties.{prop}' must be an array.", target=f"properties.{prop}")
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequestContent(f"'properties.{prop}[{index}]' must be an object.")
        name = item.get("name") or str(item.get("id") or "").rstrip("/").rsplit("/", 1)[-1]
        if not isinstance(name, str) or not name:
            raise BadRequest(
                f"'properties.{prop}[{index}].name' is required.",
                code="InvalidRequestFormat",
                target=f"{prop}[{index}]",
            )
        check_name(name)
        if name.lower() in seen:
            raise BadRequest(
                f"'properties.{prop}' contains more than one item named '{name}'.",
                code="DuplicateResourceName",
                target=f"properties.{prop}",
            )
        seen.add(name.lower())
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            raise InvalidRequestContent(f"'properties.{prop}[{index}].properties' must be an object.")
        out.append((name, strip_read_only(dict(properties), ignored)))
    return out


def strip_read_only(properties: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Drop what clients may echo back from a GET but never set (Azure ignores these on input)."""
    for name in ("provisioningState", "resourceGuid", "etag", *extra):
        properties.pop(name, None)
    return properties


def check_name(name: str) -> None:
    validate_name(name)
    if not _NAME.match(name):
        raise BadRequest(
            f"Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word "
            "character, and it must end with a word character or with '_'. The name may contain word characters or "
            "'.', '-', '_'.",
            code="InvalidResourceName",
        )


def not_found(rid: ResourceId) -> NotFound:
    group = rid.container.resource_group
    return NotFound(
        f"The Resource '{rid.type}/{'/'.join(rid.names)}' under resource group '{group}' was not found.",
        code="ResourceNotFound",
    )


def in_use(code: str, message: str) -> BadRequest:
    """Azure answers deletes of in-use network resources with 400 and a specific code."""
    return BadRequest(message, code=code)


VIRTUAL_NETWORKS = "Microsoft.Network/virtualNetworks"
SUBNETS = "Microsoft.Network/virtualNetworks/subnets"
PEERINGS = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
SECURITY_GROUPS = "Microsoft.Network/networkSecurityGroups"
SECURITY_RULES = "Microsoft.Network/networkSecurityGroups/securityRules"
DEFAULT_RULES = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
APPLICATION_SECURITY_GROUPS = "Microsoft.Network/applicationSecurityGroups"
ROUTE_TABLES = "Microsoft.Network/routeTables"
ROUTES = "Microsoft.Network/routeTables/routes"
NETWORK_INTERFACES = "Microsoft.Network/networkInterfaces"
PUBLIC_IPS = "Microsoft.Network/publicIPAddresses"
VIRTUAL_NETWORK_GATEWAYS = "Microsoft.Network/virtualNetworkGateways"
LOCAL_NETWORK_GATEWAYS = "Microsoft.Network/localNetworkGateways"
CONNECTIONS = "Microsoft.Network/connections"
NETWORK_WATCHERS = "Microsoft.Network/networkWatchers"
VIRTUAL_MACHINES = "Microsoft.Compute/virtualMachines"


def ip_configuration_users(ctx: RequestContext) -> list[tuple[str, str, str | None, str | None]]:
    """``(ipConfiguration id, subnet id, private IP, public IP id)`` of every NIC and gateway IP configuration."""
    assert ctx.conn is not None
    out = []
    for type_name in (NETWORK_INTERFACES, VIRTUAL_NETWORK_GATEWAYS):
        for row in rows_of_type(ctx.conn, ctx.tenant_id, type_name):
            for config in row.body.get("properties", {}).get("ipConfigurations") or []:
                props = config.get("properties", {})
                subnet = (props.get("subnet") or {}).get("id")
                public = (props.get("publicIPAddress") or {}).get("id")
                out.append((config.get("id", ""), subnet or "", props.get("privateIPAddress"), public))
    return out


def obj(value: Any, target: str) -> dict[str, Any]:
    """``value`` as an object (absent: empty); raises 400 for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequestContent(f"'{target}' must be a JSON object.", target=target)
    return value


def arr(value: Any, target: str) -> list[Any]:
    """``value`` as an array (absent: empty); raises 400 for anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestContent(f"'{target}' must be a JSON array.", target=target)
    return value


def text(value: Any, target: str) -> str:
    """``value`` as a non-empty string; raises 400 for anything else."""
    if not isinstance(value, str) or not value:
        raise InvalidRequestContent(f"'{target}' must be a non-empty string.", target=target)
    return value
