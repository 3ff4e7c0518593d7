"""Self-service password reset (SSPR): prove one method (two for administrators), set a new password.

A reset is one row of ``otp_challenges`` (purpose ``passwordReset``): the methods proven so far,
the hashed email code and the attempt counters live in its ``state``. Functions here run inside
``db.write()`` and return results instead of raising for wrong codes, so the attempt counters
commit even when the answer is "wrong code".

No enumeration: a UPN that names no enabled user still gets a challenge, a *decoy* whose subject
is a keyed hash of the UPN. It offers the same method kinds, is rate-limited the same way, "sends"
an email code (nothing is sent) and never verifies, so every answer before a proven method has
the same shape whether or not the account exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from warden.identity import lockout_store
from warden.identity.events import record_directory_audit
from warden.identity.membership import transitive_group_ids
from warden.identity.mfa import methods
from warden.identity.passwords import check_password
from warden.identity.risk_store import remediate_user_risk
from warden.identity.schema import directory_role_assignments, otp_challenges
from warden.identity.tenant_settings import get_settings
from warden.identity.users import User, find_user, get_user, revoke_sign_in_sessions, set_password, update_user
from warden.kernel.clock import aware
from warden.kernel.errors import BadRequest, Forbidden, NotFound, WardenError
from warden.kernel.secrets import MasterKey

PURPOSE = "passwordReset"
CHALLENGE_LIFETIME = timedelta(minutes=15)
EMAIL_CODE_LIFETIME = timedelta(minutes=10)
EMAIL_CODE_DIGITS = 8
EMAIL_CODE_ATTEMPTS = 3  # wrong guesses of one email code before it is void
EMAIL_SENDS_PER_CHALLENGE = 3
WRONG_ANSWERS_PER_CHALLENGE = 5  # over all methods; then the challenge is void
CHALLENGES_PER_USER_PER_HOUR = 5
METHOD_KINDS = (methods.EMAIL, methods.SOFTWARE_OATH, methods.RECOVERY_CODE)


class TooManyRequests(WardenError):
    status = 429
    code = "TooManyRequests"


@dataclass(frozen=True)
class EmailCode:
    """An email code to send; ``address`` is None for a decoy (send nothing)."""

    address: str | None
    code: str
    hint: str


@dataclass(frozen=True)
class Verification:
    """Outcome of one answer. ``remaining`` is only known once a method is proven."""

    ok: bool
    proven: tuple[str, ...] = ()
    remaining: int | None = None
    void: bool = False  # too many wrong answers: start again
    reason: str = ""


@dataclass
class _Challenge:
    id: str
    tenant_id: str
    user_id: str
    code_hash: str
    attempts: int
    state: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None


def mask_address(address: str) -> str:
    """Return ``a*****@c*****.com``-style masking: first letter of the name and of the domain."""
    name, _, domain = address.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_host = (host[:1] + "*" * 5) if host else ""
    return f"{name[:1]}*****@{masked_host}{'.' + tld if tld else ''}"


def _decoy_subject(key: bytes, tenant_id: str, upn: str) -> str:
    digest = hmac.new(key, f"{tenant_id}:{upn.lower()}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def _code_hash(key: bytes, challenge_id: str, code: str) -> str:
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def is_administrator(conn: Connection, tenant_id: str, user_id: str) -> bool:
    """Return True when the user, or a group it belongs to (transitively), holds any directory role."""
    principal_ids = [user_id, *transitive_group_ids(conn, tenant_id, user_id)]
    found = conn.execute(
        select(directory_role_assignments.c.id).where(
            directory_role_assignments.c.tenant_id == tenant_id,
            directory_role_assignments.c.principal_id.in_(principal_ids),
        )
    ).first()
    return found is not None


def start_reset(
    conn: Connection, tenant_id: str, upn: Any, *, key: bytes, now: datetime, email_available: bool = True
) -> dict[str, Any]:
    """Open a reset for ``upn`` and return ``{challengeId, methods, expiresIn}``.

    ``email_available`` is False when the server has no SMTP server: email is then not offered to
    anyone (a server-wide fact, so it reveals nothing about the account).

    The answer has the same shape for every UPN (see the module docstring). Raises BadRequest for a
    malformed UPN, Forbidden when the tenant has SSPR off, TooManyRequests after
    ``CHALLENGES_PER_USER_PER_HOUR`` resets of the same UPN.
    """
    if not isinstance(upn, str) or not 3 <= len(upn.strip()) <= 256 or "@" not in upn:
        raise BadRequest("'userPrincipalName' must be a user name such as alice@contoso.com.", code="InvalidUserName")
    upn = upn.strip()
    if not get_settings(conn, tenant_id).sspr_enabled:
        raise Forbidden("Self-service password reset is not enabled for this organization.", code="SsprDisabled")
    user = find_user(conn, tenant_id, upn)
    real = user is not None and user.account_enabled
    subject = user.object_id if real else _decoy_subject(key, tenant_id, upn)  # type: ignore[union-attr]
    recent = conn.execute(
        select(func.count()).where(
            otp_challenges.c.user_id == subject,
            otp_challenges.c.purpose == PURPOSE,
            otp_challenges.c.created_at > now - timedelta(hours=1),
        )
    ).scalar_one()
    if recent >= CHALLENGES_PER_USER_PER_HOUR:
        raise TooManyRequests(
            "Too many password reset attempts for this account. Try again later.", headers={"Retry-After": "3600"}
        )
    challenge_id = str(uuid.uuid4())
    address = (methods.email_addresses(conn, subject) or [upn])[0] if real else upn
    conn.execute(
        insert(otp_challenges).values(
            id=challenge_id,
            tenant_id=tenant_id,
            user_id=subject,
            purpose=PURPOSE,
            method_type="session",
            code_hash="",
            attempts=0,
            state={"decoy": not real, "proven": [], "emailSends": 0, "emailAttempts": 0, "hint": mask_address(address)},
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    return {
        "challengeId": challenge_id,
        "methods": [
            *([{"methodType": methods.EMAIL, "hint": mask_address(address)}] if email_available else []),
            {"methodType": methods.SOFTWARE_OATH},
            {"methodType": methods.RECOVERY_CODE},
        ],
        "expiresIn": int(CHALLENGE_LIFETIME.total_seconds()),
    }


def _load(conn: Connection, tenant_id: str, challenge_id: Any, now: datetime) -> _Challenge:
    if not isinstance(challenge_id, str) or len(challenge_id) > 64:
        raise NotFound("The password reset request does not exist or has expired.", code="ChallengeNotFound")
    row = conn.execute(
        select(otp_challenges).where(
            otp_challenges.c.id == challenge_id.lower(),
            otp_challenges.c.tenant_id == tenant_id,
            otp_challenges.c.purpose == PURPOSE,
        )
    ).first()
    if row is None or row.consumed_at is not None or aware(row.expires_at) <= now:
        raise NotFound("The password reset request does not exist or has expired.", code="ChallengeNotFound")
    return _Challenge(row.id, row.tenant_id, row.user_id, row.code_hash, row.attempts, dict(row.state), row.expires_at)


def _save(conn: Connection, challenge: _Challenge, *, consumed_at: datetime | None = None) -> None:
    values: dict[str, Any] = {
        "code_hash": challenge.code_hash,
        "attempts": challenge.attempts,
        "state": challenge.state,
    }
    if consumed_at is not None:
        values["consumed_at"] = consumed_at
    conn.execute(update(otp_challenges).where(otp_challenges.c.id == challenge.id).values(**values))


def new_email_code(conn: Connection, tenant_id: str, challenge_id: Any, *, key: bytes, now: datetime) -> EmailCode:
    """Make a fresh 8-digit email code for the challenge (earlier codes die) and return what to send.

    Raises NotFound for an unknown or expired challenge, TooManyRequests after
    ``EMAIL_SENDS_PER_CHALLENGE`` codes.
    """
    challenge = _load(conn, tenant_id, challenge_id, now)
    if challenge.state["emailSends"] >= EMAIL_SENDS_PER_CHALLENGE:
        raise TooManyRequests("Too many codes were sent for this request; start again later.")
    code = "".join(secrets.choice("0123456789") for _ in range(EMAIL_CODE_DIGITS))
    challenge.code_hash = _code_hash(key, challenge.id, code)
    challenge.state.update(
        emailSends=challenge.state["emailSends"] + 1,
        emailAttempts=0,
        emailExpiresAt=(now + EMAIL_CODE_LIFETIME).timestamp(),
    )
    _save(conn, challenge)
    address = None
    if not challenge.state["decoy"]:
        address = (methods.email_addresses(conn, challenge.user_id) or [None])[0]
    return EmailCode(address, code, challenge.state["hint"])


def _required(conn: Connection, tenant_id: str, user_id: str) -> int:
    settings = get_settings(conn, tenant_id)
    if is_administrator(conn, tenant_id, user_id):
        return settings.sspr_admin_methods_required
    return settings.sspr_methods_required


def verify(
    conn: Connection,
    tenant_id: str,
    challenge_id: Any,
    method_type: Any,
    code: Any,
    *,
    key: bytes,
    master_key: MasterKey,
    now: datetime,
) -> Verification:
    """Check one answer and return the outcome; wrong answers are counted (commit the transaction).

    Raises NotFound for an unknown or expired challenge and BadRequest for an unknown method type
    or a code that is not text.
    """
    if method_type not in METHOD_KINDS:
        raise BadRequest(f"'methodType' must be one of {', '.join(METHOD_KINDS)}.", code="InvalidMethodType")
    if not isinstance(code, str) or not 1 <= len(code) <= 64:
        raise BadRequest("'code' must be the code you received.", code="InvalidVerificationCode")
    challenge = _load(conn, tenant_id, challenge_id, now)
    proven = list(challenge.state["proven"])
    ok = False
    if method_type in proven:
        return Verification(False, tuple(proven), reason="This method is already verified; use another one.")
    if challenge.state["decoy"]:
        ok = False
    elif method_type == methods.EMAIL:
        ok = _check_email_code(challenge, key, code, now)
    elif method_type == methods.SOFTWARE_OATH:
        ok = methods.verify_totp_code(conn, master_key, challenge.user_id, code, now.timestamp())
    else:
        ok = methods.verify_recovery_code(conn, challenge.user_id, code)
    if not ok:
        challenge.attempts += 1
        void = challenge.attempts >= WRONG_ANSWERS_PER_CHALLENGE
        _save(conn, challenge, consumed_at=now if void else None)
        return Verification(False, tuple(proven), void=void, reason="The code is wrong or has expired.")
    proven.append(method_type)
    challenge.state["proven"] = proven
    _save(conn, challenge)
    remaining = max(_required(conn, tenant_id, challenge.user_id) - len(proven), 0)
    return Verification(True, tuple(proven), remaining)


def _check_email_code(challenge: _Challenge, key: bytes, code: str, now: datetime) -> bool:
    state = challenge.state
    live = (
        challenge.code_hash
        and state.get("emailExpiresAt", 0) > now.timestamp()
        and state["emailAttempts"] < EMAIL_CODE_ATTEMPTS
    )
    if live and hmac.compare_digest(challenge.code_hash, _code_hash(key, challenge.id, code.strip())):
        challenge.code_hash = ""  # one use
        return True
    state["emailAttempts"] += 1
    return False


def complete_reset(
    conn: Connection, tenant_id: str, challenge_id: Any, new_password: Any, *, now: datetime, ip_address: str = ""
) -> User:
    """Set the new password once enough methods are proven; revoke sessions and refresh tokens,
    clear lockout, write the audit event, and return the user.

    Raises NotFound (unknown/expired challenge), Forbidden (``VerificationRequired``: not enough
    methods proven, or the account was disabled meanwhile) and BadRequest
    (``PasswordPolicyViolation``, with each problem in ``details``). Nothing changes on error.
    """
    challenge = _load(conn, tenant_id, challenge_id, now)
    user = None if challenge.state["decoy"] else get_user(conn, tenant_id, challenge.user_id)
    proven = challenge.state["proven"]
    if user is None or not user.account_enabled or len(proven) < _required(conn, tenant_id, user.object_id):
        raise Forbidden("Verify your identity with the required methods first.", code="VerificationRequired")
    if not isinstance(new_password, str):
        raise BadRequest("'newPassword' must be text.", code="PasswordPolicyViolation")
    settings = get_settings(conn, tenant_id)
    has_mfa = bool({methods.SOFTWARE_OATH, methods.FIDO2} & set(methods.user_methods(conn, user.object_id)))
    problems = check_password(
        new_password,
        mfa_enabled=has_mfa,
        banned=settings.banned_passwords,
        context=[user.user_principal_name, user.display_name, *(filter(None, [user.mail]))],
    )
    if problems:
        raise BadRequest(
            " ".join(problems),
            code="PasswordPolicyViolation",
            target="newPassword",
            details=[{"code": "PasswordPolicyViolation", "message": p} for p in problems],
        )
    set_password(conn, tenant_id, user.object_id, new_password)
    if user.properties.get("forceChangePasswordNextSignIn"):
        # The user chose this password: an administrator's "change at next sign-in" is satisfied.
        update_user(conn, user, properties={**user.properties, "forceChangePasswordNextSignIn": False})
    revoke_sign_in_sessions(conn, user.object_id)
    lockout_store.reset_lockout(conn, user.object_id)
    remediate_user_risk(conn, tenant_id, user.object_id)  # a self-service reset is a secure password change
    _save(conn, challenge, consumed_at=now)
    record_directory_audit(
        conn,
        tenant_id,
        {
            "category": "UserManagement",
            "activityDisplayName": "Reset password (self-service)",
            "loggedByService": "Self-service Password Management",
            "initiatedBy": {
                "user": {"id": user.object_id, "userPrincipalName": user.user_principal_name, "ipAddress": ip_address}
            },
            "targetResources": [{"id": user.object_id, "type": "User", "userPrincipalName": user.user_principal_name}],
            "additionalDetails": [{"key": "MethodsUsed", "value": ",".join(proven)}],
        },
    )
    return user
