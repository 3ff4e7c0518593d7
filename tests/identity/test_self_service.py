"""Self-service password reset on a real database (the HTTP flow is in tests/e2e/test_sspr.py)."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from warden.identity import lockout_store, self_service
from warden.identity.mfa import methods
from warden.identity.mfa.totp import totp
from warden.identity.schema import directory_audit_events, directory_role_assignments, refresh_tokens, users
from warden.identity.tenant_settings import update_settings
from warden.identity.users import check_password, get_user
from warden.kernel.clock import utcnow
from warden.kernel.errors import BadRequest, Forbidden, NotFound

from .mfa_support import TENANT, add_user, any_db_fixture, master_key_fixture  # noqa: F401

KEY = b"s" * 32
NEW_PASSWORD = "correct horse battery staple"


def _start(db, upn: str) -> dict:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        return self_service.start_reset(conn, TENANT, upn, key=KEY, now=utcnow())


def _email_code(db, challenge: str) -> self_service.EmailCode:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        return self_service.new_email_code(conn, TENANT, challenge, key=KEY, now=utcnow())


def _verify(db, master_key, challenge: str, kind: str, code: str) -> self_service.Verification:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        return self_service.verify(conn, TENANT, challenge, kind, code, key=KEY, master_key=master_key, now=utcnow())


def _complete(db, challenge: str, password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    with db.write() as conn:
        return self_service.complete_reset(conn, TENANT, challenge, password, now=utcnow(), ip_address="192.0.2.7")


def test_user_resets_with_an_email_code_and_everything_is_revoked(any_db, master_key) -> None:  # type: ignore[no-untyped-def]
    user = add_user(
        any_db,
        mail="alice@mail.test",
        password="an old password of some length",
        properties={"forceChangePasswordNextSignIn": True, "jobTitle": "Engineer"},
    )
    now = utcnow()
    with any_db.write() as conn:
        conn.execute(
            update(users).where(users.c.object_id == user.object_id).values(risk_level="high", risk_state="atRisk")
        )
        conn.execute(
            insert(refresh_tokens).values(
                token_hash="h" * 64,
                family_id=user.object_id,
                tenant_id=TENANT,
                client_id=user.object_id,
                user_id=user.object_id,
                scope="openid",
                auth_time=now,
                amr=["pwd"],
                created_at=now,
                expires_at=now + timedelta(days=1),
            )
        )
        for _ in range(10):
            lockout_store.record_password_result(conn, TENANT, user.object_id, "unfamiliar", "x", False, time.time())
    started = _start(any_db, "ALICE@contoso.test")
    assert [m["methodType"] for m in started["methods"]] == ["email", "softwareOath", "recoveryCode"]
    assert started["methods"][0]["hint"] == "a*****@m*****.test"
    code = _email_code(any_db, started["challengeId"])
    assert code.address == "alice@mail.test" and len(code.code) == 8 and code.code.isdigit()
    with pytest.raises(Forbidden):  # nothing proven yet
        _complete(any_db, started["challengeId"])
    outcome = _verify(any_db, master_key, started["challengeId"], "email", code.code)
    assert outcome.ok and outcome.remaining == 0 and outcome.proven == ("email",)
    with pytest.raises(BadRequest) as weak:
        _complete(any_db, started["challengeId"], "alice-contoso-2024-long")
    assert weak.value.code == "PasswordPolicyViolation" and "user name" in weak.value.message
    _complete(any_db, started["challengeId"])
    with any_db.write() as conn:
        after = get_user(conn, TENANT, user.object_id)
        assert check_password(conn, after, NEW_PASSWORD)
        assert after.properties == {"forceChangePasswordNextSignIn": False, "jobTitle": "Engineer"}
        assert (after.risk_level, after.risk_state) == ("none", "remediated")
        assert conn.execute(select(refresh_tokens.c.revoked_at)).scalar() is not None
        assert lockout_store.check_locked(conn, TENANT, user.object_id, "unfamiliar", time.time()) is None
        audit = conn.execute(select(directory_audit_events.c.activity, directory_audit_events.c.record)).one()
        assert audit.activity == "Reset password (self-service)"
        assert audit.record["targetResources"][0]["id"] == user.object_id
    with pytest.raises(NotFound):  # a challenge serves one reset
        _complete(any_db, started["challengeId"])


def test_administrators_need_two_different_methods(any_db, master_key) -> None:  # type: ignore[no-untyped-def]
    admin = add_user(any_db, "admin@contoso.test", mail="admin@mail.test")
    now = time.time()
    with any_db.write() as conn:
        conn.execute(
            insert(directory_role_assignments).values(
                id="00000000-0000-0000-0000-00000000a001",
                tenant_id=TENANT,
                role_template_id="fe930be7-5e62-47db-91af-98c3a49a38b1",
                principal_id=admin.object_id,
                directory_scope_id="/",
                created_at=utcnow(),
            )
        )
        codes = methods.regenerate_recovery_codes(conn, TENANT, admin.object_id)
        enrolment = methods.start_totp_enrolment(conn, master_key, TENANT, admin.object_id, "admin")
        seed = base64.b32decode(enrolment.secret_key + "=" * (-len(enrolment.secret_key) % 8))
        methods.confirm_totp_enrolment(conn, master_key, admin.object_id, enrolment.id, totp(seed, now - 30), now)
    challenge = _start(any_db, "admin@contoso.test")["challengeId"]
    first = _verify(any_db, master_key, challenge, "recoveryCode", codes[0])
    assert first.ok and first.remaining == 1
    # The same kind twice does not make two methods.
    assert not _verify(any_db, master_key, challenge, "recoveryCode", codes[1]).ok
    with pytest.raises(Forbidden):
        _complete(any_db, challenge)
    second = _verify(any_db, master_key, challenge, "softwareOath", totp(seed, time.time()))
    assert second.ok and second.remaining == 0
    _complete(any_db, challenge)


def test_unknown_and_disabled_users_get_the_same_answers_and_never_verify(any_db, master_key) -> None:  # type: ignore[no-untyped-def]
    add_user(any_db, "real@contoso.test")
    add_user(any_db, "off@contoso.test", account_enabled=False)
    answers = {upn: _start(any_db, upn) for upn in ("real@contoso.test", "ghost@contoso.test", "off@contoso.test")}
    shapes = {upn: [(m["methodType"], m.get("hint", "")[:2]) for m in a["methods"]] for upn, a in answers.items()}
    assert shapes["real@contoso.test"] == [("email", "r*"), ("softwareOath", ""), ("recoveryCode", "")]
    assert shapes["ghost@contoso.test"] == [("email", "g*"), ("softwareOath", ""), ("recoveryCode", "")]
    assert answers["ghost@contoso.test"].keys() == answers["real@contoso.test"].keys()
    for upn in ("ghost@contoso.test", "off@contoso.test"):
        challenge = answers[upn]["challengeId"]
        code = _email_code(any_db, challenge)
        assert code.address is None  # nothing is sent
        assert not _verify(any_db, master_key, challenge, "email", code.code).ok
        with pytest.raises(Forbidden):
            _complete(any_db, challenge)
    # Rate limits hold for unknown names exactly as for real ones: five an hour.
    for upn in ("real@contoso.test", "ghost@contoso.test"):
        for _ in range(4):
            _start(any_db, upn)
        with pytest.raises(self_service.TooManyRequests):
            _start(any_db, upn)


def test_email_code_allows_three_guesses_and_a_challenge_five_wrong_answers(any_db, master_key) -> None:  # type: ignore[no-untyped-def]
    add_user(any_db, mail="alice@mail.test")
    challenge = _start(any_db, "alice@contoso.test")["challengeId"]
    code = _email_code(any_db, challenge)
    wrong = str((int(code.code) + 1) % 10**8).zfill(8)
    for _ in range(3):
        assert not _verify(any_db, master_key, challenge, "email", wrong).ok
    assert not _verify(any_db, master_key, challenge, "email", code.code).ok, "a code dies after three wrong guesses"
    outcome = _verify(any_db, master_key, challenge, "recoveryCode", "AAAA-BBBB-CCCC-DDDD")
    assert outcome.void
    with pytest.raises(NotFound):
        _verify(any_db, master_key, challenge, "email", code.code)


def test_bad_input_and_tenant_switches(any_db, master_key) -> None:  # type: ignore[no-untyped-def]
    add_user(any_db)
    with pytest.raises(BadRequest):
        _start(any_db, "no-at-sign")
    challenge = _start(any_db, "alice@contoso.test")["challengeId"]
    with pytest.raises(BadRequest):
        _verify(any_db, master_key, challenge, "sms", "123456")
    with pytest.raises(NotFound):
        _verify(any_db, master_key, "00000000-0000-0000-0000-000000000000", "email", "12345678")
    with any_db.write() as conn:
        update_settings(conn, TENANT, {"ssprEnabled": False})
    with pytest.raises(Forbidden):
        _start(any_db, "alice@contoso.test")
    with any_db.read() as conn:  # the user row never changed
        assert conn.execute(select(users.c.password_hash)).scalar() is None


def test_email_is_not_offered_when_the_server_cannot_send_it(any_db) -> None:  # type: ignore[no-untyped-def]
    add_user(any_db, mail="alice@mail.test")
    with any_db.write() as conn:
        started = self_service.start_reset(
            conn, TENANT, "alice@contoso.test", key=KEY, now=utcnow(), email_available=False
        )
    assert [m["methodType"] for m in started["methods"]] == ["softwareOath", "recoveryCode"]
