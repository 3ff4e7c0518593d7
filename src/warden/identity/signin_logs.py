"""Reading sign-in and directory audit events: Graph ``/v1.0/auditLogs/signIns`` and
``/v1.0/auditLogs/directoryAudits`` (list with ``$filter``/``$top``, get by id).

Events are written by ``warden.identity.events`` (sign-in page, token endpoint, directory). Lists
are newest first, as Graph returns them, and scan at most ``MAX_SCAN`` of the tenant's newest
events (a filter that matches nothing among them returns an empty page rather than scanning the
whole history); the workspace export is the place for long-range queries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply

from .graph_errors import GraphNotFound
from .log_access import require_reader
from .log_query import Clause, matches, parse_filter
from .schema import directory_audit_events, signin_events

MAX_SCAN = 50_000
SIGNIN_FIELDS = {
    "createdDateTime": "datetime",
    "userId": "str",
    "userPrincipalName": "str",
    "userDisplayName": "str",
    "appId": "str",
    "appDisplayName": "str",
    "ipAddress": "str",
    "clientAppUsed": "str",
    "correlationId": "str",
    "conditionalAccessStatus": "str",
    "isInteractive": "bool",
    "riskLevelDuringSignIn": "str",
    "riskLevelAggregated": "str",
    "riskState": "str",
    "resourceId": "str",
    "status/errorCode": "int",
    "location/city": "str",
    "location/countryOrRegion": "str",
}
AUDIT_FIELDS = {
    "activityDateTime": "datetime",
    "category": "str",
    "activityDisplayName": "str",
    "operationType": "str",
    "result": "str",
    "correlationId": "str",
    "loggedByService": "str",
    "initiatedBy/user/id": "str",
    "initiatedBy/user/userPrincipalName": "str",
    "initiatedBy/app/appId": "str",
}
SIGNIN_DEFAULTS: dict[str, Any] = {
    "userDisplayName": None,
    "userPrincipalName": None,
    "userId": None,
    "appId": None,
    "appDisplayName": None,
    "ipAddress": None,
    "clientAppUsed": None,
    "conditionalAccessStatus": "notApplied",
    "isInteractive": True,
    "riskDetail": "none",
    "riskLevelAggregated": "none",
    "riskLevelDuringSignIn": "none",
    "riskState": "none",
    "riskEventTypes": [],
    "riskEventTypes_v2": [],
    "resourceDisplayName": None,
    "resourceId": None,
    "appliedConditionalAccessPolicies": [],
}
DEVICE_DEFAULTS = {
    "deviceId": "",
    "displayName": None,
    "operatingSystem": None,
    "browser": None,
    "isCompliant": None,
    "isManaged": None,
    "trustType": None,
}
AUDIT_DEFAULTS: dict[str, Any] = {
    "category": "Other",
    "operationType": None,
    "activityDisplayName": "",
    "result": "success",
    "resultReason": "",
    "loggedByService": "Core Directory",
    "initiatedBy": {"user": None, "app": None},
    "targetResources": [],
    "additionalDetails": [],
}


def signin_json(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record in Graph's full signIn shape (fields the writer left out get Graph's defaults)."""
    result = {**SIGNIN_DEFAULTS, **record}
    status = record.get("status") if isinstance(record.get("status"), dict) else {}
    result["status"] = {
        "errorCode": int(status.get("errorCode") or 0),
        "failureReason": status.get("failureReason") or ("Other." if status.get("errorCode") else None),
        "additionalDetails": status.get("additionalDetails"),
    }
    device = record.get("deviceDetail") if isinstance(record.get("deviceDetail"), dict) else {}
    result["deviceDetail"] = {**DEVICE_DEFAULTS, **device}
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    coordinates = location.get("geoCoordinates") if isinstance(location.get("geoCoordinates"), dict) else {}
    result["location"] = {
        "city": location.get("city"),
        "state": location.get("state"),
        "countryOrRegion": location.get("countryOrRegion"),
        "geoCoordinates": {
            "altitude": coordinates.get("altitude"),
            "latitude": coordinates.get("latitude"),
            "longitude": coordinates.get("longitude"),
        },
    }
    return result


def audit_json(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record in Graph's full directoryAudit shape."""
    return {**AUDIT_DEFAULTS, **record}


def _newest_first(records: list[dict[str, Any]], time_field: str) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: str(r.get(time_field) or ""), reverse=True)


def list_signins(conn: Connection, tenant_id: str, clauses: list[Clause]) -> list[dict[str, Any]]:
    """The tenant's sign-ins matching ``clauses``, newest first, in Graph's shape."""
    query = select(signin_events.c.record).where(signin_events.c.tenant_id == tenant_id)
    for clause in clauses:  # the indexed columns narrow the scan; matches() decides
        if clause.field == "status/errorCode" and clause.op in ("eq", "ne"):
            column = signin_events.c.status_code
            query = query.where(column == clause.value if clause.op == "eq" else column != clause.value)
    rows = conn.execute(query.order_by(signin_events.c.seq.desc()).limit(MAX_SCAN)).scalars()
    found = [signin_json(r) for r in rows if matches(signin_json(r), clauses, SIGNIN_FIELDS)]
    return _newest_first(found, "createdDateTime")


def list_audits(conn: Connection, tenant_id: str, clauses: list[Clause]) -> list[dict[str, Any]]:
    """The tenant's directory audit events matching ``clauses``, newest first, in Graph's shape."""
    rows = conn.execute(
        select(directory_audit_events.c.record)
        .where(directory_audit_events.c.tenant_id == tenant_id)
        .order_by(directory_audit_events.c.seq.desc())
        .limit(MAX_SCAN)
    ).scalars()
    found = [audit_json(r) for r in rows if matches(audit_json(r), clauses, AUDIT_FIELDS)]
    return _newest_first(found, "activityDateTime")


def _get(ctx: RequestContext, table: Any, event_id: str, shape: Any) -> Reply:
    assert ctx.conn is not None
    record = ctx.conn.execute(
        select(table.c.record).where(table.c.tenant_id == ctx.tenant_id, table.c.id == event_id)
    ).scalar()
    if record is None:  # another tenant's event is as absent as a missing one
        raise GraphNotFound(f"Resource '{event_id}' does not exist.")
    return Reply(200, shape(record))


def resolve(method: str, parts: list[str]) -> Endpoint | None:
    """The endpoint for ``auditLogs/...`` (``parts`` without the version), or None."""
    if method != "GET" or len(parts) not in (2, 3):
        return None
    kind = parts[1].lower()
    if kind == "signins":
        operation, table, shape = "microsoft.directory/signInReports/allProperties/read", signin_events, signin_json
        lister = list_signins
        fields = SIGNIN_FIELDS
    elif kind == "directoryaudits":
        operation, table, shape = "microsoft.directory/auditLogs/allProperties/read", directory_audit_events, audit_json
        lister = list_audits
        fields = AUDIT_FIELDS
    else:
        return None
    if len(parts) == 3:
        event_id = parts[2]
        return Endpoint(operation, "/", lambda ctx: _get(ctx, table, event_id, shape), authorize=require_reader)

    def run(ctx: RequestContext) -> Reply:
        assert ctx.conn is not None
        clauses = parse_filter(ctx.query.get("$filter"), fields)
        return Reply(200, lister(ctx.conn, ctx.tenant_id, clauses))

    return Endpoint(operation, "/", run, authorize=require_reader)
