"""Entra-shaped identity endpoints: token, OpenID discovery and JWKS.

These are the only unauthenticated routes: they are how a client obtains a token.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from warden.identity.principals import authenticate_client
from warden.kernel.ids import is_guid
from warden.kernel.schema import tenants

if TYPE_CHECKING:
    from warden.platform import Platform

# Published by Microsoft for Entra ID; clients branch on these numbers.
INVALID_CLIENT_SECRET = 7000215
APPLICATION_NOT_FOUND = 700016
TENANT_NOT_FOUND = 90002
INVALID_SCOPE = 70011
UNSUPPORTED_GRANT = 70003
MISSING_PARAMETER = 900144


def oauth_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    trace = str(uuid.uuid4())
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace}",
            "error_codes": [code],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        },
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def build_router(platform: Platform) -> APIRouter:
    router = APIRouter()

    def tenant_exists(tenant: str) -> bool:
        if not is_guid(tenant):
            return False
        with platform.db.read() as conn:
            return conn.execute(select(tenants.c.id).where(tenants.c.id == tenant.lower())).first() is not None

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def openid_configuration(tenant: str) -> JSONResponse:
        if not await run_in_threadpool(tenant_exists, tenant):
            return oauth_error(400, "invalid_tenant", TENANT_NOT_FOUND, f"Tenant '{tenant}' not found.")
        base = f"{platform.tokens.endpoint}/{tenant.lower()}"
        return JSONResponse(
            {
                "issuer": platform.tokens.issuer(tenant.lower()),
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "grant_types_supported": ["client_credentials"],
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "appid", "ver"],
                "tenant_region_scope": "WW",
                "cloud_instance_name": "warden.local",
                "request_uri_parameter_supported": False,
            }
        )

    @router.get("/{tenant}/discovery/v2.0/keys")
    async def jwks(tenant: str) -> JSONResponse:
        if not await run_in_threadpool(tenant_exists, tenant):
            return oauth_error(400, "invalid_tenant", TENANT_NOT_FOUND, f"Tenant '{tenant}' not found.")
        return JSONResponse(await run_in_threadpool(platform.keys.jwks))

    async def token(tenant: str, request: Request) -> JSONResponse:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await run_in_threadpool(issue_token, platform, tenant, fields, request.headers.get("authorization"))

    router.add_api_route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"])
    router.add_api_route("/{tenant}/oauth2/token", token, methods=["POST"])
    return router


def issue_token(platform: Platform, tenant: str, fields: dict[str, str], authorization: str | None) -> JSONResponse:
    """The client-credentials grant: a secret in the body or in HTTP Basic (RFC 6749 §2.3.1)."""
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return oauth_error(401, "invalid_client", INVALID_CLIENT_SECRET, "Malformed HTTP Basic credentials.")
        client_id, secret = unquote_plus(user), unquote_plus(password)
    grant = fields.get("grant_type")
    if grant != "client_credentials":
        return oauth_error(
            400, "unsupported_grant_type", UNSUPPORTED_GRANT, f"The grant type '{grant}' is not supported here."
        )
    if not client_id or not secret:
        return oauth_error(
            400, "invalid_request", MISSING_PARAMETER, "The request body must contain 'client_id' and 'client_secret'."
        )
    scope = fields.get("scope") or (
        fields.get("resource", "").rstrip("/") + "/.default" if fields.get("resource") else ""
    )
    audience = platform.tokens.audience_for_scope(scope)
    if audience is None:
        return oauth_error(
            400,
            "invalid_scope",
            INVALID_SCOPE,
            f"The provided value for the input parameter 'scope' is not valid: '{scope}'.",
        )
    tenant_id = tenant.lower()
    with platform.db.read() as conn:
        if not is_guid(tenant) or conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            return oauth_error(400, "invalid_request", TENANT_NOT_FOUND, f"Tenant '{tenant}' not found.")
        principal = authenticate_client(conn, tenant_id, client_id, secret)
    if principal is None:
        # One answer for unknown clients and wrong secrets: don't reveal which client IDs exist.
        return oauth_error(
            401,
            "invalid_client",
            INVALID_CLIENT_SECRET,
            f"Invalid client secret provided for application '{client_id}'.",
        )
    return JSONResponse(
        platform.tokens.issue(principal, audience), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )
