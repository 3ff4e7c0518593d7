"""Passkey ceremonies against a software authenticator: registration, sign-in, and the refusals
(wrong origin, replayed challenge, forged signature, cloned authenticator's stale counter)."""

from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from support.webauthn_authenticator import SoftwareAuthenticator
from warden.identity.mfa import methods, passkeys
from warden.kernel.clock import utcnow

from .mfa_support import TENANT, add_user, mfa_db_fixture  # noqa: F401

RP_ID = "warden.contoso.test"
ORIGIN = f"https://{RP_ID}"


def _register(db, user, authenticator: SoftwareAuthenticator, **answer) -> str:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        options = passkeys.registration_options(
            conn,
            TENANT,
            user.object_id,
            user.user_principal_name,
            user.display_name,
            rp_id=RP_ID,
            rp_name="Warden",
            now=utcnow(),
        )
    assert options["publicKey"]["rp"] == {"id": RP_ID, "name": "Warden"}
    assert options["publicKey"]["attestation"] == "none"
    response = authenticator.create(options["publicKey"], **answer)
    with db.write() as conn:
        return passkeys.register(
            conn,
            TENANT,
            user.object_id,
            options["challengeId"],
            response,
            rp_id=RP_ID,
            origin=ORIGIN,
            display_name="Laptop",
            now=utcnow(),
        )


def _sign_in(db, user_id, authenticator: SoftwareAuthenticator, **answer) -> str | None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        options = passkeys.authentication_options(conn, TENANT, user_id, rp_id=RP_ID, now=utcnow())
    response = authenticator.get(options["publicKey"], **answer)
    with db.write() as conn:
        return passkeys.verify_authentication(
            conn, TENANT, options["challengeId"], response, rp_id=RP_ID, origin=ORIGIN, now=utcnow()
        )


def test_register_then_sign_in_with_and_without_a_user_name(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    authenticator = SoftwareAuthenticator(ORIGIN)
    method_id = _register(mfa_db, user, authenticator)
    with mfa_db.read() as conn:
        assert methods.user_methods(conn, user.object_id) == ["fido2"]
        listed = [m for m in methods.method_resources(conn, user.object_id) if m["id"] == method_id]
    assert listed[0]["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod"
    assert listed[0]["aaGuid"] == "01234567-89ab-cdef-0123-456789abcdef"
    assert _sign_in(mfa_db, user.object_id, authenticator) == user.object_id
    assert _sign_in(mfa_db, None, authenticator) == user.object_id  # discoverable: no user name first


def test_refusals(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    other = add_user(mfa_db, "bob@contoso.test")
    authenticator = SoftwareAuthenticator(ORIGIN)
    with pytest.raises(passkeys.PasskeyError, match="did not verify"):
        _register(mfa_db, user, authenticator, origin="https://evil.test")
    _register(mfa_db, user, authenticator)
    with pytest.raises(passkeys.PasskeyError, match="already registered"):
        _register(mfa_db, other, authenticator)  # one credential, one user
    with mfa_db.write() as conn:
        options = passkeys.registration_options(
            conn, TENANT, user.object_id, "u", "U", rp_id=RP_ID, rp_name="Warden", now=utcnow()
        )
    second = SoftwareAuthenticator(ORIGIN)
    with mfa_db.write() as conn:
        passkeys.register(
            conn,
            TENANT,
            user.object_id,
            options["challengeId"],
            second.create(options["publicKey"]),
            rp_id=RP_ID,
            origin=ORIGIN,
            display_name="Key 2",
            now=utcnow(),
        )
    with mfa_db.write() as conn, pytest.raises(passkeys.PasskeyError, match="expired"):  # one ceremony per challenge
        passkeys.register(
            conn,
            TENANT,
            user.object_id,
            options["challengeId"],
            SoftwareAuthenticator(ORIGIN).create(options["publicKey"]),
            rp_id=RP_ID,
            origin=ORIGIN,
            display_name="Key 3",
            now=utcnow(),
        )
    assert _sign_in(mfa_db, user.object_id, authenticator, origin="https://evil.test") is None
    assert _sign_in(mfa_db, user.object_id, authenticator, key=ec.generate_private_key(ec.SECP256R1())) is None
    assert _sign_in(mfa_db, other.object_id, authenticator) is None  # not bob's passkey
    assert _sign_in(mfa_db, user.object_id, authenticator) == user.object_id
    # A clone whose counter lags behind the stored one is refused.
    clone = copy.copy(authenticator)
    clone.sign_count -= 3
    assert _sign_in(mfa_db, user.object_id, clone) is None
    # A challenge answers one ceremony.
    with mfa_db.write() as conn:
        options = passkeys.authentication_options(conn, TENANT, user.object_id, rp_id=RP_ID, now=utcnow())
    response = authenticator.get(options["publicKey"])
    with mfa_db.write() as conn:
        assert (
            passkeys.verify_authentication(
                conn, TENANT, options["challengeId"], response, rp_id=RP_ID, origin=ORIGIN, now=utcnow()
            )
            == user.object_id
        )
    with mfa_db.write() as conn, pytest.raises(passkeys.PasskeyError, match="expired"):
        passkeys.verify_authentication(
            conn, TENANT, options["challengeId"], response, rp_id=RP_ID, origin=ORIGIN, now=utcnow()
        )
