"""The device authorization grant (RFC 8628) as Entra answers it.

``start`` returns device_code, user_code, verification_uri, expires_in, interval and message;
the user enters the code at ``/devicelogin`` and signs in (``approve``); the device polls the token
endpoint and gets authorization_pending, slow_down (polled faster than the interval),
expired_token, access_denied or, once approved, its tokens (``poll``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, insert, select, update

from warden.identity.oauth import errors as e
from warden.identity.schema import device_codes
from warden.kernel.clock import aware, utcnow

LIFETIME = timedelta(minutes=15)
INTERVAL_SECONDS = 5
# No vowels or look-alikes: codes are read aloud and typed, and must not spell words.
_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 9


@dataclass(frozen=True)
class DeviceRequest:
    tenant_id: str
    client_id: str
    scope: str
    status: str
    user_code: str


@dataclass(frozen=True)
class ApprovedDevice:
    tenant_id: str
    client_id: str
    user_id: str
    scope: str
    amr: tuple[str, ...]


def normalize_user_code(text: str) -> str:
    """Upper-cased, without spaces or dashes: how a typed code is looked up."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())[:16]


def start(
    conn: Connection,
    tenant_id: str,
    client_id: str,
    scope: str,
    verification_uri: str,
    *,
    lifetime: timedelta = LIFETIME,
) -> dict:
    """Store a pending device request; return the device authorization response body."""
    device_code = e.new_bearer_value()
    user_code = "".join(secrets.choice(_ALPHABET) for _ in range(USER_CODE_LENGTH))
    now = utcnow()
    conn.execute(
        insert(device_codes).values(
            device_code_hash=e.hash_bearer(device_code),
            user_code=user_code,
            tenant_id=tenant_id,
            client_id=client_id,
            scope=scope,
            status="pending",
            amr=[],
            interval_seconds=INTERVAL_SECONDS,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    seconds = int(lifetime.total_seconds())
    return {
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": seconds,
        "interval": INTERVAL_SECONDS,
        "message": f"To sign in, use a web browser to open the page {verification_uri} and enter the code "
        f"{user_code} to authenticate.",
    }


def find_pending(conn: Connection, user_code: str) -> DeviceRequest | None:
    """The unexpired pending request with this user code (as typed), or ``None``."""
    row = conn.execute(select(device_codes).where(device_codes.c.user_code == normalize_user_code(user_code))).first()
    if row is None or row.status != "pending" or aware(row.expires_at) <= utcnow():
        return None
    return DeviceRequest(row.tenant_id, row.client_id, row.scope, row.status, row.user_code)


def decide(conn: Connection, user_code: str, user_id: str | None, amr: list[str], *, approve: bool) -> bool:
    """Approve (or deny) a pending request for ``user_id``; False if it is no longer pending."""
    return (
        conn.execute(
            update(device_codes)
            .where(
                device_codes.c.user_code == normalize_user_code(user_code),
                device_codes.c.status == "pending",
                device_codes.c.expires_at > utcnow(),
            )
            .values(status="approved" if approve else "denied", user_id=user_id, amr=amr)
        ).rowcount
        == 1
    )


def poll(conn: Connection, tenant_id: str, device_code: str, client_id: str) -> ApprovedDevice:
    """Redeem an approved request once; raise ``OAuthError`` with Entra's answer otherwise."""
    code_hash = e.hash_bearer(device_code)
    row = conn.execute(
        select(device_codes).where(device_codes.c.device_code_hash == code_hash, device_codes.c.tenant_id == tenant_id)
    ).first()
    if row is None or row.client_id != client_id.lower():
        raise e.OAuthError("invalid_grant", e.INVALID_GRANT, "The device code is invalid.")
    now = utcnow()
    if aware(row.expires_at) <= now:
        raise e.OAuthError("expired_token", e.DEVICE_EXPIRED, "The device code has expired.")
    if row.status == "denied":
        raise e.OAuthError("access_denied", e.DEVICE_DECLINED, "The user declined the authorization request.")
    if row.status == "redeemed":
        raise e.OAuthError("invalid_grant", e.CODE_REDEEMED, "The device code has already been redeemed.")
    if row.status == "pending":
        too_fast = row.last_polled_at is not None and (now - aware(row.last_polled_at)) < timedelta(
            seconds=row.interval_seconds
        )
        conn.execute(
            update(device_codes).where(device_codes.c.device_code_hash == code_hash).values(last_polled_at=now)
        )
        if too_fast:
            raise e.OAuthError("slow_down", e.SLOW_DOWN, "The client is polling too quickly; wait the interval.")
        raise e.OAuthError(
            "authorization_pending", e.AUTHORIZATION_PENDING, "The user has not yet finished authenticating."
        )
    claimed = conn.execute(
        update(device_codes)
        .where(device_codes.c.device_code_hash == code_hash, device_codes.c.status == "approved")
        .values(status="redeemed", last_polled_at=now)
    ).rowcount
    if claimed != 1:
        raise e.OAuthError("invalid_grant", e.CODE_REDEEMED, "The device code has already been redeemed.")
    return ApprovedDevice(row.tenant_id, row.client_id, row.user_id, row.scope, tuple(row.amr or ()))
