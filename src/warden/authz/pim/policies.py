"""``roleManagementPolicies`` and ``roleManagementPolicyAssignments``: one policy per role and scope.

Every (scope, role) has a policy, as in Azure; only changed ones are stored, the rest answer the
default below. The policy's GUID is derived from (tenant, scope, role), and its assignment is
named ``{policyGuid}_{roleGuid}`` as Azure names them.
The rules themselves (defaults, validation, what they switch on) are in ``policy_rules``.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from warden.authz.pim.common import (
    derived_guid,
    require_properties,
    role_definition_id,
    roles_in_tenant,
    scope_key,
    scoped_id,
)
from warden.authz.pim.policy_rules import DEFAULT_RULES, ActivationPolicy, activation_policy, validate_rules
from warden.authz.pim.schema import pim_policies
from warden.authz.store import find_role
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId, is_guid
from warden.kernel.reply import Reply

POLICY_TYPE = "Microsoft.Authorization/roleManagementPolicies"
ASSIGNMENT_TYPE = "Microsoft.Authorization/roleManagementPolicyAssignments"


def policy_name(tenant_id: str, scope: str, role_guid: str) -> str:
    return derived_guid(tenant_id, scope_key(scope), role_guid)


def stored_rules(conn: Connection, tenant_id: str, scope: str, role_guid: str) -> list[dict[str, Any]] | None:
    row = conn.execute(
        select(pim_policies.c.rules).where(
            pim_policies.c.tenant_id == tenant_id, pim_policies.c.name == policy_name(tenant_id, scope, role_guid)
        )
    ).first()
    return row.rules if row else None


def effective_rules(conn: Connection, tenant_id: str, scope: str, role_guid: str) -> list[dict[str, Any]]:
    """The rules in force for ``role_guid`` at exactly ``scope`` (Azure's policies do not inherit)."""
    return stored_rules(conn, tenant_id, scope, role_guid) or copy.deepcopy(list(DEFAULT_RULES))


def policy_for(conn: Connection, tenant_id: str, scope: str, role_guid: str) -> ActivationPolicy:
    return activation_policy(effective_rules(conn, tenant_id, scope, role_guid))


def policy_json(ctx: RequestContext, scope: str, role_guid: str) -> dict[str, Any]:
    assert ctx.conn is not None
    row = ctx.conn.execute(
        select(pim_policies).where(
            pim_policies.c.tenant_id == ctx.tenant_id,
            pim_policies.c.name == policy_name(ctx.tenant_id, scope, role_guid),
        )
    ).first()
    rules = row.rules if row else copy.deepcopy(list(DEFAULT_RULES))
    name = policy_name(ctx.tenant_id, scope, role_guid)
    return {
        "id": scoped_id(scope, "roleManagementPolicies", name),
        "name": name,
        "type": POLICY_TYPE,
        "properties": {
            "scope": scope or "/",
            "displayName": "Default",
            "description": "Default",
            "isOrganizationDefault": False,
            "lastModifiedBy": {"id": row.updated_by, "type": "ServicePrincipal"} if row else None,
            "lastModifiedDateTime": isoformat(aware(row.updated_at)) if row else None,
            "rules": rules,
            "effectiveRules": rules,
            "policyProperties": {"scope": {"id": scope or "/", "type": _scope_type(scope)}},
        },
    }


def policy_assignment_json(ctx: RequestContext, scope: str, role_guid: str) -> dict[str, Any]:
    policy = policy_json(ctx, scope, role_guid)
    name = f"{policy['name']}_{role_guid}"
    return {
        "id": scoped_id(scope, "roleManagementPolicyAssignments", name),
        "name": name,
        "type": ASSIGNMENT_TYPE,
        "properties": {
            "scope": scope or "/",
            "roleDefinitionId": role_definition_id(scope, role_guid),
            "policyId": policy["id"],
            "effectiveRules": policy["properties"]["rules"],
            "policyAssignmentProperties": {
                "scope": {"id": scope or "/", "type": _scope_type(scope)},
                "roleDefinition": {"id": role_definition_id(scope, role_guid)},
                "policy": {"id": policy["id"]},
            },
        },
    }


def _scope_type(scope: str) -> str:
    parts = [p.lower() for p in (scope or "/").split("/") if p]
    if not parts:
        return "tenant"
    if parts[0] == "subscriptions" and len(parts) == 2:
        return "subscription"
    if parts[0] == "subscriptions" and len(parts) == 4:
        return "resourcegroup"
    return "resource"


def _role_for_policy(ctx: RequestContext, scope: str, name: str) -> str:
    """The role GUID whose policy at ``scope`` is named ``name``; raise NotFound otherwise."""
    assert ctx.conn is not None
    for role in roles_in_tenant(ctx.conn, ctx.tenant_id):
        if policy_name(ctx.tenant_id, scope, role.id) == name.lower():
            return role.id.lower()
    raise NotFound(f"The role management policy '{name}' was not found.", code="RoleManagementPolicyNotFound")


class PolicyHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, policy_json(ctx, rid.scope, _role_for_policy(ctx, rid.scope, rid.name)))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.patch(ctx, rid, body)

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        assert ctx.conn is not None
        role_guid = _role_for_policy(ctx, rid.scope, rid.name)
        properties = require_properties(body)
        current = effective_rules(ctx.conn, ctx.tenant_id, rid.scope, role_guid)
        rules = validate_rules(properties.get("rules", []), current)
        values = {"rules": rules, "updated_by": ctx.caller.object_id, "updated_at": utcnow()}
        name = policy_name(ctx.tenant_id, rid.scope, role_guid)
        if stored_rules(ctx.conn, ctx.tenant_id, rid.scope, role_guid) is None:
            ctx.conn.execute(
                insert(pim_policies).values(
                    tenant_id=ctx.tenant_id,
                    name=name,
                    scope=rid.scope or "/",
                    scope_key=scope_key(rid.scope),
                    role_guid=role_guid,
                    **values,
                )
            )
        else:
            ctx.conn.execute(
                update(pim_policies)
                .where(pim_policies.c.tenant_id == ctx.tenant_id, pim_policies.c.name == name)
                .values(**values)
            )
        return Reply(200, policy_json(ctx, rid.scope, role_guid))

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        """Back to the default policy (a role always has one)."""
        assert ctx.conn is not None
        role_guid = _role_for_policy(ctx, rid.scope, rid.name)
        ctx.conn.execute(
            delete(pim_policies).where(
                pim_policies.c.tenant_id == ctx.tenant_id,
                pim_policies.c.name == policy_name(ctx.tenant_id, rid.scope, role_guid),
            )
        )
        return Reply(200, policy_json(ctx, rid.scope, role_guid))

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        return [policy_json(ctx, scope, role.id.lower()) for role in roles_in_tenant(ctx.conn, ctx.tenant_id)]


class PolicyAssignmentHandler:
    """Read-only: each role's policy is assigned to it at every scope."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        policy, _, role_guid = rid.name.partition("_")
        if not is_guid(role_guid) or find_role(ctx.conn, ctx.tenant_id, role_guid) is None:
            raise NotFound(
                f"The policy assignment '{rid.name}' was not found.", code="RoleManagementPolicyAssignmentNotFound"
            )
        if policy_name(ctx.tenant_id, rid.scope, role_guid) != policy.lower():
            raise NotFound(
                f"The policy assignment '{rid.name}' was not found.", code="RoleManagementPolicyAssignmentNotFound"
            )
        return Reply(200, policy_assignment_json(ctx, rid.scope, role_guid.lower()))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest(
            "Every role has a policy assignment at every scope; change the policy itself instead.",
            code="OperationNotAllowed",
        )

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return self.put(ctx, rid, None)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        return [policy_assignment_json(ctx, scope, r.id.lower()) for r in roles_in_tenant(ctx.conn, ctx.tenant_id)]
