"""Subscriptions: list and get (``/subscriptions``), and creation through
``PUT /providers/Microsoft.Subscription/aliases/{alias}`` as Azure's subscription API does it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert, select

from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import validate_name
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row, require_object, save_resource
from warden.kernel.schema import subscriptions

READ = "Microsoft.Resources/subscriptions/read"
ALIAS_TYPE = "Microsoft.Subscription/aliases"


def create_subscription(conn: Connection, tenant_id: str, display_name: str, subscription_id: str | None = None) -> str:
    subscription_id = (subscription_id or str(uuid.uuid4())).lower()
    conn.execute(
        insert(subscriptions).values(
            id=subscription_id, tenant_id=tenant_id, display_name=display_name, state="Enabled", created_at=utcnow()
        )
    )
    return subscription_id


def subscription_json(row: Any) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{row.id}",
        "subscriptionId": row.id,
        "tenantId": row.tenant_id,
        "displayName": row.display_name,
        "state": row.state,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "Warden_2026-01-01",
            "spendingLimit": "Off",
        },
        "authorizationSource": "RoleBased",
    }


def list_endpoint() -> Endpoint:
    """``GET /subscriptions``: the subscriptions the caller holds any role in (as in Azure, a
    caller with none gets an empty list rather than an error)."""
    return Endpoint(READ, "/", _list, authorize=lambda ctx: None)


def get_endpoint(subscription_id: str) -> Endpoint:
    scope = f"/subscriptions/{subscription_id}"
    return Endpoint(
        READ,
        scope,
        lambda ctx: _get(ctx, subscription_id),
        subscription_id=subscription_id,
        authorize=lambda ctx: _authorize_get(ctx, scope),
    )


def _authorize_get(ctx: RequestContext, scope: str) -> None:
    if not ctx.has_access_within(scope):
        ctx.authorize(READ, scope)


def _list(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    rows = ctx.conn.execute(
        select(subscriptions).where(subscriptions.c.tenant_id == ctx.tenant_id).order_by(subscriptions.c.display_name)
    ).all()
    return Reply(200, [subscription_json(r) for r in rows if ctx.has_access_within(f"/subscriptions/{r.id}")])


def _get(ctx: RequestContext, subscription_id: str) -> Reply:
    assert ctx.conn is not None
    row = ctx.conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id.lower())).first()
    if row is None:
        raise NotFound(f"The subscription '{subscription_id}' could not be found.", code="SubscriptionNotFound")
    return Reply(200, subscription_json(row))


def alias_endpoint(method: str, alias: str) -> Endpoint | None:
    alias_id = f"/providers/{ALIAS_TYPE}/{alias}"
    if method == "PUT":
        return Endpoint(f"{ALIAS_TYPE}/write", alias_id, lambda ctx: _put_alias(ctx, alias, alias_id), write=True)
    if method == "GET":
        return Endpoint(f"{ALIAS_TYPE}/read", alias_id, lambda ctx: _get_alias(ctx, alias_id))
    return None


def _alias_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "type": ALIAS_TYPE, "properties": row.body["properties"]}


def _put_alias(ctx: RequestContext, alias: str, alias_id: str) -> Reply:
    assert ctx.conn is not None
    validate_name(alias, what="alias", max_length=64)
    body = require_object(ctx.body)
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        raise BadRequest("'properties' must be an object.", code="InvalidRequestContent", target="properties")
    existing = get_row(ctx.conn, ctx.tenant_id, alias_id)
    if existing is not None:
        return Reply(200, _alias_json(existing))
    display_name = properties.get("displayName") or alias
    if not isinstance(display_name, str) or len(display_name) > 64:
        raise BadRequest(
            "'displayName' must be a string of at most 64 characters.",
            code="InvalidRequestContent",
            target="properties.displayName",
        )
    subscription_id = create_subscription(ctx.conn, ctx.tenant_id, display_name)
    row = save_resource(
        ctx,
        resource_id=alias_id,
        name=alias,
        type_=ALIAS_TYPE,
        parent="/",
        location=None,
        tags={},
        body={
            "properties": {
                "subscriptionId": subscription_id,
                "provisioningState": "Succeeded",
                "displayName": display_name,
                "workload": properties.get("workload", "Production"),
            }
        },
        existing=None,
    )
    return Reply(201, _alias_json(row))


def _get_alias(ctx: RequestContext, alias_id: str) -> Reply:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, alias_id)
    if row is None:
        raise NotFound(f"The alias '{alias_id}' was not found.", code="ResourceNotFound")
    return Reply(200, _alias_json(row))
