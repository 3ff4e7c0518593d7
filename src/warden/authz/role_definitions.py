"""``{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}``: built-in and custom roles.

Custom roles belong to the tenant (one GUID, one name per tenant) and are usable wherever one of
their ``assignableScopes`` is the scope or above it. Writing one needs
``roleDefinitions/write`` on every assignable scope, as in Azure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from warden.authz.engine import normalize_scope, scope_ancestors
from warden.authz.roles import role_definition_from_json, role_definition_to_json
from warden.authz.store import builtin_roles, custom_role, role_from_row
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId, is_guid, parse_container
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object
from warden.kernel.schema import role_assignments, role_definitions, subscriptions

TYPE = "Microsoft.Authorization/roleDefinitions"


def definition_json(role: Any, scope: str) -> dict[str, Any]:
    document = role_definition_to_json(role)
    document["id"] = f"{scope}/providers/{TYPE}/{role.id}"
    return document


def assignable_at(role: Any, scope: str) -> bool:
    """Whether one of the role's assignable scopes is ``scope`` or above it (any role at "/")."""
    target = normalize_scope(scope or "/")
    if target == "/":
        return True
    ancestors = set(scope_ancestors(target))
    return any(normalize_scope(s) in ancestors for s in role.assignable_scopes)


class RoleDefinitionHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        role = builtin_roles().get(rid.name.lower()) or custom_role(ctx.conn, ctx.tenant_id, rid.name)
        if role is None:
            raise NotFound(f"The role definition '{rid.name}' could not be found.", code="RoleDefinitionDoesNotExist")
        return Reply(200, definition_json(role, rid.scope))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        assert ctx.conn is not None
        guid = rid.name.lower()
        if not is_guid(guid):
            raise BadRequest(
                f"The role definition ID '{rid.name}' is not a valid GUID.", code="InvalidRoleDefinitionId"
            )
        if guid in builtin_roles():
            raise BadRequest("Built-in role definitions cannot be changed.", code="RoleDefinitionUpdateNotAllowed")
        document = require_object(body)
        properties = require_object(document.get("properties"))
        try:
            role = role_definition_from_json({"name": guid, "properties": {**properties, "type": "CustomRole"}})
        except ValueError as error:
            raise BadRequest(f"The role definition is invalid: {error}.", code="InvalidRoleDefinition") from None
        if not role.role_name.strip():
            raise BadRequest("'roleName' is required.", code="InvalidRoleDefinition", target="properties.roleName")
        if not role.assignable_scopes:
            raise BadRequest(
                "'assignableScopes' must name at least one scope.",
                code="InvalidRoleDefinition",
                target="properties.assignableScopes",
            )
        for scope in role.assignable_scopes:
            self._check_assignable_scope(ctx, scope)
            ctx.authorize(f"{TYPE}/write", scope)
        existing = ctx.conn.execute(
            select(role_definitions).where(
                role_definitions.c.tenant_id == ctx.tenant_id, role_definitions.c.key == guid
            )
        ).first()
        taken = {r.role_name.lower() for r in builtin_roles().values()}
        taken |= {
            r.role_name.lower()
            for r in ctx.conn.execute(
                select(role_definitions.c.role_name).where(
                    role_definitions.c.tenant_id == ctx.tenant_id, role_definitions.c.key != guid
                )
            )
        }
        if role.role_name.lower() in taken:
            raise Conflict(
                f"A role definition named '{role.role_name}' already exists.", code="RoleDefinitionWithSameNameExists"
            )
        stored = role_definition_to_json(role)["properties"]
        now = utcnow()
        values = {
            "scope": rid.scope or "/",
            "role_name": role.role_name,
            "body": stored,
            "updated_by": ctx.caller.object_id,
            "updated_at": now,
        }
        if existing is None:
            ctx.conn.execute(
                insert(role_definitions).values(
                    tenant_id=ctx.tenant_id,
                    key=guid,
                    name=guid,
                    created_by=ctx.caller.object_id,
                    created_at=now,
                    **values,
                )
            )
        else:
            ctx.conn.execute(
                update(role_definitions)
                .where(role_definitions.c.tenant_id == ctx.tenant_id, role_definitions.c.key == guid)
                .values(**values)
            )
        ctx.invalidate_authorization()
        return Reply(201 if existing is None else 200, definition_json(role, rid.scope))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Role definitions are replaced with PUT.", code="OperationNotAllowed")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        guid = rid.name.lower()
        if guid in builtin_roles():
            raise BadRequest("Built-in role definitions cannot be deleted.", code="RoleDefinitionDeleteNotAllowed")
        role = custom_role(ctx.conn, ctx.tenant_id, guid)
        if role is None:
            return Reply(204)
        in_use = ctx.conn.execute(
            select(role_assignments.c.id)
            .where(role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.role_guid == guid)
            .limit(1)
        ).first()
        if in_use is not None:
            raise Conflict(
                "There are existing role assignments referencing this role definition.",
                code="RoleDefinitionHasAssignments",
            )
        ctx.conn.execute(
            delete(role_definitions).where(
                role_definitions.c.tenant_id == ctx.tenant_id, role_definitions.c.key == guid
            )
        )
        return Reply(200, definition_json(role, rid.scope))

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        name_filter = type_filter = None
        for clause in parse_filter(ctx.query.get("$filter")):
            if clause.op == "eq" and clause.name.lower() == "rolename":
                name_filter = (clause.value or "").lower()
            elif clause.op == "eq" and clause.name.lower() == "type":
                type_filter = (clause.value or "").lower()
            else:
                raise InvalidFilter(f"The $filter clause '{clause.name}' is not supported for role definitions.")
        rows = ctx.conn.execute(select(role_definitions).where(role_definitions.c.tenant_id == ctx.tenant_id)).all()
        roles = list(builtin_roles().values()) + [role_from_row(r) for r in rows]
        result = []
        for role in sorted(roles, key=lambda r: r.role_name.lower()):
            if not assignable_at(role, scope):
                continue
            if name_filter is not None and role.role_name.lower() != name_filter:
                continue
            if type_filter is not None and role.role_type.lower() != type_filter:
                continue
            result.append(definition_json(role, scope))
        return result

    @staticmethod
    def _check_assignable_scope(ctx: RequestContext, scope: str) -> None:
        assert ctx.conn is not None
        if not isinstance(scope, str) or not scope.startswith("/"):
            raise BadRequest(f"The assignable scope '{scope}' is invalid.", code="InvalidAssignableScope")
        container = parse_container(scope)
        if container.subscription_id is None:
            if normalize_scope(scope) != "/" and not normalize_scope(scope).startswith(
                "/providers/microsoft.management/"
            ):
                raise BadRequest(f"The assignable scope '{scope}' is invalid.", code="InvalidAssignableScope")
            return
        row = ctx.conn.execute(
            select(subscriptions.c.tenant_id).where(subscriptions.c.id == container.subscription_id.lower())
        ).first()
        if row is None or row.tenant_id != ctx.tenant_id:
            raise BadRequest(
                f"The assignable scope '{scope}' names an unknown subscription.", code="InvalidAssignableScope"
            )
