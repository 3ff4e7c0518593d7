"""Passkeys (WebAuthn / FIDO2) with the ``webauthn`` package: registration and authentication.

Ceremony challenges are rows of ``otp_challenges`` (purposes ``passkeyRegistration`` and
``passkeyAuthentication``, 5 minutes, single use). A registered credential is an ``auth_methods``
row of type ``fido2`` whose properties hold the credential ID, the COSE public key (not a secret),
the signature counter and the authenticator's AAGUID. Attestation is not requested ("none"), as
for most passkey deployments: Warden trusts the ceremony, not the make of the authenticator.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from warden.identity.mfa.methods import FIDO2
from warden.identity.schema import auth_methods, otp_challenges
from warden.kernel.clock import aware

CEREMONY_LIFETIME = timedelta(minutes=5)
REGISTRATION = "passkeyRegistration"
AUTHENTICATION = "passkeyAuthentication"
MAX_PASSKEYS = 10


class PasskeyError(ValueError):
    """A ceremony failed: unknown or expired challenge, or a response that does not verify."""


def _credentials(conn: Connection, user_id: str) -> list[Any]:
    return conn.execute(
        select(auth_methods).where(auth_methods.c.user_id == user_id, auth_methods.c.method_type == FIDO2)
    ).all()


def _store_challenge(
    conn: Connection, tenant_id: str, user_id: str, purpose: str, challenge: bytes, now: datetime
) -> str:
    challenge_id = str(uuid.uuid4())
    conn.execute(
        insert(otp_challenges).values(
            id=challenge_id,
            tenant_id=tenant_id,
            user_id=user_id,
            purpose=purpose,
            method_type=FIDO2,
            code_hash=hashlib.sha256(challenge).hexdigest(),
            attempts=0,
            state={"challenge": bytes_to_base64url(challenge)},
            created_at=now,
            expires_at=now + CEREMONY_LIFETIME,
        )
    )
    return challenge_id


def _take_challenge(conn: Connection, tenant_id: str, challenge_id: Any, purpose: str, now: datetime) -> Any:
    """Consume and return the challenge row; raise PasskeyError when unknown, used or expired."""
    if not isinstance(challenge_id, str) or len(challenge_id) > 64:
        raise PasskeyError("Unknown or expired challenge.")
    row = conn.execute(
        select(otp_challenges).where(
            otp_challenges.c.id == challenge_id,
            otp_challenges.c.tenant_id == tenant_id,
            otp_challenges.c.purpose == purpose,
        )
    ).first()
    if row is None or row.consumed_at is not None or aware(row.expires_at) <= now:
        raise PasskeyError("Unknown or expired challenge.")
    # Consumed whatever the outcome: a challenge answers one ceremony.
    conn.execute(update(otp_challenges).where(otp_challenges.c.id == row.id).values(consumed_at=now))
    return row


def registration_options(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    user_name: str,
    display_name: str,
    *,
    rp_id: str,
    rp_name: str,
    now: datetime,
) -> dict[str, Any]:
    """Start a registration; return ``{challengeId, challengeTimeoutDateTime, publicKey}`` where
    ``publicKey`` is the PublicKeyCredentialCreationOptions JSON for ``navigator.credentials.create``.

    Raises PasskeyError when the user already has the maximum number of passkeys.
    """
    existing = _credentials(conn, user_id)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError(f"A user can have at most {MAX_PASSKEYS} passkeys; remove one first.")
    challenge = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_name=user_name,
        user_id=uuid.UUID(user_id).bytes,
        user_display_name=display_name,
        challenge=challenge,
        timeout=int(CEREMONY_LIFETIME.total_seconds() * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.properties["credentialId"])) for row in existing
        ],
    )
    challenge_id = _store_challenge(conn, tenant_id, user_id, REGISTRATION, challenge, now)
    return {
        "challengeId": challenge_id,
        "challengeTimeoutDateTime": (now + CEREMONY_LIFETIME).isoformat().replace("+00:00", "Z"),
        "publicKey": json.loads(options_to_json(options)),
    }


def register(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    challenge_id: Any,
    credential: Any,
    *,
    rp_id: str,
    origin: str,
    display_name: str,
    now: datetime,
) -> str:
    """Verify an attestation response for the user's challenge and store the passkey; return its method id.

    Raises PasskeyError for an unknown/expired/foreign challenge, a response that does not verify,
    or a credential already registered.
    """
    row = _take_challenge(conn, tenant_id, challenge_id, REGISTRATION, now)
    if row.user_id != user_id:
        raise PasskeyError("Unknown or expired challenge.")
    if not isinstance(credential, dict):
        raise PasskeyError("'publicKeyCredential' must be the credential object the browser returned.")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(row.state["challenge"]),
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (InvalidRegistrationResponse, KeyError, TypeError, ValueError) as error:
        raise PasskeyError(f"The passkey registration did not verify: {error}") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if find_credential(conn, credential_id) is not None:
        raise PasskeyError("This passkey is already registered.")
    method_id = str(uuid.uuid4())
    conn.execute(
        insert(auth_methods).values(
            id=method_id,
            tenant_id=tenant_id,
            user_id=user_id,
            method_type=FIDO2,
            display_name=display_name,
            # Indexed lookup by credential ID at sign-in: the ID is public, its hash is just a key.
            secret_hash=_credential_key(credential_id),
            verified=True,
            properties={
                "credentialId": credential_id,
                "publicKey": bytes_to_base64url(verified.credential_public_key),
                "signCount": verified.sign_count,
                "aaGuid": str(uuid.UUID(verified.aaguid)) if verified.aaguid else None,
                "backedUp": verified.credential_backed_up,
            },
            created_at=now,
        )
    )
    return method_id


def _credential_key(credential_id: str) -> str:
    return hashlib.sha256(credential_id.encode()).hexdigest()


def find_credential(conn: Connection, credential_id: str) -> Any:
    """Return the fido2 method row with this credential ID (base64url), or None."""
    return conn.execute(
        select(auth_methods).where(
            auth_methods.c.method_type == FIDO2, auth_methods.c.secret_hash == _credential_key(credential_id)
        )
    ).first()


def authentication_options(
    conn: Connection, tenant_id: str, user_id: str | None, *, rp_id: str, now: datetime
) -> dict[str, Any]:
    """Start an authentication; return ``{challengeId, publicKey}`` (PublicKeyCredentialRequestOptions
    JSON). With a ``user_id`` only that user's passkeys are allowed; without, any discoverable one."""
    challenge = secrets.token_bytes(32)
    allowed = [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.properties["credentialId"]))
        for row in (_credentials(conn, user_id) if user_id else [])
    ]
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=int(CEREMONY_LIFETIME.total_seconds() * 1000),
        allow_credentials=allowed or None,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    challenge_id = _store_challenge(conn, tenant_id, user_id or "", AUTHENTICATION, challenge, now)
    return {"challengeId": challenge_id, "publicKey": json.loads(options_to_json(options))}


def verify_authentication(
    conn: Connection, tenant_id: str, challenge_id: Any, credential: Any, *, rp_id: str, origin: str, now: datetime
) -> str | None:
    """Return the user id a valid assertion proves, else None (the challenge is used up either way).

    Checks the challenge, origin, RP ID hash, the signature with the stored public key, and that
    the signature counter grew (a cloned authenticator shows a stale counter). Raises PasskeyError
    for an unknown or expired challenge.
    """
    row = _take_challenge(conn, tenant_id, challenge_id, AUTHENTICATION, now)
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        return None
    method = find_credential(conn, credential["id"])
    if method is None or method.tenant_id != tenant_id or (row.user_id and method.user_id != row.user_id):
        return None
    properties = dict(method.properties)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(row.state["challenge"]),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=base64url_to_bytes(properties["publicKey"]),
            credential_current_sign_count=int(properties.get("signCount", 0)),
        )
    except (InvalidAuthenticationResponse, KeyError, TypeError, ValueError):
        return None
    properties["signCount"] = verified.new_sign_count
    conn.execute(update(auth_methods).where(auth_methods.c.id == method.id).values(properties=properties, used_at=now))
    return method.user_id
