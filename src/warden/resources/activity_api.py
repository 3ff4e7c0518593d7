"""``GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values``.

``$filter`` takes ``eventTimestamp ge/le/gt/lt '...'`` plus ``resourceGroupName``,
``resourceUri``, ``resourceId``, ``correlationId``, ``caller``, ``status``, ``operationName``
and ``resourceProvider`` equality; ``$select`` keeps only the named top-level fields. Newest
events first, paged with ``$skiptoken``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import key
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.schema import activity_events

READ = "Microsoft.Insights/eventtypes/values/read"
MAX_PAGE = 200
_COLUMN_FILTERS = {
    "resourcegroupname": activity_events.c.resource_group_key,
    "resourceuri": activity_events.c.resource_key,
    "resourceid": activity_events.c.resource_key,
    "correlationid": activity_events.c.correlation_id,
    "caller": activity_events.c.caller,
}
_BODY_FILTERS = {
    "status": ("status", "value"),
    "operationname": ("operationName", "value"),
    "resourceprovider": ("resourceProviderName", "value"),
}


def endpoint(subscription_id: str | None) -> Endpoint:
    """A subscription's activity log, or with ``None`` the tenant-level one (operations at the
    tenant root, such as role assignments at ``/`` and service principals)."""
    scope = f"/subscriptions/{subscription_id}" if subscription_id else "/"
    return Endpoint(READ, scope, lambda ctx: _query(ctx, subscription_id), subscription_id=subscription_id)


def _timestamp(value: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter(f"'{value}' is not a valid eventTimestamp.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _query(ctx: RequestContext, subscription_id: str | None) -> Reply:
    assert ctx.conn is not None
    query = select(activity_events).where(
        activity_events.c.tenant_id == ctx.tenant_id,
        activity_events.c.subscription_id == subscription_id.lower()
        if subscription_id
        else activity_events.c.subscription_id.is_(None),
    )
    body_tests: list[tuple[tuple[str, str], str]] = []
    for clause in parse_filter(ctx.query.get("$filter")):
        field = clause.name.lower()
        if field == "eventtimestamp" and clause.op in ("ge", "gt", "le", "lt"):
            column, moment = activity_events.c.event_timestamp, _timestamp(clause.value)
            query = query.where(
                {"ge": column >= moment, "gt": column > moment, "le": column <= moment, "lt": column < moment}[
                    clause.op
                ]
            )
        elif field in _COLUMN_FILTERS and clause.op == "eq":
            value = clause.value or ""
            value = key(value) if field in ("resourceuri", "resourceid") else value
            value = value.lower() if field == "resourcegroupname" else value
            query = query.where(_COLUMN_FILTERS[field] == value)
        elif field in _BODY_FILTERS and clause.op == "eq":
            body_tests.append((_BODY_FILTERS[field], (clause.value or "").lower()))
        else:
            raise InvalidFilter(f"The $filter field '{clause.name} {clause.op}' is not supported for the activity log.")
    try:
        skip = int(ctx.query.get("$skiptoken", "0") or 0)
        top = min(int(ctx.query.get("$top", MAX_PAGE)), MAX_PAGE)
    except ValueError:
        raise BadRequest("$skiptoken and $top must be integers.", code="InvalidQueryParameterValue") from None
    if skip < 0 or top < 1:
        raise BadRequest("$skiptoken must be >= 0 and $top >= 1.", code="InvalidQueryParameterValue")
    if skip:
        query = query.where(activity_events.c.seq < skip)
    selected = [s.strip() for s in ctx.query.get("$select", "").split(",") if s.strip()]
    events: list[dict[str, Any]] = []
    last_seq = None
    # Body-level filters are applied after the SQL ones; read in batches until a page is full.
    for row in ctx.conn.execute(query.order_by(activity_events.c.seq.desc())):
        event = json.loads(row.body)
        if all(_dig(event, path).lower() == wanted for path, wanted in body_tests):
            events.append(_select(event, selected))
            last_seq = row.seq
            if len(events) == top:
                break
    result: dict[str, Any] = {"value": events}
    if len(events) == top and last_seq is not None:
        params = {k: v for k, v in ctx.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = str(last_seq)
        result["nextLink"] = ctx.link(ctx.path + "?" + urlencode(params))
    return Reply(200, result)


def _dig(event: dict[str, Any], path: tuple[str, str]) -> str:
    value = event.get(path[0]) or {}
    return str(value.get(path[1], "")) if isinstance(value, dict) else ""


def _select(event: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return event
    lowered = {name.lower(): name for name in event}
    return {lowered[f.lower()]: event[lowered[f.lower()]] for f in fields if f.lower() in lowered}
