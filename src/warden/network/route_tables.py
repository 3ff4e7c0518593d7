"""``routeTables`` with ``routes`` (child resources and inline) and ``disableBgpRoutePropagation``.

A route's prefix is a CIDR; ``VirtualAppliance`` needs ``nextHopIpAddress`` and no other hop type may
carry one (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview). A table
associated with a subnet cannot be deleted.
"""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId
from warden.network import validation as v
from warden.network.common import ROUTE_TABLES, ROUTES, SUBNETS, Composite, in_use, referrers
from warden.network.limits import check_count


def _validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    if existing is None:
        check_count(ctx, rid, ROUTE_TABLES)
    props["disableBgpRoutePropagation"] = bool(props.get("disableBgpRoutePropagation") or False)
    seen: dict[str, str] = {}
    for name, route in children.get("routes", []):
        v.route(name, route)
        prefix = str(v.network(route["addressPrefix"], f"routes/{name}"))
        if prefix in seen:
            raise BadRequest(
                f"Route {name} has the same address prefix {prefix} as route {seen[prefix]} in the same route table.",
                code="RouteConflict",
                target=f"routes/{name}",
            )
        seen[prefix] = name


def _table_refs(props: dict[str, Any]) -> list[str]:
    return [(props.get("routeTable") or {}).get("id", "")]


def _decorate(ctx: RequestContext, body: dict[str, Any]) -> None:
    subnets = referrers(ctx, SUBNETS, _table_refs, body["id"])
    if subnets:
        body["properties"]["subnets"] = [{"id": s} for s in subnets]


def _check_delete(ctx: RequestContext, row: Any) -> None:
    users = referrers(ctx, SUBNETS, _table_refs, row.id)
    if users:
        raise in_use(
            "InUseRouteTableCannotBeDeleted",
            f"Route table {row.id} is in use and cannot be deleted. In order to delete the route table, remove "
            f"its association with: {', '.join(users)}.",
        )


SPEC = Composite(
    ROUTE_TABLES,
    children={"routes": ROUTES},
    validate=_validate,
    decorate=_decorate,
    check_delete=_check_delete,
    read_only=("subnets",),
)
