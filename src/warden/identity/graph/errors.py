"""Graph's error shape: ``{"error": {"code", "message", "innerError": {"date", "request-id", ...}}}``."""

from __future__ import annotations

import uuid
from typing import Any

from warden.kernel.clock import utcnow
from warden.kernel.errors import WardenError


class GraphError(WardenError):
    """An error rendered as Microsoft Graph renders it (with ``innerError``)."""

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": utcnow().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
        if self.target:
            error["target"] = self.target
        return {"error": error}


def bad_request(message: str, target: str | None = None) -> GraphError:
    return GraphError(message, code="Request_BadRequest", status=400, target=target)


def unsupported_query(message: str) -> GraphError:
    return GraphError(message, code="Request_UnsupportedQuery", status=400)


def not_found(object_id: str) -> GraphError:
    return GraphError(
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
        code="Request_ResourceNotFound",
        status=404,
    )


def forbidden() -> GraphError:
    return GraphError(
        "Insufficient privileges to complete the operation.", code="Authorization_RequestDenied", status=403
    )
