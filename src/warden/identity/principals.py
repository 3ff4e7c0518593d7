"""Service principals and their client secrets.

Secrets are shown once at creation and stored only as hashes. Users, groups and applications
with redirect URIs arrive with the identity issue; this is what the kernel needs to sign in.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, insert, select

from warden.kernel.clock import aware, utcnow
from warden.kernel.schema import client_secrets, service_principals
from warden.kernel.secrets import hash_client_secret

DEFAULT_SECRET_LIFETIME = timedelta(days=365 * 2)


@dataclass(frozen=True)
class Principal:
    object_id: str
    app_id: str
    tenant_id: str
    display_name: str
    kind: str


@dataclass(frozen=True)
class NewSecret:
    key_id: str
    secret_text: str
    hint: str
    expires_at: str


def create_service_principal(
    conn: Connection, tenant_id: str, display_name: str, *, kind: str = "Application"
) -> Principal:
    principal = Principal(str(uuid.uuid4()), str(uuid.uuid4()), tenant_id, display_name, kind)
    conn.execute(
        insert(service_principals).values(
            object_id=principal.object_id,
            tenant_id=tenant_id,
            app_id=principal.app_id,
            display_name=display_name,
            kind=kind,
            created_at=utcnow(),
        )
    )
    return principal


def add_client_secret(
    conn: Connection, object_id: str, display_name: str = "", lifetime: timedelta = DEFAULT_SECRET_LIFETIME
) -> NewSecret:
    """Create a secret for the principal; the returned text is the only copy that will exist."""
    text = "wd" + secrets.token_hex(1)[0] + "~" + secrets.token_urlsafe(32)
    key_id = str(uuid.uuid4())
    now = utcnow()
    expires = now + lifetime
    conn.execute(
        insert(client_secrets).values(
            key_id=key_id,
            object_id=object_id,
            secret_hash=hash_client_secret(text),
            hint=text[:3],
            display_name=display_name,
            created_at=now,
            expires_at=expires,
        )
    )
    return NewSecret(key_id, text, text[:3], expires.isoformat())


def get_principal(conn: Connection, *, object_id: str | None = None, app_id: str | None = None) -> Principal | None:
    column = service_principals.c.object_id if object_id else service_principals.c.app_id
    row = conn.execute(select(service_principals).where(column == (object_id or app_id))).first()
    if row is None:
        return None
    return Principal(row.object_id, row.app_id, row.tenant_id, row.display_name, row.kind)


def authenticate_client(conn: Connection, tenant_id: str, client_id: str, secret: str) -> Principal | None:
    """The principal whose unexpired secret is ``secret``, in ``tenant_id``; ``None`` otherwise."""
    principal = get_principal(conn, app_id=client_id)
    if principal is None or principal.tenant_id != tenant_id:
        return None
    expected = hash_client_secret(secret)
    now = utcnow()
    rows = conn.execute(select(client_secrets).where(client_secrets.c.object_id == principal.object_id)).all()
    for row in rows:
        if hmac.compare_digest(row.secret_hash, expected) and aware(row.expires_at) > now:
            return principal
    return None
