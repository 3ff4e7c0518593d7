"""Token issuing and validation on a real database and real keys (no HTTP)."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import insert

from warden.identity.principals import add_client_secret, authenticate_client, create_service_principal
from warden.kernel.clock import utcnow
from warden.kernel.errors import Unauthorized
from warden.kernel.schema import tenants
from warden.kernel.settings import Settings
from warden.platform import Platform

TENANT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def platform(tmp_path):  # type: ignore[no-untyped-def]
    p = Platform(Settings(data_dir=tmp_path, port=9443))
    p.db.migrate()
    p.keys.ensure_key()
    yield p
    p.stop()


@pytest.fixture
def principal(platform):  # type: ignore[no-untyped-def]
    with platform.db.write() as conn:
        conn.execute(insert(tenants).values(id=TENANT, display_name="test", created_at=utcnow()))
        return create_service_principal(conn, TENANT, "app")


def test_issued_token_carries_entra_claims_and_validates(platform, principal) -> None:  # type: ignore[no-untyped-def]
    body = platform.tokens.issue(principal, "https://management.azure.com/")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], platform.keys.keyset()).claims
    assert claims["iss"] == f"https://127.0.0.1:9443/{TENANT}/v2.0"
    assert claims["aud"] == "https://management.azure.com/"
    assert claims["oid"] == claims["sub"] == principal.object_id and claims["appid"] == principal.app_id
    assert claims["tid"] == TENANT and claims["exp"] - claims["iat"] == 3600 and claims["nbf"] <= time.time()
    caller = platform.tokens.validate(body["access_token"])
    assert (caller.object_id, caller.tenant_id) == (principal.object_id, TENANT)


@pytest.mark.parametrize(
    "scope",
    [
        "https://management.azure.com/.default",
        "https://monitor.azure.com//.default",
        "https://api.loganalytics.io/.default",
        "https://graph.microsoft.com/.default",
        "https://127.0.0.1:9443/.default",
    ],
)
def test_every_served_audience_is_accepted(platform, principal, scope) -> None:  # type: ignore[no-untyped-def]
    audience = platform.tokens.audience_for_scope(scope)
    assert audience is not None
    assert (
        platform.tokens.validate(platform.tokens.issue(principal, audience)["access_token"]).app_id == principal.app_id
    )


def test_foreign_audience_scope_is_not_served(platform) -> None:  # type: ignore[no-untyped-def]
    assert platform.tokens.audience_for_scope("https://vault.azure.net/.default") is None
    assert platform.tokens.audience_for_scope("openid") is None


def _forge(platform, claims, key=None) -> str:  # type: ignore[no-untyped-def]
    signing = key or platform.keys.signing_key()
    return jwt.encode({"alg": "RS256", "kid": signing.kid}, claims, signing)


def _claims(principal, **overrides):  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {
        "iss": f"https://127.0.0.1:9443/{TENANT}/v2.0",
        "aud": "https://management.azure.com/",
        "oid": principal.object_id,
        "sub": principal.object_id,
        "tid": TENANT,
        "appid": principal.app_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return {**claims, **overrides}


def test_bad_tokens_are_refused(platform, principal) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    cases = {
        "ExpiredAuthenticationToken": _forge(platform, _claims(principal, exp=now - 3600)),
        "InvalidAuthenticationTokenAudience": _forge(platform, _claims(principal, aud="https://vault.azure.net")),
        "InvalidAuthenticationTokenTenant": _forge(platform, _claims(principal, iss="https://evil/issuer")),
        "InvalidAuthenticationToken": _forge(
            platform, _claims(principal), RSAKey.generate_key(2048, parameters={"kid": platform.keys.signing_key().kid})
        ),
    }
    for code, token in cases.items():
        with pytest.raises(Unauthorized) as refused:
            platform.tokens.validate(token)
        assert refused.value.code == code
    with pytest.raises(Unauthorized):
        platform.tokens.validate("a.b.c")


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(platform, principal, tmp_path) -> None:  # type: ignore[no-untyped-def]
    old_token = platform.tokens.issue(principal, "https://management.azure.com/")["access_token"]
    old_kid = platform.keys.signing_key().kid
    new_kid = platform.keys.rotate()
    assert new_kid != old_kid
    # A second process (fresh caches) sees the rotation at once.
    other = Platform(Settings(data_dir=tmp_path, port=9443))
    try:
        assert {k["kid"] for k in other.keys.jwks()["keys"]} == {old_kid, new_kid}
        new_token = other.tokens.issue(principal, "https://management.azure.com/")["access_token"]
        assert jwt.decode(new_token, other.keys.keyset()).header["kid"] == new_kid
        assert other.tokens.validate(old_token).object_id == principal.object_id
        assert other.tokens.validate(new_token).object_id == principal.object_id
    finally:
        other.stop()


def test_client_secrets_are_stored_hashed(platform, principal) -> None:  # type: ignore[no-untyped-def]
    with platform.db.write() as conn:
        secret = add_client_secret(conn, principal.object_id)
    with platform.db.read() as conn:
        stored = conn.exec_driver_sql("SELECT secret_hash FROM client_secrets").scalar_one()
        assert secret.secret_text not in stored
        assert authenticate_client(conn, TENANT, principal.app_id, secret.secret_text) == principal
        assert authenticate_client(conn, TENANT, principal.app_id, secret.secret_text + "x") is None
        assert authenticate_client(conn, "other-tenant", principal.app_id, secret.secret_text) is None


def test_server_certificate_covers_the_configured_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509

    from warden.bootstrap import initialize

    settings = Settings(data_dir=tmp_path, host="0.0.0.0", public_endpoint="https://warden.example.test:9443")
    result = initialize(settings)
    assert result.created and result.bootstrap["endpoint"] == "https://warden.example.test:9443"
    cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "warden.example.test"} <= set(names.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert (tmp_path / "bootstrap.json").stat().st_mode & 0o777 == 0o600
    again = initialize(settings)
    assert not again.created and again.bootstrap == result.bootstrap  # secrets never overwritten
