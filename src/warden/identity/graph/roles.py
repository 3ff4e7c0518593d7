"""``/v1.0/roleManagement/directory/roleDefinitions`` and ``/roleAssignments`` (unified RBAC shapes).

Only Global Administrators (or RBAC Owners / User Access Administrators at "/") assign directory
roles; every directory role may read them. Roles apply to the whole directory (scope "/").
"""

from __future__ import annotations

from warden.identity import directory_roles as store
from warden.identity import membership
from warden.identity.graph.common import audit, body_object, collection, object_id, require, single, target
from warden.identity.graph.errors import bad_request, not_found
from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply

READ = "microsoft.directory/roleAssignments/standard/read"
KINDS = {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}


def resolve(method: str, parts: list[str]) -> Endpoint:
    """The endpoint for ``/roleManagement...`` (``parts`` starts after ``roleManagement``)."""
    lowered = [p.lower() for p in parts]
    if lowered[:1] != ["directory"] or len(parts) < 2:
        raise not_found("roleManagement/" + "/".join(parts))
    collection_name, rest = lowered[1], parts[2:]
    if collection_name == "roledefinitions" and method == "GET":
        if not rest:
            return Endpoint(READ, "/", _list_definitions, authorize=require(READ))
        if len(rest) == 1:
            return Endpoint(READ, "/", lambda ctx: _show_definition(ctx, rest[0]), authorize=require(READ))
    if collection_name == "roleassignments":
        scope = "/providers/microsoft.directory/roleAssignments"
        if not rest and method == "GET":
            return Endpoint(READ, "/", _list_assignments, authorize=require(READ))
        if not rest and method == "POST":
            action = "microsoft.directory/roleAssignments/create"
            return Endpoint(action, scope, _assign, write=True, authorize=require(action))
        if len(rest) == 1:
            aid = object_id(rest[0])
            if method == "GET":
                return Endpoint(READ, "/", lambda ctx: _show_assignment(ctx, aid), authorize=require(READ))
            if method == "DELETE":
                action = "microsoft.directory/roleAssignments/delete"
                return Endpoint(
                    action, f"{scope}/{aid}", lambda ctx: _unassign(ctx, aid), write=True, authorize=require(action)
                )
    raise not_found("roleManagement/" + "/".join(parts))


def _list_definitions(ctx: RequestContext) -> Reply:
    items = [store.role_definition_json(role) for role in store.BUILTIN_ROLES]
    return collection(
        ctx,
        items,
        "roleManagement/directory/roleDefinitions",
        "UnifiedRoleDefinition",
        {"id", "displayName", "templateId", "isBuiltIn"},
    )


def _show_definition(ctx: RequestContext, key: str) -> Reply:
    role = store.ROLES_BY_TEMPLATE.get(key.lower())
    if role is None:
        raise not_found(key)
    return single(
        ctx,
        store.role_definition_json(role),
        "roleManagement/directory/roleDefinitions/$entity",
        "unifiedRoleDefinition",
    )


def _list_assignments(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    items = store.list_assignments(ctx.conn, ctx.tenant_id)
    return collection(
        ctx,
        items,
        "roleManagement/directory/roleAssignments",
        "UnifiedRoleAssignment",
        {"id", "principalId", "roleDefinitionId", "directoryScopeId"},
    )


def _show_assignment(ctx: RequestContext, aid: str) -> Reply:
    assert ctx.conn is not None
    assignment = store.get_assignment(ctx.conn, ctx.tenant_id, aid)
    if assignment is None:
        raise not_found(aid)
    return single(ctx, assignment, "roleManagement/directory/roleAssignments/$entity", "unifiedRoleAssignment")


def _assign(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    body = body_object(ctx)
    role = store.ROLES_BY_TEMPLATE.get(str(body.get("roleDefinitionId", "")).lower())
    if role is None:
        raise bad_request("roleDefinitionId must name a built-in directory role.", target="roleDefinitionId")
    principal_id = object_id(str(body.get("principalId", "")))
    kind = membership.directory_object_kind(ctx.conn, ctx.tenant_id, principal_id)
    if kind is None:
        raise bad_request(f"Principal '{principal_id}' does not exist in the directory.", target="principalId")
    if body.get("directoryScopeId", "/") != "/":
        raise bad_request("Only the directory scope '/' is supported.", target="directoryScopeId")
    assignment = store.assign_role(ctx.conn, ctx.tenant_id, role.template_id, principal_id)
    audit(
        ctx,
        "RoleManagement",
        "Add member to role",
        "Assign",
        [target("Role", role.template_id, role.display_name), target(KINDS[kind], principal_id, None)],
    )
    return single(
        ctx, assignment, "roleManagement/directory/roleAssignments/$entity", "unifiedRoleAssignment", status=201
    )


def _unassign(ctx: RequestContext, aid: str) -> Reply:
    assert ctx.conn is not None
    assignment = store.get_assignment(ctx.conn, ctx.tenant_id, aid)
    if assignment is None:
        raise not_found(aid)
    store.remove_assignment(ctx.conn, ctx.tenant_id, aid)
    role = store.ROLES_BY_TEMPLATE[assignment["roleDefinitionId"]]
    kind = membership.directory_object_kind(ctx.conn, ctx.tenant_id, assignment["principalId"]) or "user"
    audit(
        ctx,
        "RoleManagement",
        "Remove member from role",
        "Unassign",
        [target("Role", role.template_id, role.display_name), target(KINDS[kind], assignment["principalId"], None)],
    )
    return Reply(204)
