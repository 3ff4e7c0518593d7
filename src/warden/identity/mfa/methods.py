"""A user's authentication methods: TOTP apps (softwareOath), one-time recovery codes, email.

Rows live in ``auth_methods``. TOTP seeds are sealed with the master key (purpose ``"totp"``) and
only opened to check a code; recovery codes are stored as SHA-256 hashes, one row per code, and
burn on first use. Checks update the row with a conditional ``UPDATE`` and look at the row count,
so a code is accepted once even when two requests race with it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from warden.identity.lockout_store import reset_lockout
from warden.identity.mfa.totp import new_secret, provisioning_uri, verify_totp
from warden.identity.schema import auth_methods, users
from warden.kernel.clock import isoformat, utcnow
from warden.kernel.secrets import MasterKey

SOFTWARE_OATH = "softwareOath"
RECOVERY_CODE = "recoveryCode"
EMAIL = "email"
FIDO2 = "fido2"
SEAL_PURPOSE = "totp"
MAX_SOFTWARE_OATH = 5  # Entra allows five OATH tokens per user
RECOVERY_CODE_COUNT = 10
# Crockford base32: no I, L, O, U, so codes survive being read aloud or copied by hand.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS, _CODE_GROUP_LENGTH = 4, 4  # 16 symbols = 80 bits: a fast hash is enough at rest


@dataclass(frozen=True)
class TotpEnrolment:
    """A new, still unverified TOTP method; ``secret_key`` is shown to the user once."""

    id: str
    secret_key: str  # base32, unpadded
    otpauth_uri: str


def user_methods(conn: Connection, user_id: str) -> list[str]:
    """Return the user's usable method types, sorted: "softwareOath" (verified TOTP), "recoveryCode"
    (an unused code is left), "email" (the user has a mail or otherMails address), "fido2".

    "email" is a self-service password reset method only: Warden, like Entra, does not accept an
    email code as a second factor at sign-in, so don't count it when deciding "has MFA".
    """
    rows = conn.execute(
        select(auth_methods.c.method_type)
        .where(
            auth_methods.c.user_id == user_id,
            auth_methods.c.verified.is_(True),
            or_(auth_methods.c.method_type != RECOVERY_CODE, auth_methods.c.used_at.is_(None)),
        )
        .distinct()
    ).scalars()
    found = set(rows)
    if email_addresses(conn, user_id):
        found.add(EMAIL)
    return sorted(found)


def email_addresses(conn: Connection, user_id: str) -> list[str]:
    """Return the addresses an email code may be sent to: the user's ``mail`` then Graph's ``otherMails``."""
    row = conn.execute(select(users.c.mail, users.c.properties).where(users.c.object_id == user_id)).first()
    if row is None:
        return []
    found = [row.mail] if row.mail else []
    other = (row.properties or {}).get("otherMails") or []
    found += [address for address in other if isinstance(address, str) and address and address not in found]
    return found


def verify_totp_code(conn: Connection, master_key: MasterKey, user_id: str, code: str, now: float) -> bool:
    """Return True when ``code`` is a current code of one of the user's verified TOTP methods.

    The matched time step is stored as ``last_used_step`` with a conditional UPDATE, so the same
    code (or an older one) is refused afterwards, even by a request racing this one.
    """
    rows = conn.execute(
        select(auth_methods.c.id, auth_methods.c.sealed_secret, auth_methods.c.last_used_step).where(
            auth_methods.c.user_id == user_id,
            auth_methods.c.method_type == SOFTWARE_OATH,
            auth_methods.c.verified.is_(True),
        )
    ).all()
    return any(_accept_totp(conn, master_key, row, code, now) for row in rows)


def _accept_totp(conn: Connection, master_key: MasterKey, row: Any, code: str, now: float) -> bool:
    seed = master_key.open(row.sealed_secret, purpose=SEAL_PURPOSE)
    step = verify_totp(seed, code, now, last_used_step=row.last_used_step)
    if step is None:
        return False
    newer = or_(auth_methods.c.last_used_step.is_(None), auth_methods.c.last_used_step < step)
    result = conn.execute(
        update(auth_methods)
        .where(auth_methods.c.id == row.id, newer)
        .values(last_used_step=step, used_at=utcnow(), verified=True)
    )
    return result.rowcount == 1


def _hash_recovery_code(user_id: str, code: str) -> str:
    # The user id salts the hash so equal codes of two users differ at rest.
    return hashlib.sha256(f"{user_id}:{_normalise_code(code)}".encode()).hexdigest()


def _normalise_code(code: str) -> str:
    """Return the code without separators, upper-cased, with look-alikes mapped (O->0, I/L->1)."""
    cleaned = "".join(ch for ch in code.upper() if ch not in "- \t")
    return cleaned.translate(str.maketrans("OIL", "011"))


def verify_recovery_code(conn: Connection, user_id: str, code: str) -> bool:
    """Return True and burn the code when ``code`` is one of the user's unused recovery codes."""
    if not isinstance(code, str) or not 8 <= len(code) <= 64:
        return False
    result = conn.execute(
        update(auth_methods)
        .where(
            auth_methods.c.user_id == user_id,
            auth_methods.c.method_type == RECOVERY_CODE,
            auth_methods.c.secret_hash == _hash_recovery_code(user_id, code),
            auth_methods.c.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def regenerate_recovery_codes(conn: Connection, tenant_id: str, user_id: str) -> list[str]:
    """Replace all of the user's recovery codes with ten new ones and return them (shown once)."""
    conn.execute(
        delete(auth_methods).where(auth_methods.c.user_id == user_id, auth_methods.c.method_type == RECOVERY_CODE)
    )
    codes = []
    now = utcnow()
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUPS * _CODE_GROUP_LENGTH))
        code = "-".join(raw[i : i + _CODE_GROUP_LENGTH] for i in range(0, len(raw), _CODE_GROUP_LENGTH))
        codes.append(code)
        conn.execute(
            insert(auth_methods).values(
                id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                user_id=user_id,
                method_type=RECOVERY_CODE,
                display_name="Recovery code",
                secret_hash=_hash_recovery_code(user_id, code),
                verified=True,
                properties={},
                created_at=now,
            )
        )
    return codes


def start_totp_enrolment(
    conn: Connection,
    master_key: MasterKey,
    tenant_id: str,
    user_id: str,
    account: str,
    *,
    issuer: str = "Warden",
    display_name: str = "Authenticator app",
) -> TotpEnrolment:
    """Create an unverified TOTP method with a fresh seed and return what the user's app needs.

    Any earlier unfinished enrolment of the user is dropped. Raises ValueError when the user
    already has the maximum of verified TOTP methods.
    """
    conn.execute(
        delete(auth_methods).where(
            auth_methods.c.user_id == user_id,
            auth_methods.c.method_type == SOFTWARE_OATH,
            auth_methods.c.verified.is_(False),
        )
    )
    count = conn.execute(
        select(func.count()).where(auth_methods.c.user_id == user_id, auth_methods.c.method_type == SOFTWARE_OATH)
    ).scalar_one()
    if count >= MAX_SOFTWARE_OATH:
        raise ValueError(f"A user can have at most {MAX_SOFTWARE_OATH} authenticator apps; remove one first.")
    seed = new_secret()
    method_id = str(uuid.uuid4())
    conn.execute(
        insert(auth_methods).values(
            id=method_id,
            tenant_id=tenant_id,
            user_id=user_id,
            method_type=SOFTWARE_OATH,
            display_name=display_name,
            sealed_secret=master_key.seal(seed, purpose=SEAL_PURPOSE),
            verified=False,
            properties={},
            created_at=utcnow(),
        )
    )
    uri = provisioning_uri(seed, account.replace(":", "_"), issuer.replace(":", "_"))
    secret_key = uri.split("secret=", 1)[1].split("&", 1)[0]
    return TotpEnrolment(method_id, secret_key, uri)


def confirm_totp_enrolment(
    conn: Connection, master_key: MasterKey, user_id: str, method_id: str, code: str, now: float
) -> bool:
    """Mark the user's pending TOTP method verified when ``code`` is current; return whether it was.

    Raises LookupError when the user has no TOTP method with this id.
    """
    row = conn.execute(
        select(auth_methods.c.id, auth_methods.c.sealed_secret, auth_methods.c.last_used_step).where(
            auth_methods.c.id == method_id,
            auth_methods.c.user_id == user_id,
            auth_methods.c.method_type == SOFTWARE_OATH,
        )
    ).first()
    if row is None:
        raise LookupError(method_id)
    return _accept_totp(conn, master_key, row, code, now)


def method_resources(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    """Return the user's methods as Graph authenticationMethod resources (secrets never included)."""
    rows = conn.execute(
        select(auth_methods).where(auth_methods.c.user_id == user_id).order_by(auth_methods.c.created_at)
    ).all()
    resources: list[dict[str, Any]] = [
        # Graph's password method has this fixed id for every user.
        {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": PASSWORD_METHOD_ID, "password": None}
    ]
    codes = [row for row in rows if row.method_type == RECOVERY_CODE]
    for row in rows:
        if row.method_type == SOFTWARE_OATH and row.verified:
            resources.append(
                {
                    "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod",
                    "id": row.id,
                    "secretKey": None,
                    "displayName": row.display_name,
                    "createdDateTime": isoformat(row.created_at),
                }
            )
        elif row.method_type == FIDO2:
            resources.append(
                {
                    "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
                    "id": row.id,
                    "displayName": row.display_name,
                    "createdDateTime": isoformat(row.created_at),
                    "aaGuid": (row.properties or {}).get("aaGuid"),
                    "attestationLevel": "notAttested",
                }
            )
    if codes:
        # A Warden extension: Graph v1.0 has no recovery-code method. One resource for the set.
        resources.append(
            {
                "@odata.type": "#warden.recoveryCodeAuthenticationMethod",
                "id": RECOVERY_CODES_METHOD_ID,
                "remainingCodes": sum(1 for row in codes if row.used_at is None),
                "createdDateTime": isoformat(codes[0].created_at),
            }
        )
    for address in email_addresses(conn, user_id)[:1]:
        resources.append(
            {
                "@odata.type": "#microsoft.graph.emailAuthenticationMethod",
                "id": EMAIL_METHOD_ID,
                "emailAddress": address,
            }
        )
    return resources


PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
EMAIL_METHOD_ID = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"
RECOVERY_CODES_METHOD_ID = "7d8b7a3e-0c2f-4f6b-9a52-7265636f7665"


def delete_method(conn: Connection, user_id: str, method_id: str) -> bool:
    """Delete one of the user's methods (the recovery-code id deletes all codes). Returns False if none matched."""
    if method_id == RECOVERY_CODES_METHOD_ID:
        condition = and_(auth_methods.c.user_id == user_id, auth_methods.c.method_type == RECOVERY_CODE)
    else:
        condition = and_(
            auth_methods.c.user_id == user_id,
            auth_methods.c.id == method_id,
            auth_methods.c.method_type != RECOVERY_CODE,
        )
    return conn.execute(delete(auth_methods).where(condition)).rowcount > 0


def forget_user(conn: Connection, user_id: str) -> int:
    """Delete every authentication method and lockout counter of a user being deleted; return the
    number of method rows removed. Call it before deleting the user row (methods reference it)."""
    reset_lockout(conn, user_id)
    return conn.execute(delete(auth_methods).where(auth_methods.c.user_id == user_id)).rowcount
