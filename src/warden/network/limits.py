"""Per-subscription, per-region network limits and the ``locations/{loc}/usages`` listing that reports them.

Limits are Azure's published defaults
(https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits#networking-limits).
"""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply

# usage name -> (resource type, limit, localized name)
LIMITS: dict[str, tuple[str, int, str]] = {
    "VirtualNetworks": ("Microsoft.Network/virtualNetworks", 1000, "Virtual Networks"),
    "NetworkSecurityGroups": ("Microsoft.Network/networkSecurityGroups", 5000, "Network Security Groups"),
    "ApplicationSecurityGroups": ("Microsoft.Network/applicationSecurityGroups", 3000, "Application Security Groups"),
    "RouteTables": ("Microsoft.Network/routeTables", 200, "Route Tables"),
    "NetworkInterfaces": ("Microsoft.Network/networkInterfaces", 65536, "Network Interfaces"),
    "PublicIPAddresses": ("Microsoft.Network/publicIPAddresses", 1000, "Public IP Addresses"),
    "LocalNetworkGateways": ("Microsoft.Network/localNetworkGateways", 1000, "Local Network Gateways"),
    "VirtualNetworkGateways": ("Microsoft.Network/virtualNetworkGateways", 1000, "Virtual Network Gateways"),
    "NetworkWatchers": ("Microsoft.Network/networkWatchers", 1, "Network Watchers"),
}
PER_PARENT = {  # limits inside one resource (not reported by usages)
    "Microsoft.Network/virtualNetworks/subnets": 3000,
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings": 500,
    "Microsoft.Network/networkSecurityGroups/securityRules": 1000,
    "Microsoft.Network/routeTables/routes": 400,
}


def _rows(ctx: RequestContext, type_name: str) -> list[Any]:
    from sqlalchemy import select

    from warden.kernel.schema import resources

    assert ctx.conn is not None
    query = select(resources).where(resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == type_name.lower())
    return list(ctx.conn.execute(query))


def _count(ctx: RequestContext, subscription_id: str, location: str, type_name: str) -> int:
    assert ctx.conn is not None
    return sum(
        1
        for row in _rows(ctx, type_name)
        if (row.subscription_id or "") == subscription_id.lower() and (row.location or "") == location
    )


def check_count(ctx: RequestContext, rid: ResourceId, type_name: str, location: str | None = None) -> None:
    """Refuse creating one more ``type_name`` in the subscription and region when the limit is reached."""
    body = ctx.body if isinstance(ctx.body, dict) else {}
    location = (location or str(body.get("location") or "")).replace(" ", "").lower()
    for usage, (limited_type, limit, label) in LIMITS.items():
        if limited_type == type_name:
            subscription = rid.container.subscription_id or ""
            if _count(ctx, subscription, location, type_name) >= limit:
                code = "NetworkWatcherCountLimitReached" if usage == "NetworkWatchers" else "QuotaExceeded"
                raise BadRequest(
                    f"Cannot create more than {limit} {label} for this subscription in this region.", code=code
                )


def check_children(count: int, child_type: str, parent_name: str) -> None:
    limit = PER_PARENT.get(child_type)
    if limit is not None and count > limit:
        raise BadRequest(
            f"{parent_name} has {count} {child_type.rsplit('/', 1)[-1]}; at most {limit} are allowed.",
            code="QuotaExceeded",
        )


class UsagesHandler:
    """``GET /subscriptions/{s}/providers/Microsoft.Network/locations/{loc}/usages``: a list, nothing else."""

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert parent is not None
        location = parent.name.replace(" ", "").lower()
        subscription = parent.container.subscription_id or ""
        return [
            {
                "id": f"{parent}/usages/{usage}",
                "name": {"value": usage, "localizedValue": label},
                "currentValue": _count(ctx, subscription, location, type_name),
                "limit": limit,
                "unit": "Count",
            }
            for usage, (type_name, limit, label) in LIMITS.items()
        ]

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Usages are listed, not read one by one.")

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Usages cannot be written.")

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Usages cannot be written.")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Usages cannot be deleted.")
