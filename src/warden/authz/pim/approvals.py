"""``/providers/Microsoft.Authorization/roleAssignmentApprovals/{id}`` and its ``stages/{stageId}``.

An activation that needs approval opens one single-stage approval; the stage's ID is the
approval's. Only the policy's primary approvers may decide, and never on their own request (the
requestor is also left out of the approver list when the approval opens). Approve provisions the
activation in the approver's transaction; Deny leaves the request ``Denied`` and grants nothing; an
approval nobody decides within a day expires (request ``TimedOut``), as Azure's does.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from warden.authz.pim import audit
from warden.authz.pim.common import principal_type
from warden.authz.pim.records import find_request
from warden.authz.pim.requests import set_request_status
from warden.authz.pim.schema import pim_approvals, pim_requests
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from warden.kernel.ids import ResourceId, is_guid
from warden.kernel.reply import Reply

APPROVAL_TYPE = "Microsoft.Authorization/roleAssignmentApprovals"
STAGE_TYPE = "Microsoft.Authorization/roleAssignmentApprovals/stages"
REVIEW_RESULTS = ("Approve", "Deny")
APPROVAL_TIMEOUT = timedelta(days=1)

if TYPE_CHECKING:
    from warden.platform import Platform


def open_approval(ctx: RequestContext, request_id: str, approvers: tuple[str, ...]) -> str:
    """Open an approval for a pending request; return its GUID."""
    assert ctx.conn is not None
    approval_id = str(uuid.uuid4())
    requestor = ctx.caller.object_id.lower()
    ctx.conn.execute(
        insert(pim_approvals).values(
            tenant_id=ctx.tenant_id,
            id=approval_id,
            request_key=request_id.lower(),
            requestor_id=requestor,
            approvers=[a for a in approvers if a != requestor],
            status="InProgress",
            review_result="NotReviewed",
            created_at=utcnow(),
        )
    )
    return approval_id


def close_approval(ctx: RequestContext, approval_id: str) -> None:
    assert ctx.conn is not None
    ctx.conn.execute(
        update(pim_approvals)
        .where(pim_approvals.c.tenant_id == ctx.tenant_id, pim_approvals.c.id == approval_id)
        .values(status="Completed")
    )


def find_approval(ctx: RequestContext, approval_id: str) -> Any:
    assert ctx.conn is not None
    if not is_guid(approval_id):
        return None
    return ctx.conn.execute(
        select(pim_approvals).where(
            pim_approvals.c.tenant_id == ctx.tenant_id, pim_approvals.c.id == approval_id.lower()
        )
    ).first()


def approval_id_in(target: str) -> str | None:
    """The approval GUID inside an approval or stage ID."""
    parts = target.split("/")
    lowered = [p.lower() for p in parts]
    if "roleassignmentapprovals" not in lowered:
        return None
    index = lowered.index("roleassignmentapprovals")
    return parts[index + 1] if index + 1 < len(parts) else None


def is_approver(ctx: RequestContext, row: Any) -> bool:
    """Whether the caller is a primary approver, itself or through a group that is one."""
    return any(p.lower() in row.approvers for p in ctx.caller.principal_ids)


def may_see(ctx: RequestContext, row: Any) -> bool:
    return row is not None and (is_approver(ctx, row) or ctx.caller.object_id.lower() == row.requestor_id)


def stage_json(ctx: RequestContext, row: Any) -> dict[str, Any]:
    reviewed_by = None
    if row.reviewed_by:
        assert ctx.conn is not None
        reviewed_by = {
            "principalId": row.reviewed_by,
            "principalType": principal_type(ctx.conn, ctx.tenant_id, row.reviewed_by),
        }
    return {
        "id": f"/providers/{APPROVAL_TYPE}/{row.id}/stages/{row.id}",
        "name": row.id,
        "type": STAGE_TYPE,
        "properties": {
            "displayName": "Approval stage 1",
            "status": row.status,
            "assignedToMe": is_approver(ctx, row),
            "reviewedBy": reviewed_by,
            "reviewedDateTime": isoformat(aware(row.reviewed_at)) if row.reviewed_at else None,
            "reviewResult": row.review_result,
            "justification": row.justification,
        },
    }


def approval_json(ctx: RequestContext, row: Any) -> dict[str, Any]:
    return {
        "id": f"/providers/{APPROVAL_TYPE}/{row.id}",
        "name": row.id,
        "type": APPROVAL_TYPE,
        "properties": {"stages": [stage_json(ctx, row)], "requestId": row.request_key},
    }


def _tenant_scope_only(rid: ResourceId) -> None:
    if rid.scope not in ("", "/"):
        raise BadRequest(
            "Role assignment approvals live at the tenant scope (/providers/Microsoft.Authorization).",
            code="InvalidResourceType",
        )


def _visible(ctx: RequestContext, rid: ResourceId) -> Any:
    _tenant_scope_only(rid)
    row = find_approval(ctx, rid.names[0])
    if not may_see(ctx, row):
        raise NotFound(f"The approval '{rid.names[0]}' was not found.", code="RoleAssignmentApprovalNotFound")
    return row


class ApprovalHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, approval_json(ctx, _visible(ctx, rid)))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest(
            "Approvals are opened by activation requests; decide on a stage instead.", code="OperationNotAllowed"
        )

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return self.put(ctx, rid, None)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        """The approvals waiting for the caller's decision, as Azure lists them."""
        assert ctx.conn is not None
        if scope not in ("", "/"):
            raise BadRequest("Role assignment approvals are listed at the tenant scope.", code="InvalidResourceType")
        rows = ctx.conn.execute(
            select(pim_approvals).where(
                pim_approvals.c.tenant_id == ctx.tenant_id, pim_approvals.c.status == "InProgress"
            )
        )
        me = ctx.caller.object_id.lower()
        return [approval_json(ctx, r) for r in rows if is_approver(ctx, r) and r.requestor_id != me]


class StageHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = _visible(ctx, rid)
        if rid.name.lower() != row.id:
            raise NotFound(f"The approval stage '{rid.name}' was not found.", code="RoleAssignmentApprovalStepNotFound")
        return Reply(200, stage_json(ctx, row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        """Record an approver's decision and carry it out."""
        assert ctx.conn is not None
        from warden.authz.pim.activation import provision_approved

        row = _visible(ctx, rid)
        if rid.name.lower() != row.id:
            raise NotFound(f"The approval stage '{rid.name}' was not found.", code="RoleAssignmentApprovalStepNotFound")
        me = ctx.caller.object_id.lower()
        if me == row.requestor_id:
            raise Forbidden("Nobody may approve or deny their own request.", code="SelfApprovalNotAllowed")
        if not is_approver(ctx, row):
            raise Forbidden("Only a designated approver may decide on this request.", code="AuthorizationFailed")
        # The SDK sends the step's properties as the body itself; ARM-style clients wrap them in "properties".
        properties = body.get("properties", body) if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise BadRequest("The request content must be a JSON object.", code="InvalidRequestContent")
        result = properties.get("reviewResult")
        if result not in REVIEW_RESULTS:
            raise BadRequest(
                "'reviewResult' must be 'Approve' or 'Deny'.",
                code="InvalidRequestContent",
                target="properties.reviewResult",
            )
        justification = properties.get("justification")
        if not isinstance(justification, str) or not justification.strip() or len(justification) > 4000:
            raise BadRequest(
                "An approver must give a justification (up to 4000 characters).",
                code="InvalidRequestContent",
                target="properties.justification",
            )
        if row.status != "InProgress":
            raise Conflict("This approval stage has already been decided.", code="ApprovalStageCompleted")
        request = find_request(ctx.conn, ctx.tenant_id, row.request_key)
        if request is None or request.status != "PendingApproval":
            raise Conflict("The request is no longer waiting for approval.", code="ApprovalStageCompleted")
        if result == "Approve":
            audit.record(
                ctx.conn,
                ctx.tenant_id,
                "Add member to role request approved (PIM activation)",
                initiated_by=audit.caller_initiator(ctx.caller.app_id, ctx.caller.object_id),
                principal_id=request.principal_id,
                role_guid=request.role_guid,
                scope=request.scope,
                details={"RequestId": request.id, "Justification": justification},
            )
            provision_approved(ctx, request)
        else:
            set_request_status(ctx, request, "Denied")
        ctx.conn.execute(
            update(pim_approvals)
            .where(pim_approvals.c.tenant_id == ctx.tenant_id, pim_approvals.c.id == row.id)
            .values(
                status="Completed",
                review_result=result,
                reviewed_by=me,
                justification=justification,
                reviewed_at=utcnow(),
            )
        )
        return Reply(200, stage_json(ctx, find_approval(ctx, row.id)))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise BadRequest("Approval stages cannot be deleted.", code="OperationNotAllowed")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert parent is not None
        return [stage_json(ctx, _visible(ctx, parent))]


def time_out_approvals(platform: Platform, now: datetime | None = None) -> int:
    """Close approvals left undecided for ``APPROVAL_TIMEOUT`` (Azure's one-day approval stage):
    the stage becomes ``Expired`` and the request ``TimedOut``, granting nothing. Return how many."""
    now = now or utcnow()
    cutoff = now - APPROVAL_TIMEOUT
    waiting = (pim_approvals.c.status == "InProgress") & (pim_approvals.c.created_at <= cutoff)
    with platform.db.read() as conn:
        if conn.execute(select(pim_approvals.c.id).where(waiting).limit(1)).first() is None:
            return 0
    with platform.db.write() as conn:
        rows = conn.execute(select(pim_approvals).where(waiting)).all()
        for row in rows:
            conn.execute(update(pim_approvals).where(pim_approvals.c.id == row.id).values(status="Expired"))
            request = find_request(conn, row.tenant_id, row.request_key)
            if request is None or request.status != "PendingApproval":
                continue
            conn.execute(
                update(pim_requests)
                .where(pim_requests.c.tenant_id == row.tenant_id, pim_requests.c.key == request.key)
                .values(status="TimedOut", body={**request.body, "status": "TimedOut"})
            )
            audit.record(
                conn,
                row.tenant_id,
                "Add member to role request timed out (PIM activation)",
                initiated_by=audit.SYSTEM,
                principal_id=request.principal_id,
                role_guid=request.role_guid,
                scope=request.scope,
                details={"RequestId": request.id},
            )
    return len(rows)
