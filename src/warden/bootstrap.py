"""``warden init``: everything a fresh data dir needs, created once and never overwritten.

Creates the database schema, the CA and server certificate, the master key and a token signing
key, a tenant, a default subscription and a bootstrap service principal holding Owner at ``/``,
whose one-time credentials go to ``DATA_DIR/bootstrap.json`` (mode 0600).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert

from warden.authz.store import builtin_roles
from warden.identity.directory_roles import GLOBAL_ADMINISTRATOR, assign_role
from warden.identity.principals import add_client_secret, create_service_principal
from warden.kernel.clock import utcnow
from warden.kernel.ids import key
from warden.kernel.schema import role_assignments, tenants
from warden.kernel.secrets import write_private_file
from warden.kernel.settings import Settings, save_config
from warden.kernel.tls import TlsPaths, ensure_tls
from warden.platform import Platform
from warden.resources.subscriptions import create_subscription

BOOTSTRAP_FILE = "bootstrap.json"
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


@dataclass(frozen=True)
class InitResult:
    bootstrap: dict[str, Any]
    created: bool  # False when the data dir was already initialized


def tls_hostnames(settings: Settings) -> tuple[str, ...]:
    """Names the server certificate covers: loopback, plus the bind address and the public
    endpoint's host when they are specific."""
    names = ["localhost", "127.0.0.1", "::1"]
    for host in (settings.host, urlsplit(settings.endpoint).hostname):
        if host and host not in ("0.0.0.0", "::") and host not in names:
            names.append(host)
    return tuple(names)


def bootstrap_path(data_dir: Path) -> Path:
    return data_dir / BOOTSTRAP_FILE


def read_bootstrap(data_dir: Path) -> dict[str, Any]:
    return json.loads(bootstrap_path(data_dir).read_text())


def initialize(settings: Settings) -> InitResult:
    """Initialize ``settings.data_dir``; on an initialized one, only bring schema and TLS up to date."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_config(settings)
    tls = ensure_tls(data_dir, tls_hostnames(settings))
    platform = Platform(settings)
    try:
        platform.db.migrate()
        platform.keys.ensure_key()
        path = bootstrap_path(data_dir)
        if path.exists():
            return InitResult(read_bootstrap(data_dir), created=False)
        document = _create_tenant(platform, settings, tls)
        write_private_file(path, json.dumps(document, indent=2) + "\n")
        return InitResult(document, created=True)
    finally:
        platform.stop()


def add_tenant(platform: Platform, display_name: str) -> tuple[str, str, Any, Any]:
    """A new tenant with one subscription and an Owner-at-root, Global Administrator service principal.

    Returns ``(tenant_id, subscription_id, principal, secret)``.
    """
    tenant_id = str(uuid.uuid4())
    now = utcnow()
    with platform.db.write() as conn:
        conn.execute(insert(tenants).values(id=tenant_id, display_name=display_name, created_at=now))
        subscription_id = create_subscription(conn, tenant_id, "Default subscription")
        principal = create_service_principal(conn, tenant_id, "warden-bootstrap")
        secret = add_client_secret(conn, principal.object_id, "bootstrap")
        # The bootstrap administrator administers the directory too (Entra's Global Administrator).
        assign_role(conn, tenant_id, GLOBAL_ADMINISTRATOR, principal.object_id)
        owner = builtin_roles()[OWNER_ROLE]
        assignment = str(uuid.uuid4())
        assignment_id = f"/providers/Microsoft.Authorization/roleAssignments/{assignment}"
        conn.execute(
            insert(role_assignments).values(
                tenant_id=tenant_id,
                key=key(assignment_id),
                id=assignment_id,
                name=assignment,
                scope="/",
                scope_key="/",
                principal_id=principal.object_id,
                principal_type="ServicePrincipal",
                role_definition_id=f"/providers/Microsoft.Authorization/roleDefinitions/{owner.id}",
                role_guid=owner.id,
                description="Bootstrap administrator created by warden init",
                condition=None,
                condition_version=None,
                created_by="warden-init",
                created_at=now,
                updated_by="warden-init",
                updated_at=now,
            )
        )
    return tenant_id, subscription_id, principal, secret


def _create_tenant(platform: Platform, settings: Settings, tls: TlsPaths) -> dict[str, Any]:
    tenant_id, subscription_id, principal, secret = add_tenant(platform, "Warden")
    return {
        "tenantId": tenant_id,
        "subscriptionId": subscription_id,
        "clientId": principal.app_id,
        "clientSecret": secret.secret_text,
        "endpoint": settings.endpoint,
        "caCertPath": str(tls.ca_cert),
    }
