"""Authorization code + PKCE through the real sign-in page (password, then TOTP), with Authlib as
the client: ID token checked against JWKS, userinfo, refresh with rotation and reuse detection."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlencode
from uuid import uuid4

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from support.signin import form_of, query_of, sign_in, submit
from warden.identity.schema import signin_events

REDIRECT = "https://app.contoso.test/callback"


def _oauth_client(server, client_id: str, redirect: str, **kwargs) -> OAuth2Client:  # type: ignore[no-untyped-def]
    return OAuth2Client(
        client_id,
        scope="openid profile offline_access User.Read",
        redirect_uri=redirect,
        code_challenge_method="S256",
        token_endpoint_auth_method=kwargs.pop("auth", "none"),
        verify=server.ca,
        **kwargs,
    )


def test_code_flow_with_pkce_password_and_totp(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    base = f"{warden_server.endpoint}/{tenant}"
    user = directory.user(mfa=True, mail="someone@contoso.test")
    app = directory.app(spa="https://spa.contoso.test/cb")
    client = _oauth_client(warden_server, app.client_id, app.redirect_uri)
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    started = time.time()
    url, state = client.create_authorization_url(f"{base}/oauth2/v2.0/authorize", code_verifier=verifier, nonce=nonce)

    page = browser.get(url)
    assert page.status_code == 200 and 'name="passwd"' in page.text
    assert (
        "HttpOnly" in page.headers["set-cookie"] and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    mfa = submit(browser, page, login=user.upn, passwd=user.password)
    assert 'name="otc"' in mfa.text  # the password alone is not enough for a user with TOTP
    wrong = submit(browser, mfa, otc="000000" if user.code() != "000000" else "111111")
    assert "AADSTS500121" in wrong.text
    done = submit(browser, wrong, otc=user.code())
    params = query_of(done)
    assert done.headers["location"].startswith(app.redirect_uri) and params["state"] == state
    session_cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("warden_sso="))
    assert all(flag in session_cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax", f"Path=/{tenant}/"))

    token = client.fetch_token(
        f"{base}/oauth2/v2.0/token", authorization_response=done.headers["location"], code_verifier=verifier
    )
    jwks = KeySet.import_key_set(browser.get(f"/{tenant}/discovery/v2.0/keys").json())
    id_claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256"]).claims
    assert id_claims["iss"] == f"{base}/v2.0" and id_claims["aud"] == app.client_id
    assert id_claims["nonce"] == nonce and id_claims["oid"] == user.object_id == id_claims["sub"]
    assert id_claims["tid"] == tenant and id_claims["preferred_username"] == user.upn
    assert id_claims["amr"] == ["pwd", "mfa"] and id_claims["email"] == "someone@contoso.test"
    assert started - 5 <= id_claims["auth_time"] <= time.time() + 5 and id_claims["exp"] > time.time()
    access = jwt.decode(token["access_token"], jwks, algorithms=["RS256"]).claims
    assert (
        access["idtyp"] == "user" and access["scp"] == "openid profile User.Read" and access["appid"] == app.client_id
    )
    assert access["aud"] == "https://graph.microsoft.com" and access["upn"] == user.upn

    config = browser.get(f"/{tenant}/v2.0/.well-known/openid-configuration").json()
    info = httpx.get(
        config["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        verify=warden_server.ca,
    )
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == user.object_id and info.json()["email"] == "someone@contoso.test"

    # The code works once.
    again = httpx.post(
        f"{base}/oauth2/v2.0/token",
        verify=warden_server.ca,
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "code": params["code"],
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.json()["error_codes"] == [54005]
    # ... and its reuse revoked the refresh token issued from it.
    gone = httpx.post(
        f"{base}/oauth2/v2.0/token",
        verify=warden_server.ca,
        data={"grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": token["refresh_token"]},
    )
    assert gone.status_code == 400 and gone.json()["error_codes"] == [70008]


def test_refresh_rotates_and_reuse_revokes_the_family(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    base = f"{warden_server.endpoint}/{tenant}"
    user = directory.user()
    app = directory.app(web=REDIRECT, secret=True)
    client = _oauth_client(warden_server, app.client_id, REDIRECT, client_secret=app.secret, auth="client_secret_post")
    verifier = secrets.token_urlsafe(48)
    url, _state = client.create_authorization_url(f"{base}/oauth2/v2.0/authorize", code_verifier=verifier)
    done = sign_in(browser, browser.get(url), user)
    first = client.fetch_token(
        f"{base}/oauth2/v2.0/token", authorization_response=done.headers["location"], code_verifier=verifier
    )
    assert first["refresh_token"] and "id_token" in first

    second = client.refresh_token(f"{base}/oauth2/v2.0/token", refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"]
    third = client.refresh_token(f"{base}/oauth2/v2.0/token", refresh_token=second["refresh_token"])
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])

    def refresh(token: str, **extra: str) -> httpx.Response:
        return httpx.post(
            f"{base}/oauth2/v2.0/token",
            verify=warden_server.ssl_context(),
            data={
                "grant_type": "refresh_token",
                "client_id": app.client_id,
                "client_secret": app.secret,
                "refresh_token": token,
                **extra,
            },
        )

    # A refresh may ask for another resource, even without offline_access: a successor still comes.
    fourth = refresh(third["refresh_token"], scope="https://management.azure.com/.default").json()
    assert jwt.decode(fourth["access_token"], _keys(warden_server)).claims["aud"] == "https://management.azure.com"
    assert fourth["refresh_token"] and "id_token" not in fourth

    reused = refresh(first["refresh_token"])  # rotated already: reuse
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_codes"] == [70008] and "AADSTS70008" in reused.json()["error_description"]
    # The whole family is revoked: the live successor no longer works either.
    successor = refresh(fourth["refresh_token"])
    assert successor.status_code == 400 and successor.json()["error"] == "invalid_grant"
    # A confidential client must authenticate.
    anonymous = httpx.post(
        f"{base}/oauth2/v2.0/token",
        verify=warden_server.ca,
        data={"grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": "x" * 43},
    )
    assert anonymous.status_code == 401 and anonymous.json()["error_codes"] == [7000218]


def test_wrong_redirect_uri_never_redirects(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    base = f"/{warden_server.tenant}/oauth2/v2.0/authorize"
    app = directory.app(web=REDIRECT)
    for redirect in ("https://evil.test/callback", REDIRECT + "/", REDIRECT.upper(), "", REDIRECT + "?x=1"):
        page = browser.get(
            base
            + "?"
            + urlencode(
                {"client_id": app.client_id, "response_type": "code", "redirect_uri": redirect, "scope": "openid"}
            )
        )
        assert page.status_code == 400 and "AADSTS50011" in page.text, redirect
        assert "location" not in page.headers
    unknown = browser.get(
        base
        + "?"
        + urlencode(
            {"client_id": "00000000-0000-0000-0000-000000000001", "response_type": "code", "redirect_uri": REDIRECT}
        )
    )
    assert unknown.status_code == 400 and "AADSTS700016" in unknown.text and "location" not in unknown.headers
    # With a valid redirect URI, later errors go back to the client.
    bad_type = browser.get(
        base
        + "?"
        + urlencode(
            {
                "client_id": app.client_id,
                "response_type": "token",
                "redirect_uri": REDIRECT,
                "scope": "openid",
                "state": "s1",
            }
        )
    )
    answer = query_of(bad_type)
    assert answer["error"] == "unsupported_response_type" and answer["state"] == "s1"
    # A public (SPA) client must use PKCE, and only S256.
    spa = directory.app(spa="https://spa.contoso.test/pkce")
    for extra in ({}, {"code_challenge": "a" * 43, "code_challenge_method": "plain"}):
        no_pkce = browser.get(
            base
            + "?"
            + urlencode(
                {
                    "client_id": spa.client_id,
                    "response_type": "code",
                    "redirect_uri": spa.redirect_uri,
                    "scope": "openid",
                    **extra,
                }
            )
        )
        assert query_of(no_pkce)["error"] == "invalid_request"


def test_single_sign_on_prompt_and_logout(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    user = directory.user()
    first, second = directory.app(web=REDIRECT), directory.app(web="https://two.contoso.test/cb")

    def authorize(app, **extra: str) -> httpx.Response:  # type: ignore[no-untyped-def]
        params = {
            "client_id": app.client_id,
            "response_type": "code",
            "redirect_uri": app.redirect_uri,
            "scope": "openid offline_access",
            **extra,
        }
        return browser.get(f"/{tenant}/oauth2/v2.0/authorize?" + urlencode(params))

    none_first = authorize(first, prompt="none")
    assert query_of(none_first)["error"] == "login_required"
    assert "code" in query_of(sign_in(browser, authorize(first), user))
    # The second app of the tenant signs in without the password (SSO) ...
    assert "code" in query_of(authorize(second))
    assert "code" in query_of(authorize(second, prompt="none"))
    # ... unless it asks for a fresh sign-in.
    assert 'name="passwd"' in authorize(second, prompt="login").text
    # Logout ends the session; an unregistered post-logout URI is not followed.
    out = browser.get(
        f"/{tenant}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": "https://evil.test/", "client_id": first.client_id},
    )
    assert out.status_code == 200 and "location" not in out.headers
    assert query_of(authorize(first, prompt="none"))["error"] == "login_required"
    sign_in(browser, authorize(first), user)
    back = browser.get(
        f"/{tenant}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": REDIRECT, "client_id": first.client_id, "state": "bye"},
    )
    assert back.status_code == 302 and back.headers["location"] == REDIRECT + "?state=bye"


def test_failures_cross_tenant_and_signin_log(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    app = directory.app(web=REDIRECT)
    user = directory.user()
    disabled = directory.user(enabled=False)
    url = f"/{tenant}/oauth2/v2.0/authorize?" + urlencode(
        {"client_id": app.client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid"}
    )
    page = browser.get(url)
    wrong = submit(browser, page, login=user.upn, passwd="not the password at all")
    unknown = submit(browser, page, login="nobody@contoso.test", passwd="not the password at all")
    for answer in (wrong, unknown):  # same words for both: existence is not revealed
        assert answer.status_code == 200 and "AADSTS50126: Your account or password is incorrect." in answer.text
    assert "AADSTS50057" in submit(browser, page, login=disabled.upn, passwd=disabled.password).text
    # A bad CSRF field changes nothing.
    _action, hidden = form_of(page)
    forged = browser.post(
        f"/{tenant}/login",
        data={**hidden, "csrf": "0" * 64, "login": user.upn, "passwd": user.password, "step": "password"},
    )
    assert forged.status_code == 400 and "location" not in forged.headers

    # A user of this tenant cannot sign in at another tenant's authority.
    other = directory.run(_new_tenant)
    other_app = directory.app(web=REDIRECT, tenant=other)
    foreign = browser.get(
        f"/{other}/oauth2/v2.0/authorize?"
        + urlencode(
            {"client_id": other_app.client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid"}
        )
    )
    assert "AADSTS50126" in submit(browser, foreign, login=user.upn, passwd=user.password).text
    # ... nor use this tenant's single-tenant app there.
    cross = browser.get(
        f"/{other}/oauth2/v2.0/authorize?"
        + urlencode({"client_id": app.client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid"})
    )
    assert cross.status_code == 400 and "AADSTS700016" in cross.text

    ok = sign_in(browser, browser.get(url), user)
    assert "code" in query_of(ok)
    with directory.db.read() as conn:
        rows = (
            conn.execute(select(signin_events.c.record).where(signin_events.c.app_id == app.client_id)).scalars().all()
        )
    by_code: dict[int, list[dict]] = {}
    for record in rows:
        by_code.setdefault(record["status"]["errorCode"], []).append(record)
    assert {0, 50126, 50057} <= set(by_code)
    success = next(r for r in by_code[0] if r["userId"] == user.object_id)
    assert success["isInteractive"] is True and success["clientAppUsed"] == "Browser"
    assert (
        success["authenticationRequirement"] == "singleFactorAuthentication"
        and success["conditionalAccessStatus"] == "notApplied"
    )
    assert (
        success["riskLevelDuringSignIn"] == "none" and success["appDisplayName"] and success["ipAddress"] == "127.0.0.1"
    )
    failed_unknown = [r for r in by_code[50126] if r["userPrincipalName"] == "nobody@contoso.test"]
    assert failed_unknown and failed_unknown[0]["userId"] is None and failed_unknown[0]["status"]["failureReason"]


def _new_tenant(conn) -> str:  # type: ignore[no-untyped-def]
    import uuid

    from sqlalchemy import insert

    from warden.kernel.clock import utcnow
    from warden.kernel.schema import tenants

    tenant_id = str(uuid.uuid4())
    conn.execute(insert(tenants).values(id=tenant_id, display_name="other", created_at=utcnow()))
    return tenant_id


def test_parallel_wrong_passwords_count_at_most_the_threshold(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from warden.identity.schema import lockout_states

    tenant = warden_server.tenant
    user = directory.user()
    app = directory.app(web=REDIRECT)
    url = f"/{tenant}/oauth2/v2.0/authorize?" + urlencode(
        {"client_id": app.client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid"}
    )
    page = browser.get(url)
    action, hidden = form_of(page)

    def attempt(i: int) -> str:
        answer = browser.post(
            action, data={**hidden, "step": "password", "login": user.upn, "passwd": f"wrong-{i}-{uuid4()}"}
        )
        found = re.search(r"AADSTS(\d+)", answer.text)
        return found.group(1) if found else answer.text[:200]

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(attempt, range(50)))
    assert set(answers) <= {"50126", "50053"}, answers
    threshold = 10  # the tenant default
    assert answers.count("50126") <= threshold and answers.count("50053") >= 50 - threshold
    with directory.db.read() as conn:
        states = (
            conn.execute(select(lockout_states.c.state).where(lockout_states.c.user_id == user.object_id))
            .scalars()
            .all()
        )
    assert len(states) == 1 and states[0]["lockouts"] == 1
    # Locked: even the right password is refused, with Entra's lockout code.
    locked = submit(browser, page, login=user.upn, passwd=user.password)
    assert "AADSTS50053" in locked.text and "location" not in locked.headers
    with directory.db.read() as conn:
        codes = (
            conn.execute(select(signin_events.c.status_code).where(signin_events.c.user_id == user.object_id))
            .scalars()
            .all()
        )
    assert len(codes) == 51 and set(codes) == {50126, 50053}  # every attempt is in the sign-in log


def test_form_post_prompt_consent_and_userinfo_without_a_user_token(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    user = directory.user()
    app = directory.app(web=REDIRECT)
    params = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "st",
    }
    posted = sign_in(
        browser, browser.get(f"/{tenant}/oauth2/v2.0/authorize", params={**params, "response_mode": "form_post"}), user
    )
    action, fields = form_of(posted)
    assert action == REDIRECT and fields["code"] and fields["state"] == "st"
    csp = posted.headers["content-security-policy"]
    assert "https://app.contoso.test" in csp and "script-src 'nonce-" in csp
    # prompt=consent shows the consent page even for a same-tenant app; accepting gives a code.
    consent = browser.get(f"/{tenant}/oauth2/v2.0/authorize", params={**params, "prompt": "consent"})
    assert "Permissions requested" in consent.text
    assert "code" in query_of(submit(browser, consent, decision="accept"))
    userinfo = browser.get(f"/{tenant}/v2.0/.well-known/openid-configuration").json()["userinfo_endpoint"]
    assert httpx.get(userinfo, verify=warden_server.ssl_context()).status_code == 401
    app_token = warden_server.token(scope="https://graph.microsoft.com/.default")
    answer = httpx.get(userinfo, verify=warden_server.ssl_context(), headers={"Authorization": f"Bearer {app_token}"})
    assert answer.status_code == 401 and "WWW-Authenticate" in answer.headers  # an app token names no user


def _keys(server) -> KeySet:  # type: ignore[no-untyped-def]
    return KeySet.import_key_set(
        httpx.get(f"{server.endpoint}/{server.tenant}/discovery/v2.0/keys", verify=server.ssl_context()).json()
    )


def test_wrong_codes_count_toward_lockout_even_after_right_passwords(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    """Someone holding the password cannot guess codes forever: a right password does not reset the
    counters, wrong codes count like wrong passwords, and the threshold (10) locks the account."""
    user = directory.user(mfa=True)
    app = directory.app(spa="https://spa.contoso.test/lockout")
    client = _oauth_client(warden_server, app.client_id, app.redirect_uri)
    url, _ = client.create_authorization_url(
        f"{warden_server.endpoint}/{warden_server.tenant}/oauth2/v2.0/authorize",
        code_verifier=secrets.token_urlsafe(48),
    )
    valid = {user.code(offset) for offset in (-2, -1, 0, 1, 2)}
    guesses = iter(code for code in (f"{n:06d}" for n in range(100)) if code not in valid)
    for _round in range(3):  # 3 password entries x 4 wrong codes: past the threshold of 10
        mfa = submit(browser, browser.get(url), login=user.upn, passwd=user.password)
        if 'name="otc"' not in mfa.text:
            break
        for _ in range(4):
            mfa = submit(browser, mfa, otc=next(guesses))
            if 'name="otc"' not in mfa.text:
                break
    assert "AADSTS50053" in mfa.text  # locked, by the codes
    again = submit(browser, browser.get(url), login=user.upn, passwd=user.password)
    assert 'name="otc"' not in again.text and "AADSTS50053" in again.text  # the right password no longer helps


def test_revoke_sign_in_sessions_ends_refresh_tokens_and_sso(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    """Graph's revokeSignInSessions, by an administrator for a user, and by a user for themselves."""
    base = f"{warden_server.endpoint}/{warden_server.tenant}"
    app = directory.app(web=REDIRECT, secret=True)

    def signed_in(user):  # type: ignore[no-untyped-def]
        client = _oauth_client(
            warden_server, app.client_id, REDIRECT, client_secret=app.secret, auth="client_secret_post"
        )
        verifier = secrets.token_urlsafe(48)
        url, _ = client.create_authorization_url(f"{base}/oauth2/v2.0/authorize", code_verifier=verifier)
        done = sign_in(browser, browser.get(url), user)
        token = client.fetch_token(
            f"{base}/oauth2/v2.0/token", authorization_response=done.headers["location"], code_verifier=verifier
        )
        return client, token, url

    def refresh(token: str) -> httpx.Response:
        return httpx.post(
            f"{base}/oauth2/v2.0/token",
            verify=warden_server.ssl_context(),
            data={
                "grant_type": "refresh_token",
                "client_id": app.client_id,
                "client_secret": app.secret,
                "refresh_token": token,
            },
        )

    user = directory.user()
    _client, token, url = signed_in(user)
    assert 'name="passwd"' not in browser.get(url).text  # SSO: the session signs the next request in
    with warden_server.client(scope="https://graph.microsoft.com/.default") as graph:
        answer = graph.post(f"/v1.0/users/{user.object_id}/revokeSignInSessions")
        assert answer.status_code == 200 and answer.json()["value"] is True
        audits = graph.get("/v1.0/auditLogs/directoryAudits", params={"$top": "20"}).json()["value"]
    assert any(
        a["activityDisplayName"] == "Invalidate all refresh tokens for user"
        and a["targetResources"][0]["id"] == user.object_id
        for a in audits
    )
    refused = refresh(token["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert 'name="passwd"' in browser.get(url).text  # the SSO session ended too

    # A user signs themselves out everywhere with their own token.
    browser.cookies.clear()
    other = directory.user()
    _client, token, _url = signed_in(other)
    me = httpx.post(
        f"{warden_server.endpoint}/v1.0/me/revokeSignInSessions",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        verify=warden_server.ssl_context(),
    )
    assert me.status_code == 200 and me.json()["value"] is True
    assert refresh(token["refresh_token"]).status_code == 400
    # A plain user may not revoke someone else's sessions.
    third = directory.user()
    _c, third_token, _u = signed_in(third)
    denied = httpx.post(
        f"{warden_server.endpoint}/v1.0/users/{third.object_id}/revokeSignInSessions",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        verify=warden_server.ssl_context(),
    )
    assert denied.status_code == 403
    assert refresh(third_token["refresh_token"]).status_code == 200  # untouched
