"""``/v1.0/groups/{id}/joinRequests`` (a Warden extension; Entra has no Graph API for it): a member
user asks to join a group, and only the group's owners approve or deny; approval adds the member.
Group administrators may list requests but not decide them: they add members directly instead.
"""

from __future__ import annotations

from warden.identity import groups as store
from warden.identity import membership
from warden.identity import users as user_store
from warden.identity.graph.common import (
    allowed,
    audit,
    body_object,
    collection,
    guard_role_holding_group,
    is_member_user,
    object_id,
    target,
    text_field,
)
from warden.identity.graph.errors import GraphError, bad_request, forbidden, not_found
from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply


def resolve(method: str, gid: str, scope: str, rest: list[str]) -> Endpoint:
    """The endpoint for ``/groups/{gid}/joinRequests...`` (``rest`` starts after ``joinRequests``)."""
    action = "microsoft.directory/groups/joinRequests"
    if not rest and method == "POST":
        return Endpoint(
            f"{action}/create", scope, lambda ctx: _request_join(ctx, gid), write=True, authorize=_member_user_only
        )
    if not rest and method == "GET":
        return Endpoint(
            f"{action}/read",
            "/",
            lambda ctx: _list_requests(ctx, gid),
            authorize=_admin_or_owner(f"{action}/read", gid),
        )
    if len(rest) == 2 and rest[1] in ("approve", "deny") and method == "POST":
        rid = object_id(rest[0])
        decision = "Approved" if rest[1] == "approve" else "Denied"
        return Endpoint(
            f"{action}/{rest[1]}",
            scope,
            lambda ctx: _decide(ctx, gid, rid, decision),
            write=True,
            authorize=_owner_only(gid),
        )
    raise GraphError(
        "Resource 'joinRequests' does not support this request.", code="Request_ResourceNotFound", status=404
    )


def _is_owner(ctx: RequestContext, gid: str) -> bool:
    assert ctx.conn is not None
    return membership.is_owner(ctx.conn, ctx.tenant_id, gid, ctx.caller.principal_ids)


def _admin_or_owner(action: str, gid: str):  # type: ignore[no-untyped-def]
    def check(ctx: RequestContext) -> None:
        if not (allowed(ctx, action) or _is_owner(ctx, gid)):
            raise forbidden()

    return check


def _owner_only(gid: str):  # type: ignore[no-untyped-def]
    def check(ctx: RequestContext) -> None:
        # Owners decide who joins; administrators add members directly instead.
        if not _is_owner(ctx, gid):
            raise forbidden()

    return check


def _member_user_only(ctx: RequestContext) -> None:
    if not is_member_user(ctx):
        raise forbidden()


def find(ctx: RequestContext, gid: str) -> store.Group:
    assert ctx.conn is not None
    group = store.get_group(ctx.conn, ctx.tenant_id, gid)
    if group is None:
        raise not_found(gid)
    return group


def _request_join(ctx: RequestContext, gid: str) -> Reply:
    assert ctx.conn is not None
    group = find(ctx, gid)
    body = body_object(ctx) if ctx.raw_body.strip() else {}
    justification = text_field(body, "justification", required=False, max_length=1024)
    if store.is_member(ctx.conn, ctx.tenant_id, gid, ctx.caller.object_id):
        raise bad_request("The user is already a member of the group.")
    request = store.create_join_request(ctx.conn, ctx.tenant_id, gid, ctx.caller.object_id, justification)
    audit(
        ctx,
        "GroupManagement",
        "Request to join group",
        "Add",
        [target("Group", group.object_id, group.display_name), target("User", ctx.caller.object_id, None)],
    )
    return Reply(201, request)


def _list_requests(ctx: RequestContext, gid: str) -> Reply:
    assert ctx.conn is not None
    find(ctx, gid)
    items = store.list_join_requests(ctx.conn, ctx.tenant_id, gid)
    return collection(ctx, items, f"groups('{gid}')/joinRequests", "JoinRequest", {"id", "userId", "status"})


def _decide(ctx: RequestContext, gid: str, rid: str, decision: str) -> Reply:
    assert ctx.conn is not None
    group = find(ctx, gid)
    guard_role_holding_group(ctx, gid)
    request = store.get_join_request(ctx.conn, ctx.tenant_id, gid, rid)
    if request is None:
        raise not_found(rid)
    if request["status"] != "Pending":
        raise bad_request(f"The join request was already {request['status'].lower()}.")
    store.decide_join_request(ctx.conn, ctx.tenant_id, rid, decision, ctx.caller.object_id)
    targets = [target("Group", group.object_id, group.display_name), target("User", request["userId"], None)]
    if decision == "Approved" and user_store.get_user(ctx.conn, ctx.tenant_id, request["userId"]) is not None:
        store.add_member(ctx.conn, ctx.tenant_id, gid, request["userId"], "user")
        audit(ctx, "GroupManagement", "Add member to group", "Assign", targets)
    audit(
        ctx,
        "GroupManagement",
        f"{'Approve' if decision == 'Approved' else 'Deny'} request to join group",
        "Update",
        targets,
    )
    return Reply(200, store.get_join_request(ctx.conn, ctx.tenant_id, gid, rid))
