"""Application usage: sign-ins per application and user over a period.

``/v1.0/reports/getAzureADApplicationSignInSummary(period='D7')`` answers Graph (beta)'s
``applicationSignInSummary`` shape — id (the appId), appDisplayName, successfulSignInCount,
failedSignInCount, successPercentage — plus two Warden additions: ``distinctUserCount`` and
``users`` (per user: userId, userPrincipalName, successfulSignInCount, failedSignInCount).
Graph knows ``D1``, ``D7`` and ``D30``; Warden accepts any ``D1``..``D90``. Counted from the
control-plane sign-in events by their stored time.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select

from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply

from .graph_errors import GraphBadRequest
from .log_access import require_reader
from .schema import signin_events

OPERATION = "microsoft.directory/signInReports/allProperties/read"
FUNCTION = re.compile(r"getAzureADApplicationSignInSummary\(period='([^']*)'\)", re.IGNORECASE)
MAX_DAYS = 90


def parse_period(text: str) -> int:
    """Days in a period ``D{n}``; raises GraphBadRequest outside D1..D90."""
    match = re.fullmatch(r"[dD](\d{1,2})", text)
    if match is None or not 1 <= int(match.group(1)) <= MAX_DAYS:
        raise GraphBadRequest(f"Invalid period '{text}': expected D1 to D{MAX_DAYS} (e.g. D7).")
    return int(match.group(1))


def application_summary(conn: Connection, tenant_id: str, days: int) -> list[dict[str, Any]]:
    """Per application: sign-in successes, failures, success percentage and users; busiest first."""
    since = utcnow() - timedelta(days=days)
    rows = conn.execute(
        select(signin_events.c.app_id, signin_events.c.user_id, signin_events.c.status_code, signin_events.c.record)
        .where(signin_events.c.tenant_id == tenant_id, signin_events.c.created_at >= since)
        .order_by(signin_events.c.seq)
    ).all()
    apps: dict[str, dict[str, Any]] = {}
    per_user: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        app_id = row.app_id or ""
        app = apps.setdefault(
            app_id,
            {"id": app_id, "appDisplayName": None, "successfulSignInCount": 0, "failedSignInCount": 0},
        )
        app["appDisplayName"] = row.record.get("appDisplayName") or app["appDisplayName"]
        outcome = "successfulSignInCount" if row.status_code == 0 else "failedSignInCount"
        app[outcome] += 1
        user_key = row.user_id or str(row.record.get("userPrincipalName") or "").lower()
        user = per_user[app_id].setdefault(
            user_key,
            {
                "userId": row.user_id,
                "userPrincipalName": row.record.get("userPrincipalName"),
                "successfulSignInCount": 0,
                "failedSignInCount": 0,
            },
        )
        user[outcome] += 1
    result = []
    for app_id, app in apps.items():
        total = app["successfulSignInCount"] + app["failedSignInCount"]
        users = sorted(per_user[app_id].values(), key=lambda u: str(u["userPrincipalName"] or u["userId"] or ""))
        result.append(
            {
                **app,
                "successPercentage": round(100.0 * app["successfulSignInCount"] / total, 2) if total else 0.0,
                "distinctUserCount": len(users),
                "users": users,
            }
        )
    return sorted(result, key=lambda a: (-(a["successfulSignInCount"] + a["failedSignInCount"]), a["id"]))


def resolve(method: str, parts: list[str]) -> Endpoint | None:
    """The ``reports/getAzureADApplicationSignInSummary(period='Dn')`` endpoint, or None."""
    if method != "GET" or len(parts) != 2:
        return None
    match = FUNCTION.fullmatch(parts[1])
    if match is None:
        return None
    period = match.group(1)

    def run(ctx: RequestContext) -> Reply:
        assert ctx.conn is not None
        return Reply(200, application_summary(ctx.conn, ctx.tenant_id, parse_period(period)))

    return Endpoint(OPERATION, "/", run, authorize=require_reader)
