"""``/oidc/userinfo`` (OpenID Connect Core §5.3) and ``/oauth2/v2.0/logout`` (RP-initiated logout).

Userinfo accepts only user tokens (``idtyp: user``) for Microsoft Graph, as Entra's does. Logout
ends the SSO session and its refresh tokens, and redirects only to a registered URI of the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError

from warden.identity.oauth import pages, sessions
from warden.identity.oauth.clients import find_client
from warden.identity.oauth.web import WebRequest, finish
from warden.identity.tokens import GRAPH
from warden.identity.users import get_user
from warden.kernel.errors import Unauthorized

if TYPE_CHECKING:
    from warden.platform import Platform


def _unauthorized(description: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "InvalidAuthenticationToken", "message": description}},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


def userinfo(platform: Platform, authorization: str) -> JSONResponse:
    """The signed-in user's claims for a Graph user token; 401 in Graph's error shape otherwise."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("Authentication failed. The 'Authorization' header is missing.")
    try:
        caller = platform.tokens.validate(token.strip())
    except Unauthorized as error:
        return _unauthorized(str(error.message))
    if caller.principal_type != "User" or str(caller.claims.get("aud", "")).rstrip("/").lower() != GRAPH:
        return _unauthorized("The userinfo endpoint needs a user token for Microsoft Graph.")
    with platform.db.read() as conn:
        user = get_user(conn, caller.tenant_id, caller.object_id)
    if user is None or not user.account_enabled:
        return _unauthorized("The user no longer exists or is disabled.")
    body = {
        "sub": user.object_id,
        "oid": user.object_id,
        "tid": user.tenant_id,
        "name": user.display_name,
        "preferred_username": user.user_principal_name,
    }
    for claim, key in (("given_name", "givenName"), ("family_name", "surname")):
        if user.properties.get(key):
            body[claim] = user.properties[key]
    if user.mail:
        body["email"] = user.mail
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _client_from_hint(platform: Platform, tenant_id: str, web: WebRequest) -> str:
    client_id = web.get("client_id")
    hint = web.get("id_token_hint")
    if not client_id and hint:
        try:
            claims = jwt.decode(hint, platform.keys.keyset(), algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return ""
        if claims.get("tid") == tenant_id and isinstance(claims.get("aud"), str):
            client_id = claims["aud"]
    return client_id


def logout(platform: Platform, tenant: str, web: WebRequest) -> Response:
    """End the browser's SSO session of the tenant; redirect only to a registered URI."""
    tenant_id = tenant.lower()
    with platform.db.write() as conn:
        session = sessions.find_session(conn, tenant_id, web.cookies.get(sessions.COOKIE))
        if session is not None:
            sessions.end_session(conn, session)
        client_id = _client_from_hint(platform, tenant_id, web)
        client = find_client(conn, client_id) if client_id else None
    web.set_cookies.append(sessions.clear_cookie_header(tenant_id))
    target = web.get("post_logout_redirect_uri")
    if target and client is not None and client.serves(tenant_id) and client.redirect_kind(target) is not None:
        state = web.get("state")
        separator = "&" if "?" in target else "?"
        location = target + (f"{separator}state={state}" if state else "")
        return finish(web, RedirectResponse(location, status_code=302))
    return finish(
        web, pages.message_page("You signed out of your account", "It's a good idea to close all browser windows.")
    )
