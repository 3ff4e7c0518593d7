"""Single sign-on sessions: one cookie per tenant, so a second app's sign-in skips the password.

The cookie is ``Secure; HttpOnly; SameSite=Lax`` and scoped to the tenant's path; the database
keeps only its hash. Sign-out revokes the session and the refresh tokens issued under it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from warden.identity.oauth import errors as e
from warden.identity.oauth.refresh import revoke_user_session
from warden.identity.schema import signin_sessions
from warden.kernel.clock import aware, utcnow

COOKIE = "warden_sso"
LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Session:
    id: str
    tenant_id: str
    user_id: str
    auth_time: datetime
    amr: tuple[str, ...]


def cookie_path(tenant_id: str) -> str:
    return f"/{tenant_id}/"


def create_session(conn: Connection, tenant_id: str, user_id: str, amr: list[str]) -> tuple[Session, str]:
    """Store a new session; return it and the cookie value (the only clear copy)."""
    value = e.new_bearer_value()
    now = utcnow()
    session = Session(str(uuid.uuid4()), tenant_id, user_id, now, tuple(amr))
    conn.execute(
        insert(signin_sessions).values(
            id=session.id,
            cookie_hash=e.hash_bearer(value),
            tenant_id=tenant_id,
            user_id=user_id,
            auth_time=now,
            amr=list(amr),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return session, value


def find_session(conn: Connection, tenant_id: str, cookie: str | None) -> Session | None:
    """The live session of ``tenant_id`` this cookie names, or ``None``."""
    if not cookie or len(cookie) > 128:
        return None
    row = conn.execute(
        select(signin_sessions).where(
            signin_sessions.c.cookie_hash == e.hash_bearer(cookie), signin_sessions.c.tenant_id == tenant_id
        )
    ).first()
    if row is None or row.revoked_at is not None or aware(row.expires_at) <= utcnow():
        return None
    return Session(row.id, row.tenant_id, row.user_id, aware(row.auth_time), tuple(row.amr or ()))


def end_session(conn: Connection, session: Session) -> None:
    """Revoke the session and every refresh token issued under it."""
    conn.execute(update(signin_sessions).where(signin_sessions.c.id == session.id).values(revoked_at=utcnow()))
    revoke_user_session(conn, session.id)


def set_cookie_header(tenant_id: str, value: str) -> str:
    seconds = int(LIFETIME.total_seconds())
    return f"{COOKIE}={value}; Path={cookie_path(tenant_id)}; Max-Age={seconds}; Secure; HttpOnly; SameSite=Lax"


def clear_cookie_header(tenant_id: str) -> str:
    return f"{COOKIE}=; Path={cookie_path(tenant_id)}; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
