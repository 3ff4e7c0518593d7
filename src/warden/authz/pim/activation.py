"""``roleAssignmentScheduleRequests``: activating eligible roles, and admin-made active assignments.

SelfActivate is checked, in this order, against: an eligibility of the caller for the role at the
scope or above that covers now (``EligibilityRule``); the role's policy at the eligibility's scope —
duration between 5 minutes and the maximum (``ExpirationRule``), justification
(``JustificationRule``), ticket (``TicketingRule``), the token's ``amr`` holding ``mfa``
(``MfaRule``) — all failures named together, as Azure names them. When the policy wants approval
the request waits as ``PendingApproval`` and nothing is granted; otherwise (or once approved) a
schedule and a real role assignment are created, ending when the activation (or the
eligibility, whichever is first) ends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from warden.authz.pim.common import (
    ROLE_ASSIGNMENT_WRITE,
    policy_validation_failed,
    scope_key,
    scoped_id,
)
from warden.authz.pim.grants import create_grant, remove_grant
from warden.authz.pim.policies import policy_for
from warden.authz.pim.records import INSTANCE_TYPES, SCHEDULE_TYPES, list_requests, request_json, window_of
from warden.authz.pim.requests import (
    ADMIN_TYPES,
    ParsedRequest,
    check_admin_expiration,
    end_schedules,
    insert_schedule,
    live_schedules,
    parse_request,
    refuse_duplicate_request,
    request_row,
    requested_window,
    set_request_status,
    store_request,
)
from warden.authz.pim.schedules import Window
from warden.authz.pim.schema import ASSIGNMENT, ELIGIBILITY, pim_requests
from warden.identity.membership import transitive_group_ids
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext, authorization_failed
from warden.kernel.errors import BadRequest, Conflict
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply

MINIMUM_ACTIVATION = timedelta(minutes=5)
START_LEEWAY = timedelta(minutes=5)  # clock skew between the client and Warden


def provision(
    ctx: RequestContext, parsed: ParsedRequest, window: Window, request_id: str, linked: str | None
) -> dict[str, Any]:
    """Create the active schedule and the role assignment it grants; return the request's target IDs."""
    grant = create_grant(ctx, parsed.scope, parsed.principal_id, parsed.role_guid)
    name = insert_schedule(ctx, ASSIGNMENT, parsed, window, request_id, linked_eligibility_id=linked, grant=grant)
    return {
        "targetRoleAssignmentScheduleId": scoped_id(parsed.scope, SCHEDULE_TYPES[ASSIGNMENT], name),
        "targetRoleAssignmentScheduleInstanceId": scoped_id(parsed.scope, INSTANCE_TYPES[ASSIGNMENT], name),
    }


def _eligibility_for(ctx: RequestContext, parsed: ParsedRequest, principal_ids: tuple[str, ...]) -> Any:
    """A live eligibility of these principals (the activating one and its groups) covering now."""
    now = utcnow()
    rows = [
        r
        for r in live_schedules(ctx, ELIGIBILITY, principal_ids, parsed.role_guid, parsed.scope, exact=False)
        if window_of(r).covers(now) and (parsed.linked_eligibility in (None, r.name))
    ]
    if not rows:
        raise policy_validation_failed("EligibilityRule")
    return rows[0]


def _refuse_overlap(ctx: RequestContext, parsed: ParsedRequest, window: Window) -> None:
    assert ctx.conn is not None
    for row in live_schedules(ctx, ASSIGNMENT, parsed.principal_id, parsed.role_guid, parsed.scope, exact=True):
        if window_of(row).overlaps(window):
            raise Conflict("The Role assignment already exists.", code="RoleAssignmentExists")
    pending = ctx.conn.execute(
        select(pim_requests.c.id).where(
            pim_requests.c.tenant_id == ctx.tenant_id,
            pim_requests.c.kind == ASSIGNMENT,
            pim_requests.c.principal_id == parsed.principal_id,
            pim_requests.c.role_guid == parsed.role_guid,
            pim_requests.c.scope_key == scope_key(parsed.scope),
            pim_requests.c.status == "PendingApproval",
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"There is already an existing pending Role assignment request: '{pending.id}'.",
            code="RoleAssignmentRequestPendingApproval",
        )


def activate(ctx: RequestContext, rid: ResourceId, parsed: ParsedRequest) -> Reply:
    assert ctx.conn is not None
    now = utcnow()
    # The caller itself or one of its groups may be the eligible one; the activation is the caller's.
    eligibility = _eligibility_for(ctx, parsed, tuple(p.lower() for p in ctx.caller.principal_ids))
    policy = policy_for(ctx.conn, ctx.tenant_id, eligibility.scope, parsed.role_guid)
    window = requested_window(parsed, now)
    if window.start < now - START_LEEWAY:
        raise BadRequest(
            "An activation cannot start in the past.", code="InvalidRequestContent", target="properties.scheduleInfo"
        )
    failed = []
    if window.duration is None or not MINIMUM_ACTIVATION <= window.duration <= policy.maximum_duration:
        failed.append("ExpirationRule")
    if policy.require_justification and not parsed.justification:
        failed.append("JustificationRule")
    if policy.require_ticket and not (parsed.ticket or {}).get("ticketNumber"):
        failed.append("TicketingRule")
    if policy.require_mfa and "mfa" not in (ctx.caller.claims.get("amr") or []):
        failed.append("MfaRule")
    if failed:
        raise policy_validation_failed(*failed)
    window = window.clipped_to(window_of(eligibility))
    _refuse_overlap(ctx, parsed, window)
    linked = scoped_id(eligibility.scope, SCHEDULE_TYPES[ELIGIBILITY], eligibility.name)
    extra: dict[str, Any] = {"linkedRoleEligibilityScheduleId": linked}
    if policy.require_approval:
        from warden.authz.pim.approvals import open_approval

        approval_id = open_approval(ctx, str(rid), policy.approvers)
        row = store_request(
            ctx, ASSIGNMENT, rid, parsed, window, "PendingApproval", extra=extra, approval_id=approval_id
        )
        return Reply(201, request_json(row))
    extra.update(provision(ctx, parsed, window, str(rid), linked))
    return Reply(201, request_json(store_request(ctx, ASSIGNMENT, rid, parsed, window, "Provisioned", extra=extra)))


def provision_approved(ctx: RequestContext, row: Any) -> None:
    """Provision a request an approver just approved: it starts now (or at its asked start, if
    later) for the duration asked, still within a live eligibility."""
    now = utcnow()
    body = row.body
    parsed = ParsedRequest(
        name=row.id.rsplit("/", 1)[-1],
        scope=row.scope,
        principal_id=row.principal_id,
        role_guid=row.role_guid,
        request_type=body["requestType"],
        justification=body.get("justification"),
        ticket=body.get("ticketInfo"),
        schedule_info=body.get("scheduleInfo"),
        linked_eligibility=(body.get("linkedRoleEligibilityScheduleId") or "").rsplit("/", 1)[-1].lower() or None,
    )
    asked = requested_window(parsed, now)
    start = max(asked.start, now)
    eligibility = _eligibility_for(ctx, parsed, (row.principal_id, *_groups_of(ctx, row.principal_id)))
    window = Window(start, start + (asked.duration or MINIMUM_ACTIVATION)).clipped_to(window_of(eligibility))
    targets = provision(ctx, parsed, window, row.id, body.get("linkedRoleEligibilityScheduleId"))
    set_request_status(ctx, row, "Provisioned", **targets)


def _groups_of(ctx: RequestContext, principal_id: str) -> tuple[str, ...]:
    """The groups a requestor belongs to now (an approver, not the requestor, is the caller then)."""
    assert ctx.conn is not None
    return transitive_group_ids(ctx.conn, ctx.tenant_id, principal_id)


def deactivate(ctx: RequestContext, rid: ResourceId, parsed: ParsedRequest, *, admin: bool) -> Reply:
    """End the principal's active assignments of the role at exactly this scope (SelfDeactivate:
    only activated ones; AdminRemove: any PIM-made one)."""
    assert ctx.conn is not None
    rows = live_schedules(ctx, ASSIGNMENT, parsed.principal_id, parsed.role_guid, parsed.scope, exact=True)
    if not admin:
        rows = [r for r in rows if r.linked_eligibility_id]
    if not rows:
        raise BadRequest("The Role assignment does not exist.", code="RoleAssignmentDoesNotExist")
    for row in rows:
        remove_grant(ctx.conn, ctx.tenant_id, row.role_assignment_key)
    end_schedules(ctx, rows, "Revoked")
    ctx.invalidate_authorization()
    return Reply(201, request_json(store_request(ctx, ASSIGNMENT, rid, parsed, None, "Revoked")))


def admin_assign(ctx: RequestContext, rid: ResourceId, parsed: ParsedRequest) -> Reply:
    """A time-bound (or, when the policy allows, permanent) active assignment made by an administrator."""
    assert ctx.conn is not None
    now = utcnow()
    window = requested_window(parsed, now)
    policy = policy_for(ctx.conn, ctx.tenant_id, parsed.scope, parsed.role_guid)
    check_admin_expiration(window, policy.admin_assignment_maximum, now)
    if policy.admin_justification and not parsed.justification:
        raise policy_validation_failed("JustificationRule")
    _refuse_overlap(ctx, parsed, window)
    extra = provision(ctx, parsed, window, str(rid), None)
    return Reply(201, request_json(store_request(ctx, ASSIGNMENT, rid, parsed, window, "Provisioned", extra=extra)))


class AssignmentRequestHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, request_json(request_row(ctx, rid)))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        refuse_duplicate_request(ctx, ASSIGNMENT, rid)
        parsed = parse_request(ctx, rid, body)
        if parsed.request_type in ADMIN_TYPES:
            ctx.authorize(ROLE_ASSIGNMENT_WRITE, parsed.scope)
        elif parsed.principal_id != ctx.caller.object_id.lower():
            raise authorization_failed(ctx.caller, ROLE_ASSIGNMENT_WRITE, parsed.scope)
        if parsed.request_type == "SelfActivate":
            return activate(ctx, rid, parsed)
        if parsed.request_type in ("SelfDeactivate", "AdminRemove"):
            return deactivate(ctx, rid, parsed, admin=parsed.request_type == "AdminRemove")
        if parsed.request_type == "AdminAssign":
            return admin_assign(ctx, rid, parsed)
        raise BadRequest(
            f"The request type '{parsed.request_type}' is not supported yet for role assignment schedules; "
            "remove and assign again instead.",
            code="InvalidRequestType",
            target="properties.requestType",
        )

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Schedule requests are created with PUT and cannot be changed.", code="OperationNotAllowed")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise BadRequest(
            "Schedule requests cannot be deleted; cancel a pending one instead.", code="OperationNotAllowed"
        )

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        return list_requests(ctx, ASSIGNMENT, scope)


def cancel(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """``POST …/{request}/cancel``: withdraw a request still waiting for approval."""
    from warden.authz.pim.approvals import close_approval

    row = request_row(ctx, rid)
    if row.status != "PendingApproval":
        raise BadRequest(
            f"Only a request pending approval can be canceled; this one is '{row.status}'.",
            code="RoleAssignmentRequestNotCancelable",
        )
    set_request_status(ctx, row, "Canceled")
    if row.approval_id:
        close_approval(ctx, row.approval_id)
    return Reply(200)
