"""The per-request context every handler receives."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from warden.authz.engine import AuthorizationEngine, Decision
from warden.authz.store import load_engine
from warden.kernel.caller import Caller
from warden.kernel.errors import Forbidden, InvalidRequestContent

if TYPE_CHECKING:
    from warden.platform import Platform


_UNPARSED = object()


def parse_json_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequestContent(
            f"The request content was invalid and could not be deserialized: {error}."
        ) from None


@dataclass
class RequestContext:
    platform: Platform
    caller: Caller
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    base_url: str  # scheme://host:port the client used, for links it will follow
    client_ip: str
    correlation_id: str
    api_version: str | None = None
    raw_body: bytes = b""
    conn: Connection | None = None
    _engine: AuthorizationEngine | None = field(default=None, repr=False)
    _body: Any = field(default=_UNPARSED, repr=False)

    @property
    def body(self) -> Any:
        """The JSON body, parsed when a handler first asks for it (``None`` when empty), so a
        malformed body fails inside the pipeline, after authorization, and is logged there."""
        if self._body is _UNPARSED:
            self._body = parse_json_body(self.raw_body)
        return self._body

    def replace_body(self, body: Any) -> None:
        """Replace the request's JSON body (policy append/modify change it before the handler runs)."""
        self._body = body
        self.raw_body = json.dumps(body).encode()

    @property
    def tenant_id(self) -> str:
        return self.caller.tenant_id

    def engine(self) -> AuthorizationEngine:
        if self._engine is None:
            assert self.conn is not None
            self._engine = load_engine(self.conn, self.tenant_id, self.caller.principal_ids)
        return self._engine

    def check(self, action: str, scope: str, *, data_action: bool = False) -> Decision:
        return self.engine().check(self.caller.principal_ids, action, scope or "/", data_action=data_action)

    def can(self, action: str, scope: str) -> bool:
        return self.check(action, scope).allowed

    def authorize(self, action: str, scope: str) -> None:
        """Raise ARM's ``AuthorizationFailed`` unless the caller may do ``action`` at ``scope``."""
        decision = self.check(action, scope)
        if not decision.allowed:
            raise authorization_failed(self.caller, action, scope or "/", decision)

    def has_access_within(self, scope: str) -> bool:
        """Whether the caller holds any role at, above or below ``scope`` (list operations
        filter per item for such callers instead of refusing outright)."""
        return self.engine().has_any_role_within(self.caller.principal_ids, scope or "/")

    def link(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    def invalidate_authorization(self) -> None:
        self._engine = None


def authorization_failed(caller: Caller, action: str, scope: str, decision: Decision | None = None) -> Forbidden:
    reason = ""
    if decision is not None and decision.deny_assignment_id:
        reason = f" The access is denied because of the deny assignment with id '{decision.deny_assignment_id}'."
    return Forbidden(
        f"The client '{caller.app_id}' with object id '{caller.object_id}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        f"granted, please refresh your credentials.{reason}",
        code="AuthorizationFailed",
    )
