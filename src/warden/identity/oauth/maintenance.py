"""Dropping sign-in state nobody can use any more, so the OAuth tables do not grow forever."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from warden.identity.schema import authorization_codes, device_codes, otp_challenges, refresh_tokens, signin_sessions
from warden.kernel.clock import utcnow
from warden.kernel.db import Database

# Kept a day past expiry: a late reuse of a code or rotated refresh token is still recognised as
# reuse (and revokes the family) rather than answered as unknown.
GRACE = timedelta(days=1)


def purge_expired(db: Database) -> int:
    """Delete codes, device codes, sessions, refresh tokens and one-time challenges (TOTP
    challenges, assertion ``jti``) that expired more than ``GRACE`` ago; return how many rows."""
    cutoff = utcnow() - GRACE
    removed = 0
    with db.write() as conn:
        for table in (authorization_codes, device_codes, signin_sessions, refresh_tokens, otp_challenges):
            removed += conn.execute(delete(table).where(table.c.expires_at < cutoff)).rowcount
    return removed
