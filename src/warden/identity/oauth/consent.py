"""Consent: which delegated permissions a user (or an admin for everyone) granted an application.

Applications of the tenant itself and the first-party CLI count as admin-consented; an
application from another tenant needs a grant covering every requested scope.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, insert, or_, select

from warden.identity.oauth.clients import OAuthClient
from warden.identity.schema import consent_grants
from warden.kernel.clock import utcnow

# Scopes that ask for nothing a user must approve: the client's sign-in itself.
IMPLICIT = frozenset({"openid", "offline_access"})


def missing_consent(conn: Connection, tenant_id: str, client: OAuthClient, user_id: str, scope: str) -> list[str]:
    """The requested scopes not yet granted to ``client`` for ``user_id``; empty when none are missing."""
    if client.first_party or client.home_tenant == tenant_id:
        return []
    rows = conn.execute(
        select(consent_grants.c.scope).where(
            consent_grants.c.tenant_id == tenant_id,
            consent_grants.c.client_id == client.client_id,
            or_(consent_grants.c.user_id == user_id, consent_grants.c.user_id.is_(None)),
        )
    ).scalars()
    granted = {item for row in rows for item in row.split()}
    return [item for item in dict.fromkeys(scope.split()) if item not in granted and item not in IMPLICIT]


def grant_consent(conn: Connection, tenant_id: str, client_id: str, user_id: str | None, scope: str) -> None:
    """Record that ``user_id`` (``None``: an admin, for all users) granted ``scope`` to the client."""
    conn.execute(
        insert(consent_grants).values(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            client_id=client_id,
            user_id=user_id,
            scope=" ".join(dict.fromkeys(scope.split())),
            created_at=utcnow(),
        )
    )
