"""The token endpoint's grants: client credentials (secret or certificate assertion),
authorization code (+PKCE), refresh token (rotation, reuse detection) and device code.

Each grant runs in one write transaction; an ``OAuthError`` raised inside is caught *inside* it,
so what the refusal itself must persist (a burnt code, a revoked family) is committed.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from warden.identity.oauth import device, refresh
from warden.identity.oauth import errors as e
from warden.identity.oauth.client_auth import Credentials, authenticate_user_client, client_credentials_grant
from warden.identity.oauth.clients import SPA, OAuthClient, find_client
from warden.identity.oauth.codes import redeem_code
from warden.identity.oauth.consent import missing_consent
from warden.identity.oauth.requests import tenant_exists
from warden.identity.oauth.signin_log import NATIVE, Attempt, write_signin
from warden.identity.tokens import OIDC_SCOPES, UserGrant
from warden.identity.users import get_user
from warden.kernel.clock import utcnow

if TYPE_CHECKING:
    from warden.platform import Platform

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_CODE)


def token_endpoint(
    platform: Platform, tenant: str, fields: dict[str, str], authorization: str | None, ip: str, agent: str
) -> JSONResponse:
    """Answer one POST to ``/{tenant}/oauth2/v2.0/token``."""
    grant = fields.get("grant_type", "")
    if grant not in GRANT_TYPES:
        return e.oauth_error(
            400, "unsupported_grant_type", e.UNSUPPORTED_GRANT, f"The grant type '{grant[:64]}' is not supported here."
        )
    try:
        credentials = Credentials(fields, authorization)
    except e.OAuthError as error:
        return error.response()
    with platform.db.write() as conn:
        if not tenant_exists(conn, tenant):
            return e.oauth_error(400, "invalid_request", e.TENANT_NOT_FOUND, f"Tenant '{tenant[:64]}' not found.")
        tenant_id = tenant.lower()
        try:
            if grant == "client_credentials":
                body = client_credentials_grant(platform, conn, tenant_id, fields, credentials, ip)
            else:
                body = _user_grant(platform, conn, tenant_id, grant, fields, credentials, ip, agent)
        except e.OAuthError as error:
            outcome: JSONResponse = error.response()
        else:
            outcome = JSONResponse(body, headers=e.NO_STORE)
    return outcome


def _user_grant(
    platform: Platform,
    conn: Connection,
    tenant_id: str,
    grant: str,
    fields: dict[str, str],
    cred: Credentials,
    ip: str,
    agent: str,
) -> dict:
    if grant == "authorization_code":
        client = find_client(conn, cred.client_id) if cred.client_id else None
        redirect_uri = fields.get("redirect_uri", "")
        kind = client.redirect_kind(redirect_uri) if client else None
        client = authenticate_user_client(conn, platform, tenant_id, cred, public_ok=kind in (SPA, "publicClient"))
        if not fields.get("code"):
            raise e.OAuthError("invalid_request", e.MISSING_PARAMETER, "The request body must contain 'code'.")
        code = redeem_code(conn, tenant_id, fields["code"], client.client_id, redirect_uri, fields.get("code_verifier"))
        spa = kind == SPA
        return _user_tokens(
            platform,
            conn,
            client,
            tenant_id,
            code.user_id,
            code.scope,
            code.amr,
            code.auth_time,
            code.session_id,
            family=code.family_id,
            nonce=code.nonce,
            fields=fields,
            spa=spa,
        )[0]
    if grant == "refresh_token":
        client = find_client(conn, cred.client_id) if cred.client_id else None
        public_ok = client is not None and (client.is_public or bool(client.spa_redirect_uris))
        client = authenticate_user_client(conn, platform, tenant_id, cred, public_ok=public_ok)
        if not fields.get("refresh_token"):
            raise e.OAuthError("invalid_request", e.MISSING_PARAMETER, "The request body must contain 'refresh_token'.")
        old = refresh.rotate(conn, tenant_id, fields["refresh_token"], client.client_id)
        scope = " ".join(fields.get("scope", "").split()) or old.scope
        # A refresh may name another resource (Entra's refresh tokens are multi-resource), but not a
        # permission the user never consented to for this client.
        if missing_consent(conn, tenant_id, client, old.user_id, scope):
            raise e.OAuthError(
                "invalid_grant", e.CONSENT_REQUIRED, "The user has not consented to the requested scope."
            )
        if "offline_access" not in scope.split():
            scope += " offline_access"  # the successor keeps the family alive
        body, audience = _user_tokens(
            platform,
            conn,
            client,
            tenant_id,
            old.user_id,
            scope,
            old.amr,
            old.auth_time,
            old.session_id,
            family=old.family_id,
            nonce=None,
            fields=fields,
            expires_at=old.expires_at if old.fixed_lifetime else None,
        )
        attempt = Attempt(tenant_id, client, ip, agent, NATIVE, audience)
        write_signin(conn, attempt, 0, user=get_user(conn, tenant_id, old.user_id), interactive=False)
        return body
    # Device code: only public clients use it (the CLI, or an app allowing public client flows).
    client = authenticate_user_client(conn, platform, tenant_id, cred, public_ok=True)
    if not fields.get("device_code"):
        raise e.OAuthError("invalid_request", e.MISSING_PARAMETER, "The request body must contain 'device_code'.")
    approved = device.poll(conn, tenant_id, fields["device_code"], client.client_id)
    return _user_tokens(
        platform,
        conn,
        client,
        tenant_id,
        approved.user_id,
        approved.scope,
        approved.amr,
        utcnow(),
        None,
        family=str(uuid.uuid4()),
        nonce=None,
        fields=fields,
    )[0]


def _user_tokens(
    platform: Platform,
    conn: Connection,
    client: OAuthClient,
    tenant_id: str,
    user_id: str,
    scope: str,
    amr: tuple[str, ...] | list[str],
    auth_time: datetime,
    session_id: str | None,
    *,
    family: str,
    nonce: str | None,
    fields: dict[str, str],
    spa: bool = False,
    expires_at: datetime | None = None,
) -> tuple[dict, str]:
    """The token response for a user (access token, and refresh/ID tokens when the scope asks)
    and the audience of its access token."""
    user = get_user(conn, tenant_id, user_id)
    if user is None or not user.account_enabled:
        raise e.OAuthError("invalid_grant", e.ACCOUNT_DISABLED, "The user account is disabled or no longer exists.")
    resolved = platform.tokens.user_audience(scope)
    if resolved is None:
        raise e.OAuthError(
            "invalid_scope", e.INVALID_SCOPE, "The provided value for the input parameter 'scope' is not valid."
        )
    audience, scp = resolved
    grant = UserGrant(
        tenant_id,
        user.object_id,
        user.user_principal_name,
        user.display_name,
        user.mail,
        client.client_id,
        tuple(amr),
        int(auth_time.timestamp()),
    )
    access, lifetime = platform.tokens.issue_user(grant, audience, scp)
    requested = scope.split()
    body: dict = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in requested if s not in OIDC_SCOPES) or scp,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }
    if "offline_access" in requested:
        body["refresh_token"] = refresh.issue_refresh_token(
            conn,
            family_id=family,
            tenant_id=tenant_id,
            client_id=client.client_id,
            user_id=user.object_id,
            scope=scope,
            session_id=session_id,
            auth_time=auth_time,
            amr=amr,
            expires_at=expires_at,
            spa=spa,
        )
    if "openid" in requested:
        body["id_token"] = platform.tokens.issue_id_token(grant, nonce)
    if fields.get("client_info") == "1":
        info = json.dumps({"uid": user.object_id, "utid": tenant_id}).encode()
        body["client_info"] = base64.urlsafe_b64encode(info).rstrip(b"=").decode()
    return body, audience
