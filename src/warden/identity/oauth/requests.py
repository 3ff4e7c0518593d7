"""Validating an authorization request (``/oauth2/v2.0/authorize`` parameters).

Problems with the client or the redirect URI are shown on an error page and never redirected
(an attacker's redirect URI must not receive anything); every later problem is sent back to the
registered redirect URI as ``error``/``error_description``, as RFC 6749 §4.1.2.1 says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from warden.identity.oauth import errors as e
from warden.identity.oauth.clients import PUBLIC, SPA, OAuthClient, find_client
from warden.kernel.ids import is_guid
from warden.kernel.schema import tenants

if TYPE_CHECKING:
    from warden.identity.tokens import TokenService

PROMPTS = ("", "login", "none", "consent", "select_account")
RESPONSE_MODES = ("query", "form_post")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
MAX_STATE = 2048


class PageError(Exception):
    """Shown to the user on an error page; nothing is sent to the client."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class RedirectError(Exception):
    """Sent back to the client's (validated) redirect URI."""

    def __init__(self, request: AuthorizeRequest, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.request, self.error, self.code, self.description = request, error, code, description


@dataclass(frozen=True)
class AuthorizeRequest:
    tenant_id: str
    client: OAuthClient
    redirect_uri: str
    redirect_kind: str
    response_mode: str
    scope: str
    audience: str
    state: str | None
    nonce: str | None
    prompt: str
    code_challenge: str | None
    code_challenge_method: str | None
    login_hint: str

    def params(self) -> dict[str, str]:
        """The request as authorize parameters, to carry through the sign-in form."""
        values = {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "response_mode": self.response_mode,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "prompt": self.prompt,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
            "login_hint": self.login_hint,
        }
        return {k: v for k, v in values.items() if v}


def tenant_exists(conn: Connection, tenant: str) -> bool:
    return (
        is_guid(tenant) and conn.execute(select(tenants.c.id).where(tenants.c.id == tenant.lower())).first() is not None
    )


def parse_authorize(conn: Connection, tokens: TokenService, tenant: str, params: dict[str, str]) -> AuthorizeRequest:
    """Validate the parameters; raise ``PageError`` or ``RedirectError`` as the module doc says."""
    if not tenant_exists(conn, tenant):
        raise PageError(e.TENANT_NOT_FOUND, f"Tenant '{tenant[:64]}' not found.")
    tenant_id = tenant.lower()
    client_id = params.get("client_id", "")
    client = find_client(conn, client_id) if client_id else None
    if client is None or not client.serves(tenant_id):
        raise PageError(
            e.APPLICATION_NOT_FOUND, f"Application with identifier '{client_id[:64]}' was not found in the directory."
        )
    redirect_uri = params.get("redirect_uri", "")
    kind = client.redirect_kind(redirect_uri) if redirect_uri else None
    if kind is None:
        raise PageError(
            e.REDIRECT_MISMATCH,
            f"The redirect URI specified in the request does not match the redirect URIs configured for the "
            f"application '{client.client_id}'.",
        )
    prompt = params.get("prompt", "")
    mode = params.get("response_mode") or "query"
    scope = " ".join(params.get("scope", "").split())
    audience = tokens.user_audience(scope) if scope else None
    request = AuthorizeRequest(
        tenant_id=tenant_id,
        client=client,
        redirect_uri=redirect_uri,
        redirect_kind=kind,
        response_mode=mode if mode in RESPONSE_MODES else "query",
        scope=scope,
        audience=audience[0] if audience else "",
        state=params.get("state") or None,
        nonce=params.get("nonce") or None,
        prompt=prompt if prompt in PROMPTS else "",
        code_challenge=params.get("code_challenge") or None,
        code_challenge_method=(params.get("code_challenge_method") or None),
        login_hint=params.get("login_hint", "")[:256],
    )
    if (request.state and len(request.state) > MAX_STATE) or (request.nonce and len(request.nonce) > 256):
        raise RedirectError(request, "invalid_request", e.INVALID_REQUEST, "The state or nonce parameter is too long.")
    if params.get("response_type") != "code":
        raise RedirectError(
            request, "unsupported_response_type", 700054, "The response_type must be 'code' for this endpoint."
        )
    if mode not in RESPONSE_MODES:
        raise RedirectError(request, "invalid_request", 900144, f"The response_mode '{mode[:32]}' is not supported.")
    if prompt not in PROMPTS:
        raise RedirectError(request, "invalid_request", 90023, f"The prompt value '{prompt[:32]}' is not supported.")
    if not scope or audience is None:
        raise RedirectError(
            request,
            "invalid_scope",
            e.INVALID_SCOPE,
            "The provided value for the input parameter 'scope' is not valid.",
        )
    _check_pkce(request)
    return request


def _check_pkce(request: AuthorizeRequest) -> None:
    if request.code_challenge is None:
        if request.redirect_kind in (SPA, PUBLIC):
            raise RedirectError(
                request,
                "invalid_request",
                e.PKCE_REQUIRED,
                "Proof Key for Code Exchange is required for public clients.",
            )
        return
    # Plain PKCE protects nothing against an intercepted request, so only S256 is accepted.
    if request.code_challenge_method != "S256":
        raise RedirectError(request, "invalid_request", e.PKCE_REQUIRED, "The code_challenge_method must be 'S256'.")
    if not _CHALLENGE.fullmatch(request.code_challenge):
        raise RedirectError(request, "invalid_request", e.PKCE_REQUIRED, "The code_challenge is malformed.")
