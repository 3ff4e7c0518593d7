"""Codes, refresh-token families, device codes and user tokens on a real database (no HTTP)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from warden.identity import pkce
from warden.identity.oauth import device, refresh
from warden.identity.oauth.clients import CLI_CLIENT_ID, is_loopback_redirect
from warden.identity.oauth.codes import family_for, issue_code, redeem_code
from warden.identity.oauth.errors import OAuthError, hash_bearer
from warden.identity.schema import refresh_tokens
from warden.identity.tokens import UserGrant
from warden.kernel.clock import utcnow
from warden.kernel.schema import tenants
from warden.kernel.settings import Settings
from warden.platform import Platform

TENANT = "11111111-2222-3333-4444-555555555555"
USER = "99999999-8888-7777-6666-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def platform(tmp_path):  # type: ignore[no-untyped-def]
    p = Platform(Settings(data_dir=tmp_path, port=9443))
    p.db.migrate()
    p.keys.ensure_key()
    with p.db.write() as conn:
        conn.execute(insert(tenants).values(id=TENANT, display_name="t", created_at=utcnow()))
    yield p
    p.stop()


def _code(conn, challenge: str | None = None) -> str:  # type: ignore[no-untyped-def]
    return issue_code(
        conn,
        tenant_id=TENANT,
        client_id=CLIENT,
        user_id=USER,
        redirect_uri="https://app/cb",
        scope="openid offline_access",
        code_challenge=challenge,
        code_challenge_method="S256" if challenge else None,
        nonce="n",
        session_id=None,
        auth_time=utcnow(),
        amr=["pwd"],
    )


def _refresh(conn, family: str) -> str:  # type: ignore[no-untyped-def]
    return refresh.issue_refresh_token(
        conn,
        family_id=family,
        tenant_id=TENANT,
        client_id=CLIENT,
        user_id=USER,
        scope="openid offline_access",
        session_id=None,
        auth_time=utcnow(),
        amr=["pwd"],
    )


def test_code_is_single_use_and_reuse_revokes_its_family(platform) -> None:  # type: ignore[no-untyped-def]
    verifier = "v" * 43
    with platform.db.write() as conn:
        code = _code(conn, pkce.code_challenge(verifier))
        redeemed = redeem_code(conn, TENANT, code, CLIENT, "https://app/cb", verifier)
        assert redeemed.family_id == family_for(hash_bearer(code)) and redeemed.amr == ("pwd",)
        token = _refresh(conn, redeemed.family_id)
    with platform.db.write() as conn, pytest.raises(OAuthError) as reused:
        redeem_code(conn, TENANT, code, CLIENT, "https://app/cb", verifier)
    assert reused.value.code == 54005
    with platform.db.read() as conn:
        row = conn.execute(select(refresh_tokens).where(refresh_tokens.c.token_hash == hash_bearer(token))).first()
    assert row.revoked_at is not None  # committed by the caller's transaction before the refusal


@pytest.mark.parametrize(
    ("client", "redirect", "verifier", "expected"),
    [
        (CLIENT, "https://app/other", "v" * 43, 50011),
        ("bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee", "https://app/cb", "v" * 43, 70000),
        (CLIENT, "https://app/cb", "w" * 43, 501481),
        (CLIENT, "https://app/cb", None, 501481),
    ],
)
def test_code_bound_to_client_redirect_and_verifier(platform, client, redirect, verifier, expected) -> None:  # type: ignore[no-untyped-def]
    with platform.db.write() as conn:
        code = _code(conn, pkce.code_challenge("v" * 43))
    with platform.db.write() as conn, pytest.raises(OAuthError) as refused:
        redeem_code(conn, TENANT, code, client, redirect, verifier)
    assert refused.value.code == expected and refused.value.error == "invalid_grant"


def test_refresh_rotation_and_reuse_detection(platform) -> None:  # type: ignore[no-untyped-def]
    with platform.db.write() as conn:
        first = _refresh(conn, "f" * 8 + "-0000-0000-0000-000000000000")
        grant = refresh.rotate(conn, TENANT, first, CLIENT)
        second = _refresh(conn, grant.family_id)
        assert not grant.fixed_lifetime
    with platform.db.write() as conn, pytest.raises(OAuthError) as reused:
        refresh.rotate(conn, TENANT, first, CLIENT)
    assert reused.value.code == 70008
    with platform.db.write() as conn, pytest.raises(OAuthError):
        refresh.rotate(conn, TENANT, second, CLIENT)  # the family is gone with the reuse
    with platform.db.write() as conn, pytest.raises(OAuthError) as other_tenant:
        refresh.rotate(conn, "22222222-2222-3333-4444-555555555555", _refresh(conn, "x"), CLIENT)
    assert other_tenant.value.code == 70008


def test_device_code_states(platform) -> None:  # type: ignore[no-untyped-def]
    with platform.db.write() as conn:
        started = device.start(conn, TENANT, CLI_CLIENT_ID, "openid", "https://x/devicelogin")
    assert len(started["user_code"]) == 9 and started["user_code"] in started["message"]

    def poll() -> str:
        # As the token endpoint does: the refusal is caught inside the transaction, so the poll
        # time it records is committed.
        with platform.db.write() as conn:
            try:
                device.poll(conn, TENANT, started["device_code"], CLI_CLIENT_ID)
            except OAuthError as error:
                return error.error
        return "ok"

    assert poll() == "authorization_pending" and poll() == "slow_down"
    spaced = "-".join([started["user_code"][:4], started["user_code"][4:]]).lower()
    with platform.db.write() as conn:
        assert device.find_pending(conn, spaced) is not None
        assert device.decide(conn, spaced, USER, ["pwd"], approve=True)
        assert not device.decide(conn, spaced, USER, ["pwd"], approve=True)  # only once
    assert poll() == "ok" and poll() == "invalid_grant"  # redeemed once


def test_user_tokens_validate_as_users(platform) -> None:  # type: ignore[no-untyped-def]
    tokens = platform.tokens
    assert tokens.user_audience("https://management.azure.com/.default offline_access") == (
        "https://management.azure.com",
        "user_impersonation",
    )
    assert tokens.user_audience("openid profile offline_access") == (
        "https://graph.microsoft.com",
        "openid profile User.Read",
    )
    assert tokens.user_audience("https://graph.microsoft.com/Mail.Read")[1] == "Mail.Read"  # type: ignore[index]
    assert tokens.user_audience("https://evil.test/.default") is None
    assert tokens.user_audience("https://management.azure.com/.default User.Read") is None  # two resources
    grant = UserGrant(TENANT, USER, "u@contoso.test", "U", None, CLIENT, ("pwd", "mfa"), 1)
    access, _ = tokens.issue_user(grant, "https://management.azure.com", "user_impersonation")
    caller = tokens.validate(access)
    assert caller.principal_type == "User" and caller.object_id == USER and caller.app_id == CLIENT
    assert caller.claims["amr"] == ["pwd", "mfa"] and caller.claims["scp"] == "user_impersonation"
    app_token = tokens.validate(
        tokens.issue(
            type("P", (), {"object_id": "o", "tenant_id": TENANT, "app_id": "a"})(), "https://management.azure.com"
        )["access_token"]
    )
    assert app_token.principal_type == "ServicePrincipal"


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("http://localhost", True),
        ("http://localhost:8400/cb", True),
        ("http://127.0.0.1:5000", True),
        ("http://[::1]:5000/", True),
        ("https://localhost", False),
        ("http://localhost.evil.test", False),
        ("http://user@localhost", False),
        ("http://localhost:99999", False),
        ("http://10.0.0.1", False),
    ],
)
def test_loopback_redirects_of_the_cli_client(uri: str, ok: bool) -> None:
    assert is_loopback_redirect(uri) is ok


def test_purge_keeps_live_and_recent_state(platform) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import update

    from warden.identity.oauth.maintenance import purge_expired
    from warden.identity.schema import authorization_codes

    with platform.db.write() as conn:
        old, recent, live = _code(conn), _code(conn), _code(conn)
        for code, age in ((old, timedelta(days=2)), (recent, timedelta(hours=2))):
            conn.execute(
                update(authorization_codes)
                .where(authorization_codes.c.code_hash == hash_bearer(code))
                .values(expires_at=utcnow() - age)
            )
    assert purge_expired(platform.db) == 1
    with platform.db.read() as conn:
        left = set(conn.execute(select(authorization_codes.c.code_hash)).scalars())
    assert left == {hash_bearer(recent), hash_bearer(live)}


def test_single_page_app_refresh_tokens_do_not_slide(platform) -> None:  # type: ignore[no-untyped-def]
    with platform.db.write() as conn:
        first = refresh.issue_refresh_token(
            conn,
            family_id="s" * 8 + "-0000-0000-0000-000000000000",
            tenant_id=TENANT,
            client_id=CLIENT,
            user_id=USER,
            scope="openid offline_access",
            session_id=None,
            auth_time=utcnow(),
            amr=["pwd"],
            spa=True,
        )
        grant = refresh.rotate(conn, TENANT, first, CLIENT)
    assert grant.fixed_lifetime and grant.expires_at - utcnow() <= refresh.SPA_LIFETIME
