"""Entra-shaped identity endpoints: token, authorize and sign-in pages, device code, logout,
userinfo, OpenID discovery and JWKS.

These routes are how a client obtains a token, so they do not take one (userinfo excepted: it
demands a user token). The work is in ``warden.identity.oauth``; this module only maps HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from warden.identity.oauth import authorize as browser
from warden.identity.oauth import device
from warden.identity.oauth.clients import find_client
from warden.identity.oauth.errors import (
    APPLICATION_NOT_FOUND,
    INVALID_SCOPE,
    MISSING_PARAMETER,
    NO_STORE,
    TENANT_NOT_FOUND,
    oauth_error,
)
from warden.identity.oauth.grants import DEVICE_CODE, GRANT_TYPES, token_endpoint
from warden.identity.oauth.requests import tenant_exists
from warden.identity.oauth.userinfo import logout, userinfo
from warden.identity.oauth.web import read_web_request

if TYPE_CHECKING:
    from warden.platform import Platform

USERINFO_PATH = "/oidc/userinfo"
DEVICE_LOGIN_PATH = "/devicelogin"
MAX_FORM_BYTES = 64 * 1024


def build_router(platform: Platform) -> APIRouter:
    router = APIRouter()

    def exists(tenant: str) -> bool:
        with platform.db.read() as conn:
            return tenant_exists(conn, tenant)

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def openid_configuration(tenant: str) -> JSONResponse:
        if not await run_in_threadpool(exists, tenant):
            return oauth_error(400, "invalid_tenant", TENANT_NOT_FOUND, f"Tenant '{tenant}' not found.")
        return JSONResponse(discovery_document(platform, tenant.lower()))

    @router.get("/{tenant}/discovery/v2.0/keys")
    async def jwks(tenant: str) -> JSONResponse:
        if not await run_in_threadpool(exists, tenant):
            return oauth_error(400, "invalid_tenant", TENANT_NOT_FOUND, f"Tenant '{tenant}' not found.")
        return JSONResponse(await run_in_threadpool(platform.keys.jwks))

    async def token(tenant: str, request: Request) -> Response:
        if _too_large(request):
            return oauth_error(400, "invalid_request", MISSING_PARAMETER, "The request body is too large.")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await run_in_threadpool(
            token_endpoint,
            platform,
            tenant,
            fields,
            request.headers.get("authorization"),
            request.client.host if request.client else "",
            request.headers.get("user-agent", ""),
        )

    async def devicecode(tenant: str, request: Request) -> Response:
        if _too_large(request):
            return oauth_error(400, "invalid_request", MISSING_PARAMETER, "The request body is too large.")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await run_in_threadpool(start_device_flow, platform, tenant, fields)

    async def authorize(tenant: str, request: Request) -> Response:
        web = await read_web_request(request)
        return await run_in_threadpool(browser.authorize, platform, tenant, web)

    async def login(tenant: str, request: Request) -> Response:
        web = await read_web_request(request)
        return await run_in_threadpool(browser.login, platform, tenant, web)

    async def devicelogin(request: Request) -> Response:
        web = await read_web_request(request)
        return await run_in_threadpool(browser.devicelogin, platform, web)

    async def end_session(tenant: str, request: Request) -> Response:
        web = await read_web_request(request)
        return await run_in_threadpool(logout, platform, tenant, web)

    async def user_info(request: Request) -> Response:
        return await run_in_threadpool(userinfo, platform, request.headers.get("authorization", ""))

    router.add_api_route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"])
    router.add_api_route("/{tenant}/oauth2/token", token, methods=["POST"])
    router.add_api_route("/{tenant}/oauth2/v2.0/devicecode", devicecode, methods=["POST"])
    router.add_api_route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET", "POST"])
    router.add_api_route("/{tenant}/login", login, methods=["POST"])
    router.add_api_route(DEVICE_LOGIN_PATH, devicelogin, methods=["GET", "POST"])
    router.add_api_route("/{tenant}/oauth2/v2.0/logout", end_session, methods=["GET", "POST"])
    router.add_api_route(USERINFO_PATH, user_info, methods=["GET", "POST"])
    return router


def _too_large(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > MAX_FORM_BYTES


def discovery_document(platform: Platform, tenant_id: str) -> dict:
    """The tenant's OpenID Provider Metadata, with Entra's field set."""
    endpoint = platform.tokens.endpoint
    base = f"{endpoint}/{tenant_id}"
    return {
        "issuer": platform.tokens.issuer(tenant_id),
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "userinfo_endpoint": f"{endpoint}{USERINFO_PATH}",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["login", "none", "consent", "select_account"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nbf",
            "auth_time",
            "nonce",
            "amr",
            "oid",
            "tid",
            "name",
            "preferred_username",
            "email",
            "upn",
            "appid",
            "scp",
            "idtyp",
            "ver",
        ],
        "frontchannel_logout_supported": False,
        "http_logout_supported": False,
        "request_uri_parameter_supported": False,
        "tenant_region_scope": "WW",
        "cloud_instance_name": "warden.local",
    }


def start_device_flow(platform: Platform, tenant: str, fields: dict[str, str]) -> JSONResponse:
    """POST ``/{tenant}/oauth2/v2.0/devicecode``: a device authorization response (RFC 8628 §3.2)."""
    client_id, scope = fields.get("client_id", ""), " ".join(fields.get("scope", "").split())
    if not client_id or not scope:
        return oauth_error(
            400, "invalid_request", MISSING_PARAMETER, "The request body must contain 'client_id' and 'scope'."
        )
    with platform.db.write() as conn:
        if not tenant_exists(conn, tenant):
            return oauth_error(400, "invalid_request", TENANT_NOT_FOUND, f"Tenant '{tenant[:64]}' not found.")
        client = find_client(conn, client_id)
        if client is None or not client.serves(tenant.lower()) or not client.is_public:
            return oauth_error(
                400,
                "unauthorized_client",
                APPLICATION_NOT_FOUND,
                f"Application '{client_id[:64]}' was not found in the directory or does not allow public client flows.",
            )
        if platform.tokens.user_audience(scope) is None:
            return oauth_error(
                400, "invalid_scope", INVALID_SCOPE, "The provided value for the input parameter 'scope' is not valid."
            )
        body = device.start(
            conn, tenant.lower(), client.client_id, scope, f"{platform.tokens.endpoint}{DEVICE_LOGIN_PATH}"
        )
    return JSONResponse(body, headers=NO_STORE)


__all__ = ["DEVICE_CODE", "build_router", "discovery_document"]
