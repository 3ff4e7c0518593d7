"""Log Analytics data-plane routes: the query API (``/v1``), the Logs Ingestion API and the legacy
HTTP Data Collector API. The first two authenticate with bearer tokens like every other route and
authorize inside their handlers (a data action or a query permission on the target); the Data
Collector API authenticates with the workspace's shared-key signature instead, as Azure's does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from warden.kernel.context import RequestContext
from warden.kernel.errors import Unauthorized
from warden.kernel.pipeline import Endpoint
from warden.monitor.ingestion.data_collector_api import handle_data_collector
from warden.platform import Platform

Handle = Callable[..., Awaitable[Response]]


QUERY_AUDIENCES = ("https://api.loganalytics.io",)
INGESTION_AUDIENCES = ("https://monitor.azure.com",)


def _endpoint(operation: str, run: Callable[[RequestContext], Any], audiences: tuple[str, ...]) -> Endpoint:
    def authorize(ctx: RequestContext) -> None:
        # As Azure's, each data-plane API takes tokens issued for it (or for this server's own URL,
        # the SDKs' default audience when given a custom endpoint), not a token for another API.
        # The handlers then authorize against the workspace or rule they resolve.
        audience = str(ctx.caller.claims.get("aud", "")).rstrip("/").lower()
        allowed = {a.lower() for a in audiences} | {ctx.platform.settings.endpoint.rstrip("/").lower()}
        if audience not in allowed:
            raise Unauthorized(
                f"The token's audience '{audience}' is not valid for this API; request a token for "
                f"{' or '.join(sorted(allowed))}.",
                code="InvalidAuthenticationTokenAudience",
            )

    return Endpoint(operation=operation, scope="/", run=run, authorize=authorize)


def install(app: FastAPI, platform: Platform, handle: Handle) -> None:
    monitor = platform.monitor

    async def workspace_query(request: Request, workspace: str) -> Response:
        def resolve(ctx: RequestContext) -> Endpoint:
            return _endpoint(
                "Microsoft.OperationalInsights/workspaces/query/read",
                lambda ctx: monitor.queries.workspace_query(ctx, workspace),
                QUERY_AUDIENCES,
            )

        return await handle(platform, request, resolve, arm_api=False)

    async def batch(request: Request) -> Response:
        def resolve(ctx: RequestContext) -> Endpoint:
            return _endpoint(
                "Microsoft.OperationalInsights/workspaces/query/read", monitor.queries.batch, QUERY_AUDIENCES
            )

        return await handle(platform, request, resolve, arm_api=False)

    async def resource_query(request: Request, resource: str) -> Response:
        def resolve(ctx: RequestContext) -> Endpoint:
            return _endpoint(
                "Microsoft.Insights/logs/read",
                lambda ctx: monitor.queries.resource_query(ctx, "/" + resource),
                QUERY_AUDIENCES,
            )

        return await handle(platform, request, resolve, arm_api=False)

    async def ingest(request: Request, rule: str, stream: str) -> Response:
        def resolve(ctx: RequestContext) -> Endpoint:
            return _endpoint(
                "Microsoft.Insights/Telemetry/Write",
                lambda ctx: monitor.ingestion.handle(ctx, rule, stream),
                INGESTION_AUDIENCES,
            )

        return await handle(platform, request, resolve, arm_api=False)

    async def data_collector(request: Request) -> Response:
        return await handle_data_collector(platform, request)

    app.add_api_route("/v1/workspaces/{workspace}/query", workspace_query, methods=["GET", "POST"])
    app.add_api_route("/v1/$batch", batch, methods=["POST"])
    app.add_api_route("/v1/{resource:path}/query", resource_query, methods=["GET", "POST"])
    app.add_api_route("/dataCollectionRules/{rule}/streams/{stream}", ingest, methods=["POST"])
    app.add_api_route("/api/logs", data_collector, methods=["POST"])
