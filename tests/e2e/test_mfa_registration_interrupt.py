"""Entra's "More information required" interrupt: a tenant requires MFA, a user without a method
signs in with the password, adds an authenticator app on the sign-in page, and the code that proves
it completes the sign-in as multi-factor (authorization code + PKCE with Authlib, and the device
code flow at /devicelogin). The registration is bound to its one-time challenge, IP and expiry."""

from __future__ import annotations

import base64
import datetime
import re
import secrets
import time
import uuid
from html import unescape

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import insert, select, update

from support.server import ARM_SCOPE
from support.signin import Directory, form_of, query_of, submit
from warden.identity.directory_roles import assign_role
from warden.identity.mfa.totp import totp
from warden.identity.oauth.clients import CLI_CLIENT_ID, find_client
from warden.identity.oauth.signin import password_step
from warden.identity.oauth.signin_log import NATIVE, Attempt
from warden.identity.schema import auth_methods, directory_audit_events, lockout_states, otp_challenges, signin_events
from warden.identity.tenant_settings import update_settings
from warden.identity.users import create_user
from warden.kernel.clock import utcnow
from warden.kernel.schema import tenants
from warden.kernel.settings import Settings
from warden.platform import Platform

pytestmark = pytest.mark.e2e
SPA = "https://spa.contoso.test/cb"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
_SECRET = re.compile(r'<code id="secret">([A-Z2-7]+)</code>')
_URI = re.compile(r'<code id="otpauth"[^>]*>([^<]+)</code>')


def _tenant(directory: Directory, requirement: str) -> str:
    tenant_id = str(uuid.uuid4())

    def create(conn):  # type: ignore[no-untyped-def]
        conn.execute(insert(tenants).values(id=tenant_id, display_name="mfa tenant", created_at=utcnow()))
        update_settings(conn, tenant_id, {"mfaRequirement": requirement})

    directory.run(create)
    return tenant_id


def _seed(page: httpx.Response) -> tuple[str, bytes]:
    """The base32 key shown on the registration page, and the seed it encodes (checked against the URI)."""
    key = _SECRET.search(page.text)
    uri = _URI.search(page.text)
    assert key is not None and uri is not None, page.text
    assert unescape(uri.group(1)).startswith("otpauth://totp/Warden:") and f"secret={key.group(1)}&" in unescape(
        uri.group(1)
    )
    return key.group(1), base64.b32decode(key.group(1) + "=" * (-len(key.group(1)) % 8))


def _wrong(seed: bytes, exclude: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """A six-digit code that no step in the accepted window (±1) matches."""
    valid = {totp(seed, time.time() + 30 * k) for k in (-2, -1, 0, 1, 2)} | set(exclude)
    return next(c for c in (f"{secrets.randbelow(10**6):06d}" for _ in range(100)) if c not in valid)


def _methods(directory: Directory, user_id: str) -> list[tuple[str, bool]]:
    with directory.db.read() as conn:
        rows = conn.execute(
            select(auth_methods.c.method_type, auth_methods.c.verified).where(auth_methods.c.user_id == user_id)
        ).all()
    return [(r.method_type, r.verified) for r in rows]


def _registered_audits(directory: Directory, tenant: str) -> list[dict]:
    with directory.db.read() as conn:
        return [
            r.record
            for r in conn.execute(
                select(directory_audit_events).where(
                    directory_audit_events.c.tenant_id == tenant,
                    directory_audit_events.c.activity == "User registered security info",
                )
            ).all()
        ]


def test_new_user_registers_an_authenticator_app_and_signs_in_with_mfa(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = _tenant(directory, "everyone")
    app = directory.app(spa=SPA, tenant=tenant)
    user = directory.user(tenant=tenant)
    base = f"{warden_server.endpoint}/{tenant}"
    client = OAuth2Client(
        app.client_id, scope="openid User.Read", redirect_uri=SPA, code_challenge_method="S256", verify=warden_server.ca
    )
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, _state = client.create_authorization_url(f"{base}/oauth2/v2.0/authorize", code_verifier=verifier, nonce=nonce)

    interrupt = submit(browser, browser.get(url), login=user.upn, passwd=user.password)
    assert interrupt.status_code == 200 and "location" not in interrupt.headers
    assert "More information required" in interrupt.text and "AADSTS50072" not in interrupt.text
    assert "frame-ancestors 'none'" in interrupt.headers["content-security-policy"] and "<img" not in interrupt.text
    _action, hidden = form_of(interrupt)
    assert hidden["step"] == "mfaRegistration" and hidden["csrf"] and hidden["challenge"]
    key, seed = _seed(interrupt)
    # Nothing is usable before the code proves the app has the key.
    assert _methods(directory, user.object_id) == [("softwareOath", False)]
    with directory.db.read() as conn:
        challenge = conn.execute(select(otp_challenges).where(otp_challenges.c.id == hidden["challenge"])).one()
    assert (challenge.purpose, challenge.user_id, challenge.tenant_id) == ("mfaRegistration", user.object_id, tenant)
    assert challenge.state["ip"] == "127.0.0.1"
    lifetime = challenge.expires_at - challenge.created_at
    assert datetime.timedelta(minutes=9) < lifetime <= datetime.timedelta(minutes=10)

    # A post without the CSRF field is refused and changes nothing.
    no_csrf = browser.post(_action, data={**hidden, "csrf": "x", "otc": totp(seed, time.time())})
    assert no_csrf.status_code == 400 and "expired" in no_csrf.text

    wrong = submit(browser, interrupt, otc=_wrong(seed))
    assert "AADSTS500121" in wrong.text and "More information required" in wrong.text
    assert _seed(wrong)[0] == key  # the same key is shown again
    with directory.db.read() as conn:
        attempts = conn.execute(
            select(otp_challenges.c.attempts).where(otp_challenges.c.id == hidden["challenge"])
        ).scalar()
        failures = sum(
            s["failures"]
            for s in conn.execute(
                select(lockout_states.c.state).where(lockout_states.c.user_id == user.object_id)
            ).scalars()
        )
        failed = conn.execute(
            select(signin_events.c.record).where(
                signin_events.c.user_id == user.object_id, signin_events.c.status_code == 500121
            )
        ).scalars()
        assert attempts == 1 and failures == 1 and len(list(failed)) == 1
    assert _methods(directory, user.object_id) == [("softwareOath", False)]

    done = submit(browser, wrong, otc=totp(seed, time.time()))
    assert query_of(done)["code"]
    token = client.fetch_token(
        f"{base}/oauth2/v2.0/token", authorization_response=done.headers["location"], code_verifier=verifier
    )
    jwks = KeySet.import_key_set(browser.get(f"/{tenant}/discovery/v2.0/keys").json())
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256"]).claims
    assert claims["amr"] == ["pwd", "mfa"] and claims["oid"] == user.object_id and claims["nonce"] == nonce

    # The method is verified and listed; the counters are cleared; the sign-in and audit are recorded.
    assert _methods(directory, user.object_id) == [("softwareOath", True)]
    with httpx.Client(
        base_url=f"{warden_server.endpoint}/v1.0",
        verify=warden_server.ssl_context(),
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ) as me:
        listed = me.get("/me/authentication/methods")
    assert listed.status_code == 200, listed.text
    assert [m["@odata.type"] for m in listed.json()["value"]] == [
        "#microsoft.graph.passwordAuthenticationMethod",
        "#microsoft.graph.softwareOathAuthenticationMethod",
    ]
    with directory.db.read() as conn:
        states = conn.execute(select(lockout_states.c.state).where(lockout_states.c.user_id == user.object_id))
        assert all(s["failures"] == 0 for s in states.scalars())
        success = conn.execute(
            select(signin_events.c.record).where(
                signin_events.c.user_id == user.object_id, signin_events.c.status_code == 0
            )
        ).scalars()
        records = list(success)
    assert len(records) == 1 and records[0]["authenticationRequirement"] == "multiFactorAuthentication"
    assert records[0]["mfaDetail"]["authMethod"] == "OATH verification code"
    [audit] = _registered_audits(directory, tenant)
    assert audit["category"] == "UserManagement" and audit["targetResources"][0]["id"] == user.object_id
    assert audit["initiatedBy"]["user"]["id"] == user.object_id and audit["result"] == "success"

    # The challenge is spent: posting the next code to it again does not sign in.
    replay = submit(browser, interrupt, otc=totp(seed, time.time() + 30))
    assert "timed out" in replay.text and "location" not in replay.headers

    # The next sign-in asks for a code from the app, not for registration.
    url, _state = client.create_authorization_url(
        f"{base}/oauth2/v2.0/authorize", code_verifier=verifier, prompt="login"
    )
    second = submit(browser, browser.get(url), login=user.upn, passwd=user.password)
    assert "Enter code" in second.text and "More information required" not in second.text
    assert form_of(second)[1]["step"] == "mfa" and key not in second.text
    assert query_of(submit(browser, second, otc=totp(seed, time.time() + 30)))["code"]
    assert len(_registered_audits(directory, tenant)) == 1


def test_registration_challenge_is_bound_to_its_id_ip_expiry_and_attempts(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = _tenant(directory, "everyone")
    app = directory.app(spa=SPA, tenant=tenant)
    user = directory.user(tenant=tenant)
    client = OAuth2Client(app.client_id, scope="openid", redirect_uri=SPA, code_challenge_method="S256")
    url, _state = client.create_authorization_url(
        f"{warden_server.endpoint}/{tenant}/oauth2/v2.0/authorize", code_verifier=secrets.token_urlsafe(48)
    )
    interrupt = submit(browser, browser.get(url), login=user.upn, passwd=user.password)
    _key, seed = _seed(interrupt)
    challenge = form_of(interrupt)[1]["challenge"]

    def refused(answer: httpx.Response) -> None:
        assert "timed out" in answer.text and 'name="passwd"' in answer.text and "location" not in answer.headers

    # A forged challenge id, and the registration challenge posted to the MFA step.
    refused(submit(browser, interrupt, challenge=str(uuid.uuid4()), otc=totp(seed, time.time())))
    refused(submit(browser, interrupt, step="mfa", otc=totp(seed, time.time())))
    # The same browser (cookies, CSRF field) from another address.
    other = httpx.Client(
        base_url=warden_server.endpoint,
        transport=httpx.HTTPTransport(local_address="127.0.0.2", verify=warden_server.ssl_context()),
        cookies=browser.cookies,
    )
    with other:
        refused(submit(other, interrupt, otc=totp(seed, time.time())))

    # Expired.
    def expire(conn):  # type: ignore[no-untyped-def]
        conn.execute(
            update(otp_challenges)
            .where(otp_challenges.c.id == challenge)
            .values(expires_at=utcnow() - datetime.timedelta(seconds=1))
        )

    directory.run(expire)
    refused(submit(browser, interrupt, otc=totp(seed, time.time())))
    assert _methods(directory, user.object_id) == [("softwareOath", False)]

    # A new sign-in starts a new registration with a new key; five wrong codes use it up.
    again = submit(browser, browser.get(url), login=user.upn, passwd=user.password)
    _key2, seed2 = _seed(again)
    assert seed2 != seed
    page, tried = again, set()
    for _ in range(5):
        code = _wrong(seed2, tried)
        tried.add(code)
        page = submit(browser, page, otc=code)
        assert "AADSTS500121" in page.text
    refused(submit(browser, page, otc=totp(seed2, time.time())))
    assert _methods(directory, user.object_id) == [("softwareOath", False)]
    assert _registered_audits(directory, tenant) == []
    with directory.db.read() as conn:
        failures = sum(
            s["failures"]
            for s in conn.execute(
                select(lockout_states.c.state).where(lockout_states.c.user_id == user.object_id)
            ).scalars()
        )
    assert failures == 5


def test_device_code_sign_in_of_a_privileged_user_goes_through_registration(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    tenant = _tenant(directory, "privilegedRoles")
    admin = directory.user(tenant=tenant)
    directory.run(lambda conn: assign_role(conn, tenant, USER_ADMINISTRATOR, admin.object_id))
    base = f"{warden_server.endpoint}/{tenant}"
    started = httpx.post(
        f"{base}/oauth2/v2.0/devicecode",
        verify=warden_server.ssl_context(),
        data={"client_id": CLI_CLIENT_ID, "scope": ARM_SCOPE},
    )
    assert started.status_code == 200, started.text
    flow = started.json()
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), timeout=60) as browser:
        signin = submit(browser, browser.get("/devicelogin"), otc=flow["user_code"])
        interrupt = submit(browser, signin, login=admin.upn, passwd=admin.password)
        assert "More information required" in interrupt.text, interrupt.text
        _key, seed = _seed(interrupt)
        done = submit(browser, interrupt, otc=totp(seed, time.time()))
        assert "You have signed in to the application on your device" in done.text, done.text
    token = httpx.post(
        f"{base}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": CLI_CLIENT_ID,
            "device_code": flow["device_code"],
        },
    )
    assert token.status_code == 200, token.text
    jwks = KeySet.import_key_set(httpx.get(f"{base}/discovery/v2.0/keys", verify=warden_server.ssl_context()).json())
    claims = jwt.decode(token.json()["access_token"], jwks, algorithms=["RS256"]).claims
    assert claims["oid"] == admin.object_id and claims["amr"] == ["pwd", "mfa"]
    assert _methods(directory, admin.object_id) == [("softwareOath", True)]
    # In the same tenant a user without a directory role is not interrupted.
    plain = directory.user(tenant=tenant)
    second = httpx.post(
        f"{base}/oauth2/v2.0/devicecode",
        verify=warden_server.ssl_context(),
        data={"client_id": CLI_CLIENT_ID, "scope": ARM_SCOPE},
    ).json()
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), timeout=60) as browser:
        signin = submit(browser, browser.get("/devicelogin"), otc=second["user_code"])
        done = submit(browser, signin, login=plain.upn, passwd=plain.password)
        assert "You have signed in to the application on your device" in done.text, done.text
    assert _methods(directory, plain.object_id) == []


def test_a_caller_that_cannot_show_a_page_still_gets_aadsts50072(tmp_path) -> None:  # type: ignore[no-untyped-def]
    platform = Platform(Settings(data_dir=tmp_path, port=9443))
    try:
        platform.db.migrate()
        tenant = str(uuid.uuid4())
        with platform.db.write() as conn:
            conn.execute(insert(tenants).values(id=tenant, display_name="t", created_at=utcnow()))
            update_settings(conn, tenant, {"mfaRequirement": "everyone"})
            user = create_user(conn, tenant, "nomfa@contoso.test", "No MFA", password="correct horse battery staple 42")
            client = find_client(conn, CLI_CLIENT_ID)
        assert client is not None
        attempt = Attempt(tenant, client, "127.0.0.1", "pytest", NATIVE)
        refused = password_step(
            platform, attempt, user.user_principal_name, "correct horse battery staple 42", can_register=False
        )
        assert refused.error == 50072 and refused.mfa == "none"
        interrupted = password_step(platform, attempt, user.user_principal_name, "correct horse battery staple 42")
        assert interrupted.error == 0 and interrupted.mfa == "register" and interrupted.user is not None
        with platform.db.read() as conn:
            codes = conn.execute(select(signin_events.c.status_code).where(signin_events.c.user_id == user.object_id))
            assert list(codes.scalars()) == [50072]  # the interrupted attempt is logged when it ends, not here
    finally:
        platform.stop()
