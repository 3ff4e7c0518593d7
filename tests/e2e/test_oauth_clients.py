"""Real Microsoft clients against the token endpoint: MSAL confidential client (secret and
certificate assertion), azure-identity, MSAL device flow completed through /devicelogin, and a
user's token used against ARM under an RBAC role assigned to the user."""

from __future__ import annotations

import datetime
import threading
import time
import uuid

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from sqlalchemy import select, update

from support.server import ARM_SCOPE, READER
from support.signin import sign_in, submit
from warden.identity.credentials import add_certificate
from warden.identity.oauth.clients import CLI_CLIENT_ID
from warden.identity.principals import get_principal
from warden.identity.schema import device_codes, signin_events


def _session(server) -> requests.Session:  # type: ignore[no-untyped-def]
    session = requests.Session()
    session.verify = server.ca
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides verify
    return session


def _authority(server) -> str:  # type: ignore[no-untyped-def]
    return f"{server.endpoint}/{server.tenant}"


def _certificate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warden-test-client")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_msal_client_credentials_with_secret_and_certificate(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    app = directory.app(secret=True)
    with_secret = msal.ConfidentialClientApplication(
        app.client_id,
        client_credential=app.secret,
        authority=_authority(warden_server),
        instance_discovery=False,
        http_client=_session(warden_server),
    )
    result = with_secret.acquire_token_for_client(scopes=[ARM_SCOPE])
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], warden_server_keys(warden_server)).claims["idtyp"] == "app"

    key_pem, cert_pem = _certificate()
    certificate = x509.load_pem_x509_certificate(cert_pem.encode())

    def add(conn):  # type: ignore[no-untyped-def]
        principal = get_principal(conn, app_id=app.client_id)
        return add_certificate(conn, warden_server.tenant, principal.object_id, cert_pem, "test cert")

    directory.run(add)
    with_certificate = msal.ConfidentialClientApplication(
        app.client_id,
        client_credential={"private_key": key_pem, "thumbprint": certificate.fingerprint(hashes.SHA1()).hex()},
        authority=_authority(warden_server),
        instance_discovery=False,
        http_client=_session(warden_server),
    )
    result = with_certificate.acquire_token_for_client(scopes=[ARM_SCOPE])
    assert "access_token" in result, result
    # A certificate that was never registered is refused with invalid_client.
    other_key, other_cert = _certificate()
    stranger = msal.ConfidentialClientApplication(
        app.client_id,
        client_credential={
            "private_key": other_key,
            "thumbprint": x509.load_pem_x509_certificate(other_cert.encode()).fingerprint(hashes.SHA1()).hex(),
        },
        authority=_authority(warden_server),
        instance_discovery=False,
        http_client=_session(warden_server),
    )
    refused = stranger.acquire_token_for_client(scopes=[ARM_SCOPE])
    assert refused.get("error") == "invalid_client" and 700027 in refused["error_codes"]
    # Service-principal sign-ins are logged, non-interactive, successes and failures.
    with directory.db.read() as conn:
        records = (
            conn.execute(select(signin_events.c.record).where(signin_events.c.app_id == app.client_id)).scalars().all()
        )
    kinds = {(r["clientCredentialType"], r["status"]["errorCode"]) for r in records}
    assert {("clientSecret", 0), ("clientAssertion", 0), ("clientAssertion", 700027)} <= kinds
    assert all(r["isInteractive"] is False and r["signInEventTypes"] == ["servicePrincipal"] for r in records)


def test_client_assertion_replay_and_audience(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    import base64

    from joserfc.jwk import RSAKey

    app = directory.app(secret=True)
    key_pem, cert_pem = _certificate()
    certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    directory.run(
        lambda conn: add_certificate(
            conn, warden_server.tenant, get_principal(conn, app_id=app.client_id).object_id, cert_pem
        )
    )
    token_url = f"{_authority(warden_server)}/oauth2/v2.0/token"
    x5t = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA256())).rstrip(b"=").decode()

    def assertion(audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": app.client_id,
            "sub": app.client_id,
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "exp": now + 600,
        }
        return jwt.encode({"alg": "RS256", "x5t#S256": x5t}, claims, RSAKey.import_key(key_pem))

    def grant(signed: str) -> httpx.Response:
        return httpx.post(
            token_url,
            verify=warden_server.ssl_context(),
            data={
                "grant_type": "client_credentials",
                "client_id": app.client_id,
                "scope": ARM_SCOPE,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed,
            },
        )

    once = assertion(token_url)
    assert grant(once).status_code == 200
    replay = grant(once)
    assert replay.status_code == 401 and replay.json()["error_codes"] == [7000274]
    wrong_audience = grant(assertion("https://login.microsoftonline.com/other/oauth2/v2.0/token"))
    assert wrong_audience.status_code == 401 and wrong_audience.json()["error"] == "invalid_client"


def warden_server_keys(server):  # type: ignore[no-untyped-def]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(
        httpx.get(f"{_authority(server)}/discovery/v2.0/keys", verify=server.ssl_context()).json()
    )


def test_azure_identity_client_secret_credential(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    app = directory.app(secret=True)
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        warden_server.tenant,
        app.client_id,
        app.secret,
        authority=warden_server.endpoint,
        disable_instance_discovery=True,
        connection_verify=warden_server.ca,
    )
    token = credential.get_token(ARM_SCOPE)
    assert token.token and token.expires_on > time.time()


def _complete_device_login(server, user, message: str, errors: list) -> None:  # type: ignore[no-untyped-def]
    """What the user does in a browser: open /devicelogin, type the code, password, TOTP."""
    try:
        code = message.split("enter the code ")[1].split()[0]
        with httpx.Client(base_url=server.endpoint, verify=server.ssl_context(), timeout=30) as browser:
            page = browser.get("/devicelogin")
            signin = submit(browser, page, otc=code.lower())  # codes are case-insensitive
            assert 'name="passwd"' in signin.text, signin.text
            done = sign_in(browser, signin, user)
            assert "You have signed in to the application on your device" in done.text, done.text
    except Exception as error:  # reported by the main thread
        errors.append(error)


def test_msal_device_flow_with_password_and_totp(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    user = directory.user(mfa=True)
    # The first-party CLI client id is a public client in every tenant.
    app = msal.PublicClientApplication(
        CLI_CLIENT_ID,
        authority=_authority(warden_server),
        instance_discovery=False,
        http_client=_session(warden_server),
    )
    flow = app.initiate_device_flow(scopes=[ARM_SCOPE])
    assert flow["verification_uri"] == f"{warden_server.endpoint}/devicelogin" and flow["interval"] == 5
    assert flow["user_code"] in flow["message"]
    errors: list = []
    worker = threading.Thread(target=_complete_device_login, args=(warden_server, user, flow["message"], errors))
    worker.start()
    result = app.acquire_token_by_device_flow(flow)
    worker.join()
    assert not errors, errors
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], warden_server_keys(warden_server)).claims
    assert claims["oid"] == user.object_id and claims["amr"] == ["pwd", "mfa"] and claims["idtyp"] == "user"
    assert claims["aud"] == "https://management.azure.com" and claims["scp"] == "user_impersonation"
    assert result["refresh_token"] and result["id_token_claims"]["preferred_username"] == user.upn
    # MSAL keeps the account; a silent call refreshes through the refresh token.
    account = app.get_accounts()[0]
    silent = app.acquire_token_silent([ARM_SCOPE], account=account, force_refresh=True)
    assert silent and "access_token" in silent and silent["access_token"] != result["access_token"]


def test_device_code_pending_slow_down_denied_and_expired(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    base = _authority(warden_server)
    start = httpx.post(
        f"{base}/oauth2/v2.0/devicecode",
        verify=warden_server.ssl_context(),
        data={"client_id": CLI_CLIENT_ID, "scope": ARM_SCOPE},
    ).json()

    def poll() -> httpx.Response:
        return httpx.post(
            f"{base}/oauth2/v2.0/token",
            verify=warden_server.ssl_context(),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "client_id": CLI_CLIENT_ID,
                "device_code": start["device_code"],
            },
        )

    first, second = poll(), poll()
    assert first.status_code == 400 and first.json()["error"] == "authorization_pending"
    assert first.json()["error_codes"] == [70016]
    assert second.json()["error"] == "slow_down"
    directory.run(
        lambda conn: conn.execute(
            update(device_codes)
            .where(device_codes.c.user_code == start["user_code"])
            .values(expires_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1))
        )
    )
    expired = poll()
    assert expired.json()["error"] == "expired_token" and expired.json()["error_codes"] == [70019]
    # An unknown code at /devicelogin is refused on the page.
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as browser:
        page = browser.get("/devicelogin")
        assert "didn&#x27;t work" in submit(browser, page, otc=start["user_code"]).text
    # The user can decline at /devicelogin: the device gets access_denied.
    declined = httpx.post(
        f"{base}/oauth2/v2.0/devicecode",
        verify=warden_server.ssl_context(),
        data={"client_id": CLI_CLIENT_ID, "scope": ARM_SCOPE},
    ).json()
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as browser:
        signin = submit(browser, browser.get("/devicelogin"), otc=declined["user_code"])
        assert "Sign-in cancelled" in submit(browser, signin, step="deny").text
    denied = httpx.post(
        f"{base}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": CLI_CLIENT_ID,
            "device_code": declined["device_code"],
        },
    )
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"
    # A confidential-only application cannot start a device flow.
    web_only = directory.app(web="https://web.contoso.test/cb", secret=True)
    refused = httpx.post(
        f"{base}/oauth2/v2.0/devicecode",
        verify=warden_server.ssl_context(),
        data={"client_id": web_only.client_id, "scope": ARM_SCOPE},
    )
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"


def test_user_token_works_against_arm_with_the_users_role(warden_server, directory) -> None:  # type: ignore[no-untyped-def]
    user = directory.user()
    app = directory.app(public="http://localhost:8400", fallback_public=True)
    base = _authority(warden_server)
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), timeout=30) as browser:
        from support.signin import pkce_pair, query_of

        verifier, challenge = pkce_pair()
        page = browser.get(
            f"/{warden_server.tenant}/oauth2/v2.0/authorize",
            params={
                "client_id": app.client_id,
                "response_type": "code",
                "redirect_uri": app.redirect_uri,
                "scope": ARM_SCOPE + " offline_access",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        code = query_of(sign_in(browser, page, user))["code"]
    token = httpx.post(
        f"{base}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "code": code,
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
            "scope": ARM_SCOPE,
        },
    ).json()["access_token"]
    sub = warden_server.sub_scope()
    with httpx.Client(
        base_url=warden_server.endpoint,
        verify=warden_server.ssl_context(),
        headers={"Authorization": f"Bearer {token}"},
    ) as as_user:
        before = as_user.get(f"{sub}/resourcegroups", params={"api-version": "2021-04-01"})
        assert before.status_code == 403, before.text
        with warden_server.client() as admin:
            assigned = admin.put(
                f"{sub}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                params={"api-version": "2022-04-01"},
                json={
                    "properties": {
                        "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                        "principalId": user.object_id,
                        "principalType": "User",
                    }
                },
            )
            assert assigned.status_code == 201, assigned.text
        after = as_user.get(f"{sub}/resourcegroups", params={"api-version": "2021-04-01"})
        assert after.status_code == 200, after.text
        write = as_user.put(
            f"{sub}/resourcegroups/rg-user-{uuid.uuid4().hex[:6]}",
            params={"api-version": "2021-04-01"},
            json={"location": "westeurope"},
        )
        assert write.status_code == 403  # Reader only
