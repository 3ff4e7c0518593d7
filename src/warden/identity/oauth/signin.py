"""Interactive sign-in: the password step (smart lockout), the MFA step, and the sign-in log.

A user who must do MFA but has no method yet is interrupted after the password ("More information
required", Entra's registration campaign): they add an authenticator app on the spot, and the
code that proves it finishes the sign-in as an MFA step would (``start_registration`` /
``registration_step``).

Every attempt, success or failure, is written with ``record_signin`` in Graph's signIn shape.
An unknown user and a wrong password get the same answer (AADSTS50126) and cost the same argon2
work, so the page reveals neither which accounts exist nor how long a lookup took.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, exists, insert, select, update

from warden.identity.directory_roles import held_roles
from warden.identity.events import record_directory_audit
from warden.identity.lockout_store import check_locked, record_password_result
from warden.identity.membership import transitive_group_ids
from warden.identity.mfa.methods import (
    RECOVERY_CODE,
    SEAL_PURPOSE,
    SOFTWARE_OATH,
    TotpEnrolment,
    confirm_totp_enrolment,
    start_totp_enrolment,
    user_methods,
    verify_recovery_code,
    verify_totp_code,
)
from warden.identity.mfa.totp import provisioning_uri
from warden.identity.oauth import errors as e
from warden.identity.oauth.signin_log import MFA_FAILED, REASONS, Attempt, write_signin
from warden.identity.passwords import hash_password, verify_password
from warden.identity.risk.hooks import LEAKED_CREDENTIALS, check_leaked_password
from warden.identity.schema import auth_methods, otp_challenges, signin_events, users
from warden.identity.tenant_settings import get_settings
from warden.identity.users import User, find_user, get_user
from warden.kernel.clock import aware, utcnow

if TYPE_CHECKING:
    from warden.platform import Platform

MFA_CHALLENGE_LIFETIME = timedelta(minutes=10)
MFA_MAX_ATTEMPTS = 5
MFA_REGISTRATION = "mfaRegistration"  # otp_challenges.purpose of the "More information required" interrupt
TOTP_ISSUER = "Warden"
# argon2id takes 19 MiB per verification: a flood of sign-ins must not exhaust memory, so only a
# few run at once and the rest wait their turn.
_VERIFY_SLOTS = threading.BoundedSemaphore(4)


@dataclass
class PasswordOutcome:
    """The password step's answer: ``error`` 0 with ``user`` set, then ``mfa`` says what comes next."""

    error: int
    user: User | None = None
    mfa: str = "none"  # none | required | register (must add a method before the MFA step)
    risk_events: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return REASONS.get(self.error, "Sign-in failed.")


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    # Verified against when the user does not exist, so both paths cost one argon2 verification.
    return hash_password(uuid.uuid4().hex)


def familiarity(conn: Connection, tenant_id: str, user_id: str, ip_address: str) -> str:
    """``familiar`` when the user has signed in successfully from this IP before, else ``unfamiliar``."""
    seen = conn.execute(
        select(
            exists().where(
                signin_events.c.tenant_id == tenant_id,
                signin_events.c.user_id == user_id,
                signin_events.c.ip_address == ip_address,
                signin_events.c.status_code == 0,
            )
        )
    ).scalar()
    return "familiar" if seen else "unfamiliar"


def password_step(
    platform: Platform, attempt: Attempt, username: str, password: str, *, can_register: bool = True
) -> PasswordOutcome:
    """Check ``username``/``password`` under smart lockout; record the attempt when it ends here.

    A user who must do MFA but has none gets ``mfa="register"``, or AADSTS50072 when the caller
    cannot show the registration page (``can_register=False``).
    """
    now = time.time()
    with platform.db.read() as conn:
        user = find_user(conn, attempt.tenant_id, username.strip()) if 0 < len(username) <= 256 else None
        stored = (
            conn.execute(select(users.c.password_hash).where(users.c.object_id == user.object_id)).scalar()
            if user
            else None
        )
        place = familiarity(conn, attempt.tenant_id, user.object_id, attempt.ip_address) if user else "unfamiliar"
        locked = check_locked(conn, attempt.tenant_id, user.object_id, place, now) if user else None
    if user is not None and locked is not None:
        outcome = PasswordOutcome(e.ACCOUNT_LOCKED, user)
        with platform.db.write() as conn:
            write_signin(conn, attempt, outcome.error, user=user, username=username)
        return outcome
    with _VERIFY_SLOTS:
        if user is not None:
            # Attempts queued behind a burst see the lockout the burst caused, and skip argon2.
            with platform.db.read() as conn:
                locked = check_locked(conn, attempt.tenant_id, user.object_id, place, time.time())
        ok = False if locked is not None else verify_password(stored or _decoy_hash(), password[:1024])[0]
    ok = ok and stored is not None
    with platform.db.write() as conn:
        if user is None:
            outcome = PasswordOutcome(e.INVALID_CREDENTIALS)
            write_signin(conn, attempt, outcome.error, username=username)
            return outcome
        # Counted in the same transaction that decides, so parallel attempts cannot pass the threshold.
        # A right password does not clear the counters yet: only a whole sign-in does (below, or at
        # the MFA step), so someone holding the password cannot reset them between guesses of codes.
        if ok:
            locked = check_locked(conn, attempt.tenant_id, user.object_id, place, now)
        else:
            locked = record_password_result(
                conn,
                attempt.tenant_id,
                user.object_id,
                place,
                password,
                False,
                now,
                fingerprint_key=platform.master_key.derive("lockout"),
            )
        if locked is not None:
            outcome = PasswordOutcome(e.ACCOUNT_LOCKED, user)
        elif not ok:
            outcome = PasswordOutcome(e.INVALID_CREDENTIALS, user)
        elif not user.account_enabled:
            outcome = PasswordOutcome(e.ACCOUNT_DISABLED, user)
        else:
            outcome = _after_password(conn, platform, attempt, user, password, can_register)
        if not outcome.error and outcome.mfa == "none":
            record_password_result(conn, attempt.tenant_id, user.object_id, place, password, True, now)
        if outcome.error or outcome.mfa == "none":
            write_signin(conn, attempt, outcome.error, user=user, username=username, risk_events=outcome.risk_events)
        return outcome


def _after_password(
    conn: Connection, platform: Platform, attempt: Attempt, user: User, password: str, can_register: bool
) -> PasswordOutcome:
    risk = [LEAKED_CREDENTIALS] if check_leaked_password(platform.settings, password) else []
    methods = user_methods(conn, user.object_id)
    has_method = SOFTWARE_OATH in methods or RECOVERY_CODE in methods
    requirement = get_settings(conn, attempt.tenant_id).mfa_requirement
    required = requirement == "everyone" or (
        requirement == "privilegedRoles"
        and bool(
            held_roles(
                conn,
                attempt.tenant_id,
                (user.object_id, *transitive_group_ids(conn, attempt.tenant_id, user.object_id)),
            )
        )
    )
    if has_method:
        return PasswordOutcome(0, user, "required", risk)
    if required and can_register:
        return PasswordOutcome(0, user, "register", risk)
    if required:
        return PasswordOutcome(e.MFA_REGISTRATION_REQUIRED, user, risk_events=risk)
    return PasswordOutcome(0, user, "none", risk)


def start_mfa(conn: Connection, attempt: Attempt, user: User, risk_events: list[str]) -> str:
    """Store a pending MFA challenge for the user and return its id (carried by the MFA form)."""
    return _new_challenge(conn, attempt, user, "signIn", {"riskEvents": risk_events, "ip": attempt.ip_address})


def start_registration(
    conn: Connection, platform: Platform, attempt: Attempt, user: User, risk_events: list[str]
) -> tuple[str, TotpEnrolment]:
    """Start the registration interrupt: a new unverified TOTP method, and a challenge bound to it.

    Returns ``(challenge id, enrolment)``; the enrolment's secret and URI are shown on the page.
    Raises ValueError only when the user already has the maximum of TOTP methods (then they have one).
    """
    enrolment = start_totp_enrolment(
        conn, platform.master_key, attempt.tenant_id, user.object_id, user.user_principal_name, issuer=TOTP_ISSUER
    )
    state = {"riskEvents": risk_events, "ip": attempt.ip_address, "methodId": enrolment.id}
    return _new_challenge(conn, attempt, user, MFA_REGISTRATION, state), enrolment


def _new_challenge(conn: Connection, attempt: Attempt, user: User, purpose: str, state: dict) -> str:
    challenge_id = str(uuid.uuid4())
    now = utcnow()
    conn.execute(
        insert(otp_challenges).values(
            id=challenge_id,
            tenant_id=attempt.tenant_id,
            user_id=user.object_id,
            purpose=purpose,
            method_type=SOFTWARE_OATH,
            code_hash="-",  # the code is checked against the user's method, not stored here
            attempts=0,
            state=state,
            created_at=now,
            expires_at=now + MFA_CHALLENGE_LIFETIME,
        )
    )
    return challenge_id


def _live_challenge(conn: Connection, attempt: Attempt, challenge_id: str, purpose: str) -> tuple[Any, User | None]:
    """The challenge row and its user, or ``(None, None)`` when it is unknown, expired, used up,
    from another IP, or its user is gone or disabled."""
    row = conn.execute(
        select(otp_challenges).where(
            otp_challenges.c.id == challenge_id,
            otp_challenges.c.tenant_id == attempt.tenant_id,
            otp_challenges.c.purpose == purpose,
        )
    ).first()
    if (
        row is None
        or row.consumed_at is not None
        or aware(row.expires_at) <= utcnow()
        or row.attempts >= MFA_MAX_ATTEMPTS
        or (row.state or {}).get("ip") != attempt.ip_address
    ):
        return None, None
    user = get_user(conn, attempt.tenant_id, row.user_id)
    if user is None or not user.account_enabled:
        return None, None
    return row, user


def _count_wrong_code(
    conn: Connection, platform: Platform, attempt: Attempt, user: User, row: Any, place: str, code: str, now: float
) -> None:
    conn.execute(
        update(otp_challenges).where(otp_challenges.c.id == row.id).values(attempts=otp_challenges.c.attempts + 1)
    )
    # Wrong codes count toward smart lockout like wrong passwords (each distinct code once).
    record_password_result(
        conn,
        attempt.tenant_id,
        user.object_id,
        place,
        "\x00mfa:" + code,
        False,
        now,
        fingerprint_key=platform.master_key.derive("lockout"),
    )
    write_signin(
        conn,
        attempt,
        MFA_FAILED,
        user=user,
        username=user.user_principal_name,
        mfa_method="OATH verification code",
        risk_events=list((row.state or {}).get("riskEvents", [])),
    )


def mfa_step(platform: Platform, attempt: Attempt, challenge_id: str, code: str) -> tuple[int, User | None, str]:
    """Check a TOTP or recovery code against a pending challenge.

    Returns ``(error, user, method)``: error 0 on success (the challenge is consumed), MFA_FAILED
    for a wrong code (the challenge stays until MFA_MAX_ATTEMPTS), LOGIN_REQUIRED when the
    challenge is unknown, expired, used up or from another IP.
    """
    code = (code or "").strip()[:64]
    with platform.db.write() as conn:
        row, user = _live_challenge(conn, attempt, challenge_id, "signIn")
        if row is None or user is None:
            return e.LOGIN_REQUIRED, None, ""
        now = time.time()
        place = familiarity(conn, attempt.tenant_id, user.object_id, attempt.ip_address)
        if check_locked(conn, attempt.tenant_id, user.object_id, place, now) is not None:
            write_signin(conn, attempt, e.ACCOUNT_LOCKED, user=user, username=user.user_principal_name)
            return e.ACCOUNT_LOCKED, user, ""
        method = ""
        if (
            len(code) <= 10
            and code.isdigit()
            and verify_totp_code(conn, platform.master_key, user.object_id, code, time.time())
        ):
            method = "OATH verification code"
        elif len(code) > 10 and verify_recovery_code(conn, user.object_id, code):
            method = "Recovery code"
        risk = list((row.state or {}).get("riskEvents", []))
        if not method:
            _count_wrong_code(conn, platform, attempt, user, row, place, code, now)
            return MFA_FAILED, user, ""
        conn.execute(update(otp_challenges).where(otp_challenges.c.id == row.id).values(consumed_at=utcnow()))
        record_password_result(conn, attempt.tenant_id, user.object_id, place, "", True, now)  # signed in: clear
        write_signin(
            conn, attempt, 0, user=user, username=user.user_principal_name, mfa_method=method, risk_events=risk
        )
        return 0, user, method


def registration_step(
    platform: Platform, attempt: Attempt, challenge_id: str, code: str
) -> tuple[int, User | None, TotpEnrolment | None]:
    """Confirm the authenticator app added at the registration interrupt with its current code.

    Returns ``(error, user, enrolment)``: error 0 when the method is now verified (the challenge
    is consumed, the sign-in logged as multi-factor, "User registered security info" audited);
    MFA_FAILED for a wrong code, counted like a wrong MFA code, with the enrolment to show again;
    ACCOUNT_LOCKED; LOGIN_REQUIRED when the challenge is unknown, expired, used up, from another
    IP, or its method was replaced by a newer registration.
    """
    code = (code or "").strip()[:64]
    with platform.db.write() as conn:
        row, user = _live_challenge(conn, attempt, challenge_id, MFA_REGISTRATION)
        if row is None or user is None:
            return e.LOGIN_REQUIRED, None, None
        enrolment = _pending_enrolment(conn, platform, user, str((row.state or {}).get("methodId", "")))
        if enrolment is None:
            return e.LOGIN_REQUIRED, None, None
        now = time.time()
        place = familiarity(conn, attempt.tenant_id, user.object_id, attempt.ip_address)
        if check_locked(conn, attempt.tenant_id, user.object_id, place, now) is not None:
            write_signin(conn, attempt, e.ACCOUNT_LOCKED, user=user, username=user.user_principal_name)
            return e.ACCOUNT_LOCKED, user, None
        if not (
            len(code) <= 10
            and code.isdigit()
            and confirm_totp_enrolment(conn, platform.master_key, user.object_id, enrolment.id, code, now)
        ):
            _count_wrong_code(conn, platform, attempt, user, row, place, code, now)
            return MFA_FAILED, user, enrolment
        conn.execute(update(otp_challenges).where(otp_challenges.c.id == row.id).values(consumed_at=utcnow()))
        record_password_result(conn, attempt.tenant_id, user.object_id, place, "", True, now)  # signed in: clear
        write_signin(
            conn,
            attempt,
            0,
            user=user,
            username=user.user_principal_name,
            mfa_method="OATH verification code",
            risk_events=list((row.state or {}).get("riskEvents", [])),
        )
        record_directory_audit(
            conn,
            attempt.tenant_id,
            {
                "category": "UserManagement",
                "activityDisplayName": "User registered security info",
                "loggedByService": "Authentication Methods",
                "initiatedBy": {
                    "user": {
                        "id": user.object_id,
                        "userPrincipalName": user.user_principal_name,
                        "ipAddress": attempt.ip_address,
                    }
                },
                "targetResources": [
                    {"id": user.object_id, "type": "User", "userPrincipalName": user.user_principal_name}
                ],
                "additionalDetails": [
                    {"key": "Method", "value": "Authenticator app (TOTP)"},
                    {"key": "Flow", "value": "Sign-in registration interrupt"},
                ],
            },
        )
        return 0, user, None


def _pending_enrolment(conn: Connection, platform: Platform, user: User, method_id: str) -> TotpEnrolment | None:
    """The still unverified TOTP method ``method_id`` of the user, rebuilt to show again, or None."""
    sealed = conn.execute(
        select(auth_methods.c.sealed_secret).where(
            auth_methods.c.id == method_id,
            auth_methods.c.user_id == user.object_id,
            auth_methods.c.method_type == SOFTWARE_OATH,
            auth_methods.c.verified.is_(False),
        )
    ).scalar()
    if sealed is None:
        return None
    seed = platform.master_key.open(sealed, purpose=SEAL_PURPOSE)
    uri = provisioning_uri(seed, user.user_principal_name.replace(":", "_"), TOTP_ISSUER)
    return TotpEnrolment(method_id, uri.split("secret=", 1)[1].split("&", 1)[0], uri)
