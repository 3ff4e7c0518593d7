"""Writing sign-in and directory audit events, in Microsoft Graph's shapes.

``record`` is Graph's ``signIn`` resource (``/v1.0/auditLogs/signIns``) or ``directoryAudit``
resource (``/v1.0/auditLogs/directoryAudits``); the SigninLogs and AuditLogs workspace tables are
derived from them at export. Writers fill what they know; ``id`` and the timestamp are set here
so every event has them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert

from warden.identity.schema import directory_audit_events, signin_events
from warden.kernel.clock import utcnow


def record_signin(conn: Connection, tenant_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """Store one sign-in attempt (success or failure) and return the stored record.

    ``record`` follows Graph's signIn resource: userId, userPrincipalName, appId, appDisplayName,
    ipAddress, clientAppUsed, isInteractive, status {errorCode, failureReason},
    authenticationRequirement, mfaDetail, location, riskLevelDuringSignIn, ...
    """
    now = utcnow()
    stored = {**record, "id": record.get("id") or str(uuid.uuid4())}
    stored.setdefault("createdDateTime", now.isoformat().replace("+00:00", "Z"))
    stored.setdefault("correlationId", str(uuid.uuid4()))
    status = stored.setdefault("status", {"errorCode": 0})
    conn.execute(
        insert(signin_events).values(
            id=stored["id"],
            tenant_id=tenant_id,
            user_id=stored.get("userId"),
            app_id=stored.get("appId"),
            ip_address=stored.get("ipAddress"),
            status_code=int(status.get("errorCode") or 0),
            record=stored,
            created_at=now,
        )
    )
    return stored


def record_directory_audit(conn: Connection, tenant_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """Store one directory change and return the stored record.

    ``record`` follows Graph's directoryAudit resource: category (UserManagement, GroupManagement,
    ApplicationManagement, RoleManagement, ...), activityDisplayName ("Add user"), result
    (success/failure), initiatedBy {user|app}, targetResources [...], loggedByService.
    """
    now = utcnow()
    stored = {**record, "id": record.get("id") or str(uuid.uuid4())}
    stored.setdefault("activityDateTime", now.isoformat().replace("+00:00", "Z"))
    stored.setdefault("correlationId", str(uuid.uuid4()))
    stored.setdefault("result", "success")
    stored.setdefault("loggedByService", "Core Directory")
    conn.execute(
        insert(directory_audit_events).values(
            id=stored["id"],
            tenant_id=tenant_id,
            category=str(stored.get("category") or "Other"),
            activity=str(stored.get("activityDisplayName") or ""),
            record=stored,
            created_at=now,
        )
    )
    return stored
