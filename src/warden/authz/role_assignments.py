"""``{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`` at any scope.

Listing follows Azure: without a filter, assignments at, above and below the scope;
``atScope()`` keeps those at and above; ``principalId eq '…'`` and ``assignedTo('…')`` select
one principal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select

from warden.authz.engine import scope_ancestors
from warden.authz.role_definitions import assignable_at
from warden.authz.store import find_role
from warden.identity.membership import directory_object_kind, transitive_group_ids
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from warden.kernel.ids import ResourceId, is_guid, key
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object
from warden.kernel.schema import below, role_assignments

TYPE = "Microsoft.Authorization/roleAssignments"
PRINCIPAL_TYPES = {
    "user": "User",
    "group": "Group",
    "serviceprincipal": "ServicePrincipal",
    "foreigngroup": "ForeignGroup",
    "device": "Device",
}


def assignment_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "type": TYPE,
        "properties": {
            "roleDefinitionId": row.role_definition_id,
            "principalId": row.principal_id,
            "principalType": row.principal_type,
            "scope": row.scope or "/",
            "condition": row.condition,
            "conditionVersion": row.condition_version,
            "description": row.description,
            "createdOn": isoformat(aware(row.created_at)),
            "updatedOn": isoformat(aware(row.updated_at)),
            "createdBy": row.created_by,
            "updatedBy": row.updated_by,
            "delegatedManagedIdentityResourceId": None,
        },
    }


class RoleAssignmentHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._row(ctx, rid)
        if row is None:
            raise NotFound(f"The role assignment '{rid.name}' is not found.", code="RoleAssignmentNotFound")
        return Reply(200, assignment_json(row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        assert ctx.conn is not None
        if not is_guid(rid.name):
            raise BadRequest(
                f"The role assignment ID '{rid.name}' is not valid. The role assignment ID must be a GUID.",
                code="InvalidRoleAssignmentId",
            )
        properties = require_object(require_object(body).get("properties"))
        role_definition_id = properties.get("roleDefinitionId")
        principal_id = properties.get("principalId")
        if not isinstance(role_definition_id, str) or not role_definition_id:
            raise BadRequest(
                "'roleDefinitionId' is required.", code="InvalidRequestContent", target="properties.roleDefinitionId"
            )
        if not isinstance(principal_id, str) or not is_guid(principal_id):
            raise BadRequest(
                "'principalId' must be a GUID.", code="InvalidPrincipalId", target="properties.principalId"
            )
        for field in ("description", "condition", "conditionVersion", "principalType"):
            if properties.get(field) is not None and not isinstance(properties[field], str):
                raise BadRequest(
                    f"'{field}' must be a string.", code="InvalidRequestContent", target=f"properties.{field}"
                )
        if properties.get("condition"):
            # Conditions (ABAC) are not evaluated yet; accepting one would grant more than asked.
            raise BadRequest("Role assignment conditions are not supported.", code="ConditionNotSupported")
        scope = rid.scope or "/"
        guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1]
        role = find_role(ctx.conn, ctx.tenant_id, guid) if is_guid(guid) else None
        if role is None:
            raise BadRequest(
                f"The specified role definition with ID '{guid}' does not exist.",
                code="RoleDefinitionDoesNotExist",
                target="properties.roleDefinitionId",
            )
        if not assignable_at(role, scope):
            raise Forbidden(
                f"The role '{role.role_name}' is not available for assignment at scope '{scope}'.",
                code="RoleAssignmentScopeNotAllowed",
            )
        principal_type = self._principal_type(ctx, principal_id, properties.get("principalType"))
        existing = self._row(ctx, rid)
        if existing is not None:
            if existing.principal_id != principal_id.lower() or existing.role_guid != guid.lower():
                raise BadRequest(
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                    code="RoleAssignmentUpdateNotPermitted",
                )
            return Reply(200, assignment_json(existing))
        duplicate = ctx.conn.execute(
            select(role_assignments.c.id).where(
                role_assignments.c.tenant_id == ctx.tenant_id,
                role_assignments.c.scope_key == key(scope),
                role_assignments.c.principal_id == principal_id.lower(),
                role_assignments.c.role_guid == guid.lower(),
            )
        ).first()
        if duplicate is not None:
            raise Conflict(
                "The role assignment already exists.",
                code="RoleAssignmentExists",
                details=[
                    {
                        "code": "RoleAssignmentExists",
                        "target": duplicate.id,
                        "message": f"The ID of the existing role assignment is {duplicate.id}.",
                    }
                ],
            )
        now = utcnow()
        normalized_definition_id = (
            f"{'' if scope == '/' else _subscription_prefix(scope)}/providers/"
            f"Microsoft.Authorization/roleDefinitions/{role.id}"
        )
        ctx.conn.execute(
            insert(role_assignments).values(
                tenant_id=ctx.tenant_id,
                key=rid.key,
                id=str(rid),
                name=rid.name.lower(),
                scope=scope,
                scope_key=key(scope),
                principal_id=principal_id.lower(),
                principal_type=principal_type,
                role_definition_id=normalized_definition_id,
                role_guid=role.id.lower(),
                description=properties.get("description"),
                condition=None,
                condition_version=None,
                created_by=ctx.caller.object_id,
                created_at=now,
                updated_by=ctx.caller.object_id,
                updated_at=now,
            )
        )
        ctx.invalidate_authorization()
        return Reply(201, assignment_json(self._row(ctx, rid)))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Role assignments are created with PUT and cannot be patched.", code="OperationNotAllowed")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = self._row(ctx, rid)
        if row is None:
            return Reply(204)
        ctx.conn.execute(
            delete(role_assignments).where(
                role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.key == row.key
            )
        )
        ctx.invalidate_authorization()
        return Reply(200, assignment_json(row))

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        scope_key = key(scope or "/")
        at_scope = False
        principals: list[str] | None = None
        for clause in parse_filter(ctx.query.get("$filter")):
            if clause.op == "call" and clause.name == "atscope":
                at_scope = True
            elif clause.op == "call" and clause.name == "assignedto" and len(clause.args) == 1:
                # As in Azure, assignedTo includes what the principal inherits from its (nested) groups.
                principal = clause.args[0].lower()
                principals = [principal, *transitive_group_ids(ctx.conn, ctx.tenant_id, principal)]
            elif clause.op == "eq" and clause.name.lower() == "principalid":
                principals = [(clause.value or "").lower()]
            else:
                raise InvalidFilter(f"The $filter clause '{clause.name}' is not supported for role assignments.")
        where = role_assignments.c.scope_key.in_(scope_ancestors(scope_key))
        if not at_scope:
            where = or_(where, below(role_assignments.c.scope_key, scope_key))
        query = select(role_assignments).where(role_assignments.c.tenant_id == ctx.tenant_id, where)
        if principals is not None:
            query = query.where(role_assignments.c.principal_id.in_(principals))
        return [assignment_json(r) for r in ctx.conn.execute(query.order_by(role_assignments.c.key))]

    def _row(self, ctx: RequestContext, rid: ResourceId) -> Any:
        assert ctx.conn is not None
        return ctx.conn.execute(
            select(role_assignments).where(
                role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.key == rid.key
            )
        ).first()

    @staticmethod
    def _principal_type(ctx: RequestContext, principal_id: str, declared: str | None) -> str:
        assert ctx.conn is not None
        # Users, groups (their transitive members get the role) and service principals of this tenant.
        kind = directory_object_kind(ctx.conn, ctx.tenant_id, principal_id.lower()) if is_guid(principal_id) else None
        if kind is None:
            raise BadRequest(
                f"Principal {principal_id} does not exist in the directory {ctx.tenant_id}.",
                code="PrincipalNotFound",
                target="properties.principalId",
            )
        actual = {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[kind]
        if declared is not None and PRINCIPAL_TYPES.get(declared.lower()) != actual:
            raise BadRequest(
                f"The principal type '{declared}' does not match the principal's type '{actual}'.",
                code="PrincipalTypeNotSupported",
                target="properties.principalType",
            )
        return actual


def _subscription_prefix(scope: str) -> str:
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return f"/subscriptions/{parts[1]}"
    return ""
