"""Directory users: create, look up, and check a password.

The Graph API, the sign-in page and self-service all go through these functions, so a password
is hashed in one place (argon2id, ``warden.identity.passwords``) and a user is found by UPN in one
way (case-insensitive within a tenant).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from warden.identity.passwords import hash_password, verify_password
from warden.identity.schema import refresh_tokens, signin_sessions, users
from warden.kernel.clock import isoformat, utcnow


@dataclass(frozen=True)
class User:
    object_id: str
    tenant_id: str
    user_principal_name: str
    display_name: str
    mail: str | None
    account_enabled: bool
    user_type: str
    has_password: bool
    risk_level: str = "none"
    risk_state: str = "none"
    properties: dict[str, Any] = field(default_factory=dict, compare=False)
    created_at: str = field(default="", compare=False)  # Graph's createdDateTime spelling


def _user(row: Any) -> User:
    return User(
        object_id=row.object_id,
        tenant_id=row.tenant_id,
        user_principal_name=row.user_principal_name,
        display_name=row.display_name,
        mail=row.mail,
        account_enabled=bool(row.account_enabled),
        user_type=row.user_type,
        has_password=row.password_hash is not None,
        risk_level=row.risk_level,
        risk_state=row.risk_state,
        properties=dict(row.properties or {}),
        created_at=isoformat(row.created_at) if getattr(row, "created_at", None) is not None else "",
    )


def create_user(
    conn: Connection,
    tenant_id: str,
    user_principal_name: str,
    display_name: str,
    *,
    password: str | None = None,
    mail: str | None = None,
    account_enabled: bool = True,
    user_type: str = "Member",
    properties: dict[str, Any] | None = None,
    object_id: str | None = None,
) -> User:
    """Insert a user; the caller has already validated the UPN and checked the password policy.

    Raises ``sqlalchemy.exc.IntegrityError`` if the UPN is taken in this tenant.
    """
    now = utcnow()
    values = {
        "object_id": object_id or str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "user_principal_name": user_principal_name,
        "upn_key": user_principal_name.lower(),
        "display_name": display_name,
        "mail": mail,
        "account_enabled": account_enabled,
        "user_type": user_type,
        "password_hash": hash_password(password) if password is not None else None,
        "password_changed_at": now if password is not None else None,
        "risk_level": "none",
        "risk_state": "none",
        "properties": properties or {},
        "created_at": now,
    }
    conn.execute(insert(users).values(**values))
    return _user(type("Row", (), values))


def get_user(conn: Connection, tenant_id: str, object_id: str) -> User | None:
    row = conn.execute(
        select(users).where(users.c.tenant_id == tenant_id, users.c.object_id == object_id.lower())
    ).first()
    return _user(row) if row else None


def find_user(conn: Connection, tenant_id: str, user_principal_name: str) -> User | None:
    """The user of ``tenant_id`` with this UPN (case-insensitive), or ``None``."""
    row = conn.execute(
        select(users).where(users.c.tenant_id == tenant_id, users.c.upn_key == user_principal_name.lower())
    ).first()
    return _user(row) if row else None


def set_password(conn: Connection, tenant_id: str, object_id: str, password: str) -> None:
    """Store a new argon2id hash; the caller has checked the password policy."""
    conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.object_id == object_id)
        .values(password_hash=hash_password(password), password_changed_at=utcnow())
    )


def check_password(conn: Connection, user: User, password: str) -> bool:
    """True when ``password`` is the user's; upgrades an outdated hash while the plaintext is at hand.

    Does not look at ``account_enabled`` or lockout: the sign-in flow decides what a disabled or
    locked account is told.
    """
    stored = conn.execute(select(users.c.password_hash).where(users.c.object_id == user.object_id)).scalar()
    if stored is None:
        return False
    ok, needs_rehash = verify_password(stored, password)
    if ok and needs_rehash:
        conn.execute(
            update(users).where(users.c.object_id == user.object_id).values(password_hash=hash_password(password))
        )
    return ok


def list_users(conn: Connection, tenant_id: str) -> list[User]:
    """The tenant's users, by display name."""
    rows = conn.execute(
        select(users).where(users.c.tenant_id == tenant_id).order_by(users.c.display_name, users.c.object_id)
    ).all()
    return [_user(row) for row in rows]


def update_user(conn: Connection, user: User, **values: Any) -> User:
    """Write the given columns (display_name, mail, account_enabled, user_principal_name, properties).

    Raises ``sqlalchemy.exc.IntegrityError`` if a new UPN is taken in the tenant.
    """
    if "user_principal_name" in values:
        values["upn_key"] = values["user_principal_name"].lower()
    if values:
        conn.execute(update(users).where(users.c.object_id == user.object_id).values(**values))
    return get_user(conn, user.tenant_id, user.object_id)  # type: ignore[return-value]


def delete_user(conn: Connection, user: User) -> None:
    """Delete the user row; the caller removes memberships and role assignments first."""
    conn.execute(delete(users).where(users.c.object_id == user.object_id))


def revoke_sign_in_sessions(conn: Connection, user_id: str) -> int:
    """Revoke every refresh token and single sign-on session of the user; return how many were live.

    Access tokens already issued stay valid until they expire (at most the token lifetime), as in Entra.
    """
    now = utcnow()
    tokens = conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    sessions = conn.execute(
        update(signin_sessions)
        .where(signin_sessions.c.user_id == user_id, signin_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    return int(tokens or 0) + int(sessions or 0)
