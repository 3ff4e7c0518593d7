"""Warden's exception root and ARM's error shape.

Every failure a client can see is a ``WardenError`` carrying an HTTP status and Azure's error
code; ``warden.api.errors`` renders it as ``{"error": {"code", "message", "target", "details"}}``
in exactly one place.
"""

from __future__ import annotations

from typing import Any


class WardenError(Exception):
    """Root of every error Warden reports to a client."""

    status: int = 500
    code: str = "InternalServerError"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.target = target
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(WardenError):
    status = 400
    code = "BadRequest"


class InvalidRequestContent(BadRequest):
    code = "InvalidRequestContent"


class Unauthorized(WardenError):
    status = 401
    code = "AuthenticationFailed"


class Forbidden(WardenError):
    status = 403
    code = "AuthorizationFailed"


class NotFound(WardenError):
    status = 404
    code = "ResourceNotFound"


class Conflict(WardenError):
    status = 409
    code = "Conflict"


class PreconditionFailed(WardenError):
    status = 412
    code = "PreconditionFailed"


class ScopeLocked(Conflict):
    code = "ScopeLocked"


class MethodNotAllowed(WardenError):
    status = 405
    code = "MethodNotAllowed"
