"""Certificate key credentials of applications and service principals (for client assertions).

Only the public certificate is stored; a client proves possession of the private key by signing
a client assertion whose ``x5t`` (SHA-1) or ``x5t#S256`` header names the certificate's thumbprint.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, insert, select

from warden.identity.schema import key_credentials
from warden.kernel.clock import aware, utcnow


@dataclass(frozen=True)
class KeyCredential:
    key_id: str
    owner_id: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    certificate_pem: str
    display_name: str
    expires_at: str


def add_certificate(
    conn: Connection, tenant_id: str, owner_id: str, certificate_pem: str, display_name: str = ""
) -> str:
    """Store an RSA certificate for ``owner_id`` (application or service principal); return its key id.

    Raises ``ValueError`` if the PEM is not one X.509 certificate with an RSA key of at least 2048
    bits, or if it has already expired.
    """
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError("The key credential is not a PEM-encoded X.509 certificate.") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise ValueError("The certificate must carry an RSA key of at least 2048 bits.")
    expires = certificate.not_valid_after_utc
    if expires <= utcnow():
        raise ValueError("The certificate has expired.")
    key_id = str(uuid.uuid4())
    conn.execute(
        insert(key_credentials).values(
            key_id=key_id,
            tenant_id=tenant_id,
            owner_id=owner_id,
            thumbprint_sha1=certificate.fingerprint(hashes.SHA1()).hex(),  # x5t is SHA-1 by RFC 7515
            thumbprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
            certificate_pem=certificate_pem.strip(),
            display_name=display_name,
            created_at=utcnow(),
            expires_at=expires.astimezone(UTC),
        )
    )
    return key_id


def x5t_to_hex(x5t: str) -> str | None:
    """The hex thumbprint an ``x5t``/``x5t#S256`` header (base64url) names, or ``None`` if malformed."""
    try:
        return base64.urlsafe_b64decode(x5t + "=" * (-len(x5t) % 4)).hex()
    except (ValueError, TypeError):
        return None


def find_by_thumbprint(
    conn: Connection, tenant_id: str, owner_ids: tuple[str, ...], *, sha1: str | None = None, sha256: str | None = None
) -> KeyCredential | None:
    """The unexpired certificate of one of ``owner_ids`` with this thumbprint (hex), or ``None``."""
    if not owner_ids or not (sha1 or sha256):
        return None
    column = key_credentials.c.thumbprint_sha256 if sha256 else key_credentials.c.thumbprint_sha1
    row = conn.execute(
        select(key_credentials).where(
            key_credentials.c.tenant_id == tenant_id,
            key_credentials.c.owner_id.in_(owner_ids),
            column == (sha256 or sha1 or "").lower(),
        )
    ).first()
    if row is None or aware(row.expires_at) <= utcnow():
        return None
    return KeyCredential(
        row.key_id,
        row.owner_id,
        row.thumbprint_sha1,
        row.thumbprint_sha256,
        row.certificate_pem,
        row.display_name,
        aware(row.expires_at).isoformat(),
    )


def list_certificates(conn: Connection, tenant_id: str, owner_id: str) -> list[KeyCredential]:
    """The certificates of ``owner_id``, oldest first (the Graph ``keyCredentials`` view)."""
    rows = conn.execute(
        select(key_credentials)
        .where(key_credentials.c.tenant_id == tenant_id, key_credentials.c.owner_id == owner_id)
        .order_by(key_credentials.c.created_at)
    ).all()
    return [
        KeyCredential(
            r.key_id,
            r.owner_id,
            r.thumbprint_sha1,
            r.thumbprint_sha256,
            r.certificate_pem,
            r.display_name,
            aware(r.expires_at).isoformat(),
        )
        for r in rows
    ]
