"""Refresh tokens in families: every use rotates, a rotated token used again revokes the family.

Sliding lifetime: each successor lives 90 days from its issue. Tokens of single-page apps keep
the 24-hour limit of their family's first token (Entra does not slide SPA refresh tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from warden.identity.oauth import errors as e
from warden.identity.schema import refresh_tokens
from warden.kernel.clock import aware, utcnow

LIFETIME = timedelta(days=90)
SPA_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class RefreshGrant:
    tenant_id: str
    client_id: str
    user_id: str
    scope: str
    session_id: str | None
    auth_time: datetime
    amr: tuple[str, ...]
    family_id: str
    expires_at: datetime
    fixed_lifetime: bool  # a single-page app's family: successors keep the first token's expiry


def issue_refresh_token(
    conn: Connection,
    *,
    family_id: str,
    tenant_id: str,
    client_id: str,
    user_id: str,
    scope: str,
    session_id: str | None,
    auth_time: datetime,
    amr: list[str] | tuple[str, ...],
    expires_at: datetime | None = None,
    spa: bool = False,
) -> str:
    """Store a refresh token of ``family_id`` and return its clear value."""
    token = e.new_bearer_value()
    now = utcnow()
    if expires_at is None:
        expires_at = now + (SPA_LIFETIME if spa else LIFETIME)
    conn.execute(
        insert(refresh_tokens).values(
            token_hash=e.hash_bearer(token),
            family_id=family_id,
            tenant_id=tenant_id,
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            session_id=session_id,
            auth_time=auth_time,
            amr=list(amr),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return token


def revoke_family(conn: Connection, family_id: str) -> int:
    """Revoke every live token of the family; return how many were revoked."""
    return conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount


def revoke_user_session(conn: Connection, session_id: str) -> int:
    """Revoke the refresh tokens issued under one sign-in session (sign-out)."""
    return conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.session_id == session_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount


def rotate(conn: Connection, tenant_id: str, token: str, client_id: str) -> RefreshGrant:
    """Retire ``token`` (its successor is issued by the caller) and return what it grants.

    Raises ``OAuthError`` invalid_grant (AADSTS70008) for an unknown, expired or revoked token,
    and for a token already rotated: that is reuse, so the whole family is revoked first.
    """
    token_hash = e.hash_bearer(token)
    row = conn.execute(
        select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.tenant_id == tenant_id)
    ).first()
    invalid = e.OAuthError(
        "invalid_grant", e.CODE_EXPIRED, "The provided authorization code or refresh token has expired or been revoked."
    )
    if row is None:
        raise invalid
    if row.client_id != client_id.lower():
        raise e.OAuthError("invalid_grant", e.INVALID_GRANT, "The refresh token was issued to another client.")
    now = utcnow()
    if row.revoked_at is not None or aware(row.expires_at) <= now:
        raise invalid
    # Claim atomically: two parallel uses of one token cannot both get a successor.
    claimed = conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.rotated_at.is_(None))
        .values(rotated_at=now)
    ).rowcount
    if claimed != 1:
        revoke_family(conn, row.family_id)
        raise e.OAuthError(
            "invalid_grant",
            e.CODE_EXPIRED,
            "The refresh token has already been used; every token of its family has been revoked.",
        )
    return RefreshGrant(
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        user_id=row.user_id,
        scope=row.scope,
        session_id=row.session_id,
        auth_time=aware(row.auth_time),
        amr=tuple(row.amr or ()),
        family_id=row.family_id,
        expires_at=aware(row.expires_at),
        fixed_lifetime=aware(row.expires_at) - aware(row.created_at) <= SPA_LIFETIME,
    )
