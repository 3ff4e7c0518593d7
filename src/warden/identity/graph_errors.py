"""Graph's error shape ``{"error": {"code", "message", "innerError": {date, request-id}}}`` for the
identity log, risk and report endpoints (ARM's shape has no ``innerError``)."""

from __future__ import annotations

import uuid
from typing import Any

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.errors import BadRequest, Forbidden, NotFound


class _GraphShape:
    def body(self) -> dict[str, Any]:
        error = super().body()  # type: ignore[misc]
        error["error"]["innerError"] = {"date": isoformat(utcnow()), "request-id": str(uuid.uuid4())}
        return error


class GraphBadRequest(_GraphShape, BadRequest):
    code = "BadRequest"


class GraphForbidden(_GraphShape, Forbidden):
    code = "Authorization_RequestDenied"


class GraphNotFound(_GraphShape, NotFound):
    code = "Request_ResourceNotFound"
