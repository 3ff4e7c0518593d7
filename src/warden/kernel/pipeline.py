"""The one request pipeline every ARM operation goes through.

Reads:  subscription check → authorize → handler.
Writes: subscription check → authorize → locks → write interceptors (policy) → handler →
activity log, in one transaction: the resource change and its "Started"/"Succeeded" events
commit together. A write that fails at any step changes nothing and still leaves a "Failed"
event in the activity log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from warden.authz.store import check_locks
from warden.kernel.activity import EventInput
from warden.kernel.context import RequestContext
from warden.kernel.errors import NotFound, WardenError
from warden.kernel.reply import Reply
from warden.kernel.schema import subscriptions

if TYPE_CHECKING:
    from warden.platform import Platform

WriteInterceptor = Callable[[RequestContext, "Endpoint"], None]


@dataclass
class Endpoint:
    """One resolved ARM operation: what it is called, where it acts, and how it runs."""

    operation: str  # RBAC action and activity-log operationName
    scope: str  # authorization scope and activity-log resourceId
    run: Callable[[RequestContext], Reply]
    write: bool = False
    lock: str | None = None  # authz.store.LockMode, or None when locks do not apply
    lock_descendants: bool = False
    subscription_id: str | None = None  # must exist in the caller's tenant
    # Replaces the default "authorize(operation, scope)" for operations that filter instead.
    authorize: Callable[[RequestContext], None] | None = None


def execute(platform: Platform, ctx: RequestContext, endpoint: Endpoint) -> Reply:
    if not endpoint.write:
        with platform.db.read() as conn:
            ctx.conn = conn
            _check_subscription(ctx, endpoint.subscription_id)
            _authorize(ctx, endpoint)
            return endpoint.run(ctx)
    return _execute_write(platform, ctx, endpoint)


def _execute_write(platform: Platform, ctx: RequestContext, endpoint: Endpoint) -> Reply:
    operation_id = str(uuid.uuid4())
    started = False
    try:
        with platform.db.write() as conn:
            ctx.conn = conn
            _check_subscription(ctx, endpoint.subscription_id)
            _authorize(ctx, endpoint)
            if endpoint.lock:
                check_locks(
                    conn, ctx.tenant_id, endpoint.scope, endpoint.lock, include_descendants=endpoint.lock_descendants
                )
            for interceptor in platform.write_interceptors:
                interceptor(ctx, endpoint)
            started = True
            reply = endpoint.run(ctx)
            platform.activity.record(conn, _event(ctx, endpoint, operation_id, "Started", None))
            platform.activity.record(conn, _event(ctx, endpoint, operation_id, _status_of(reply.status), reply.status))
    except WardenError as error:
        _record_failure(platform, ctx, endpoint, operation_id, started, error.status, error.body()["error"])
        raise
    except Exception:
        error_body = {"code": "InternalServerError", "message": "The server encountered an internal error."}
        _record_failure(platform, ctx, endpoint, operation_id, started, 500, error_body)
        raise
    finally:
        ctx.conn = None
    if reply.status == 202:
        platform.jobs.wake()
    return reply


def _record_failure(
    platform: Platform,
    ctx: RequestContext,
    endpoint: Endpoint,
    operation_id: str,
    started: bool,
    status: int,
    error: dict,
) -> None:
    if status == 404 and not started and endpoint.subscription_id and error.get("code") == "SubscriptionNotFound":
        return  # no subscription of this tenant to record against: nothing leaks across tenants
    with platform.db.write() as conn:
        if started:
            platform.activity.record(conn, _event(ctx, endpoint, operation_id, "Started", None))
        platform.activity.record(conn, _event(ctx, endpoint, operation_id, "Failed", status, error))


def _status_of(http_status: int) -> str:
    return "Accepted" if http_status == 202 else "Succeeded"


_SUB_STATUS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "NoContent",
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    500: "InternalServerError",
}


def _event(
    ctx: RequestContext,
    endpoint: Endpoint,
    operation_id: str,
    status: str,
    http_status: int | None,
    error: dict | None = None,
) -> EventInput:
    return EventInput(
        tenant_id=ctx.tenant_id,
        operation_name=endpoint.operation,
        resource_id=endpoint.scope or "/",
        status=status,
        sub_status=_SUB_STATUS.get(http_status or 0, "" if http_status is None else str(http_status)),
        http_status=http_status,
        caller=ctx.caller.app_id,
        claims={k: v for k, v in ctx.caller.claims.items() if k in _LOGGED_CLAIMS},
        correlation_id=ctx.correlation_id,
        operation_id=operation_id,
        method=ctx.method,
        client_ip=ctx.client_ip,
        client_request_id=ctx.headers.get("x-ms-client-request-id"),
        authorization_scope=endpoint.scope or "/",
        error=error,
    )


# The token's identity claims; never the token itself.
_LOGGED_CLAIMS = frozenset({"aud", "iss", "iat", "nbf", "exp", "appid", "azp", "oid", "sub", "tid", "idtyp", "ver"})


def _authorize(ctx: RequestContext, endpoint: Endpoint) -> None:
    if endpoint.authorize is not None:
        endpoint.authorize(ctx)
    else:
        ctx.authorize(endpoint.operation, endpoint.scope)


def _check_subscription(ctx: RequestContext, subscription_id: str | None) -> None:
    if subscription_id is None:
        return
    assert ctx.conn is not None
    row = ctx.conn.execute(
        select(subscriptions.c.tenant_id).where(subscriptions.c.id == subscription_id.lower())
    ).first()
    if row is None or row.tenant_id != ctx.tenant_id:
        raise NotFound(f"The subscription '{subscription_id}' could not be found.", code="SubscriptionNotFound")
