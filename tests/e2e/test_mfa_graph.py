"""MFA enrolment and admin views over Graph-shaped routes, with real user tokens from the sign-in
page (authorization code + PKCE with Authlib), then the enrolled methods used at the next sign-in.
Also: the tenant's directory settings (Global Administrator only) and admin unlock after a lockout.
"""

from __future__ import annotations

import base64
import secrets
import time

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from support.signin import query_of, submit
from support.webauthn_authenticator import SoftwareAuthenticator

pytestmark = pytest.mark.e2e
SPA = "https://spa.contoso.test/cb"
SETTINGS = "/v1.0/policies/warden/directorySettings"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"


def _authorize_page(server, browser, client_id: str) -> tuple[OAuth2Client, str, httpx.Response]:  # type: ignore[no-untyped-def]
    client = OAuth2Client(
        client_id, scope="openid User.Read", redirect_uri=SPA, code_challenge_method="S256", verify=server.ca
    )
    verifier = secrets.token_urlsafe(48)
    url, _state = client.create_authorization_url(
        f"{server.endpoint}/{server.tenant}/oauth2/v2.0/authorize", code_verifier=verifier, prompt="login"
    )
    return client, verifier, browser.get(url)


def _token(server, client: OAuth2Client, verifier: str, done: httpx.Response) -> str:  # type: ignore[no-untyped-def]
    query_of(done)  # a redirect carrying the code
    token = client.fetch_token(
        f"{server.endpoint}/{server.tenant}/oauth2/v2.0/token",
        authorization_response=done.headers["location"],
        code_verifier=verifier,
    )
    return token["access_token"]


def _graph(server, token: str) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(
        base_url=f"{server.endpoint}/v1.0",
        verify=server.ssl_context(),
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )


def _totp(seed: bytes, offset_steps: int = 0) -> str:
    from warden.identity.mfa.totp import totp

    return totp(seed, time.time() + 30 * offset_steps)


def test_user_enrols_totp_and_recovery_codes_and_signs_in_with_them(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    user = directory.user(mail="enrol@mail.test")
    app = directory.app(spa=SPA)
    client, verifier, page = _authorize_page(warden_server, browser, app.client_id)
    token = _token(warden_server, client, verifier, submit(browser, page, login=user.upn, passwd=user.password))
    with _graph(warden_server, token) as me:
        listed = me.get("/me/authentication/methods")
        assert listed.status_code == 200, listed.text
        assert [m["@odata.type"] for m in listed.json()["value"]] == [
            "#microsoft.graph.passwordAuthenticationMethod",
            "#microsoft.graph.emailAuthenticationMethod",
        ]
        enrolment = me.post("/me/authentication/softwareOathMethods", json={"displayName": "Phone"})
        assert enrolment.status_code == 201, enrolment.text
        body = enrolment.json()
        assert body["otpauthUri"].startswith(f"otpauth://totp/Warden:{user.upn}?secret={body['secretKey']}")
        seed = base64.b32decode(body["secretKey"] + "=" * (-len(body["secretKey"]) % 8))
        # Not a method until verified.
        assert me.get("/me/authentication/softwareOathMethods").json()["value"] == []
        wrong = me.post(
            f"/me/authentication/softwareOathMethods/{body['id']}/verify",
            json={"code": str((int(_totp(seed)) + 1) % 10**6).zfill(6)},
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "InvalidVerificationCode"
        assert "innerError" in wrong.json()["error"]
        verified = me.post(f"/me/authentication/softwareOathMethods/{body['id']}/verify", json={"code": _totp(seed)})
        assert verified.status_code == 200 and verified.json()["secretKey"] is None
        bad = me.post("/me/authentication/softwareOathMethods/not-a-guid/verify", json={"code": "1"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "Request_BadRequest"
        # Now that the user has an app, this password-only token may no longer change security info.
        stale = me.post("/me/authentication/recoveryCodes")
        assert stale.status_code == 403 and "multi-factor" in stale.json()["error"]["message"]
        assert me.delete(f"/me/authentication/softwareOathMethods/{body['id']}").status_code == 403

    # The next sign-in asks for a code: the enrolled app's next code works, the same code again does not.
    client, verifier, page = _authorize_page(warden_server, browser, app.client_id)
    mfa = submit(browser, page, login=user.upn, passwd=user.password)
    assert 'name="otc"' in mfa.text
    token = _token(warden_server, client, verifier, submit(browser, mfa, otc=_totp(seed, 1)))
    with _graph(warden_server, token) as me:
        codes = me.post("/me/authentication/recoveryCodes")
        assert codes.status_code == 201 and len(codes.json()["codes"]) == 10
        assert codes.headers["cache-control"] == "no-store"
        recovery = codes.json()["codes"]
    client, verifier, page = _authorize_page(warden_server, browser, app.client_id)
    mfa = submit(browser, page, login=user.upn, passwd=user.password)
    replay = submit(browser, mfa, otc=_totp(seed, 1))
    assert replay.status_code == 200 and "location" not in replay.headers  # refused: asked again
    token = _token(warden_server, client, verifier, submit(browser, replay, otc=recovery[0]))

    with _graph(warden_server, token) as me:
        listed = {m["@odata.type"]: m for m in me.get("/me/authentication/methods").json()["value"]}
        assert listed["#warden.recoveryCodeAuthenticationMethod"]["remainingCodes"] == 9
        oath = listed["#microsoft.graph.softwareOathAuthenticationMethod"]
        assert me.delete(f"/me/authentication/softwareOathMethods/{oath['id']}").status_code == 204
        assert me.delete(f"/me/authentication/softwareOathMethods/{oath['id']}").status_code == 404
        assert me.get("/me/authentication/softwareOathMethods").json()["value"] == []
    # An application's token has no "me" with methods.
    with warden_server.client() as app_client:
        refused = app_client.get("/v1.0/me/authentication/methods")
        # A user with methods (recovery codes left) can still be deleted; its methods go with it.
        deleted = app_client.delete(f"/v1.0/users/{user.object_id}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
    assert deleted.status_code == 204, deleted.text


def test_settings_lockout_and_unlock_by_an_administrator(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    nobody = warden_server.new_principal("mfa-no-role")
    user = directory.user()
    app = directory.app(spa=SPA)
    with warden_server.client() as admin, warden_server.client(nobody) as other:
        assert other.get(SETTINGS).status_code == 403
        assert other.patch(SETTINGS, json={"lockoutThreshold": 1}).status_code == 403
        assert other.get(f"/v1.0/users/{user.object_id}/authentication/methods").status_code == 403
        assert other.post(f"/v1.0/users/{user.object_id}/unlock").status_code == 403
        defaults = admin.get(SETTINGS)
        assert defaults.status_code == 200 and defaults.json()["lockoutThreshold"] == 10
        bad = admin.patch(SETTINGS, json={"lockoutThreshold": 3, "mfaRequirement": "sometimes"})
        assert bad.status_code == 400 and bad.json()["error"]["target"] == "mfaRequirement"
        assert admin.get(SETTINGS).json()["lockoutThreshold"] == 10  # nothing changed
        try:
            changed = admin.patch(SETTINGS, json={"lockoutThreshold": 3})
            assert changed.status_code == 200 and changed.json()["lockoutThreshold"] == 3
            for i in range(3):
                _client, _verifier, page = _authorize_page(warden_server, browser, app.client_id)
                submit(browser, page, login=user.upn, passwd=f"wrong password number {i}")
            _client, _verifier, page = _authorize_page(warden_server, browser, app.client_id)
            assert "AADSTS50053" in submit(browser, page, login=user.upn, passwd=user.password).text
            view = admin.get(f"/v1.0/users/{user.object_id}/authentication/signInLockout").json()
            assert view["isLockedOut"] is True and 0 < view["unfamiliarLocationLockoutSeconds"] <= 60
            assert admin.post(f"/v1.0/users/{user.object_id}/unlock").status_code == 204
            assert (
                admin.get(f"/v1.0/users/{user.object_id}/authentication/signInLockout").json()["isLockedOut"] is False
            )
            client, verifier, page = _authorize_page(warden_server, browser, app.client_id)
            assert _token(warden_server, client, verifier, submit(browser, page, login=user.upn, passwd=user.password))
            methods = admin.get(f"/v1.0/users/{user.object_id}/authentication/methods")
            assert [m["id"] for m in methods.json()["value"]] == ["28c10230-6103-485e-b985-444c60001490"]
            missing = admin.get("/v1.0/users/00000000-0000-0000-0000-000000000001/authentication/methods")
            assert missing.status_code == 404
        finally:
            admin.patch(SETTINGS, json={"lockoutThreshold": 10})


def test_user_registers_a_passkey_with_a_software_authenticator(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    user = directory.user()
    app = directory.app(spa=SPA)
    client, verifier, page = _authorize_page(warden_server, browser, app.client_id)
    token = _token(warden_server, client, verifier, submit(browser, page, login=user.upn, passwd=user.password))
    authenticator = SoftwareAuthenticator(warden_server.endpoint)
    with _graph(warden_server, token) as me:
        options = me.post("/me/authentication/fido2Methods/creationOptions")
        assert options.status_code == 200, options.text
        public_key = options.json()["publicKey"]
        assert public_key["rp"]["id"] == "127.0.0.1" and public_key["user"]["name"] == user.upn
        # A response made for another origin is refused and stores nothing.
        phished = authenticator.create(public_key, origin="https://login.evil.test")
        refused = me.post(
            "/me/authentication/fido2Methods",
            json={"challengeId": options.json()["challengeId"], "publicKeyCredential": phished},
        )
        assert refused.status_code == 400 and "did not verify" in refused.json()["error"]["message"]
        created = me.post(
            "/me/authentication/fido2Methods",
            json={
                "displayName": "Laptop",
                "challengeId": options.json()["challengeId"],
                "publicKeyCredential": authenticator.create(public_key),
            },
        )
        assert created.status_code == 201, created.text
        passkey = created.json()
        assert passkey["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod"
        assert passkey["displayName"] == "Laptop" and passkey["aaGuid"] == "01234567-89ab-cdef-0123-456789abcdef"
        assert [m["id"] for m in me.get("/me/authentication/fido2Methods").json()["value"]] == [passkey["id"]]
        # With a passkey registered, this password-only token may no longer change security info.
        again = me.post(
            "/me/authentication/fido2Methods",
            json={
                "challengeId": options.json()["challengeId"],
                "publicKeyCredential": authenticator.create(public_key),
            },
        )
        assert again.status_code == 403 and "multi-factor" in again.json()["error"]["message"]
        assert me.delete(f"/me/authentication/fido2Methods/{passkey['id']}").status_code == 403
        assert [m["id"] for m in me.get("/me/authentication/fido2Methods").json()["value"]] == [passkey["id"]]


def test_administrators_remove_a_users_authenticator_within_their_role(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    user = directory.user(mfa=True)
    admin_user = directory.user(mfa=True)
    helpdesk = warden_server.new_principal("mfa-helpdesk")
    with warden_server.client() as admin:
        for principal, role in ((helpdesk.object_id, USER_ADMINISTRATOR), (admin_user.object_id, GLOBAL_ADMINISTRATOR)):
            assigned = admin.post(
                "/v1.0/roleManagement/directory/roleAssignments",
                json={"principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/"},
            )
            assert assigned.status_code == 201, assigned.text
    with warden_server.client(helpdesk) as desk:
        listed = desk.get(f"/v1.0/users/{user.object_id}/authentication/methods").json()["value"]
        oath = [m for m in listed if m["@odata.type"] == "#microsoft.graph.softwareOathAuthenticationMethod"]
        assert len(oath) == 1
        # A User Administrator manages users without roles, not administrators.
        refused = desk.get(f"/v1.0/users/{admin_user.object_id}/authentication/methods")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
        assert (
            desk.delete(f"/v1.0/users/{user.object_id}/authentication/softwareOathMethods/{oath[0]['id']}").status_code
            == 204
        )
        after = desk.get(f"/v1.0/users/{user.object_id}/authentication/methods").json()["value"]
    assert [m["@odata.type"] for m in after] == ["#microsoft.graph.passwordAuthenticationMethod"]
