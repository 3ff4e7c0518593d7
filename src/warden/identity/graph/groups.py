"""``/v1.0/groups``: security groups, their members and owners (``$ref``) and transitive members;
join requests are ``warden.identity.graph.join_requests``.

User, Groups and Global Administrators manage every group; a group's owners manage its members
and owners; member users may create security groups when the tenant allows it (they become the
owner) and read every group, as Entra's default user permissions allow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from warden.identity import groups as store
from warden.identity import membership
from warden.identity import users as user_store
from warden.identity.directory_roles import remove_principal
from warden.identity.graph import join_requests
from warden.identity.graph.common import (
    allowed,
    audit,
    body_object,
    collection,
    guard_role_holding_group,
    is_member_user,
    object_id,
    require,
    single,
    target,
    text_field,
)
from warden.identity.graph.errors import GraphError, bad_request, forbidden, not_found
from warden.identity.graph.service_principals import principal_json
from warden.identity.graph.users import group_reference, user_json
from warden.identity.principals import get_principal
from warden.identity.tenant_settings import get_settings
from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.schema import role_assignments

READ = "microsoft.directory/groups/standard/read"
FILTERABLE = {"id", "displayName", "mailNickname", "securityEnabled", "mailEnabled", "description", "visibility"}
WRITABLE = {"displayName", "mailNickname", "description", "visibility", "mailEnabled", "securityEnabled", "groupTypes"}
VISIBILITIES = ("Private", "Public")


def group_json(group: store.Group) -> dict[str, Any]:
    return {
        "id": group.object_id,
        "createdDateTime": group.created_at,
        "description": group.description,
        "displayName": group.display_name,
        "groupTypes": [],
        "mail": None,
        "mailEnabled": False,
        "mailNickname": group.mail_nickname,
        "securityEnabled": group.security_enabled,
        "visibility": group.visibility,
    }


def resolve(method: str, parts: list[str]) -> Endpoint:
    """The endpoint for ``/groups...`` (``parts`` starts after ``groups``)."""
    if not parts:
        if method == "GET":
            return Endpoint(READ, "/", _list, authorize=require(READ, members_may=True))
        if method == "POST":
            return Endpoint(
                "microsoft.directory/groups/create",
                "/providers/microsoft.directory/groups",
                _create,
                write=True,
                authorize=_may_create,
            )
        raise _no_such(parts)
    gid = object_id(parts[0])
    scope = f"/providers/microsoft.directory/groups/{gid}"
    rest = [p.lower() for p in parts[1:]]
    if not rest:
        if method == "GET":
            return Endpoint(READ, "/", lambda ctx: _show(ctx, gid), authorize=require(READ, members_may=True))
        if method == "PATCH":
            action = "microsoft.directory/groups/basic/update"
            return Endpoint(
                action, scope, lambda ctx: _update(ctx, gid), write=True, authorize=_admin_or_owner(action, gid)
            )
        if method == "DELETE":
            action = "microsoft.directory/groups/delete"
            return Endpoint(action, scope, lambda ctx: _delete(ctx, gid), write=True, authorize=require(action))
    if rest[0] in ("members", "owners", "transitivemembers"):
        return _references(method, gid, scope, rest, parts)
    if rest[0] == "joinrequests":
        return join_requests.resolve(method, gid, scope, rest[1:])
    raise _no_such(parts)


def _no_such(parts: list[str]) -> GraphError:
    return GraphError(
        f"Resource 'groups/{'/'.join(parts)}' does not exist.", code="Request_ResourceNotFound", status=404
    )


def _references(method: str, gid: str, scope: str, rest: list[str], parts: list[str]) -> Endpoint:
    relation = rest[0]
    if len(rest) == 1 and method == "GET":
        return Endpoint(
            READ, "/", lambda ctx: _list_related(ctx, gid, relation), authorize=require(READ, members_may=True)
        )
    if relation == "transitivemembers":
        raise _no_such(parts)
    action = f"microsoft.directory/groups/{relation}/update"
    if len(rest) == 2 and rest[1] == "$ref" and method == "POST":
        return Endpoint(
            action, scope, lambda ctx: _add_ref(ctx, gid, relation), write=True, authorize=_admin_or_owner(action, gid)
        )
    if len(rest) == 3 and rest[2] == "$ref" and method == "DELETE":
        ref = object_id(parts[2])
        return Endpoint(
            action,
            scope,
            lambda ctx: _remove_ref(ctx, gid, relation, ref),
            write=True,
            authorize=_admin_or_owner(action, gid),
        )
    raise _no_such(parts)


# -- authorization ---------------------------------------------------------------------------


def _is_owner(ctx: RequestContext, gid: str) -> bool:
    assert ctx.conn is not None
    return membership.is_owner(ctx.conn, ctx.tenant_id, gid, ctx.caller.principal_ids)


def _admin_or_owner(action: str, gid: str):  # type: ignore[no-untyped-def]
    def check(ctx: RequestContext) -> None:
        if not (allowed(ctx, action) or _is_owner(ctx, gid)):
            raise forbidden()

    return check


def _may_create(ctx: RequestContext) -> None:
    assert ctx.conn is not None
    if allowed(ctx, "microsoft.directory/groups/create"):
        return
    if is_member_user(ctx) and get_settings(ctx.conn, ctx.tenant_id).users_can_create_groups:
        return
    raise forbidden()


# -- handlers --------------------------------------------------------------------------------


def find(ctx: RequestContext, gid: str) -> store.Group:
    assert ctx.conn is not None
    group = store.get_group(ctx.conn, ctx.tenant_id, gid)
    if group is None:
        raise not_found(gid)
    return group


def _list(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    items = [group_json(g) for g in store.list_groups(ctx.conn, ctx.tenant_id)]
    return collection(ctx, items, "groups", "Group", FILTERABLE)


def _show(ctx: RequestContext, gid: str) -> Reply:
    return single(ctx, group_json(find(ctx, gid)), "groups/$entity", "group")


def _check_body(body: dict[str, Any]) -> None:
    for name in body:
        if name not in WRITABLE and not name.startswith("@odata") and name != "owners@odata.bind":
            raise bad_request(f"Property '{name}' does not exist as a declared property or extension property.")
    if body.get("groupTypes", []) != []:
        raise bad_request("Only security groups are supported: groupTypes must be empty.", target="groupTypes")
    if body.get("mailEnabled", False) is not False:
        raise bad_request("Mail-enabled groups are not supported: mailEnabled must be false.", target="mailEnabled")
    if body.get("securityEnabled", True) is not True:
        raise bad_request("Only security groups are supported: securityEnabled must be true.", target="securityEnabled")
    if "visibility" in body and body["visibility"] not in VISIBILITIES:
        raise bad_request(f"visibility must be one of {', '.join(VISIBILITIES)}.", target="visibility")
    if "description" in body and body["description"] is not None:
        text_field(body, "description", required=True, max_length=1024)


def _create(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    body = body_object(ctx)
    _check_body(body)
    display_name = text_field(body, "displayName", required=True)
    nickname = text_field(body, "mailNickname", required=True, max_length=64)
    owners = [_reference_id(ctx, ref) for ref in _bind_list(body.get("owners@odata.bind"))]
    if ctx.caller.principal_type == "User" and ctx.caller.object_id not in owners:
        owners.append(ctx.caller.object_id)  # a user who creates a group owns it, as in Entra
    group = store.create_group(
        ctx.conn,
        ctx.tenant_id,
        display_name or "",
        nickname or "",
        description=body.get("description"),
        visibility=body.get("visibility", "Private"),
        owner_ids=tuple(owners),
    )
    audit(ctx, "GroupManagement", "Add group", "Add", [target("Group", group.object_id, group.display_name)])
    for owner in owners:
        audit(
            ctx,
            "GroupManagement",
            "Add owner to group",
            "Assign",
            [target("Group", group.object_id, group.display_name), target(_kind_label(ctx, owner), owner, None)],
        )
    return single(ctx, group_json(group), "groups/$entity", "group", status=201)


def _bind_list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 20:
        raise bad_request("owners@odata.bind must be a list of at most 20 object URLs.")
    return value


def _update(ctx: RequestContext, gid: str) -> Reply:
    assert ctx.conn is not None
    group = find(ctx, gid)
    body = body_object(ctx)
    _check_body(body)
    values: dict[str, Any] = {}
    if "displayName" in body:
        values["display_name"] = text_field(body, "displayName", required=True)
    if "mailNickname" in body:
        values["mail_nickname"] = text_field(body, "mailNickname", required=True, max_length=64)
    if "description" in body:
        values["description"] = body["description"]
    if "visibility" in body:
        values["visibility"] = body["visibility"]
    store.update_group(ctx.conn, group, **values)
    changed = [{"displayName": k, "oldValue": None, "newValue": str(v)} for k, v in values.items()]
    audit(
        ctx,
        "GroupManagement",
        "Update group",
        "Update",
        [target("Group", group.object_id, group.display_name, modifiedProperties=changed)],
    )
    return Reply(204)


def _delete(ctx: RequestContext, gid: str) -> Reply:
    assert ctx.conn is not None
    group = find(ctx, gid)
    store.delete_group(ctx.conn, group)
    ctx.conn.execute(
        delete(role_assignments).where(
            role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.principal_id == gid
        )
    )
    remove_principal(ctx.conn, ctx.tenant_id, gid)
    audit(ctx, "GroupManagement", "Delete group", "Delete", [target("Group", group.object_id, group.display_name)])
    return Reply(204)


def directory_object_json(ctx: RequestContext, oid: str, kind: str) -> dict[str, Any] | None:
    """A member or owner as Graph lists it (with ``@odata.type``), or ``None`` if it vanished."""
    assert ctx.conn is not None
    if kind == "user":
        user = user_store.get_user(ctx.conn, ctx.tenant_id, oid)
        return {"@odata.type": "#microsoft.graph.user", **user_json(user)} if user else None
    if kind == "group":
        group = store.get_group(ctx.conn, ctx.tenant_id, oid)
        return group_reference(group) if group else None
    principal = get_principal(ctx.conn, object_id=oid)
    if principal is None or principal.tenant_id != ctx.tenant_id:
        return None
    return {"@odata.type": "#microsoft.graph.servicePrincipal", **principal_json(principal)}


def _list_related(ctx: RequestContext, gid: str, relation: str) -> Reply:
    assert ctx.conn is not None
    find(ctx, gid)
    if relation == "members":
        pairs = membership.direct_members(ctx.conn, ctx.tenant_id, gid)
    elif relation == "transitivemembers":
        pairs = membership.transitive_members(ctx.conn, ctx.tenant_id, gid)
    else:
        pairs = [
            (oid, membership.directory_object_kind(ctx.conn, ctx.tenant_id, oid) or "")
            for oid in membership.owner_ids(ctx.conn, ctx.tenant_id, gid)
        ]
    items = [item for oid, kind in pairs if (item := directory_object_json(ctx, oid, kind)) is not None]
    return collection(ctx, items, "directoryObjects", "DirectoryObject", {"id", "displayName"})


def _reference_id(ctx: RequestContext, ref: Any) -> str:
    """The object ID an ``@odata.id`` URL names, checked to be a user, group or principal of this tenant."""
    assert ctx.conn is not None
    if not isinstance(ref, str) or not ref.strip():
        raise bad_request("'@odata.id' must be the URL of a directory object.", target="@odata.id")
    oid = ref.rstrip("/").rsplit("/", 1)[-1].strip("{}")
    oid = object_id(oid)
    if membership.directory_object_kind(ctx.conn, ctx.tenant_id, oid) is None:
        raise not_found(oid)
    return oid


def _kind_label(ctx: RequestContext, oid: str) -> str:
    assert ctx.conn is not None
    kind = membership.directory_object_kind(ctx.conn, ctx.tenant_id, oid) or "user"
    return {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[kind]


def _add_ref(ctx: RequestContext, gid: str, relation: str) -> Reply:
    assert ctx.conn is not None
    group = find(ctx, gid)
    guard_role_holding_group(ctx, gid)
    ref = _reference_id(ctx, body_object(ctx).get("@odata.id"))
    kind = membership.directory_object_kind(ctx.conn, ctx.tenant_id, ref) or "user"
    if relation == "members":
        if ref == gid:
            raise bad_request("A group cannot be a member of itself.")
        added = store.add_member(ctx.conn, ctx.tenant_id, gid, ref, kind)
        activity = "Add member to group"
    else:
        if kind == "group":
            raise bad_request("A group cannot own a group.")
        added = store.add_owner(ctx.conn, ctx.tenant_id, gid, ref)
        activity = "Add owner to group"
    if not added:
        raise bad_request(
            f"One or more added object references already exist for the following modified properties: '{relation}'."
        )
    audit(
        ctx,
        "GroupManagement",
        activity,
        "Assign",
        [target("Group", group.object_id, group.display_name), target(_kind_label(ctx, ref), ref, None)],
    )
    return Reply(204)


def _remove_ref(ctx: RequestContext, gid: str, relation: str, ref: str) -> Reply:
    assert ctx.conn is not None
    group = find(ctx, gid)
    guard_role_holding_group(ctx, gid)
    label = _kind_label(ctx, ref)
    if relation == "members":
        removed = store.remove_member(ctx.conn, ctx.tenant_id, gid, ref)
        activity = "Remove member from group"
    else:
        removed = store.remove_owner(ctx.conn, ctx.tenant_id, gid, ref)
        activity = "Remove owner from group"
    if not removed:
        raise not_found(ref)
    audit(
        ctx,
        "GroupManagement",
        activity,
        "Unassign",
        [target("Group", group.object_id, group.display_name), target(label, ref, None)],
    )
    return Reply(204)
