"""Synchronous checks the sign-in code calls while it holds the plaintext password.

Contract for the sign-in (OAuth2/sign-in page) code, after a password verified correctly::

    from warden.identity.risk.hooks import LEAKED_CREDENTIALS, check_leaked_password

    if check_leaked_password(platform.settings, password):
        record["riskEventTypes_v2"] = [*record.get("riskEventTypes_v2", []), LEAKED_CREDENTIALS]
    record_signin(conn, tenant_id, record)

The risk runner turns every sign-in whose ``riskEventTypes_v2`` names ``leakedCredentials`` into a
high-risk detection for that user (and a security alert). The plaintext never leaves this call:
only its SHA-1 digest is compared with the admin's list, and nothing is logged.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from .reference import ReferenceDataError, load_leaked_hashes

if TYPE_CHECKING:
    from warden.kernel.settings import Settings

log = logging.getLogger(__name__)
LEAKED_CREDENTIALS = "leakedCredentials"


def is_leaked(digests: frozenset[bytes] | None, password: str) -> bool:
    """True when the SHA-1 of ``password`` (UTF-8) is in ``digests``."""
    if not digests:
        return False
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).digest() in digests


def check_leaked_password(settings: Settings, password: str) -> bool:
    """True when ``password`` appears in the leaked-password hash list the settings name.

    Returns False when no list is configured or the list cannot be read (the error is logged
    without the password): a broken reference file must not lock every user out.
    """
    path = getattr(settings, "identity_leaked_password_hashes_file", None)
    if path is None:
        return False
    try:
        digests = load_leaked_hashes(path)
    except ReferenceDataError as error:
        log.error("leaked password list unusable: %s", error)
        return False
    return is_leaked(digests, password)
