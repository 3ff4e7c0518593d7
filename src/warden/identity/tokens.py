"""Access tokens: issued by the Entra-shaped token endpoint, checked on every API request."""

from __future__ import annotations

import time

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
        key = self._keys.signing_key()
        header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
        token = jwt.encode(header, claims, key)
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
        return Caller(tenant_id=tenant, object_id=oid, app_id=appid, claims=claims)

    def _decode(self, token: str) -> jwt.Token:
        try:
            return jwt.decode(token, self._keys.keyset(), algorithms=["RS256"])
        except InvalidKeyIdError:
            # An unknown kid may be a key rotated in by another process: reload once.
            return jwt.decode(token, self._keys.keyset(force=True), algorithms=["RS256"])
