"""OAuth clients: registered applications plus the first-party CLI client every tenant accepts.

Redirect URIs must match a registered one exactly (a mismatch shows an error page and never
redirects); which list matched decides whether the client is public (SPA, mobile/desktop) or
confidential (web).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Connection

from warden.identity.applications import get_application

# Azure CLI's well-known client id: accepted in every tenant as a public client, so ``az``-style
# tools and ``warden login`` work without registering anything.
CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
CLI_DISPLAY_NAME = "Microsoft Azure CLI"
MULTI_TENANT = ("AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount")

WEB, SPA, PUBLIC = "web", "spa", "publicClient"


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    display_name: str
    home_tenant: str | None  # None for the first-party CLI client
    web_redirect_uris: tuple[str, ...] = ()
    spa_redirect_uris: tuple[str, ...] = ()
    public_redirect_uris: tuple[str, ...] = ()
    is_public: bool = False  # may use device code and redeem codes without a secret
    multi_tenant: bool = False
    first_party: bool = False

    def serves(self, tenant_id: str) -> bool:
        """Whether users of ``tenant_id`` may sign in to this client."""
        return self.first_party or self.multi_tenant or self.home_tenant == tenant_id

    def redirect_kind(self, redirect_uri: str) -> str | None:
        """``web``, ``spa`` or ``publicClient`` for a registered redirect URI, else ``None``."""
        if self.first_party:
            return PUBLIC if is_loopback_redirect(redirect_uri) else None
        if redirect_uri in self.web_redirect_uris:
            return WEB
        if redirect_uri in self.spa_redirect_uris:
            return SPA
        if redirect_uri in self.public_redirect_uris:
            return PUBLIC
        return None


def is_loopback_redirect(uri: str) -> bool:
    """``http://localhost[:port][/path]`` or the loopback IPs: what native apps listen on (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.username or parts.password or parts.fragment:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def find_client(conn: Connection, client_id: str) -> OAuthClient | None:
    """The client with this id (an application of any tenant, or the CLI), or ``None``."""
    client_id = (client_id or "").strip().lower()
    if client_id == CLI_CLIENT_ID:
        return OAuthClient(CLI_CLIENT_ID, CLI_DISPLAY_NAME, None, is_public=True, first_party=True)
    if len(client_id) != 36:
        return None
    app = get_application(conn, app_id=client_id)
    if app is None:
        return None
    return OAuthClient(
        client_id=app.app_id,
        display_name=app.display_name,
        home_tenant=app.tenant_id,
        web_redirect_uris=app.web_redirect_uris,
        spa_redirect_uris=app.spa_redirect_uris,
        public_redirect_uris=app.public_client_redirect_uris,
        is_public=app.is_fallback_public_client or bool(app.public_client_redirect_uris),
        multi_tenant=app.sign_in_audience in MULTI_TENANT,
    )
