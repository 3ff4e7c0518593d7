"""Client authentication at the token endpoint, and the client-credentials grant.

A client proves itself with a secret (body or HTTP Basic, RFC 6749 §2.3.1) or a certificate
assertion (RFC 7523); public clients (SPA, native, the CLI) redeem user grants without either.
Every client-credentials attempt is logged as a service-principal sign-in, success or failure.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from sqlalchemy import Connection

from warden.identity.oauth import errors as e
from warden.identity.oauth.assertions import ASSERTION_TYPE, authenticate_assertion
from warden.identity.oauth.clients import OAuthClient, find_client
from warden.identity.oauth.signin_log import write_service_principal_signin
from warden.identity.principals import Principal, authenticate_client, get_principal

if TYPE_CHECKING:
    from warden.platform import Platform


class Credentials:
    """The client id and secret or assertion a token request carries (body or HTTP Basic)."""

    def __init__(self, fields: dict[str, str], authorization: str | None) -> None:
        self.client_id = fields.get("client_id", "")
        self.secret = fields.get("client_secret", "")
        self.assertion = ""
        if fields.get("client_assertion_type") == ASSERTION_TYPE:
            self.assertion = fields.get("client_assertion", "")
        elif fields.get("client_assertion_type"):
            raise e.OAuthError("invalid_request", e.INVALID_REQUEST, "The client_assertion_type is not supported.")
        if authorization and authorization.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise e.OAuthError(
                    "invalid_client", e.INVALID_CLIENT_SECRET, "Malformed HTTP Basic credentials.", 401
                ) from None
            self.client_id, self.secret = unquote_plus(user), unquote_plus(password)


def token_endpoints(platform: Platform, tenant_id: str) -> tuple[str, ...]:
    """The URLs a client assertion may name as its audience for this tenant."""
    base = f"{platform.tokens.endpoint}/{tenant_id}"
    return (f"{base}/oauth2/v2.0/token", f"{base}/oauth2/token", f"{base}/v2.0")


def client_credentials_grant(
    platform: Platform, conn: Connection, tenant_id: str, fields: dict[str, str], cred: Credentials, ip: str
) -> dict:
    """The app-token response for a client proven by secret or assertion; raises ``OAuthError``."""
    if not cred.client_id or not (cred.secret or cred.assertion):
        raise e.OAuthError(
            "invalid_request",
            e.MISSING_PARAMETER,
            "The request body must contain 'client_id' and 'client_secret' or 'client_assertion'.",
        )
    scope = fields.get("scope") or (fields["resource"].rstrip("/") + "/.default" if fields.get("resource") else "")
    audience = platform.tokens.audience_for_scope(scope)
    if audience is None:
        raise e.OAuthError(
            "invalid_scope",
            e.INVALID_SCOPE,
            f"The provided value for the input parameter 'scope' is not valid: '{scope[:256]}'.",
        )
    kind = "clientAssertion" if cred.assertion else "clientSecret"
    try:
        if cred.assertion:
            principal = authenticate_assertion(
                conn, tenant_id, cred.client_id, cred.assertion, token_endpoints(platform, tenant_id)
            )
        else:
            principal = authenticate_client(conn, tenant_id, cred.client_id, cred.secret)
            if principal is None:
                # One answer for unknown clients and wrong secrets: don't reveal which client IDs exist.
                raise e.OAuthError(
                    "invalid_client",
                    e.INVALID_CLIENT_SECRET,
                    f"Invalid client secret provided for application '{cred.client_id[:64]}'.",
                    401,
                )
    except e.OAuthError as error:
        known = get_principal(conn, app_id=cred.client_id.lower()) if len(cred.client_id) == 36 else None
        if known is not None and known.tenant_id == tenant_id:
            write_service_principal_signin(
                conn, tenant_id, known.app_id, known.display_name, known.object_id, ip, error.code, kind
            )
        raise
    write_service_principal_signin(
        conn, tenant_id, principal.app_id, principal.display_name, principal.object_id, ip, 0, kind
    )
    return platform.tokens.issue(principal, audience)


def authenticate_user_client(
    conn: Connection, platform: Platform, tenant_id: str, cred: Credentials, public_ok: bool
) -> OAuthClient:
    """The client of a user grant; confidential clients must prove themselves, public ones need not."""
    client = find_client(conn, cred.client_id) if cred.client_id else None
    if client is None or not client.serves(tenant_id):
        raise e.OAuthError(
            "unauthorized_client",
            e.APPLICATION_NOT_FOUND,
            f"Application with identifier '{cred.client_id[:64]}' was not found in the directory.",
        )
    home = client.home_tenant or tenant_id
    proven: Principal | None = None
    if cred.assertion:
        proven = authenticate_assertion(
            conn,
            home,
            client.client_id,
            cred.assertion,
            token_endpoints(platform, tenant_id) + token_endpoints(platform, home),
        )
    elif cred.secret:
        proven = authenticate_client(conn, home, client.client_id, cred.secret)
        if proven is None:
            raise e.OAuthError(
                "invalid_client",
                e.INVALID_CLIENT_SECRET,
                f"Invalid client secret provided for application '{client.client_id}'.",
                401,
            )
    elif not public_ok:
        raise e.OAuthError(
            "invalid_client",
            e.CLIENT_SECRET_REQUIRED,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            401,
        )
    return client
