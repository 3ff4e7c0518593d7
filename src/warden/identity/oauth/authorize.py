"""The browser side of sign-in: ``/authorize``, the sign-in form, consent, ``/devicelogin``.

``authorize`` validates the request and, with a live SSO session, answers at once with a code;
otherwise it shows the sign-in page. The page posts to ``/{tenant}/login`` (password, then MFA,
or the "More information required" registration of a first method when the tenant requires MFA,
then consent if needed) carrying the original request in a hidden ``ctx`` field, which is parsed
and validated again on every step: nothing in it is trusted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from fastapi.responses import RedirectResponse, Response

from warden.identity.oauth import device, pages, sessions
from warden.identity.oauth import errors as e
from warden.identity.oauth.clients import OAuthClient, find_client
from warden.identity.oauth.codes import issue_code
from warden.identity.oauth.consent import grant_consent, missing_consent
from warden.identity.oauth.requests import AuthorizeRequest, PageError, RedirectError, parse_authorize
from warden.identity.oauth.signin import mfa_step, password_step, registration_step, start_mfa, start_registration
from warden.identity.oauth.signin_log import BROWSER, NATIVE, Attempt, write_signin
from warden.identity.oauth.web import WebRequest, csrf_ok, csrf_token, finish
from warden.identity.users import User, get_user

if TYPE_CHECKING:
    from warden.platform import Platform

WRONG_CREDENTIALS = "Your account or password is incorrect."


def _error_page(code: int, message: str) -> Response:
    return pages.message_page("Sign-in error", f"AADSTS{code}: {message}", status=400)


def redirect_answer(request: AuthorizeRequest, fields: dict[str, str]) -> Response:
    """Send ``fields`` to the client's registered redirect URI, by query or form post."""
    fields = {k: v for k, v in fields.items() if v is not None}
    if request.state:
        fields["state"] = request.state
    if request.response_mode == "form_post":
        parts = urlsplit(request.redirect_uri)
        return pages.form_post_page(request.redirect_uri, fields, f"{parts.scheme}://{parts.netloc}")
    separator = "&" if urlsplit(request.redirect_uri).query else "?"
    return RedirectResponse(request.redirect_uri + separator + urlencode(fields), status_code=302)


def _redirect_error(error: RedirectError) -> Response:
    return redirect_answer(
        error.request, {"error": error.error, "error_description": f"AADSTS{error.code}: {error.description}"}
    )


def authorize(platform: Platform, tenant: str, web: WebRequest) -> Response:
    """GET or POST ``/{tenant}/oauth2/v2.0/authorize``."""
    with platform.db.read() as conn:
        try:
            request = parse_authorize(conn, platform.tokens, tenant, web.fields)
        except PageError as error:
            return _error_page(error.code, error.message)
        except RedirectError as error:
            return _redirect_error(error)
        session = sessions.find_session(conn, request.tenant_id, web.cookies.get(sessions.COOKIE))
    if session is not None and request.prompt in ("login", "select_account"):
        session = None
    return finish(web, _proceed(platform, request, session, web, fresh=False))


def _ctx_fields(platform: Platform, web: WebRequest, ctx: dict) -> dict[str, str]:
    return {"csrf": csrf_token(platform.master_key, web), "ctx": json.dumps(ctx, separators=(",", ":"))}


def _proceed(
    platform: Platform,
    request: AuthorizeRequest,
    session: sessions.Session | None,
    web: WebRequest,
    *,
    fresh: bool,
    consented: bool = False,
) -> Response:
    """Answer with a code if the session's user may have one, else show the next page."""
    ctx = {"kind": "authorize", "params": request.params()}
    action = f"/{request.tenant_id}/login"
    if session is None:
        if request.prompt == "none":
            return _redirect_error(
                RedirectError(request, "login_required", e.LOGIN_REQUIRED, "The user must sign in; prompt=none.")
            )
        hidden = _ctx_fields(platform, web, ctx)
        return pages.signin_page(action, hidden, request.client.display_name, username=request.login_hint)
    with platform.db.write() as conn:
        user = get_user(conn, request.tenant_id, session.user_id)
        if user is None or not user.account_enabled:
            sessions.end_session(conn, session)
            web.set_cookies.append(sessions.clear_cookie_header(request.tenant_id))
            return pages.signin_page(action, _ctx_fields(platform, web, ctx), request.client.display_name)
        missing = missing_consent(conn, request.tenant_id, request.client, user.object_id, request.scope)
        if missing or (request.prompt == "consent" and not consented):
            if request.prompt == "none":
                return _redirect_error(
                    RedirectError(request, "consent_required", e.CONSENT_REQUIRED, "The user has not consented.")
                )
            hidden = _ctx_fields(platform, web, ctx)
            scopes = missing or request.scope.split()
            return pages.consent_page(
                action, hidden, request.client.display_name, request.client.home_tenant or "Microsoft", scopes
            )
        if not fresh:
            # Single sign-on is a sign-in too: logged with the session's methods.
            attempt = Attempt(
                request.tenant_id, request.client, web.ip_address, web.user_agent, BROWSER, request.audience
            )
            method = "Previously satisfied" if "mfa" in session.amr else None
            write_signin(conn, attempt, 0, user=user, mfa_method=method)
        code = issue_code(
            conn,
            tenant_id=request.tenant_id,
            client_id=request.client.client_id,
            user_id=user.object_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            nonce=request.nonce,
            session_id=session.id,
            auth_time=session.auth_time,
            amr=list(session.amr),
        )
    return redirect_answer(request, {"code": code})


def _target(platform: Platform, tenant: str, ctx: dict) -> tuple[AuthorizeRequest | None, device.DeviceRequest | None]:
    """The authorize request or device request a sign-in form continues; raises PageError/RedirectError."""
    with platform.db.read() as conn:
        if ctx.get("kind") == "authorize" and isinstance(ctx.get("params"), dict):
            params = {str(k): str(v) for k, v in ctx["params"].items()}
            return parse_authorize(conn, platform.tokens, tenant, params), None
        if ctx.get("kind") == "device" and isinstance(ctx.get("user_code"), str):
            pending = device.find_pending(conn, ctx["user_code"])
            if pending is None or pending.tenant_id != tenant.lower():
                raise PageError(
                    e.DEVICE_EXPIRED, "The code has expired or was already used. Start again on your device."
                )
            return None, pending
    raise PageError(e.INVALID_REQUEST, "The sign-in request is malformed. Start again from the application.")


def login(platform: Platform, tenant: str, web: WebRequest) -> Response:
    """POST ``/{tenant}/login``: one step of the sign-in form (password, mfa or consent)."""
    if not csrf_ok(platform.master_key, web):
        return pages.message_page(
            "Sign-in error", "The sign-in page expired. Start again from the application.", status=400
        )
    try:
        ctx = json.loads(web.get("ctx") or "null")
        request, pending = _target(platform, tenant, ctx if isinstance(ctx, dict) else {})
    except (ValueError, TypeError):
        return _error_page(e.INVALID_REQUEST, "The sign-in request is malformed. Start again from the application.")
    except PageError as error:
        return _error_page(error.code, error.message)
    except RedirectError as error:
        return _redirect_error(error)
    return finish(web, _login_step(platform, tenant.lower(), web, ctx, request, pending))


def _client_of(
    platform: Platform, request: AuthorizeRequest | None, pending: device.DeviceRequest | None
) -> OAuthClient:
    if request is not None:
        return request.client
    with platform.db.read() as conn:
        client = find_client(conn, pending.client_id)  # type: ignore[union-attr]
    if client is None:
        raise PageError(e.APPLICATION_NOT_FOUND, "The application no longer exists.")
    return client


def _login_step(
    platform: Platform,
    tenant_id: str,
    web: WebRequest,
    ctx: dict,
    request: AuthorizeRequest | None,
    pending: device.DeviceRequest | None,
) -> Response:
    try:
        client = _client_of(platform, request, pending)
    except PageError as error:
        return _error_page(error.code, error.message)
    attempt = Attempt(
        tenant_id,
        client,
        web.ip_address,
        web.user_agent,
        BROWSER if request else NATIVE,
        request.audience if request else None,
    )
    action = f"/{tenant_id}/login"
    hidden = _ctx_fields(platform, web, ctx)
    step = web.get("step")
    if step == "password":
        outcome = password_step(platform, attempt, web.get("login"), web.get("passwd"))
        if outcome.error:
            text = WRONG_CREDENTIALS if outcome.error == e.INVALID_CREDENTIALS else outcome.message
            return pages.signin_page(
                action,
                hidden,
                client.display_name,
                username=web.get("login")[:256],
                error=f"AADSTS{outcome.error}: {text}",
                cancel=pending is not None,
            )
        assert outcome.user is not None
        if outcome.mfa == "required":
            with platform.db.write() as conn:
                challenge = start_mfa(conn, attempt, outcome.user, outcome.risk_events)
            return pages.mfa_page(action, hidden, challenge)
        if outcome.mfa == "register":
            with platform.db.write() as conn:
                challenge, enrolment = start_registration(conn, platform, attempt, outcome.user, outcome.risk_events)
            return pages.mfa_registration_page(action, hidden, challenge, enrolment.secret_key, enrolment.otpauth_uri)
        return _signed_in(platform, web, request, pending, outcome.user, ["pwd"])
    if step == "mfaRegistration":
        error, user, enrolment = registration_step(platform, attempt, web.get("challenge"), web.get("otc"))
        if error in (e.LOGIN_REQUIRED, e.ACCOUNT_LOCKED) or user is None:
            return _start_again(action, hidden, client, pending, error)
        if error:
            assert enrolment is not None
            return pages.mfa_registration_page(
                action,
                hidden,
                web.get("challenge"),
                enrolment.secret_key,
                enrolment.otpauth_uri,
                error=f"AADSTS{error}: That code didn't work. Try again.",
            )
        return _signed_in(platform, web, request, pending, user, ["pwd", "mfa"])
    if step == "mfa":
        error, user, _method = mfa_step(platform, attempt, web.get("challenge"), web.get("otc"))
        if error in (e.LOGIN_REQUIRED, e.ACCOUNT_LOCKED) or user is None:
            return _start_again(action, hidden, client, pending, error)
        if error:
            return pages.mfa_page(
                action, hidden, web.get("challenge"), error=f"AADSTS{error}: That code didn't work. Try again."
            )
        return _signed_in(platform, web, request, pending, user, ["pwd", "mfa"])
    if step == "consent" and request is not None:
        return _consent(platform, web, request)
    if step == "deny" and pending is not None:
        with platform.db.write() as conn:
            device.decide(conn, pending.user_code, None, [], approve=False)
        return pages.message_page("Sign-in cancelled", "The application on your device will not be signed in.")
    return _error_page(e.INVALID_REQUEST, "Unknown sign-in step.")


def _start_again(
    action: str, hidden: dict[str, str], client: OAuthClient, pending: device.DeviceRequest | None, error: int
) -> Response:
    """The password page again, after a second step ended with LOGIN_REQUIRED or ACCOUNT_LOCKED."""
    text = "The sign-in timed out. Sign in again."
    if error == e.ACCOUNT_LOCKED:
        text = f"AADSTS{error}: Your account is locked because of too many failed attempts. Try again later."
    return pages.signin_page(action, hidden, client.display_name, error=text, cancel=pending is not None)


def _signed_in(
    platform: Platform,
    web: WebRequest,
    request: AuthorizeRequest | None,
    pending: device.DeviceRequest | None,
    user: User,
    amr: list[str],
) -> Response:
    """Start the SSO session, then finish what the sign-in was for."""
    with platform.db.write() as conn:
        session, cookie = sessions.create_session(conn, user.tenant_id, user.object_id, amr)
        approved = pending is not None and device.decide(conn, pending.user_code, user.object_id, amr, approve=True)
    web.set_cookies.append(sessions.set_cookie_header(user.tenant_id, cookie))
    if request is not None:
        return _proceed(platform, request, session, web, fresh=True)
    if not approved:
        return pages.message_page("Sign-in error", "The code has expired or was already used.", status=400)
    return pages.message_page(
        "You're signed in",
        "You have signed in to the application on your device. You may now close this window.",
    )


def _consent(platform: Platform, web: WebRequest, request: AuthorizeRequest) -> Response:
    with platform.db.read() as conn:
        session = sessions.find_session(conn, request.tenant_id, web.cookies.get(sessions.COOKIE))
    if session is None:
        hidden = _ctx_fields(platform, web, {"kind": "authorize", "params": request.params()})
        return pages.signin_page(f"/{request.tenant_id}/login", hidden, request.client.display_name)
    if web.get("decision") != "accept":
        return _redirect_error(RedirectError(request, "access_denied", 65004, "The user declined to consent."))
    with platform.db.write() as conn:
        grant_consent(conn, request.tenant_id, request.client.client_id, session.user_id, request.scope)
    return _proceed(platform, request, session, web, fresh=False, consented=True)


def devicelogin(platform: Platform, web: WebRequest) -> Response:
    """GET shows the code form; POST looks the code up and shows the tenant's sign-in page."""
    hidden = {"csrf": csrf_token(platform.master_key, web)}
    if web.method != "POST":
        return finish(web, pages.device_code_page("/devicelogin", hidden))
    if not csrf_ok(platform.master_key, web):
        return finish(
            web, pages.device_code_page("/devicelogin", hidden, error="The page expired. Enter the code again.")
        )
    with platform.db.read() as conn:
        pending = device.find_pending(conn, web.get("otc"))
        client = find_client(conn, pending.client_id) if pending else None
    if pending is None or client is None:
        return finish(
            web,
            pages.device_code_page(
                "/devicelogin", hidden, error="That code didn't work. Check the code and try again."
            ),
        )
    ctx = {"kind": "device", "user_code": pending.user_code}
    page = pages.signin_page(
        f"/{pending.tenant_id}/login", _ctx_fields(platform, web, ctx), client.display_name, cancel=True
    )
    return finish(web, page)
