"""``networkSecurityGroups`` (``securityRules`` as child resources and inline; the six read-only
``defaultSecurityRules``) and ``applicationSecurityGroups``.

Rules (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview): priorities
100-4096, unique per direction; ports ``*``, ``N`` or ``N-M``; a prefix list holds addresses only (one
service tag or ``*`` must stand alone); at most one ASG per side; ASGs must exist. An NSG associated
with a subnet or NIC cannot be deleted; neither can an ASG a NIC or rule still references.
"""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import MethodNotAllowed
from warden.kernel.ids import ResourceId, key
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row
from warden.network import validation as v
from warden.network.common import (
    APPLICATION_SECURITY_GROUPS,
    DEFAULT_RULES,
    NETWORK_INTERFACES,
    SECURITY_GROUPS,
    SECURITY_RULES,
    SUBNETS,
    Composite,
    in_use,
    not_found,
    referrers,
    resolve_ref,
    rows_of_type,
)
from warden.network.limits import check_count
from warden.network.rules import DEFAULT_SECURITY_RULES, SecurityRule


def _validate(
    ctx: RequestContext,
    rid: ResourceId,
    props: dict[str, Any],
    children: dict[str, list[tuple[str, dict]]],
    existing: Any,
) -> None:
    if existing is None:
        check_count(ctx, rid, SECURITY_GROUPS)
    props.pop("defaultSecurityRules", None)
    rules = children.get("securityRules", [])
    for name, rule in rules:
        v.security_rule(name, rule)
        for side in ("source", "destination"):
            field = f"{side}ApplicationSecurityGroups"
            refs = rule.get(field) or []
            resolved = [resolve_ref(ctx, r, APPLICATION_SECURITY_GROUPS, f"securityRules/{name}.{field}") for r in refs]
            rule[field] = [{"id": row.id} for row in resolved if row is not None]
            if not rule[field]:
                rule.pop(field)
    v.unique_priorities(rules)


def default_rule_json(nsg_id: str, rule: SecurityRule) -> dict[str, Any]:
    """One of Azure's six default rules as ARM shows it under ``defaultSecurityRules``."""
    return {
        "name": rule.name,
        "id": f"{nsg_id}/defaultSecurityRules/{rule.name}",
        "type": DEFAULT_RULES,
        "properties": {
            "provisioningState": "Succeeded",
            "description": _DESCRIPTIONS[rule.name],
            "protocol": "*",
            "sourcePortRange": "*",
            "destinationPortRange": "*",
            "sourceAddressPrefix": rule.source_address_prefixes[0],
            "destinationAddressPrefix": rule.destination_address_prefixes[0],
            "access": rule.access,
            "priority": rule.priority,
            "direction": rule.direction,
            "sourcePortRanges": [],
            "destinationPortRanges": [],
            "sourceAddressPrefixes": [],
            "destinationAddressPrefixes": [],
        },
    }


_DESCRIPTIONS = {
    "AllowVnetInBound": "Allow inbound traffic from all VMs in VNET",
    "AllowAzureLoadBalancerInBound": "Allow inbound traffic from azure load balancer",
    "DenyAllInBound": "Deny all inbound traffic",
    "AllowVnetOutBound": "Allow outbound traffic from all VMs to all VMs in VNET",
    "AllowInternetOutBound": "Allow outbound traffic from all VMs to Internet",
    "DenyAllOutBound": "Deny all outbound traffic",
}


def _nsg_refs(props: dict[str, Any]) -> list[str]:
    return [(props.get("networkSecurityGroup") or {}).get("id", "")]


def _decorate(ctx: RequestContext, body: dict[str, Any]) -> None:
    props = body["properties"]
    props["defaultSecurityRules"] = [default_rule_json(body["id"], r) for r in DEFAULT_SECURITY_RULES]
    subnets = referrers(ctx, SUBNETS, _nsg_refs, body["id"])
    nics = referrers(ctx, NETWORK_INTERFACES, _nsg_refs, body["id"])
    if subnets:
        props["subnets"] = [{"id": s} for s in subnets]
    if nics:
        props["networkInterfaces"] = [{"id": n} for n in nics]


def _check_delete(ctx: RequestContext, row: Any) -> None:
    users = referrers(ctx, SUBNETS, _nsg_refs, row.id) + referrers(ctx, NETWORK_INTERFACES, _nsg_refs, row.id)
    if users:
        raise in_use(
            "InUseNetworkSecurityGroupCannotBeDeleted",
            f"Network security group {row.id} cannot be deleted because it is in use by the following resources: "
            f"{', '.join(users)}. In order to delete the Network security group, remove the association with the "
            "resource(s).",
        )


SPEC = Composite(
    SECURITY_GROUPS,
    children={"securityRules": SECURITY_RULES},
    validate=_validate,
    decorate=_decorate,
    check_delete=_check_delete,
    read_only=("defaultSecurityRules", "subnets", "networkInterfaces", "flowLogs"),
)


class DefaultRulesHandler:
    """``networkSecurityGroups/{n}/defaultSecurityRules``: Azure's six, read-only."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        nsg = get_row(ctx.conn, ctx.tenant_id, rid.parent)
        rule = next((r for r in DEFAULT_SECURITY_RULES if r.name.lower() == rid.name.lower()), None)
        if nsg is None or rule is None:
            raise not_found(rid)
        return Reply(200, default_rule_json(nsg.id, rule))

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None and parent is not None
        nsg = get_row(ctx.conn, ctx.tenant_id, str(parent))
        if nsg is None:
            raise not_found(parent)
        return [default_rule_json(nsg.id, r) for r in DEFAULT_SECURITY_RULES]

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Default security rules cannot be changed; override them with security rules.")

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Default security rules cannot be deleted.")


# ---- application security groups ------------------------------------------------------------------------------


def _asg_validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    if existing is None:
        check_count(ctx, rid, APPLICATION_SECURITY_GROUPS)


def _asg_users(ctx: RequestContext, asg_id: str) -> list[str]:
    assert ctx.conn is not None
    wanted = key(asg_id)
    users = []
    for row in rows_of_type(ctx.conn, ctx.tenant_id, NETWORK_INTERFACES):
        for config in row.body["properties"].get("ipConfigurations") or []:
            if any(key(a.get("id", "")) == wanted for a in config["properties"].get("applicationSecurityGroups") or []):
                users.append(config["id"])
    for row in rows_of_type(ctx.conn, ctx.tenant_id, SECURITY_RULES):
        props = row.body["properties"]
        named = [
            *(props.get("sourceApplicationSecurityGroups") or []),
            *(props.get("destinationApplicationSecurityGroups") or []),
        ]
        if any(key(a.get("id", "")) == wanted for a in named):
            users.append(row.id)
    return users


def _asg_check_delete(ctx: RequestContext, row: Any) -> None:
    users = _asg_users(ctx, row.id)
    if users:
        raise in_use(
            "ApplicationSecurityGroupInUse",
            f"Application security group {row.id} cannot be deleted because it is in use by {users[0]}.",
        )


ASG_SPEC = Composite(APPLICATION_SECURITY_GROUPS, validate=_asg_validate, check_delete=_asg_check_delete)
