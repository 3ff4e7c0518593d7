"""Access and ID tokens: issued by the Entra-shaped token endpoint, checked on every API request.

App tokens (client credentials) carry ``idtyp: app``; user tokens (authorization code, refresh,
device code) carry ``idtyp: user``, ``scp``, ``amr`` and the user's ``oid``/``upn``, as Entra's v2
tokens do, so ``validate`` can tell which kind of principal is calling.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError

from warden.identity.keys import SigningKeys
from warden.identity.principals import Principal
from warden.kernel.caller import Caller
from warden.kernel.errors import Unauthorized

# Azure's resource audiences that Warden accepts, so every Azure SDK works with its default scope.
AZURE_AUDIENCES = (
    "https://management.azure.com",
    "https://management.core.windows.net",
    "https://monitor.azure.com",
    "https://api.loganalytics.io",
    "https://graph.microsoft.com",
)
LEEWAY_SECONDS = 300
GRAPH = "https://graph.microsoft.com"
# OpenID Connect scopes: they ask for ID-token claims and a refresh token, not for an API.
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# What a user token grants when it asks for ``{resource}/.default``: Entra grants the consented
# delegated permissions, here the one each API knows.
DEFAULT_DELEGATED = {GRAPH: "User.Read"}
USER_IMPERSONATION = "user_impersonation"


@dataclass(frozen=True)
class UserGrant:
    """Who signed in, to which client, how (``amr``) and when; what ``issue_user`` signs."""

    tenant_id: str
    user_id: str
    user_principal_name: str
    display_name: str
    mail: str | None
    client_id: str
    amr: tuple[str, ...]
    auth_time: int


class TokenService:
    def __init__(self, keys: SigningKeys, endpoint: str, lifetime_seconds: int) -> None:
        self._keys = keys
        self.endpoint = endpoint.rstrip("/")
        self.lifetime = lifetime_seconds
        self.audiences = frozenset(a.lower() for a in (*AZURE_AUDIENCES, self.endpoint))

    def issuer(self, tenant_id: str) -> str:
        return f"{self.endpoint}/{tenant_id}/v2.0"

    def audience_for_scope(self, scope: str) -> str | None:
        """The audience a ``{resource}/.default`` scope asks for, or ``None`` if not served here."""
        for item in scope.split():
            if item.endswith("/.default"):
                resource = item[: -len(".default")]
                if resource.rstrip("/").lower() in self.audiences:
                    return resource
        return None

    def user_audience(self, scope: str) -> tuple[str, str] | None:
        """``(audience, scp)`` of a delegated request, or ``None`` if it names an API not served here.

        ``{resource}/.default`` asks for that resource; ``User.Read`` or ``{graph}/User.Read`` for
        Graph; OIDC scopes alone get a Graph token (as Entra gives) with ``User.Read``.
        """
        items = [item for item in scope.split() if item not in OIDC_SCOPES]
        if not items:
            oidc = [s for s in scope.split() if s in OIDC_SCOPES and s != "offline_access"]
            return GRAPH, " ".join([*oidc, "User.Read"])
        resources: set[str] = set()
        permissions: list[str] = []
        for item in items:
            if "/" in item and item.lower().startswith("https://"):
                resource, _, permission = item.rstrip("/").rpartition("/")
            else:
                resource, permission = GRAPH, item
            if resource.rstrip("/").lower() not in self.audiences or not permission:
                return None
            resources.add(resource.rstrip("/").lower())
            if permission == ".default":
                permission = DEFAULT_DELEGATED.get(resource.rstrip("/").lower(), USER_IMPERSONATION)
            permissions.append(permission)
        if len(resources) != 1:
            return None  # Entra too issues a token for one resource at a time (AADSTS28000)
        resource = resources.pop()
        if resource == GRAPH:  # Graph tokens list the OIDC scopes granted too, as Entra's do
            permissions = [s for s in scope.split() if s in OIDC_SCOPES and s != "offline_access"] + permissions
        return resource, " ".join(dict.fromkeys(permissions))

    def issue_user(self, grant: UserGrant, audience: str, scp: str) -> tuple[str, int]:
        """Sign a delegated (user) access token; return it and its lifetime in seconds."""
        now = int(time.time())
        claims = {
            "iss": self.issuer(grant.tenant_id),
            "aud": audience,
            "sub": grant.user_id,
            "oid": grant.user_id,
            "tid": grant.tenant_id,
            "appid": grant.client_id,
            "azp": grant.client_id,
            "idtyp": "user",
            "scp": scp,
            "uti": secrets.token_urlsafe(16),  # Entra's unique token id: no two tokens are equal
            "amr": list(grant.amr),
            "auth_time": grant.auth_time,
            "upn": grant.user_principal_name,
            "preferred_username": grant.user_principal_name,
            "name": grant.display_name,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "ver": "2.0",
        }
        return self._sign(claims), self.lifetime

    def issue_id_token(self, grant: UserGrant, nonce: str | None) -> str:
        """Sign an OpenID Connect ID token for the client (aud = client_id)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer(grant.tenant_id),
            "aud": grant.client_id,
            "sub": grant.user_id,
            "oid": grant.user_id,
            "tid": grant.tenant_id,
            "auth_time": grant.auth_time,
            "amr": list(grant.amr),
            "preferred_username": grant.user_principal_name,
            "name": grant.display_name,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "ver": "2.0",
        }
        if grant.mail:
            claims["email"] = grant.mail
        if nonce:
            claims["nonce"] = nonce
        return self._sign(claims)

    def _sign(self, claims: dict) -> str:
        key = self._keys.signing_key()
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)

    def issue(self, principal: Principal, audience: str) -> dict:
        """Sign an access token and return the OAuth2 token response body."""
        now = int(time.time())
        claims = {
            "iss": self.issuer(principal.tenant_id),
            "aud": audience,
            "sub": principal.object_id,
            "oid": principal.object_id,
            "tid": principal.tenant_id,
            "appid": principal.app_id,
            "azp": principal.app_id,
            "idtyp": "app",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "ver": "2.0",
        }
        token = self._sign(claims)
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": token,
        }

    def validate(self, token: str) -> Caller:
        """Verify signature, issuer, audience and lifetime; raise ``Unauthorized`` otherwise."""
        try:
            decoded = self._decode(token)
        except (JoseError, ValueError) as error:
            raise Unauthorized(
                f"The access token is invalid: {error.__class__.__name__}.", code="InvalidAuthenticationToken"
            ) from None
        claims = decoded.claims
        now = time.time()
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or claims.get("iss") != self.issuer(tenant):
            raise Unauthorized("The access token is from the wrong issuer.", code="InvalidAuthenticationTokenTenant")
        audience = claims.get("aud")
        if not isinstance(audience, str) or audience.rstrip("/").lower() not in self.audiences:
            raise Unauthorized(
                f"The access token has an invalid audience '{audience}'.", code="InvalidAuthenticationTokenAudience"
            )
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or exp + LEEWAY_SECONDS < now:
            raise Unauthorized("The access token has expired.", code="ExpiredAuthenticationToken")
        if not isinstance(nbf, int) or nbf - LEEWAY_SECONDS > now:
            raise Unauthorized("The access token is not yet valid.", code="InvalidAuthenticationToken")
        oid, appid = claims.get("oid"), claims.get("appid")
        if not isinstance(oid, str) or not isinstance(appid, str):
            raise Unauthorized("The access token names no principal.", code="InvalidAuthenticationToken")
        principal_type = "User" if claims.get("idtyp") == "user" else "ServicePrincipal"
        return Caller(tenant_id=tenant, object_id=oid, app_id=appid, principal_type=principal_type, claims=claims)

    def _decode(self, token: str) -> jwt.Token:
        try:
            return jwt.decode(token, self._keys.keyset(), algorithms=["RS256"])
        except InvalidKeyIdError:
            # An unknown kid may be a key rotated in by another process: reload once.
            return jwt.decode(token, self._keys.keyset(force=True), algorithms=["RS256"])
