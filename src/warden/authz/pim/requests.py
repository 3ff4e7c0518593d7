"""What eligibility and assignment schedule requests share: parsing the body, storing the request,
its schedule and its audit record, and finding or ending live schedules.

A request is stored once, with its final status; the schedule it creates or ends is written in
the same transaction (the pipeline's), so a refused request changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from warden.authz.engine import scope_ancestors
from warden.authz.pim import audit
from warden.authz.pim.common import (
    optional_text,
    policy_validation_failed,
    principal_type,
    request_name,
    require_principal,
    require_properties,
    require_role,
    role_definition_id,
    scope_key,
)
from warden.authz.pim.records import REQUEST_TYPES, find_request, window_of
from warden.authz.pim.schedules import ScheduleError, Window, expiration_json, window_from_schedule_info
from warden.authz.pim.schema import ELIGIBILITY, pim_requests, pim_schedules
from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId

ADMIN_TYPES = ("AdminAssign", "AdminRemove", "AdminUpdate", "AdminExtend", "AdminRenew")
SELF_TYPES = ("SelfActivate", "SelfDeactivate", "SelfExtend", "SelfRenew")


@dataclass
class ParsedRequest:
    """A schedule request's validated body."""

    name: str
    scope: str
    principal_id: str
    role_guid: str
    request_type: str
    justification: str | None
    ticket: dict[str, Any] | None
    schedule_info: Any
    linked_eligibility: str | None
    principal_type: str = "ServicePrincipal"


def parse_request(ctx: RequestContext, rid: ResourceId, body: Any) -> ParsedRequest:
    """Validate the parts every schedule request has; raise ARM's errors for bad ones."""
    name = request_name(rid.name)
    properties = require_properties(body)
    request_type = properties.get("requestType")
    if request_type not in ADMIN_TYPES + SELF_TYPES:
        raise BadRequest(
            f"'requestType' must be one of {', '.join(ADMIN_TYPES + SELF_TYPES)}.",
            code="InvalidRequestType",
            target="properties.requestType",
        )
    scope = rid.scope or "/"
    principal_id = require_principal(ctx, properties)
    role = require_role(ctx, properties, scope)
    ticket = properties.get("ticketInfo")
    if ticket is not None and not isinstance(ticket, dict):
        raise BadRequest(
            "'ticketInfo' must be an object.", code="InvalidRequestContent", target="properties.ticketInfo"
        )
    if ticket is not None:
        optional_text(ticket, "ticketNumber", 256)
        optional_text(ticket, "ticketSystem", 256)
    if properties.get("condition"):
        raise BadRequest("Role assignment conditions are not supported.", code="ConditionNotSupported")
    linked = optional_text(properties, "linkedRoleEligibilityScheduleId")
    return ParsedRequest(
        name=name,
        scope=scope,
        principal_id=principal_id,
        role_guid=role.id.lower(),
        request_type=request_type,
        justification=optional_text(properties, "justification", 4000),
        ticket=ticket,
        schedule_info=properties.get("scheduleInfo"),
        linked_eligibility=linked.rstrip("/").rsplit("/", 1)[-1].lower() if linked else None,
        principal_type=principal_type(ctx.conn, ctx.tenant_id, principal_id),
    )


def requested_window(parsed: ParsedRequest, now: datetime) -> Window:
    try:
        return window_from_schedule_info(parsed.schedule_info, now)
    except ScheduleError as error:
        raise BadRequest(str(error), code="InvalidRequestContent", target=f"properties.{error.field}") from None


def refuse_duplicate_request(ctx: RequestContext, kind: str, rid: ResourceId) -> None:
    assert ctx.conn is not None
    if find_request(ctx.conn, ctx.tenant_id, str(rid)) is not None:
        raise Conflict(
            f"A request named '{rid.name}' already exists; requests cannot be changed once made.",
            code="RoleAssignmentRequestExists" if kind != ELIGIBILITY else "RoleEligibilityRequestExists",
        )


def store_request(
    ctx: RequestContext,
    kind: str,
    rid: ResourceId,
    parsed: ParsedRequest,
    window: Window | None,
    status: str,
    *,
    extra: dict[str, Any] | None = None,
    approval_id: str | None = None,
) -> Any:
    """Insert the request row with Azure's properties; return the row."""
    assert ctx.conn is not None
    now = utcnow()
    properties: dict[str, Any] = {
        "scope": parsed.scope,
        "roleDefinitionId": role_definition_id(parsed.scope, parsed.role_guid),
        "principalId": parsed.principal_id,
        "principalType": parsed.principal_type,
        "requestType": parsed.request_type,
        "status": status,
        "approvalId": None,
        "scheduleInfo": None
        if window is None
        else {"startDateTime": isoformat(window.start), "expiration": expiration_json(window)},
        "justification": parsed.justification,
        "ticketInfo": parsed.ticket,
        "condition": None,
        "conditionVersion": None,
        "createdOn": isoformat(now),
        "requestorId": ctx.caller.object_id,
        **(extra or {}),
    }
    if approval_id:
        properties["approvalId"] = f"/providers/Microsoft.Authorization/roleAssignmentApprovals/{approval_id}"
    ctx.conn.execute(
        insert(pim_requests).values(
            tenant_id=ctx.tenant_id,
            key=str(rid).lower(),
            id=str(rid),
            kind=kind,
            scope=parsed.scope,
            scope_key=scope_key(parsed.scope),
            principal_id=parsed.principal_id,
            role_guid=parsed.role_guid,
            requestor_id=ctx.caller.object_id.lower(),
            status=status,
            approval_id=approval_id,
            body=properties,
            created_at=now,
        )
    )
    audit_request(
        ctx,
        kind,
        parsed.request_type,
        status,
        parsed.principal_id,
        parsed.role_guid,
        parsed.scope,
        str(rid),
        parsed.justification,
    )
    return find_request(ctx.conn, ctx.tenant_id, str(rid))


def set_request_status(ctx: RequestContext, row: Any, status: str, **changes: Any) -> None:
    assert ctx.conn is not None
    body = {**row.body, "status": status, **changes}
    ctx.conn.execute(
        update(pim_requests)
        .where(pim_requests.c.tenant_id == ctx.tenant_id, pim_requests.c.key == row.key)
        .values(status=status, body=body)
    )
    request_type = row.body.get("requestType", "")
    justification = row.body.get("justification")
    audit_request(
        ctx, row.kind, request_type, status, row.principal_id, row.role_guid, row.scope, row.id, justification
    )


def audit_request(
    ctx: RequestContext,
    kind: str,
    request_type: str,
    status: str,
    principal_id: str,
    role_guid: str,
    scope: str,
    request_id: str,
    justification: str | None,
) -> None:
    """Write the AuditLogs record for a request reaching ``status`` (when Entra's PIM writes one)."""
    assert ctx.conn is not None
    activity = audit.activity_for(kind, request_type, status)
    if activity is None:
        return
    audit.record(
        ctx.conn,
        ctx.tenant_id,
        activity,
        initiated_by=audit.caller_initiator(ctx.caller.app_id, ctx.caller.object_id),
        principal_id=principal_id,
        role_guid=role_guid,
        scope=scope,
        details={"RequestId": request_id, "Justification": justification},
    )


def insert_schedule(
    ctx: RequestContext,
    kind: str,
    parsed: ParsedRequest,
    window: Window,
    request_id: str,
    *,
    linked_eligibility_id: str | None = None,
    grant: ResourceId | None = None,
) -> str:
    """Store a provisioned schedule; return its GUID (shared with its instance)."""
    assert ctx.conn is not None
    name = str(uuid.uuid4())
    now = utcnow()
    ctx.conn.execute(
        insert(pim_schedules).values(
            tenant_id=ctx.tenant_id,
            name=name,
            kind=kind,
            scope=parsed.scope,
            scope_key=scope_key(parsed.scope),
            principal_id=parsed.principal_id,
            role_guid=parsed.role_guid,
            role_definition_id=role_definition_id(parsed.scope, parsed.role_guid),
            status="Provisioned",
            start_at=window.start,
            end_at=window.end,
            request_id=request_id,
            linked_eligibility_id=linked_eligibility_id,
            role_assignment_key=grant.key if grant else None,
            role_assignment_id=str(grant) if grant else None,
            created_at=now,
            updated_at=now,
        )
    )
    return name


def live_schedules(
    ctx: RequestContext, kind: str, principal_id: str | tuple[str, ...], role_guid: str, scope: str, *, exact: bool
) -> list[Any]:
    """Provisioned, unexpired schedules of this principal and role at ``scope`` (and above unless ``exact``)."""
    assert ctx.conn is not None
    scopes = [scope_key(scope)] if exact else scope_ancestors(scope_key(scope))
    rows = ctx.conn.execute(
        select(pim_schedules).where(
            pim_schedules.c.tenant_id == ctx.tenant_id,
            pim_schedules.c.kind == kind,
            pim_schedules.c.principal_id.in_([principal_id] if isinstance(principal_id, str) else principal_id),
            pim_schedules.c.role_guid == role_guid,
            pim_schedules.c.status == "Provisioned",
            pim_schedules.c.scope_key.in_(scopes),
        )
    ).all()
    now = utcnow()
    return [r for r in rows if not window_of(r).expired(now)]


def end_schedules(ctx: RequestContext, rows: list[Any], status: str) -> None:
    assert ctx.conn is not None
    now = utcnow()
    for row in rows:
        ctx.conn.execute(
            update(pim_schedules)
            .where(pim_schedules.c.tenant_id == ctx.tenant_id, pim_schedules.c.name == row.name)
            .values(
                status=status,
                end_at=now if row.end_at is None or window_of(row).covers(now) else row.end_at,
                role_assignment_key=None,  # its role assignment is gone (callers delete it first)
                updated_at=now,
            )
        )


def check_admin_expiration(window: Window, maximum: timedelta | None, now: datetime) -> None:
    """Admin assignments: end after now, and within the policy's maximum when expiration is required."""
    if window.end is not None and window.end <= now:
        raise BadRequest(
            "The schedule ends in the past.", code="InvalidRequestContent", target="properties.scheduleInfo"
        )
    if maximum is not None and (window.end is None or window.end - window.start > maximum):
        raise policy_validation_failed("ExpirationRule")


def request_row(ctx: RequestContext, rid: ResourceId) -> Any:
    assert ctx.conn is not None
    row = find_request(ctx.conn, ctx.tenant_id, str(rid))
    if row is None or REQUEST_TYPES[row.kind].lower() != rid.types[-1].lower():
        raise NotFound(f"The schedule request '{rid.name}' was not found.", code="ResourceNotFound")
    return row
