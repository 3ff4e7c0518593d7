"""The Log Analytics query API (``/v1``): workspace, resource-centric and batch queries.

- ``GET|POST /v1/workspaces/{customerId}/query`` with ``query``, ``timespan`` (ISO 8601 duration
  or interval, applied to every table's TimeGenerated on top of the query's own filters) and
  ``workspaces`` (more workspaces to union: customerIds, names or resource IDs). A query may also
  read ``workspace("name").Table`` for any workspace the caller may query.
- ``GET|POST /v1/{resourceId}/query``: rows whose ``_ResourceId`` is the resource or beneath it,
  from every workspace of the tenant, for anyone who may read the resource.
- ``POST /v1/$batch``: several of the above in one request, answered in one body.
- ``Prefer: wait=N`` (timeout, at most 600 s; default 180 s), ``include-statistics=true`` and
  ``include-render=true``; ``Preference-Applied`` says which were honoured.

Limits as Azure's: 5 concurrent queries per caller, others wait in line up to their timeout and are
refused with 429 after that; a result over the row cap is cut and returned with an ``error``
beside ``tables`` (a partial result). A workspace the caller cannot query and one that does not
exist (or belongs to another tenant) get the same 403, so the API tells nothing of existence.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from warden.kernel.context import RequestContext, authorization_failed
from warden.kernel.errors import BadRequest, WardenError
from warden.kernel.ids import parse_resource_id
from warden.kernel.reply import Reply
from warden.monitor.kql import ast, parse
from warden.monitor.kql.errors import KqlError, KqlSyntaxError
from warden.monitor.logstore import LogStoreError

if TYPE_CHECKING:
    from warden.monitor.service import LogService

QUERY_ACTION = "Microsoft.OperationalInsights/workspaces/query/read"
RESOURCE_QUERY_ACTION = "Microsoft.Insights/logs/read"
DEFAULT_WAIT = 180
MAX_WAIT = 600
CONCURRENT_PER_CALLER = 5
MAX_BATCH = 10
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class Throttled(WardenError):
    status = 429
    code = "ThrottledError"


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration (``PT1H``, ``P1D``, ``P1DT12H``, ``P2W``); raise ValueError otherwise."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"'{text}' is not an ISO 8601 duration")
    parts = {name: float(value) for name, value in match.groupdict().items() if value is not None}
    if not parts:
        raise ValueError(f"'{text}' is not an ISO 8601 duration")
    return dt.timedelta(**parts)


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def parse_timespan(text: str | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The query API's ``timespan``: a duration ending now, ``start/end``, ``start/duration`` or
    ``duration/end``. Raise BadRequest for anything else."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    try:
        if "/" not in text:
            return now - parse_duration(text), now
        first, second = (part.strip() for part in text.split("/", 1))
        if first.upper().startswith("P"):
            end = _instant(second)
            return end - parse_duration(first), end
        start = _instant(first)
        if second.upper().startswith("P"):
            return start, start + parse_duration(second)
        end = _instant(second)
    except ValueError as error:
        raise BadRequest(f"Invalid timespan '{text}': {error}.", code="BadArgumentError", target="timespan") from None
    if end < start:
        raise BadRequest(f"Invalid timespan '{text}': it ends before it starts.", code="BadArgumentError")
    return start, end


@dataclass(frozen=True)
class Preferences:
    wait: int = DEFAULT_WAIT
    statistics: bool = False
    render: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Preferences:
        wait, statistics, render = DEFAULT_WAIT, False, False
        for item in (header or "").split(","):
            name, _, value = item.strip().partition("=")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "wait" and value.isdigit():
                wait = max(1, min(int(value), MAX_WAIT))
            elif name == "include-statistics":
                statistics = value == "true"
            elif name == "include-render":
                render = value == "true"
        return cls(wait, statistics, render)

    def applied(self, header: str | None) -> str:
        parts = []
        if header and "wait=" in header.lower():
            parts.append(f"wait={self.wait}")
        if self.statistics:
            parts.append("include-statistics=true")
        if self.render:
            parts.append("include-render=true")
        return ",".join(parts)


class QueryApi:
    def __init__(self, service: LogService, *, max_rows: int = 500_000) -> None:
        self.service = service
        self.max_rows = max_rows
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()

    # ------------------------------------------------------------------------------ requests

    def workspace_query(self, ctx: RequestContext, workspace: str) -> Reply:
        target = self._workspace(ctx, workspace)  # authorization before anything about the request
        request = _request(ctx)
        return self._answer(ctx, request, [target], resource=None)

    def resource_query(self, ctx: RequestContext, resource_id: str) -> Reply:
        try:
            rid = parse_resource_id(resource_id)
        except ValueError:
            raise BadRequest(f"'{resource_id}' is not a resource ID.", code="BadArgumentError") from None
        ctx.authorize(RESOURCE_QUERY_ACTION, str(rid))
        request = _request(ctx)
        assert ctx.conn is not None
        workspaces = [row.body["properties"]["customerId"] for row in self.service.in_tenant(ctx.conn, ctx.tenant_id)]
        if not workspaces:
            return Reply(200, _empty_result())
        return self._answer(ctx, request, workspaces, resource=str(rid), authorized=True)

    def batch(self, ctx: RequestContext) -> Reply:
        body = ctx.body
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise BadRequest("The body must hold a non-empty 'requests' array.", code="BadArgumentError")
        if len(requests) > MAX_BATCH:
            raise BadRequest(f"A batch holds at most {MAX_BATCH} requests.", code="BadArgumentError")
        responses = []
        for item in requests:
            responses.append(self._batch_item(ctx, item))
        return Reply(200, {"responses": responses})

    def _batch_item(self, ctx: RequestContext, item: Any) -> dict[str, Any]:
        ident = str(item.get("id", "")) if isinstance(item, dict) else ""
        try:
            if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
                raise BadRequest("Each batch request needs an 'id' and a 'body'.", code="BadArgumentError")
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            request = _QueryRequest.from_body(item["body"], headers.get("prefer"))
            path = str(item.get("path", "/query"))
            resource = item.get("resource")
            if resource:
                rid = str(parse_resource_id(str(resource)))
                ctx.authorize(RESOURCE_QUERY_ACTION, rid)
                assert ctx.conn is not None
                ids = [r.body["properties"]["customerId"] for r in self.service.in_tenant(ctx.conn, ctx.tenant_id)]
                reply = (
                    self._answer(ctx, request, ids, resource=rid, authorized=True)
                    if ids
                    else Reply(200, _empty_result())
                )
            else:
                if path.rstrip("/").lower() != "/query":
                    raise BadRequest(f"Unsupported batch path '{path}'.", code="BadArgumentError")
                target = self._workspace(ctx, str(item.get("workspace", "")))
                reply = self._answer(ctx, request, [target], resource=None)
            return {"id": ident, "status": reply.status, "headers": reply.headers, "body": reply.body}
        except WardenError as error:
            return {"id": ident, "status": error.status, "body": _error_body(error)}
        except ValueError as error:
            return {"id": ident, "status": 400, "body": {"error": {"code": "BadArgumentError", "message": str(error)}}}

    # ------------------------------------------------------------------------------ workings

    def _workspace(self, ctx: RequestContext, identifier: str) -> str:
        """The customerId of a workspace the caller may query, named by customerId, name or ARM ID."""
        assert ctx.conn is not None
        found = None
        text = identifier.strip()
        if _is_guid(text):
            ref = self.service.find(ctx.conn, text)
            if ref is not None and ref.tenant_id == ctx.tenant_id:
                found = (ref.resource_id, ref.customer_id)
        else:
            matches = [
                row
                for row in self.service.in_tenant(ctx.conn, ctx.tenant_id)
                if row.id.lower() == text.lower().rstrip("/") or row.name.lower() == text.lower()
            ]
            if len(matches) == 1:
                found = (matches[0].id, matches[0].body["properties"]["customerId"])
        scope = found[0] if found else f"/workspaces/{text}"
        if found is None or not ctx.check(QUERY_ACTION, found[0]).allowed:
            raise authorization_failed(ctx.caller, QUERY_ACTION, scope)
        return found[1]

    def _answer(
        self,
        ctx: RequestContext,
        request: _QueryRequest,
        workspaces: list[str],
        *,
        resource: str | None,
        authorized: bool = False,
    ) -> Reply:
        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        timespan = parse_timespan(request.timespan, now)
        try:
            parsed = parse(request.query)
        except KqlSyntaxError as error:
            return _kql_error(error, "SyntaxError")
        if not authorized:
            workspaces = [*workspaces, *(self._workspace(ctx, w) for w in request.workspaces)]
        qualified = {name: self._workspace(ctx, name) for name in _referenced_workspaces(parsed)}
        slot = self._slot(ctx.caller.object_id)
        if not slot.acquire(timeout=request.prefer.wait):
            raise Throttled(
                f"More than {CONCURRENT_PER_CALLER} concurrent queries; retry later.", headers={"Retry-After": "5"}
            )
        try:
            result = self.service.store.query(
                workspaces,
                request.query,
                now=now,
                timespan=timespan,
                timeout=request.prefer.wait,
                qualified=qualified,
                resource=resource,
            )
        except KqlError as error:
            return _kql_error(error, "SemanticError")
        except LogStoreError as error:
            raise BadRequest(str(error), code="BadArgumentError") from None
        finally:
            slot.release()
        body = result.to_query_api()
        rows = body["tables"][0]["rows"]
        if len(rows) > self.max_rows:
            del rows[self.max_rows :]
            body["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [
                    {
                        "code": "EngineError",
                        "message": f"Query result set has exceeded the internal record count limit {self.max_rows}.",
                    }
                ],
            }
        if request.prefer.statistics:
            body["statistics"] = {
                "query": {
                    "executionTime": round(time.perf_counter() - started, 6),
                    "datasetStatistics": [{"tableRowCount": len(rows)}],
                }
            }
        if request.prefer.render and result.visualization is not None:
            body["render"] = result.visualization
        headers = {}
        applied = request.prefer.applied(request.prefer_header)
        if applied:
            headers["Preference-Applied"] = applied
        return Reply(200, body, headers)

    def _slot(self, caller: str) -> threading.BoundedSemaphore:
        with self._slots_lock:
            slot = self._slots.get(caller)
            if slot is None:
                slot = self._slots[caller] = threading.BoundedSemaphore(CONCURRENT_PER_CALLER)
            return slot


@dataclass(frozen=True)
class _QueryRequest:
    query: str
    timespan: str | None
    workspaces: tuple[str, ...]
    prefer: Preferences
    prefer_header: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any], prefer: str | None) -> _QueryRequest:
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadRequest("The 'query' parameter is required.", code="BadArgumentError", target="query")
        workspaces = body.get("workspaces") or []
        if isinstance(workspaces, str):
            workspaces = [w for w in workspaces.split(",") if w.strip()]
        if not isinstance(workspaces, list) or not all(isinstance(w, str) for w in workspaces):
            raise BadRequest("'workspaces' must be a list of strings.", code="BadArgumentError", target="workspaces")
        timespan = body.get("timespan")
        if timespan is not None and not isinstance(timespan, str):
            raise BadRequest("'timespan' must be a string.", code="BadArgumentError", target="timespan")
        return cls(query, timespan, tuple(workspaces), Preferences.parse(prefer), prefer)


def _request(ctx: RequestContext) -> _QueryRequest:
    prefer = ctx.headers.get("prefer")
    if ctx.method == "GET":
        return _QueryRequest.from_body(dict(ctx.query), prefer)
    body = ctx.body
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object with a 'query'.", code="BadArgumentError")
    return _QueryRequest.from_body(body, prefer)


def _referenced_workspaces(query: ast.Query) -> list[str]:
    names = []
    for statement in query.statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.QualifiedTableRef) and len(node.scopes) == 1:
                call = node.scopes[0]
                if call.name == "workspace" and len(call.args) == 1 and isinstance(call.args[0], ast.Literal):
                    names.append(str(call.args[0].value))
    return list(dict.fromkeys(names))


def _kql_error(error: KqlError, kind: str) -> Reply:
    inner: dict[str, Any] = {"code": kind, "message": error.message}
    if error.line is not None:
        inner["line"] = error.line
    if error.column is not None:
        inner["pos"] = error.column
    return Reply(
        400,
        {
            "error": {
                "code": "BadArgumentError",
                "message": "The request had some invalid properties",
                "correlationId": str(uuid.uuid4()),
                "innererror": inner,
            }
        },
    )


def _error_body(error: WardenError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message}}


def _empty_result() -> dict[str, Any]:
    return {"tables": [{"name": "PrimaryResult", "columns": [], "rows": []}]}


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
