"""PIM alerts at a scope: ``roleManagementAlerts`` (+ ``/refresh``), ``roleManagementAlertDefinitions``
and ``roleManagementAlertConfigurations``, with Azure's alert definition IDs.

Alerts are computed when read, from the role assignments at the scope (an assignment there
or below counts, as Azure's resource alerts count the resource's members):

* ``TooManyOwnersAssignedToResource``: more Owners than the threshold (default 3);
* ``TooManyPermanentOwnersAssignedToResource``: more Owners assigned outside PIM (permanent)
  than the threshold (default 2);
* ``AzureRolesAssignedOutsidePim``: any role assigned directly instead of through PIM;
* ``StaleEligibleAssignments`` (Warden's name; Azure's resource alerts have no equivalent and
  Entra's directory-role alert is "Administrators aren't using their privileged roles"):
  eligibilities in force for more than N days (default 30) not activated in those days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from warden.authz.pim.common import scope_key, scoped_id
from warden.authz.pim.grants import pim_assignment_keys
from warden.authz.pim.schema import ASSIGNMENT, ELIGIBILITY, pim_schedules
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.providers import Action
from warden.kernel.reply import Reply
from warden.kernel.schema import below, role_assignments

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
DEFINITIONS: dict[str, dict[str, Any]] = {
    "TooManyOwnersAssignedToResource": {
        "displayName": "Too many owners assigned to a resource",
        "severityLevel": "Medium",
        "description": "Too many users or principals hold the Owner role on this resource.",
        "securityImpact": "Owners can change everything, including access; each one widens the attack surface.",
        "mitigationSteps": "Review the Owners, remove those who do not need it, or make them eligible instead.",
        "howToPrevent": "Assign Owner through PIM as an eligible role.",
        "threshold": {"thresholdNumberOfOwners": 3, "thresholdPercentageOfOwnersOutOfAllRoleMembers": 0},
    },
    "TooManyPermanentOwnersAssignedToResource": {
        "displayName": "Too many permanent owners assigned to a resource",
        "severityLevel": "Medium",
        "description": "Too many principals hold Owner permanently, outside PIM.",
        "securityImpact": "Permanent Owners keep full control at all times, whether they need it or not.",
        "mitigationSteps": "Convert permanent Owners to eligible assignments.",
        "howToPrevent": "Require activation for Owner.",
        "threshold": {"thresholdNumberOfPermanentOwners": 2, "thresholdPercentageOfPermanentOwnersOutOfAllOwners": 0},
    },
    "AzureRolesAssignedOutsidePim": {
        "displayName": "Roles are being assigned outside of Privileged Identity Management",
        "severityLevel": "High",
        "description": "Role assignments were made directly rather than through PIM.",
        "securityImpact": "Assignments outside PIM are not time-bound, approved or justified.",
        "mitigationSteps": "Review the assignments and replace them with PIM eligibilities.",
        "howToPrevent": "Make role assignments through PIM only.",
        "threshold": {},
    },
    "StaleEligibleAssignments": {
        "displayName": "Eligible principals are not activating their roles",
        "severityLevel": "Low",
        "description": "Eligible assignments that have not been activated for a long time.",
        "securityImpact": "Unused eligibility is standing privilege an attacker can still activate.",
        "mitigationSteps": "Remove eligibilities that are not used.",
        "howToPrevent": "Review eligibilities regularly.",
        "threshold": {"thresholdDaysSinceLastActivation": 30},
    },
}


def _definition_json(scope: str, name: str) -> dict[str, Any]:
    spec = DEFINITIONS[name]
    properties = {k: v for k, v in spec.items() if k != "threshold"}
    return {
        "id": scoped_id(scope, "roleManagementAlertDefinitions", name),
        "name": name,
        "type": "Microsoft.Authorization/roleManagementAlertDefinitions",
        "properties": {**properties, "scope": scope or "/", "isRemediatable": True, "isConfigurable": False},
    }


def _configuration_json(scope: str, name: str) -> dict[str, Any]:
    return {
        "id": scoped_id(scope, "roleManagementAlertConfigurations", name),
        "name": name,
        "type": "Microsoft.Authorization/roleManagementAlertConfigurations",
        "properties": {
            "alertDefinitionId": scoped_id(scope, "roleManagementAlertDefinitions", name),
            "scope": scope or "/",
            "isEnabled": True,
            "alertConfigurationType": f"{name}AlertConfiguration",
            **DEFINITIONS[name]["threshold"],
        },
    }


def _assignments_within(ctx: RequestContext, scope: str) -> list[Any]:
    assert ctx.conn is not None
    key = scope_key(scope)
    where = (
        role_assignments.c.scope_key == key
        if key == "/"
        else or_(role_assignments.c.scope_key == key, below(role_assignments.c.scope_key, key))
    )
    return list(ctx.conn.execute(select(role_assignments).where(role_assignments.c.tenant_id == ctx.tenant_id, where)))


def incidents(ctx: RequestContext, scope: str, name: str) -> list[dict[str, Any]]:
    """The incidents of one alert at ``scope``, as ``alertIncidents`` items."""
    assert ctx.conn is not None
    assignments = _assignments_within(ctx, scope)
    managed = pim_assignment_keys(ctx.conn, ctx.tenant_id)
    owners = [a for a in assignments if a.role_guid == OWNER]
    found: list[dict[str, Any]] = []
    if name == "TooManyOwnersAssignedToResource":
        if len(owners) > DEFINITIONS[name]["threshold"]["thresholdNumberOfOwners"]:
            found = [{"assigneeName": a.principal_id, "assigneeType": a.principal_type} for a in owners]
    elif name == "TooManyPermanentOwnersAssignedToResource":
        permanent = [a for a in owners if a.key not in managed]
        if len(permanent) > DEFINITIONS[name]["threshold"]["thresholdNumberOfPermanentOwners"]:
            found = [{"assigneeName": a.principal_id, "assigneeType": a.principal_type} for a in permanent]
    elif name == "AzureRolesAssignedOutsidePim":
        found = [
            {
                "assigneeId": a.principal_id,
                "assigneeDisplayName": a.principal_id,
                "roleDefinitionId": a.role_definition_id,
                "roleTemplateId": a.role_guid,
                "assignmentActivatedDate": isoformat(aware(a.created_at)),
                "requestorId": a.created_by,
            }
            for a in assignments
            if a.key not in managed
        ]
    else:
        found = _stale_eligibilities(ctx, scope)
    return [
        {
            "id": scoped_id(scope, f"roleManagementAlerts/{name}/alertIncidents", f"{name}-{index}"),
            "name": f"{name}-{index}",
            "type": "Microsoft.Authorization/roleManagementAlerts/alertIncidents",
            "properties": {"alertIncidentType": f"{name}AlertIncident", **item},
        }
        for index, item in enumerate(found)
    ]


def _stale_eligibilities(ctx: RequestContext, scope: str) -> list[dict[str, Any]]:
    """Live eligibilities in force for longer than the threshold with no activation in that time."""
    assert ctx.conn is not None
    now = utcnow()
    days = DEFINITIONS["StaleEligibleAssignments"]["threshold"]["thresholdDaysSinceLastActivation"]
    horizon = now - timedelta(days=days)
    key = scope_key(scope)
    rows = ctx.conn.execute(
        select(pim_schedules).where(
            pim_schedules.c.tenant_id == ctx.tenant_id,
            or_(pim_schedules.c.scope_key == key, below(pim_schedules.c.scope_key, key)),
        )
    ).all()
    # Activations of any status count as use (an expired one was still used), matched by the
    # eligibility they activated, so a group member's activation counts for the group's eligibility.
    used = {
        a.linked_eligibility_id.rsplit("/", 1)[-1].lower()
        for a in rows
        if a.kind == ASSIGNMENT and a.linked_eligibility_id and aware(a.created_at) >= horizon
    }
    return [
        {"assigneeId": r.principal_id, "roleTemplateId": r.role_guid, "eligibleSince": isoformat(aware(r.start_at))}
        for r in rows
        if r.kind == ELIGIBILITY
        and r.status == "Provisioned"
        and aware(r.start_at) <= horizon
        and (r.end_at is None or aware(r.end_at) > now)
        and r.name not in used
    ]


def alert_json(ctx: RequestContext, scope: str, name: str) -> dict[str, Any]:
    found = incidents(ctx, scope, name)
    now = isoformat(utcnow())
    return {
        "id": scoped_id(scope, "roleManagementAlerts", name),
        "name": name,
        "type": "Microsoft.Authorization/roleManagementAlerts",
        "properties": {
            "scope": scope or "/",
            "isActive": bool(found),
            "incidentCount": len(found),
            "lastModifiedDateTime": now,
            "lastScannedDateTime": now,
            "alertDefinition": _definition_json(scope, name),
            "alertIncidents": found,
            "alertConfiguration": _configuration_json(scope, name),
        },
    }


def _known(name: str) -> str:
    for known in DEFINITIONS:
        if known.lower() == name.lower():
            return known
    raise NotFound(f"The alert '{name}' was not found.", code="RoleManagementAlertNotFound")


class _ReadOnly:
    render: Callable[[RequestContext, str, str], dict[str, Any]]

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, type(self).render(ctx, rid.scope, _known(rid.names[0])))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest(
            "PIM alerts and their definitions are built in; thresholds use the defaults.", code="OperationNotAllowed"
        )

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return self.put(ctx, rid, None)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        return [type(self).render(ctx, scope, name) for name in DEFINITIONS]


class AlertHandler(_ReadOnly):
    @staticmethod
    def render(ctx: RequestContext, scope: str, name: str) -> dict[str, Any]:
        return alert_json(ctx, scope, name)


class DefinitionHandler(_ReadOnly):
    @staticmethod
    def render(ctx: RequestContext, scope: str, name: str) -> dict[str, Any]:
        return _definition_json(scope, name)


class ConfigurationHandler(_ReadOnly):
    @staticmethod
    def render(ctx: RequestContext, scope: str, name: str) -> dict[str, Any]:
        return _configuration_json(scope, name)


class IncidentHandler(_ReadOnly):
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        name = _known(rid.names[0])
        for item in incidents(ctx, rid.scope, name):
            if item["name"].lower() == rid.name.lower():
                return Reply(200, item)
        raise NotFound(f"The alert incident '{rid.name}' was not found.", code="RoleManagementAlertIncidentNotFound")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert parent is not None
        return incidents(ctx, scope, _known(parent.names[0]))


def refresh(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Alerts are computed on every read, so a refresh has nothing to wait for: answer the fresh alert."""
    return Reply(200, alert_json(ctx, rid.scope, _known(rid.names[0])))


def register(add: Callable[..., Any]) -> None:
    add(("roleManagementAlerts",), AlertHandler(), "role management alert").add_action(
        Action("refresh", refresh, changes_state=False, description="Refresh a PIM alert")
    )
    add(("roleManagementAlerts", "alertIncidents"), IncidentHandler(), "role management alert incident")
    add(("roleManagementAlertDefinitions",), DefinitionHandler(), "role management alert definition")
    add(("roleManagementAlertConfigurations",), ConfigurationHandler(), "role management alert configuration")
