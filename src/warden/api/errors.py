"""The one place errors become HTTP responses, in ARM's ``{"error": {...}}`` shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from warden.kernel.errors import WardenError

log = logging.getLogger(__name__)


def error_response(error: WardenError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers={**(headers or {}), **error.headers})


def install(app: FastAPI) -> None:
    @app.exception_handler(WardenError)
    async def _warden(request: Request, error: WardenError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": "InvalidRequestContent", "message": "The request is invalid."}}, status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(error.status_code, "BadRequest")
        return JSONResponse({"error": {"code": code, "message": str(error.detail)}}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": {"code": "InternalServerError", "message": "The server encountered an internal error."}},
            status_code=500,
        )
