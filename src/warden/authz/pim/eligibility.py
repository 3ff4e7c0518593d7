"""``roleEligibilityScheduleRequests``: administrators make principals eligible for a role, change
the window, or remove the eligibility. Eligibility grants nothing by itself; activation does."""

from __future__ import annotations

from typing import Any

from warden.authz.pim.common import ROLE_ASSIGNMENT_WRITE, scoped_id
from warden.authz.pim.policies import policy_for
from warden.authz.pim.records import SCHEDULE_TYPES, list_requests, request_json
from warden.authz.pim.requests import (
    ADMIN_TYPES,
    check_admin_expiration,
    end_schedules,
    insert_schedule,
    live_schedules,
    parse_request,
    refuse_duplicate_request,
    request_row,
    requested_window,
    store_request,
)
from warden.authz.pim.schema import ELIGIBILITY
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply


class EligibilityRequestHandler:
    """``roleEligibilityScheduleRequests``: Admin* requests make principals eligible or not."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, request_json(request_row(ctx, rid)))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        refuse_duplicate_request(ctx, ELIGIBILITY, rid)
        parsed = parse_request(ctx, rid, body)
        if parsed.request_type not in ADMIN_TYPES:
            raise BadRequest(
                "Eligibility requests are made by administrators: use AdminAssign, AdminRemove, AdminUpdate, "
                "AdminExtend or AdminRenew.",
                code="InvalidRequestType",
                target="properties.requestType",
            )
        ctx.authorize(ROLE_ASSIGNMENT_WRITE, parsed.scope)
        now = utcnow()
        existing = live_schedules(ctx, ELIGIBILITY, parsed.principal_id, parsed.role_guid, parsed.scope, exact=True)
        if parsed.request_type == "AdminRemove":
            if not existing:
                raise NotFound("The role eligibility schedule does not exist.", code="RoleEligibilityScheduleNotFound")
            end_schedules(ctx, existing, "Revoked")
            row = store_request(ctx, ELIGIBILITY, rid, parsed, None, "Revoked")
            return Reply(201, request_json(row))
        window = requested_window(parsed, now)
        policy = policy_for(ctx.conn, ctx.tenant_id, parsed.scope, parsed.role_guid)
        check_admin_expiration(window, policy.admin_eligibility_maximum, now)
        if parsed.request_type == "AdminAssign" and existing:
            raise Conflict("The Role assignment already exists.", code="RoleAssignmentExists")
        if parsed.request_type != "AdminAssign":
            if not existing:
                raise NotFound("The role eligibility schedule does not exist.", code="RoleEligibilityScheduleNotFound")
            end_schedules(ctx, existing, "Revoked")  # replaced by the new window
        name = insert_schedule(ctx, ELIGIBILITY, parsed, window, str(rid))
        target = scoped_id(parsed.scope, SCHEDULE_TYPES[ELIGIBILITY], name)
        extra = {
            "targetRoleEligibilityScheduleId": target,
            "targetRoleEligibilityScheduleInstanceId": target.replace(
                "/roleEligibilitySchedules/", "/roleEligibilityScheduleInstances/"
            ),
        }
        row = store_request(ctx, ELIGIBILITY, rid, parsed, window, "Provisioned", extra=extra)
        return Reply(201, request_json(row))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Schedule requests are created with PUT and cannot be changed.", code="OperationNotAllowed")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise BadRequest("Schedule requests cannot be deleted; use an AdminRemove request.", code="OperationNotAllowed")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        return list_requests(ctx, ELIGIBILITY, scope)
