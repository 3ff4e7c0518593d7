"""Network Watcher's ``topology``: the network resources of a resource group and their associations.

Azure's shape: ``{id, createdDateTime, lastModified, resources: [{name, id, location, associations:
[{name, resourceId, associationType: Associated | Contains}]}]}``; only resources in the watcher's region.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import key
from warden.kernel.resources import get_row
from warden.kernel.schema import resources
from warden.network.common import (
    NETWORK_INTERFACES,
    PUBLIC_IPS,
    ROUTE_TABLES,
    SECURITY_GROUPS,
    SUBNETS,
    VIRTUAL_MACHINES,
    VIRTUAL_NETWORKS,
    rows_of_type,
)

SHOWN = (VIRTUAL_NETWORKS, SUBNETS, NETWORK_INTERFACES, SECURITY_GROUPS, ROUTE_TABLES, PUBLIC_IPS, VIRTUAL_MACHINES)


def _association(resource_id: str, kind: str) -> dict[str, str]:
    return {"name": resource_id.rstrip("/").rsplit("/", 1)[-1], "resourceId": resource_id, "associationType": kind}


def _associations(row: Any, children: dict[str, list[str]]) -> list[dict[str, str]]:
    props = row.body.get("properties", {})
    out = [_association(c, "Contains") for c in children.get(key(row.id), [])]
    refs = []
    if row.type_key == SUBNETS.lower():
        refs = [props.get("networkSecurityGroup"), props.get("routeTable")]
    elif row.type_key == NETWORK_INTERFACES.lower():
        refs = [props.get("networkSecurityGroup")]
        for config in props.get("ipConfigurations") or []:
            refs += [config["properties"].get("subnet"), config["properties"].get("publicIPAddress")]
    elif row.type_key == VIRTUAL_MACHINES.lower():
        out += [_association(n["id"], "Contains") for n in props["networkProfile"]["networkInterfaces"]]
    seen = set()
    for item in refs:
        if item and key(item["id"]) not in seen:
            seen.add(key(item["id"]))
            out.append(_association(item["id"], "Associated"))
    return out


def describe(ctx: RequestContext, watcher: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The topology answer for ``targetResourceGroupName`` (or the group of ``targetVirtualNetwork``)."""
    assert ctx.conn is not None
    subscription = watcher.subscription_id
    group = params.get("targetResourceGroupName")
    vnet = (
        (params.get("targetVirtualNetwork") or {}).get("id")
        if isinstance(params.get("targetVirtualNetwork"), dict)
        else None
    )
    if not group and vnet:
        group = vnet.split("/")[4] if len(vnet.split("/")) > 4 else None
    if not isinstance(group, str) or not group:
        raise BadRequest(
            "targetResourceGroupName or targetVirtualNetwork is required.",
            code="InvalidRequestFormat",
            target="targetResourceGroupName",
        )
    group_id = f"/subscriptions/{subscription}/resourceGroups/{group}"
    if get_row(ctx.conn, ctx.tenant_id, group_id) is None:
        raise NotFound(f"Resource group '{group}' could not be found.", code="ResourceGroupNotFound")
    ctx.authorize("Microsoft.Resources/subscriptions/resourceGroups/read", group_id)
    rows = list(
        ctx.conn.execute(
            select(resources)
            .where(
                resources.c.tenant_id == ctx.tenant_id,
                resources.c.subscription_id == subscription,
                resources.c.resource_group_key == group.lower(),
                resources.c.type_key.in_([t.lower() for t in SHOWN]),
            )
            .order_by(resources.c.key)
        )
    )
    # Subnets are child rows, not resources of the group: fetch them under the group's VNets.
    for vnet in [r for r in rows if r.type_key == VIRTUAL_NETWORKS.lower()]:
        rows += rows_of_type(ctx.conn, ctx.tenant_id, SUBNETS, parent=vnet.id)
    rows = sorted({key(r.id): r for r in rows}.values(), key=lambda r: key(r.id))
    located = {key(r.id): r.location for r in rows if r.location}
    children: dict[str, list[str]] = {}
    for row in rows:
        if row.type_key == SUBNETS.lower():
            children.setdefault(key(row.parent_key), []).append(row.id)
    out, newest = [], None
    for row in rows:
        location = row.location or located.get(key(row.parent_key))
        if location != watcher.location or not ctx.can(f"{row.type}/read", row.id):
            continue
        newest = max(newest or row.modified_at, row.modified_at)
        out.append({"name": row.name, "id": row.id, "location": location, "associations": _associations(row, children)})
    now = isoformat(utcnow())
    return {
        "id": str(uuid.uuid4()),
        "createdDateTime": now,
        "lastModified": isoformat(aware(newest)) if newest else now,
        "resources": out,
    }
