"""PIM's entries in the directory audit log (Graph ``directoryAudit``, the AuditLogs table), with
the activity names Entra's PIM writes. They are written in the request's own transaction, so a
refused request (rolled back) leaves only its activity-log "Failed" event, not an audit record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from warden.authz.pim.common import principal_type
from warden.authz.pim.schema import ELIGIBILITY
from warden.authz.store import builtin_roles
from warden.identity.events import record_directory_audit

_ACTIVITIES = {
    (ELIGIBILITY, "AdminAssign", "Provisioned"): "Add eligible member to role in PIM completed",
    (ELIGIBILITY, "AdminUpdate", "Provisioned"): "Update eligible member in role in PIM completed",
    (ELIGIBILITY, "AdminExtend", "Provisioned"): "Extend eligible member in role in PIM completed",
    (ELIGIBILITY, "AdminRenew", "Provisioned"): "Renew eligible member in role in PIM completed",
    (ELIGIBILITY, "AdminRemove", "Revoked"): "Remove eligible member from role in PIM completed",
    ("assignment", "SelfActivate", "PendingApproval"): "Add member to role requested (PIM activation)",
    ("assignment", "SelfActivate", "Provisioned"): "Add member to role completed (PIM activation)",
    ("assignment", "SelfActivate", "Denied"): "Add member to role request denied (PIM activation)",
    ("assignment", "SelfActivate", "Canceled"): "Add member to role request canceled (PIM activation)",
    ("assignment", "SelfDeactivate", "Revoked"): "Remove member from role completed (PIM deactivate)",
    ("assignment", "AdminAssign", "Provisioned"): "Add member to role in PIM completed",
    ("assignment", "AdminRemove", "Revoked"): "Remove member from role in PIM completed",
}


def activity_for(kind: str, request_type: str, status: str) -> str | None:
    return _ACTIVITIES.get((kind, request_type, status))


def record(
    conn: Connection,
    tenant_id: str,
    activity: str,
    *,
    initiated_by: dict[str, Any],
    principal_id: str,
    role_guid: str,
    scope: str,
    details: dict[str, Any],
) -> None:
    """One ``RoleManagement`` audit record naming the principal, the role and the scope."""
    role = builtin_roles().get(role_guid)
    record_directory_audit(
        conn,
        tenant_id,
        {
            "category": "RoleManagement",
            "activityDisplayName": activity,
            "operationType": "Assign" if "Add" in activity else "Unassign" if "Remove" in activity else "Update",
            "loggedByService": "PIM",
            "result": "success",
            "initiatedBy": initiated_by,
            "targetResources": [
                {"id": principal_id, "type": principal_type(conn, tenant_id, principal_id)},
                {"id": role_guid, "type": "Role", "displayName": role.role_name if role else None},
                {"id": scope, "type": "Scope"},
            ],
            "additionalDetails": [{"key": k, "value": str(v)} for k, v in details.items() if v is not None],
        },
    )


def caller_initiator(app_id: str, object_id: str) -> dict[str, Any]:
    return {"app": {"appId": app_id, "servicePrincipalId": object_id, "displayName": None}}


SYSTEM = {"app": {"appId": None, "servicePrincipalId": None, "displayName": "MS-PIM"}}
