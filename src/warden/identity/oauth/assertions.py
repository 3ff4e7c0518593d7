"""Client assertions (RFC 7523 §2.2): a client proves it holds a registered certificate's key.

The assertion is a JWT signed by the certificate's private key; its header names the certificate
by ``x5t`` (SHA-1 thumbprint) or ``x5t#S256``; ``iss`` and ``sub`` are the client id; ``aud`` is
this tenant's token endpoint; ``jti`` is remembered until the assertion expires, so a replay fails.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from warden.identity.applications import get_application
from warden.identity.credentials import find_by_thumbprint, x5t_to_hex
from warden.identity.oauth import errors as e
from warden.identity.principals import Principal, get_principal
from warden.identity.schema import otp_challenges

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME_SECONDS = 3600  # an assertion valid for longer is refused: it could be replayed for longer
LEEWAY_SECONDS = 300
_JTI_NAMESPACE = uuid.UUID("2a7e3a54-3f0a-4b6e-9c1d-41c1e5a3b0d2")


def _invalid(description: str) -> e.OAuthError:
    return e.OAuthError("invalid_client", e.INVALID_ASSERTION, description, status=401)


def _header(assertion: str) -> dict:
    try:
        segment = assertion.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The client assertion is not a JWT.") from None
    if not isinstance(header, dict):
        raise _invalid("The client assertion is not a JWT.")
    return header


def authenticate_assertion(
    conn: Connection, tenant_id: str, client_id: str, assertion: str, audiences: tuple[str, ...]
) -> Principal:
    """The service principal the assertion proves; raise ``OAuthError`` (invalid_client) otherwise.

    Must run inside ``db.write()``: the ``jti`` is recorded so the same assertion works once.
    """
    if len(assertion) > 16384:
        raise _invalid("The client assertion is too large.")
    header = _header(assertion)
    principal = get_principal(conn, app_id=client_id.lower())
    if principal is None or principal.tenant_id != tenant_id:
        raise e.OAuthError(
            "unauthorized_client",
            e.APPLICATION_NOT_FOUND,
            f"Application with identifier '{client_id}' was not found.",
            400,
        )
    owners = [principal.object_id]
    application = get_application(conn, app_id=principal.app_id)
    if application is not None:
        owners.append(application.object_id)
    sha256 = x5t_to_hex(header["x5t#S256"]) if isinstance(header.get("x5t#S256"), str) else None
    sha1 = x5t_to_hex(header["x5t"]) if isinstance(header.get("x5t"), str) else None
    credential = find_by_thumbprint(conn, tenant_id, tuple(owners), sha1=sha1, sha256=sha256)
    if credential is None:
        raise _invalid(f"Client assertion failed signature validation: no registered certificate for '{client_id}'.")
    certificate = x509.load_pem_x509_certificate(credential.certificate_pem.encode("ascii"))
    public_pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        claims = jwt.decode(assertion, RSAKey.import_key(public_pem), algorithms=["RS256", "PS256"]).claims
    except (JoseError, ValueError):
        raise _invalid("Client assertion failed signature validation.") from None
    _check_claims(claims, client_id, audiences)
    _remember_jti(conn, tenant_id, principal, str(claims["jti"]), int(claims["exp"]))
    return principal


def _number(value: object) -> bool:
    # NumericDate (RFC 7519 §2) may carry a fraction; MSAL sends floats.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_claims(claims: dict, client_id: str, audiences: tuple[str, ...]) -> None:
    now = time.time()
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise _invalid("The client assertion's iss and sub must both be the client id.")
    audience = claims.get("aud")
    named = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a.rstrip("/") in audiences for a in named):
        raise _invalid("The client assertion's audience is not this tenant's token endpoint.")
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not _number(exp) or exp + LEEWAY_SECONDS < now:
        raise _invalid("The client assertion has expired.")
    if not _number(nbf) or nbf - LEEWAY_SECONDS > now or exp - nbf > MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise _invalid("The client assertion is not yet valid or is valid for too long.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise _invalid("The client assertion has no jti.")


def _remember_jti(conn: Connection, tenant_id: str, principal: Principal, jti: str, exp: int) -> None:
    # One-time values share the one-time challenge table; the row's id is derived from the jti,
    # so a replay collides on the primary key even when two arrive at once.
    row_id = str(uuid.uuid5(_JTI_NAMESPACE, f"{principal.app_id}:{jti}"))
    if conn.execute(select(otp_challenges.c.id).where(otp_challenges.c.id == row_id)).first() is not None:
        raise e.OAuthError("invalid_client", e.ASSERTION_REPLAYED, "The client assertion has already been used.", 401)
    now = datetime.now(UTC)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(otp_challenges).values(
                    id=row_id,
                    tenant_id=tenant_id,
                    user_id=principal.object_id,
                    purpose="clientAssertion",
                    method_type="jwt-bearer",
                    code_hash="-",
                    attempts=1,
                    state={},
                    created_at=now,
                    expires_at=datetime.fromtimestamp(exp + LEEWAY_SECONDS, UTC),
                    consumed_at=now,
                )
            )
    except IntegrityError:
        raise e.OAuthError(
            "invalid_client", e.ASSERTION_REPLAYED, "The client assertion has already been used.", 401
        ) from None
