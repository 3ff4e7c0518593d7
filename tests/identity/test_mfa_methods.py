"""Authentication methods on a real database: TOTP enrolment and replay, recovery codes, listing."""

from __future__ import annotations

import base64
import time

from sqlalchemy import select

from warden.identity.mfa import methods
from warden.identity.mfa.totp import totp
from warden.identity.schema import auth_methods

from .mfa_support import add_user, any_db_fixture, master_key_fixture, mfa_db_fixture  # noqa: F401


def _seed(secret_key: str) -> bytes:
    return base64.b32decode(secret_key + "=" * (-len(secret_key) % 8))


def test_totp_enrolment_needs_a_code_and_a_code_is_accepted_once(any_db, master_key) -> None:  # type: ignore[no-untyped-def]
    user = add_user(any_db)
    now = time.time()
    with any_db.write() as conn:
        enrolment = methods.start_totp_enrolment(
            conn, master_key, user.tenant_id, user.object_id, user.user_principal_name
        )
        # Unverified: not a usable method and codes are not accepted for sign-in yet.
        assert methods.user_methods(conn, user.object_id) == []
        assert not methods.verify_totp_code(
            conn, master_key, user.object_id, totp(_seed(enrolment.secret_key), now), now
        )
    assert enrolment.otpauth_uri.startswith("otpauth://totp/Warden:alice@contoso.test?secret=")
    seed = _seed(enrolment.secret_key)
    with any_db.write() as conn:
        wrong = str((int(totp(seed, now)) + 1) % 10**6).zfill(6)
        assert not methods.confirm_totp_enrolment(conn, master_key, user.object_id, enrolment.id, wrong, now)
        assert methods.confirm_totp_enrolment(conn, master_key, user.object_id, enrolment.id, totp(seed, now), now)
        assert methods.user_methods(conn, user.object_id) == ["softwareOath"]
        # The code that verified the enrolment cannot be replayed, nor can the previous step's.
        assert not methods.verify_totp_code(conn, master_key, user.object_id, totp(seed, now), now)
        assert not methods.verify_totp_code(conn, master_key, user.object_id, totp(seed, now - 30), now)
        later = now + 30
        assert methods.verify_totp_code(conn, master_key, user.object_id, totp(seed, later), later)
        assert not methods.verify_totp_code(conn, master_key, user.object_id, totp(seed, later), later)
        # Stored sealed: the seed's bytes are nowhere in the row.
        row = conn.execute(select(auth_methods).where(auth_methods.c.id == enrolment.id)).one()
        assert seed not in bytes(row.sealed_secret) and row.secret_hash is None


def test_recovery_codes_are_single_use_hashed_and_replaced_on_regeneration(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    with mfa_db.write() as conn:
        codes = methods.regenerate_recovery_codes(conn, user.tenant_id, user.object_id)
    assert len(codes) == 10 and len(set(codes)) == 10
    with mfa_db.write() as conn:
        stored = conn.execute(
            select(auth_methods.c.secret_hash).where(auth_methods.c.user_id == user.object_id)
        ).scalars()
        assert not set(codes) & set(stored)
        assert methods.user_methods(conn, user.object_id) == ["recoveryCode"]
        # Typed in lower case without dashes still matches; the second use does not.
        assert methods.verify_recovery_code(conn, user.object_id, codes[0].lower().replace("-", ""))
        assert not methods.verify_recovery_code(conn, user.object_id, codes[0])
        assert not methods.verify_recovery_code(conn, user.object_id, "0000-0000-0000-0000")
        new_codes = methods.regenerate_recovery_codes(conn, user.tenant_id, user.object_id)
        assert not methods.verify_recovery_code(conn, user.object_id, codes[1])
        assert methods.verify_recovery_code(conn, user.object_id, new_codes[1])
        listed = {m["@odata.type"]: m for m in methods.method_resources(conn, user.object_id)}
        assert listed["#warden.recoveryCodeAuthenticationMethod"]["remainingCodes"] == 9


def test_codes_of_one_user_do_not_work_for_another(mfa_db, master_key) -> None:  # type: ignore[no-untyped-def]
    alice = add_user(mfa_db)
    bob = add_user(mfa_db, "bob@contoso.test")
    with mfa_db.write() as conn:
        codes = methods.regenerate_recovery_codes(conn, alice.tenant_id, alice.object_id)
        assert not methods.verify_recovery_code(conn, bob.object_id, codes[0])
        assert methods.verify_recovery_code(conn, alice.object_id, codes[0])


def test_email_listed_from_mail_and_methods_listed_in_graph_shape(mfa_db, master_key) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db, mail="alice@mail.test", properties={"otherMails": ["a2@mail.test"]})
    now = time.time()
    with mfa_db.write() as conn:
        enrolment = methods.start_totp_enrolment(conn, master_key, user.tenant_id, user.object_id, "alice")
        methods.confirm_totp_enrolment(
            conn, master_key, user.object_id, enrolment.id, totp(_seed(enrolment.secret_key), now), now
        )
        assert methods.email_addresses(conn, user.object_id) == ["alice@mail.test", "a2@mail.test"]
        assert methods.user_methods(conn, user.object_id) == ["email", "softwareOath"]
        listed = methods.method_resources(conn, user.object_id)
        types = [m["@odata.type"] for m in listed]
        assert types == [
            "#microsoft.graph.passwordAuthenticationMethod",
            "#microsoft.graph.softwareOathAuthenticationMethod",
            "#microsoft.graph.emailAuthenticationMethod",
        ]
        assert listed[1]["id"] == enrolment.id and listed[1]["secretKey"] is None
        assert methods.delete_method(conn, user.object_id, enrolment.id)
        assert not methods.delete_method(conn, user.object_id, enrolment.id)
        assert methods.user_methods(conn, user.object_id) == ["email"]


def test_forget_user_removes_methods_and_lockout_so_the_user_can_be_deleted(mfa_db, master_key) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import delete

    from warden.identity import lockout_store
    from warden.identity.schema import users

    user = add_user(mfa_db)
    with mfa_db.write() as conn:
        methods.regenerate_recovery_codes(conn, user.tenant_id, user.object_id)
        lockout_store.record_password_result(conn, user.tenant_id, user.object_id, "familiar", "x", False, time.time())
        assert methods.forget_user(conn, user.object_id) == 10
        assert lockout_store.lock_status(conn, user.object_id, time.time()) == {"familiar": None, "unfamiliar": None}
        assert conn.execute(delete(users).where(users.c.object_id == user.object_id)).rowcount == 1
