"""Authorization codes: single use, ten minutes, bound to client, redirect URI and PKCE challenge.

A code presented a second time is treated as stolen: the refresh-token family issued from it is
revoked (RFC 6749 §4.1.2). The family id is derived from the code's hash so no extra column is
needed to find it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from warden.identity import pkce
from warden.identity.oauth import errors as e
from warden.identity.oauth.refresh import revoke_family
from warden.identity.schema import authorization_codes
from warden.kernel.clock import aware, utcnow

CODE_LIFETIME = timedelta(minutes=10)
_FAMILY_NAMESPACE = uuid.UUID("6f1d3c51-8a4e-4c0b-9d55-0d3f3b1f7a11")


@dataclass(frozen=True)
class RedeemedCode:
    tenant_id: str
    client_id: str
    user_id: str
    scope: str
    nonce: str | None
    session_id: str | None
    auth_time: datetime
    amr: tuple[str, ...]
    family_id: str


def family_for(code_hash: str) -> str:
    """The refresh-token family id of tokens issued from the code with this hash."""
    return str(uuid.uuid5(_FAMILY_NAMESPACE, code_hash))


def issue_code(
    conn: Connection,
    *,
    tenant_id: str,
    client_id: str,
    user_id: str,
    redirect_uri: str,
    scope: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
    nonce: str | None,
    session_id: str | None,
    auth_time: datetime,
    amr: list[str],
) -> str:
    """Store a new code and return it (the only copy of the clear value)."""
    code = e.new_bearer_value()
    now = utcnow()
    conn.execute(
        insert(authorization_codes).values(
            code_hash=e.hash_bearer(code),
            tenant_id=tenant_id,
            client_id=client_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            nonce=nonce,
            session_id=session_id,
            auth_time=auth_time,
            amr=amr,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    return code


def redeem_code(
    conn: Connection, tenant_id: str, code: str, client_id: str, redirect_uri: str, verifier: str | None
) -> RedeemedCode:
    """Mark the code used and return what it grants.

    Raises ``OAuthError`` (invalid_grant) for an unknown, expired, already redeemed (then the
    tokens issued from it are revoked), other-client or other-redirect code, or a PKCE mismatch.
    """
    code_hash = e.hash_bearer(code)
    row = conn.execute(
        select(authorization_codes).where(
            authorization_codes.c.code_hash == code_hash, authorization_codes.c.tenant_id == tenant_id
        )
    ).first()
    if row is None:
        raise e.OAuthError("invalid_grant", e.INVALID_GRANT, "The provided authorization code is invalid.")
    now = utcnow()
    # Claim the code atomically: of two parallel redemptions only one updates the row.
    claimed = conn.execute(
        update(authorization_codes)
        .where(authorization_codes.c.code_hash == code_hash, authorization_codes.c.redeemed_at.is_(None))
        .values(redeemed_at=now)
    ).rowcount
    if claimed != 1:
        revoke_family(conn, family_for(code_hash))
        raise e.OAuthError(
            "invalid_grant",
            e.CODE_REDEEMED,
            "The provided authorization code or refresh token has already been redeemed; "
            "tokens issued from it have been revoked.",
        )
    if aware(row.expires_at) <= now:
        raise e.OAuthError("invalid_grant", e.CODE_EXPIRED, "The provided authorization code has expired.")
    if row.client_id != client_id.lower():
        raise e.OAuthError("invalid_grant", e.INVALID_GRANT, "The authorization code was issued to another client.")
    if row.redirect_uri != redirect_uri:
        raise e.OAuthError(
            "invalid_grant", e.REDIRECT_MISMATCH, "The redirect URI does not match the one the code was issued for."
        )
    if row.code_challenge:
        if not verifier or not pkce.verify(verifier, row.code_challenge, row.code_challenge_method or pkce.S256):
            raise e.OAuthError("invalid_grant", e.PKCE_MISMATCH, "The code_verifier does not match the code_challenge.")
    elif verifier:
        raise e.OAuthError("invalid_grant", e.PKCE_MISMATCH, "A code_verifier was sent but no challenge was given.")
    return RedeemedCode(
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        user_id=row.user_id,
        scope=row.scope,
        nonce=row.nonce,
        session_id=row.session_id,
        auth_time=aware(row.auth_time),
        amr=tuple(row.amr or ()),
        family_id=family_for(code_hash),
    )
