"""Reading PIM rows back as ARM JSON, and the list filters Azure's PIM list operations accept.

Lists follow Azure: without a filter, items at, above and below the scope; ``atScope()`` keeps
those at and above; ``principalId eq '…'`` / ``assignedTo('…')`` select one principal;
``roleDefinitionId eq '…'`` one role; ``asTarget()`` the caller's own items and ``asRequestor()``
(requests) those the caller asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select

from warden.authz.engine import scope_ancestors
from warden.authz.pim.common import role_definition_id, scope_key, scoped_id
from warden.authz.pim.schedules import Window
from warden.authz.pim.schema import ASSIGNMENT, ELIGIBILITY, pim_requests, pim_schedules
from warden.authz.store import builtin_roles
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.schema import below

REQUEST_TYPES = {ELIGIBILITY: "roleEligibilityScheduleRequests", ASSIGNMENT: "roleAssignmentScheduleRequests"}
SCHEDULE_TYPES = {ELIGIBILITY: "roleEligibilitySchedules", ASSIGNMENT: "roleAssignmentSchedules"}
INSTANCE_TYPES = {ELIGIBILITY: "roleEligibilityScheduleInstances", ASSIGNMENT: "roleAssignmentScheduleInstances"}


@dataclass
class ListFilter:
    at_scope: bool = False
    principal_id: str | None = None
    role_guid: str | None = None
    as_target: bool = False
    as_requestor: bool = False

    @property
    def own_only(self) -> bool:
        """Whether the filter limits the answer to the caller's own items."""
        return self.as_target or self.as_requestor


def parse_list_filter(text: str | None, *, requests: bool = False) -> ListFilter:
    """The supported ``$filter`` clauses; raise ``InvalidFilter`` for any other."""
    result = ListFilter()
    for clause in parse_filter(text):
        name = clause.name.lower()
        if clause.op == "call" and name == "atscope":
            result.at_scope = True
        elif clause.op == "call" and name == "astarget":
            result.as_target = True
        elif clause.op == "call" and name == "asrequestor" and requests:
            result.as_requestor = True
        elif clause.op == "call" and name == "assignedto" and len(clause.args) == 1:
            result.principal_id = clause.args[0].lower()
        elif clause.op == "eq" and name == "principalid":
            result.principal_id = (clause.value or "").lower()
        elif clause.op == "eq" and name == "roledefinitionid":
            result.role_guid = (clause.value or "").rstrip("/").rsplit("/", 1)[-1].lower()
        else:
            raise InvalidFilter(f"The $filter clause '{clause.name}' is not supported here.")
    return result


def _scope_condition(table: Any, scope: str, at_scope: bool) -> Any:
    ancestors = scope_ancestors(scope_key(scope))
    condition = table.c.scope_key.in_(ancestors)
    return condition if at_scope else or_(condition, below(table.c.scope_key, scope_key(scope)))


def list_requests(ctx: RequestContext, kind: str, scope: str) -> list[dict[str, Any]]:
    assert ctx.conn is not None
    wanted = parse_list_filter(ctx.query.get("$filter"), requests=True)
    query = select(pim_requests).where(
        pim_requests.c.tenant_id == ctx.tenant_id,
        pim_requests.c.kind == kind,
        _scope_condition(pim_requests, scope, wanted.at_scope),
    )
    query = _common_filters(ctx, query, pim_requests, wanted)
    if wanted.as_requestor:
        query = query.where(pim_requests.c.requestor_id == ctx.caller.object_id.lower())
    return [request_json(r) for r in ctx.conn.execute(query.order_by(pim_requests.c.created_at))]


def _common_filters(ctx: RequestContext, query: Any, table: Any, wanted: ListFilter) -> Any:
    if wanted.principal_id:
        query = query.where(table.c.principal_id == wanted.principal_id)
    if wanted.role_guid:
        query = query.where(table.c.role_guid == wanted.role_guid)
    if wanted.as_target:  # the caller's own, and those of its groups (as Azure's asTarget() includes)
        query = query.where(table.c.principal_id.in_([p.lower() for p in ctx.caller.principal_ids]))
    return query


def current_schedules(ctx: RequestContext, kind: str, scope: str) -> list[Any]:
    """Provisioned schedules of ``kind`` that have not ended, filtered as the request's ``$filter`` says."""
    assert ctx.conn is not None
    wanted = parse_list_filter(ctx.query.get("$filter"))
    now = utcnow()
    query = select(pim_schedules).where(
        pim_schedules.c.tenant_id == ctx.tenant_id,
        pim_schedules.c.kind == kind,
        pim_schedules.c.status == "Provisioned",
        or_(pim_schedules.c.end_at.is_(None), pim_schedules.c.end_at > now),
        _scope_condition(pim_schedules, scope, wanted.at_scope),
    )
    query = _common_filters(ctx, query, pim_schedules, wanted)
    return list(ctx.conn.execute(query.order_by(pim_schedules.c.created_at)))


def find_request(conn: Connection, tenant_id: str, request_id: str) -> Any:
    return conn.execute(
        select(pim_requests).where(pim_requests.c.tenant_id == tenant_id, pim_requests.c.key == request_id.lower())
    ).first()


def find_schedule(conn: Connection, tenant_id: str, kind: str, name: str) -> Any:
    return conn.execute(
        select(pim_schedules).where(
            pim_schedules.c.tenant_id == tenant_id, pim_schedules.c.kind == kind, pim_schedules.c.name == name.lower()
        )
    ).first()


def request_json(row: Any) -> dict[str, Any]:
    kind_type = REQUEST_TYPES[row.kind]
    properties = {k: v for k, v in row.body.items() if not k.startswith("_")}
    return {
        "id": row.id,
        "name": row.id.rsplit("/", 1)[-1],
        "type": f"Microsoft.Authorization/{kind_type}",
        "properties": properties,
    }


def window_of(row: Any) -> Window:
    return Window(aware(row.start_at), aware(row.end_at) if row.end_at is not None else None)


def schedule_json(row: Any, principal_type: str = "ServicePrincipal") -> dict[str, Any]:
    """A ``roleAssignmentSchedules`` / ``roleEligibilitySchedules`` item."""
    properties = _shared(row, principal_type)
    if row.kind == ASSIGNMENT:
        properties["roleAssignmentScheduleRequestId"] = row.request_id
        properties["linkedRoleEligibilityScheduleId"] = _eligibility_id(row)
        properties["assignmentType"] = "Activated" if row.linked_eligibility_id else "Assigned"
    else:
        properties["roleEligibilityScheduleRequestId"] = row.request_id
    properties["updatedOn"] = isoformat(aware(row.updated_at))
    return {
        "id": scoped_id(row.scope, SCHEDULE_TYPES[row.kind], row.name),
        "name": row.name,
        "type": f"Microsoft.Authorization/{SCHEDULE_TYPES[row.kind]}",
        "properties": properties,
    }


def instance_json(row: Any, principal_type: str = "ServicePrincipal") -> dict[str, Any]:
    """A ``...ScheduleInstances`` item: the occurrence of a schedule in force now."""
    properties = _shared(row, principal_type)
    schedule_id = scoped_id(row.scope, SCHEDULE_TYPES[row.kind], row.name)
    if row.kind == ASSIGNMENT:
        properties["roleAssignmentScheduleId"] = schedule_id
        properties["originRoleAssignmentId"] = row.role_assignment_id
        properties["linkedRoleEligibilityScheduleId"] = _eligibility_id(row)
        properties["linkedRoleEligibilityScheduleInstanceId"] = (
            _instance_of(row.linked_eligibility_id) if row.linked_eligibility_id else None
        )
        properties["assignmentType"] = "Activated" if row.linked_eligibility_id else "Assigned"
    else:
        properties["roleEligibilityScheduleId"] = schedule_id
    return {
        "id": scoped_id(row.scope, INSTANCE_TYPES[row.kind], row.name),
        "name": row.name,
        "type": f"Microsoft.Authorization/{INSTANCE_TYPES[row.kind]}",
        "properties": properties,
    }


def _shared(row: Any, principal_type: str) -> dict[str, Any]:
    role = builtin_roles().get(row.role_guid)
    return {
        "expandedProperties": {
            "roleDefinition": {
                "id": role_definition_id(row.scope, row.role_guid),
                "displayName": role.role_name if role else None,
                "type": "BuiltInRole" if role else "CustomRole",
            },
            "scope": {"id": row.scope},
            "principal": {"id": row.principal_id, "type": principal_type},
        },
        "scope": row.scope,
        "roleDefinitionId": role_definition_id(row.scope, row.role_guid),
        "principalId": row.principal_id,
        "principalType": principal_type,
        "memberType": "Direct",
        "status": row.status,
        "startDateTime": isoformat(aware(row.start_at)),
        "endDateTime": isoformat(aware(row.end_at)) if row.end_at is not None else None,
        "condition": None,
        "conditionVersion": None,
        "createdOn": isoformat(aware(row.created_at)),
    }


def _eligibility_id(row: Any) -> str | None:
    return row.linked_eligibility_id or None


def _instance_of(schedule_id: str) -> str:
    """The instance ID of a schedule (the same GUID under the instances type)."""
    head, _, name = schedule_id.rpartition("/")
    return head.rsplit("/", 1)[0] + f"/{INSTANCE_TYPES[ELIGIBILITY]}/{name}"
