"""Resource groups: ``/subscriptions/{sub}/resourceGroups/{name}``.

Deleting a group is a long-running operation: the request marks the group ``Deleting`` and
queues a job that deletes everything in it, then the group; the operation finishes with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from warden.authz.store import LockMode
from warden.kernel import operations
from warden.kernel.activity import EventInput
from warden.kernel.context import RequestContext
from warden.kernel.errors import Conflict, InvalidRequestContent, NotFound
from warden.kernel.ids import key, resource_group_id, validate_resource_group_name
from warden.kernel.jobs import enqueue
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.resources import (
    RESOURCE_GROUP_TYPE,
    check_preconditions,
    delete_tree,
    get_row,
    normalize_location,
    require_object,
    save_resource,
    update_resource,
    validate_tags,
)
from warden.kernel.schema import below, resources
from warden.resources.listing import resource_matcher

if TYPE_CHECKING:
    from warden.platform import Platform

OP = "Microsoft.Resources/subscriptions/resourceGroups"
DELETE_JOB = "resourceGroups.delete"


def group_json(row: Any) -> dict[str, Any]:
    result = {
        "id": row.id,
        "name": row.name,
        "type": RESOURCE_GROUP_TYPE,
        "location": row.location,
        "tags": row.tags or {},
        "properties": {"provisioningState": row.body.get("properties", {}).get("provisioningState", "Succeeded")},
    }
    if row.body.get("managedBy"):
        result["managedBy"] = row.body["managedBy"]
    return result


def endpoints(method: str, subscription_id: str, name: str | None) -> Endpoint | None:
    """The endpoint for a resource-group URL, or ``None`` if the method is not served."""
    if name is None:
        if method != "GET":
            return None
        scope = f"/subscriptions/{subscription_id}"
        return Endpoint(
            f"{OP}/read",
            scope,
            lambda ctx: _list(ctx, subscription_id),
            subscription_id=subscription_id,
            authorize=lambda ctx: _authorize_list(ctx, scope),
        )
    group_id = resource_group_id(subscription_id, name)
    common = {"subscription_id": subscription_id}
    if method in ("GET", "HEAD"):
        return Endpoint(f"{OP}/read", group_id, lambda ctx: _get(ctx, group_id, head=method == "HEAD"), **common)
    if method == "PUT":
        return Endpoint(
            f"{OP}/write",
            group_id,
            lambda ctx: _put(ctx, subscription_id, name),
            write=True,
            lock=LockMode.WRITE,
            **common,
        )
    if method == "PATCH":
        return Endpoint(
            f"{OP}/write", group_id, lambda ctx: _patch(ctx, group_id), write=True, lock=LockMode.WRITE, **common
        )
    if method == "DELETE":
        return Endpoint(
            f"{OP}/delete",
            group_id,
            lambda ctx: _delete(ctx, subscription_id, group_id),
            write=True,
            lock=LockMode.DELETE,
            lock_descendants=True,
            **common,
        )
    return None


def _authorize_list(ctx: RequestContext, scope: str) -> None:
    if not ctx.can(f"{OP}/read", scope) and not ctx.has_access_within(scope):
        ctx.authorize(f"{OP}/read", scope)


def _row(ctx: RequestContext, group_id: str) -> Any:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, group_id)
    return row if row is not None and row.type_key == RESOURCE_GROUP_TYPE.lower() else None


def _not_found(group_id: str) -> NotFound:
    return NotFound(f"Resource group '{group_id.rsplit('/', 1)[-1]}' could not be found.", code="ResourceGroupNotFound")


def _get(ctx: RequestContext, group_id: str, *, head: bool) -> Reply:
    row = _row(ctx, group_id)
    if head:
        return Reply(204 if row is not None else 404)
    if row is None:
        raise _not_found(group_id)
    return Reply(200, group_json(row))


def _list(ctx: RequestContext, subscription_id: str) -> Reply:
    assert ctx.conn is not None
    scope = f"/subscriptions/{subscription_id}"
    rows = ctx.conn.execute(
        select(resources)
        .where(
            resources.c.subscription_id == subscription_id.lower(), resources.c.type_key == RESOURCE_GROUP_TYPE.lower()
        )
        .order_by(resources.c.key)
    ).all()
    see_all = ctx.can(f"{OP}/read", scope)
    matches = resource_matcher(ctx.query.get("$filter"))
    items = [group_json(r) for r in rows if see_all or ctx.can(f"{OP}/read", r.id)]
    items = [item for item in items if matches(item)]
    return Reply(200, items)


def _put(ctx: RequestContext, subscription_id: str, name: str) -> Reply:
    body = require_object(ctx.body)
    validate_resource_group_name(name)
    existing = _row(ctx, resource_group_id(subscription_id, name))
    group_id = existing.id if existing else resource_group_id(subscription_id, name)
    check_preconditions(ctx.headers, existing.etag if existing else None)
    if "location" not in body:
        raise InvalidRequestContent("The 'location' property is required for a resource group.", target="location")
    location = normalize_location(body["location"])
    if existing is not None:
        if existing.location != location:
            raise Conflict(
                f"Invalid resource group location '{location}'. The Resource group already exists in location "
                f"'{existing.location}'.",
                code="InvalidResourceGroupLocation",
            )
        if existing.body.get("properties", {}).get("provisioningState") == "Deleting":
            raise Conflict(f"The resource group '{existing.name}' is being deleted.", code="ResourceGroupBeingDeleted")
    stored = {"properties": {"provisioningState": "Succeeded"}}
    if isinstance(body.get("managedBy"), str):
        stored["managedBy"] = body["managedBy"]
    row = save_resource(
        ctx,
        resource_id=group_id,
        name=existing.name if existing else name,
        type_=RESOURCE_GROUP_TYPE,
        parent=f"/subscriptions/{subscription_id}",
        location=location,
        tags=validate_tags(body.get("tags")),
        body=stored,
        existing=existing,
    )
    return Reply(201 if existing is None else 200, group_json(row))


def _patch(ctx: RequestContext, group_id: str) -> Reply:
    body = require_object(ctx.body)
    existing = _row(ctx, group_id)
    if existing is None:
        raise _not_found(group_id)
    check_preconditions(ctx.headers, existing.etag)
    tags = validate_tags(body["tags"]) if "tags" in body else (existing.tags or {})
    stored = dict(existing.body)
    if "managedBy" in body:
        stored["managedBy"] = body["managedBy"]
    row = update_resource(ctx, existing, tags=tags, body=stored)
    return Reply(200, group_json(row))


def _delete(ctx: RequestContext, subscription_id: str, group_id: str) -> Reply:
    assert ctx.conn is not None
    existing = _row(ctx, group_id)
    if existing is None:
        return Reply(204)
    if existing.body.get("properties", {}).get("provisioningState") != "Deleting":
        update_resource(ctx, existing, body={**existing.body, "properties": {"provisioningState": "Deleting"}})
    operation_id = operations.start_operation(
        ctx.conn,
        tenant_id=ctx.tenant_id,
        subscription_id=subscription_id,
        target_id=existing.id,
        name=f"{OP}/delete",
        created_by=ctx.caller.object_id,
    )
    enqueue(
        ctx.conn,
        DELETE_JOB,
        {
            "operation_id": operation_id,
            "group_id": existing.id,
            "tenant_id": ctx.tenant_id,
            "caller": ctx.caller.app_id,
            "correlation_id": ctx.correlation_id,
            "client_ip": ctx.client_ip,
        },
    )
    return operations.accepted(ctx.base_url, subscription_id, operation_id, ctx.api_version or "2021-04-01")


def delete_group_job(platform: Platform, payload: dict[str, Any]) -> None:
    """Job: delete every resource in the group (children first, through their type's handler
    hooks), then the group itself; finish the operation and log the outcome."""
    group_id = payload["group_id"]
    tenant_id = payload["tenant_id"]
    with platform.db.write() as conn:
        rows = conn.execute(
            select(resources).where(
                resources.c.tenant_id == tenant_id,
                below(resources.c.key, key(group_id)),
            )
        ).all()
        # Deepest first so a parent's hook never sees its children already gone out of order.
        for row in sorted(rows, key=lambda r: r.id.count("/"), reverse=True):
            platform.release_resource(conn, tenant_id, row)
        delete_tree(conn, tenant_id, group_id)
        operations.finish_operation(conn, payload["operation_id"])
        platform.activity.record(
            conn,
            EventInput(
                tenant_id=tenant_id,
                operation_name=f"{OP}/delete",
                resource_id=group_id,
                status="Succeeded",
                sub_status="OK",
                http_status=200,
                caller=payload["caller"],
                claims={},
                correlation_id=payload["correlation_id"],
                operation_id=payload["operation_id"],
                method="DELETE",
                client_ip=payload["client_ip"],
                authorization_scope=group_id,
            ),
        )
