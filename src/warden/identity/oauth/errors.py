"""OAuth2 error answers in Entra's shape (``error``, ``error_description`` with the AADSTS code)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from fastapi.responses import JSONResponse

# Published by Microsoft for Entra ID; clients branch on these numbers.
INVALID_CLIENT_SECRET = 7000215
CLIENT_SECRET_REQUIRED = 7000218
APPLICATION_NOT_FOUND = 700016
TENANT_NOT_FOUND = 90002
INVALID_SCOPE = 70011
UNSUPPORTED_GRANT = 70003
MISSING_PARAMETER = 900144
INVALID_GRANT = 70000
CODE_REDEEMED = 54005
CODE_EXPIRED = 70008  # also used by Entra for revoked or expired refresh tokens
PKCE_MISMATCH = 501481
PKCE_REQUIRED = 9002325
REDIRECT_MISMATCH = 50011
AUTHORIZATION_PENDING = 70016
DEVICE_DECLINED = 70000
DEVICE_EXPIRED = 70019
SLOW_DOWN = 70017
INVALID_ASSERTION = 700027
ASSERTION_REPLAYED = 7000274
CERTIFICATE_NOT_FOUND = 700027
INVALID_CREDENTIALS = 50126
ACCOUNT_LOCKED = 50053
ACCOUNT_DISABLED = 50057
MFA_REGISTRATION_REQUIRED = 50072
MFA_FAILED = 50076
USER_NOT_IN_TENANT = 50020
LOGIN_REQUIRED = 50058
CONSENT_REQUIRED = 65001
INVALID_REQUEST = 900144
RESOURCE_NOT_FOUND = 500011


def oauth_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    """A JSON error answer as Entra's token endpoint gives it (never cached)."""
    trace = str(uuid.uuid4())
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace}",
            "error_codes": [code],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        },
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


class OAuthError(Exception):
    """A refusal the token endpoint turns into ``oauth_error``."""

    def __init__(self, error: str, code: int, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.code, self.description, self.status = error, code, description, status

    def response(self) -> JSONResponse:
        return oauth_error(self.status, self.error, self.code, self.description)


def new_bearer_value() -> str:
    """A fresh 256-bit random value for a code, token or cookie."""
    return secrets.token_urlsafe(32)


def hash_bearer(value: str) -> str:
    """The SHA-256 hex digest stored in place of a bearer value (they are random, so no salt)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
