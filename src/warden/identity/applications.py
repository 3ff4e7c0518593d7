"""Application registrations (Graph's ``application``) and the service principal each one gets.

An application and its service principal share ``app_id`` (the OAuth ``client_id``); the
principal lives in the kernel's ``service_principals`` table so client-credential sign-in, RBAC
and the Graph ``servicePrincipals`` collection see it like any other principal. Redirect URIs are
kept per platform (web, spa, publicClient) because the OAuth provider treats them differently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from warden.identity.schema import applications, key_credentials
from warden.kernel.clock import utcnow
from warden.kernel.schema import client_secrets, service_principals

SIGN_IN_AUDIENCES = (
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
)


@dataclass(frozen=True)
class Application:
    object_id: str
    app_id: str
    tenant_id: str
    display_name: str
    sign_in_audience: str
    web_redirect_uris: tuple[str, ...] = ()
    spa_redirect_uris: tuple[str, ...] = ()
    public_client_redirect_uris: tuple[str, ...] = ()
    is_fallback_public_client: bool = False
    properties: dict[str, Any] = field(default_factory=dict, compare=False)
    created_at: str = ""


def _application(row: Any) -> Application:
    created = row.created_at
    return Application(
        object_id=row.object_id,
        app_id=row.app_id,
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        sign_in_audience=row.sign_in_audience,
        web_redirect_uris=tuple(row.web_redirect_uris or ()),
        spa_redirect_uris=tuple(row.spa_redirect_uris or ()),
        public_client_redirect_uris=tuple(row.public_client_redirect_uris or ()),
        is_fallback_public_client=bool(row.is_fallback_public_client),
        properties=dict(row.properties or {}),
        created_at=created.isoformat() if hasattr(created, "isoformat") else str(created or ""),
    )


def create_application(
    conn: Connection,
    tenant_id: str,
    display_name: str,
    *,
    web_redirect_uris: tuple[str, ...] | list[str] = (),
    spa_redirect_uris: tuple[str, ...] | list[str] = (),
    public_client_redirect_uris: tuple[str, ...] | list[str] = (),
    is_fallback_public_client: bool = False,
    sign_in_audience: str = "AzureADMyOrg",
    properties: dict[str, Any] | None = None,
) -> Application:
    """Insert an application and its service principal (same ``app_id``); return the application.

    The caller has validated the inputs (``warden.identity.graph`` does for the Graph API).
    """
    now = utcnow()
    object_id, app_id = str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute(
        insert(applications).values(
            object_id=object_id,
            tenant_id=tenant_id,
            app_id=app_id,
            display_name=display_name,
            sign_in_audience=sign_in_audience,
            web_redirect_uris=list(web_redirect_uris),
            spa_redirect_uris=list(spa_redirect_uris),
            public_client_redirect_uris=list(public_client_redirect_uris),
            is_fallback_public_client=is_fallback_public_client,
            properties=properties or {},
            created_at=now,
        )
    )
    conn.execute(
        insert(service_principals).values(
            object_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            app_id=app_id,
            display_name=display_name,
            kind="Application",
            created_at=now,
        )
    )
    return get_application(conn, object_id=object_id)  # type: ignore[return-value]


def get_application(conn: Connection, *, app_id: str | None = None, object_id: str | None = None) -> Application | None:
    """The application with this ``app_id`` or ``object_id`` (any tenant: callers check it), or ``None``."""
    if app_id:
        clause = applications.c.app_id == app_id.lower()
    elif object_id:
        clause = applications.c.object_id == object_id.lower()
    else:
        return None
    row = conn.execute(select(applications).where(clause)).first()
    return _application(row) if row else None


def list_applications(conn: Connection, tenant_id: str) -> list[Application]:
    """The tenant's applications, oldest first."""
    rows = conn.execute(
        select(applications).where(applications.c.tenant_id == tenant_id).order_by(applications.c.created_at)
    ).all()
    return [_application(row) for row in rows]


def update_application(conn: Connection, application: Application, **values: Any) -> Application:
    """Write the given columns (display_name, redirect URI lists, ...); keep the principal's name in step."""
    if not values:
        return application
    conn.execute(update(applications).where(applications.c.object_id == application.object_id).values(**values))
    if "display_name" in values:
        conn.execute(
            update(service_principals)
            .where(service_principals.c.app_id == application.app_id)
            .values(display_name=values["display_name"])
        )
    return get_application(conn, object_id=application.object_id)  # type: ignore[return-value]


def delete_application(conn: Connection, application: Application) -> None:
    """Delete the application, its service principal and their credentials."""
    sp_ids = (
        conn.execute(select(service_principals.c.object_id).where(service_principals.c.app_id == application.app_id))
        .scalars()
        .all()
    )
    owners = [application.object_id, *sp_ids]
    conn.execute(delete(key_credentials).where(key_credentials.c.owner_id.in_(owners)))
    if sp_ids:
        conn.execute(delete(client_secrets).where(client_secrets.c.object_id.in_(sp_ids)))
        conn.execute(delete(service_principals).where(service_principals.c.object_id.in_(sp_ids)))
    conn.execute(delete(applications).where(applications.c.object_id == application.object_id))


def service_principal_id(conn: Connection, app_id: str) -> str | None:
    """Object ID of the service principal of ``app_id``, or ``None``."""
    return conn.execute(select(service_principals.c.object_id).where(service_principals.c.app_id == app_id)).scalar()
