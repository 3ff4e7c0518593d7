"""Graph's Identity Protection subset: ``/v1.0/identityProtection/riskDetections``,
``/v1.0/identityProtection/riskyUsers`` (+ ``dismiss`` and ``confirmCompromised``) and
``/v1.0/security/alerts_v2`` for the alerts high-risk detections raise.

Alerts are derived, not stored separately: every high-level detection is one alert in Graph's
``microsoft.graph.security.alert`` shape (serviceSource ``azureAdIdentityProtection``), open
(``new``) while the detection is at risk and ``resolved`` once an admin dismissed or confirmed it,
so alerts can never disagree with the detections behind them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.ids import is_guid
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply

from .events import record_directory_audit
from .graph_errors import GraphBadRequest, GraphNotFound
from .log_access import require_reader, require_writer
from .log_query import matches, parse_filter
from .risk_store import OPEN
from .schema import risk_detections, users

READ = "microsoft.directory/identityProtection/riskyUsers/read"
UPDATE = "microsoft.directory/identityProtection/riskyUsers/update"
ALERTS_READ = "microsoft.directory/identityProtection/riskDetections/read"
DETECTION_FIELDS = {
    "riskEventType": "str",
    "riskLevel": "str",
    "riskState": "str",
    "userId": "str",
    "userPrincipalName": "str",
    "ipAddress": "str",
    "detectionTimingType": "str",
    "activityDateTime": "datetime",
    "detectedDateTime": "datetime",
}
RISKY_USER_FIELDS = {"riskLevel": "str", "riskState": "str", "userPrincipalName": "str", "id": "str"}
RISK_DETAIL = {
    "dismissed": "adminDismissedAllRiskForUser",
    "confirmedCompromised": "adminConfirmedUserCompromised",
    "remediated": "userPerformedSecuredPasswordChange",
}
MAX_USER_IDS = 60  # Graph's limit per dismiss/confirmCompromised request


def _detections(conn: Connection, tenant_id: str, **where: Any) -> list[dict[str, Any]]:
    query = select(risk_detections.c.record).where(risk_detections.c.tenant_id == tenant_id)
    for column, value in where.items():
        query = query.where(risk_detections.c[column] == value)
    rows = conn.execute(query.order_by(risk_detections.c.detected_at.desc(), risk_detections.c.id)).scalars()
    return list(rows)


def risky_user_json(conn: Connection, row: Any) -> dict[str, Any]:
    """Graph's riskyUser for a users row."""
    updated = conn.execute(
        select(risk_detections.c.record).where(
            risk_detections.c.tenant_id == row.tenant_id, risk_detections.c.user_id == row.object_id
        )
    ).scalars()
    last = max((str(r.get("lastUpdatedDateTime") or "") for r in updated), default="") or None
    return {
        "id": row.object_id,
        "isDeleted": False,
        "isProcessing": False,
        "riskLastUpdatedDateTime": last,
        "riskLevel": row.risk_level,
        "riskState": row.risk_state,
        "riskDetail": RISK_DETAIL.get(row.risk_state, "none"),
        "userDisplayName": row.display_name,
        "userPrincipalName": row.user_principal_name,
    }


def list_risky_users(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    """Users with any risk history (state other than none), highest risk first."""
    rows = conn.execute(
        select(users).where(users.c.tenant_id == tenant_id, users.c.risk_state != "none").order_by(users.c.upn_key)
    ).all()
    rank = {"high": 0, "medium": 1, "low": 2}
    result = [risky_user_json(conn, row) for row in rows]
    return sorted(result, key=lambda u: rank.get(u["riskLevel"], 3))


def alert_json(tenant_id: str, detection: dict[str, Any]) -> dict[str, Any]:
    """Graph's security alert (alerts_v2) for a high-risk detection."""
    open_ = detection.get("riskState") == OPEN
    evidence: list[dict[str, Any]] = [
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "createdDateTime": detection.get("detectedDateTime"),
            "verdict": "suspicious",
            "remediationStatus": "none" if open_ else "prevented",
            "roles": ["compromised"],
            "userAccount": {
                "accountName": str(detection.get("userPrincipalName") or "").split("@")[0],
                "azureAdUserId": detection.get("userId"),
                "displayName": detection.get("userDisplayName"),
                "userPrincipalName": detection.get("userPrincipalName"),
            },
        }
    ]
    if detection.get("ipAddress"):
        evidence.append(
            {
                "@odata.type": "#microsoft.graph.security.ipEvidence",
                "createdDateTime": detection.get("detectedDateTime"),
                "verdict": "suspicious",
                "remediationStatus": "none",
                "roles": ["attacker"],
                "ipAddress": detection.get("ipAddress"),
                "countryLetterCode": (detection.get("location") or {}).get("countryOrRegion"),
            }
        )
    event_type = str(detection.get("riskEventType"))
    return {
        "id": f"ip{detection['id']}",
        "providerAlertId": detection["id"],
        "incidentId": None,
        "status": "new" if open_ else "resolved",
        "severity": "high",
        "classification": "truePositive" if detection.get("riskState") == "confirmedCompromised" else None,
        "determination": None,
        "serviceSource": "azureAdIdentityProtection",
        "detectionSource": "azureAdIdentityProtection",
        "detectorId": event_type,
        "tenantId": tenant_id,
        "title": f"High-risk {event_type} detected for {detection.get('userPrincipalName') or detection.get('userId')}",
        "description": f"Identity Protection raised a high-risk '{event_type}' detection.",
        "category": "InitialAccess",
        "createdDateTime": detection.get("detectedDateTime"),
        "lastUpdateDateTime": detection.get("lastUpdatedDateTime"),
        "firstActivityDateTime": detection.get("activityDateTime"),
        "lastActivityDateTime": detection.get("activityDateTime"),
        "evidence": evidence,
    }


def _user_ids(ctx: RequestContext) -> list[str]:
    body = ctx.body
    ids = body.get("userIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or len(ids) > MAX_USER_IDS:
        raise GraphBadRequest(f"'userIds' must be a list of 1 to {MAX_USER_IDS} user object IDs.")
    if not all(isinstance(i, str) and is_guid(i) for i in ids):
        raise GraphBadRequest("Every entry of 'userIds' must be a user object ID (a GUID).")
    assert ctx.conn is not None
    wanted = sorted({i.lower() for i in ids})
    known = set(
        ctx.conn.execute(
            select(users.c.object_id).where(users.c.tenant_id == ctx.tenant_id, users.c.object_id.in_(wanted))
        ).scalars()
    )
    missing = [i for i in wanted if i not in known]
    if missing:  # validated before anything changes
        raise GraphNotFound(f"User '{missing[0]}' does not exist.")
    return wanted


def _set_user_risk(ctx: RequestContext, state: str, level: str, activity: str) -> Reply:
    assert ctx.conn is not None
    now = isoformat(utcnow())
    for user_id in _user_ids(ctx):
        ctx.conn.execute(
            update(users)
            .where(users.c.tenant_id == ctx.tenant_id, users.c.object_id == user_id)
            .values(risk_level=level, risk_state=state)
        )
        for row in ctx.conn.execute(
            select(risk_detections.c.id, risk_detections.c.record).where(
                risk_detections.c.tenant_id == ctx.tenant_id,
                risk_detections.c.user_id == user_id,
                risk_detections.c.risk_state == OPEN,
            )
        ).all():
            record = {**row.record, "riskState": state, "riskDetail": RISK_DETAIL[state], "lastUpdatedDateTime": now}
            ctx.conn.execute(
                update(risk_detections).where(risk_detections.c.id == row.id).values(risk_state=state, record=record)
            )
        record_directory_audit(
            ctx.conn,
            ctx.tenant_id,
            {
                "category": "UserManagement",
                "activityDisplayName": activity,
                "operationType": "Update",
                "loggedByService": "Identity Protection",
                "initiatedBy": {
                    "user": None,
                    "app": {"appId": ctx.caller.app_id, "servicePrincipalId": ctx.caller.object_id},
                },
                "targetResources": [{"id": user_id, "type": "User"}],
            },
        )
    return Reply(204)


def _list(lister, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(ctx: RequestContext) -> Reply:
        assert ctx.conn is not None
        clauses = parse_filter(ctx.query.get("$filter"), fields)
        return Reply(200, [r for r in lister(ctx.conn, ctx.tenant_id) if matches(r, clauses, fields)])

    return run


def _one(lister, item_id: str):  # type: ignore[no-untyped-def]
    def run(ctx: RequestContext) -> Reply:
        assert ctx.conn is not None
        for item in lister(ctx.conn, ctx.tenant_id):
            if str(item["id"]).lower() == item_id.lower():
                return Reply(200, item)
        raise GraphNotFound(f"Resource '{item_id}' does not exist.")

    return run


def _alerts(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    return [alert_json(tenant_id, d) for d in _detections(conn, tenant_id, risk_level="high")]


ALERT_FIELDS = {"status": "str", "severity": "str", "detectorId": "str", "createdDateTime": "datetime"}


def resolve(method: str, parts: list[str]) -> Endpoint | None:
    """Endpoints under ``identityProtection/`` and ``security/alerts_v2``, or None."""
    head = [p.lower() for p in parts]
    if head[:2] == ["security", "alerts_v2"] and method == "GET":
        if len(parts) == 2:
            return Endpoint(ALERTS_READ, "/", _list(_alerts, ALERT_FIELDS), authorize=require_reader)
        if len(parts) == 3:
            return Endpoint(ALERTS_READ, "/", _one(_alerts, parts[2]), authorize=require_reader)
        return None
    if head[:1] != ["identityprotection"] or len(parts) < 2:
        return None
    if head[1] == "riskdetections" and method == "GET":
        if len(parts) == 2:
            return Endpoint(ALERTS_READ, "/", _list(_detections, DETECTION_FIELDS), authorize=require_reader)
        if len(parts) == 3:
            return Endpoint(ALERTS_READ, "/", _one(_detections, parts[2]), authorize=require_reader)
        return None
    if head[1] != "riskyusers":
        return None
    if len(parts) == 2 and method == "GET":
        return Endpoint(READ, "/", _list(list_risky_users, RISKY_USER_FIELDS), authorize=require_reader)
    if len(parts) == 3 and method == "POST" and head[2] in ("dismiss", "confirmcompromised"):
        dismiss = head[2] == "dismiss"
        state, level = ("dismissed", "none") if dismiss else ("confirmedCompromised", "high")
        activity = "DismissUser" if dismiss else "ConfirmAccountCompromised"
        return Endpoint(
            UPDATE,
            "/",
            lambda ctx: _set_user_risk(ctx, state, level, activity),
            write=True,
            authorize=require_writer,
        )
    if len(parts) == 3 and method == "GET":
        return Endpoint(READ, "/", _one(list_risky_users, parts[2]), authorize=require_reader)
    return None
