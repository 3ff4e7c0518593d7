"""Registers PIM's Microsoft.Authorization types, and decides who may call them.

Authorization follows Azure's PIM rather than plain "RBAC on the type's own operation":

* Admin* schedule requests need ``Microsoft.Authorization/roleAssignments/write`` at the scope
  (Owner, User Access Administrator);
* SelfActivate/SelfDeactivate are allowed to the principal named in the request when it is the
  caller (the handler then checks the eligibility and policy);
* reads of requests, schedules and instances need the type's ``read`` at the scope, except a
  caller's own items (``$filter=asTarget()`` / ``asRequestor()`` on lists, or its own item by ID);
* approvals are visible to their approvers and requestor only; policies and alerts use plain RBAC.
"""

from __future__ import annotations

from typing import Any

from warden.authz.pim import activation, alerts, approvals
from warden.authz.pim.common import NAMESPACE, ROLE_ASSIGNMENT_WRITE, principal_type, scope_key
from warden.authz.pim.eligibility import EligibilityRequestHandler
from warden.authz.pim.policies import PolicyAssignmentHandler, PolicyHandler
from warden.authz.pim.records import (
    current_schedules,
    find_request,
    find_schedule,
    instance_json,
    parse_list_filter,
    schedule_json,
)
from warden.authz.pim.requests import SELF_TYPES
from warden.authz.pim.schema import ASSIGNMENT, ELIGIBILITY
from warden.kernel.context import RequestContext, authorization_failed
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import InvalidResourceId, ResourceId, parse_resource_id
from warden.kernel.providers import EXTENSION, Action, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply

API_VERSIONS = ("2020-10-01", "2022-04-01-preview", "2022-08-01-preview", "2021-01-01-preview", "2024-02-01-preview")


class ScheduleReadHandler:
    """``role{Assignment,Eligibility}Schedules`` and their ``...Instances``: read-only views of schedules in force."""

    def __init__(self, kind: str, instances: bool) -> None:
        self.kind = kind
        self.render = instance_json if instances else schedule_json

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = find_schedule(ctx.conn, ctx.tenant_id, self.kind, rid.name)
        # Found by GUID, so check the scope too: RBAC was checked at the scope in the path.
        if row is None or row.scope_key != scope_key(rid.scope):
            raise NotFound(f"The schedule '{rid.name}' was not found.", code="ResourceNotFound")
        return Reply(200, self.render(row, principal_type(ctx.conn, ctx.tenant_id, row.principal_id)))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Schedules are created by schedule requests.", code="OperationNotAllowed")

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return self.put(ctx, rid, None)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        rows = current_schedules(ctx, self.kind, scope)
        types = {p: principal_type(ctx.conn, ctx.tenant_id, p) for p in {row.principal_id for row in rows}}
        return [self.render(row, types[row.principal_id]) for row in rows]


def _scope_of(target: str) -> str:
    """The scope an item ID hangs from (the target itself for a collection)."""
    try:
        rid = parse_resource_id(target)
    except InvalidResourceId:
        return target or "/"
    return rid.scope or "/" if rid.namespace.lower() == NAMESPACE.lower() else target


def _is_item(target: str, collection: str) -> bool:
    return f"/{collection.lower()}/" in target.lower()


def _own_list(ctx: RequestContext, requests: bool) -> bool:
    return parse_list_filter(ctx.query.get("$filter"), requests=requests).own_only


def authorize_requests(ctx: RequestContext, operation: str, target: str) -> None:
    """Schedule requests (both kinds) and their cancel action."""
    assert ctx.conn is not None
    me = ctx.caller.object_id.lower()
    collection = operation.split("/")[1]
    if ctx.method == "PUT" and _is_item(target, collection):
        body = ctx.body if isinstance(ctx.body, dict) else {}
        properties = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        principal = properties.get("principalId")
        if properties.get("requestType") in SELF_TYPES and isinstance(principal, str) and principal.lower() == me:
            return  # the handler checks the caller's eligibility
        ctx.authorize(ROLE_ASSIGNMENT_WRITE, _scope_of(target))
        return
    if ctx.method == "POST":  # cancel: the requestor, or an administrator of the scope
        row = find_request(ctx.conn, ctx.tenant_id, target)
        if row is not None and row.requestor_id == me:
            return
        ctx.authorize(ROLE_ASSIGNMENT_WRITE, _scope_of(target))
        return
    if ctx.method == "DELETE":
        ctx.authorize(ROLE_ASSIGNMENT_WRITE, _scope_of(target))
        return
    if ctx.can(operation, target):
        return
    if _is_item(target, collection):
        row = find_request(ctx.conn, ctx.tenant_id, target)
        if row is not None and me in (row.principal_id, row.requestor_id):
            return
    elif _own_list(ctx, requests=True):
        return
    raise authorization_failed(ctx.caller, operation, target)


def authorize_schedules(ctx: RequestContext, operation: str, target: str) -> None:
    """Schedules and instances: readers of the scope, or the principal they belong to."""
    assert ctx.conn is not None
    if ctx.method in ("GET", "HEAD") and not ctx.can(operation, target):
        collection = operation.split("/")[1]
        kind = ELIGIBILITY if "eligibility" in collection.lower() else ASSIGNMENT
        if _is_item(target, collection):
            row = find_schedule(ctx.conn, ctx.tenant_id, kind, target.rsplit("/", 1)[-1])
            if (
                row is not None
                and row.principal_id in {p.lower() for p in ctx.caller.principal_ids}
                and row.scope_key == scope_key(_scope_of(target))
            ):
                return
        elif _own_list(ctx, requests=False):
            return
        raise authorization_failed(ctx.caller, operation, target)
    ctx.authorize(operation, target)


def authorize_approvals(ctx: RequestContext, operation: str, target: str) -> None:
    """Approvals: anyone may list their own at the tenant scope; an approval is visible to its
    approvers and requestor only (the stage handler then lets approvers alone decide)."""
    approval_id = approvals.approval_id_in(target)
    if approval_id is None:
        if target in ("", "/"):
            return
        ctx.authorize(operation, target)
        return
    if approvals.may_see(ctx, approvals.find_approval(ctx, approval_id)):
        return
    raise authorization_failed(ctx.caller, operation, target)


def register(registry: ProviderRegistry) -> None:
    everywhere = frozenset({EXTENSION})

    def add(types: tuple[str, ...], handler: Any, label: str, authorize: Any = None) -> ResourceType:
        return registry.register(
            ResourceType(
                NAMESPACE,
                types,
                handler,
                placements=everywhere,
                display_name=label,
                api_versions=API_VERSIONS,
                authorize=authorize,
            )
        )

    cancel = Action("cancel", activation.cancel, description="Cancel a pending schedule request")
    add(
        ("roleEligibilityScheduleRequests",),
        EligibilityRequestHandler(),
        "role eligibility schedule request",
        authorize_requests,
    ).add_action(cancel)
    add(
        ("roleAssignmentScheduleRequests",),
        activation.AssignmentRequestHandler(),
        "role assignment schedule request",
        authorize_requests,
    ).add_action(cancel)
    for kind, noun in ((ELIGIBILITY, "Eligibility"), (ASSIGNMENT, "Assignment")):
        add(
            (f"role{noun}Schedules",),
            ScheduleReadHandler(kind, False),
            f"role {noun.lower()} schedule",
            authorize_schedules,
        )
        add(
            (f"role{noun}ScheduleInstances",),
            ScheduleReadHandler(kind, True),
            f"role {noun.lower()} schedule instance",
            authorize_schedules,
        )
    add(("roleManagementPolicies",), PolicyHandler(), "role management policy")
    add(("roleManagementPolicyAssignments",), PolicyAssignmentHandler(), "role management policy assignment")
    add(("roleAssignmentApprovals",), approvals.ApprovalHandler(), "role assignment approval", authorize_approvals)
    add(
        ("roleAssignmentApprovals", "stages"),
        approvals.StageHandler(),
        "role assignment approval stage",
        authorize_approvals,
    )
    alerts.register(add)
