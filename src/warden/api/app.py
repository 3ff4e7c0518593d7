"""The FastAPI application: identity endpoints, the Graph subset and the ARM catch-all.

Every route except the token, discovery and JWKS endpoints authenticates with a bearer token
and runs through ``warden.kernel.pipeline``.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from warden.api import arm, errors, monitor_routes
from warden.backup import data_endpoint as backup_data_endpoint
from warden.identity import graph
from warden.identity import log_routes as identity_log_routes
from warden.identity.membership import transitive_group_ids
from warden.identity.mfa import graph_routes as mfa_graph_routes
from warden.identity.routes import build_router
from warden.identity.self_service_routes import build_sspr_router
from warden.kernel.caller import Caller
from warden.kernel.context import RequestContext
from warden.kernel.errors import InvalidRequestContent, Unauthorized, WardenError
from warden.kernel.ids import is_guid, validate_api_version
from warden.kernel.pipeline import Endpoint, execute
from warden.kernel.reply import Reply
from warden.platform import Platform

ARM_METHODS = ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"]
MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(platform: Platform) -> FastAPI:
    # No OpenAPI/docs routes: they would be unauthenticated.
    app = FastAPI(title="Warden", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.platform = platform
    errors.install(app)
    app.include_router(build_router(platform))
    app.include_router(build_sspr_router(platform))  # self-service password reset (unauthenticated)

    async def graph_route(request: Request, path: str) -> Response:
        # Sign-in/audit logs, risk and reports first; every other Graph path goes to the directory.
        return await _handle(
            platform,
            request,
            lambda _ctx: (
                identity_log_routes.resolve(request.method, path)
                or mfa_graph_routes.resolve(request.method, path)  # methods, unlock, directory settings
                or graph.resolve(request.method, path)
            ),
            arm_api=False,
        )

    async def arm_route(request: Request, path: str) -> Response:
        return await _handle(
            platform, request, lambda ctx: arm.resolve(platform, request.method, "/" + path), arm_api=True
        )

    app.add_api_route("/v1.0/{path:path}", graph_route, methods=["GET", "POST", "PATCH", "DELETE"])
    monitor_routes.install(app, platform, _handle)
    backup_data_endpoint.install(app, platform, _authenticate)  # vault data over HTTPS, before the catch-all
    app.add_api_route("/{path:path}", arm_route, methods=ARM_METHODS)
    return app


async def _read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes the limit (never buffered whole)."""
    too_large = WardenError(
        f"The request content is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.",
        code="RequestEntityTooLarge",
        status=413,
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _handle(platform: Platform, request: Request, resolve, *, arm_api: bool) -> Response:  # type: ignore[no-untyped-def]
    body = await _read_body(request)
    return await run_in_threadpool(_handle_sync, platform, request, body, resolve, arm_api)


def _handle_sync(platform: Platform, request: Request, raw_body: bytes, resolve, arm_api: bool) -> Response:  # type: ignore[no-untyped-def]
    correlation = request.headers.get("x-ms-correlation-request-id", "")
    correlation = correlation.lower() if is_guid(correlation) else str(uuid.uuid4())
    trace = {"x-ms-correlation-request-id": correlation, "x-ms-request-id": str(uuid.uuid4())}
    if client_request := request.headers.get("x-ms-client-request-id"):
        trace["x-ms-client-request-id"] = client_request[:128]
    try:
        caller = _authenticate(platform, request)
        query = _query(request)
        api_version = validate_api_version(query.get("api-version")) if arm_api else None
        ctx = RequestContext(
            platform=platform,
            caller=caller,
            method=request.method,
            path=request.url.path,
            query=query,
            headers={k.lower(): v for k, v in request.headers.items()},
            base_url=str(request.base_url),
            client_ip=request.client.host if request.client else "",
            correlation_id=correlation,
            api_version=api_version,
            raw_body=raw_body,
        )
        endpoint: Endpoint = resolve(ctx)
        reply = execute(platform, ctx, endpoint)
    except WardenError as error:
        return errors.error_response(error, trace)
    return _render(ctx, reply, trace, head=request.method == "HEAD", odata=not arm_api)


def _authenticate(platform: Platform, request: Request) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": f'Bearer authorization_uri="{platform.tokens.endpoint}", error="invalid_token"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Authentication failed. The 'Authorization' header is missing.",
            code="AuthenticationFailed",
            headers=challenge,
        )
    try:
        caller = platform.tokens.validate(token.strip())
    except Unauthorized as error:
        error.headers = {**error.headers, **challenge}
        raise
    return _with_groups(platform, caller)


def _with_groups(platform: Platform, caller: Caller) -> Caller:
    """The caller with its transitive directory groups, so roles assigned to a group apply to its members."""
    with platform.db.read() as conn:
        group_ids = transitive_group_ids(conn, caller.tenant_id, caller.object_id)
    return dataclasses.replace(caller, group_ids=group_ids) if group_ids else caller


def _query(request: Request) -> dict[str, str]:
    """Query parameters by name; ``api-version`` and ``$``-options match case-insensitively."""
    result: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        normalized = name.lower() if name.lower() == "api-version" or name.startswith("$") else name
        result[normalized] = value
    return result


def _render(ctx: RequestContext, reply: Reply, trace: dict[str, str], *, head: bool, odata: bool) -> Response:
    headers = {**trace, **reply.headers}
    if head or reply.body is None or reply.status == 204:
        return Response(status_code=reply.status, headers=headers)
    body = reply.body
    if isinstance(body, list):
        body = _page(ctx, body, odata=odata)
    return JSONResponse(body, status_code=reply.status, headers=headers)


def _page(ctx: RequestContext, items: list[Any], *, odata: bool) -> dict[str, Any]:
    """ARM list shape ``{"value", "nextLink"}``; ``$top`` sets the page size, ``$skiptoken``
    the offset carried by ``nextLink``."""
    settings = ctx.platform.settings
    try:
        size = int(ctx.query.get("$top", settings.page_size))
        offset = int(ctx.query.get("$skiptoken", "0"))
    except ValueError:
        raise InvalidRequestContent(
            "$top and $skiptoken must be integers.", code="InvalidQueryParameterValue"
        ) from None
    if size < 1 or offset < 0:
        raise InvalidRequestContent(
            "$top must be positive and $skiptoken not negative.", code="InvalidQueryParameterValue"
        )
    size = min(size, 1000)
    page: dict[str, Any] = {"value": items[offset : offset + size]}
    if offset + size < len(items):
        params = {**ctx.query, "$skiptoken": str(offset + size)}
        link = ctx.link(ctx.path + "?" + urlencode(params))
        page["@odata.nextLink" if odata else "nextLink"] = link
    return page
